"""The Dense layer: ``activation(x @ kernel + bias)`` as one fused op."""

from __future__ import annotations

from typing import Any

import numpy as np

from fastkeras import activations, constraints, initializers, regularizers
from fastkeras.backend import nn
from fastkeras.engine.base_layer import Layer
from fastkeras.engine.input_spec import InputSpec


class Dense(Layer):
    """Densely connected layer: ``output = activation(inputs @ kernel + bias)``.

    Inputs of rank > 2 are contracted over their last axis only: ``(batch, ..., d)`` gives
    ``(batch, ..., units)``. Built-in activations are fused into the op's kernels (one pass over
    the output forward and one backward); any other callable is applied after the linear part.
    A scipy.sparse input batch is multiplied as a sparse matrix.

    Parameters
    ----------
    units : int
        Positive output size (``output_dim=`` is accepted as its Keras 2 name).
    activation : str or callable, optional
        None means linear.
    use_bias : bool
    kernel_initializer, bias_initializer : str, dict or callable
    kernel_regularizer, bias_regularizer, activity_regularizer : str, dict or callable, optional
    kernel_constraint, bias_constraint : str, dict or callable, optional
    **kwargs
        Base layer arguments (``name``, ``dtype``, ``trainable``, ``input_shape``...).

    Examples
    --------
    >>> Dense(3, kernel_initializer="ones")(np.arange(24).reshape(2, 3, 4)).shape
    (2, 3, 3)
    """

    supports_masking = True
    _supports_sparse_inputs = True  # scipy.sparse batches are multiplied without densifying

    def __init__(self, units: int | None = None, activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, **kwargs):
        if "output_dim" in kwargs:
            output_dim = kwargs.pop("output_dim")
            if units is not None:
                raise ValueError("Pass the layer size as `units` or as its Keras 2 name "
                                 f"`output_dim`, not both. Received: units={units}, "
                                 f"output_dim={output_dim}")
            units = output_dim
        if kwargs.pop("quantization_config", None) is not None:
            raise ValueError("fastkeras does not support quantized Dense layers; received a "
                             "`quantization_config`.")
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError("Received an invalid value for `units`, expected a positive "
                             f"integer. Received: units={units}")
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.input_spec = InputSpec(min_ndim=2)

    def build(self, input_shape: tuple) -> None:
        """Create ``kernel`` ``(input_shape[-1], units)`` and, with ``use_bias``, ``bias``."""
        self.kernel = self.add_weight(name="kernel", shape=(input_shape[-1], self.units),
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.units,),
                                        initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self.input_spec = InputSpec(min_ndim=2, axes={-1: input_shape[-1]})

    def call(self, inputs: Any) -> Any:
        fused = activations.kernel_code(self.activation)
        if fused is not None:
            return nn.dense(inputs, self.kernel, self.bias, *fused)
        return self.activation(nn.dense(inputs, self.kernel, self.bias))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        """``input_shape`` with its last axis replaced by ``units``."""
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "kernel_constraint": constraints.serialize(self.kernel_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint)}
