"""The Activation layer (spec §5)."""

import numpy as np
import pytest

from fastkeras import activations
from fastkeras.backend.tensor import GradientTape, Tensor, Variable, backprop
from fastkeras.engine.input_layer import Input
from fastkeras.layers.activation import Activation


def test_spec_examples():
    np.testing.assert_array_equal(Activation("relu")(np.array([[-1, 2]])), [[0, 2]])
    np.testing.assert_array_equal(Activation("softmax")(np.array([[1, 1]])), [[0.5, 0.5]])
    assert Activation("relu")(np.array([[-1, 2]])).dtype == np.float32


def test_by_name_callable_and_none():
    x = np.array([[-2.0, 0.5, 3.0]], np.float32)
    np.testing.assert_allclose(Activation("tanh")(x), np.tanh(x), rtol=1e-6)
    np.testing.assert_allclose(Activation(activations.elu)(x), [[np.expm1(-2.0), 0.5, 3.0]],
                               rtol=1e-6)
    np.testing.assert_array_equal(Activation(lambda t: t * 3)(x), 3 * x)
    np.testing.assert_array_equal(Activation(None)(x), x)


def test_gradient_and_softmax_recording():
    x = Variable(np.array([[0.3, -1.2, 2.0]]), dtype="float64")
    g = np.array([[1.0, -2.0, 0.5]])
    with GradientTape():
        out = Activation("softmax", dtype="float64")(x)
        loss = np.sum(out * g)
    assert out.op == "softmax" and out.parents[0] is x
    (grad,) = backprop(loss, [x])
    y = np.exp(x.value) / np.exp(x.value).sum()
    np.testing.assert_allclose(grad, y * (g - np.sum(g * y)), rtol=1e-12)


def test_masks_pass_through_and_symbolic_shape():
    x = Tensor(np.ones((1, 3, 2), np.float32))
    x._keras_mask = np.array([[True, False, True]])
    np.testing.assert_array_equal(Activation("relu")(x)._keras_mask, x._keras_mask)
    assert Activation("relu")(Input((None, 7))).shape == (None, None, 7)


def test_config_round_trip_with_canonical_names():
    layer = Activation("swish", name="act")
    cfg = layer.get_config()
    assert cfg == {"name": "act", "trainable": True, "dtype": "float32", "activation": "silu"}
    assert Activation.from_config(cfg).activation is activations.silu
    assert Activation(None).get_config()["activation"] == "linear"


def test_errors():
    with pytest.raises(TypeError):
        Activation()
    with pytest.raises(ValueError, match="Could not interpret activation function identifier: "
                                         "foo"):
        Activation("foo")
