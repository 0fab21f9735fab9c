"""CUDA twins of :mod:`fastkeras.kernels.masks`: dropout keep-masks and the Masking layer.

The generator is the CPU module's, element for element (a pure function of key and mask index),
so a seed gives bit-identical masks and outputs on the GPU. Keys, thresholds and layouts come
from :func:`fastkeras.kernels.masks.stream_key`, :func:`~fastkeras.kernels.masks.keep_threshold`
and :func:`~fastkeras.kernels.masks.broadcast_layout`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import cuda

from fastkeras.kernels.cuda.launch import (FLOAT_DTYPES, THREADS, blocks, device_array, grid,
                                           host_array, metadata, row_threads, same_dtype,
                                           wraparound)

_G = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S32 = np.uint64(32)
_ONE = np.uint64(1)


@cuda.jit(device=True, inline=True)
def _mix64(z):
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@cuda.jit(device=True, inline=True)
def _kept(key, m, threshold):
    return (_mix64(key + (np.uint64(m) + _ONE) * _G) >> _S32) >= threshold


@cuda.jit(cache=True)
def _dropout_dense_kernel(src, out, key, threshold, keep_prob):
    for i in range(cuda.grid(1), src.size, cuda.gridsize(1)):
        if _kept(key, i, threshold):
            out[i] = src[i] / keep_prob
        else:
            out[i] = 0


@cuda.jit(cache=True)
def _dropout_broadcast_kernel(src, out, dims, strides, key, threshold, keep_prob):
    rows, inner = src.shape
    k = dims.size
    step = strides[k - 1]  # 1 where the mask varies along a row, 0 where it is shared
    for i in range(cuda.grid(1), rows * inner, cuda.gridsize(1)):
        row = i // inner
        c = i - row * inner
        # The mask index where the row starts: the row's multi-index over the outer groups.
        rem = row
        m = c * step
        for j in range(k - 2, -1, -1):
            d = dims[j]
            m += (rem % d) * strides[j]
            rem //= d
        if _kept(key, m, threshold):
            out[row, c] = src[row, c] / keep_prob
        else:
            out[row, c] = 0


def _layout(dims: Any, strides: Any, shape: tuple) -> tuple:
    """Check a broadcast layout against the 2-D ``shape`` and copy it to the device."""
    dims = host_array("dims", dims, np.int64)
    strides = host_array("strides", strides, np.int64)
    if dims.ndim != 1 or dims.size == 0 or strides.shape != dims.shape:
        raise ValueError("`dims` and `strides` must be 1-D, of one length >= 1 (see "
                         f"masks.broadcast_layout); got shapes {dims.shape} and {strides.shape}")
    if int(np.prod(dims)) != shape[0] * shape[1] or dims[-1] != shape[1]:
        raise ValueError(f"`dims` {dims.tolist()} must multiply to the size of `src` {shape} "
                         "and end with its row length")
    if strides[-1] not in (0, 1):
        raise ValueError(f"the innermost stride must be 0 or 1; got {strides[-1]}")
    return metadata("dims", dims, np.int64), metadata("strides", strides, np.int64)


def dropout_dense(src: Any, out: Any, key: np.uint64, threshold: np.uint64,
                  keep_prob: Any) -> None:
    """Dropout with one mask entry per element (see
    :func:`fastkeras.kernels.masks.dropout_dense`): ``src`` and ``out`` are 1-D device arrays."""
    src = device_array("src", src, dtypes=FLOAT_DTYPES, ndim=1)
    out = device_array("out", out, dtypes=FLOAT_DTYPES, shape=src.shape)
    dtype = same_dtype("`src` and `out`", src, out)
    with wraparound():
        _dropout_dense_kernel[grid(src.size)](src, out, np.uint64(key),
                                                         np.uint64(threshold),
                                                         dtype.type(keep_prob))


def dropout_broadcast(src: Any, out: Any, dims: Any, strides: Any, key: np.uint64,
                      threshold: np.uint64, keep_prob: Any) -> None:
    """Dropout with a broadcast mask (see :func:`fastkeras.kernels.masks.dropout_broadcast`).

    ``src`` and ``out`` are 2-D ``(rows, dims[-1])`` device arrays; ``dims`` and ``strides``
    (from :func:`fastkeras.kernels.masks.broadcast_layout`) may be numpy or device arrays. One
    thread per element: its mask index follows from its position alone.
    """
    src = device_array("src", src, dtypes=FLOAT_DTYPES, ndim=2)
    out = device_array("out", out, dtypes=FLOAT_DTYPES, shape=src.shape)
    dtype = same_dtype("`src` and `out`", src, out)
    dims, strides = _layout(dims, strides, src.shape)
    with wraparound():
        _dropout_broadcast_kernel[grid(src.size)](
            src, out, dims, strides, np.uint64(key), np.uint64(threshold), dtype.type(keep_prob))


@cuda.jit(cache=True)
def _masking_kernel(x, mask_value, out, mask):
    # One block per row (grid-stride over rows); the block decides the row together.
    rows, features = x.shape
    t = cuda.threadIdx.x
    for r in range(cuda.blockIdx.x, rows, cuda.gridDim.x):
        differs = 0
        for j in range(t, features, cuda.blockDim.x):
            if x[r, j] != mask_value:
                differs = 1
        valid = cuda.syncthreads_or(differs)
        if t == 0:
            mask[r] = valid != 0
        for j in range(t, features, cuda.blockDim.x):
            out[r, j] = x[r, j] if valid else 0


def masking_forward(x: Any, mask_value: Any, out: Any, mask: Any) -> None:
    """Keras's Masking: ``mask[r] = any(x[r] != mask_value)``; ``out[r] = x[r]`` if so, else 0.

    Same arguments as :func:`fastkeras.kernels.masks.masking_forward`, on device arrays.
    """
    x = device_array("x", x, dtypes=FLOAT_DTYPES, ndim=2)
    out = device_array("out", out, dtypes=FLOAT_DTYPES, shape=x.shape)
    dtype = same_dtype("`x` and `out`", x, out)
    mask = device_array("mask", mask, dtypes=(np.dtype(np.bool_),), shape=(x.shape[0],))
    if x.shape[0] == 0:
        return
    _masking_kernel[blocks(x.shape[0], 1), row_threads(x.shape[1], THREADS)](
        x, dtype.type(mask_value), out, mask)


@cuda.jit(cache=True)
def _masked_rows_kernel(src, mask, out):
    rows, features = src.shape
    for i in range(cuda.grid(1), rows * features, cuda.gridsize(1)):
        r = i // features
        j = i - r * features
        out[r, j] = src[r, j] if mask[r] else 0


def masked_rows(src: Any, mask: Any, out: Any) -> None:
    """``out[r] = src[r]`` where ``mask[r]``, else exactly 0 (the Masking layer's gradient).

    Same arguments as :func:`fastkeras.kernels.masks.masked_rows`, on device arrays.
    """
    src = device_array("src", src, dtypes=FLOAT_DTYPES, ndim=2)
    out = device_array("out", out, dtypes=FLOAT_DTYPES, shape=src.shape)
    same_dtype("`src` and `out`", src, out)
    mask = device_array("mask", mask, dtypes=(np.dtype(np.bool_),), shape=(src.shape[0],))
    _masked_rows_kernel[grid(src.size)](src, mask, out)
