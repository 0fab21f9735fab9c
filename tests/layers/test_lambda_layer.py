"""Lambda (spec §12): calls, gradients, shapes, masks, serialization and safe mode."""

import json

import numpy as np
import pytest

from fastkeras import backend as K
from fastkeras.backend.tensor import Tensor
from fastkeras.engine.input_layer import Input
from fastkeras.engine.saving import load_model
from fastkeras.engine.sequential import Sequential
from fastkeras.engine.serialization import safe_mode_scope
from fastkeras.engine.training import Model
from fastkeras.layers.dense import Dense
from fastkeras.layers.lambda_layer import Lambda
from fastkeras.layers.masking import Masking
from layer_gradcheck import check_gradient

X = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], np.float32)


def double_when_training(t, training=None):
    return t * 2 if training else t


def scale(t, factor=3.0):
    return t * factor


def test_spec_arguments_example():
    out = Lambda(lambda t, k: t * k, arguments={"k": 10})(X)
    np.testing.assert_array_equal(out, [[10, 20, 30], [40, 50, 60]])
    assert out.dtype == np.float32


def test_training_argument_is_passed_when_the_function_takes_it():
    layer = Lambda(double_when_training)
    np.testing.assert_array_equal(layer(X, training=True), 2 * X)
    np.testing.assert_array_equal(layer(X), X)
    np.testing.assert_array_equal(layer(X, training=False), X)


def test_list_inputs_and_gradient_through_ufuncs_and_backend_ops():
    a = np.random.default_rng(0).standard_normal((2, 3))
    b = np.random.default_rng(1).standard_normal((2, 3))
    layer = Lambda(lambda ts: np.exp(ts[0]) * K.square(ts[1]) + np.sum(np.tanh(ts[0] @ ts[1].T)),
                   dtype="float64")
    expected = np.exp(a) * b ** 2 + np.tanh(a @ b.T).sum()
    np.testing.assert_allclose(layer([a, b]), expected, rtol=1e-12)
    check_gradient(lambda ta, tb: layer([ta, tb]), [a, b])


def test_output_shape_inferred_given_or_computed():
    inp = Input((3,))
    assert Lambda(lambda t: t[:, :2])(inp).shape == (None, 2)
    assert Lambda(lambda t: t[:, :2]).compute_output_shape((None, 3)) == (None, 2)
    # A tuple excludes the batch axis and is trusted as given.
    assert Lambda(lambda t: t, output_shape=(2,))(inp).shape == (None, 2)
    assert Lambda(lambda t: t, output_shape=lambda s: (s[0], 7))(inp).shape == (None, 7)
    pair = Lambda(lambda t: [t, t[:, :1]])(inp)
    assert [p.shape for p in pair] == [(None, 3), (None, 1)]
    assert Lambda(lambda t: t, output_shape=[(3,), (1,)]).compute_output_shape((None, 3)) == \
        [(None, 3), (None, 1)]


def test_masks_constant_callable_and_passed_to_the_function():
    masked = Masking()(Tensor(np.array([[[1, 2], [0, 0], [3, 0]]], np.float32)))
    out = Lambda(lambda t: t * 2, mask=lambda inputs, mask: mask)(masked)
    np.testing.assert_array_equal(out._keras_mask, [[True, False, True]])
    constant = np.array([[True, True, False]])
    out = Lambda(lambda t: t, mask=constant)(Tensor(np.ones((1, 3, 2), np.float32)))
    np.testing.assert_array_equal(out._keras_mask, constant)

    def zero_masked(t, mask=None):
        return t * mask[..., None]
    out = Lambda(zero_masked, mask=lambda inputs, mask: mask)(masked)
    np.testing.assert_array_equal(out.value, [[[1, 2], [0, 0], [3, 0]]])
    symbolic = Lambda(lambda t: t, mask=lambda inputs, mask: mask)(Masking()(Input((3, 2))))
    assert symbolic._keras_mask is not None


