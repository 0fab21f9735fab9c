"""Operators and numpy ufuncs on KerasTensors (TensorOp layers)."""

import numpy as np
import pytest

from fastkeras import backend as K
from fastkeras.engine.input_layer import Input
from fastkeras.engine.tensor_op import TensorOp
from fastkeras.engine.training import Model
from fastkeras.models import model_from_json

from engine_test_layers import Linear, MaskZeros


@pytest.fixture(autouse=True)
def _fresh_names():
    K.clear_session()


def test_arithmetic_graph_matches_numpy_and_keeps_float32():
    a, b = Input((3,)), Input((3,))
    out = np.exp(a / 2.0) + 3 * b - 1 + abs(-b) ** 2
    assert out.dtype == "float32" and out.shape == (None, 3)
    model = Model([a, b], out)
    xa = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    xb = np.arange(6, dtype=np.float32).reshape(2, 3)
    got = model.predict([xa, xb], verbose=0)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, np.exp(xa / 2) + 3 * xb - 1 + np.abs(xb) ** 2, rtol=1e-6)
    assert [layer.name for layer in model.layers][2:] == [
        "divide", "exp", "multiply", "add", "subtract", "negative", "absolute", "power",
        "add_1"]


def test_array_constants_and_json_round_trip():
    x = Input((3,))
    shift = np.array([1.0, 2.0, 3.0])
    model = Model(x, (x - shift) @ np.eye(3, 2))
    data = np.ones((2, 3), np.float32)
    expected = (data - shift) @ np.eye(3, 2)
    np.testing.assert_allclose(model.predict(data, verbose=0), expected, rtol=1e-6)
    clone = model_from_json(model.to_json())
    np.testing.assert_allclose(clone.predict(data, verbose=0), expected, rtol=1e-6)
    op = clone.layers[1]
    assert isinstance(op, TensorOp) and op.get_config()["constants"] == {"1": [1.0, 2.0, 3.0]}


def test_gradients_flow_through_ops_in_training():
    from fastkeras.optimizers import SGD
    x = Input((2,))
    dense = Linear(1, use_bias=False, kernel_initializer="ones")
    model = Model(x, dense(x * 2.0 + 1.0))
    model.compile(optimizer=SGD(learning_rate=0.1), loss="mse")
    data = np.array([[1.0, -1.0], [0.5, 2.0]], np.float32)
    y = np.zeros((2, 1), np.float32)
    h = data * 2 + 1
    grad = 2 * h.T @ (h @ np.ones((2, 1))) / 2
    model.train_on_batch(data, y)
    np.testing.assert_allclose(dense.kernel.numpy(), 1 - 0.1 * grad, rtol=1e-5)


def test_masks_pass_through_ops():
    x = Input((4, 2))
    scaled = MaskZeros(name="masking")(x) * 2.0
    assert scaled._keras_mask is not None and scaled._keras_mask.shape == (None, 4)
    model = Model(x, scaled)
    data = np.array([[[1, 2], [0, 0], [3, 0], [0, 0]]], np.float32)
    np.testing.assert_array_equal(model.predict(data, verbose=0), data * 2)


def test_errors():
    with pytest.raises(ValueError, match="`op` must name a numpy ufunc"):
        TensorOp("system")
    x = Input((2,))
    with pytest.raises(TypeError, match="numeric constants"):
        x + "a"
    with pytest.raises(TypeError, match="with keyword arguments is not supported"):
        np.add(x, 1, dtype="float64")
