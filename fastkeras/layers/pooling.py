"""Global pooling over the steps of a sequence, with mask support.

With a mask ``(batch, steps)`` (e.g. from :class:`~fastkeras.layers.masking.Masking`) the masked
steps are left out: the average is over the valid steps only (Keras's rule), the maximum is over
the valid steps only (Keras's GlobalMaxPooling1D ignores masks; fastkeras applies them). A sample
with no valid step gets NaN from the average (0 / 0, as Keras) and ``-inf`` from the maximum.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastkeras import backend as K
from fastkeras.backend.tensor import Tensor
from fastkeras.engine.base_layer import Layer
from fastkeras.engine.input_spec import InputSpec
from fastkeras.layers.reshaping import standardize_data_format

__all__ = ["GlobalAveragePooling1D", "GlobalMaxPooling1D"]


class _GlobalPooling1D(Layer):
    """Shared arguments, shape rule, mask handling and config of the 1D global poolings."""

    supports_masking = True

    def __init__(self, data_format: str | None = None, keepdims: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        self.keepdims = bool(keepdims)
        self.input_spec = InputSpec(ndim=3)

    @property
    def _steps_axis(self) -> int:
        return 1 if self.data_format == "channels_last" else 2

    def _expanded_mask(self, inputs: Tensor, mask: Any) -> np.ndarray:
        """The ``(batch, steps)`` mask as a bool array that broadcasts against ``inputs``."""
        mask = np.asarray(mask.value if isinstance(mask, Tensor) else mask, dtype=bool)
        steps = inputs.shape[self._steps_axis]
        if mask.shape != (inputs.shape[0], steps):
            raise ValueError(
                f"Layer '{self.name}' expects a mask of shape (batch, steps) = "
                f"{(inputs.shape[0], steps)} for its input of shape {inputs.shape}; received a "
                f"mask of shape {mask.shape}.")
        return np.expand_dims(mask, 2 if self.data_format == "channels_last" else 1)

    def compute_mask(self, inputs: Any, mask: Any = None) -> None:
        """The pooled output carries no mask."""
        return None

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        """``(batch, features)``, or with ``keepdims`` the steps axis kept with size 1."""
        if self.data_format == "channels_last":
            if self.keepdims:
                return (input_shape[0], 1, input_shape[2])
            return (input_shape[0], input_shape[2])
        if self.keepdims:
            return (input_shape[0], input_shape[1], 1)
        return (input_shape[0], input_shape[1])

    def get_config(self) -> dict:
        """Base config plus ``data_format`` and ``keepdims``."""
        config = super().get_config()
        config.update({"data_format": self.data_format, "keepdims": self.keepdims})
        return config


class GlobalAveragePooling1D(_GlobalPooling1D):
    """Average over the steps axis; with a mask, over the valid steps only.

    Parameters
    ----------
    data_format : str, optional
        ``'channels_last'`` (``(batch, steps, features)``) or ``'channels_first'``
        (``(batch, features, steps)``); defaults to ``K.image_data_format()``.
    keepdims : bool
        Keep the steps axis with size 1.
    **kwargs
        Base layer arguments.
    """

    def call(self, inputs: Tensor, mask: Any = None) -> Tensor:
        """Mean over the steps (the valid ones when ``mask`` is given)."""
        axis = self._steps_axis
        if mask is None:
            return K.mean(inputs, axis=axis, keepdims=self.keepdims)
        m = self._expanded_mask(inputs, mask)
        total = K.sum(K.where(m, inputs, 0.0), axis=axis, keepdims=self.keepdims)
        count = np.sum(m, axis=axis, keepdims=self.keepdims).astype(inputs.dtype)
        with np.errstate(invalid="ignore", divide="ignore"):
            return total / count


class GlobalMaxPooling1D(_GlobalPooling1D):
    """Maximum over the steps axis; with a mask, over the valid steps only.

    Parameters
    ----------
    data_format : str, optional
        ``'channels_last'`` (``(batch, steps, features)``) or ``'channels_first'``
        (``(batch, features, steps)``); defaults to ``K.image_data_format()``.
    keepdims : bool
        Keep the steps axis with size 1.
    **kwargs
        Base layer arguments.
    """

    def call(self, inputs: Tensor, mask: Any = None) -> Tensor:
        """Maximum over the steps (the valid ones when ``mask`` is given); tied maxima share
        the gradient."""
        axis = self._steps_axis
        if mask is not None:
            inputs = K.where(self._expanded_mask(inputs, mask), inputs, -np.inf)
        return K.max(inputs, axis=axis, keepdims=self.keepdims)
