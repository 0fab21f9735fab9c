"""Matrix products on the GPU: a tiled shared-memory GEMM in numba.cuda, and cuBLAS via CuPy.

``out = op(a) @ op(b)`` where ``op`` transposes when asked, for C-contiguous 2-D device arrays of
one float dtype. :func:`matmul` takes cuBLAS when CuPy is installed (and a real GPU is in use)
and the numba kernel otherwise; :func:`tiled_matmul` and :func:`cublas_matmul` pick one.

The numba kernel: each block computes a 64 x 64 tile of ``out`` with 16 x 16 threads, each thread
a 4 x 4 register tile (rows ``ty + 16 i``, columns ``tx + 16 j``). The operands stream through
shared memory 16 columns of ``k`` at a time, loaded so that neighbouring threads read
neighbouring addresses whichever way each operand is transposed. Products accumulate in the
arrays' dtype, as BLAS does.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any

import numpy as np
from numba import cuda

from fastkeras.kernels.cuda.launch import FLOAT_DTYPES, SIMULATOR, device_array, same_dtype

TILE = 64     # rows and columns of out per block
DEPTH = 16    # columns of k per shared-memory stage
SIDE = 16     # threads per block along each axis
WORK = TILE // SIDE  # rows (and columns) of out per thread
_LOADS = TILE * DEPTH // (SIDE * SIDE)  # elements of each operand tile each thread loads


def _make_tiled_kernel(dtype: Any) -> Any:
    """The tiled kernel for one float dtype (shared and local arrays need a fixed dtype).

    Not cached on disk: numba cannot cache a kernel made in a closure, so each process compiles
    it on first use.
    """

    @cuda.jit
    def kernel(a, b, out, trans_a, trans_b):
        m, n = out.shape
        depth = a.shape[0] if trans_a else a.shape[1]
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        tid = ty * SIDE + tx
        row0 = cuda.blockIdx.y * TILE
        col0 = cuda.blockIdx.x * TILE
        sa = cuda.shared.array((DEPTH, TILE), dtype)  # sa[k, r] = op(a)[row0 + r, k0 + k]
        sb = cuda.shared.array((DEPTH, TILE), dtype)  # sb[k, c] = op(b)[k0 + k, col0 + c]
        acc = cuda.local.array((WORK, WORK), dtype)
        for i in range(WORK):
            for j in range(WORK):
                acc[i, j] = 0
        for k0 in range(0, depth, DEPTH):
            for step in range(_LOADS):
                e = tid + step * SIDE * SIDE
                if trans_a:      # a is (k, m): walk r fastest, along a's rows
                    r = e % TILE
                    kk = e // TILE
                    ok = row0 + r < m and k0 + kk < depth
                    sa[kk, r] = a[k0 + kk, row0 + r] if ok else 0
                else:            # a is (m, k): walk k fastest
                    kk = e % DEPTH
                    r = e // DEPTH
                    ok = row0 + r < m and k0 + kk < depth
                    sa[kk, r] = a[row0 + r, k0 + kk] if ok else 0
                if trans_b:      # b is (n, k): walk k fastest
                    kk = e % DEPTH
                    c = e // DEPTH
                    ok = col0 + c < n and k0 + kk < depth
                    sb[kk, c] = b[col0 + c, k0 + kk] if ok else 0
                else:            # b is (k, n): walk c fastest
                    c = e % TILE
                    kk = e // TILE
                    ok = col0 + c < n and k0 + kk < depth
                    sb[kk, c] = b[k0 + kk, col0 + c] if ok else 0
            cuda.syncthreads()
            for kk in range(DEPTH):
                for i in range(WORK):
                    av = sa[kk, ty + i * SIDE]
                    for j in range(WORK):
                        acc[i, j] += av * sb[kk, tx + j * SIDE]
            cuda.syncthreads()
        for i in range(WORK):
            r = row0 + ty + i * SIDE
            if r < m:
                for j in range(WORK):
                    c = col0 + tx + j * SIDE
                    if c < n:
                        out[r, c] = acc[i, j]

    return kernel


_TILED = {np.dtype(np.float32): _make_tiled_kernel(np.float32),
          np.dtype(np.float64): _make_tiled_kernel(np.float64)}


def _operands(a: Any, b: Any, out: Any, trans_a: bool, trans_b: bool) -> tuple:
    """Check the operands of ``out = op(a) @ op(b)`` and return them as device arrays."""
    a = device_array("a", a, dtypes=FLOAT_DTYPES, ndim=2)
    b = device_array("b", b, dtypes=FLOAT_DTYPES, ndim=2)
    out = device_array("out", out, dtypes=FLOAT_DTYPES, ndim=2)
    same_dtype("`a`, `b` and `out`", a, b, out)
    m, ka = a.shape[::-1] if trans_a else a.shape
    kb, n = b.shape[::-1] if trans_b else b.shape
    if ka != kb:
        raise ValueError(f"inner dimensions differ: op(a) is {(m, ka)} and op(b) is {(kb, n)}")
    if tuple(out.shape) != (m, n):
        raise ValueError(f"`out` must have shape {(m, n)}; got {tuple(out.shape)}")
    return a, b, out


def tiled_matmul(a: Any, b: Any, out: Any, trans_a: bool = False,
                 trans_b: bool = False) -> None:
    """``out = op(a) @ op(b)`` with the tiled shared-memory numba kernel.

    Parameters
    ----------
    a, b : device arrays
        2-D, C-contiguous, float32 or float64 (the same dtype as ``out``).
    out : device array
        ``(m, n)``, written; must not overlap ``a`` or ``b``.
    trans_a, trans_b : bool
        Use ``a.T`` (``b.T``) in the product; no copy is made.
    """
    a, b, out = _operands(a, b, out, bool(trans_a), bool(trans_b))
    m, n = out.shape
    if m == 0 or n == 0:
        return
    grid = (-(-n // TILE), -(-m // TILE))
    _TILED[np.dtype(out.dtype)][grid, (SIDE, SIDE)](a, b, out, bool(trans_a), bool(trans_b))


@functools.cache
def cupy_available() -> bool:
    """True when CuPy can be imported and kernels run on a real GPU (not the simulator).

    Probed once per process: a failed import is not cached by Python, and every product asks.
    """
    if SIMULATOR:
        return False
    try:
        importlib.import_module("cupy")
    except ImportError:
        return False
    return True


def cublas_matmul(a: Any, b: Any, out: Any, trans_a: bool = False,
                  trans_b: bool = False) -> None:
    """``out = op(a) @ op(b)`` with cuBLAS through CuPy (same arguments as
    :func:`tiled_matmul`); the arrays are shared with CuPy, not copied.

    Raises
    ------
    RuntimeError
        When CuPy is not installed, or kernels run in the CUDA simulator.
    """
    a, b, out = _operands(a, b, out, bool(trans_a), bool(trans_b))
    if not cupy_available():
        why = "kernels run in the CUDA simulator" if SIMULATOR else "CuPy is not installed"
        raise RuntimeError(f"cuBLAS matrix products need CuPy on a real GPU, but {why}; "
                           "use tiled_matmul, or install cupy-cuda12x")
    import cupy

    ca, cb, co = cupy.asarray(a), cupy.asarray(b), cupy.asarray(out)
    cupy.matmul(ca.T if trans_a else ca, cb.T if trans_b else cb, out=co)


def matmul(a: Any, b: Any, out: Any, trans_a: bool = False, trans_b: bool = False) -> None:
    """``out = op(a) @ op(b)``: cuBLAS when CuPy is available, else the tiled numba kernel."""
    if cupy_available():
        cublas_matmul(a, b, out, trans_a, trans_b)
    else:
        tiled_matmul(a, b, out, trans_a, trans_b)
