"""Operators, elementwise math, comparisons and selection as differentiable ops.

Each op computes its forward value with numpy and, while a tape records, a hand-written
vector-Jacobian product that reuses the forward values through its closure. Python scalars stay
Python scalars (numpy's weak scalars), so ``float32 * 2.0`` stays float32. The numpy ufuncs and
functions of the same meaning dispatch here, so ``np.exp(t)``, ``t * 2`` or ``np.where(c, t, 0)``
are differentiable.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
from scipy import special

from fastkeras.backend.tensor import (
    Tensor, convert_to_tensor, make, numpy_fallback, register_function, register_ufunc,
    unbroadcast, value_of,
)

_SCALARS = (bool, int, float)


def operand(x: Any) -> Any:
    """Return ``x`` ready for a broadcasting op: tensors and Python scalars as they are, other
    values converted with :func:`convert_to_tensor`."""
    if isinstance(x, (Tensor,) + _SCALARS):
        return x
    return convert_to_tensor(x)


def _tensors(*xs: Any) -> tuple:
    return tuple(x for x in xs if isinstance(x, Tensor))


# -- binary arithmetic ----------------------------------------------------------------------------

def _binary(name: str, forward: Callable, grad_x: Callable | None, grad_y: Callable | None,
            doc: str) -> Callable[[Any, Any], Tensor]:
    """Build a broadcasting binary op; ``grad_*(g, a, b, out)`` give the unreduced gradients."""

    def op(x: Any, y: Any) -> Tensor:
        x, y = operand(x), operand(y)
        a, b = value_of(x), value_of(y)
        out = forward(a, b)

        def vjp(g):
            grads = []
            if isinstance(x, Tensor):
                grads.append(unbroadcast(grad_x(g, a, b, out), x.shape) if x.tracked else None)
            if isinstance(y, Tensor):
                grads.append(unbroadcast(grad_y(g, a, b, out), y.shape) if y.tracked else None)
            return grads
        return make(out, _tensors(x, y), vjp, name)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


add = _binary("add", np.add, lambda g, a, b, o: g, lambda g, a, b, o: g,
              "Elementwise ``x + y`` with numpy broadcasting.")
subtract = _binary("subtract", np.subtract, lambda g, a, b, o: g, lambda g, a, b, o: -g,
                   "Elementwise ``x - y`` with numpy broadcasting.")
multiply = _binary("multiply", np.multiply, lambda g, a, b, o: g * b, lambda g, a, b, o: g * a,
                   "Elementwise ``x * y`` with numpy broadcasting.")
divide = _binary("divide", np.true_divide, lambda g, a, b, o: g / b,
                 lambda g, a, b, o: -g * o / b, "Elementwise ``x / y`` with numpy broadcasting.")


def _pow_grad_y(g, a, b, out):
    # d(a**b)/db = a**b * log(a), taken as 0 where a <= 0 (as TensorFlow does).
    a_arr = np.asarray(a)
    safe = np.where(a_arr > 0, a_arr, 1)
    return g * out * np.log(safe)


power = _binary("power", np.power, lambda g, a, b, o: g * b * np.power(a, b - 1), _pow_grad_y,
                "Elementwise ``x ** y`` with numpy broadcasting.")


def _remainder_grad_y(g, a, b, out):
    return -g * np.floor_divide(a, b)


remainder = _binary("remainder", np.remainder, lambda g, a, b, o: g, _remainder_grad_y,
                    "Elementwise ``x % y`` (numpy's sign convention); ``d/dx = 1``.")


maximum = _binary(
    "maximum", np.maximum,
    lambda g, a, b, o: g * np.greater_equal(a, b),
    lambda g, a, b, o: g * np.less(a, b),
    "Elementwise maximum; where ``x == y`` the gradient goes to ``x``.")
minimum = _binary(
    "minimum", np.minimum,
    lambda g, a, b, o: g * np.less_equal(a, b),
    lambda g, a, b, o: g * np.greater(a, b),
    "Elementwise minimum; where ``x == y`` the gradient goes to ``x``.")


def pow(x: Any, a: Any) -> Tensor:  # noqa: A001 - Keras name
    """Elementwise ``x ** a`` (Keras 2's ``K.pow``)."""
    return power(x, a)


# -- unary math -----------------------------------------------------------------------------------

def _unary(name: str, forward: Callable, grad: Callable, doc: str) -> Callable[[Any], Tensor]:
    """Build an elementwise op; ``grad(g, x, out)`` gives the input gradient."""

    def op(x: Any) -> Tensor:
        x = convert_to_tensor(x)
        v = x.value
        out = forward(v)
        return make(out, (x,), lambda g: (grad(g, v, out),), name)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


negative = _unary("negative", np.negative, lambda g, x, y: -g, "Elementwise ``-x``.")
abs = _unary("abs", np.abs, lambda g, x, y: g * np.sign(x),  # noqa: A001 - Keras name
             "Elementwise absolute value (gradient 0 at 0).")
square = _unary("square", np.square, lambda g, x, y: g * 2 * x, "Elementwise ``x ** 2``.")
exp = _unary("exp", np.exp, lambda g, x, y: g * y, "Elementwise ``e ** x``.")
expm1 = _unary("expm1", np.expm1, lambda g, x, y: g * (y + 1), "Elementwise ``e ** x - 1``.")
log = _unary("log", np.log, lambda g, x, y: g / x, "Elementwise natural logarithm.")
log1p = _unary("log1p", np.log1p, lambda g, x, y: g / (x + 1), "Elementwise ``log(1 + x)``.")
log2 = _unary("log2", np.log2, lambda g, x, y: g / (x * math.log(2.0)),
              "Elementwise base-2 logarithm.")
log10 = _unary("log10", np.log10, lambda g, x, y: g / (x * math.log(10.0)),
               "Elementwise base-10 logarithm.")
reciprocal = _unary("reciprocal", np.reciprocal, lambda g, x, y: -g * y * y,
                    "Elementwise ``1 / x``.")
sin = _unary("sin", np.sin, lambda g, x, y: g * np.cos(x), "Elementwise sine.")
cos = _unary("cos", np.cos, lambda g, x, y: -g * np.sin(x), "Elementwise cosine.")
tan = _unary("tan", np.tan, lambda g, x, y: g * (1 + y * y), "Elementwise tangent.")
tanh = _unary("tanh", np.tanh, lambda g, x, y: g * (1 - y * y), "Elementwise hyperbolic tangent.")
_sqrt = _unary("sqrt", np.sqrt, lambda g, x, y: g * 0.5 / y,
               "Elementwise square root with numpy semantics (NaN below 0).")
erf = _unary("erf", special.erf,
             lambda g, x, y: g * (2 / math.sqrt(math.pi)) * np.exp(-x * x),
             "Elementwise Gauss error function.")


def sqrt(x: Any) -> Tensor:
    """Elementwise square root; negative inputs are clipped to 0 first, as Keras 2 does."""
    x = convert_to_tensor(x)
    v = x.value
    out = np.sqrt(np.maximum(v, 0))

    def vjp(g):
        with np.errstate(divide="ignore", invalid="ignore"):
            d = g * 0.5 / out
        return (np.where(v >= 0, d, 0),)
    return make(out, (x,), vjp, "sqrt")


def clip(x: Any, min_value: Any = None, max_value: Any = None) -> Tensor:
    """Clip to ``[min_value, max_value]`` (Keras 2: a ``max_value`` below ``min_value`` is raised
    to it; None means unbounded). The gradient passes where ``min_value <= x <= max_value``."""
    if min_value is not None and max_value is not None and max_value < min_value:
        max_value = min_value
    return _clip(x, min_value, max_value)


def _clip(x: Any, lo: Any, hi: Any) -> Tensor:
    x = convert_to_tensor(x)
    v = x.value
    lo_v, hi_v = value_of(lo), value_of(hi)
    out = np.clip(v, lo_v, hi_v)

    def vjp(g):
        keep = np.ones(v.shape, dtype=bool) if lo_v is None else v >= lo_v
        if hi_v is not None:
            keep &= v <= hi_v
        return (g * keep,)
    return make(out, (x,), vjp, "clip")


def identity(x: Any) -> Tensor:
    """Return a tensor with the same value (shared, not copied); gradients pass through."""
    x = convert_to_tensor(x)
    return make(x.value, (x,), lambda g: (g,), "identity")


def stop_gradient(variables: Any) -> Any:
    """Return ``variables`` (a tensor or a list of them) cut off from the tape: the same values,
    untracked, so no gradient flows back through them."""
    if isinstance(variables, (list, tuple)):
        return type(variables)(stop_gradient(v) for v in variables)
    return Tensor(convert_to_tensor(variables).value)


def cast(x: Any, dtype: Any) -> Tensor:
    """Cast to ``dtype``; differentiable between float types."""
    x = convert_to_tensor(x)
    dtype = np.dtype(dtype)
    out = x.value.astype(dtype, copy=False)
    if dtype.kind != "f" or x.dtype.kind != "f":
        return Tensor(out)
    return make(out, (x,), lambda g: (g.astype(x.dtype, copy=False),), "cast")


# -- piecewise-constant ops: results carry no gradient ---------------------------------------------

def _constant(name: str, forward: Callable, doc: str) -> Callable[..., Tensor]:
    def op(*args: Any) -> Tensor:
        return Tensor(np.asarray(forward(*(value_of(operand(a)) for a in args))))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


sign = _constant("sign", np.sign, "Elementwise sign (-1, 0 or 1); no gradient.")
round = _constant("round", np.round,  # noqa: A001 - Keras name
                  "Elementwise rounding, halves to even (as ``tf.round``); no gradient.")
floor = _constant("floor", np.floor, "Elementwise floor; no gradient.")
ceil = _constant("ceil", np.ceil, "Elementwise ceiling; no gradient.")
floor_divide = _constant("floor_divide", np.floor_divide, "Elementwise ``x // y``; no gradient.")
equal = _constant("equal", np.equal, "Elementwise ``x == y`` as a bool tensor.")
not_equal = _constant("not_equal", np.not_equal, "Elementwise ``x != y`` as a bool tensor.")
greater = _constant("greater", np.greater, "Elementwise ``x > y`` as a bool tensor.")
greater_equal = _constant("greater_equal", np.greater_equal,
                          "Elementwise ``x >= y`` as a bool tensor.")
less = _constant("less", np.less, "Elementwise ``x < y`` as a bool tensor.")
less_equal = _constant("less_equal", np.less_equal, "Elementwise ``x <= y`` as a bool tensor.")
logical_and = _constant("logical_and", np.logical_and, "Elementwise logical and.")
logical_or = _constant("logical_or", np.logical_or, "Elementwise logical or.")
logical_xor = _constant("logical_xor", np.logical_xor, "Elementwise logical exclusive or.")
logical_not = _constant("logical_not", np.logical_not, "Elementwise logical not.")
isnan = _constant("isnan", np.isnan, "Elementwise test for NaN.")
isinf = _constant("isinf", np.isinf, "Elementwise test for infinity.")
isfinite = _constant("isfinite", np.isfinite, "Elementwise test for finiteness.")


# -- selection ------------------------------------------------------------------------------------

def where(condition: Any, x: Any = None, y: Any = None) -> Any:
    """``x`` where ``condition`` else ``y``, with numpy broadcasting; differentiable in ``x`` and
    ``y``. With only ``condition``, return the indices of its non-zero entries (numpy's
    ``where(condition)``) as a tuple of tensors."""
    if x is None and y is None:
        return tuple(Tensor(i) for i in np.nonzero(value_of(condition)))
    if x is None or y is None:
        raise ValueError("`where` needs both `x` and `y`, or neither.")
    cond = np.asarray(value_of(condition), dtype=bool)
    x, y = operand(x), operand(y)
    a, b = value_of(x), value_of(y)
    out = np.where(cond, a, b)

    def vjp(g):
        grads = []
        if isinstance(x, Tensor):
            grads.append(unbroadcast(np.where(cond, g, 0), x.shape) if x.tracked else None)
        if isinstance(y, Tensor):
            grads.append(unbroadcast(np.where(cond, 0, g), y.shape) if y.tracked else None)
        return grads
    return make(out, _tensors(x, y), vjp, "where")


def switch(condition: Any, then_expression: Any, else_expression: Any) -> Tensor:
    """Keras 2's ``K.switch``: pick between two expressions by ``condition``.

    A scalar condition selects one whole expression (callables are called only when chosen). A
    tensor condition selects elementwise; when it has fewer axes than the expressions, it is
    broadcast along their *trailing* axes (a per-sample ``(batch,)`` condition picks whole rows).

    Raises
    ------
    ValueError
        If the condition has more axes than the expressions.
    """
    cond = np.asarray(value_of(condition))
    if cond.ndim == 0:
        chosen = then_expression if bool(cond) else else_expression
        return convert_to_tensor(chosen() if callable(chosen) else chosen)
    then_t = operand(then_expression() if callable(then_expression) else then_expression)
    else_t = operand(else_expression() if callable(else_expression) else else_expression)
    expr_ndim = max(np.ndim(value_of(then_t)), np.ndim(value_of(else_t)))
    if cond.ndim > expr_ndim:
        raise ValueError(
            "Rank of `condition` should be less than or equal to rank of `then_expression` and "
            f"`else_expression`. ndim(condition)={cond.ndim}, ndim(then_expression)="
            f"{np.ndim(value_of(then_t))}, ndim(else_expression)={np.ndim(value_of(else_t))}")
    cond = cond.reshape(cond.shape + (1,) * (expr_ndim - cond.ndim))
    return where(cond, then_t, else_t)


def getitem(x: Any, key: Any) -> Tensor:
    """``x[key]`` (basic and advanced indexing); the gradient scatters back."""
    x = convert_to_tensor(x)
    key = _unwrap_key(key)
    out = x.value[key]

    def vjp(g):
        full = np.zeros_like(x.value)
        if _is_basic(key):
            full[key] = g
        else:
            np.add.at(full, key, g)
        return (full,)
    return make(out, (x,), vjp, "getitem")


def _unwrap_key(key: Any) -> Any:
    if isinstance(key, tuple):
        return tuple(value_of(k) for k in key)
    return value_of(key)


def _is_basic(key: Any) -> bool:
    """True when ``key`` selects each element at most once (so assignment equals scatter-add)."""
    parts = key if isinstance(key, tuple) else (key,)
    for k in parts:
        if isinstance(k, (slice, type(None), type(Ellipsis), int, np.integer)):
            continue
        if isinstance(k, np.ndarray) and k.dtype == bool:
            continue
        return False
    return True


# -- numpy dispatch -------------------------------------------------------------------------------

for _ufunc, _impl in [
    (np.add, add), (np.subtract, subtract), (np.multiply, multiply), (np.true_divide, divide),
    (np.power, power), (np.remainder, remainder), (np.maximum, maximum),
    (np.minimum, minimum), (np.negative, negative), (np.absolute, abs), (np.square, square),
    (np.sqrt, _sqrt), (np.exp, exp), (np.expm1, expm1), (np.log, log), (np.log1p, log1p),
    (np.log2, log2), (np.log10, log10), (np.reciprocal, reciprocal), (np.sin, sin), (np.cos, cos),
    (np.tan, tan), (np.tanh, tanh), (np.sign, sign), (np.rint, round), (np.floor, floor),
    (np.ceil, ceil), (np.floor_divide, floor_divide), (np.equal, equal),
    (np.not_equal, not_equal), (np.greater, greater), (np.greater_equal, greater_equal),
    (np.less, less), (np.less_equal, less_equal), (np.logical_and, logical_and),
    (np.logical_or, logical_or), (np.logical_xor, logical_xor), (np.logical_not, logical_not),
    (np.isnan, isnan), (np.isinf, isinf), (np.isfinite, isfinite),
    (np.bitwise_and, _constant("bitwise_and", np.bitwise_and, "Elementwise ``x & y``.")),
    (np.bitwise_or, _constant("bitwise_or", np.bitwise_or, "Elementwise ``x | y``.")),
    (np.bitwise_xor, _constant("bitwise_xor", np.bitwise_xor, "Elementwise ``x ^ y``.")),
    (np.invert, _constant("invert", np.invert, "Elementwise ``~x``.")),
]:
    register_ufunc(_ufunc, _impl)
register_ufunc(special.erf, erf)


def _np_round(a, decimals=0, out=None):
    if decimals != 0 or out is not None:
        return numpy_fallback(np.round, (a,), {"decimals": decimals, "out": out})
    return round(a)


register_function(np.clip, _clip, {"a": "x", "a_min": "lo", "a_max": "hi", "min": "lo",
                                   "max": "hi"})
register_function(np.where, where)
register_function(np.round, _np_round)
register_function(np.around, _np_round)
register_function(Tensor.__getitem__, getitem)
register_function(Tensor.astype, cast)
