"""Geometric helpers of one image: ``apply_affine_transform``, the ``random_*`` helpers, ``flip_axis``.

They behave as Keras 3's module-level functions (spec ``image.md`` §3.1, §9) — axis arguments
forwarded and validated, channels-first defaults — except the geometry, which is
keras_preprocessing's by default (``affine_convention``, see :mod:`.transforms`). The ``random_*``
helpers draw from numpy's global legacy RNG, as Keras's do.

Beware the Keras defaults: ``row_axis=1, col_axis=2, channel_axis=0`` treat the image as
channels-first, so ``random_rotation(img_hwc, 30)`` rotates the W x C planes of an (H, W, C)
image. Pass ``row_axis=0, col_axis=1, channel_axis=2`` for channels-last images.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastkeras.kernels.resample import resample
from fastkeras.preprocessing.transforms import (
    affine_matrix,
    check_convention,
    transform_matrix_offset_center,
)

__all__ = [
    "apply_affine_transform",
    "transform_matrix_offset_center",
    "random_rotation",
    "random_shift",
    "random_shear",
    "random_zoom",
    "flip_axis",
]


def flip_axis(x: np.ndarray, axis: int) -> np.ndarray:
    """Return ``x`` reversed along ``axis`` (a view)."""
    x = np.asarray(x).swapaxes(axis, 0)
    x = x[::-1, ...]
    return x.swapaxes(0, axis)


def check_axes(x: np.ndarray, row_axis: int, col_axis: int, channel_axis: int) -> None:
    """Keras 3's checks on one image and its axis arguments (spec §3.1)."""
    if np.unique([row_axis, col_axis, channel_axis]).size != 3:
        raise ValueError("'row_axis', 'col_axis', and 'channel_axis' must be distinct")
    valid_indices = {0, 1, 2}
    actual_indices = {row_axis, col_axis, channel_axis}
    if actual_indices != valid_indices:
        raise ValueError(f"Invalid axis' indices: {actual_indices - valid_indices}")
    if x.ndim != 3:
        raise ValueError("Input arrays must be multi-channel 2D images.")
    if channel_axis not in (0, 2):
        raise ValueError("Channels are allowed and the first and last dimensions.")


def apply_affine_transform(
    x: np.ndarray,
    theta: float = 0,
    tx: float = 0,
    ty: float = 0,
    shear: float = 0,
    zx: float = 1,
    zy: float = 1,
    row_axis: int = 1,
    col_axis: int = 2,
    channel_axis: int = 0,
    fill_mode: str = "nearest",
    cval: float = 0.0,
    order: int = 1,
    *,
    affine_convention: str = "keras_preprocessing",
) -> np.ndarray:
    """Rotate, shift, shear and zoom one image (spec §3.2), resampling each channel plane.

    Parameters
    ----------
    x : ndarray
        One 3-D image; never modified.
    theta : float
        Rotation angle in degrees.
    tx, ty : float
        Shifts in pixels (``tx`` along rows and ``ty`` along columns in the default geometry;
        swapped in ``'keras3'``).
    shear : float
        Shear angle in degrees.
    zx, zy : float
        Zoom factors (values above 1 shrink the content).
    row_axis, col_axis, channel_axis : int
        Axes of ``x``; a permutation of 0, 1, 2 with the channels first or last. The defaults
        are channels-first.
    fill_mode : str
        ``'constant'``, ``'nearest'``, ``'reflect'``, ``'wrap'`` or another scipy.ndimage mode.
    cval : float
        Fill value for ``'constant'``.
    order : int
        Spline order 0-5 (0 and 1 run the native kernel, 2-5 scipy).
    affine_convention : {'keras_preprocessing', 'keras3', 'exact'}
        Geometry of the matrix (see :mod:`fastkeras.preprocessing.transforms`).

    Returns
    -------
    ndarray
        ``x`` itself when every parameter is the identity, else a new array of ``x``'s shape and
        dtype.

    Raises
    ------
    ValueError
        Axis arguments that are not a permutation of 0, 1, 2 with channels first or last, an
        image that is not 3-D, or an unknown ``affine_convention``.
    RuntimeError
        ``"boundary mode not supported"`` / ``"spline order not supported"`` (as scipy), only
        when there is something to resample.
    """
    x = np.asarray(x)
    check_axes(x, row_axis, col_axis, channel_axis)
    check_convention(affine_convention)
    matrix = affine_matrix(
        theta, tx, ty, shear, zx, zy, shape=x.shape, row_axis=row_axis, col_axis=col_axis,
        affine_convention=affine_convention,
    )
    if matrix is None:
        return x
    return resample(x, matrix, fill_mode, cval, order, channels_first=channel_axis == 0)


