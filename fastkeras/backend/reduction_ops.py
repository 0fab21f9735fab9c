"""Reductions and cumulative ops (sum, mean, max, logsumexp, cumsum, ...) as differentiable ops.

``axis`` is an int, a tuple or list of ints, or None (all axes), with numpy's meaning; Keras 2's
defaults are kept where they differ from numpy's (``argmax(axis=-1)``, ``cumsum(axis=0)``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastkeras.backend.config import floatx
from fastkeras.backend.tensor import Tensor, convert_to_tensor, make, register_function


def _axis(axis: Any) -> Any:
    return tuple(axis) if isinstance(axis, list) else axis


def _expand(g: np.ndarray, axis: Any, keepdims: bool) -> np.ndarray:
    """Give a reduction's output gradient back the reduced axes (size 1) so it broadcasts."""
    if axis is None or keepdims:
        return g
    return np.expand_dims(g, axis)


def _count(shape: tuple, axis: Any) -> int:
    if axis is None:
        return int(np.prod(shape))
    axes = axis if isinstance(axis, tuple) else (axis,)
    return int(np.prod([shape[a] for a in axes]))


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001 - Keras name
    """Sum over ``axis`` (all axes when None)."""
    x, axis = convert_to_tensor(x), _axis(axis)
    out = np.sum(x.value, axis=axis, keepdims=keepdims)
    return make(out, (x,), lambda g: (np.broadcast_to(_expand(g, axis, keepdims), x.shape),),
                "sum")


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Arithmetic mean over ``axis``; bool input is cast to floatx first (Keras 2)."""
    x, axis = convert_to_tensor(x), _axis(axis)
    if x.dtype == bool:
        x = convert_to_tensor(x.value, dtype=floatx())
    out = np.mean(x.value, axis=axis, keepdims=keepdims)
    n = _count(x.shape, axis)
    return make(out, (x,), lambda g: (np.broadcast_to(_expand(g, axis, keepdims) / n, x.shape),),
                "mean")


def var(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Population variance (mean squared deviation) over ``axis``."""
    x, axis = convert_to_tensor(x), _axis(axis)
    dev = x.value - np.mean(x.value, axis=axis, keepdims=True)
    out = np.mean(np.square(dev), axis=axis, keepdims=keepdims)
    n = _count(x.shape, axis)
    return make(out, (x,), lambda g: (_expand(g, axis, keepdims) * (2 / n) * dev,), "var")


