"""Parity with the reference implementations when they are installed (spec §11).

keras_preprocessing (KP) runs in-process: fastkeras's default geometry is KP's. Keras 3's legacy
generator (K3) needs a backend, so it runs in a subprocess with ``KERAS_BACKEND=torch``, where it
is compared with ``affine_convention='keras3'`` and the iterators are also passed to
``keras.Model.fit`` (they are ``keras.utils.PyDataset`` instances there).
"""

import importlib.util
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from fastkeras.preprocessing.image import ImageDataGenerator, apply_affine_transform

kp_image = pytest.importorskip("keras_preprocessing.image")

CONFIGS = [
    dict(rotation_range=20, width_shift_range=0.2, height_shift_range=0.2, shear_range=10, zoom_range=0.2,
         horizontal_flip=True),
    dict(rotation_range=30, width_shift_range=3, height_shift_range=[1, 2, 0.5], fill_mode="constant", cval=7.0,
         vertical_flip=True, channel_shift_range=25.0),
    dict(zoom_range=[0.5, 1.5], fill_mode="reflect", rescale=1 / 255, samplewise_center=True,
         samplewise_std_normalization=True),
    dict(rotation_range=45, fill_mode="wrap", interpolation_order=0, data_format="channels_first"),
    dict(rotation_range=15, shear_range=20, fill_mode="nearest", interpolation_order=3),
]


def _data(cfg, dtype=np.float32):
    x = np.random.default_rng(0).uniform(0, 255, (10, 9, 11, 3)).astype(dtype)
    if cfg.get("data_format") == "channels_first":
        x = np.ascontiguousarray(np.moveaxis(x, -1, 1))
    return x


@pytest.mark.parametrize("cfg", CONFIGS)
def test_seeded_flow_matches_keras_preprocessing(cfg):
    x, y = _data(cfg), np.arange(10)
    ours = ImageDataGenerator(**cfg).flow(x, y, batch_size=4, seed=11)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        state = np.random.get_state()
        theirs = kp_image.ImageDataGenerator(**cfg).flow(x, y, batch_size=4, seed=11)
        for _ in range(6):  # two epochs
            (bx, by), (kx, ky) = next(ours), next(theirs)
            np.testing.assert_array_equal(by, ky)
            np.testing.assert_allclose(bx, kx, rtol=0, atol=1e-5)
        np.random.set_state(state)


def test_uint8_flow_matches_keras_preprocessing():
    cfg = CONFIGS[0]
    x = _data(cfg, np.uint8)
    state = np.random.get_state()
    a = ImageDataGenerator(**cfg).flow(x, batch_size=5, seed=2)
    b = kp_image.ImageDataGenerator(**cfg).flow(x, batch_size=5, seed=2)
    for _ in range(4):
        np.testing.assert_array_equal(next(a), next(b))
    np.random.set_state(state)


@pytest.mark.parametrize("cfg", CONFIGS[:2])
def test_get_random_transform_matches_keras_preprocessing(cfg):
    ours, theirs = ImageDataGenerator(**cfg), kp_image.ImageDataGenerator(**cfg)
    state = np.random.get_state()
    for seed in range(200):
        assert ours.get_random_transform((9, 11, 3), seed) == theirs.get_random_transform((9, 11, 3), seed)
    np.random.set_state(state)


def test_apply_affine_transform_matches_keras_preprocessing():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 255, (7, 12, 3))
    for mode in ["constant", "nearest", "reflect", "wrap"]:
        for _ in range(10):
            p = dict(theta=rng.uniform(-90, 90), tx=rng.uniform(-4, 4), ty=rng.uniform(-4, 4),
                     shear=rng.uniform(-20, 20), zx=rng.uniform(0.6, 1.4), zy=rng.uniform(0.6, 1.4))
            ours = apply_affine_transform(x, **p, row_axis=0, col_axis=1, channel_axis=2, fill_mode=mode, cval=3.0)
            theirs = kp_image.apply_affine_transform(x, **p, fill_mode=mode, cval=3.0)
            np.testing.assert_array_equal(ours, theirs)


