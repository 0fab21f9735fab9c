"""Image I/O helpers: ``load_img``, ``img_to_array``, ``array_to_img``, ``save_img``.

They follow Keras 3's ``keras.utils`` functions (spec ``image.md`` §9). The one difference is how
failures read: a file that Pillow cannot decode raises :class:`InvalidImageError` naming the file
and Pillow's reason (the original exception chained), instead of a bare Pillow traceback.
"""

from __future__ import annotations

import io
import os
import pathlib
import struct
import warnings
import zlib
from typing import Any, BinaryIO, Sequence, Union

import numpy as np
from PIL import Image

from fastkeras.backend import config

__all__ = [
    "InvalidImageError",
    "PIL_INTERPOLATION_METHODS",
    "load_img",
    "img_to_array",
    "array_to_img",
    "save_img",
]

PIL_INTERPOLATION_METHODS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "hamming": Image.Resampling.HAMMING,
    "box": Image.Resampling.BOX,
    "lanczos": Image.Resampling.LANCZOS,
}

COLOR_MODES = ("grayscale", "rgb", "rgba")

PathLike = Union[str, bytes, os.PathLike]

# What Pillow raises for a file that is not the image it claims to be: unknown format
# (UnidentifiedImageError is an OSError), truncated data (OSError), and the plugin-specific
# SyntaxError / ValueError / EOFError / struct.error / zlib.error for malformed headers and streams.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error)


class InvalidImageError(ValueError):
    """A file could not be decoded as an image.

    Attributes
    ----------
    path : str
        The file (or a description of the in-memory buffer) that failed.
    reason : str
        Why it failed, in Pillow's words.
    """

    def __init__(self, path: str, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"Cannot load image file {path!r}: {reason}")


def standardize_data_format(data_format: str | None) -> str:
    """Return ``data_format``, or the global default when it is ``None``; validate it."""
    if data_format is None:
        return config.image_data_format()
    value = str(data_format).lower()
    if value not in ("channels_first", "channels_last"):
        raise ValueError(
            "The `data_format` argument must be one of {'channels_first', 'channels_last'}. "
            f"Received: data_format={data_format}"
        )
    return value


def validate_target_size(target_size: Any) -> tuple[int, int]:
    """Return ``target_size`` as a ``(height, width)`` tuple of positive ints, or raise."""
    try:
        height, width = target_size
        size = (int(height), int(width))
        valid = size == (height, width) and min(size) > 0
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise ValueError(
            "`target_size` must be a tuple of two positive integers (height, width). "
            f"Received: target_size={target_size!r}"
        )
    return size


def _describe_source(path: Any) -> str:
    if isinstance(path, (bytes, bytearray)):
        return os.fsdecode(bytes(path))
    if isinstance(path, (str, os.PathLike)):
        return os.fspath(path)
    return f"<{type(path).__name__}>"


def _reason(error: BaseException) -> str:
    # Pillow's own text for an unknown format ends with the repr of the stream object.
    if isinstance(error, Image.UnidentifiedImageError):
        return "cannot identify image file (not an image, or a format Pillow cannot read)"
    return str(error) or type(error).__name__


def open_image(source: BinaryIO, name: str) -> Image.Image:
    """Open and fully decode an image from a binary file object.

    Parameters
    ----------
    source : file object
        Binary stream positioned at the start of the image data.
    name : str
        The file name to report in errors.

    Returns
    -------
    PIL.Image.Image
        The decoded image (its pixel data loaded).

    Raises
    ------
    InvalidImageError
        When Pillow cannot identify or decode the data, or the image exceeds Pillow's
        decompression-bomb limit (``PIL.Image.MAX_IMAGE_PIXELS``).
    """
    try:
        img = Image.open(source)
        img.load()
    except Image.DecompressionBombError as e:
        raise InvalidImageError(
            name,
            f"{e} Raise PIL.Image.MAX_IMAGE_PIXELS (currently {Image.MAX_IMAGE_PIXELS}) "
            "if this file is trusted.",
        ) from e
    except _DECODE_ERRORS as e:
        raise InvalidImageError(name, _reason(e)) from e
    return img


