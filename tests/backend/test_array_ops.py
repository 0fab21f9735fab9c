"""Shape and structure ops: values against numpy, Keras 2 conventions, errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fastkeras import backend as K
from fastkeras.backend.tensor import Tensor

X = np.arange(24.0).reshape(2, 3, 4)


def test_shape_functions_match_numpy():
    np.testing.assert_array_equal(K.reshape(X, (4, -1)).value, X.reshape(4, -1))
    np.testing.assert_array_equal(K.flatten(X).value, X.ravel())
    np.testing.assert_array_equal(K.batch_flatten(X).value, X.reshape(2, 12))
    np.testing.assert_array_equal(K.transpose(X).value, X.T)
    np.testing.assert_array_equal(K.permute_dimensions(X, (0, 2, 1)).value,
                                  X.transpose(0, 2, 1))
    np.testing.assert_array_equal(K.expand_dims(X).value, X[..., None])  # K2 default: last
    np.testing.assert_array_equal(K.squeeze(X[:, :1], 1).value, X[:, 0])
    np.testing.assert_array_equal(K.reverse(X, 1).value, X[:, ::-1])
    np.testing.assert_array_equal(K.tile(X[0], (2, 1)).value, np.tile(X[0], (2, 1)))
    np.testing.assert_array_equal(K.repeat_elements(X, 2, axis=2).value, np.repeat(X, 2, 2))
    np.testing.assert_array_equal(K.gather(X, [1, 0, 1]).value, X[[1, 0, 1]])
    np.testing.assert_array_equal(K.arange(2, 8, 2).value, [2, 4, 6])
    assert K.arange(5).dtype == np.int32


def test_shape_from_k_shape_tensor():
    x = np.ones((3, 2, 2))
    np.testing.assert_array_equal(K.reshape(x, (K.shape(x)[0], -1)).shape, (3, 4))
    np.testing.assert_array_equal(K.reshape(x, K.shape(x)[::-1]).shape, (2, 2, 3))


def test_concatenate_and_stack():
    a, b = np.ones((2, 1)), np.zeros((2, 3))
    np.testing.assert_array_equal(K.concatenate([a, b]).value, np.concatenate([a, b], -1))
    np.testing.assert_array_equal(np.concatenate([Tensor(a.T), b.T]).value,
                                  np.concatenate([a.T, b.T]))  # numpy default axis=0
    np.testing.assert_array_equal(K.stack([b, b + 1], axis=1).value, np.stack([b, b + 1], 1))
    parts = K.unstack(X, axis=1)
    assert len(parts) == 3
    np.testing.assert_array_equal(parts[2].value, X[:, 2])


def test_keras2_repeat():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    out = K.repeat(x, 3)
    assert out.shape == (2, 3, 2)
    np.testing.assert_array_equal(out.value[1], [[3, 4]] * 3)


def test_one_hot():
    out = K.one_hot(np.array([[0, 2], [1, 5]]), 3)
    assert out.dtype == np.float32 and out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out.value[0], [[1, 0, 0], [0, 0, 1]])
    np.testing.assert_array_equal(out.value[1, 1], [0, 0, 0])  # out of range: zeros, as Keras 2


def test_zeros_ones_like_keep_dtype():
    x = np.ones((2, 3), dtype=np.float64)
    assert K.zeros_like(x).dtype == np.float64 and not K.zeros_like(x).value.any()
    assert K.ones_like(x, dtype="int32").dtype == np.int32
    assert np.ones_like(Tensor(x)).value.sum() == 6


@settings(max_examples=30, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=4, max_side=3),
                  elements=st.floats(-1, 1)), st.data())
def test_transpose_roundtrip_and_tile_match_numpy(x, data):
    perm = data.draw(st.permutations(range(x.ndim)))
    out = K.permute_dimensions(x, perm)
    np.testing.assert_array_equal(out.value, np.transpose(x, perm))
    np.testing.assert_array_equal(K.permute_dimensions(out, np.argsort(perm)).value, x)
    reps = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=4))
    np.testing.assert_array_equal(K.tile(x, reps).value, np.tile(x, reps))


def test_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"shape \(2, 3, 4\) \(24 elements\) to shape \(5, -1\)"):
        K.reshape(X, (5, -1))
    with pytest.raises(ValueError, match=r"\[\(2, 1\), \(3, 3\)\]"):
        K.concatenate([np.ones((2, 1)), np.ones((3, 3))])
    with pytest.raises(ValueError, match=r"\[\(2,\), \(3,\)\]"):
        K.stack([np.ones(2), np.ones(3)])
    with pytest.raises(ValueError, match="size is not 1"):
        K.squeeze(X, 1)
    with pytest.raises(ValueError, match="2-D input"):
        K.repeat(X, 2)
    with pytest.raises(ValueError, match="permutation"):
        K.permute_dimensions(X, (0, 1))
    with pytest.raises(IndexError, match="Index 2 is out of range for axis 0 of size 2"):
        K.gather(X, [0, 2])
    with pytest.raises(TypeError, match="integers"):
        K.one_hot(np.array([0.5]), 2)
    with pytest.raises(ValueError, match="at least one tensor"):
        K.concatenate([])
