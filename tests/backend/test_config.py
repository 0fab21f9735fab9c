"""Backend settings: keras.json under KERAS_HOME is honoured at import, setters validate."""

import json
import os
import subprocess
import sys

import pytest

from fastkeras.backend import config

PROBE = ("import fastkeras.backend as K; "
         "print(K.floatx(), K.epsilon(), K.image_data_format(), K.random_normal((2,)).dtype)")


def run_probe(home):
    env = dict(os.environ, KERAS_HOME=str(home))
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True,
                         check=True)
    return out.stdout.split()


def test_keras_json_is_honoured(tmp_path):
    (tmp_path / "keras.json").write_text(json.dumps(
        {"floatx": "float64", "epsilon": 1e-5, "image_data_format": "channels_first",
         "backend": "tensorflow"}))
    assert run_probe(tmp_path) == ["float64", "1e-05", "channels_first", "float64"]


def test_missing_or_broken_keras_json_keeps_defaults(tmp_path):
    assert run_probe(tmp_path) == ["float32", "1e-07", "channels_last", "float32"]
    (tmp_path / "keras.json").write_text("{not json")
    assert run_probe(tmp_path) == ["float32", "1e-07", "channels_last", "float32"]


def test_setters_validate_and_apply():
    old = (config.floatx(), config.epsilon(), config.image_data_format())
    try:
        config.set_floatx("float64")
        config.set_epsilon(1e-3)
        config.set_image_data_format("channels_first")
        assert (config.floatx(), config.epsilon(), config.image_data_format()) == \
            ("float64", 1e-3, "channels_first")
        with pytest.raises(ValueError, match="Unknown `floatx` value: int8"):
            config.set_floatx("int8")
        with pytest.raises(ValueError, match="data_format=nchw"):
            config.set_image_data_format("nchw")
    finally:
        config.set_floatx(old[0])
        config.set_epsilon(old[1])
        config.set_image_data_format(old[2])