def check_image_file(path: PathLike) -> str | None:
    """Cheaply check that a file is a decodable image; return the reason if it is not.

    Reads the header with ``Image.open`` and then checks the data stream without a full-size
    decode: JPEG streams are entropy-decoded at 1/8 scale (``draft``), PNG chunks are read and
    their CRCs checked (``verify``); other formats, which are mostly uncompressed, are loaded.
    This catches unknown formats, corrupt headers and truncated files.

    Parameters
    ----------
    path : str or path-like
        The file to check.

    Returns
    -------
    str or None
        ``None`` when the file is a readable image, else a short reason.
    """
    try:
        with open(path, "rb") as f:
            img = Image.open(f)
            if img.format == "JPEG":
                img.draft(img.mode, (1, 1))
                img.load()
            elif img.format == "PNG":
                img.verify()
            else:
                img.load()
    except Image.DecompressionBombError as e:
        return str(e)
    except _DECODE_ERRORS as e:
        return _reason(e)
    return None


def load_img(
    path: PathLike | io.BytesIO,
    color_mode: str = "rgb",
    target_size: Sequence[int] | None = None,
    interpolation: str = "nearest",
    keep_aspect_ratio: bool = False,
    *,
    grayscale: bool | None = None,
) -> Image.Image:
    """Load an image file into a PIL image.

    Parameters
    ----------
    path : str, bytes, path-like or io.BytesIO
        The image file (read into memory whole before decoding) or an in-memory buffer.
    color_mode : {'rgb', 'rgba', 'grayscale'}
        Mode of the returned image. ``'grayscale'`` keeps 8-, 16- and 32-bit grey images
        (modes ``L``, ``I;16``, ``I``) as they are and converts anything else to ``L``.
    target_size : tuple of int, optional
        ``(height, width)`` to resize to; ``None`` keeps the file's size.
    interpolation : str
        Resampling filter used when a resize is needed: one of ``nearest``, ``bilinear``,
        ``bicubic``, ``hamming``, ``box``, ``lanczos``.
    keep_aspect_ratio : bool
        Crop the largest centred box with the target's aspect ratio before resizing.
    grayscale : bool, optional
        Deprecated: use ``color_mode='grayscale'``.

    Returns
    -------
    PIL.Image.Image

    Raises
    ------
    TypeError
        ``path`` is not path-like or a ``io.BytesIO``.
    FileNotFoundError
        The file does not exist.
    InvalidImageError
        Pillow cannot decode the file.
    ValueError
        Invalid ``color_mode``, ``target_size``, or ``interpolation`` when a resize is needed.
    """
    if grayscale is not None:
        warnings.warn(
            "The `grayscale` argument of `load_img` is deprecated; use "
            'color_mode="grayscale" instead.',
            DeprecationWarning,
            stacklevel=2,
        )
        if grayscale:
            color_mode = "grayscale"
    if color_mode not in COLOR_MODES:
        raise ValueError('color_mode must be "grayscale", "rgb", or "rgba"')
    if target_size is not None:
        target_size = validate_target_size(target_size)

    if isinstance(path, io.BytesIO):
        img = open_image(path, _describe_source(path))
    elif isinstance(path, (str, bytes, os.PathLike)):
        if isinstance(path, pathlib.Path):
            path = path.resolve()
        with open(path, "rb") as f:
            data = f.read()
        img = open_image(io.BytesIO(data), _describe_source(path))
    else:
        raise TypeError(f"path should be path-like or io.BytesIO, not {type(path)}")

    return fit_image(img, color_mode, target_size, interpolation, keep_aspect_ratio)


