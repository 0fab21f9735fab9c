"""Saving: npz weights (by order, by name, mismatches), whole-model archives, JSON configs."""

import json
import random
import zipfile

import numpy as np
import pytest

from fastkeras import backend as K
from fastkeras.engine.input_layer import Input
from fastkeras.engine.saving import load_model
from fastkeras.engine.sequential import Sequential
from fastkeras.engine.serialization import register_keras_serializable
from fastkeras.engine.training import Model
from fastkeras.optimizers import Adam

from engine_test_layers import Concat, Linear, Scale


@pytest.fixture(autouse=True)
def _fresh_state():
    K.clear_session()
    random.seed(1)


CUSTOM = {"Linear": Linear, "Concat": Concat, "Scale": Scale}


def small_model(name="net"):
    a, b = Input((3,), name="a"), Input((2,), name="b")
    h = Linear(4, activation="relu", name="hidden")(Concat(name="concat")([a, b]))
    return Model([a, b], [Linear(2, name="head")(h), Scale(0.5, name="half")(h)], name=name)


def data(n=16, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(n, 3)).astype(np.float32),
            rng.normal(size=(n, 2)).astype(np.float32)]


def test_save_weights_round_trip_is_bit_exact(tmp_path):
    model = small_model()
    path = tmp_path / "weights.bin"  # any file name
    model.save_weights(path)
    with np.load(path) as stored:
        assert list(stored["__keys__"]) == ["hidden/hidden/kernel", "hidden/hidden/bias",
                                            "head/head/kernel", "head/head/bias"]
    other = small_model("other")
    other.load_weights(path)
    for got, want in zip(other.get_weights(), model.get_weights()):
        assert got.tobytes() == want.tobytes()


def test_load_by_name_ignores_order_and_missing_layers(tmp_path):
    source = Sequential([Input((3,)), Linear(2, name="x"), Linear(1, name="y")])
    source.save_weights(tmp_path / "w.npz")
    target = Sequential([Input((3,)), Linear(2, name="x"), Scale(name="s"),
                         Linear(1, name="y"), Linear(1, name="extra")])
    before = target.get_layer("extra").get_weights()
    target.load_weights(tmp_path / "w.npz", by_name=True)
    for name in ("x", "y"):
        for got, want in zip(target.get_layer(name).get_weights(),
                             source.get_layer(name).get_weights()):
            np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(target.get_layer("extra").get_weights()[0], before[0])


