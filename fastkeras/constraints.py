"""Weight constraints, applied by the optimizers after every update (Keras 3 formulas and configs).

A constraint maps a weight (array, Tensor or Variable) to its constrained value as a numpy array
of the same dtype. Norms are L2 norms along ``axis`` (default 0: each column of a Dense kernel),
guarded by ``epsilon()``.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from fastkeras.backend.config import epsilon
from fastkeras.backend.tensor import value_of
from fastkeras.engine.base_layer import to_snake_case
from fastkeras.engine.serialization import serialize_keras_object
from fastkeras.initializers import deserialize_object, get_object

_MODULE = "fastkeras.constraints"


def _number(value: Any, name: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"Invalid value for argument {name}: expected a number. "
                         f"Received: {name}={value!r}")
    return value


def _axis(axis: Any) -> Any:
    items = axis if isinstance(axis, (list, tuple)) else (axis,)
    if not items or any(isinstance(a, bool) or not isinstance(a, (int, np.integer))
                        for a in items):
        raise ValueError("Invalid value for argument axis: expected an integer or a tuple of "
                         f"integers. Received: axis={axis!r}")
    return axis


def _weight(w: Any) -> np.ndarray:
    w = np.asarray(value_of(w))
    return w if w.dtype.kind == "f" else w.astype(np.float32)


def _norms(w: np.ndarray, axis: Any) -> np.ndarray:
    ax = tuple(axis) if isinstance(axis, list) else axis
    return np.sqrt(np.sum(np.square(w), axis=ax, keepdims=True))


class Constraint:
    """Base class: ``constraint(w)`` returns the constrained weight (identity here)."""

    def __call__(self, w: Any) -> Any:
        return w

    def get_config(self) -> dict:
        """Return the constructor arguments as a dict."""
        return {}

    @classmethod
    def from_config(cls, config: dict) -> "Constraint":
        """Rebuild a constraint from :meth:`get_config`'s output."""
        return cls(**config)


class MaxNorm(Constraint):
    """Rescale slices whose norm exceeds ``max_value``: ``w * clip(n, 0, max) / (eps + n)``.

    Parameters
    ----------
    max_value : float
    axis : int or tuple of int
    """

    def __init__(self, max_value: float = 2, axis: Any = 0):
        self.max_value = _number(max_value, "max_value")
        self.axis = _axis(axis)

    def __call__(self, w: Any) -> np.ndarray:
        w = _weight(w)
        n = _norms(w, self.axis)
        desired = np.clip(n, 0, self.max_value)
        return w * (desired / (w.dtype.type(epsilon()) + n))

    def get_config(self) -> dict:
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """``max(w, 0)``."""

    def __call__(self, w: Any) -> np.ndarray:
        return np.maximum(_weight(w), 0)


class UnitNorm(Constraint):
    """``w / (eps + n)``: unit-norm slices along ``axis``.

    Parameters
    ----------
    axis : int or tuple of int
    """

    def __init__(self, axis: Any = 0):
        self.axis = _axis(axis)

    def __call__(self, w: Any) -> np.ndarray:
        w = _weight(w)
        return w / (w.dtype.type(epsilon()) + _norms(w, self.axis))

    def get_config(self) -> dict:
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Pull slice norms into ``[min_value, max_value]`` at ``rate``.

    ``w * (rate * clip(n, min, max) + (1 - rate) * n) / (eps + n)``.

    Parameters
    ----------
    min_value, max_value : float
    rate : float
        1.0 enforces the bounds at once; smaller values move part of the way each step.
    axis : int or tuple of int
    """

    def __init__(self, min_value: float = 0.0, max_value: float = 1.0, rate: float = 1.0,
                 axis: Any = 0):
        self.min_value = _number(min_value, "min_value")
        self.max_value = _number(max_value, "max_value")
        self.rate = _number(rate, "rate")
        self.axis = _axis(axis)

    def __call__(self, w: Any) -> np.ndarray:
        w = _weight(w)
        n = _norms(w, self.axis)
        rate = w.dtype.type(self.rate)
        desired = rate * np.clip(n, self.min_value, self.max_value) + (1 - rate) * n
        return w * (desired / (w.dtype.type(epsilon()) + n))

    def get_config(self) -> dict:
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}


max_norm = MaxNorm
non_neg = NonNeg
unit_norm = UnitNorm
min_max_norm = MinMaxNorm

_CLASSES = (Constraint, MaxNorm, NonNeg, UnitNorm, MinMaxNorm)
ALL_OBJECTS: dict[str, type] = {cls.__name__: cls for cls in _CLASSES}
ALL_OBJECTS.update({to_snake_case(cls.__name__): cls for cls in _CLASSES})
ALL_OBJECTS.update({"maxnorm": MaxNorm, "nonneg": NonNeg, "unitnorm": UnitNorm})  # Keras 2 ids


def serialize(constraint: Constraint | None) -> dict | None:
    """Return ``{'module', 'class_name', 'config', 'registered_name'}`` (None for None)."""
    return serialize_keras_object(constraint)


def deserialize(config: Any, custom_objects: dict | None = None) -> Constraint:
    """Rebuild a constraint from :func:`serialize`'s output (or Keras's) or a name."""
    return deserialize_object(config, _MODULE, ALL_OBJECTS, "constraint", custom_objects)


def get(identifier: Any) -> Callable | None:
    """Resolve None, a name (``'max_norm'``, ``'non_neg'``...), a config dict, a class or a
    callable."""
    return get_object(identifier, _MODULE, ALL_OBJECTS, "constraint")