def fit_image(
    img: Image.Image,
    color_mode: str,
    target_size: tuple[int, int] | None,
    interpolation: str,
    keep_aspect_ratio: bool,
) -> Image.Image:
    """What :func:`load_img` does to a decoded image: convert it to ``color_mode``, then resize.

    Parameters
    ----------
    img : PIL.Image.Image
        The decoded image.
    color_mode : {'rgb', 'rgba', 'grayscale'}
        As in :func:`load_img` (already validated).
    target_size : (int, int) or None
        ``(height, width)``, already validated; None keeps the size.
    interpolation : str
        As in :func:`load_img`; checked only when a resize is needed.
    keep_aspect_ratio : bool
        As in :func:`load_img`.

    Returns
    -------
    PIL.Image.Image
        ``img`` itself when nothing changes, else a new image.

    Raises
    ------
    ValueError
        An unknown ``interpolation`` when a resize is needed.
    """
    if color_mode == "grayscale":
        if img.mode not in ("L", "I;16", "I"):
            img = img.convert("L")
    elif color_mode == "rgba":
        if img.mode != "RGBA":
            img = img.convert("RGBA")
    elif img.mode != "RGB":
        img = img.convert("RGB")

    if target_size is not None:
        width_height = (target_size[1], target_size[0])
        if img.size != width_height:
            if interpolation not in PIL_INTERPOLATION_METHODS:
                raise ValueError(
                    f"Invalid interpolation method {interpolation} specified. Supported "
                    f"methods are {', '.join(PIL_INTERPOLATION_METHODS)}"
                )
            resample = PIL_INTERPOLATION_METHODS[interpolation]
            box = crop_box(img.size, width_height) if keep_aspect_ratio else None
            img = img.resize(width_height, resample, box=box)
    return img


