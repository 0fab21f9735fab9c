"""Sequential: building from an Input or K2 shape arguments, deferred build, add/pop, config."""

import numpy as np
import pytest

from fastkeras import backend as K
from fastkeras.engine.base_layer import Layer
from fastkeras.engine.input_layer import Input, InputLayer
from fastkeras.engine.sequential import Sequential

from engine_test_layers import Flat, Linear, Scale, Swap, linear_reference


@pytest.fixture(autouse=True)
def _fresh_names():
    K.clear_session()


class Reshape23(Layer):
    def call(self, x):
        return K.reshape(x, (x.shape[0], 2, 3))


def test_reshape_permute_flatten_order():
    model = Sequential([Input((6,)), Reshape23(), Swap(), Flat()])
    out = model.predict(np.arange(6.0).reshape(1, 6), verbose=0)
    np.testing.assert_array_equal(out, [[0, 3, 1, 4, 2, 5]])
    assert model.output_shape == (None, 6)
    assert [type(layer).__name__ for layer in model.layers] == ["Reshape23", "Swap", "Flat"]


def test_add_is_shape_checked_once_the_input_is_known():
    with pytest.raises(ValueError, match="expected ndim=3, found ndim=2"):
        Sequential([Input((4,)), Swap()])
    model = Sequential()
    model.add(Input((4,)))
    model.add(Linear(3))
    assert model.built and model.output_shape == (None, 3)
    with pytest.raises(ValueError, match="expected ndim=3, found ndim=2"):
        model.add(Swap())


def test_add_rejects_non_layers_and_duplicate_names():
    with pytest.raises(ValueError, match=r"Only instances of `keras.Layer` can be added to a "
                                         r"Sequential model. Received: 3 \(of type <class "
                                         r"'int'>\)"):
        Sequential().add(3)
    model = Sequential([Scale(name="s")])
    with pytest.raises(ValueError, match="should have unique names"):
        model.add(Scale(name="s"))


def test_keras2_first_layer_shape_arguments_build_at_once():
    for kwargs, shape in (({"input_shape": (5,)}, (None, 5)), ({"input_dim": 5}, (None, 5)),
                          ({"batch_input_shape": (8, 5)}, (8, 5))):
        K.clear_session()
        model = Sequential([Linear(2, **kwargs)])
        assert model.built and model.input_shape == shape
        assert isinstance(model._layers[0], InputLayer)
        assert len(model.layers) == 1  # the InputLayer is not listed


def test_deferred_build_from_data():
    model = Sequential([Linear(3, name="first"), Linear(1, name="second")])
    assert not model.built and model.weights == []
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "?" in text and "0 (unbuilt)" in text and " Total params: 0 (0.00 B)" in lines
    x = np.random.default_rng(0).normal(size=(4, 2))
    out = model(x)
    assert model.built and model.input_shape == (None, 2) and len(model.weights) == 4
    hidden = linear_reference(model.get_layer("first"), x)
    np.testing.assert_allclose(out, linear_reference(model.get_layer("second"), hidden),
                               rtol=1e-5, atol=1e-6)
    lines.clear()
    model.summary(print_fn=lines.append)
    assert " Total params: 13 (52.00 B)" in lines  # (2*3+3) + (3*1+1)


def test_pop_and_rebuild():
    model = Sequential([Input((2,)), Scale(2.0), Scale(3.0, name="last")])
    popped = model.pop()
    assert popped.name == "last" and [layer.name for layer in model.layers] == ["scale"]
    np.testing.assert_array_equal(model.predict(np.ones((1, 2)), verbose=0), [[2.0, 2.0]])
    model.pop()
    with pytest.raises(TypeError, match="There are no layers in the model."):
        model.pop()


def test_config_has_input_layer_first_and_round_trips():
    model = Sequential([Input((3,)), Linear(2)], name="seq")
    config = model.get_config()
    assert config["name"] == "seq" and config["build_input_shape"] == (None, 3)
    assert [entry["class_name"] for entry in config["layers"]] == ["InputLayer", "Linear"]
    assert config["layers"][1]["build_config"] == {"input_shape": [None, 3]}
    clone = Sequential.from_config(config, custom_objects={"Linear": Linear})
    assert clone.built and clone.input_shape == (None, 3)
    clone.set_weights(model.get_weights())
    x = np.ones((2, 3))
    np.testing.assert_array_equal(clone.predict(x, verbose=0), model.predict(x, verbose=0))


def test_sequential_nests_in_a_functional_model():
    from fastkeras.engine.training import Model
    block = Sequential([Linear(2, name="inner")])
    x = Input((3,))
    model = Model(x, Scale(2.0)(block(x)))
    data = np.ones((1, 3))
    np.testing.assert_allclose(model.predict(data, verbose=0),
                               2 * linear_reference(block.get_layer("inner"), data), rtol=1e-5)
