"""Featurewise statistics and ZCA whitening that scale to large images.

Keras 3 whitens with ``W = u diag(sqrt(n) / (s + epsilon)) u.T`` where ``u, s`` is the thin SVD of
the centred training data ``flat.T`` (``n`` images of ``D`` features). ``W`` is ``D x D`` (181 GB in
float64 at 224x224x3) but has rank ``k = min(n, D)``, so this module keeps only the thin factor
``U`` (``D x k``) and ``scale`` (``k``) and applies ``W`` as two thin matrix products.

Precision: the factors are computed and returned in the data's dtype, as Keras computes its SVD
in the dtype of its data: float32 data (the generator's default ``dtype``) gets single-precision
BLAS and LAPACK, twice as fast; float64 data (``ImageDataGenerator(dtype='float64')``) gets the
accurate double-precision factorisation. Featurewise moments accumulate in float64 and are
returned as float32, like Keras's ``mean`` and ``std`` attributes.
"""

from __future__ import annotations

import math
import numbers
import os

import numpy as np
import scipy.linalg
from numba import njit, prange

_MOMENT_CHUNK_BYTES = 1 << 18  # a chunk is read twice (mean, then squared deviations): keep it in L2
_BLOCK_BYTES = 1 << 26  # working block of the blocked products in zca_apply and zca_matrix
_MOMENT_DTYPES = (np.dtype(np.uint8), np.dtype(np.float32), np.dtype(np.float64))
_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