def test_mismatches_name_the_layer_or_are_skipped(tmp_path):
    source = Sequential([Input((3,)), Linear(2, name="x"), Linear(1, name="y")])
    source.save_weights(tmp_path / "w.npz")
    wrong = Sequential([Input((3,)), Linear(2, name="x"), Linear(5, name="y")])
    kept = wrong.get_layer("y").get_weights()
    with pytest.raises(ValueError, match=r'Layer #1 \(named "y", weight y/kernel\) expects '
                                         r"shape \(2, 5\), but the saved weight has shape "
                                         r"\(2, 1\)"):
        wrong.load_weights(tmp_path / "w.npz")
    with pytest.warns(UserWarning, match="Skipping loading weights for layer 'y'"):
        wrong.load_weights(tmp_path / "w.npz", skip_mismatch=True)
    np.testing.assert_array_equal(wrong.get_layer("x").get_weights()[0],
                                  source.get_layer("x").get_weights()[0])
    np.testing.assert_array_equal(wrong.get_layer("y").get_weights()[0], kept[0])
    fewer = Sequential([Input((3,)), Linear(2, name="x")])
    with pytest.raises(ValueError, match=r"holds weights for 2 layer\(s\) but the model has 1"):
        fewer.load_weights(tmp_path / "w.npz")
    with pytest.raises(FileNotFoundError):
        fewer.load_weights(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a weights file")
    with pytest.raises(ValueError, match="not a readable fastkeras weights file"):
        fewer.load_weights(tmp_path / "junk.npz")


def test_saved_model_reloads_and_predicts_identical_numbers(tmp_path):
    model = small_model()
    x = data()
    y = [np.ones((16, 2), np.float32), np.zeros((16, 4), np.float32)]
    model.compile(optimizer=Adam(0.01), loss=["mse", "mae"], metrics=[["mae"], []])
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    path = tmp_path / "model.fk"
    model.save(path)
    loaded = load_model(path, custom_objects=CUSTOM)
    assert type(loaded).__name__ == "Functional" and loaded.name == "net"
    for got, want in zip(loaded.predict(x, verbose=0), model.predict(x, verbose=0)):
        np.testing.assert_array_equal(got, want)
    # The optimizer state came back too: one more identical step on both gives identical weights.
    assert int(loaded.optimizer.iterations.numpy()) == int(model.optimizer.iterations.numpy())
    assert loaded.metrics_names == model.metrics_names
    model.train_on_batch(x, y)
    loaded.train_on_batch(x, y)
    for got, want in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(got, want)


def test_custom_layer_round_trips_with_custom_objects_or_registration(tmp_path):
    model = Sequential([Input((3,)), Linear(2, name="lin"), Scale(3.0)])
    model.save(tmp_path / "m")
    with pytest.raises(ValueError, match="Could not locate class 'Linear'"):
        load_model(tmp_path / "m")
    loaded = load_model(tmp_path / "m", custom_objects=CUSTOM, compile=False)
    assert loaded.get_layer("scale").factor == 3.0 and not loaded.compiled
    model.compile(optimizer="adam", loss="mse")
    model.save(tmp_path / "bare", include_optimizer=False)
    assert not load_model(tmp_path / "bare", custom_objects=CUSTOM).compiled
    x = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))

    @register_keras_serializable(package="tests")
    class Offset(Scale):
        def call(self, x):
            return x + self.factor

    registered = Sequential([Input((2,)), Offset(1.5)])
    registered.save(tmp_path / "r")
    assert json.loads(registered.to_json())["config"]["layers"][1]["registered_name"] == \
        "tests>Offset"
    np.testing.assert_array_equal(load_model(tmp_path / "r").predict(np.zeros((1, 2)),
                                                                     verbose=0), [[1.5, 1.5]])


def test_json_round_trip_gives_the_architecture_with_fresh_weights():
    from fastkeras.models import model_from_json
    model = small_model()
    text = model.to_json()
    clone = model_from_json(text, custom_objects=CUSTOM)
    assert clone.to_json() == text
    assert [w.shape for w in clone.get_weights()] == [w.shape for w in model.get_weights()]
    assert not np.array_equal(clone.get_weights()[0], model.get_weights()[0])


def test_corrupt_and_foreign_files_give_clear_errors(tmp_path):
    model = Sequential([Input((3,)), Scale()])
    model.save(tmp_path / "good")
    raw = (tmp_path / "good").read_bytes()
    (tmp_path / "truncated").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="not a fastkeras model file"):
        load_model(tmp_path / "truncated")
    (tmp_path / "weights.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(ValueError, match="is a Keras HDF5 file"):
        load_model(tmp_path / "weights.h5")
    with zipfile.ZipFile(tmp_path / "partial", "w") as archive:
        archive.writestr("metadata.json", json.dumps({"format": "fastkeras.model"}))
        archive.writestr("config.json", "{not json")
    with pytest.raises(ValueError, match="is corrupt: invalid JSON"):
        load_model(tmp_path / "partial")
    with zipfile.ZipFile(tmp_path / "noweights", "w") as archive:
        with zipfile.ZipFile(tmp_path / "good") as good:
            for name in ("metadata.json", "config.json"):
                archive.writestr(name, good.read(name))
    with pytest.raises(ValueError, match="has no 'model.weights.npz'"):
        load_model(tmp_path / "noweights")
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "absent")


def test_overwrite_false_asks_before_replacing(tmp_path, monkeypatch):
    model = Sequential([Input((2,)), Linear(1)])
    path = tmp_path / "w.npz"
    model.save_weights(path)
    first = path.read_bytes()
    model.get_layer("linear").set_weights([np.ones((2, 1)), np.ones(1)])
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    model.save_weights(path, overwrite=False)
    assert path.read_bytes() == first
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    model.save_weights(path, overwrite=False)
    assert path.read_bytes() != first
