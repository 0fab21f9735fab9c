"""TensorOp: numpy ufuncs and arithmetic on symbolic tensors (``x / 255``, ``np.exp(x)``).

Applying an operator or a numpy ufunc to a KerasTensor adds a :class:`TensorOp` layer to the
graph; when the model runs, the ufunc is applied to the Tensors, where the backend makes the
registered ufuncs differentiable. The config stores only the ufunc's name and the constant
operands, so loading one never executes code from a file.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastkeras.engine import structure
from fastkeras.engine.base_layer import Layer, unique_name


def _ufunc(name: Any) -> np.ufunc:
    fn = getattr(np, name, None) if isinstance(name, str) else None
    if not isinstance(fn, np.ufunc):
        raise ValueError(f"`op` must name a numpy ufunc (e.g. 'add', 'exp'). Received: "
                         f"op={name!r}")
    return fn


class TensorOp(Layer):
    """Apply the numpy ufunc ``op`` to the layer's tensor inputs and constant operands.

    Parameters
    ----------
    op : str
        The ufunc's name, e.g. ``'add'``, ``'divide'``, ``'exp'``.
    constants : dict, optional
        ``{position: value}`` operands that are constants; the tensor inputs fill the other
        positions in order.
    **kwargs
        Base layer arguments.

    Examples
    --------
    >>> x = Input((3,))
    >>> (x / 255.0)._keras_history[0].get_config()["op"]
    'divide'
    """

    supports_masking = True

    def __init__(self, op: str, constants: dict | None = None, **kwargs):
        self.ufunc = _ufunc(op)
        kwargs.setdefault("name", unique_name(op))
        super().__init__(**kwargs)
        self.op = op
        self.constants = {int(k): v for k, v in (constants or {}).items()}

    def call(self, inputs: Any) -> Any:
        tensors = iter(inputs if isinstance(inputs, list) else [inputs])
        operands = [self._constant(i) if i in self.constants else next(tensors)
                    for i in range(self.ufunc.nin)]
        return self.ufunc(*operands)

    def _constant(self, position: int) -> Any:
        # Python numbers stay Python numbers so that they do not widen float32 tensors; float
        # arrays take the layer dtype.
        value = self.constants[position]
        if isinstance(value, (bool, int, float)):
            return value
        value = np.asarray(value)
        return value.astype(self.compute_dtype) if value.dtype.kind == "f" else value

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """The tensor operands' masks combined with AND (None when none has one)."""
        masks = [m for m in structure.flatten(mask) if m is not None]
        if not masks:
            return None
        combined = np.asarray(masks[0], dtype=bool)
        for m in masks[1:]:
            combined = np.logical_and(combined, np.asarray(m, dtype=bool))
        return combined

    def get_config(self) -> dict:
        """Base config plus ``op`` and the constant operands (arrays as nested lists)."""
        constants = {str(k): (v.tolist() if isinstance(v, np.ndarray) else v)
                     for k, v in self.constants.items()}
        return {**super().get_config(), "op": self.op, "constants": constants}


def apply_ufunc(ufunc: np.ufunc, operands: tuple) -> Any:
    """Record ``ufunc(*operands)`` on KerasTensors as a :class:`TensorOp` node."""
    from fastkeras.engine.keras_tensor import KerasTensor
    if ufunc.nin != len(operands):
        raise TypeError(f"numpy.{ufunc.__name__} takes {ufunc.nin} operand(s); received "
                        f"{len(operands)}.")
    tensors = [x for x in operands if isinstance(x, KerasTensor)]
    constants = {}
    for i, x in enumerate(operands):
        if isinstance(x, KerasTensor):
            continue
        value = np.asarray(x)
        if value.dtype.kind not in "biuf":
            raise TypeError(f"numpy.{ufunc.__name__} on a KerasTensor takes numeric constants; "
                            f"received {x!r}.")
        constants[i] = value.item() if value.ndim == 0 else value
    return TensorOp(ufunc.__name__, constants)(tensors if len(tensors) > 1 else tensors[0])
