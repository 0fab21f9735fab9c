"""fastkeras.models and the Keras 2 engine import paths, end to end with Dense."""

import random
import re

import numpy as np
import pytest

from fastkeras import backend as K
from fastkeras import models
from fastkeras.engine import base_layer, input_layer, sequential, topology, training
from fastkeras.engine.base_layer import Layer
from fastkeras.engine.input_layer import Input
from fastkeras.layers.dense import Dense


@pytest.fixture(autouse=True)
def _fresh_state():
    K.clear_session()
    random.seed(0)


class MyLayer(Layer):
    """The Keras 2 custom-layer tutorial (spec section 0), with only the import changed."""

    def __init__(self, output_dim, **kwargs):
        self.output_dim = output_dim
        super(MyLayer, self).__init__(**kwargs)

    def build(self, input_shape):
        self.kernel = self.add_weight(name="kernel", shape=(input_shape[1], self.output_dim),
                                      initializer="uniform", trainable=True)
        super(MyLayer, self).build(input_shape)

    def call(self, x):
        return K.dot(x, self.kernel)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)


def test_keras2_paths_are_the_same_objects():
    assert topology.Layer is base_layer.Layer is Layer
    assert topology.Input is input_layer.Input and topology.InputLayer is input_layer.InputLayer
    from fastkeras.engine.input_spec import InputSpec
    assert topology.InputSpec is InputSpec
    assert training.Model is models.Model and sequential.Sequential is models.Sequential
    from fastkeras.layers import input_layer as layers_input_layer
    assert layers_input_layer.Input is Input


def test_custom_layer_tutorial_trains_in_a_sequential_model():
    model = models.Sequential()
    model.add(MyLayer(32, input_shape=(16,)))
    model.add(Dense(1))
    from fastkeras.optimizers import Adam
    model.compile(optimizer=Adam(0.02), loss="mse")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 16)).astype(np.float32)
    y = (x @ rng.normal(size=(16, 1))).astype(np.float32)
    history = model.fit(x, y, epochs=10, batch_size=64, verbose=0)
    assert model.layers[0].kernel.shape == (16, 32)
    assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]
    hidden = x @ model.layers[0].kernel.numpy()
    dense = model.layers[1]
    np.testing.assert_allclose(model.predict(x, verbose=0),
                               hidden @ dense.kernel.numpy() + dense.bias.numpy(),
                               rtol=1e-4, atol=1e-4)


def test_custom_layer_round_trips_through_save_with_custom_objects(tmp_path):
    model = models.Sequential([Input((4,)), MyLayer(3), Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    x = np.random.default_rng(1).random((8, 4)).astype(np.float32)
    model.fit(x, np.eye(2, dtype=np.float32)[np.arange(8) % 2], verbose=0)
    models.save_model(model, tmp_path / "tutorial.fk")
    loaded = models.load_model(tmp_path / "tutorial.fk", custom_objects={"MyLayer": MyLayer})
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.get_layer(index=0).output_dim == 3
    assert loaded.metrics_names == ["loss", "accuracy"]


def test_model_from_config_json_and_clone():
    inp = Input((5,), name="features")
    out = Dense(3, activation="relu", name="hidden")(inp)
    model = models.Model(inp, Dense(1, name="score")(out), name="scorer")
    clone = models.model_from_json(model.to_json())
    assert [layer.name for layer in clone.layers] == ["features", "hidden", "score"]
    assert clone.get_layer("hidden").get_config() == model.get_layer("hidden").get_config()
    again = models.model_from_config({"class_name": "Functional",
                                      "config": model.get_config()})
    assert again.output_shape == (None, 1)
    fresh = models.clone_model(model)
    assert fresh.name == "scorer" and fresh.count_params() == model.count_params()
    with pytest.raises(ValueError, match="invalid JSON"):
        models.model_from_json("{")


def test_progress_output_formats(capsys):
    model = models.Sequential([Input((3,)), Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    x, y = np.ones((8, 3), np.float32), np.ones((8, 1), np.float32)
    model.fit(x, y, batch_size=4, epochs=2, verbose=2, validation_data=(x, y))
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Epoch 1/2" and out[2] == "Epoch 2/2"
    line = re.compile(r"^2/2 - \d+s - \d+(s|ms|us)/step - loss: \d\.\d{4}(e-\d\d)? - mae: "
                      r"\d\.\d{4}(e-\d\d)? - val_loss: \S+ - val_mae: \S+$")
    assert line.match(out[1]) and line.match(out[3])
    model.fit(x, y, batch_size=4, epochs=1, verbose=2)
    single = capsys.readouterr().out.splitlines()
    assert len(single) == 1 and single[0].startswith("2/2 - ")  # no header for one epoch
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""
