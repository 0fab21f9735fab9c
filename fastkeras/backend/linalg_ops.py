"""Products and linear-layer helpers: ``dot``, ``matmul``, ``batch_dot``, ``bias_add``,
``l2_normalize``.

Every product is reshaped to 2-D (or stacked 2-D) matrices so that numpy hands it to BLAS, forward
and backward; gradients are computed only for tracked inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastkeras.backend.config import image_data_format
from fastkeras.backend.math_ops import multiply
from fastkeras.backend.tensor import (
    Tensor, convert_to_tensor, make, register_function, register_ufunc, unbroadcast,
)


def dot(x: Any, y: Any) -> Tensor:
    """Tensor product with ``np.dot`` semantics.

    Contracts the last axis of ``x`` with the second-to-last axis of ``y`` (its only axis when
    ``y`` is 1-D): ``(32, 28, 3) . (3, 4) -> (32, 28, 4)``, ``(2, 3) . (4, 3, 5) -> (2, 4, 5)``.
    A 0-d operand multiplies elementwise.

    Raises
    ------
    ValueError
        If the contracted axes differ in size; the message names both shapes.
    """
    x, y = convert_to_tensor(x), convert_to_tensor(y)
    a, b = x.value, y.value
    if a.ndim == 0 or b.ndim == 0:
        return multiply(x, y)
    k = a.shape[-1]
    kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k != kb:
        which = "only" if b.ndim == 1 else "second-to-last"
        raise ValueError(
            f"Incompatible shapes for `dot`: x.shape={a.shape} and y.shape={b.shape}. The last "
            f"axis of x ({k}) must equal the {which} axis of y ({kb}).")
    a2 = a.reshape(-1, k)
    b2 = b.reshape(k, -1) if b.ndim <= 2 else np.moveaxis(b, -2, 0).reshape(k, -1)
    out2 = np.dot(a2, b2)
    y_rest = b.shape[:-2] + b.shape[-1:] if b.ndim >= 2 else ()
    out = out2.reshape(a.shape[:-1] + y_rest)

    def vjp(g):
        g2 = g.reshape(out2.shape)
        gx = np.dot(g2, b2.T).reshape(a.shape) if x.tracked else None
        gy = None
        if y.tracked:
            gb2 = np.dot(a2.T, g2)
            gy = gb2.reshape(b.shape) if b.ndim <= 2 else np.moveaxis(
                gb2.reshape((k,) + y_rest), 0, -2)
        return gx, gy
    return make(out, (x, y), vjp, "dot")


def matmul(x: Any, y: Any) -> Tensor:
    """Matrix product with ``np.matmul`` (``@``) semantics: stacks of matrices broadcast.

    Raises
    ------
    ValueError
        If the inner dimensions differ or the stack dimensions do not broadcast; the message names
        both shapes.
    """
    x, y = convert_to_tensor(x), convert_to_tensor(y)
    a, b = x.value, y.value
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(
            f"`matmul` needs operands with at least 1 axis; received x.shape={a.shape} and "
            f"y.shape={b.shape}.")
    a_m = a.reshape(1, -1) if a.ndim == 1 else a
    b_m = b.reshape(-1, 1) if b.ndim == 1 else b
    if a_m.shape[-1] != b_m.shape[-2]:
        raise ValueError(
            f"Incompatible shapes for `matmul`: x.shape={a.shape} and y.shape={b.shape}. The last "
            f"axis of x ({a_m.shape[-1]}) must equal the second-to-last axis of y "
            f"({b_m.shape[-2]}).")
    try:
        np.broadcast_shapes(a_m.shape[:-2], b_m.shape[:-2])
    except ValueError:
        raise ValueError(
            f"Incompatible shapes for `matmul`: x.shape={a.shape} and y.shape={b.shape}; the "
            "leading (stack) axes do not broadcast.") from None
    out_m = np.matmul(a_m, b_m)
    out = np.matmul(a, b) if (a.ndim == 1 or b.ndim == 1) else out_m

    def vjp(g):
        g_m = g.reshape(out_m.shape)
        gx = gy = None
        if x.tracked:
            gx = unbroadcast(np.matmul(g_m, np.swapaxes(b_m, -1, -2)), a_m.shape).reshape(a.shape)
        if y.tracked:
            gy = unbroadcast(np.matmul(np.swapaxes(a_m, -1, -2), g_m), b_m.shape).reshape(b.shape)
        return gx, gy
    return make(out, (x, y), vjp, "matmul")


def batch_dot(x: Any, y: Any, axes: Any = None) -> Tensor:
    """Batchwise dot product (Keras 2's ``K.batch_dot``).

    For each sample ``i``, contracts ``x[i]`` along ``axes[0]`` with ``y[i]`` along ``axes[1]``
    (axes counted with the batch axis). Default axes: ``(x.ndim - 1, y.ndim - 1)`` when ``y`` is
    2-D, else ``(x.ndim - 1, y.ndim - 2)``; an int ``a`` means ``(a, a)``. The result has the
    remaining axes of ``x`` then those of ``y``; a 1-D result is returned as ``(batch, 1)``.
    Example: ``x (32, 20, 1)``, ``y (32, 30, 20)``, ``axes=(1, 2)`` -> ``(32, 1, 30)``.

    Raises
    ------
    ValueError
        On rank < 2 inputs, different batch sizes, a contraction over axis 0, or contracted axes of
        different sizes; messages name both shapes.
    """
    x, y = convert_to_tensor(x), convert_to_tensor(y)
    a, b = x.value, y.value
    shapes = f"x.shape={a.shape} and y.shape={b.shape}"
    if a.ndim < 2 or b.ndim < 2:
        raise ValueError(f"Cannot do batch_dot on inputs with rank < 2. Received {shapes}.")
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"Cannot do batch_dot on inputs with different batch sizes. Received {shapes}.")
    if axes is None:
        axes = (a.ndim - 1, b.ndim - 1) if b.ndim == 2 else (a.ndim - 1, b.ndim - 2)
    elif isinstance(axes, (int, np.integer)):
        axes = (int(axes), int(axes))
    else:
        axes = tuple(int(v) for v in axes)
        if len(axes) != 2:
            raise ValueError(f"`axes` must be an int or a pair of ints; received axes={axes}.")
    ax, ay = axes[0] % a.ndim, axes[1] % b.ndim
    if ax == 0 or ay == 0:
        raise ValueError(
            f"Cannot perform batch_dot over axis 0 (the batch axis). Received axes={axes} "
            f"for {shapes}.")
    if a.shape[ax] != b.shape[ay]:
        raise ValueError(
            f"Cannot do batch_dot on inputs with shapes {a.shape} and {b.shape} with axes={axes}: "
            f"x.shape[{ax}] ({a.shape[ax]}) != y.shape[{ay}] ({b.shape[ay]}).")
    n, k = a.shape[0], a.shape[ax]
    a_moved = np.moveaxis(a, ax, -1)
    b_moved = np.moveaxis(b, ay, 1)
    a3 = a_moved.reshape(n, -1, k)
    b3 = b_moved.reshape(n, k, -1)
    out3 = np.matmul(a3, b3)
    out_shape = (n,) + a_moved.shape[1:-1] + b_moved.shape[2:]
    out = out3.reshape(out_shape if len(out_shape) > 1 else (n, 1))

    def vjp(g):
        g3 = g.reshape(out3.shape)
        gx = gy = None
        if x.tracked:
            gx = np.moveaxis(np.matmul(g3, b3.transpose(0, 2, 1)).reshape(a_moved.shape), -1, ax)
        if y.tracked:
            gy = np.moveaxis(np.matmul(a3.transpose(0, 2, 1), g3).reshape(b_moved.shape), 1, ay)
        return gx, gy
    return make(out, (x, y), vjp, "batch_dot")


def bias_add(x: Any, bias: Any, data_format: str | None = None) -> Tensor:
    """Add ``bias`` along the channel axis (Keras 2's ``K.bias_add``).

    ``bias`` is 1-D (one value per channel) or has ``x.ndim - 1`` axes. With
    ``data_format='channels_first'`` and ``x.ndim >= 3`` the channel axis is 1, otherwise the last;
    a full channels-first bias has shape ``spatial + (channels,)`` and is *reshaped* (not
    transposed) to ``(channels,) + spatial``, as Keras 2 does.

    Raises
    ------
    ValueError
        On an unknown ``data_format``, a bias of the wrong rank, or a bias whose size does not
        match the channels of ``x``.
    """
    if data_format is None:
        data_format = image_data_format()
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError(
            "The `data_format` argument must be one of {'channels_first', 'channels_last'}. "
            f"Received: data_format={data_format}")
    x, bias = convert_to_tensor(x), convert_to_tensor(bias)
    a, bv = x.value, bias.value
    if bv.ndim not in (1, a.ndim - 1):
        raise ValueError(
            f"Unexpected bias dimensions {bv.ndim}, expected 1 or {a.ndim - 1} dimensions "
            f"for an input of shape {a.shape}.")
    channels_first = data_format == "channels_first" and a.ndim >= 3
    channels = a.shape[1] if channels_first else a.shape[-1]
    if channels_first:
        expected = (channels,) if bv.ndim == 1 else a.shape[2:] + (channels,)
        target = (1, channels) + ((1,) * (a.ndim - 2) if bv.ndim == 1 else a.shape[2:])
    else:
        expected, target = a.shape[a.ndim - bv.ndim:], bv.shape
    if bv.shape != expected:
        raise ValueError(
            f"`bias_add`: bias of shape {bv.shape} does not match input of shape {a.shape} "
            f"with data_format='{data_format}' (expected bias shape {expected}).")
    out = a + bv.reshape(target)

    def vjp(g):
        gb = unbroadcast(g, target).reshape(bv.shape) if bias.tracked else None
        return (g if x.tracked else None), gb
    return make(out, (x, bias), vjp, "bias_add")


def l2_normalize(x: Any, axis: Any = None) -> Tensor:
    """``x / sqrt(max(sum(x**2, axis), 1e-12))`` (``tf.math.l2_normalize``)."""
    x = convert_to_tensor(x)
    axis = tuple(axis) if isinstance(axis, list) else axis
    v = x.value
    sq = np.sum(np.square(v), axis=axis, keepdims=True)
    big = sq > 1e-12
    inv = 1 / np.sqrt(np.maximum(sq, 1e-12))
    out = v * inv

    def vjp(g):
        along = np.sum(g * out, axis=axis, keepdims=True)
        return (inv * (g - out * (along * big)),)
    return make(out, (x,), vjp, "l2_normalize")


register_function(np.dot, dot, {"a": "x", "b": "y"})
register_ufunc(np.matmul, matmul)
