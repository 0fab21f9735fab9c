"""Activations: the spec's worked values (layers.md section 15), formulas, op records."""

import numpy as np
import pytest

from fastkeras import backend as K

X = np.array([-4.0, -1.0, 0.0, 0.5, 2.0, 4.0], dtype=np.float32)

SPEC_VALUES = [
    (K.sigmoid, [.01799, .26894, .5, .62246, .8808, .98201]),
    (K.elu, [-.98168, -.63212, 0, .5, 2, 4]),
    (K.selu, [-1.7259, -1.11133, 0, .52535, 2.1014, 4.2028]),
    (K.softplus, [.01815, .31326, .69315, .97408, 2.12693, 4.01815]),
    (K.gelu, [-.00013, -.15866, 0, .34573, 1.9545, 3.99987]),
    (K.silu, [-.07194, -.26894, 0, .31123, 1.76159, 3.92806]),
    (K.softmax, [.00028, .00566, .01538, .02536, .11364, .83969]),
    (lambda x: K.relu(x, alpha=.1, max_value=3, threshold=1), [-.5, -.2, -.1, -.05, 2, 3]),
    # Keras 2's K.hard_sigmoid is clip(0.2 x + 0.5, 0, 1)
    (K.hard_sigmoid, [0, .3, .5, .6, .9, 1]),
]


@pytest.mark.parametrize("op,expected", SPEC_VALUES)
def test_spec_values(op, expected):
    out = op(X)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.value, expected, atol=6e-5)


def test_formulas_against_numpy():
    x = np.linspace(-6, 6, 49)
    np.testing.assert_allclose(K.relu(x).value, np.maximum(x, 0))
    np.testing.assert_allclose(K.relu(x, alpha=0.2).value, np.where(x > 0, x, 0.2 * x))
    np.testing.assert_allclose(K.relu(x, max_value=6.0).value, np.clip(x, 0, 6))
    np.testing.assert_allclose(K.elu(x, alpha=0.5).value, np.where(x > 0, x, 0.5 * np.expm1(x)))
    np.testing.assert_allclose(K.softsign(x).value, x / (1 + np.abs(x)))
    np.testing.assert_allclose(K.softplus(x).value, np.log1p(np.exp(x)), rtol=1e-12)
    np.testing.assert_allclose(
        K.gelu(x, approximate=True).value,
        0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3))))
    np.testing.assert_allclose(K.swish(x).value, x / (1 + np.exp(-x)))
    np.testing.assert_allclose(K.log_softmax(x).value, np.log(K.softmax(x).value), rtol=1e-10)


def test_relu_at_threshold_is_zero_as_in_keras():
    # Keras computes x * (x > threshold): the threshold itself maps to 0
    np.testing.assert_array_equal(K.relu(np.array([1.0, 1.5]), threshold=1.0).value, [0.0, 1.5])


def test_extreme_inputs_stay_finite():
    x = np.array([-1000.0, 1000.0])
    np.testing.assert_array_equal(K.sigmoid(x).value, [0.0, 1.0])
    np.testing.assert_array_equal(K.softplus(x).value, [0.0, 1000.0])
    np.testing.assert_allclose(K.softmax(np.array([[1000.0, 0.0]])).value, [[1.0, 0.0]])


def test_softmax_and_sigmoid_are_recorded_with_their_logits():
    z = K.Variable(np.ones((2, 3)))
    with K.GradientTape():
        s = K.softmax(z)
        s0 = K.softmax(z, axis=0)
        g = K.sigmoid(z)
    assert s.op == "softmax" and s.parents == (z,)
    assert s0.op == "softmax_axis"
    assert g.op == "sigmoid" and g.parents == (z,)


def test_softmax_rejects_scalars():
    with pytest.raises(ValueError, match="at least 1 axis"):
        K.softmax(np.float32(1.0))
