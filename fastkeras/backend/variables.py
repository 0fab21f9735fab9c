"""Keras 2's variable and tensor helpers: creating variables and constants, reading and writing
their values, and asking about shapes and types.

Symbolic tensors (the engine's ``KerasTensor``) are recognised by their ``_keras_history``
attribute, so this module does not import the engine.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

import numpy as np

from fastkeras.backend.config import floatx
from fastkeras.backend.tensor import Tensor, Variable, value_of


def variable(value: Any, dtype: str | None = None, name: str | None = None,
             constraint: Callable | None = None) -> Variable:
    """A trainable :class:`Variable` holding a copy of ``value`` (dtype floatx by default)."""
    return Variable(value_of(value), dtype=dtype or floatx(), name=name, constraint=constraint)


def constant(value: Any, dtype: str | None = None, shape: Sequence[int] | None = None,
             name: str | None = None) -> Tensor:
    """A constant (untracked) tensor; a scalar ``value`` with ``shape`` fills that shape, an
    array with ``shape`` is reshaped to it.

    Raises
    ------
    ValueError
        If ``value`` has more than one element and a different size from ``shape``.
    """
    arr = np.array(value_of(value), dtype=dtype or floatx())
    if shape is not None:
        shape = tuple(int(s) for s in shape)
        if arr.size == 1:
            arr = np.full(shape, arr.reshape(()), dtype=arr.dtype)
        elif arr.size == int(np.prod(shape)):
            arr = arr.reshape(shape)
        else:
            raise ValueError(f"`constant`: a value with {arr.size} elements cannot fill "
                             f"shape={shape}.")
    return Tensor(arr)


def zeros(shape: Sequence[int], dtype: str | None = None, name: str | None = None) -> Variable:
    """A variable of zeros (Keras 2 returns variables here)."""
    return Variable(np.zeros(shape), dtype=dtype or floatx(), name=name)


def ones(shape: Sequence[int], dtype: str | None = None, name: str | None = None) -> Variable:
    """A variable of ones."""
    return Variable(np.ones(shape), dtype=dtype or floatx(), name=name)


def eye(size: int | Sequence[int], dtype: str | None = None,
        name: str | None = None) -> Variable:
    """An identity-matrix variable; ``size`` is ``n`` or ``(rows, columns)``."""
    rows, cols = (size, size) if isinstance(size, (int, np.integer)) else size
    return Variable(np.eye(rows, cols), dtype=dtype or floatx(), name=name)


def cast_to_floatx(x: Any) -> np.ndarray:
    """Return ``x`` as a numpy array of dtype floatx."""
    return np.asarray(value_of(x), dtype=floatx())


def get_value(x: Any) -> np.ndarray:
    """The value of a variable or tensor as a numpy array (a copy for variables)."""
    if isinstance(x, Tensor):
        return x.numpy()
    return np.asarray(x)


def batch_get_value(tensors: Iterable[Any]) -> list:
    """:func:`get_value` of each tensor."""
    return [get_value(t) for t in tensors]


def set_value(x: Variable, value: Any) -> None:
    """Write ``value`` into the variable ``x`` in place (cast to its dtype).

    Raises
    ------
    TypeError
        If ``x`` is not a :class:`Variable`.
    ValueError
        If the shapes differ.
    """
    if not isinstance(x, Variable):
        raise TypeError(f"`set_value` needs a fastkeras Variable; received {type(x).__name__}.")
    x.assign(np.asarray(value_of(value), dtype=x.dtype))


def batch_set_value(tuples: Iterable[tuple]) -> None:
    """:func:`set_value` for each ``(variable, value)`` pair."""
    for x, value in tuples:
        set_value(x, value)


def update(x: Variable, new_x: Any) -> Variable:
    """Set ``x`` to ``new_x`` in place and return it."""
    set_value(x, new_x)
    return x


def update_add(x: Variable, increment: Any) -> Variable:
    """Add ``increment`` to ``x`` in place and return it."""
    return x.assign_add(increment)


def update_sub(x: Variable, decrement: Any) -> Variable:
    """Subtract ``decrement`` from ``x`` in place and return it."""
    return x.assign_sub(decrement)


def eval(x: Any) -> np.ndarray:  # noqa: A001 - Keras name
    """The value of a tensor as a numpy array."""
    return get_value(x)


def int_shape(x: Any) -> tuple:
    """The shape as a tuple of ints (None for unknown sizes of symbolic tensors)."""
    shape = getattr(x, "shape", None)
    if shape is None:
        shape = np.shape(x)
    return tuple(None if s is None else int(s) for s in shape)


def ndim(x: Any) -> int:
    """The number of axes."""
    return len(int_shape(x))


def shape(x: Any) -> Tensor:
    """The shape of a concrete tensor as an int32 tensor (Keras 2's ``K.shape``).

    Raises
    ------
    ValueError
        For a symbolic tensor with unknown sizes (use :func:`int_shape` there).
    """
    dims = np.shape(value_of(x))
    if any(d is None for d in dims):
        raise ValueError(f"`shape` needs a concrete tensor; received a symbolic one of shape "
                         f"{tuple(dims)}. Use `int_shape` for symbolic tensors.")
    return Tensor(np.array(dims, dtype=np.int32))


def dtype(x: Any) -> str:
    """The dtype's name, e.g. ``'float32'``."""
    d = getattr(x, "dtype", None)
    if isinstance(d, str):
        return d
    return np.dtype(d if d is not None else np.asarray(x).dtype).name


def count_params(x: Any) -> int:
    """The number of scalars in ``x``."""
    return int(np.prod(int_shape(x)))


def is_tensor(x: Any) -> bool:
    """True for fastkeras tensors and variables and for symbolic Keras tensors."""
    return isinstance(x, Tensor) or hasattr(x, "_keras_history")


def is_keras_tensor(x: Any) -> bool:
    """True for a symbolic tensor made by ``Input`` or a layer call on one.

    Raises
    ------
    ValueError
        If ``x`` is not a tensor at all (e.g. a numpy array), as Keras 2 does.
    """
    if not is_tensor(x):
        raise ValueError(f"Unexpectedly found an instance of type `{type(x)}`. Expected a "
                         "symbolic tensor instance.")
    return hasattr(x, "_keras_history")


def is_variable(x: Any) -> bool:
    """True for a :class:`Variable`."""
    return isinstance(x, Variable)
