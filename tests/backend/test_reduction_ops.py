"""Reductions: forward values against numpy, Keras 2 defaults, ties, dtypes."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import special

from fastkeras import backend as K
from fastkeras.backend.tensor import Tensor


@st.composite
def array_and_axis(draw):
    x = draw(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
                        elements=st.floats(-4, 4)))
    axis = draw(st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1)))
    return x, axis, draw(st.booleans())


@settings(max_examples=40, deadline=None)
@given(array_and_axis())
def test_reductions_match_numpy(case):
    x, axis, keepdims = case
    for op, ref in [(K.sum, np.sum), (K.mean, np.mean), (K.var, np.var), (K.std, np.std),
                    (K.max, np.max), (K.min, np.min), (K.prod, np.prod),
                    (K.logsumexp, special.logsumexp)]:
        out = op(x, axis=axis, keepdims=keepdims)
        np.testing.assert_allclose(out.value, ref(x, axis=axis, keepdims=keepdims),
                                   rtol=1e-12, atol=1e-12, err_msg=op.__name__)
    for op, ref in [(K.any, np.any), (K.all, np.all)]:
        np.testing.assert_array_equal(op(x > 0, axis=axis, keepdims=keepdims).value,
                                      ref(x > 0, axis=axis, keepdims=keepdims))


def test_keras2_defaults():
    x = np.array([[1.0, 5.0, 5.0], [7.0, 0.0, 2.0]])
    np.testing.assert_array_equal(K.argmax(x).value, [1, 0])  # axis=-1, first of ties
    np.testing.assert_array_equal(K.argmin(x).value, [0, 1])
    np.testing.assert_array_equal(K.cumsum(x).value, np.cumsum(x, axis=0))
    np.testing.assert_array_equal(K.cumprod(x).value, np.cumprod(x, axis=0))
    # numpy's own defaults apply through dispatch
    assert int(np.argmax(Tensor(x))) == 3
    np.testing.assert_array_equal(np.cumsum(Tensor(x)).value, np.cumsum(x))


def test_list_axis_and_bool_mean():
    x = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(K.sum(x, axis=[0, 2]).value, x.sum(axis=(0, 2)))
    m = K.mean(np.array([True, False, True, True]))
    assert m.dtype == np.float32 and float(m) == 0.75


def test_float32_stays_float32():
    x = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    for op in (K.sum, K.mean, K.var, K.std, K.max, K.prod, K.logsumexp):
        assert op(x, axis=0).dtype == np.float32, op.__name__


def test_max_ties_share_the_gradient():
    w = K.Variable(np.array([[3.0, 1.0, 3.0], [0.0, 2.0, 1.0]]), dtype="float64")
    with K.GradientTape():
        loss = K.sum(K.max(w, axis=1))
    np.testing.assert_array_equal(K.gradients(loss, [w])[0].value,
                                  [[0.5, 0.0, 0.5], [0.0, 1.0, 0.0]])


def test_logsumexp_is_stable():
    x = np.array([1000.0, 1000.0, -np.inf])
    np.testing.assert_allclose(K.logsumexp(x).value, 1000.0 + np.log(2.0))


def test_prod_gradient_with_two_zeros_is_zero():
    w = K.Variable(np.array([0.0, 2.0, 0.0, 3.0]), dtype="float64")
    with K.GradientTape():
        loss = K.prod(w)
    np.testing.assert_array_equal(K.gradients(loss, [w])[0].value, [0.0, 0.0, 0.0, 0.0])


def test_unsupported_numpy_arguments_run_numpy_outside_the_tape_and_raise_inside():
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(np.sum(Tensor(x), axis=0, dtype=np.int64).value,
                                  x.sum(axis=0, dtype=np.int64))
    w = K.Variable(x)
    with K.GradientTape(), pytest.raises(TypeError, match="numpy.var .*not differentiable"):
        np.var(w, ddof=1)
