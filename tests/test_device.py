"""Device selection and CUDA availability, on a machine with or without a GPU."""

import sys

import numpy as np
import pytest

from fastkeras import config, device
from fastkeras.backend import config as backend_config
from fastkeras.device import CudaStatus, CudaUnavailableError, status_from

DRIVER_MISSING = ("\nCUDA driver library cannot be found.\nIf you are sure that a CUDA driver is "
                  "installed, try setting environment variable NUMBA_CUDA_DRIVER\n")
UNAVAILABLE = status_from(False, DRIVER_MISSING, [], "Built-in", False)
AVAILABLE = status_from(False, None, ["NVIDIA H100"], "NVIDIA", True)


@pytest.fixture(autouse=True)
def fresh_device(monkeypatch):
    """Each test starts with no device chosen and no fallback line printed yet."""
    monkeypatch.setattr(config, "_device", None)
    monkeypatch.setattr(config, "_told_fallback", False)
    monkeypatch.delenv("FASTKERAS_DEVICE", raising=False)


def with_status(monkeypatch, status):
    monkeypatch.setattr(device, "cuda_status", lambda: status)


@pytest.mark.parametrize("args, missing, words", [
    ((False, DRIVER_MISSING, [], "NVIDIA", True), "driver",
     "NVIDIA driver could not be loaded (CUDA driver library cannot be found)"),
    ((False, "cuInit failed: [100] CUDA_ERROR_NO_DEVICE", [], "NVIDIA", True), "device",
     "found no CUDA device"),
    ((False, None, [], "NVIDIA", True), "device", "found no CUDA device"),
    ((False, None, ["Tesla T4"], "Built-in", True), "numba-cuda",
     "pip install 'fastkeras[cuda]'"),
    ((False, None, ["Tesla T4"], "NVIDIA", False), "cuda-toolkit", "NVVM was not found"),
])
def test_status_names_the_first_missing_piece(args, missing, words):
    status = status_from(*args)
    assert not status.available and not status.simulator
    assert status.missing == missing
    assert words in status.detail


def test_status_when_everything_is_there_and_under_the_simulator():
    assert AVAILABLE == CudaStatus(True, False, None, "CUDA device 0: NVIDIA H100")
    sim = status_from(True, DRIVER_MISSING, [], "Built-in", False)
    assert sim.available and sim.simulator and sim.missing is None


def test_probe_is_consistent_with_numba():
    from numba import cuda

    status = device.cuda_status()
    assert status is device.cuda_status()  # probed once per process
    assert status.simulator is False  # this process imported numba without the simulator
    if not cuda.is_available():
        assert not status.available and status.missing in ("driver", "device")
        with pytest.raises(CudaUnavailableError, match=f"missing {status.missing}"):
            device.require_cuda()


def test_default_device_is_cpu_and_set_device_validates():
    assert config.get_device() == "cpu"
    assert config.set_device("CPU") == "cpu"
    with pytest.raises(ValueError, match="must be one of 'cpu', 'cuda', 'auto'; got 'gpu'"):
        config.set_device("gpu")
    with pytest.raises(ValueError, match="`device` must be one of"):
        config.set_device(0)
    assert config.get_device() == "cpu"


def test_cuda_without_gpu_raises_naming_the_missing_piece(monkeypatch):
    with_status(monkeypatch, UNAVAILABLE)
    config.set_device("cpu")
    with pytest.raises(CudaUnavailableError, match="missing driver: the NVIDIA driver could not"):
        config.set_device("cuda")
    assert config.get_device() == "cpu"  # unchanged
    assert issubclass(CudaUnavailableError, RuntimeError)


def test_auto_falls_back_with_one_info_line(monkeypatch, capsys):
    with_status(monkeypatch, UNAVAILABLE)
    assert config.set_device("auto") == "cpu"
    assert config.resolve_device("auto") == "cpu"
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("fastkeras: device 'auto' runs on the CPU; CUDA is not usable, "
                               "missing driver")


def test_auto_and_cuda_take_the_gpu_when_usable(monkeypatch, capsys):
    with_status(monkeypatch, AVAILABLE)
    assert config.set_device("auto") == "cuda"
    assert config.get_device() == "cuda"
    assert config.set_device("cuda") == "cuda"
    assert capsys.readouterr().err == ""


def test_environment_variable_sets_the_first_device(monkeypatch):
    with_status(monkeypatch, AVAILABLE)
    monkeypatch.setenv("FASTKERAS_DEVICE", " cuda ")
    assert config.get_device() == "cuda"
    monkeypatch.setattr(config, "_device", None)
    monkeypatch.setenv("FASTKERAS_DEVICE", "tpu")
    with pytest.raises(ValueError, match="`FASTKERAS_DEVICE` must be one of 'cpu', 'cuda', "
                                         "'auto'; got 'tpu'"):
        config.get_device()
    with_status(monkeypatch, UNAVAILABLE)
    monkeypatch.setenv("FASTKERAS_DEVICE", "cuda")
    with pytest.raises(CudaUnavailableError, match="missing driver"):
        config.get_device()


def test_resolve_device_defaults_to_the_process_device(monkeypatch):
    with_status(monkeypatch, AVAILABLE)
    config.set_device("cuda")
    assert config.resolve_device(None) == "cuda"
    with pytest.raises(ValueError, match="`device` must be one of"):
        config.resolve_device("gpu0")


def test_config_reexports_the_backend_settings():
    assert config.floatx is backend_config.floatx
    assert config.set_image_data_format is backend_config.set_image_data_format
    assert config.floatx() == backend_config.floatx()


def test_host_arrays_dispatch_to_the_cpu_kernels():
    from fastkeras.kernels import dense, masks

    x = np.zeros((2, 3), np.float32)
    assert device.kernels("dense", x, x) is dense
    assert device.kernels("masks") is masks
    assert not device.is_device_array(x) and not device.is_device_array(None)
    assert device.to_host(x) is x
    with pytest.raises(ValueError, match="`name` must be one of dense, masks, optim"):
        device.kernels("conv", x)


def test_transfers_need_cuda(monkeypatch):
    with_status(monkeypatch, UNAVAILABLE)
    with pytest.raises(CudaUnavailableError, match="missing driver"):
        device.to_device(np.zeros(3))
    with pytest.raises(CudaUnavailableError, match="missing driver"):
        device.device_empty((2, 2), np.float32)


def test_package_imports_without_touching_numba_cuda():
    import subprocess

    code = ("import sys, fastkeras, fastkeras.config, fastkeras.device;"
            "fastkeras.config.get_device();"
            "print('numba.cuda' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"
