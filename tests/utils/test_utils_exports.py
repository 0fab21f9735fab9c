"""``fastkeras.utils`` offers Keras's ``keras.utils`` names, as the same objects."""

import numpy as np

import fastkeras.utils as utils
from fastkeras.engine import serialization
from fastkeras.layers import Dense, Layer
from fastkeras.models import Sequential, load_model
from fastkeras.utils import image_utils, np_utils


def test_utils_names_are_the_implementations():
    assert utils.to_categorical is np_utils.to_categorical
    assert utils.load_img is image_utils.load_img and utils.save_img is image_utils.save_img
    assert utils.Sequence is utils.PyDataset
    assert utils.custom_object_scope is serialization.custom_object_scope
    assert utils.CustomObjectScope is serialization.custom_object_scope


def test_registered_custom_layer_reloads_without_custom_objects(tmp_path):
    @utils.register_keras_serializable(package="ExportsTest")
    class Doubler(Layer):
        def call(self, x):
            return x * 2.0

    model = Sequential([Dense(2, input_shape=(3,)), Doubler()])
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    path = tmp_path / "m.keras"
    model.save(path)
    np.testing.assert_array_equal(load_model(path).predict(x, verbose=0), model.predict(x, verbose=0))
    assert "ExportsTest>Doubler" in utils.get_custom_objects()
