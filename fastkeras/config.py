"""Process-wide settings, as Keras 3's ``keras.config``: float type, epsilon, image data format
(the backend's settings) and the compute device.

The device is ``'cpu'`` (the default), ``'cuda'`` or ``'auto'``, set with :func:`set_device` or
the ``FASTKERAS_DEVICE`` environment variable (read on first use). ``'cuda'`` without a usable GPU
raises :class:`~fastkeras.device.CudaUnavailableError` naming what is missing (driver, device,
numba-cuda, CUDA toolkit); ``'auto'`` takes the GPU when one is usable and otherwise the CPU,
saying so in one line on standard error.
"""

from __future__ import annotations

import os
import sys

from fastkeras.backend.config import (epsilon, floatx, image_data_format, set_epsilon,
                                      set_floatx, set_image_data_format)
from fastkeras import device as _cuda

__all__ = ["floatx", "set_floatx", "epsilon", "set_epsilon", "image_data_format",
           "set_image_data_format", "set_device", "get_device", "get_device_request",
           "resolve_device", "DEVICES"]

#: The device names :func:`set_device` accepts.
DEVICES = ("cpu", "cuda", "auto")
ENV_VAR = "FASTKERAS_DEVICE"

_device: str | None = None  # as requested: 'cpu', 'cuda' or 'auto'; None until first use
_told_fallback = False


def resolve_device(device: str | None = None, argument: str = "device") -> str:
    """Turn a device request into the device used: ``'cpu'`` or ``'cuda'``.

    Parameters
    ----------
    device : {'cpu', 'cuda', 'auto'} or None
        The request; None means the process-wide device (:func:`get_device`).
    argument : str
        The name the request came in as, for error messages.

    Raises
    ------
    ValueError
        For a name outside :data:`DEVICES`.
    CudaUnavailableError
        For ``'cuda'`` where CUDA is not usable.
    """
    global _told_fallback
    if device is None:
        return get_device()
    if not isinstance(device, str) or device.lower() not in DEVICES:
        raise ValueError(f"`{argument}` must be one of 'cpu', 'cuda', 'auto'; got {device!r}")
    device = device.lower()
    if device == "cuda":
        _cuda.require_cuda()
    elif device == "auto":
        status = _cuda.cuda_status()
        if status.available:
            return "cuda"
        if not _told_fallback:
            print(f"fastkeras: device 'auto' runs on the CPU; CUDA is not usable, missing "
                  f"{status.missing}: {status.detail}.", file=sys.stderr)
            _told_fallback = True
        return "cpu"
    return device


def set_device(device: str) -> str:
    """Set the process-wide compute device; returns the device now in use.

    Parameters
    ----------
    device : {'cpu', 'cuda', 'auto'}
        ``'auto'`` takes CUDA when it is usable, else the CPU (with one info line).

    Raises
    ------
    ValueError
        For an unknown name.
    CudaUnavailableError
        For ``'cuda'`` where CUDA is not usable; the device setting is left unchanged.
    """
    global _device
    resolved = resolve_device(device, "device")
    _device = device.lower()
    return resolved


def get_device() -> str:
    """The process-wide compute device, ``'cpu'`` or ``'cuda'``.

    On first use it comes from ``FASTKERAS_DEVICE`` (``'cpu'`` when unset).

    Raises
    ------
    ValueError, CudaUnavailableError
        When ``FASTKERAS_DEVICE`` names an unknown device, or ``'cuda'`` where it is not usable.
    """
    return resolve_device(get_device_request(), "device")


def get_device_request() -> str:
    """The process-wide device as it was asked for: ``'cpu'``, ``'cuda'`` or ``'auto'``.

    Where :func:`get_device` says ``'cuda'``, this tells a request that must run there
    (``'cuda'``) from one that may fall back to the CPU (``'auto'``).

    Raises
    ------
    ValueError, CudaUnavailableError
        As :func:`get_device`, on first use.
    """
    global _device
    if _device is None:
        request = os.environ.get(ENV_VAR, "cpu").strip() or "cpu"
        resolve_device(request, ENV_VAR)
        _device = request.lower()
    return _device
