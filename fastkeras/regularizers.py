"""Weight regularizers: penalties added to the loss, with Keras 3's classes, defaults and configs.

Called on a :class:`~fastkeras.backend.tensor.Tensor` (a layer's weight or output) a regularizer
returns a differentiable scalar Tensor; called on an array it returns a numpy scalar.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from fastkeras.backend import nn
from fastkeras.backend.tensor import Tensor
from fastkeras.engine.base_layer import to_snake_case
from fastkeras.engine.serialization import serialize_keras_object
from fastkeras.initializers import deserialize_object, get_object

_MODULE = "fastkeras.regularizers"


def validate_float_arg(value: Any, name: str) -> float:
    """Return ``value`` as a float, or raise ValueError unless it is a finite number >= 0."""
    if not isinstance(value, (int, float, np.integer, np.floating)) \
            or math.isinf(value) or math.isnan(value) or value < 0:
        raise ValueError(f"Invalid value for argument {name}: expected a non-negative float."
                         f"Received: {name}={value}")
    return float(value)


def _penalty(x: Any, l1: float, l2: float) -> Any:
    out = nn.l1_l2_penalty(x, l1, l2)
    return out if isinstance(x, Tensor) else out.value[()]


class Regularizer:
    """Base class: ``regularizer(x)`` returns a scalar penalty (0 for the base class)."""

    def __call__(self, x: Any) -> Any:
        return 0.0

    @classmethod
    def from_config(cls, config: dict) -> "Regularizer":
        """Rebuild a regularizer from :meth:`get_config`'s output."""
        return cls(**config)

    def get_config(self) -> dict:
        """Return the constructor arguments as a dict."""
        raise NotImplementedError(f"{self} does not implement get_config()")


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x**2)``; both factors default to 0.

    Parameters
    ----------
    l1, l2 : float
        Non-negative; None means 0.
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        self.l1 = validate_float_arg(0.0 if l1 is None else l1, name="l1")
        self.l2 = validate_float_arg(0.0 if l2 is None else l2, name="l2")

    def __call__(self, x: Any) -> Any:
        return _penalty(x, self.l1, self.l2)

    def get_config(self) -> dict:
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """``l1 * sum(|x|)``.

    Parameters
    ----------
    l1 : float
        Non-negative; None means the default 0.01.
    """

    def __init__(self, l1: float = 0.01):
        self.l1 = validate_float_arg(0.01 if l1 is None else l1, name="l1")

    def __call__(self, x: Any) -> Any:
        return _penalty(x, self.l1, 0.0)

    def get_config(self) -> dict:
        return {"l1": self.l1}


class L2(Regularizer):
    """``l2 * sum(x**2)``.

    Parameters
    ----------
    l2 : float
        Non-negative; None means the default 0.01.
    """

    def __init__(self, l2: float = 0.01):
        self.l2 = validate_float_arg(0.01 if l2 is None else l2, name="l2")

    def __call__(self, x: Any) -> Any:
        return _penalty(x, 0.0, self.l2)

    def get_config(self) -> dict:
        return {"l2": self.l2}


l1 = L1
l2 = L2
l1_l2 = L1L2

_CLASSES = (Regularizer, L1, L2, L1L2)
ALL_OBJECTS: dict[str, type] = {cls.__name__: cls for cls in _CLASSES}
ALL_OBJECTS.update({to_snake_case(cls.__name__): cls for cls in _CLASSES})
ALL_OBJECTS["l1_l2"] = L1L2


def serialize(regularizer: Regularizer | None) -> dict | None:
    """Return ``{'module', 'class_name', 'config', 'registered_name'}`` (None for None)."""
    return serialize_keras_object(regularizer)


def deserialize(config: Any, custom_objects: dict | None = None) -> Regularizer:
    """Rebuild a regularizer from :func:`serialize`'s output (or Keras's) or a name."""
    return deserialize_object(config, _MODULE, ALL_OBJECTS, "regularizer", custom_objects)


def get(identifier: Any) -> Callable | None:
    """Resolve None, a name (``'l1'``, ``'l2'``, ``'l1l2'``), a config dict, a class or a
    callable."""
    return get_object(identifier, _MODULE, ALL_OBJECTS, "regularizer")
