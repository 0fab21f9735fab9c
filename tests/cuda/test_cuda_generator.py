"""``ImageDataGenerator(device='cuda')``: batches made on the device equal the CPU generator's."""

import os

import numpy as np
import pytest
from PIL import Image

from fastkeras.device import is_device_array, to_host
from fastkeras.preprocessing.image import ImageDataGenerator
from fastkeras.preprocessing.iterator import NumpyArrayIterator

AUGMENT = dict(rotation_range=25, width_shift_range=0.2, height_shift_range=2,
               zoom_range=0.2, horizontal_flip=True, vertical_flip=True,
               channel_shift_range=10.0, featurewise_center=True, rescale=1 / 255.0)


def images(n=5, h=6, w=7, c=3, seed=3):
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, c), dtype=np.uint8)


def pair(fit_shape=(6, 7), **kwargs):
    """A CUDA generator and a CPU one with the same settings, both fitted on the same images."""
    gens = [ImageDataGenerator(device=d, **kwargs) for d in ("cuda", "cpu")]
    for gen in gens:
        gen.fit(images(h=fit_shape[0], w=fit_shape[1], seed=9))
    return gens


def test_flow_batches_equal_the_cpu_generator(tmp_path):
    x, y = images(), np.arange(5)
    on_gpu, on_cpu = pair(**AUGMENT)
    saves = {d: tmp_path / d for d in ("cuda", "cpu")}
    for path in saves.values():
        path.mkdir()
    it_gpu = on_gpu.flow(x, y, batch_size=3, seed=5, save_to_dir=str(saves["cuda"]))
    it_cpu = on_cpu.flow(x, y, batch_size=3, seed=5, save_to_dir=str(saves["cpu"]))
    for _ in range(3):  # crosses an epoch: batches of 3, 2, 3
        (xg, yg), (xc, yc) = it_gpu.next(), it_cpu.next()
        assert is_device_array(xg) and not is_device_array(xc)
        host = to_host(xg)
        assert host.dtype == xc.dtype == np.float32
        np.testing.assert_array_equal(host, xc)
        np.testing.assert_array_equal(yg, yc)
    names = sorted(os.listdir(saves["cpu"]))
    assert names and sorted(os.listdir(saves["cuda"])) == names
    for name in names:
        np.testing.assert_array_equal(np.asarray(Image.open(saves["cuda"] / name)),
                                      np.asarray(Image.open(saves["cpu"] / name)))


def test_channels_first_float64_batches_equal_the_cpu_generator():
    x = np.random.default_rng(4).uniform(0, 255, (4, 3, 6, 5))
    settings = dict(AUGMENT, data_format="channels_first", dtype="float64",
                    featurewise_std_normalization=True, fill_mode="reflect")
    on_gpu, on_cpu = (ImageDataGenerator(device=d, **settings) for d in ("cuda", "cpu"))
    for gen in (on_gpu, on_cpu):
        gen.fit(x)
    xg = on_gpu.flow(x, batch_size=4, seed=2).next()
    xc = on_cpu.flow(x, batch_size=4, seed=2).next()
    assert is_device_array(xg) and to_host(xg).dtype == np.float64
    np.testing.assert_array_equal(to_host(xg), xc)


def test_iterator_dtype_other_than_the_generator_s_comes_back_as_numpy():
    x = images()
    on_gpu, on_cpu = pair(**AUGMENT)
    xg = NumpyArrayIterator(x, None, on_gpu, batch_size=5, seed=1, dtype="float64").next()
    xc = NumpyArrayIterator(x, None, on_cpu, batch_size=5, seed=1, dtype="float64").next()
    assert isinstance(xg, np.ndarray) and xg.dtype == np.float64
    np.testing.assert_array_equal(xg, xc)


@pytest.mark.parametrize("settings", [
    dict(preprocessing_function=lambda img: img[::-1] * 2.0),
    dict(rescale=[0.5, 1.0, 2.0]),
    dict(dtype="float16"),
], ids=["preprocessing_function", "array_rescale", "float16"])
def test_cases_that_stay_on_the_cpu_path_return_numpy(settings):
    x = images()
    on_gpu, on_cpu = pair(**dict(AUGMENT, **settings))
    xg = on_gpu.flow(x, batch_size=5, seed=6).next()
    xc = on_cpu.flow(x, batch_size=5, seed=6).next()
    assert isinstance(xg, np.ndarray)
    np.testing.assert_array_equal(xg, xc)


def test_zca_matrix_set_by_hand_stays_on_the_cpu_path():
    x = images(h=4, w=4)
    on_gpu, on_cpu = pair(fit_shape=(4, 4), zca_whitening=True, featurewise_center=True,
                          rotation_range=10)
    rotation = np.linalg.qr(np.random.default_rng(0).normal(size=(48, 48)))[0]
    for gen in (on_gpu, on_cpu):
        gen.zca_whitening_matrix = rotation
    xg = on_gpu.flow(x, batch_size=5, seed=6).next()
    assert isinstance(xg, np.ndarray)
    np.testing.assert_array_equal(xg, on_cpu.flow(x, batch_size=5, seed=6).next())


def test_fitted_zca_runs_on_the_device():
    x = images(h=4, w=4)
    on_gpu, on_cpu = pair(fit_shape=(4, 4), zca_whitening=True, featurewise_center=True,
                          rotation_range=10)
    xg = on_gpu.flow(x, batch_size=5, seed=6).next()
    assert is_device_array(xg)
    np.testing.assert_allclose(to_host(xg), on_cpu.flow(x, batch_size=5, seed=6).next(),
                               rtol=1e-5, atol=1e-5)


def test_flow_from_directory_input_mode_labels_are_a_device_copy(tmp_path):
    rng = np.random.default_rng(7)
    for cls, count in (("a", 2), ("b", 2)):
        os.makedirs(tmp_path / cls)
        for i in range(count):
            Image.fromarray(rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)).save(
                tmp_path / cls / f"{i}.png")
    on_gpu, on_cpu = pair(fit_shape=(5, 6), **AUGMENT)
    flows = [gen.flow_from_directory(str(tmp_path), target_size=(5, 6), class_mode="input",
                                     batch_size=3, seed=4) for gen in (on_gpu, on_cpu)]
    for _ in range(2):
        (xg, yg), (xc, yc) = (it.next() for it in flows)
        assert is_device_array(xg) and is_device_array(yg) and yg is not xg
        np.testing.assert_array_equal(to_host(xg), xc)
        np.testing.assert_array_equal(to_host(yg), yc)
        np.testing.assert_array_equal(yc, xc)
