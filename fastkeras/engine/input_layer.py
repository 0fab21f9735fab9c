"""Input and InputLayer: the entry points of functional and Sequential models."""

from __future__ import annotations

from typing import Any

from fastkeras import backend as K
from fastkeras.engine.base_layer import Layer
from fastkeras.engine.input_spec import standardize_dtype, standardize_shape
from fastkeras.engine.keras_tensor import KerasTensor
from fastkeras.engine.node import Node


def _shape_arg(shape: Any) -> tuple:
    # fastkeras accepts a bare int as a 1-D shape: Input(3) == Input((3,)).
    return (int(shape),) if isinstance(shape, int) and not isinstance(shape, bool) \
        else standardize_shape(shape)


class InputLayer(Layer):
    """The layer behind :func:`Input`: holds one symbolic input tensor.

    Parameters
    ----------
    shape : tuple, optional
        The input shape without the batch axis.
    batch_size : int, optional
        A fixed batch size.
    dtype : str, optional
        The input dtype (default ``K.floatx()``).
    sparse : bool, optional
        Whether the input is fed ``scipy.sparse`` matrices.
    batch_shape : tuple, optional
        The full shape including the batch axis (instead of ``shape``/``batch_size``).
    input_tensor : KerasTensor, optional
        An existing symbolic tensor to adopt.
    optional : bool
        Whether the input may be None.
    name : str, optional
        The layer (and tensor) name.
    **kwargs
        Keras 2 aliases ``input_shape`` (= ``shape``) and ``batch_input_shape``
        (= ``batch_shape``).
    """

    def __init__(self, shape: Any = None, batch_size: int | None = None, dtype: Any = None,
                 sparse: bool | None = None, ragged: bool | None = None,
                 batch_shape: Any = None, input_tensor: KerasTensor | None = None,
                 optional: bool = False, name: str | None = None, **kwargs):
        if "input_shape" in kwargs:
            shape = kwargs.pop("input_shape")
        if "batch_input_shape" in kwargs:
            batch_shape = kwargs.pop("batch_input_shape")
        dtype_arg = dtype
        super().__init__(name=name, dtype=None, **kwargs)
        if ragged:
            raise ValueError("fastkeras has no ragged tensors; `ragged=True` is not supported.")
        if input_tensor is not None:
            batch_shape, dtype, sparse = _adopt(input_tensor, shape, batch_size, batch_shape,
                                                dtype_arg, sparse)
        else:
            if shape is not None and batch_shape is not None:
                raise ValueError(
                    "You cannot pass both `shape` and `batch_shape` at the same time.")
            if batch_size is not None and batch_shape is not None:
                raise ValueError(
                    "You cannot pass both `batch_size` and `batch_shape` at the same time.")
            if shape is None and batch_shape is None:
                raise ValueError("You must pass a `shape` argument.")
            if shape is not None:
                batch_shape = (batch_size,) + _shape_arg(shape)
            dtype = dtype_arg
        self._batch_shape = standardize_shape(batch_shape)
        self._dtype = standardize_dtype(dtype) or K.floatx()
        self.sparse = bool(sparse)
        self.ragged = False
        self.optional = bool(optional)
        if input_tensor is None:
            input_tensor = KerasTensor(self._batch_shape, dtype=self._dtype, sparse=self.sparse,
                                       name=self.name)
        self._input_tensor = input_tensor
        Node(self, outputs=input_tensor)
        self.built = True
        self._state_locked = True

    @property
    def batch_shape(self) -> tuple:
        """The input shape including the batch axis."""
        return self._batch_shape

    def call(self, inputs: Any) -> Any:
        """Return the inputs unchanged (an input layer only names and shapes its tensor)."""
        return inputs

    def get_config(self) -> dict:
        """Return ``{'batch_shape', 'dtype', 'sparse', 'ragged', 'name', 'optional'}``."""
        return {"batch_shape": self._batch_shape, "dtype": self._dtype, "sparse": self.sparse,
                "ragged": self.ragged, "name": self.name, "optional": self.optional}


def _adopt(tensor: Any, shape: Any, batch_size: Any, batch_shape: Any, dtype: Any,
           sparse: Any) -> tuple:
    if not isinstance(tensor, KerasTensor):
        raise ValueError("Argument `input_tensor` must be a KerasTensor. Received invalid type: "
                         f"input_tensor={tensor} (of type {type(tensor)})")
    incompatible = "When providing the `input_tensor` argument, you cannot provide an " \
                   "incompatible `{}` argument."
    if batch_size is not None and (not tensor.shape or tensor.shape[0] != batch_size):
        raise ValueError(incompatible.format("batch_size"))
    if shape is not None and _shape_arg(shape) != tensor.shape[1:]:
        raise ValueError(incompatible.format("shape"))
    if batch_shape is not None and standardize_shape(batch_shape) != tensor.shape:
        raise ValueError(incompatible.format("batch_shape"))
    if dtype is not None and standardize_dtype(dtype) != tensor.dtype:
        raise ValueError(incompatible.format("dtype"))
    if sparse is not None and bool(sparse) != tensor.sparse:
        raise ValueError(incompatible.format("sparse"))
    return tensor.shape, tensor.dtype, tensor.sparse


def Input(shape: Any = None, batch_size: int | None = None, dtype: Any = None,  # noqa: N802
          sparse: bool | None = None, batch_shape: Any = None, name: str | None = None,
          tensor: KerasTensor | None = None, optional: bool = False) -> KerasTensor:
    """Return a symbolic input tensor of shape ``(batch_size,) + shape`` (or ``batch_shape``).

    Examples
    --------
    >>> Input((3,)).shape
    (None, 3)
    >>> Input((3,), batch_size=8).shape
    (8, 3)
    """
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse,
                       batch_shape=batch_shape, input_tensor=tensor, optional=optional,
                       name=name)
    return layer._input_tensor
