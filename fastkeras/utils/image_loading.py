"""Image loading for the directory iterators: Keras's pixels, with little time under the GIL.

``flow_from_directory`` loads a batch on a few threads, and only what runs without the GIL
overlaps. Keras loads with Pillow, whose JPEG plugin parses markers in Python and whose nearest
resize holds the GIL; two steps here give the same pixels without either:

- :func:`decode_rgb`: colour JPEGs through simplejpeg. Pillow and simplejpeg both decode with
  libjpeg-turbo's defaults (accurate integer IDCT, smooth chroma upsampling), so a YCbCr JPEG
  gives the same RGB pixels; anything else (grey, CMYK or Adobe-RGB JPEGs, files with
  recoverable errors, images over Pillow's decompression-bomb limit) is left to Pillow.
- :func:`resize_nearest`: Pillow's nearest resize as a gather outside the GIL
  (:func:`fastkeras.kernels.gather.take_pixels`), with the source row and column of each output
  pixel taken from Pillow itself (a resize of an image of indices).
"""

from __future__ import annotations

import functools

import numpy as np
import simplejpeg
from PIL import Image

from fastkeras.kernels.gather import take_pixels

_JPEG_MAGIC = b"\xff\xd8\xff"


def decode_rgb(data: bytes) -> np.ndarray | None:
    """The ``(H, W, 3)`` uint8 RGB pixels of a YCbCr colour JPEG, as Pillow decodes them.

    Parameters
    ----------
    data : bytes
        The whole file.

    Returns
    -------
    ndarray or None
        None where the data are not a clean YCbCr JPEG, or have more pixels than
        ``PIL.Image.MAX_IMAGE_PIXELS``: the caller decodes those with Pillow, which also
        raises the errors (and warnings) such files deserve.
    """
    if not data.startswith(_JPEG_MAGIC):
        return None
    try:
        height, width, colorspace, _ = simplejpeg.decode_jpeg_header(data)
        limit = Image.MAX_IMAGE_PIXELS
        if colorspace != "YCbCr" or (limit is not None and height * width > limit):
            return None
        return simplejpeg.decode_jpeg(data, colorspace="RGB", fastdct=False, fastupsample=False,
                                      strict=True)
    except ValueError:
        return None


@functools.lru_cache(maxsize=256)
def _source_indices(size: int, target: int, start: float, stop: float) -> np.ndarray:
    """The source index Pillow's nearest resize reads for each of ``target`` outputs along an
    axis of ``size`` pixels, from the box ``[start, stop)`` (Pillow computes each axis apart)."""
    line = Image.fromarray(np.arange(size, dtype=np.int32)[None, :])
    indices = np.asarray(line.resize((target, 1), Image.NEAREST, box=(start, 0, stop, 1)))[0]
    indices = np.ascontiguousarray(indices, dtype=np.int32)
    indices.flags.writeable = False  # shared by every caller through the cache
    return indices


def resize_nearest(pixels: np.ndarray, width_height: tuple[int, int],
                   box: tuple[float, float, float, float] | None = None) -> np.ndarray:
    """``Image.fromarray(pixels).resize(width_height, Image.NEAREST, box=box)`` as an array.

    Parameters
    ----------
    pixels : ndarray
        ``(H, W, C)`` uint8 image.
    width_height : (int, int)
        Output size, as Pillow takes it.
    box : (left, upper, right, lower), optional
        Source region; the whole image when None.

    Returns
    -------
    ndarray
        A new ``(height, width, C)`` uint8 image.
    """
    height, width = pixels.shape[:2]
    left, upper, right, lower = box if box is not None else (0, 0, width, height)
    rows = _source_indices(height, width_height[1], float(upper), float(lower))
    cols = _source_indices(width, width_height[0], float(left), float(right))
    return take_pixels(pixels, rows, cols)
