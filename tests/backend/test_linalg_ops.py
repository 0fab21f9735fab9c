"""dot / matmul / batch_dot / bias_add / l2_normalize: shapes, values, errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastkeras import backend as K
from fastkeras.backend.tensor import Tensor

RNG = np.random.default_rng(0)


def test_dot_spec_shape_examples():
    assert K.dot(np.ones((32, 28, 3)), np.ones((3, 4))).shape == (32, 28, 4)
    assert K.dot(np.ones((2, 3)), np.ones((4, 3, 5))).shape == (2, 4, 5)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 3), min_size=0, max_size=2),
       st.lists(st.integers(1, 3), min_size=0, max_size=2),
       st.integers(1, 4), st.booleans(), st.booleans())
def test_dot_matches_np_dot(x_lead, y_lead, k, x_1d, y_1d):
    x_shape = (k,) if x_1d else tuple(x_lead) + (k,)
    y_shape = (k,) if y_1d else tuple(y_lead) + (k, 2)
    x, y = RNG.standard_normal(x_shape), RNG.standard_normal(y_shape)
    np.testing.assert_allclose(K.dot(x, y).value, np.dot(x, y), rtol=1e-12, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from([((2, 3, 4), (4, 5)), ((3,), (2, 3, 1)), ((2, 1, 2, 3), (4, 3, 2)),
                        ((4, 3), (3,)), ((5, 2), (2, 2))]))
def test_matmul_matches_np_matmul(shapes):
    x, y = RNG.standard_normal(shapes[0]), RNG.standard_normal(shapes[1])
    np.testing.assert_allclose((Tensor(x) @ y).value, x @ y, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(K.matmul(x, y).value, np.matmul(x, y), rtol=1e-12, atol=1e-12)


def batch_dot_reference(x, y, ax, ay):
    """Per-sample np.tensordot: the definition of batch_dot."""
    out = np.stack([np.tensordot(x[i], y[i], axes=(ax - 1, ay - 1)) for i in range(len(x))])
    return out.reshape(len(x), 1) if out.ndim == 1 else out


@pytest.mark.parametrize("x_shape,y_shape,axes,expected_shape", [
    ((32, 20, 1), (32, 30, 20), (1, 2), (32, 1, 30)),  # the Keras 2 docstring example
    ((4, 5), (4, 5), None, (4, 1)),                    # 2-D . 2-D -> (batch, 1)
    ((3, 4, 5), (3, 5, 2), None, (3, 4, 2)),           # default: (x.ndim-1, y.ndim-2)
    ((3, 4, 5), (3, 5), None, (3, 4)),                 # y 2-D: (x.ndim-1, y.ndim-1)
    ((2, 3, 4), (2, 3, 5), 1, (2, 4, 5)),
    ((2, 3, 4, 5), (2, 5, 3), (-1, 1), (2, 3, 4, 3)),
])
def test_batch_dot_shapes_and_values(x_shape, y_shape, axes, expected_shape):
    x, y = RNG.standard_normal(x_shape), RNG.standard_normal(y_shape)
    out = K.batch_dot(x, y, axes=axes)
    assert out.shape == expected_shape
    if axes is None:
        axes = (x.ndim - 1, y.ndim - 1) if y.ndim == 2 else (x.ndim - 1, y.ndim - 2)
    elif isinstance(axes, int):
        axes = (axes, axes)
    ref = batch_dot_reference(x, y, axes[0] % x.ndim, axes[1] % y.ndim)
    np.testing.assert_allclose(out.value, ref, rtol=1e-12, atol=1e-12)


def test_dot_error_names_both_shapes():
    with pytest.raises(ValueError, match=r"x.shape=\(2, 3\) and y.shape=\(4, 5\)"):
        K.dot(np.ones((2, 3)), np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4,\)"):
        K.dot(np.ones((2, 3)), np.ones(4))


def test_matmul_errors_name_both_shapes():
    with pytest.raises(ValueError, match=r"x.shape=\(2, 3\) and y.shape=\(2, 3\)"):
        Tensor(np.ones((2, 3))) @ np.ones((2, 3))
    with pytest.raises(ValueError, match=r"x.shape=\(2, 2, 3\) and y.shape=\(3, 3, 1\)"):
        K.matmul(np.ones((2, 2, 3)), np.ones((3, 3, 1)))


@pytest.mark.parametrize("x_shape,y_shape,axes,match", [
    ((3,), (3, 2), None, "rank < 2"),
    ((3, 2), (4, 2), None, "different batch sizes"),
    ((3, 2), (3, 2), (0, 1), "axis 0"),
    ((3, 2, 4), (3, 5, 2), (2, 1), r"x.shape\[2\] \(4\) != y.shape\[1\] \(5\)"),
])
def test_batch_dot_errors(x_shape, y_shape, axes, match):
    with pytest.raises(ValueError, match=match):
        K.batch_dot(np.ones(x_shape), np.ones(y_shape), axes=axes)


def test_bias_add_values():
    x = np.zeros((2, 3, 2, 2))
    b = np.array([1.0, 2.0, 3.0])
    out = K.bias_add(x, b, data_format="channels_first").value
    np.testing.assert_array_equal(out[:, :, 1, 0], np.tile(b, (2, 1)))
    x_last = np.zeros((2, 2, 3))
    np.testing.assert_array_equal(K.bias_add(x_last, b).value[1, 1], b)
    # a full channels-first bias (spatial..., channels) is reshaped, as Keras 2 does
    full = np.arange(6.0).reshape(2, 3)
    out = K.bias_add(np.zeros((1, 3, 2)), full, data_format="channels_first").value
    np.testing.assert_array_equal(out[0], full.reshape(3, 2))


def test_bias_add_errors():
    with pytest.raises(ValueError, match="data_format"):
        K.bias_add(np.zeros((2, 3)), np.zeros(3), data_format="nchw")
    with pytest.raises(ValueError, match="Unexpected bias dimensions 3"):
        K.bias_add(np.zeros((2, 3)), np.zeros((1, 1, 3)))
    with pytest.raises(ValueError, match=r"bias of shape \(4,\).*input of shape \(2, 3\)"):
        K.bias_add(np.zeros((2, 3)), np.zeros(4))


def test_l2_normalize_values():
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(K.l2_normalize(x, axis=-1).value, [[0.6, 0.8], [0.0, 0.0]])
    np.testing.assert_allclose(K.l2_normalize(x).value, x / 5.0)
