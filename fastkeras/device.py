"""Where arrays live: CUDA availability, host/device transfers, and kernel dispatch.

fastkeras imports and runs fully without CUDA: nothing here touches ``numba.cuda`` until a
function needs it. A usable GPU needs four pieces, checked in this order, and
:class:`CudaUnavailableError` names the first one missing:

- ``driver``: the NVIDIA driver (``libcuda``);
- ``device``: at least one CUDA device that the driver sees;
- ``numba-cuda``: the maintained ``numba-cuda`` package (numba's built-in ``numba.cuda`` target
  is deprecated); ``pip install 'fastkeras[cuda]'`` installs it;
- ``cuda-toolkit``: the NVVM compiler library that numba-cuda compiles kernels with (the
  ``cuda`` extra installs it too).

Under numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``, set before numba is imported) the
kernels run as Python on the CPU, for tests on tiny inputs; it counts as available.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

_INSTALL = "pip install 'fastkeras[cuda]'"
_KERNEL_MODULES = ("dense", "masks", "optim", "resample", "whiten")


class CudaUnavailableError(RuntimeError):
    """CUDA was requested but a piece it needs (named in the message) is missing."""


@dataclass(frozen=True)
class CudaStatus:
    """What :func:`cuda_status` found.

    Attributes
    ----------
    available : bool
        Kernels can run on a GPU (or in the simulator).
    simulator : bool
        numba's CUDA simulator is on.
    missing : str or None
        The first missing piece: ``'driver'``, ``'device'``, ``'numba-cuda'`` or
        ``'cuda-toolkit'``; None when available.
    detail : str
        One line: the device found, or what is missing and how to get it.
    """

    available: bool
    simulator: bool
    missing: str | None
    detail: str


def status_from(simulator: bool, driver_error: str | None, device_names: list[str],
                implementation: str, nvvm_found: bool) -> CudaStatus:
    """Decide availability from what a probe found (pure; :func:`cuda_status` probes).

    Parameters
    ----------
    simulator : bool
        ``NUMBA_ENABLE_CUDASIM`` is on.
    driver_error : str or None
        The driver's initialisation error, None when it initialised.
    device_names : list of str
        Names of the devices the driver sees.
    implementation : str
        ``numba.cuda.implementation``: ``'NVIDIA'`` for numba-cuda, ``'Built-in'`` otherwise.
    nvvm_found : bool
        NVVM could be loaded.
    """
    if simulator:
        return CudaStatus(True, True, None, "numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1)")
    if driver_error is not None:
        if "CUDA_ERROR_NO_DEVICE" in driver_error:
            return CudaStatus(False, False, "device", "the NVIDIA driver found no CUDA device")
        lines = [line.strip().rstrip(".:") for line in driver_error.splitlines()]
        reason = next((line for line in lines if line), "unknown error")
        return CudaStatus(False, False, "driver",
                          f"the NVIDIA driver could not be loaded ({reason}); install the "
                          "NVIDIA driver for your GPU")
    if not device_names:
        return CudaStatus(False, False, "device", "the NVIDIA driver found no CUDA device")
    if implementation != "NVIDIA":
        return CudaStatus(False, False, "numba-cuda",
                          "the numba-cuda package is not installed (numba's built-in CUDA "
                          f"target is deprecated); {_INSTALL}")
    if not nvvm_found:
        return CudaStatus(False, False, "cuda-toolkit",
                          f"the CUDA compiler library NVVM was not found; {_INSTALL} installs it")
    return CudaStatus(True, False, None, f"CUDA device 0: {device_names[0]}")


@functools.lru_cache(maxsize=1)
def cuda_status() -> CudaStatus:
    """Probe once per process whether CUDA kernels can run here, and if not, why."""
    from numba import config

    if config.ENABLE_CUDASIM:
        return status_from(True, None, [], "", False)
    from numba import cuda
    from numba.cuda.cudadrv import nvvm

    driver_error = cuda.cuda_error() if not cuda.is_available() else None
    names: list[str] = []
    if driver_error is None:
        try:
            names = [str(gpu.name, "utf-8") if isinstance(gpu.name, bytes) else str(gpu.name)
                     for gpu in cuda.gpus]
        except cuda.CudaSupportError as exc:  # the driver loads, but enumerating devices fails
            driver_error = str(exc)
    return status_from(False, driver_error, names, getattr(cuda, "implementation", "Built-in"),
                       bool(nvvm.is_available()))


def cuda_available() -> bool:
    """True when CUDA kernels can run here (a usable GPU, or the simulator)."""
    return cuda_status().available


def require_cuda() -> None:
    """Return when CUDA is usable; raise :class:`CudaUnavailableError` naming what is missing."""
    status = cuda_status()
    if not status.available:
        raise CudaUnavailableError(f"CUDA is not usable, missing {status.missing}: "
                                   f"{status.detail}.")


def is_device_array(a: Any) -> bool:
    """True when ``a`` lives on the CUDA device (numba, CuPy or any CUDA-array-interface array)."""
    if isinstance(a, (np.ndarray, np.generic, int, float, bool, list, tuple)) or a is None:
        return False
    if cuda_status().simulator:
        from fastkeras.kernels.cuda.launch import is_device_array as on_device

        return on_device(a)
    return hasattr(a, "__cuda_array_interface__")


def to_device(a: Any) -> Any:
    """A device copy of array-like ``a`` (a device array is returned as it is).

    Raises
    ------
    CudaUnavailableError
        Where CUDA is not usable.
    """
    if is_device_array(a):
        return a
    require_cuda()
    from numba import cuda

    return cuda.to_device(np.ascontiguousarray(a))


def to_host(a: Any) -> np.ndarray:
    """A numpy array with ``a``'s values: device arrays are copied back, numpy passes through."""
    if is_device_array(a):
        from numba import cuda

        if not hasattr(a, "copy_to_host"):
            a = cuda.as_cuda_array(a)
        return a.copy_to_host()
    return np.asarray(a)


