"""Pixel-value augmentations of one image: channel shift and brightness (spec ``image.md`` §3.3-3.4).

These are the module-level helpers Keras users import, and the single-image path of
``ImageDataGenerator.apply_transform``. Batches go through the fused kernel instead
(``fastkeras.kernels.resample.affine_batch``), which computes the same numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastkeras.backend import config

__all__ = [
    "apply_channel_shift",
    "random_channel_shift",
    "apply_brightness_shift",
    "random_brightness",
]


def apply_channel_shift(x: np.ndarray, intensity: float, channel_axis: int = 0) -> np.ndarray:
    """Add ``intensity`` to every channel, clipped to the image's own minimum and maximum.

    One offset for all channels, as in Keras; the bounds are taken over the whole image.

    Parameters
    ----------
    x : ndarray
        One 3-D image.
    intensity : float
        Offset added to every value.
    channel_axis : int
        Axis of ``x`` holding the channels.

    Returns
    -------
    ndarray
        A new array (``x`` is not modified).
    """
    x = np.rollaxis(np.asarray(x), channel_axis, 0)
    min_x, max_x = np.min(x), np.max(x)
    channel_images = [np.clip(x_channel + intensity, min_x, max_x) for x_channel in x]
    x = np.stack(channel_images, axis=0)
    return np.rollaxis(x, 0, channel_axis + 1)


def random_channel_shift(x: np.ndarray, intensity_range: float, channel_axis: int = 0) -> np.ndarray:
    """Channel shift by ``uniform(-intensity_range, intensity_range)`` from numpy's global RNG."""
    intensity = np.random.uniform(-intensity_range, intensity_range)
    return apply_channel_shift(x, intensity, channel_axis=channel_axis)


def _pil_brightness(q: np.ndarray, brightness: float) -> np.ndarray:
    """Pillow's ``ImageEnhance.Brightness(img).enhance(brightness)`` on uint8 values ``q``.

    Pillow blends with a black image in C ``float`` arithmetic: ``float32(brightness) * q``
    computed in float32, then 0 at or below 0, 255 at or above 255, else truncated. (Rounding the
    float64 product instead differs when it lies just below an integer, e.g. 2.3333333333333335 *
    27.)
    """
    p = np.float32(brightness) * q.astype(np.float32)
    return np.where(p <= 0, 0, np.where(p >= 255, 255, np.trunc(p))).astype(np.uint8)


def brightness_shift(x: Any, brightness: float, scale: bool, channel_axis: int) -> np.ndarray:
    """Keras's brightness shift with the channels on ``channel_axis`` (0 or -1/2).

    Values are truncated to uint8 (after a min-max stretch to 0-255 when ``scale`` is set or the
    image leaves 0-255), brightened as Pillow does (alpha of a 4-channel image untouched) and
    returned in ``floatx()``; with ``scale=False`` a stretched image is mapped back to its
    original range.

    Raises
    ------
    ValueError
        ``Unsupported channel number: N`` unless there are 1, 3 or 4 channels.
    """
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(
            f"Expected image array to have rank 3 (single image). Got array with shape: {x.shape}"
        )
    channels_first = channel_axis == 0
    channels = x.shape[0] if channels_first else x.shape[-1]
    if channels not in (1, 3, 4):
        raise ValueError(f"Unsupported channel number: {channels}")
    floatx = config.floatx()
    x_min, x_max = np.min(x), np.max(x)
    local_scale = (x_min < 0) or (x_max > 255)
    y = np.asarray(x, dtype=floatx)
    if local_scale or scale:
        y = y - np.min(y)
        y_max = np.max(y)
        if y_max != 0:
            y /= y_max
        y *= 255
    q = y.astype(np.uint8)
    out = _pil_brightness(q, brightness)
    if channels == 4:
        if channels_first:
            out[3] = q[3]
        else:
            out[..., 3] = q[..., 3]
    out = out.astype(floatx)
    if not scale and local_scale:
        out = out / 255 * (x_max - x_min) + x_min
    return out


def apply_brightness_shift(x: np.ndarray, brightness: float, scale: bool = True) -> np.ndarray:
    """Brightness shift of one image, channels on the axis ``image_data_format()`` names.

    Parameters
    ----------
    x : ndarray
        One 3-D image with 1, 3 or 4 channels.
    brightness : float
        Factor: 0 gives black, 1 keeps the (uint8-truncated) image.
    scale : bool
        True (default, keras_preprocessing's behaviour): stretch the image to 0-255 first and
        return it in 0-255. False (what the generator uses): keep 0-255 images as they are and
        map stretched ones back to their own range.

    Returns
    -------
    ndarray
        ``floatx()`` array of the same shape.
    """
    channel_axis = 0 if config.image_data_format() == "channels_first" else -1
    return brightness_shift(x, brightness, scale, channel_axis)


def random_brightness(x: np.ndarray, brightness_range: Any, scale: bool = True) -> np.ndarray:
    """Brightness shift by ``uniform(*brightness_range)`` drawn from numpy's global RNG.

    Raises
    ------
    ValueError
        If ``brightness_range`` does not hold two values.
    """
    if len(brightness_range) != 2:
        raise ValueError(
            "`brightness_range should be tuple or list of two floats. "
            f"Received: {brightness_range}"
        )
    u = np.random.uniform(brightness_range[0], brightness_range[1])
    return apply_brightness_shift(x, u, scale)
