"""The tape: recording only inside GradientTape, K.gradients, numpy dispatch fallbacks."""

import numpy as np
import pytest

from fastkeras import backend as K
from fastkeras.backend.tensor import Tensor


def test_nothing_is_recorded_outside_a_tape():
    w = K.variable(np.ones((2, 2)))
    out = K.sum(K.relu(K.dot(np.ones((3, 2)), w)) * 2)
    assert not out.tracked and out.parents == () and out.vjp is None


def test_untracked_inputs_are_not_recorded_inside_a_tape():
    with K.GradientTape():
        out = K.exp(np.ones(3)) + Tensor(np.ones(3))
    assert not out.tracked


def test_non_trainable_variables_get_no_gradient():
    w = K.variable(np.ones(2))
    frozen = K.variable(np.ones(2))
    frozen.trainable = False
    with K.GradientTape():
        loss = K.sum(w * frozen)
    gw, gf = K.gradients(loss, [w, frozen])
    np.testing.assert_array_equal(gw.value, [1, 1])
    assert gf is None


def test_gradients_of_an_unrecorded_loss_is_a_clear_error():
    w = K.variable(np.ones(2))
    loss = K.sum(w * w)  # no tape
    with pytest.raises(ValueError, match="not computed under a recording GradientTape"):
        K.gradients(loss, [w])
    with pytest.raises(ValueError, match="element 0 is of type ndarray"):
        K.gradients(loss, [np.ones(2)])


def test_gradients_return_tensors_and_none_for_unconnected():
    w, u = K.variable(np.ones(3)), K.variable(np.ones(3))
    with K.GradientTape():
        loss = K.mean(K.square(w))
    gw, gu = K.gradients(loss, [w, u])
    assert isinstance(gw, Tensor) and gu is None
    np.testing.assert_allclose(gw.value, 2 / 3)


def test_watch_and_tape_gradient():
    x = Tensor(np.array([1.0, 2.0]))
    with K.GradientTape() as tape:
        tape.watch(x)
        y = K.sum(x ** 3)
    np.testing.assert_array_equal(tape.gradient(y, [x])[0], [3.0, 12.0])


def test_gradients_are_contiguous_and_of_the_variable_dtype():
    w = K.variable(np.ones((3, 4)))
    with K.GradientTape():
        loss = K.sum(w) + K.sum(K.transpose(w)[::2] * np.float64(2))
    g = K.gradients(loss, [w])[0].value
    assert g.dtype == np.float32 and g.flags.c_contiguous
    expected = np.ones((3, 4))
    expected[:, ::2] += 2.0  # rows 0 and 2 of the transpose are columns 0 and 2 of w
    np.testing.assert_array_equal(g, expected)


def test_inputs_are_not_mutated():
    x = np.array([[-1.0, 2.0], [3.0, -4.0]])
    keep = x.copy()
    w = K.variable(np.ones((2, 2)))
    with K.GradientTape():
        loss = K.sum(K.relu(x @ w, max_value=1.0, alpha=0.1)) + K.sum(K.dropout(x, 0.5, seed=1))
    K.gradients(loss, [w])
    np.testing.assert_array_equal(x, keep)


def test_undifferentiable_numpy_calls_raise_only_when_recording():
    w = K.variable(np.array([[1.0, 2.0], [3.0, 4.0]]))
    np.testing.assert_array_equal(np.linalg.det(w).value, np.linalg.det(w.value))
    with K.GradientTape(), pytest.raises(TypeError, match="numpy.det .*not differentiable"):
        np.linalg.det(w)
    with K.GradientTape(), pytest.raises(TypeError, match="numpy.add.reduce .*not differentiable"):
        np.add.reduce(w)
    with K.GradientTape(), pytest.raises(TypeError, match="numpy.exp .*not differentiable"):
        np.exp(w, dtype=np.float64)


def test_second_tape_use_is_independent():
    w = K.variable(np.array([2.0]))
    for factor in (1.0, 3.0):
        with K.GradientTape():
            loss = K.sum(w * w * factor)
        np.testing.assert_allclose(K.gradients(loss, [w])[0].value, [4.0 * factor])
