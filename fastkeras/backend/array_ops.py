"""Shape and structure ops: reshape, transpose, expand/squeeze, concatenate/stack, tile/repeat,
gather, one_hot, ... as differentiable ops (their gradients move or sum values, never compute).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from numpy.lib.array_utils import normalize_axis_tuple

from fastkeras.backend.config import floatx
from fastkeras.backend.tensor import (
    Tensor, convert_to_tensor, make, register_function, unbroadcast, value_of,
)


def _int_tuple(shape: Any) -> tuple:
    """A shape given as ints, 0-d tensors (``K.shape(x)[0]``) or a 1-d int tensor, as a tuple."""
    shape = value_of(shape)
    if isinstance(shape, np.ndarray):
        return tuple(int(s) for s in shape.reshape(-1))
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(value_of(s)) for s in shape)


def reshape(x: Any, shape: Any) -> Tensor:
    """Give ``x`` a new shape with the same number of elements (one entry may be -1)."""
    x = convert_to_tensor(x)
    shape = _int_tuple(shape)
    try:
        out = x.value.reshape(shape)
    except ValueError:
        raise ValueError(
            f"Cannot reshape a tensor of shape {x.shape} ({x.size} elements) to shape "
            f"{shape}.") from None
    return make(out, (x,), lambda g: (g.reshape(x.shape),), "reshape")


def flatten(x: Any) -> Tensor:
    """Flatten to one axis."""
    return reshape(x, (-1,))


def batch_flatten(x: Any) -> Tensor:
    """Flatten every axis but the first: ``(n, ...) -> (n, prod(...))``."""
    x = convert_to_tensor(x)
    return reshape(x, (x.shape[0], -1))


def transpose(x: Any, axes: Sequence[int] | None = None) -> Tensor:
    """Permute the axes (reverse them when ``axes`` is None, as Keras 2's ``K.transpose``)."""
    x = convert_to_tensor(x)
    axes = None if axes is None else _int_tuple(axes)
    out = np.transpose(x.value, axes)
    inverse = None if axes is None else tuple(np.argsort(axes))
    return make(out, (x,), lambda g: (np.transpose(g, inverse),), "transpose")


def permute_dimensions(x: Any, pattern: Sequence[int]) -> Tensor:
    """Permute the axes of ``x`` to ``pattern`` (e.g. ``(0, 2, 1)``)."""
    pattern = _int_tuple(pattern)
    if sorted(pattern) != list(range(np.ndim(value_of(x)))):
        raise ValueError(
            f"`pattern` must be a permutation of the {np.ndim(value_of(x))} axes of x; received "
            f"pattern={pattern}.")
    return transpose(x, pattern)


def moveaxis(x: Any, source: Any, destination: Any) -> Tensor:
    """Move axes to new positions (``np.moveaxis``)."""
    x = convert_to_tensor(x)
    src = normalize_axis_tuple(source, x.ndim, "source")
    dst = normalize_axis_tuple(destination, x.ndim, "destination")
    if len(src) != len(dst):
        raise ValueError("`source` and `destination` must have the same number of axes.")
    order = [a for a in range(x.ndim) if a not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(x, order)


def swapaxes(x: Any, axis1: int, axis2: int) -> Tensor:
    """Swap two axes (``np.swapaxes``)."""
    x = convert_to_tensor(x)
    order = list(range(x.ndim))
    order[axis1], order[axis2] = order[axis2], order[axis1]
    return transpose(x, order)


def expand_dims(x: Any, axis: Any = -1) -> Tensor:
    """Insert a size-1 axis at ``axis`` (Keras 2 default: last)."""
    x = convert_to_tensor(x)
    axis = tuple(axis) if isinstance(axis, list) else axis
    out = np.expand_dims(x.value, axis)
    return make(out, (x,), lambda g: (g.reshape(x.shape),), "expand_dims")


def squeeze(x: Any, axis: Any = None) -> Tensor:
    """Remove size-1 axis ``axis`` (all size-1 axes when None).

    Raises
    ------
    ValueError
        If an axis named in ``axis`` does not have size 1.
    """
    x = convert_to_tensor(x)
    axis = tuple(axis) if isinstance(axis, list) else axis
    try:
        out = np.squeeze(x.value, axis)
    except ValueError:
        raise ValueError(
            f"Cannot squeeze axis={axis} of a tensor of shape {x.shape}: its size is not 1.") \
            from None
    return make(out, (x,), lambda g: (g.reshape(x.shape),), "squeeze")


def concatenate(tensors: Sequence[Any], axis: int = -1) -> Tensor:
    """Join tensors along an existing axis (Keras 2 default: last).

    Raises
    ------
    ValueError
        If the shapes differ other than along ``axis``; the message lists every shape.
    """
    ts = [convert_to_tensor(t) for t in tensors]
    if not ts:
        raise ValueError("`concatenate` needs at least one tensor; received an empty list.")
    try:
        out = np.concatenate([t.value for t in ts], axis=axis)
    except (ValueError, np.exceptions.AxisError) as e:
        raise ValueError(
            f"Cannot concatenate tensors of shapes {[t.shape for t in ts]} along axis={axis}: "
            f"{e}") from None
    bounds = np.cumsum([t.shape[axis] for t in ts])[:-1]

    def vjp(g):
        return [piece if t.tracked else None for t, piece in zip(ts, np.split(g, bounds, axis))]
    return make(out, ts, vjp, "concatenate")


def stack(x: Sequence[Any], axis: int = 0) -> Tensor:
    """Stack tensors of the same shape along a new axis.

    Raises
    ------
    ValueError
        If the shapes differ; the message lists every shape.
    """
    ts = [convert_to_tensor(t) for t in x]
    if not ts:
        raise ValueError("`stack` needs at least one tensor; received an empty list.")
    try:
        out = np.stack([t.value for t in ts], axis=axis)
    except ValueError as e:
        raise ValueError(f"Cannot stack tensors of shapes {[t.shape for t in ts]}: {e}") from None

    def vjp(g):
        return [np.take(g, i, axis=axis) if t.tracked else None for i, t in enumerate(ts)]
    return make(out, ts, vjp, "stack")


def unstack(x: Any, axis: int = 0) -> list:
    """Split ``x`` along ``axis`` into a list of tensors with that axis removed."""
    x = convert_to_tensor(x)
    ax = axis % x.ndim
    outs = []
    for i in range(x.shape[ax]):
        def vjp(g, i=i):
            full = np.zeros_like(x.value)
            full[(slice(None),) * ax + (i,)] = g
            return (full,)
        outs.append(make(np.take(x.value, i, axis=ax), (x,), vjp, "unstack"))
    return outs


def tile(x: Any, n: Any) -> Tensor:
    """Repeat the whole of ``x`` ``n[i]`` times along axis ``i`` (``np.tile``; an int tiles the
    last axis)."""
    x = convert_to_tensor(x)
    reps = _int_tuple(n)
    out = np.tile(x.value, reps)
    ndim = out.ndim
    reps = (1,) * (ndim - len(reps)) + reps
    base = (1,) * (ndim - x.ndim) + x.shape

    def vjp(g):
        split = g.reshape([v for r, s in zip(reps, base) for v in (r, s)])
        return (split.sum(axis=tuple(range(0, 2 * ndim, 2))).reshape(x.shape),)
    return make(out, (x,), vjp, "tile")


def repeat(x: Any, n: int) -> Tensor:
    """Keras 2's ``K.repeat``: ``(batch, features) -> (batch, n, features)``.

    Raises
    ------
    ValueError
        If ``x`` is not 2-D.
    """
    x = convert_to_tensor(x)
    if x.ndim != 2:
        raise ValueError(f"`repeat` expects a 2-D input (batch, features); received shape "
                         f"{x.shape}.")
    n = int(n)
    out = np.broadcast_to(x.value[:, None, :], (x.shape[0], n, x.shape[1])).copy()
    return make(out, (x,), lambda g: (g.sum(axis=1),), "repeat")


def repeat_elements(x: Any, rep: Any, axis: Any) -> Tensor:
    """Repeat each element ``rep`` times along ``axis`` (``np.repeat``; ``rep`` may be an int or
    one count per element; ``axis=None`` flattens first)."""
    x = convert_to_tensor(x)
    rep = value_of(rep)
    out = np.repeat(x.value, rep, axis=axis)
    ax = 0 if axis is None else axis % x.ndim
    src_shape = (x.size,) if axis is None else x.shape

    def vjp(g):
        if np.ndim(rep) == 0:
            shape = src_shape[:ax] + (src_shape[ax], int(rep)) + src_shape[ax + 1:]
            return (g.reshape(shape).sum(axis=ax + 1).reshape(x.shape),)
        idx = np.repeat(np.arange(src_shape[ax]), rep)
        full = np.zeros(src_shape, dtype=g.dtype)
        np.add.at(np.moveaxis(full, ax, 0), idx, np.moveaxis(g, ax, 0))
        return (full.reshape(x.shape),)
    return make(out, (x,), vjp, "repeat_elements")


def take(x: Any, indices: Any, axis: int | None = None) -> Tensor:
    """Pick entries along ``axis`` by integer ``indices`` (``np.take``; None flattens first).

    Raises
    ------
    IndexError
        If an index is out of range.
    """
    x = convert_to_tensor(x)
    idx = np.asarray(value_of(indices))
    if idx.dtype.kind == "f":
        idx = idx.astype(np.int64)
    src = x.value.reshape(-1) if axis is None else x.value
    ax = 0 if axis is None else axis % x.ndim
    n = src.shape[ax]
    if idx.size and (idx.max() >= n or idx.min() < -n):
        bad = idx.max() if idx.max() >= n else idx.min()
        raise IndexError(f"Index {bad} is out of range for axis {ax} of size {n} "
                         f"(tensor shape {x.shape}).")
    out = np.take(src, idx, axis=ax)

    def vjp(g):
        full = np.zeros(src.shape, dtype=g.dtype)
        np.add.at(np.moveaxis(full, ax, 0), idx, np.moveaxis(g, tuple(range(ax, ax + idx.ndim)),
                                                             tuple(range(idx.ndim))))
        return (full.reshape(x.shape),)
    return make(out, (x,), vjp, "take")


def gather(reference: Any, indices: Any) -> Tensor:
    """Rows of ``reference`` (its first axis) selected by integer ``indices``; the result has
    shape ``indices.shape + reference.shape[1:]``."""
    return take(reference, indices, axis=0)


def reverse(x: Any, axes: Any) -> Tensor:
    """Reverse ``x`` along ``axes`` (an int or a list of ints)."""
    x = convert_to_tensor(x)
    axes = tuple(axes) if isinstance(axes, (list, tuple)) else axes
    out = np.flip(x.value, axes)
    return make(out, (x,), lambda g: (np.flip(g, axes),), "reverse")


def broadcast_to(x: Any, shape: Any) -> Tensor:
    """Broadcast ``x`` to ``shape`` (numpy rules); the gradient sums over the broadcast axes."""
    x = convert_to_tensor(x)
    out = np.broadcast_to(x.value, _int_tuple(shape))
    return make(out, (x,), lambda g: (unbroadcast(g, x.shape),), "broadcast_to")


def one_hot(indices: Any, num_classes: int) -> Tensor:
    """One-hot encode integer ``indices``: shape ``indices.shape + (num_classes,)``, dtype floatx.

    Indices outside ``[0, num_classes)`` give all-zero rows, as in Keras 2 (``tf.one_hot``).
    """
    idx = np.asarray(value_of(indices))
    if idx.dtype.kind not in "iub":
        raise TypeError(f"`indices` must be integers; received dtype {idx.dtype}.")
    return Tensor((idx[..., None] == np.arange(int(num_classes))).astype(floatx()))


def zeros_like(x: Any, dtype: Any = None) -> Tensor:
    """A tensor of zeros with the shape (and, by default, the dtype) of ``x``."""
    return Tensor(np.zeros(np.shape(value_of(x)), dtype=dtype or np.asarray(value_of(x)).dtype))


def ones_like(x: Any, dtype: Any = None) -> Tensor:
    """A tensor of ones with the shape (and, by default, the dtype) of ``x``."""
    return Tensor(np.ones(np.shape(value_of(x)), dtype=dtype or np.asarray(value_of(x)).dtype))


def arange(start: int, stop: int | None = None, step: int = 1, dtype: str = "int32") -> Tensor:
    """``[start, stop)`` in steps of ``step`` (one argument means ``[0, start)``)."""
    return Tensor(np.arange(start, stop, step, dtype=dtype) if stop is not None
                  else np.arange(start, step=step, dtype=dtype))


register_function(np.reshape, reshape, {"a": "x", "shape": "shape"})
register_function(np.ravel, flatten, {"a": "x"})
register_function(np.transpose, transpose, {"a": "x", "axes": "axes"})
register_function(np.moveaxis, moveaxis, {"a": "x", "source": "source",
                                          "destination": "destination"})
register_function(np.swapaxes, swapaxes, {"a": "x", "axis1": "axis1", "axis2": "axis2"})
register_function(np.expand_dims, expand_dims, {"a": "x", "axis": "axis"})
register_function(np.squeeze, squeeze, {"a": "x", "axis": "axis"})
register_function(np.concatenate, concatenate, {"arrays": "tensors", "axis": "axis"})
register_function(np.stack, stack, {"arrays": "x", "axis": "axis"})
register_function(np.tile, tile, {"A": "x", "reps": "n"})
register_function(np.repeat, repeat_elements, {"a": "x", "repeats": "rep", "axis": "axis"})
register_function(np.take, take, {"a": "x", "indices": "indices", "axis": "axis"})
register_function(np.flip, reverse, {"m": "x", "axis": "axes"})
register_function(np.broadcast_to, broadcast_to, {"array": "x", "shape": "shape"})
register_function(np.zeros_like, zeros_like, {"a": "x", "dtype": "dtype"})
register_function(np.ones_like, ones_like, {"a": "x", "dtype": "dtype"})
