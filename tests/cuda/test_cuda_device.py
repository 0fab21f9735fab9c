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