def crop_box(size: tuple[int, int], target: tuple[int, int]) -> tuple[int, int, int, int]:
    """Centred crop box with the target's aspect ratio, as ``load_img(keep_aspect_ratio=True)``.

    Parameters
    ----------
    size : (width, height)
        The image's size.
    target : (width, height)
        The size it will be resized to.

    Returns
    -------
    (left, upper, right, lower)
        The box in pixel coordinates, as Pillow's ``resize(box=...)`` takes it.
    """
    width, height = size
    target_width, target_height = target
    crop_height = min(height, (width * target_height) // target_width)
    crop_width = min(width, (height * target_width) // target_height)
    left = (width - crop_width) // 2
    upper = (height - crop_height) // 2
    return (left, upper, left + crop_width, upper + crop_height)


def img_to_array(img: Any, data_format: str | None = None, dtype: Any = None) -> np.ndarray:
    """Convert a PIL image (or anything array-like) to a 3-D numpy array.

    Parameters
    ----------
    img : PIL.Image.Image or array-like
        The image.
    data_format : {'channels_last', 'channels_first'}, optional
        Layout of the result; ``None`` means ``image_data_format()``.
    dtype : str or numpy dtype, optional
        Element type; ``None`` means ``floatx()``.

    Returns
    -------
    numpy.ndarray
        ``(H, W, C)`` or ``(C, H, W)``; a 2-D image gets a channel axis of size 1.

    Raises
    ------
    ValueError
        Invalid ``data_format``, or an image that is neither 2-D nor 3-D.
    """
    data_format = standardize_data_format(data_format)
    if dtype is None:
        dtype = config.floatx()
    x = np.asarray(img, dtype=dtype)
    if x.ndim == 3:
        if data_format == "channels_first":
            x = x.transpose(2, 0, 1)
    elif x.ndim == 2:
        if data_format == "channels_first":
            x = x.reshape((1, x.shape[0], x.shape[1]))
        else:
            x = x.reshape((x.shape[0], x.shape[1], 1))
    else:
        raise ValueError(f"Unsupported image shape: {x.shape}")
    return x


def array_to_img(
    x: Any, data_format: str | None = None, scale: bool = True, dtype: Any = None
) -> Image.Image:
    """Convert a 3-D array to a PIL image.

    Parameters
    ----------
    x : array-like
        One image, ``(H, W, C)`` or ``(C, H, W)`` with 1, 3 or 4 channels. It is not modified.
    data_format : {'channels_last', 'channels_first'}, optional
        Layout of ``x``; ``None`` means ``image_data_format()``.
    scale : bool
        Stretch values linearly so the minimum becomes 0 and the maximum 255 (a constant image
        becomes all 0). Values are then truncated to uint8 as Keras does, so without ``scale``
        values outside 0-255 wrap around.
    dtype : str or numpy dtype, optional
        Working type; ``None`` means ``floatx()``.

    Returns
    -------
    PIL.Image.Image
        Mode ``RGBA``, ``RGB`` or ``L`` for 4, 3 or 1 channels; ``I`` (int32) for one channel
        whose maximum exceeds 255.

    Raises
    ------
    ValueError
        Invalid ``data_format``, an array that is not 3-D, or an unsupported channel count.
    """
    data_format = standardize_data_format(data_format)
    if dtype is None:
        dtype = config.floatx()
    x = np.asarray(x, dtype=dtype)
    if x.ndim != 3:
        raise ValueError(
            f"Expected image array to have rank 3 (single image). Got array with shape: {x.shape}"
        )
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        x_max = np.max(x)
        if x_max != 0:
            x /= x_max
        x *= 255
    channels = x.shape[2]
    if channels == 4:
        return Image.fromarray(x.astype("uint8"), "RGBA")
    if channels == 3:
        return Image.fromarray(x.astype("uint8"), "RGB")
    if channels == 1:
        if np.max(x) > 255:
            return Image.fromarray(x[:, :, 0].astype("int32"), "I")
        return Image.fromarray(x[:, :, 0].astype("uint8"), "L")
    raise ValueError(f"Unsupported channel number: {channels}")


def save_img(
    path: PathLike | BinaryIO,
    x: Any,
    data_format: str | None = None,
    file_format: str | None = None,
    scale: bool = True,
    **kwargs: Any,
) -> None:
    """Save a 3-D array as an image file.

    Parameters
    ----------
    path : str, path-like or binary file object
        Where to write.
    x : array-like
        The image, as :func:`array_to_img` takes it.
    data_format : {'channels_last', 'channels_first'}, optional
        Layout of ``x``; ``None`` means ``image_data_format()``.
    file_format : str, optional
        Pillow format name (``'png'``, ``'jpeg'``, ...). ``None`` infers it from the path's
        suffix (or a file object's ``name``); ``'jpg'`` means ``'jpeg'``.
    scale : bool
        Stretch values to 0-255 first (see :func:`array_to_img`).
    **kwargs
        Passed to ``PIL.Image.Image.save`` (e.g. ``quality=90``).

    Raises
    ------
    ValueError
        The format cannot be inferred or Pillow cannot write it, or ``x`` is not a valid image.

    Warns
    -----
    UserWarning
        An RGBA image saved as JPEG is converted to RGB.
    """
    data_format = standardize_data_format(data_format)
    if file_format is None:
        name = path if isinstance(path, (str, os.PathLike)) else getattr(path, "name", None)
        if isinstance(name, (str, os.PathLike)):
            file_format = pathlib.Path(name).suffix[1:].lower()
        if not file_format:
            raise ValueError(
                f"Cannot infer the image format from path={path!r}; "
                "pass `file_format` (e.g. file_format='png')."
            )
    file_format = file_format.lower()
    if file_format == "jpg":
        file_format = "jpeg"
    Image.init()
    if file_format.upper() not in Image.SAVE:
        raise ValueError(
            f"Pillow cannot write the image format {file_format!r} "
            f"(from `file_format` or the path's suffix). Writable formats: "
            f"{', '.join(sorted(f.lower() for f in Image.SAVE))}"
        )
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and file_format == "jpeg":
        warnings.warn(
            "The JPEG format does not support RGBA images, converting to RGB.", stacklevel=2
        )
        img = img.convert("RGB")
    img.save(path, format=file_format, **kwargs)
