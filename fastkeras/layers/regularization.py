"""ActivityRegularization: the identity, plus an L1/L2 penalty on its output added to the losses."""

from __future__ import annotations

from fastkeras.backend.tensor import Tensor
from fastkeras.engine.base_layer import Layer
from fastkeras.regularizers import L1L2

__all__ = ["ActivityRegularization"]


class ActivityRegularization(Layer):
    """Pass the input through and add ``(l1 * sum|y| + l2 * sum y**2) / batch_size`` to
    ``losses`` at each call (the penalty of the latest outermost call replaces the previous one).

    Parameters
    ----------
    l1, l2 : float
        Non-negative factors (default 0).
    **kwargs
        Base layer arguments (``activity_regularizer`` is set by this layer).

    Raises
    ------
    ValueError
        If ``l1`` or ``l2`` is negative, NaN, infinite or not a number.

    Examples
    --------
    >>> layer = ActivityRegularization(l1=0.1, l2=0.2)
    >>> _ = layer(np.array([[1., -2.], [3., 0.5]]))
    >>> round(float(layer.losses[0]), 6)   # (0.1 * 6.5 + 0.2 * 14.25) / 2
    1.75
    """

    supports_masking = True

    def __init__(self, l1: float = 0.0, l2: float = 0.0, **kwargs):
        if "activity_regularizer" in kwargs:
            raise TypeError("ActivityRegularization sets its own `activity_regularizer` from "
                            "`l1` and `l2`; do not pass one.")
        regularizer = L1L2(l1=l1, l2=l2)
        super().__init__(activity_regularizer=regularizer, **kwargs)
        self.l1 = regularizer.l1
        self.l2 = regularizer.l2

    def call(self, inputs: Tensor) -> Tensor:
        """Return ``inputs`` unchanged (the engine records the penalty)."""
        return inputs

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        """The identity keeps the shape."""
        return input_shape

    def get_config(self) -> dict:
        """Base config (without ``activity_regularizer``) plus ``l1`` and ``l2``."""
        config = super().get_config()
        config.pop("activity_regularizer", None)
        config.update({"l1": self.l1, "l2": self.l2})
        return config
