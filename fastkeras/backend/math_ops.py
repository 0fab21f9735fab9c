"""Elementwise arithmetic and reductions as differentiable ops, with numpy dispatch."""

from __future__ import annotations

from typing import Any

import numpy as np

from fastkeras.backend.tensor import (
    Tensor, make, register_function, register_ufunc, unbroadcast, value_of,
)


def _tensors(*xs: Any) -> tuple:
    return tuple(x for x in xs if isinstance(x, Tensor))


def add(x: Any, y: Any) -> Tensor:
    """Elementwise ``x + y`` with numpy broadcasting."""
    a, b = value_of(x), value_of(y)
    out = np.add(a, b)

    def vjp(g):
        return tuple(unbroadcast(g, np.shape(value_of(t))) for t in (x, y) if isinstance(t, Tensor))
    return make(out, _tensors(x, y), vjp, "add")


def subtract(x: Any, y: Any) -> Tensor:
    """Elementwise ``x - y`` with numpy broadcasting."""
    out = np.subtract(value_of(x), value_of(y))

    def vjp(g):
        grads = []
        if isinstance(x, Tensor):
            grads.append(unbroadcast(g, x.shape))
        if isinstance(y, Tensor):
            grads.append(unbroadcast(-g, y.shape))
        return grads
    return make(out, _tensors(x, y), vjp, "subtract")


def multiply(x: Any, y: Any) -> Tensor:
    """Elementwise ``x * y`` with numpy broadcasting."""
    a, b = value_of(x), value_of(y)
    out = np.multiply(a, b)

    def vjp(g):
        grads = []
        if isinstance(x, Tensor):
            grads.append(unbroadcast(g * b, x.shape))
        if isinstance(y, Tensor):
            grads.append(unbroadcast(g * a, y.shape))
        return grads
    return make(out, _tensors(x, y), vjp, "multiply")


def true_divide(x: Any, y: Any) -> Tensor:
    """Elementwise ``x / y`` with numpy broadcasting."""
    a, b = value_of(x), value_of(y)
    out = np.true_divide(a, b)

    def vjp(g):
        grads = []
        if isinstance(x, Tensor):
            grads.append(unbroadcast(g / b, x.shape))
        if isinstance(y, Tensor):
            grads.append(unbroadcast(-g * out / b, y.shape))
        return grads
    return make(out, _tensors(x, y), vjp, "divide")


def negative(x: Tensor) -> Tensor:
    """Elementwise ``-x``."""
    return make(np.negative(x.value), (x,), lambda g: (-g,), "negative")


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001 - Keras name
    """Sum over ``axis`` (all axes when None)."""
    x = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
    out = np.sum(x.value, axis=axis, keepdims=keepdims)

    def vjp(g):
        if axis is not None and not keepdims:
            g = np.expand_dims(g, axis)
        return (np.broadcast_to(g, x.shape),)
    return make(out, (x,), vjp, "sum")


def _sum_dispatch(a, axis=None, dtype=None, out=None, keepdims=False, **kwargs):
    if dtype is not None or out is not None or kwargs:
        raise TypeError("np.sum on a Tensor supports only `axis` and `keepdims`.")
    return sum(a, axis=axis, keepdims=keepdims)


def getitem(x: Tensor, key: Any) -> Tensor:
    """``x[key]`` (basic and advanced indexing); the gradient scatters back."""
    key = value_of(key)
    out = x.value[key]

    def vjp(g):
        full = np.zeros_like(x.value)
        np.add.at(full, key, g)
        return (full,)
    return make(out, (x,), vjp, "getitem")


def cast(x: Any, dtype: Any) -> Tensor:
    """Cast to ``dtype``; differentiable between float types."""
    x = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
    dtype = np.dtype(dtype)
    out = x.value.astype(dtype)
    if dtype.kind != "f" or x.dtype.kind != "f":
        return Tensor(out)
    return make(out, (x,), lambda g: (g.astype(x.dtype),), "cast")


register_ufunc(np.add, add)
register_ufunc(np.subtract, subtract)
register_ufunc(np.multiply, multiply)
register_ufunc(np.true_divide, true_divide)
register_ufunc(np.negative, negative)
register_function(np.sum, _sum_dispatch)
register_function(Tensor.__getitem__, getitem)
register_function(Tensor.astype, cast)
