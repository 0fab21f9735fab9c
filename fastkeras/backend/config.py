"""Global backend settings: floatx, epsilon, image_data_format.

Read once from ``$KERAS_HOME/keras.json`` (default ``~/.keras/keras.json``) as Keras does, so a
user's existing configuration applies; the setters change them for this process only.
"""

from __future__ import annotations

import json
import os

_FLOATX = "float32"
_EPSILON = 1e-7
_IMAGE_DATA_FORMAT = "channels_last"

_VALID_FLOATX = ("float16", "float32", "float64")
_VALID_FORMATS = ("channels_last", "channels_first")


def keras_home() -> str:
    """Return the Keras configuration folder (``$KERAS_HOME`` or ``~/.keras``)."""
    return os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")


def floatx() -> str:
    """Return the default float type as a string, e.g. ``'float32'``."""
    return _FLOATX


def set_floatx(value: str) -> None:
    """Set the default float type; one of ``'float16'``, ``'float32'``, ``'float64'``."""
    global _FLOATX
    value = str(value)
    if value not in _VALID_FLOATX:
        raise ValueError(f"Unknown `floatx` value: {value}. Expected one of {set(_VALID_FLOATX)}")
    _FLOATX = value


def epsilon() -> float:
    """Return the fuzz factor used in numeric expressions (default ``1e-7``)."""
    return _EPSILON


def set_epsilon(value: float) -> None:
    """Set the fuzz factor used in numeric expressions."""
    global _EPSILON
    _EPSILON = float(value)


def image_data_format() -> str:
    """Return the default image data format, ``'channels_last'`` or ``'channels_first'``."""
    return _IMAGE_DATA_FORMAT


def set_image_data_format(data_format: str) -> None:
    """Set the default image data format."""
    global _IMAGE_DATA_FORMAT
    if data_format not in _VALID_FORMATS:
        raise ValueError(
            "The `data_format` argument must be one of {'channels_first', 'channels_last'}. "
            f"Received: data_format={data_format}"
        )
    _IMAGE_DATA_FORMAT = data_format


def load_user_config(path: str | None = None) -> None:
    """Apply ``floatx``, ``epsilon`` and ``image_data_format`` from a keras.json file.

    A missing or unreadable file leaves the defaults in place, as in Keras.
    """
    path = path or os.path.join(keras_home(), "keras.json")
    try:
        with open(path) as f:
            cfg = json.load(f)
    except (OSError, ValueError):
        return
    if not isinstance(cfg, dict):
        return
    if "floatx" in cfg:
        set_floatx(cfg["floatx"])
    if "epsilon" in cfg:
        set_epsilon(cfg["epsilon"])
    if "image_data_format" in cfg:
        set_image_data_format(cfg["image_data_format"])


load_user_config()
