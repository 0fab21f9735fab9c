"""Host/device helpers shared by the CUDA kernel tests."""

import numpy as np
from numba import cuda


def dev(a: np.ndarray):
    """A device copy of ``a``."""
    return cuda.to_device(np.ascontiguousarray(a))


def host(d) -> np.ndarray:
    """A host copy of a device array."""
    return d.copy_to_host()


def filled(shape, dtype, value=np.nan):
    """A device array filled with ``value`` (NaN by default, so unwritten outputs show)."""
    return cuda.to_device(np.full(shape, value, dtype=dtype))