def device_empty(shape: Any, dtype: Any) -> Any:
    """An uninitialised C-contiguous device array (raises where CUDA is not usable)."""
    require_cuda()
    from numba import cuda

    return cuda.device_array(shape, dtype=np.dtype(dtype))


def kernels(name: str, *arrays: Any) -> ModuleType:
    """The kernel module ``name`` for where ``arrays`` live: the CPU one or its CUDA twin.

    Parameters
    ----------
    name : str
        One of ``'dense'``, ``'masks'``, ``'optim'``, ``'resample'``, ``'whiten'``.
    *arrays
        The arrays the kernels will get; all on the host or all on the device.

    Raises
    ------
    ValueError
        For an unknown ``name``, or arrays split between host and device.
    """
    if name not in _KERNEL_MODULES:
        raise ValueError(f"`name` must be one of {', '.join(_KERNEL_MODULES)}; got {name!r}")
    places = {is_device_array(a) for a in arrays if a is not None}
    if len(places) > 1:
        raise ValueError("the arrays must all be on the host or all on the CUDA device; move "
                         "them with fastkeras.device.to_device or to_host")
    on_device = places == {True}
    return importlib.import_module(f"fastkeras.kernels.{'cuda.' if on_device else ''}{name}")


class DeviceCopies:
    """Device copies of host arrays that are reused across batches (featurewise statistics, ZCA
    factors), refreshed when the host array object is replaced."""

    def __init__(self) -> None:
        self._copies: dict[str, tuple[Any, Any]] = {}

    def get(self, name: str, host: Any) -> Any:
        """The device copy of ``host`` stored under ``name`` (made on first use or change)."""
        kept = self._copies.get(name)
        if kept is None or kept[0] is not host:
            kept = (host, to_device(host))
            self._copies[name] = kept
        return kept[1]


def augment_batch(x: Any, matrices: np.ndarray, flags: np.ndarray, shift: np.ndarray,
                  bright: np.ndarray, mode: int, cval: float, order: int, post: int,
                  rescale: float, mean: np.ndarray, std: np.ndarray, channels_first: bool,
                  dtype: Any, zca_factors: tuple | None = None,
                  copies: DeviceCopies | None = None) -> Any:
    """Augment a batch on the GPU: :func:`fastkeras.kernels.cuda.resample.affine_batch`, then
    ZCA whitening when ``zca_factors`` are given; the batch stays on the device.

    Parameters
    ----------
    x : ndarray or device array
        The batch (uint8, float32 or float64); a host batch is copied over once.
    matrices, flags, shift, bright, mode, cval, order, post, rescale, mean, std, channels_first
        As for :func:`fastkeras.kernels.resample.affine_batch` (``mean`` and ``std`` on the host
        are copied once per ``copies`` and reused).
    dtype : float32 or float64
        The output's dtype.
    zca_factors : (U, scale), optional
        From :func:`fastkeras.kernels.whiten.zca_fit`.
    copies : DeviceCopies, optional
        Where the device copies of ``mean``, ``std`` and the ZCA factors are kept between
        batches (one per generator); without it they are copied for this batch only.

    Returns
    -------
    device array
        The augmented batch; :func:`to_host` brings it back as numpy.

    Raises
    ------
    CudaUnavailableError
        Where CUDA is not usable.
    """
    from fastkeras.kernels.cuda import resample as cuda_resample
    from fastkeras.kernels.cuda import whiten as cuda_whiten

    copies = copies if copies is not None else DeviceCopies()
    d_x = to_device(x)
    out = device_empty(d_x.shape, dtype)
    if isinstance(mean, np.ndarray) and mean.size > 1:
        mean = copies.get("mean", mean)
    if isinstance(std, np.ndarray) and std.size > 1:
        std = copies.get("std", std)
    cuda_resample.affine_batch(d_x, out, matrices, flags, shift, bright, mode, cval, order,
                               post, rescale, mean, std, channels_first)
    if zca_factors is not None:
        u = copies.get("zca_u", zca_factors[0])
        scale = copies.get("zca_scale", zca_factors[1])
        flat = out.reshape(out.shape[0], out.size // max(out.shape[0], 1))
        cuda_whiten.zca_apply(flat, u, scale, flat)
    return out
