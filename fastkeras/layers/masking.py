"""Masking: mark timesteps whose features all equal ``mask_value`` as padding.

The mask and the output come from one kernel pass (:func:`fastkeras.kernels.masks.masking_forward`);
the mask travels on the output tensor to the layers after it and to the loss.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fastkeras.backend.tensor import Tensor, make
from fastkeras.engine.base_layer import Layer
from fastkeras.engine.input_spec import InputSpec
from fastkeras.engine.serialization import deserialize_keras_object
from fastkeras.kernels import masks

__all__ = ["Masking", "masking"]

_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _rows(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``a`` as a C-contiguous ``(rows, last axis)`` array of ``dtype``."""
    a = np.ascontiguousarray(a, dtype=dtype)
    return a.reshape(math.prod(a.shape[:-1]), a.shape[-1])


def masking(x: Tensor, mask_value: float) -> Tensor:
    """Keras's Masking as one recorded op.

    Parameters
    ----------
    x : Tensor
        Float input of rank >= 1.
    mask_value : float
        Compared in ``x``'s dtype, as Keras compares it.

    Returns
    -------
    Tensor
        ``x`` where any feature differs from ``mask_value``, exactly 0 elsewhere; its
        ``_keras_mask`` (``x.shape[:-1]``, bool) says which steps are valid.
    """
    value = x.value
    dtype = value.dtype
    work = dtype if dtype in _KERNEL_DTYPES else np.dtype(np.float32)
    src = _rows(value, work)
    out = np.empty_like(src)
    mask = np.empty(src.shape[0], dtype=bool)
    masks.masking_forward(src, work.type(dtype.type(mask_value)), out, mask)
    mask = mask.reshape(value.shape[:-1])

    def vjp(g: np.ndarray) -> tuple:
        g_rows = _rows(g, work)
        grad = np.empty_like(g_rows)
        masks.masked_rows(g_rows, mask.reshape(-1), grad)
        return (grad.reshape(value.shape).astype(dtype, copy=False),)

    result = make(out.reshape(value.shape).astype(dtype, copy=False), (x,), vjp, "masking")
    result._keras_mask = mask
    return result


class Masking(Layer):
    """Mask the timesteps of a sequence whose features all equal ``mask_value``.

    For an input ``(batch, steps, features)`` the mask is ``any(x != mask_value, axis=-1)``
    (shape ``(batch, steps)``); masked steps are output as exactly 0 and skipped by the layers
    that support masking (and by the loss).

    Parameters
    ----------
    mask_value : float
        The padding value (default 0.0). NaN masks nothing, since NaN equals nothing.
    **kwargs
        Base layer arguments.

    Examples
    --------
    >>> out = Masking(5.0)(np.array([[[5., 5.], [5., 1.], [2., 2.]]]))
    >>> out
    array([[[0., 0.],
            [5., 1.],
            [2., 2.]]], dtype=float32)
    """

    supports_masking = True

    def __init__(self, mask_value: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(mask_value, dict) and mask_value.get("config") is not None:
            mask_value = deserialize_keras_object(mask_value)
        if isinstance(mask_value, np.ndarray) and mask_value.ndim == 0:
            mask_value = mask_value.item()
        if isinstance(mask_value, bool) or not isinstance(mask_value, (int, float, np.number)):
            raise TypeError("Argument `mask_value` must be a number. Received: "
                            f"mask_value={mask_value!r} (of type {type(mask_value).__name__})")
        self.mask_value = mask_value.item() if isinstance(mask_value, np.generic) else mask_value
        self.input_spec = InputSpec(min_ndim=1)

    def call(self, inputs: Tensor) -> Tensor:
        """Zero the masked steps and attach the mask to the output."""
        return masking(inputs, self.mask_value)

    def compute_mask(self, inputs: Any, mask: Any = None) -> np.ndarray:
        """``any(inputs != mask_value, axis=-1)`` (any incoming mask is replaced)."""
        value = inputs.value if isinstance(inputs, Tensor) else np.asarray(inputs)
        return np.any(value != value.dtype.type(self.mask_value), axis=-1)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        """Masking keeps the shape."""
        return input_shape

    def get_config(self) -> dict:
        """Base config plus ``mask_value``."""
        config = super().get_config()
        config["mask_value"] = self.mask_value
        return config
