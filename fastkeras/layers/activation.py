"""The Activation layer: an activation function applied element-wise."""

from __future__ import annotations

from typing import Any

from fastkeras import activations
from fastkeras.engine.base_layer import Layer


class Activation(Layer):
    """Applies an activation function (by name, as a callable, or None for linear).

    Parameters
    ----------
    activation : str or callable or None
    **kwargs
        Base layer arguments.

    Examples
    --------
    >>> Activation("relu")(np.array([[-1.0, 2.0]]))
    array([[0., 2.]], dtype=float32)
    """

    supports_masking = True

    def __init__(self, activation: Any, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs: Any) -> Any:
        return self.activation(inputs)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        """Same as the input shape."""
        return tuple(input_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "activation": activations.serialize(self.activation)}