def test_lambda_in_a_trained_model():
    inp = Input((3,))
    out = Dense(1)(Lambda(lambda t: K.square(t) + np.sin(t))(inp))
    model = Model(inp, out)
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(2).standard_normal((16, 3)).astype(np.float32)
    y = (x ** 2 + np.sin(x)) @ np.array([[1.0], [-1.0], [0.5]], np.float32)
    before = model.get_weights()[0].copy()
    model.fit(x, y, epochs=2, verbose=0)
    assert not np.allclose(model.get_weights()[0], before)


def test_errors():
    with pytest.raises(TypeError, match="`function` of Lambda must be callable"):
        Lambda(3)
    with pytest.raises(TypeError, match="`arguments` of Lambda must be a dict"):
        Lambda(scale, arguments=[1])
    with pytest.raises(TypeError, match="`output_shape` of Lambda must be a shape tuple"):
        Lambda(scale, output_shape="3")


# -- serialization ---------------------------------------------------------------------------------
def test_named_function_config_and_safe_loading():
    layer = Lambda(scale, arguments={"factor": np.array([1.0, 2.0, 3.0], np.float32)}, name="s")
    config = json.loads(json.dumps(layer.get_config()))
    assert config["function"]["class_name"] == "function"
    assert config["function"]["config"] == "scale"
    assert "output_shape" not in config and "mask" not in config
    with pytest.raises(ValueError, match="Could not locate class 'scale'"):
        Lambda.from_config(config)
    for clone in (Lambda.from_config(config, custom_objects={"scale": scale}),
                  Lambda.from_config(config, safe_mode=False)):
        assert clone.function is scale
        np.testing.assert_array_equal(clone(X), X * [1, 2, 3])


def test_fastkeras_function_loads_in_safe_mode():
    config = json.loads(json.dumps(Lambda(K.square, output_shape=(3,)).get_config()))
    clone = Lambda.from_config(config)
    assert clone.function is K.square and clone._output_shape == (3,)
    np.testing.assert_array_equal(clone(X), X ** 2)


def test_numpy_ufunc_is_stored_by_name():
    config = json.loads(json.dumps(Lambda(np.square).get_config()))
    assert config["function"] == {"module": "numpy", "class_name": "function",
                                  "config": "square", "registered_name": None}
    with pytest.raises(ValueError, match="Could not locate"):
        Lambda.from_config(config)
    np.testing.assert_array_equal(Lambda.from_config(config, safe_mode=False)(X), X ** 2)


def test_python_lambda_bytecode_needs_safe_mode_off():
    offset = np.float32(0.5)
    layer = Lambda(lambda t, p=2.0: t * p + offset, output_shape=lambda s: s,
                   mask=np.array([True, False]), name="lam")
    config = json.loads(json.dumps(layer.get_config()))
    assert config["function"]["class_name"] == "__lambda__"
    assert set(config["function"]["config"]) == {"code", "defaults", "closure", "module"}
    for key in ("name", "trainable", "dtype", "function", "output_shape", "mask", "arguments"):
        assert key in config
    with pytest.raises(ValueError, match="Requested the deserialization of a `Lambda` layer "
                                         "whose `function` is a Python lambda"):
        Lambda.from_config(config)
    with pytest.raises(ValueError, match="Python lambda"):
        with safe_mode_scope(True):
            Lambda.from_config(config)
    with safe_mode_scope(False):
        clone = Lambda.from_config(config)
    np.testing.assert_allclose(clone(X), X * 2 + 0.5)
    np.testing.assert_array_equal(clone.mask, [True, False])
    assert clone.compute_output_shape((None, 3)) == (None, 3)


def test_bytecode_from_another_python_is_a_clear_error():
    config = json.loads(json.dumps(Lambda(lambda t: t).get_config()))
    config["function"]["config"]["code"] = "AAAA"
    with pytest.raises(ValueError, match="Cannot load the Lambda function's bytecode"):
        Lambda.from_config(config, safe_mode=False)


def test_model_save_and_load_with_lambda(tmp_path):
    model = Sequential([Input((3,)), Lambda(lambda t: t * 3.0), Dense(2)])
    path = str(tmp_path / "m.fkmodel")
    model.save(path)
    with pytest.raises(ValueError, match="Python lambda"):
        load_model(path)
    loaded = load_model(path, safe_mode=False)
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0),
                               rtol=1e-6)
