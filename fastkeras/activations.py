"""Activation functions with Keras 3's signatures, formulas and names.

Each function takes an array (returns an ndarray) or a :class:`~fastkeras.backend.tensor.Tensor`
(returns a Tensor, differentiable while a tape records) and runs one fused kernel. Integer inputs
are computed in floatx. :func:`kernel_code` tells the Dense layer which built-in activations it
can fuse into its own kernel.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from fastkeras.backend import nn
from fastkeras.backend.tensor import Tensor
from fastkeras.engine.serialization import serialize_keras_object
from fastkeras.initializers import deserialize_object, unknown_identifier
from fastkeras.kernels import dense as kd


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"Invalid value for argument {name}: expected a float. "
                         f"Received: {name}={value!r}")
    return float(value)


def _apply(x: Any, code: int, params: np.ndarray = kd.NO_PARAMS, axis: int = -1) -> Any:
    if isinstance(x, Tensor):
        return nn.activation(x, code, params, axis)
    return nn.activation(np.asarray(x), code, params, axis).value


def linear(x: Any) -> Any:
    """Identity: returns ``x`` unchanged."""
    return x


def relu(x: Any, negative_slope: float = 0.0, max_value: float | None = None,
         threshold: float = 0.0, *, alpha: float | None = None) -> Any:
    """Rectified linear unit.

    ``x`` where ``x > threshold`` (clipped to ``[0, max_value]`` when ``max_value`` is given),
    else ``negative_slope * (x - threshold)``.

    Parameters
    ----------
    x : array_like or Tensor
    negative_slope : float
        Slope below the threshold.
    max_value : float, optional
        Saturation value.
    threshold : float
        Values at or below it are damped.
    alpha : float, optional
        Keras 2 name of ``negative_slope``.
    """
    if alpha is not None:
        if negative_slope != 0.0:
            raise ValueError("Pass the slope as `negative_slope` or as its Keras 2 name `alpha`, "
                             f"not both. Received: negative_slope={negative_slope}, alpha={alpha}")
        negative_slope = alpha
    slope = _number(negative_slope, "negative_slope")
    cap = None if max_value is None else _number(max_value, "max_value")
    return _apply(x, kd.RELU, kd.relu_params(slope, cap, _number(threshold, "threshold")))


def leaky_relu(x: Any, negative_slope: float = 0.2) -> Any:
    """``x`` if ``x >= 0`` else ``negative_slope * x``."""
    return _apply(x, kd.RELU, kd.relu_params(_number(negative_slope, "negative_slope")))


def relu6(x: Any) -> Any:
    """``min(max(x, 0), 6)``."""
    return _apply(x, *kd.ACTIVATIONS["relu6"])


def softmax(x: Any, axis: int = -1) -> Any:
    """``exp(x) / sum(exp(x))`` along ``axis`` (numerically stable)."""
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"Invalid value for argument axis: expected an integer. "
                         f"Received: axis={axis!r}")
    return _apply(x, kd.SOFTMAX, axis=int(axis))


def elu(x: Any, alpha: float = 1.0) -> Any:
    """``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)``."""
    return _apply(x, kd.ELU, kd.elu_params(_number(alpha, "alpha")))


def selu(x: Any) -> Any:
    """``1.0507009873554805 * elu(x, 1.6732632423543772)``."""
    return _apply(x, kd.SELU)


def softplus(x: Any) -> Any:
    """``log(1 + exp(x))`` (numerically stable)."""
    return _apply(x, kd.SOFTPLUS)


def softsign(x: Any) -> Any:
    """``x / (1 + |x|)``."""
    return _apply(x, kd.SOFTSIGN)


def silu(x: Any) -> Any:
    """``x * sigmoid(x)`` (also named ``swish``)."""
    return _apply(x, kd.SILU)


swish = silu


def gelu(x: Any, approximate: bool = False) -> Any:
    """Gaussian error linear unit: ``0.5 x (1 + erf(x / sqrt(2)))``.

    With ``approximate=True``: ``0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x**3)))``.
    """
    return _apply(x, kd.GELU_TANH if approximate else kd.GELU)


def tanh(x: Any) -> Any:
    """Hyperbolic tangent."""
    return _apply(x, kd.TANH)


def sigmoid(x: Any) -> Any:
    """``1 / (1 + exp(-x))`` (numerically stable)."""
    return _apply(x, kd.SIGMOID)


def exponential(x: Any) -> Any:
    """``exp(x)``."""
    return _apply(x, kd.EXPONENTIAL)


def hard_sigmoid(x: Any) -> Any:
    """``clip(x / 6 + 0.5, 0, 1)`` (Keras 3; Keras 2 used ``0.2 x + 0.5``)."""
    return _apply(x, kd.HARD_SIGMOID)


def hard_silu(x: Any) -> Any:
    """``x * hard_sigmoid(x)`` (also named ``hard_swish``)."""
    return _apply(x, kd.HARD_SILU)


hard_swish = hard_silu


def mish(x: Any) -> Any:
    """``x * tanh(softplus(x))``."""
    return _apply(x, kd.MISH)


_FUNCTIONS = (relu, leaky_relu, relu6, softmax, elu, selu, softplus, softsign, silu, gelu, tanh,
              sigmoid, exponential, hard_sigmoid, hard_silu, linear, mish)
ALL_OBJECTS: dict[str, Callable] = {fn.__name__: fn for fn in _FUNCTIONS}
ALL_OBJECTS.update({"swish": silu, "hard_swish": hard_silu})
_NAMES = {fn: fn.__name__ for fn in _FUNCTIONS}


def kernel_code(activation: Callable) -> tuple[int, np.ndarray] | None:
    """The fused-kernel ``(code, params)`` of a built-in activation with default arguments, or
    None for any other callable."""
    name = _NAMES.get(activation)
    return None if name is None else kd.ACTIVATIONS[name]


def serialize(activation: Callable | None) -> str | dict:
    """A built-in's canonical name (``swish`` -> ``'silu'``, None -> ``'linear'``); anything
    else in the engine's serialized form (a function by name, an object by its config)."""
    if activation is None:
        return "linear"
    name = _NAMES.get(activation)
    return name if name is not None else serialize_keras_object(activation)


def deserialize(config: Any, custom_objects: dict | None = None) -> Callable:
    """Resolve a name or a serialized dict (custom names through ``custom_objects``)."""
    return deserialize_object(config, "fastkeras.activations", ALL_OBJECTS, "activation function",
                              custom_objects)


def get(identifier: Any) -> Callable:
    """None -> :func:`linear`; a name or config dict -> the function; a callable -> itself.

    Raises
    ------
    ValueError
        ``"Could not interpret activation function identifier: foo..."`` for anything else.
    """
    if identifier is None:
        return linear
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise unknown_identifier("activation function", identifier, ALL_OBJECTS)
