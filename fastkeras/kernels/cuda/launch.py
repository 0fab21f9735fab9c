"""Launch plumbing shared by the CUDA kernels: argument checks, grid sizes, the simulator, and
the block-wide reduction several kernels end with.

The kernels take device arrays: numba's own, or any object with ``__cuda_array_interface__``
(CuPy, PyTorch), viewed without a copy. Small per-call metadata (layouts, matrices, flags)
comes as numpy arrays and is copied over. Checks run here, in Python, so a wrong argument gives a
message naming it instead of a typing error from inside numba.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Any, Iterator, Sequence

import numpy as np
from numba import config, cuda

#: True when numba runs kernels in its CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``).
SIMULATOR = bool(config.ENABLE_CUDASIM)

#: Threads per block of the one-dimensional kernels.
THREADS = 256

# Grid-stride loops cover any size; more blocks than this adds scheduling, not parallelism.
_MAX_BLOCKS = 4096

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


@cuda.jit(device=True, inline=True)
def block_reduce(buf, value, take_max):
    """Sum (or, with ``take_max``, max) of ``value`` over the block, returned to every thread.

    ``buf`` is a shared array of one element per thread; the block size must be a power of two.
    """
    t = cuda.threadIdx.x
    buf[t] = value
    cuda.syncthreads()
    half = cuda.blockDim.x // 2
    while half > 0:
        if t < half:
            other = buf[t + half]
            if take_max:
                buf[t] = max(buf[t], other)
            else:
                buf[t] = buf[t] + other
        cuda.syncthreads()
        half //= 2
    result = buf[0]
    cuda.syncthreads()
    return result


def blocks(n: int, threads: int = THREADS) -> int:
    """Blocks of ``threads`` for a grid-stride loop over ``n`` items (at least one)."""
    return max(1, min(_MAX_BLOCKS, -(-int(n) // threads)))


def grid(n: int) -> tuple[int, int]:
    """``(blocks, threads)`` of a one-dimensional grid-stride loop over ``n`` items: whole warps,
    no more threads than items below one full block."""
    threads = min(THREADS, max(32, -(-int(n) // 32) * 32))
    return blocks(n, threads), threads


def row_threads(n: int, most: int) -> int:
    """Threads of a one-block-per-row kernel for rows of ``n`` items: a power of two from 32 to
    ``most`` (block reductions halve it)."""
    threads = 32
    while threads < n and threads < most:
        threads *= 2
    return threads


def is_device_array(a: Any) -> bool:
    """True when ``a`` lives on the CUDA device (or in the simulator's stand-in for it)."""
    if isinstance(a, np.ndarray):
        return False
    if SIMULATOR:
        from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray

        return isinstance(a, FakeCUDAArray)
    return hasattr(a, "__cuda_array_interface__")


def device_array(name: str, a: Any, *, dtypes: Sequence[np.dtype] | None = None,
                 ndim: int | None = None, shape: tuple | None = None,
                 contiguous: bool = True) -> Any:
    """Check one array argument of a kernel and return it as a numba device array.

    Raises
    ------
    TypeError
        ``a`` is not on the device, or has a dtype outside ``dtypes``.
    ValueError
        Wrong number of dimensions, wrong shape, or not C-contiguous when ``contiguous``.
    """
    if not is_device_array(a):
        raise TypeError(f"`{name}` must be a CUDA device array (see fastkeras.device.to_device); "
                        f"got {type(a).__name__}")
    if not SIMULATOR and not isinstance(a, cuda.devicearray.DeviceNDArray):
        a = cuda.as_cuda_array(a)
    if dtypes is not None and np.dtype(a.dtype) not in dtypes:
        names = ", ".join(str(d) for d in dtypes)
        raise TypeError(f"`{name}` must have dtype {names}; got {a.dtype}")
    if ndim is not None and len(a.shape) != ndim:
        raise ValueError(f"`{name}` must be {ndim}-D; got shape {tuple(a.shape)}")
    if shape is not None and tuple(a.shape) != tuple(shape):
        raise ValueError(f"`{name}` must have shape {tuple(shape)}; got {tuple(a.shape)}")
    if contiguous and not a.is_c_contiguous():
        raise ValueError(f"`{name}` must be C-contiguous")
    return a


def same_dtype(names: str, *arrays: Any) -> np.dtype:
    """The one dtype shared by ``arrays``; TypeError naming ``names`` otherwise."""
    dtypes = {np.dtype(a.dtype) for a in arrays}
    if len(dtypes) != 1:
        found = ", ".join(str(a.dtype) for a in arrays)
        raise TypeError(f"{names} must share one dtype; got {found}")
    return dtypes.pop()


def host_array(name: str, a: Any, dtype: Any) -> np.ndarray:
    """Host array-like metadata as a C-contiguous numpy array of ``dtype``."""
    if is_device_array(a):
        raise TypeError(f"`{name}` must be a host (numpy) array; got a device array")
    return np.ascontiguousarray(a, dtype=dtype)


def metadata(name: str, a: Any, dtype: Any, shape: tuple | None = None) -> Any:
    """Small per-call metadata (host array-like) converted to ``dtype`` and copied over."""
    host = host_array(name, a, dtype)
    if shape is not None and host.shape != tuple(shape):
        raise ValueError(f"`{name}` must have shape {tuple(shape)}; got {host.shape}")
    return cuda.to_device(host)


def scalar(name: str, value: Any, dtype: np.dtype) -> np.generic:
    """A real number as a numpy scalar of ``dtype`` (so the kernel computes in that dtype)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"`{name}` must be a real number; got {type(value).__name__}")
    return dtype.type(value)


@contextlib.contextmanager
def wraparound() -> Iterator[None]:
    """Let uint64 arithmetic wrap silently while a kernel runs in the simulator.

    The simulator executes kernels as Python on numpy scalars, whose uint64 products warn on the
    modulo-2**64 wraparound that the counter-based hash is built on; on a GPU nothing warns. The
    warning filters are process-wide, so this reaches the simulator's threads too.
    """
    if not SIMULATOR:
        yield
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="overflow encountered in scalar",
                                category=RuntimeWarning)
        yield


def span(a: Any) -> tuple[int, int]:
    """The ``[start, end)`` device addresses of a C-contiguous device array's elements."""
    if SIMULATOR:
        start = a._ary.ctypes.data
    else:
        start = a.__cuda_array_interface__["data"][0]
    return start, start + a.size * a.dtype.itemsize


def same_or_disjoint(name: str, a: Any, other_name: str, other: Any) -> None:
    """ValueError unless ``a`` is ``other`` itself (same memory, same shape) or disjoint from it."""
    (s0, e0), (s1, e1) = span(a), span(other)
    if (s0, e0) == (s1, e1) and tuple(a.shape) == tuple(other.shape):
        return
    if s0 < e1 and s1 < e0:
        raise ValueError(f"`{name}` must be `{other_name}` itself or not overlap it")
