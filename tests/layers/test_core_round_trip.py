"""A model using every layer of this group survives ``to_json`` / ``model_from_json`` and trains."""

import numpy as np

from fastkeras import backend as K
from fastkeras.engine.input_layer import Input
from fastkeras.engine.sequential import Sequential
from fastkeras.layers.dense import Dense
from fastkeras.layers.dropout import Dropout, SpatialDropout1D
from fastkeras.layers.lambda_layer import Lambda
from fastkeras.layers.masking import Masking
from fastkeras.layers.pooling import GlobalAveragePooling1D, GlobalMaxPooling1D
from fastkeras.layers.regularization import ActivityRegularization
from fastkeras.layers.reshaping import Flatten, Permute, RepeatVector, Reshape
from fastkeras.models import model_from_json


def _model():
    return Sequential([
        Input((6,)), Dense(8), Dropout(0.3, seed=2), RepeatVector(4),
        SpatialDropout1D(0.2, seed=1), Permute((2, 1)), Reshape((4, 8)), Masking(),
        GlobalAveragePooling1D(), ActivityRegularization(l1=0.01), Lambda(K.square),
        RepeatVector(2), GlobalMaxPooling1D(), Reshape((2, 4)), Flatten(), Dense(2)])


def test_json_round_trip_keeps_architecture_and_outputs():
    model = _model()
    clone = model_from_json(model.to_json())
    assert [type(a) for a in clone.layers] == [type(b) for b in model.layers]
    for a, b in zip(model.layers, clone.layers):
        config_a, config_b = a.get_config(), b.get_config()
        config_a.pop("name", None)
        config_b.pop("name", None)
        assert config_a == config_b
    clone.set_weights(model.get_weights())
    x = np.random.default_rng(0).standard_normal((5, 6)).astype(np.float32)
    np.testing.assert_array_equal(clone.predict(x, verbose=0), model.predict(x, verbose=0))


def test_model_trains_with_dropout_active_only_in_fit():
    model = _model()
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(1).standard_normal((16, 6)).astype(np.float32)
    y = np.zeros((16, 2), np.float32)
    first = model.predict(x, verbose=0)
    np.testing.assert_array_equal(model.predict(x, verbose=0), first)  # inference: no dropout
    before = model.get_weights()
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