@njit(parallel=True, cache=True)
def _chunk_moments(x3, rows_per_chunk, cols_per_chunk, counts, means, m2s):
    """Per-chunk count, per-channel mean and sum of squared deviations of ``x3`` (A, C, B).

    Chunk ``j`` covers rows ``a`` of one row block and columns ``b`` of one column block, all
    channels. It is read twice while it is still in cache: once for its mean, once for the squared
    deviations from that mean, so there is no cancellation even for data with a large mean.
    """
    n_rows, n_channels, n_cols = x3.shape
    n_col_chunks = (n_cols + cols_per_chunk - 1) // cols_per_chunk
    for j in prange(counts.shape[0]):
        a0 = (j // n_col_chunks) * rows_per_chunk
        a1 = min(a0 + rows_per_chunk, n_rows)
        b0 = (j % n_col_chunks) * cols_per_chunk
        b1 = min(b0 + cols_per_chunk, n_cols)
        count = (a1 - a0) * (b1 - b0)
        counts[j] = count
        for c in range(n_channels):
            means[j, c] = 0.0
            m2s[j, c] = 0.0
        for a in range(a0, a1):
            for c in range(n_channels):
                acc = 0.0
                for b in range(b0, b1):
                    acc += x3[a, c, b]
                means[j, c] += acc
        for c in range(n_channels):
            means[j, c] /= count
        for a in range(a0, a1):
            for c in range(n_channels):
                mu = means[j, c]
                acc = 0.0
                for b in range(b0, b1):
                    d = x3[a, c, b] - mu
                    acc += d * d
                m2s[j, c] += acc


def featurewise_moments(x: np.ndarray, channels_first: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and population standard deviation of a batch of images.

    One parallel pass over memory with float64 accumulators; chunk results are merged with Chan's
    formula, so the result equals numpy's two-pass ``x.mean(axis)`` / ``x.std(axis)`` (computed in
    float64) to float32 precision, also when the mean is large compared with the spread.

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C) or (N, C, H, W)
        uint8, float32 or float64 images; never modified.
    channels_first : bool
        True when ``x`` is (N, C, H, W).

    Returns
    -------
    mean, std : ndarray, shape (C,), float32
        Mean and standard deviation (ddof 0) of each channel over all images and pixels.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"`x` must be a numpy array; got {type(x).__name__}.")
    if not isinstance(channels_first, (bool, np.bool_)):
        raise TypeError(f"`channels_first` must be a bool; got {channels_first!r}.")
    if x.ndim != 4:
        layout = "(N, C, H, W)" if channels_first else "(N, H, W, C)"
        raise ValueError(f"`x` must be a 4-D batch of images {layout}; got shape {x.shape}.")
    if x.dtype not in _MOMENT_DTYPES:
        raise TypeError(f"`x` must have dtype uint8, float32 or float64; got {x.dtype}.")
    if x.size == 0:
        raise ValueError(f"`x` must contain at least one pixel value; got shape {x.shape}.")

    if channels_first:
        n, c, h, w = x.shape
        x3 = np.ascontiguousarray(x).reshape(n, c, h * w)
    else:
        n, h, w, c = x.shape
        x3 = np.ascontiguousarray(x).reshape(n * h * w, c, 1)
    n_rows, n_channels, n_cols = x3.shape
    row_bytes = n_channels * n_cols * x3.itemsize
    if row_bytes >= _MOMENT_CHUNK_BYTES:
        rows_per_chunk = 1
        cols_per_chunk = max(1, _MOMENT_CHUNK_BYTES // (n_channels * x3.itemsize))
    else:
        rows_per_chunk = _MOMENT_CHUNK_BYTES // row_bytes
        cols_per_chunk = n_cols
    n_chunks = -(-n_rows // rows_per_chunk) * -(-n_cols // cols_per_chunk)
    counts = np.empty(n_chunks, dtype=np.float64)
    means = np.empty((n_chunks, n_channels), dtype=np.float64)
    m2s = np.empty((n_chunks, n_channels), dtype=np.float64)
    _chunk_moments(x3, rows_per_chunk, cols_per_chunk, counts, means, m2s)

    # Chan et al.: M2 = sum_j M2_j + sum_j n_j (mean_j - mean)^2.
    total = counts.sum()
    mean = counts @ means / total
    m2 = m2s.sum(axis=0) + counts @ (means - mean) ** 2
    std = np.sqrt(m2 / total)
    return mean.astype(np.float32), std.astype(np.float32)


def _available_memory_bytes() -> int | None:
    """Bytes of memory the system can still hand out, or None where no probe is available."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _format_bytes(nbytes: int) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if nbytes >= size:
            return f"{nbytes / size:.1f} {unit}"
    return f"{nbytes} bytes"


def _require_memory(nbytes: int, what: str, advice: str) -> None:
    """Raise MemoryError naming ``what`` when ``nbytes`` exceed the memory available."""
    available = _available_memory_bytes()
    if available is not None and nbytes > available:
        raise MemoryError(
            f"{what} needs {_format_bytes(nbytes)}, but only {_format_bytes(available)} of memory "
            f"is available. {advice}"
        )


def _check_flat(flat: np.ndarray, name: str) -> None:
    if not isinstance(flat, np.ndarray):
        raise TypeError(f"`{name}` must be a numpy array; got {type(flat).__name__}.")
    if flat.ndim != 2:
        raise ValueError(f"`{name}` must be 2-D (samples, features); got shape {flat.shape}.")


def _row_block(n_cols: int, itemsize: int = 8) -> int:
    """Rows of an (rows, n_cols) block of ``itemsize``-byte floats that fit in the working block."""
    return max(1, _BLOCK_BYTES // (itemsize * n_cols))


def zca_fit(flat: np.ndarray, epsilon: float) -> tuple[np.ndarray, np.ndarray]:
    """Thin factors of Keras 3's ZCA whitening matrix.

    Keras 3 computes ``u, s, _ = np.linalg.svd(flat.T, full_matrices=False)`` and
    ``W = (u * (sqrt(n) / (s + epsilon))) @ u.T``. This returns ``U = u`` and the scale so that
    ``W = (U * scale) @ U.T``, without forming any ``D x D`` matrix unless ``n >= D``:

    - ``n >= D``: eigendecomposition of ``flat.T @ flat`` (``D x D``, no bigger than the data);
    - ``n < D``: eigendecomposition of the Gram matrix ``flat @ flat.T`` (``n x n``), then
      ``U = flat.T @ V / s``.

    Everything runs in ``flat``'s dtype (see the module's note on precision). Eigenvalues at
    rounding level (at most the largest times the problem size times the dtype's epsilon, numpy's
    ``matrix_rank`` tolerance) are zero singular values: their components keep the scale
    ``sqrt(n) / epsilon`` of Keras 3's formula, with unit vectors orthogonal to the data (any such
    vectors: Keras's own choice there is LAPACK's).

    Parameters
    ----------
    flat : ndarray, shape (n, D)
        Centred training data, float32 or float64; never modified.
    epsilon : float
        ``zca_epsilon``, added to the singular values; finite and >= 0 (0 only for full-rank data).

    Returns
    -------
    U : ndarray, shape (D, k), dtype of ``flat``
        Orthonormal columns, ordered by decreasing singular value; ``k = min(n, D)``.
    scale : ndarray, shape (k,), dtype of ``flat``
        ``sqrt(n) / (s + epsilon)``.
    """
    _check_flat(flat, "flat")
    if flat.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"`flat` must have dtype float32 or float64; got {flat.dtype}.")
    if flat.size == 0:
        raise ValueError(f"`flat` must hold at least one sample and one feature; got {flat.shape}.")
    if (
        isinstance(epsilon, (bool, np.bool_))
        or not isinstance(epsilon, numbers.Real)
        or not math.isfinite(epsilon)
        or epsilon < 0
    ):
        raise ValueError(f"`epsilon` (zca_epsilon) must be a finite number >= 0; got {epsilon!r}.")
    if not np.isfinite(flat).all():
        raise ValueError("`flat` contains NaN or infinity; ZCA needs finite training data.")

    n, d = flat.shape
    k = min(n, d)
    dtype = flat.dtype
    advice = "Use fewer or smaller training images."
    if n >= d:
        # The covariance, then LAPACK's eigenvectors (in its place) and workspace (2 D x D).
        _require_memory(3 * d * d * dtype.itemsize,
                        f"ZCA fit with D={d} features (D x D covariance)", advice)
        gram = flat.T @ flat
    else:
        _require_memory(d * k * dtype.itemsize,
                        f"ZCA factors for D={d} features and n={n} images", advice)
        gram = flat @ flat.T

    # gram is symmetric, so its transpose is the same matrix in the Fortran order LAPACK wants.
    eigvals, eigvecs = scipy.linalg.eigh(gram.T, driver="evd", overwrite_a=True, check_finite=False)
    del gram
    eigvals = eigvals[::-1]
    eigvecs = eigvecs[:, ::-1]
    tol = max(eigvals[0], 0.0) * eigvals.shape[0] * np.finfo(dtype).eps
    rank = int(np.count_nonzero(eigvals > tol))
    s = np.zeros(k, dtype=dtype)
    s[:rank] = np.sqrt(eigvals[:rank])
    if rank < k and epsilon == 0:
        raise ValueError(
            f"The training data has rank {rank} < {k}, so {k - rank} singular values are zero and "
            "`epsilon` (zca_epsilon) = 0 would divide by zero; use zca_epsilon > 0."
        )

    if n >= d:
        u = np.ascontiguousarray(eigvecs)
    else:
        u = np.empty((d, k), dtype=dtype)
        u[:, :rank] = flat.T @ (eigvecs[:, :rank] / s[:rank])
        if rank < k:
            u[:, rank:] = _orthonormal_complement(u[:, :rank], k - rank)
    scale = (np.sqrt(n) / (s.astype(np.float64) + epsilon)).astype(dtype)
    return u, scale


def _orthonormal_complement(basis: np.ndarray, count: int) -> np.ndarray:
    """``count`` orthonormal columns orthogonal to the orthonormal columns of ``basis``.

    Deterministic: fixed-seed Gaussian vectors, projected off ``basis`` twice (classical
    Gram-Schmidt needs the second pass to reach working precision), then QR.
    """
    z = np.random.default_rng(0).standard_normal((basis.shape[0], count))
    for _ in range(2):
        z -= basis @ (basis.T @ z)
    q, _ = np.linalg.qr(z)
    return q


def _check_factors(u: np.ndarray, scale: np.ndarray) -> None:
    if not isinstance(u, np.ndarray) or u.ndim != 2 or u.dtype.kind != "f":
        raise ValueError("`U` must be a 2-D float array (D, k) from zca_fit.")
    if not isinstance(scale, np.ndarray) or scale.shape != (u.shape[1],) or scale.dtype.kind != "f":
        shape = getattr(scale, "shape", type(scale).__name__)
        raise ValueError(
            f"`scale` must be a float array of shape ({u.shape[1]},) to match `U`; got {shape}."
        )


def zca_apply(flat_batch: np.ndarray, u: np.ndarray, scale: np.ndarray, out: np.ndarray) -> None:
    """Whiten a batch: ``out[...] = ((flat_batch @ U) * scale) @ U.T``.

    Equal to ``flat_batch @ W`` with Keras 3's matrix ``W = (U * scale) @ U.T``, at ``2 D k``
    instead of ``D**2`` multiply-adds per image. The products run in the factors' precision (or
    the batch's, where that is wider) over row blocks of the batch, and are rounded once into
    ``out``'s dtype.

    Parameters
    ----------
    flat_batch : ndarray, shape (m, D)
        Images flattened to rows, any real dtype; never modified unless it is ``out``.
    u, scale : ndarray
        Factors from :func:`zca_fit`.
    out : ndarray, shape (m, D)
        Float array written in place; either ``flat_batch`` itself or not overlapping it.
    """
    _check_flat(flat_batch, "flat_batch")
    _check_factors(u, scale)
    if flat_batch.dtype.kind not in "fiu":
        raise TypeError(f"`flat_batch` must be a real-valued array; got dtype {flat_batch.dtype}.")
    if flat_batch.shape[1] != u.shape[0]:
        raise ValueError(
            f"`flat_batch` has {flat_batch.shape[1]} features per row but the ZCA factors were fit "
            f"on {u.shape[0]}."
        )
    if not isinstance(out, np.ndarray) or out.shape != flat_batch.shape or out.dtype.kind != "f":
        shape = getattr(out, "shape", type(out).__name__)
        raise ValueError(f"`out` must be a float array of shape {flat_batch.shape}; got {shape}.")
    if not out.flags.writeable:
        raise ValueError("`out` must be writeable.")
    same = out.ctypes.data == flat_batch.ctypes.data and out.strides == flat_batch.strides
    if not same and np.may_share_memory(out, flat_batch):
        raise ValueError("`out` must be `flat_batch` itself or not overlap it.")

    direct = out.dtype == np.result_type(flat_batch.dtype, u.dtype) and out.flags.c_contiguous
    step = _row_block(u.shape[0], u.itemsize)
    for i in range(0, flat_batch.shape[0], step):
        coeffs = flat_batch[i : i + step] @ u
        coeffs *= scale
        if direct:
            np.dot(coeffs, u.T, out=out[i : i + step])
        else:
            out[i : i + step] = coeffs @ u.T


def zca_matrix(u: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Materialise Keras 3's ``D x D`` whitening matrix ``(U * scale) @ U.T``.

    Only for users who read it (``zca_whitening_matrix``): whitening itself never needs it.

    Parameters
    ----------
    u, scale : ndarray
        Factors from :func:`zca_fit`.

    Returns
    -------
    ndarray, shape (D, D), float64
        Float64 whatever the factors' dtype, like Keras 3's matrix (whose float32 SVD factors
        are scaled by a float64 ``s_inv``).

    Raises
    ------
    MemoryError
        Before allocating, when the ``D x D`` float64 matrix needs more bytes than are available.
    """
    _check_factors(u, scale)
    d = u.shape[0]
    _require_memory(
        d * d * 8,
        f"The ZCA whitening matrix for D={d} features (D x D float64)",
        "Whitening does not need it: `standardize` and `flow` apply the low-rank factors "
        "(`zca_apply`).",
    )
    w = np.empty((d, d))
    u64 = u.astype(np.float64, copy=False)
    scale64 = scale.astype(np.float64, copy=False)
    step = _row_block(u.shape[1])
    for i in range(0, d, step):
        np.dot(u64[i : i + step] * scale64, u64.T, out=w[i : i + step])
    return w
