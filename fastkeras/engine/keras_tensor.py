"""KerasTensor: the symbolic tensor of the functional API (a shape, a dtype and its history)."""

from __future__ import annotations

from typing import Any

import numpy as np

from fastkeras.engine.input_spec import standardize_dtype, standardize_shape


class KerasTensor:
    """A symbolic placeholder for a tensor: shape (``None`` for unknown sizes), dtype and origin.

    ``Input(...)`` returns one; calling a layer on KerasTensors returns new ones and records the
    call as a node of the graph that ``Model(inputs, outputs)`` later replays on real arrays.
    Arithmetic operators and numpy ufuncs (``x / 255``, ``np.exp(x)``, ``a + b``) add a
    :class:`~fastkeras.engine.tensor_op.TensorOp` layer to the graph.

    Parameters
    ----------
    shape : tuple
        The shape including the batch axis, ``None`` where unknown.
    dtype : str
        The dtype name, default ``'float32'``.
    sparse : bool
        Whether the tensor stands for a sparse (``scipy.sparse``) input.
    name : str, optional
        The tensor's name (an ``Input``'s name, or an automatic one).
    """

    def __init__(self, shape: Any, dtype: Any = "float32", sparse: bool = False,
                 name: str | None = None):
        self.shape = standardize_shape(shape)
        self.dtype = standardize_dtype(dtype)
        self.sparse = bool(sparse)
        self.ragged = False
        self.name = name
        self._keras_history = None
        self._keras_mask = None

    @property
    def ndim(self) -> int:
        """The number of axes."""
        return len(self.shape)

    def __repr__(self) -> str:
        return (f"<KerasTensor shape={self.shape}, dtype={self.dtype}, sparse={self.sparse}, "
                f"ragged={self.ragged}, name={self.name}>")

    def __array__(self, dtype=None, copy=None):
        raise ValueError(
            "A KerasTensor is symbolic: it's a placeholder for a shape and a dtype. It doesn't "
            "have any actual numerical value. You cannot convert it to a NumPy array. To apply "
            "numpy or backend functions to it in a functional model, wrap them in a layer, "
            "e.g. `Lambda(lambda t: K.exp(t))(x)`.")

    # -- numpy ufuncs and operators add TensorOp layers to the graph ----------------------------
    __array_priority__ = 100.0

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method != "__call__" or kwargs:
            raise TypeError(f"numpy.{ufunc.__name__}.{method} with keyword arguments is not "
                            "supported on KerasTensors; wrap the computation in a `Lambda`.")
        from fastkeras.engine.tensor_op import apply_ufunc
        return apply_ufunc(ufunc, inputs)

    def __add__(self, o): return np.add(self, o)
    def __radd__(self, o): return np.add(o, self)
    def __sub__(self, o): return np.subtract(self, o)
    def __rsub__(self, o): return np.subtract(o, self)
    def __mul__(self, o): return np.multiply(self, o)
    def __rmul__(self, o): return np.multiply(o, self)
    def __truediv__(self, o): return np.true_divide(self, o)
    def __rtruediv__(self, o): return np.true_divide(o, self)
    def __pow__(self, o): return np.power(self, o)
    def __rpow__(self, o): return np.power(o, self)
    def __matmul__(self, o): return np.matmul(self, o)
    def __rmatmul__(self, o): return np.matmul(o, self)
    def __neg__(self): return np.negative(self)
    def __abs__(self): return np.absolute(self)

    def __bool__(self) -> bool:
        raise TypeError("A symbolic KerasTensor cannot be used as a Python `bool`.")

    def __len__(self) -> int:
        raise TypeError("A symbolic KerasTensor has no length; use `.shape` instead.")

    __hash__ = object.__hash__


def is_keras_tensor(x: Any) -> bool:
    """Return True for a :class:`KerasTensor`."""
    return isinstance(x, KerasTensor)
