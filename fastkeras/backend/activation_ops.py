"""Activation functions as fused differentiable ops (one forward pass, one hand-written VJP).

``softmax`` over the last axis is recorded with ``op='softmax'`` and ``sigmoid`` with
``op='sigmoid'``, each with the logits as its only parent, so crossentropies can take the stable
gradient with respect to the logits directly.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

from fastkeras.backend.tensor import Tensor, convert_to_tensor, make

_SELU_ALPHA = 1.6732632423543772
_SELU_SCALE = 1.0507009873554805


def relu(x: Any, alpha: float = 0.0, max_value: float | None = None,
         threshold: float = 0.0) -> Tensor:
    """Rectified linear unit with Keras 2's options.

    ``x`` where ``x > threshold`` (then capped to ``[0, max_value]`` when ``max_value`` is set),
    otherwise ``alpha * (x - threshold)``.
    """
    x = convert_to_tensor(x)
    v = x.value
    alpha, threshold = float(alpha), float(threshold)
    if threshold != 0:
        keep = v > threshold
        out = v * keep
    else:
        keep = None
        out = np.maximum(v, 0)
    if max_value is not None:
        max_value = float(max_value)
        np.clip(out, 0, max_value, out=out)
    if alpha != 0:
        out -= alpha * np.maximum(threshold - v, 0)

    def vjp(g):
        slope = v > threshold if keep is None else keep
        if max_value is not None:
            slope = slope & (v >= 0) & (v <= max_value)
        grad = g * slope
        if alpha != 0:
            grad += (alpha * g) * (v < threshold)
        return (grad,)
    return make(out, (x,), vjp, "relu")


def elu(x: Any, alpha: float = 1.0) -> Tensor:
    """Exponential linear unit: ``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)``."""
    x = convert_to_tensor(x)
    v = x.value
    alpha = float(alpha)
    pos = v > 0
    out = np.where(pos, v, alpha * np.expm1(v))
    return make(out, (x,), lambda g: (g * np.where(pos, 1, out + alpha),), "elu")


def selu(x: Any) -> Tensor:
    """Scaled exponential linear unit: ``1.0507009873554805 * elu(x, 1.6732632423543772)``."""
    x = convert_to_tensor(x)
    v = x.value
    pos = v > 0
    out = _SELU_SCALE * np.where(pos, v, _SELU_ALPHA * np.expm1(v))
    return make(out, (x,),
                lambda g: (g * np.where(pos, _SELU_SCALE, out + _SELU_SCALE * _SELU_ALPHA),),
                "selu")


def sigmoid(x: Any) -> Tensor:
    """Logistic sigmoid ``1 / (1 + exp(-x))``, computed stably; recorded as ``op='sigmoid'``."""
    x = convert_to_tensor(x)
    out = special.expit(x.value)
    return make(out, (x,), lambda g: (g * out * (1 - out),), "sigmoid")


def hard_sigmoid(x: Any) -> Tensor:
    """Keras 2's piecewise-linear sigmoid: ``clip(0.2 * x + 0.5, 0, 1)``."""
    x = convert_to_tensor(x)
    lin = 0.2 * x.value + 0.5
    out = np.clip(lin, 0, 1)
    return make(out, (x,), lambda g: ((0.2 * g) * ((lin >= 0) & (lin <= 1)),), "hard_sigmoid")


def softplus(x: Any) -> Tensor:
    """``log(1 + exp(x))``, computed stably."""
    x = convert_to_tensor(x)
    v = x.value
    out = np.maximum(v, 0) + np.log1p(np.exp(-np.abs(v)))  # np.logaddexp is ~20x slower
    return make(out, (x,), lambda g: (g * special.expit(v),), "softplus")


def softsign(x: Any) -> Tensor:
    """``x / (1 + |x|)``."""
    x = convert_to_tensor(x)
    v = x.value
    denom = 1 + np.abs(v)
    out = v / denom
    return make(out, (x,), lambda g: (g / (denom * denom),), "softsign")


def silu(x: Any) -> Tensor:
    """Sigmoid-weighted linear unit (swish): ``x * sigmoid(x)``."""
    x = convert_to_tensor(x)
    v = x.value
    s = special.expit(v)
    out = v * s
    return make(out, (x,), lambda g: (g * (s * (1 + v * (1 - s))),), "silu")


swish = silu


def gelu(x: Any, approximate: bool = False) -> Tensor:
    """Gaussian error linear unit.

    Exact: ``0.5 * x * (1 + erf(x / sqrt(2)))``; ``approximate=True``:
    ``0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3)))``.
    """
    x = convert_to_tensor(x)
    v = x.value
    if approximate:
        c = math.sqrt(2 / math.pi)
        t = np.tanh(c * (v + 0.044715 * v * v * v))
        out = 0.5 * v * (1 + t)

        def vjp(g):
            return (g * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * c * (1 + 3 * 0.044715 * v * v)),)
    else:
        cdf = 0.5 * (1 + special.erf(v * (1 / math.sqrt(2))))
        out = v * cdf

        def vjp(g):
            return (g * (cdf + v * np.exp(-0.5 * v * v) * (1 / math.sqrt(2 * math.pi))),)
    return make(out, (x,), vjp, "gelu")


def softmax(x: Any, axis: int = -1) -> Tensor:
    """Softmax ``exp(x) / sum(exp(x))`` along ``axis``, computed stably.

    Over the last axis it is recorded as ``op='softmax'``; over another axis as
    ``op='softmax_axis'``.
    """
    x = convert_to_tensor(x)
    v = x.value
    if v.ndim == 0:
        raise ValueError("`softmax` needs an input with at least 1 axis; received a scalar.")
    e = np.exp(v - np.max(v, axis=axis, keepdims=True))
    out = e / np.sum(e, axis=axis, keepdims=True)

    def vjp(g):
        return (out * (g - np.sum(g * out, axis=axis, keepdims=True)),)
    last = axis % v.ndim == v.ndim - 1
    return make(out, (x,), vjp, "softmax" if last else "softmax_axis")


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """``x - logsumexp(x)`` along ``axis``: the log of :func:`softmax`, computed stably."""
    x = convert_to_tensor(x)
    v = x.value
    shifted = v - np.max(v, axis=axis, keepdims=True)
    out = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))

    def vjp(g):
        return (g - np.exp(out) * np.sum(g, axis=axis, keepdims=True),)
    return make(out, (x,), vjp, "log_softmax")