def test_fit_matches_keras_preprocessing():
    x = _data({})
    ours = ImageDataGenerator(featurewise_center=True, featurewise_std_normalization=True, rotation_range=20,
                              horizontal_flip=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = kp_image.ImageDataGenerator(featurewise_center=True, featurewise_std_normalization=True,
                                             rotation_range=20, horizontal_flip=True)
        state = np.random.get_state()
        ours.fit(x, augment=True, rounds=2, seed=5)
        theirs.fit(x, augment=True, rounds=2, seed=5)
        np.random.set_state(state)
    np.testing.assert_allclose(ours.mean, theirs.mean, rtol=1e-5)
    np.testing.assert_allclose(ours.std, theirs.std, rtol=1e-5)


K3_SCRIPT = r"""
import json, warnings
import numpy as np
warnings.simplefilter("ignore")
import keras
from keras.src.legacy.preprocessing import image as k3
from fastkeras.preprocessing.image import ImageDataGenerator, apply_affine_transform

configs = json.loads(CONFIGS)
configs.append(dict(rotation_range=10, zoom_range=0.1, channel_shift_range=10.0, brightness_range=[0.3, 1.7],
                    horizontal_flip=True))
report = {"flow": [], "params": 0, "affine": 0.0}
for cfg in configs:
    x = np.random.default_rng(0).uniform(0, 255, (10, 9, 11, 3)).astype("float32")
    if cfg.get("data_format") == "channels_first":
        x = np.ascontiguousarray(np.moveaxis(x, -1, 1))
    ours = ImageDataGenerator(affine_convention="keras3", **cfg).flow(x, np.arange(10), batch_size=4, seed=3)
    theirs = k3.ImageDataGenerator(**cfg).flow(x, np.arange(10), batch_size=4, seed=3)
    worst = 0.0
    for _ in range(6):
        (bx, by), (kx, ky) = next(ours), next(theirs)
        assert (by == ky).all()
        worst = max(worst, float(np.abs(bx - kx).max()))
    report["flow"].append(worst)
    a, b = ImageDataGenerator(**cfg), k3.ImageDataGenerator(**cfg)
    report["params"] += sum(a.get_random_transform(x.shape[1:], s) != b.get_random_transform(x.shape[1:], s)
                            for s in range(50))
rng = np.random.default_rng(1)
img = rng.uniform(0, 255, (3, 7, 12))
for _ in range(20):
    p = dict(theta=rng.uniform(-90, 90), tx=rng.uniform(-4, 4), ty=rng.uniform(-4, 4), shear=rng.uniform(-20, 20),
             zx=rng.uniform(0.6, 1.4), zy=rng.uniform(0.6, 1.4))
    d = np.abs(apply_affine_transform(img, **p, fill_mode="reflect", affine_convention="keras3")
               - k3.apply_affine_transform(img, **p, fill_mode="reflect")).max()
    report["affine"] = max(report["affine"], float(d))

it = ImageDataGenerator(horizontal_flip=True).flow(np.random.rand(12, 4, 4, 1).astype("float32"),
                                                  np.arange(12) % 2, batch_size=4, seed=0)
report["pydataset"] = isinstance(it, keras.utils.PyDataset)
model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(1)])
model.compile("sgd", "mse")
report["epochs"] = len(model.fit(it, epochs=2, verbose=0).history["loss"])
print("REPORT" + json.dumps(report))
"""


@pytest.mark.slow
def test_keras3_parity_and_model_fit_in_subprocess():
    if importlib.util.find_spec("keras") is None or importlib.util.find_spec("torch") is None:
        pytest.skip("keras 3 with the torch backend is not installed")
    script = K3_SCRIPT.replace("CONFIGS", repr(json.dumps(CONFIGS)))
    env = dict(os.environ, KERAS_BACKEND="torch")
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.split("REPORT", 1)[1])
    assert report["params"] == 0
    assert report["affine"] == 0.0
    assert max(report["flow"]) <= 1e-5, report["flow"]
    assert report["pydataset"] and report["epochs"] == 2
