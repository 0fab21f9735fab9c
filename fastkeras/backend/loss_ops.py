"""Crossentropies with Keras 2's argument order ``(target, output, from_logits=False)``.

Forward values follow Keras (probabilities clipped to ``[epsilon, 1 - epsilon]``; categorical
outputs renormalised to sum to 1). When ``output`` is a recorded ``sigmoid`` (binary) or last-axis
``softmax`` (categorical) op, the gradient goes straight to that op's logits as
``probabilities - target``: the numerically stable form, unaffected by the clipping.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from fastkeras.backend.config import epsilon
from fastkeras.backend.tensor import Tensor, convert_to_tensor, make, unbroadcast


def _fused_logits(output: Tensor, op: str) -> Tensor | None:
    """The logits behind ``output`` when it is a recorded ``op`` (softmax/sigmoid) result."""
    if output.op == op and output.vjp is not None and len(output.parents) == 1:
        return output.parents[0]
    return None


def binary_crossentropy(target: Any, output: Any, from_logits: bool = False) -> Tensor:
    """Elementwise binary crossentropy ``-(y log p + (1 - y) log(1 - p))``.

    ``p`` is clipped to ``[epsilon, 1 - epsilon]``; with ``from_logits=True``, ``output`` holds
    logits ``z`` and the stable ``max(z, 0) - z y + log(1 + exp(-|z|))`` is used.

    Raises
    ------
    ValueError
        If ``target`` and ``output`` do not broadcast.
    """
    target, output = convert_to_tensor(target), convert_to_tensor(output)
    p = output.value
    y = target.value.astype(p.dtype, copy=False)
    _check_broadcast(y.shape, p.shape, "binary_crossentropy")
    if from_logits:
        loss = np.maximum(p, 0) - p * y + np.log1p(np.exp(-np.abs(p)))

        def vjp(g):
            return (unbroadcast(g * (special.expit(p) - y), p.shape) if output.tracked else None,
                    unbroadcast(-g * p, y.shape) if target.tracked else None)
        return make(loss, (output, target), vjp, "binary_crossentropy")

    eps = epsilon()
    pc = np.clip(p, eps, 1 - eps)
    log_p, log_q = np.log(pc), np.log(1 - pc)
    loss = -(y * log_p + (1 - y) * log_q)
    logits = _fused_logits(output, "sigmoid")

    def vjp(g):
        gy = unbroadcast(g * (log_q - log_p), y.shape) if target.tracked else None
        if logits is not None:
            return unbroadcast(g * (p - y), p.shape), gy
        if not output.tracked:
            return None, gy
        inside = (p >= eps) & (p <= 1 - eps)
        return unbroadcast(g * inside * (pc - y) / (pc * (1 - pc)), p.shape), gy
    return make(loss, (logits if logits is not None else output, target), vjp,
                "binary_crossentropy")


def categorical_crossentropy(target: Any, output: Any, from_logits: bool = False,
                             axis: int = -1) -> Tensor:
    """Crossentropy ``-sum(y log p)`` along ``axis`` between one-hot-like targets and outputs.

    Without logits, ``output`` is first divided by its sum along ``axis`` and clipped to
    ``[epsilon, 1 - epsilon]``; with ``from_logits=True`` it is ``-sum(y log_softmax(z))``.

    Raises
    ------
    ValueError
        If ``target`` and ``output`` have different shapes.
    """
    target, output = convert_to_tensor(target), convert_to_tensor(output)
    p = output.value
    y = target.value.astype(p.dtype, copy=False)
    if y.shape != p.shape:
        raise ValueError(
            "Arguments `target` and `output` must have the same shape. Received: "
            f"target.shape={y.shape}, output.shape={p.shape}")
    if from_logits:
        log_sm = p - special.logsumexp(p, axis=axis, keepdims=True)
        loss = -np.sum(y * log_sm, axis=axis)

        def vjp(g):
            ge = np.expand_dims(g, axis)
            gz = ge * (np.exp(log_sm) * np.sum(y, axis=axis, keepdims=True) - y) \
                if output.tracked else None
            return gz, (-ge * log_sm if target.tracked else None)
        return make(loss, (output, target), vjp, "categorical_crossentropy")

    eps = epsilon()
    total = np.sum(p, axis=axis, keepdims=True)
    q = p / total
    qc = np.clip(q, eps, 1 - eps)
    log_q = np.log(qc)
    loss = -np.sum(y * log_q, axis=axis)
    last = axis % p.ndim == p.ndim - 1
    logits = _fused_logits(output, "softmax") if last else None

    def vjp(g):
        ge = np.expand_dims(g, axis)
        gy = -ge * log_q if target.tracked else None
        if logits is not None:
            return ge * (p * np.sum(y, axis=axis, keepdims=True) - y), gy
        if not output.tracked:
            return None, gy
        dq = -ge * y * ((q >= eps) & (q <= 1 - eps)) / qc
        return (dq - np.sum(dq * q, axis=axis, keepdims=True)) / total, gy
    return make(loss, (logits if logits is not None else output, target), vjp,
                "categorical_crossentropy")


def sparse_categorical_crossentropy(target: Any, output: Any, from_logits: bool = False,
                                    axis: int = -1) -> Tensor:
    """Categorical crossentropy with integer class labels.

    ``target`` holds class indices with the shape of ``output`` minus ``axis`` (a trailing size-1
    axis is allowed); float labels are truncated to integers. The math is
    :func:`categorical_crossentropy` on the one-hot labels.

    Raises
    ------
    ValueError
        If the label shape does not match, or a label is outside ``[0, num_classes)``.
    """
    target, output = convert_to_tensor(target), convert_to_tensor(output)
    p_in = output.value
    ax = axis % p_in.ndim
    p = np.moveaxis(p_in, ax, -1)
    labels = target.value
    if labels.ndim == p.ndim and labels.shape[-1] == 1:
        labels = labels.reshape(labels.shape[:-1])
    if labels.shape != p.shape[:-1]:
        raise ValueError(
            "`target` must hold one class index per entry of `output` without its class axis: "
            f"expected shape {p.shape[:-1]}, received target.shape={target.shape} "
            f"(output.shape={p_in.shape}).")
    labels = labels.astype(np.int64)
    n_classes = p.shape[-1]
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        bad = labels.min() if labels.min() < 0 else labels.max()
        raise ValueError(
            f"`target` holds the class index {bad}, outside the valid range [0, {n_classes}) "
            f"for an output with {n_classes} classes.")
    idx = labels[..., None]

    def one_hot():
        oh = np.zeros_like(p)
        np.put_along_axis(oh, idx, 1, axis=-1)
        return oh

    if from_logits:
        log_sm = p - special.logsumexp(p, axis=-1, keepdims=True)
        loss = -np.take_along_axis(log_sm, idx, axis=-1)[..., 0]

        def vjp(g):
            return (np.moveaxis(g[..., None] * (np.exp(log_sm) - one_hot()), -1, ax),)
        return make(loss, (output,), vjp, "sparse_categorical_crossentropy")

    eps = epsilon()
    total = np.sum(p, axis=-1, keepdims=True)
    q_true = np.take_along_axis(p, idx, axis=-1) / total
    qc_true = np.clip(q_true, eps, 1 - eps)
    loss = -np.log(qc_true)[..., 0]
    logits = _fused_logits(output, "softmax") if ax == p_in.ndim - 1 else None

    def vjp(g):
        ge = g[..., None]
        if logits is not None:
            return (ge * (p - one_hot()),)
        d_true = -ge * ((q_true >= eps) & (q_true <= 1 - eps)) / qc_true
        grad = (one_hot() * d_true - d_true * q_true) / total
        return (np.moveaxis(grad, -1, ax),)
    return make(loss, (logits if logits is not None else output,), vjp,
                "sparse_categorical_crossentropy")


def _check_broadcast(a: tuple, b: tuple, name: str) -> None:
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        raise ValueError(
            f"`{name}`: `target` of shape {a} and `output` of shape {b} do not broadcast.") \
            from None