def std(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Population standard deviation over ``axis``."""
    x, axis = convert_to_tensor(x), _axis(axis)
    dev = x.value - np.mean(x.value, axis=axis, keepdims=True)
    out_k = np.sqrt(np.mean(np.square(dev), axis=axis, keepdims=True))
    out = out_k if keepdims else _drop_axes(out_k, axis)
    n = _count(x.shape, axis)
    return make(out, (x,), lambda g: (_expand(g, axis, keepdims) * dev / (n * out_k),), "std")


def _drop_axes(a: np.ndarray, axis: Any) -> np.ndarray:
    return a.reshape(()) if axis is None else np.squeeze(a, axis=axis)


def _extremum(x: Any, axis: Any, keepdims: bool, reduce: Any, name: str) -> Tensor:
    x, axis = convert_to_tensor(x), _axis(axis)
    v = x.value
    out_k = reduce(v, axis=axis, keepdims=True)
    out = out_k if keepdims else _drop_axes(out_k, axis)

    def vjp(g):
        # Ties share the gradient equally (as TensorFlow's reduce_max does).
        hit = v == out_k
        return (hit * (_expand(g, axis, keepdims) / np.sum(hit, axis=axis, keepdims=True)),)
    return make(out, (x,), vjp, name)


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001 - Keras name
    """Maximum over ``axis``; tied maxima share the gradient equally."""
    return _extremum(x, axis, keepdims, np.max, "max")


def min(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001 - Keras name
    """Minimum over ``axis``; tied minima share the gradient equally."""
    return _extremum(x, axis, keepdims, np.min, "min")


def prod(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Product over ``axis``; the gradient is exact also where inputs are zero."""
    x, axis = convert_to_tensor(x), _axis(axis)
    v = x.value
    out = np.prod(v, axis=axis, keepdims=keepdims)

    def vjp(g):
        red = tuple(range(v.ndim)) if axis is None else tuple(
            a % v.ndim for a in (axis if isinstance(axis, tuple) else (axis,)))
        keep = tuple(a for a in range(v.ndim) if a not in red)
        perm = keep + red
        flat = v.transpose(perm).reshape([v.shape[a] for a in keep] + [-1])
        # Product of all the other elements = exclusive cumprod from the left times from the right.
        others = np.ones_like(flat)
        others[..., 1:] = np.cumprod(flat[..., :-1], axis=-1)
        others[..., :-1] *= np.cumprod(flat[..., :0:-1], axis=-1)[..., ::-1]
        others = others.reshape([v.shape[a] for a in perm]).transpose(np.argsort(perm))
        return (others * _expand(g, axis, keepdims),)
    return make(out, (x,), vjp, "prod")


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """``log(sum(exp(x)))`` over ``axis``, computed stably."""
    x, axis = convert_to_tensor(x), _axis(axis)
    v = x.value
    m = np.max(v, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    out_k = np.log(np.sum(np.exp(v - m), axis=axis, keepdims=True)) + m
    out = out_k if keepdims else _drop_axes(out_k, axis)
    return make(out, (x,), lambda g: (_expand(g, axis, keepdims) * np.exp(v - out_k),),
                "logsumexp")


def cumsum(x: Any, axis: Any = 0) -> Tensor:
    """Cumulative sum along ``axis`` (Keras 2 default 0; None flattens first, as numpy)."""
    x = convert_to_tensor(x)
    v = x.value.ravel() if axis is None else x.value
    ax = 0 if axis is None else axis
    out = np.cumsum(v, axis=ax)

    def vjp(g):
        gx = np.flip(np.cumsum(np.flip(g, ax), axis=ax), ax)
        return (gx.reshape(x.shape),)
    return make(out, (x,), vjp, "cumsum")


def cumprod(x: Any, axis: Any = 0) -> Tensor:
    """Cumulative product along ``axis`` (Keras 2 default 0; None flattens first).

    The gradient divides by ``x``, as TensorFlow's does, so it is undefined where ``x == 0``.
    """
    x = convert_to_tensor(x)
    v = x.value.ravel() if axis is None else x.value
    ax = 0 if axis is None else axis
    out = np.cumprod(v, axis=ax)

    def vjp(g):
        gx = np.flip(np.cumsum(np.flip(g * out, ax), axis=ax), ax) / v
        return (gx.reshape(x.shape),)
    return make(out, (x,), vjp, "cumprod")


def any(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001 - Keras name
    """Logical or over ``axis`` (input cast to bool); no gradient."""
    return Tensor(np.any(convert_to_tensor(x).value, axis=_axis(axis), keepdims=keepdims))


def all(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001 - Keras name
    """Logical and over ``axis`` (input cast to bool); no gradient."""
    return Tensor(np.all(convert_to_tensor(x).value, axis=_axis(axis), keepdims=keepdims))


def argmax(x: Any, axis: Any = -1) -> Tensor:
    """Index of the maximum along ``axis`` (Keras 2 default -1; first index on ties)."""
    return Tensor(np.argmax(convert_to_tensor(x).value, axis=axis))


def argmin(x: Any, axis: Any = -1) -> Tensor:
    """Index of the minimum along ``axis`` (Keras 2 default -1; first index on ties)."""
    return Tensor(np.argmin(convert_to_tensor(x).value, axis=axis))


_REDUCE = {"a": "x", "axis": "axis", "keepdims": "keepdims"}
for _func, _impl in [(np.sum, sum), (np.mean, mean), (np.var, var), (np.std, std),
                     (np.max, max), (np.amax, max), (np.min, min), (np.amin, min),
                     (np.prod, prod), (np.any, any), (np.all, all)]:
    register_function(_func, _impl, _REDUCE)
register_function(np.argmax, argmax, {"a": "x", "axis": "axis"})
register_function(np.argmin, argmin, {"a": "x", "axis": "axis"})
register_function(np.cumsum, cumsum, {"a": "x", "axis": "axis"})
register_function(np.cumprod, cumprod, {"a": "x", "axis": "axis"})