def random_rotation(
    x: np.ndarray, rg: float, row_axis: int = 1, col_axis: int = 2, channel_axis: int = 0,
    fill_mode: str = "nearest", cval: float = 0.0, interpolation_order: int = 1,
) -> np.ndarray:
    """Rotate by ``uniform(-rg, rg)`` degrees drawn from numpy's global RNG.

    See :func:`apply_affine_transform` for the other arguments (channels-first defaults).
    """
    theta = np.random.uniform(-rg, rg)
    return apply_affine_transform(
        x, theta=theta, row_axis=row_axis, col_axis=col_axis, channel_axis=channel_axis,
        fill_mode=fill_mode, cval=cval, order=interpolation_order,
    )


def random_shift(
    x: np.ndarray, wrg: float, hrg: float, row_axis: int = 1, col_axis: int = 2,
    channel_axis: int = 0, fill_mode: str = "nearest", cval: float = 0.0,
    interpolation_order: int = 1,
) -> np.ndarray:
    """Shift by fractions of the size: ``tx = uniform(-hrg, hrg) * H`` then
    ``ty = uniform(-wrg, wrg) * W``, drawn from numpy's global RNG."""
    h, w = x.shape[row_axis], x.shape[col_axis]
    tx = np.random.uniform(-hrg, hrg) * h
    ty = np.random.uniform(-wrg, wrg) * w
    return apply_affine_transform(
        x, tx=tx, ty=ty, row_axis=row_axis, col_axis=col_axis, channel_axis=channel_axis,
        fill_mode=fill_mode, cval=cval, order=interpolation_order,
    )


def random_shear(
    x: np.ndarray, intensity: float, row_axis: int = 1, col_axis: int = 2,
    channel_axis: int = 0, fill_mode: str = "nearest", cval: float = 0.0,
    interpolation_order: int = 1,
) -> np.ndarray:
    """Shear by ``uniform(-intensity, intensity)`` degrees drawn from numpy's global RNG."""
    shear = np.random.uniform(-intensity, intensity)
    return apply_affine_transform(
        x, shear=shear, row_axis=row_axis, col_axis=col_axis, channel_axis=channel_axis,
        fill_mode=fill_mode, cval=cval, order=interpolation_order,
    )


def random_zoom(
    x: np.ndarray, zoom_range: Any, row_axis: int = 1, col_axis: int = 2,
    channel_axis: int = 0, fill_mode: str = "nearest", cval: float = 0.0,
    interpolation_order: int = 1,
) -> np.ndarray:
    """Zoom by ``zx, zy = uniform(lo, hi, 2)`` from numpy's global RNG (no draw for ``[1, 1]``).

    Raises
    ------
    ValueError
        If ``zoom_range`` does not hold two values.
    """
    if len(zoom_range) != 2:
        raise ValueError(
            f"`zoom_range` should be a tuple or list of two floats. Received: {zoom_range}"
        )
    if zoom_range[0] == 1 and zoom_range[1] == 1:
        zx, zy = 1, 1
    else:
        zx, zy = np.random.uniform(zoom_range[0], zoom_range[1], 2)
    return apply_affine_transform(
        x, zx=zx, zy=zy, row_axis=row_axis, col_axis=col_axis, channel_axis=channel_axis,
        fill_mode=fill_mode, cval=cval, order=interpolation_order,
    )
