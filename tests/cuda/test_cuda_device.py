"""Device helpers where CUDA is usable: transfers, dispatch to the twins, device selection."""

import numpy as np
import pytest

from fastkeras import config, device
from fastkeras.kernels import dense
from fastkeras.kernels.cuda import dense as cuda_dense


def test_status_is_available():
    status = device.cuda_status()
    assert status.available and status.missing is None
    device.require_cuda()


def test_round_trip_and_dispatch():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    d = device.to_device(x)
    assert device.is_device_array(d) and device.to_device(d) is d
    back = device.to_host(d)
    assert isinstance(back, np.ndarray)
    np.testing.assert_array_equal(back, x)
    assert device.kernels("dense", d, d) is cuda_dense
    assert device.kernels("dense", x) is dense
    with pytest.raises(ValueError, match="must all be on the host or all on the CUDA device"):
        device.kernels("dense", x, d)
    e = device.device_empty((4,), "float64")
    assert e.shape == (4,) and e.dtype == np.float64


def test_cuda_can_be_selected(monkeypatch):
    monkeypatch.setattr(config, "_device", None)
    assert config.set_device("cuda") == "cuda"
    assert config.set_device("auto") == "cuda"
    assert config.get_device() == "cuda"


def test_augment_batch_matches_the_cpu_chain_and_stays_on_the_device():
    from fastkeras.kernels import resample, whiten

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (3, 4, 5, 2)).astype(np.float32)
    train = rng.uniform(0, 255, (6, 40))
    train -= train.mean(axis=0)
    factors = whiten.zca_fit(train, 1e-6)
    mean = rng.uniform(0, 50, (4, 5, 2)).astype(np.float32)
    std = rng.uniform(1, 9, (4, 5, 2)).astype(np.float32)
    args = (np.tile([[1.0, 0.2, -0.5], [0.1, 0.9, 0.7]], (3, 1, 1)),
            np.array([1, 3, 9], np.uint8), np.array([0.0, 0.0, 12.5]), np.ones(3), 2, 0.0, 1,
            resample.FEATURE_CENTER | resample.FEATURE_STD | resample.RESCALE, 0.5, mean, std,
            False)
    expected = np.empty_like(x)
    resample.affine_batch(x, expected, *args)
    flat = expected.reshape(3, -1)
    whiten.zca_apply(flat, *factors, flat)
    copies = device.DeviceCopies()
    out = device.augment_batch(x, *args, np.float32, factors, copies)
    assert device.is_device_array(out)
    np.testing.assert_allclose(device.to_host(out), expected, rtol=0,
                               atol=1e-5 * np.abs(expected).max())
    kept = copies.get("mean", mean)
    assert copies.get("mean", mean) is kept  # reused for the next batch
    assert copies.get("mean", mean.copy()) is not kept  # refreshed when the array changes
