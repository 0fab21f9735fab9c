"""Counter-based random keep-masks (dropout, spatial dropout, ``noise_shape``) and the Masking
layer's row mask.

The generator
-------------
Every random decision is a pure function of ``(seed, counter, m)``, where ``seed`` is the layer's
seed, ``counter`` counts the layer's mask-generating calls and ``m`` is the C-order flat index of
the element in the mask (the mask has the dropout ``noise_shape``; without one it has the input's
shape). Nothing depends on threads, block sizes or call order, so a seed gives the same bits on
1 or many threads and on a GPU. All arithmetic is on unsigned 64-bit integers modulo ``2**64``::

    G        = 0x9E3779B97F4A7C15                          (the golden-ratio increment)
    mix64(z) : z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9    (the SplitMix64 finaliser)
               z = (z ^ (z >> 27)) * 0x94D049BB133111EB
               return z ^ (z >> 31)
    key      = mix64(mix64(seed) + (counter + 1) * G)      (one stream per seed and call)
    bits     = mix64(key + (m + 1) * G)                    (element m of the stream: SplitMix64)
    u        = (bits >> 32) / 2**32                        (uniform on [0, 1), 32-bit grid)
    kept     = u >= rate, computed exactly as (bits >> 32) >= ceil(rate * 2**32)

``seed`` is reduced modulo ``2**64`` (negative seeds wrap). A kept element becomes
``x / (1 - rate)`` (division in the array's dtype, as Keras's torch backend computes it), a
dropped one exactly 0. Generation and application are one parallel pass. The backward pass calls
the same kernel on the output gradient with the same key, so it regenerates the mask instead of
storing it.

Broadcast masks (``noise_shape`` entries of 1, SpatialDropout) are described by a *layout*: the
input's axes with size-1 axes removed and neighbouring axes of the same kind (mask varies along
it, or mask is shared along it) merged into groups, each with its size and its stride into the
mask (0 for shared groups). :func:`broadcast_layout` computes it; :func:`dropout_broadcast` walks
it one row (one run of the innermost group) at a time, hashing each mask entry once per run of
rows that share it; :func:`dropout_dense` handles the unbroadcast case.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from numba import njit, prange

_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_MUL1 = 0xBF58476D1CE4E5B9
_MUL2 = 0x94D049BB133111EB

_G = np.uint64(_GOLDEN)
_M1 = np.uint64(_MUL1)
_M2 = np.uint64(_MUL2)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S32 = np.uint64(32)
_ONE = np.uint64(1)

# Elements per parallel work item of the broadcast kernel (whole rows): enough to amortise the
# item's setup, few enough to balance the load over the threads.
_ROW_BLOCK = 16384


def _mix64_int(z: int) -> int:
    """SplitMix64 finaliser on a Python int (the same function as :func:`_mix64`)."""
    z = ((z ^ (z >> 30)) * _MUL1) & _MASK64
    z = ((z ^ (z >> 27)) * _MUL2) & _MASK64
    return z ^ (z >> 31)


def stream_key(seed: int, counter: int) -> np.uint64:
    """The 64-bit key of the mask stream for ``seed`` and call ``counter`` (see module doc)."""
    base = _mix64_int(int(seed) & _MASK64)
    return np.uint64(_mix64_int((base + (int(counter) + 1) * _GOLDEN) & _MASK64))


def keep_threshold(rate: float) -> np.uint64:
    """``ceil(rate * 2**32)``: an element is kept when the top 32 bits of its hash reach it.

    ``rate * 2**32`` is exact in float64, so ``u >= rate`` and the integer test agree exactly;
    ``rate == 1`` gives ``2**32``, which no 32-bit value reaches (everything dropped).
    """
    return np.uint64(math.ceil(float(rate) * 4294967296.0))


def broadcast_layout(shape: Sequence[int], noise_shape: Sequence[int]) -> tuple:
    """Collapse an input ``shape`` and a broadcastable mask ``noise_shape`` into groups.

    Parameters
    ----------
    shape : sequence of int
        The input's shape.
    noise_shape : sequence of int
        The mask's shape, right-aligned with ``shape`` (missing leading axes count as 1); each
        entry is 1 or the input's size on that axis.

    Returns
    -------
    dims, strides : ndarray of int64
        Group sizes in C order (their product is the input's size) and each group's stride into
        the flat mask (0 where the mask is shared along the group).
    mask_size : int
        The number of mask elements.
    """
    noise = (1,) * (len(shape) - len(noise_shape)) + tuple(noise_shape)
    groups: list[list] = []  # [size, shared]
    for n, s in zip(noise, shape):
        if s == 1:
            continue
        shared = n == 1
        if groups and groups[-1][1] == shared:
            groups[-1][0] *= s
        else:
            groups.append([s, shared])
    if not groups:
        groups = [[1, False]]
    dims = np.array([g[0] for g in groups], dtype=np.int64)
    strides = np.zeros(len(groups), dtype=np.int64)
    step = 1
    for j in range(len(groups) - 1, -1, -1):
        if not groups[j][1]:
            strides[j] = step
            step *= groups[j][0]
    return dims, strides, step


@njit(inline="always")
def _mix64(z):
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(inline="always")
def _kept(key, m, threshold):
    return (_mix64(key + (np.uint64(m) + _ONE) * _G) >> _S32) >= threshold


@njit(parallel=True, cache=True)
def dropout_dense(src, out, key, threshold, keep_prob):
    """Dropout with one mask entry per element: ``out[i] = src[i] / keep_prob`` where element
    ``i`` is kept, exactly 0 where it is dropped.

    Parameters
    ----------
    src, out : ndarray
        1-D, C-contiguous, one float dtype (the input or, backwards, the output gradient; and
        the preallocated result).
    key, threshold : uint64
        From :func:`stream_key` and :func:`keep_threshold`.
    keep_prob : float
        ``1 - rate`` in ``src``'s dtype.
    """
    for i in prange(src.size):
        if _kept(key, i, threshold):
            out[i] = src[i] / keep_prob
        else:
            out[i] = 0.0


@njit(parallel=True, cache=True)
def dropout_broadcast(src, out, dims, strides, key, threshold, keep_prob):
    """Dropout with a broadcast mask, laid out by :func:`broadcast_layout`.

    Parameters
    ----------
    src, out : ndarray
        2-D ``(rows, dims[-1])`` C-contiguous views of the input (or output gradient) and the
        preallocated result, one float dtype; a row is one run of the innermost group.
    dims, strides : ndarray of int64
        The layout from :func:`broadcast_layout` (``dims`` multiply to ``src.size``).
    key, threshold : uint64
        From :func:`stream_key` and :func:`keep_threshold`.
    keep_prob : float
        ``1 - rate`` in ``src``'s dtype.
    """
    rows, inner = src.shape
    k = dims.size
    step = strides[k - 1]
    per_block = max(1, _ROW_BLOCK // max(inner, 1))
    for b in prange((rows + per_block - 1) // per_block):
        first = b * per_block
        last = min(first + per_block, rows)
        # Odometer over the outer groups: idx is the multi-index of the current row and base
        # the mask index where the row starts (divisions once per block, additions per row).
        idx = np.empty(k, np.int64)
        keep = np.empty(inner, np.bool_)  # the row's keep pattern, reused while base repeats
        cached = -1
        rem = first + 0
        base = 0
        for j in range(k - 2, -1, -1):
            idx[j] = rem % dims[j]
            rem //= dims[j]
            base += idx[j] * strides[j]
        block_src = src[first:last]
        block_out = out[first:last]
        for r in range(last - first):
            if step == 0:  # the mask is shared along the row
                if _kept(key, base, threshold):
                    for c in range(inner):
                        block_out[r, c] = block_src[r, c] / keep_prob
                else:
                    for c in range(inner):
                        block_out[r, c] = 0.0
            else:
                if base != cached:
                    for c in range(inner):
                        keep[c] = _kept(key, base + c, threshold)
                    cached = base
                for c in range(inner):
                    if keep[c]:
                        block_out[r, c] = block_src[r, c] / keep_prob
                    else:
                        block_out[r, c] = 0.0
            j = k - 2
            while j >= 0:
                idx[j] += 1
                base += strides[j]
                if idx[j] < dims[j]:
                    break
                base -= dims[j] * strides[j]
                idx[j] = 0
                j -= 1


@njit(parallel=True, cache=True)
def masking_forward(x, mask_value, out, mask):
    """Keras's Masking: ``mask[r] = any(x[r] != mask_value)``; ``out[r] = x[r]`` if so, else 0.

    Parameters
    ----------
    x, out : ndarray
        2-D ``(rows, features)``, C-contiguous, one float dtype.
    mask_value : float
        In ``x``'s dtype (NaN masks nothing: NaN equals nothing).
    mask : ndarray of bool
        1-D ``(rows,)``, written.
    """
    rows, features = x.shape
    for r in prange(rows):
        valid = False
        for j in range(features):
            if x[r, j] != mask_value:
                valid = True
                break
        mask[r] = valid
        if valid:
            for j in range(features):
                out[r, j] = x[r, j]
        else:
            for j in range(features):
                out[r, j] = 0.0


@njit(parallel=True, cache=True)
def masked_rows(src, mask, out):
    """``out[r] = src[r]`` where ``mask[r]``, else exactly 0 (the Masking layer's gradient).

    ``src`` and ``out`` are 2-D ``(rows, features)`` and C-contiguous; ``mask`` is ``(rows,)``.
    """
    rows, features = src.shape
    for r in prange(rows):
        if mask[r]:
            for j in range(features):
                out[r, j] = src[r, j]
        else:
            for j in range(features):
                out[r, j] = 0.0
