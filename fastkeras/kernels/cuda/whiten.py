"""CUDA twin of the ZCA apply step of :mod:`fastkeras.kernels.whiten`.

:func:`zca_apply` whitens a batch on the device with the low-rank factors from
:func:`fastkeras.kernels.whiten.zca_fit` (fitting stays on the CPU: it runs once, on the training
sample, with LAPACK): two matrix products through :func:`fastkeras.kernels.cuda.gemm.matmul` in
the factors' precision (or the batch's, where that is wider), as on the CPU, rounded once into the
output's dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import cuda

from fastkeras.kernels.cuda import gemm
from fastkeras.kernels.cuda.launch import device_array, grid, same_or_disjoint

_REAL_DTYPES = tuple(np.dtype(t) for t in (np.uint8, np.int8, np.uint16, np.int16, np.uint32,
                                           np.int32, np.uint64, np.int64, np.float16,
                                           np.float32, np.float64))
_FACTOR_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


@cuda.jit(cache=True)
def _cast_kernel(src, dst):
    for i in range(cuda.grid(1), src.size, cuda.gridsize(1)):
        dst[i] = src[i]


@cuda.jit(cache=True)
def _scale_columns_kernel(a, scale):
    rows, cols = a.shape
    for i in range(cuda.grid(1), rows * cols, cuda.gridsize(1)):
        r = i // cols
        j = i - r * cols
        a[r, j] = a[r, j] * scale[j]


def _cast(src: Any, dst: Any) -> None:
    flat_src = src.reshape(src.size)
    _cast_kernel[grid(src.size)](flat_src, dst.reshape(dst.size))


def _as_dtype(a: Any, dtype: np.dtype) -> Any:
    """``a`` itself when it has ``dtype``, else a device copy cast to it."""
    if a.dtype == dtype:
        return a
    copy = cuda.device_array(a.shape, dtype=dtype)
    if a.size:
        _cast(a, copy)
    return copy


def zca_apply(flat_batch: Any, u: Any, scale: Any, out: Any) -> None:
    """Whiten a batch on the device: ``out[...] = ((flat_batch @ U) * scale) @ U.T``.

    Same arguments as :func:`fastkeras.kernels.whiten.zca_apply`, all device arrays: the factors
    ``u`` (D, k) and ``scale`` (k,) in the dtype ``zca_fit`` returned them in (copy them over once
    with :func:`fastkeras.device.to_device`).

    Parameters
    ----------
    flat_batch : device array, shape (m, D)
        Images flattened to rows, any real dtype, C-contiguous; not modified unless it is ``out``.
    u, scale : device arrays
        Factors from :func:`fastkeras.kernels.whiten.zca_fit`, float32 or float64, one dtype.
    out : device array, shape (m, D)
        Float32 or float64, written; either ``flat_batch`` itself or not overlapping it.
    """
    flat_batch = device_array("flat_batch", flat_batch, dtypes=_REAL_DTYPES, ndim=2)
    u = device_array("U", u, dtypes=_FACTOR_DTYPES, ndim=2)
    scale = device_array("scale", scale, dtypes=(u.dtype,), shape=(u.shape[1],))
    if flat_batch.shape[1] != u.shape[0]:
        raise ValueError(f"`flat_batch` has {flat_batch.shape[1]} features per row but the ZCA "
                         f"factors were fit on {u.shape[0]}")
    out = device_array("out", out, dtypes=(np.dtype(np.float32), np.dtype(np.float64)),
                       shape=flat_batch.shape)
    same_or_disjoint("out", out, "flat_batch", flat_batch)
    m, d = flat_batch.shape
    if m == 0 or d == 0:
        return
    work = np.result_type(flat_batch.dtype, u.dtype)
    x = _as_dtype(flat_batch, work)
    u = _as_dtype(u, work)
    coeffs = cuda.device_array((m, u.shape[1]), dtype=work)
    gemm.matmul(x, u, coeffs)
    if coeffs.size:
        _scale_columns_kernel[grid(coeffs.size)](coeffs, scale)
    if out.dtype == work:
        gemm.matmul(coeffs, u, out, trans_b=True)
    else:
        white = x if x is not flat_batch else cuda.device_array((m, d), dtype=work)
        gemm.matmul(coeffs, u, white, trans_b=True)
        _cast(white, out)
