"""Elementwise ops: forward values against numpy/scipy, dtypes, numpy dispatch, Keras 2 rules."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import special

from fastkeras import backend as K
from fastkeras.backend.tensor import Tensor

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 4)).astype(np.float32)
P = RNG.uniform(0.5, 2.0, (3, 4)).astype(np.float32)

UNARY = [
    (K.abs, np.abs, X), (K.square, np.square, X), (K.exp, np.exp, X), (K.expm1, np.expm1, X),
    (K.log, np.log, P), (K.log1p, np.log1p, P), (K.sin, np.sin, X), (K.cos, np.cos, X),
    (K.tan, np.tan, X), (K.tanh, np.tanh, X), (K.erf, special.erf, X), (K.sign, np.sign, X),
    (K.negative, np.negative, X), (K.floor, np.floor, X), (K.ceil, np.ceil, X),
]


@pytest.mark.parametrize("op,ref,x", UNARY, ids=[u[0].__name__ for u in UNARY])
def test_unary_forward_matches_numpy_and_keeps_float32(op, ref, x):
    out = op(x)
    assert isinstance(out, Tensor)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.value, ref(x))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_binary_ops_keep_dtype_with_python_scalars(dtype):
    x = X.astype(dtype)
    for out, ref in [(K.add(x, 2.5), x + 2.5), (K.multiply(x, 3), x * 3),
                     (K.subtract(1.0, x), 1.0 - x), (K.divide(x, 4.0), x / 4.0),
                     (K.pow(x, 2), x ** 2), (K.maximum(x, 0.1), np.maximum(x, 0.1)),
                     (K.minimum(x, 0.1), np.minimum(x, 0.1))]:
        assert out.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(out.value, ref)


def test_python_float_lists_become_floatx():
    out = K.exp([0.0, 1.0])
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.value, [1.0, np.e], rtol=1e-6)


def test_keras2_sqrt_clips_negatives_numpy_sqrt_does_not():
    x = np.array([-4.0, 0.0, 9.0])
    np.testing.assert_array_equal(K.sqrt(x).value, [0.0, 0.0, 3.0])
    with np.errstate(invalid="ignore"):
        assert np.isnan(np.sqrt(Tensor(x)).value[0])


def test_clip_keras2_bounds():
    x = np.array([-2.0, 0.5, 3.0])
    np.testing.assert_array_equal(K.clip(x, 0.0, 1.0).value, [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(K.clip(x, 1.0, 0.0).value, [1.0, 1.0, 1.0])  # max raised to min
    np.testing.assert_array_equal(K.clip(x, None, 1.0).value, [-2.0, 0.5, 1.0])
    np.testing.assert_array_equal(np.clip(Tensor(x), -1, 1).value, [-1.0, 0.5, 1.0])


def test_round_is_half_to_even():
    np.testing.assert_array_equal(K.round(np.array([0.5, 1.5, 2.5, -0.5])).value,
                                  [0.0, 2.0, 2.0, -0.0])


def test_comparisons_and_logic_give_untracked_bools():
    w = K.Variable(np.array([1.0, 2.0, 3.0]))
    with K.GradientTape():
        checks = [(K.greater(w, 2), [False, False, True]), (K.greater_equal(w, 2), [0, 1, 1]),
                  (K.less(w, 2), [1, 0, 0]), (K.less_equal(w, 2), [1, 1, 0]),
                  (K.equal(w, 2), [0, 1, 0]), (K.not_equal(w, 2), [1, 0, 1]),
                  (w > 1.5, [0, 1, 1]), ((w > 1.5) & (w < 2.5), [0, 1, 0]),
                  (~(w > 1.5), [1, 0, 0]), (K.logical_or(w < 1.5, w > 2.5), [1, 0, 1])]
    for out, ref in checks:
        assert out.dtype == bool and not out.tracked
        np.testing.assert_array_equal(out.value, np.array(ref, dtype=bool))


def test_floor_divide_and_remainder_follow_numpy():
    x = np.array([-3.5, 2.0, 7.25])
    np.testing.assert_array_equal((Tensor(x) // 2).value, x // 2)
    np.testing.assert_array_equal((Tensor(x) % 2).value, x % 2)


def test_where_and_switch():
    a, b = np.arange(6.0).reshape(2, 3), -np.ones((2, 3))
    np.testing.assert_array_equal(K.where(a > 2, a, b).value, np.where(a > 2, a, b))
    np.testing.assert_array_equal(np.where(Tensor(a) > 2, Tensor(a), 0.0).value,
                                  np.where(a > 2, a, 0.0))
    rows, = K.where(np.array([0, 3, 0, 1]))
    np.testing.assert_array_equal(rows.value, [1, 3])
    # K2 switch: a (batch,) condition selects whole rows
    np.testing.assert_array_equal(K.switch(np.array([True, False]), a, b).value,
                                  [[0, 1, 2], [-1, -1, -1]])
    # scalar condition: only the chosen callable runs
    calls = []
    out = K.switch(False, lambda: calls.append("then") or a, lambda: calls.append("else") or b)
    assert calls == ["else"]
    np.testing.assert_array_equal(out.value, b)


def test_switch_rejects_higher_rank_condition():
    with pytest.raises(ValueError, match="Rank of `condition`"):
        K.switch(np.ones((2, 3, 1), bool), np.ones((2, 3)), np.zeros((2, 3)))


def test_where_needs_both_branches():
    with pytest.raises(ValueError, match="both `x` and `y`"):
        K.where(np.array([True]), np.ones(1))


def test_cast_and_astype():
    w = K.Variable(np.array([1.5, -2.5]), dtype="float64")
    with K.GradientTape():
        out32 = K.cast(w, "float32")
        as_int = w.astype("int32")
    assert out32.dtype == np.float32 and out32.tracked
    assert as_int.dtype == np.int32 and not as_int.tracked
    np.testing.assert_array_equal(as_int.value, [1, -2])
    with K.GradientTape():
        loss = K.sum(K.cast(w, "float32") * 3.0)
    grad = K.gradients(loss, [w])[0]
    assert grad.dtype == np.float64
    np.testing.assert_array_equal(grad.value, [3.0, 3.0])


def test_stop_gradient_blocks_the_tape():
    w = K.Variable(np.array([1.0, 2.0]), dtype="float64")
    with K.GradientTape():
        loss = K.sum(w * K.stop_gradient(w))
    np.testing.assert_array_equal(K.gradients(loss, [w])[0].value, [1.0, 2.0])
    a, b = K.stop_gradient([w, w])
    assert not a.tracked and not b.tracked


def test_getitem_forward_and_repeated_index_gradient():
    w = K.Variable(np.arange(6.0).reshape(3, 2), dtype="float64")
    np.testing.assert_array_equal(w[1:, 0].value, [2.0, 4.0])
    with K.GradientTape():
        loss = K.sum(w[[0, 0, 2], 1])
    np.testing.assert_array_equal(K.gradients(loss, [w])[0].value, [[0, 2], [0, 0], [0, 1]])


@settings(max_examples=30, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(max_dims=3, max_side=4),
                  elements=st.floats(-5, 5)),
       st.floats(-3, 3))
def test_operators_match_numpy(x, c):
    t = Tensor(x)
    for out, ref in [(t + c, x + c), (c - t, c - x), (t * t, x * x), (-t, -x),
                     (abs(t), np.abs(x)), (np.tanh(t), np.tanh(x))]:
        np.testing.assert_array_equal(out.value, ref)
