"""Pixel gathers for the image loaders: ``out[i, j] = src[rows[i], cols[j]]``.

The one kernel here runs inside the directory iterators' loading threads, one image per call,
so it is compiled ``nogil`` and serial rather than ``parallel``: the threads are the
parallelism, and what they run without the GIL overlaps. It has no CUDA twin, as loading
(file reads and JPEG decoding) happens on the CPU whatever the device.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def _take_pixels(src, rows, cols, out):
    channels = src.shape[2]
    for i in range(rows.shape[0]):
        r = rows[i]
        for j in range(cols.shape[0]):
            c = cols[j]
            for k in range(channels):
                out[i, j, k] = src[r, c, k]


def take_pixels(src: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``src[rows[:, None], cols[None, :]]`` for an ``(H, W, C)`` uint8 image, without the GIL.

    Parameters
    ----------
    src : ndarray
        ``(H, W, C)`` uint8 image.
    rows, cols : ndarray
        1-D int32 source rows and columns, each within ``src``'s height and width.

    Returns
    -------
    ndarray
        A new ``(len(rows), len(cols), C)`` uint8 image.

    Raises
    ------
    TypeError, ValueError
        For an image or indices of the wrong dtype, rank or range.
    """
    if not isinstance(src, np.ndarray) or src.dtype != np.uint8 or src.ndim != 3:
        raise TypeError("`src` must be an (H, W, C) uint8 array")
    for name, idx, size in (("rows", rows, src.shape[0]), ("cols", cols, src.shape[1])):
        if not isinstance(idx, np.ndarray) or idx.dtype != np.int32 or idx.ndim != 1:
            raise TypeError(f"`{name}` must be a 1-D int32 array")
        if idx.size and (idx.min() < 0 or idx.max() >= size):
            raise ValueError(f"`{name}` must lie in [0, {size})")
    out = np.empty((len(rows), len(cols), src.shape[2]), np.uint8)
    _take_pixels(src, rows, cols, out)
    return out
