"""``ImageDataGenerator(device=...)`` on a machine without CUDA: errors, the 'auto' fallback."""

import numpy as np
import pytest

from fastkeras import config, device
from fastkeras.device import CudaUnavailableError, status_from
from fastkeras.preprocessing.image import ImageDataGenerator

DRIVER_MISSING = "\nCUDA driver library cannot be found.\n"
NO_DRIVER = status_from(False, DRIVER_MISSING, [], "Built-in", False)
NO_TOOLKIT = status_from(False, None, ["Tesla T4"], "NVIDIA", False)

AUGMENT = dict(rotation_range=25, width_shift_range=0.2, height_shift_range=2,
               zoom_range=0.2, horizontal_flip=True, vertical_flip=True,
               channel_shift_range=10.0, featurewise_center=True, rescale=1 / 255.0)


@pytest.fixture(autouse=True)
def no_cuda(monkeypatch):
    """No device chosen yet, no fallback line printed yet, and CUDA missing its driver."""
    monkeypatch.setattr(config, "_device", None)
    monkeypatch.setattr(config, "_told_fallback", False)
    monkeypatch.delenv("FASTKERAS_DEVICE", raising=False)
    monkeypatch.setattr(device, "cuda_status", lambda: NO_DRIVER)


def images(n=6, h=7, w=9, c=3):
    return np.random.default_rng(3).integers(0, 256, (n, h, w, c), dtype=np.uint8)


def batches(gen, x, count=2):
    gen.fit(x)
    it = gen.flow(x, np.arange(len(x)), batch_size=4, shuffle=True, seed=11)
    return [it.next() for _ in range(count)]


@pytest.mark.parametrize("status, piece", [(NO_DRIVER, "driver"), (NO_TOOLKIT, "cuda-toolkit")])
def test_cuda_without_a_usable_gpu_names_the_missing_piece(monkeypatch, status, piece):
    monkeypatch.setattr(device, "cuda_status", lambda: status)
    with pytest.raises(CudaUnavailableError, match=f"CUDA is not usable, missing {piece}: "):
        ImageDataGenerator(device="cuda")


def test_auto_falls_back_to_the_cpu_with_the_same_batches(capsys):
    x = images()
    auto = ImageDataGenerator(device="auto", **AUGMENT)
    assert auto.device == "cpu"
    assert "device 'auto' runs on the CPU; CUDA is not usable, missing driver" in (
        capsys.readouterr().err)
    cpu = ImageDataGenerator(device="cpu", **AUGMENT)
    for (xa, ya), (xc, yc) in zip(batches(auto, x), batches(cpu, x)):
        assert isinstance(xa, np.ndarray) and xa.dtype == np.float32
        np.testing.assert_array_equal(xa, xc)
        np.testing.assert_array_equal(ya, yc)


def test_default_follows_the_process_wide_device(monkeypatch):
    assert ImageDataGenerator().device == "cpu"
    monkeypatch.setattr(config, "_device", None)
    monkeypatch.setenv("FASTKERAS_DEVICE", "cuda")
    with pytest.raises(CudaUnavailableError, match="missing driver"):
        ImageDataGenerator()


def test_device_names_are_case_insensitive():
    assert ImageDataGenerator(device="CPU").device == "cpu"


@pytest.mark.parametrize("bad", ["gpu", "", "cuda:0", 0])
def test_bad_device_raises_naming_the_argument(bad):
    with pytest.raises(ValueError, match=r"`device` must be one of 'cpu', 'cuda', 'auto'; got "):
        ImageDataGenerator(device=bad)
