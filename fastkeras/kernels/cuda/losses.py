"""Loss values, loss gradients and accuracy counts of one batch on the GPU, for the resident
trainer (:mod:`fastkeras.engine.device_training`).

Each loss kernel reads a batch's outputs and targets and, in one pass, adds
``sum_r sample_weight[r] * loss[r]`` to ``acc[slot]`` (a float64 device accumulator, so running
means never leave the device between read-backs) and, when asked, writes the gradient of
``grad_scale * sum_r sample_weight[r] * loss[r]`` into ``dz``. The values follow
:mod:`fastkeras.losses` (probabilities normalised and clipped to ``[eps, 1 - eps]``, evaluated in
float64); the crossentropy gradients are taken with respect to the logits of the softmax or
sigmoid output, as the CPU engine's fused crossentropy sends them (``p * sum(y) - y``,
``p - onehot``, ``p - y``). One thread per row, rows summed in a fixed order by one block, so a
batch gives the same sum on every run.

The accuracy kernel adds each row's accuracy (0/1, or the row's mean of element matches for
binary accuracy) to ``acc[slot]``. :func:`gather_rows` makes the shuffled copy of a data set.
There are no CPU twins: the CPU engine computes these with numpy on its tape.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import cuda

from fastkeras.kernels.cuda.launch import (FLOAT_DTYPES, block_reduce, device_array, grid,
                                           same_dtype)

#: Threads of the one-block loss kernels: one warp walks a batch's rows (a power of two: the
#: block sum halves it).
REDUCE_THREADS = 32

CATEGORICAL, SPARSE_CATEGORICAL, BINARY = 0, 1, 2  # accuracy kinds


@cuda.jit(device=True, inline=True)
def _clipped_log(q, eps):
    if q < eps:
        q = eps
    elif q > 1.0 - eps:
        q = 1.0 - eps
    return math.log(q)


@cuda.jit(cache=True)
def _categorical_kernel(p, y, sw, has_sw, grad_scale, eps, want_grad, dz, acc, slot):
    buf = cuda.shared.array(REDUCE_THREADS, np.float64)
    rows, classes = p.shape
    local = 0.0
    for r in range(cuda.threadIdx.x, rows, cuda.blockDim.x):
        total = 0.0
        ysum = 0.0
        for j in range(classes):
            total += float(p[r, j])
            ysum += float(y[r, j])
        loss = 0.0
        for j in range(classes):
            yv = float(y[r, j])
            if yv != 0.0:
                loss -= yv * _clipped_log(float(p[r, j]) / total, eps)
        w = float(sw[r]) if has_sw else 1.0
        local += w * loss
        if want_grad:
            s = grad_scale * w
            for j in range(classes):
                dz[r, j] = s * (float(p[r, j]) * ysum - float(y[r, j]))
    total_loss = block_reduce(buf, local, False)
    if cuda.threadIdx.x == 0:
        acc[slot] += total_loss


@cuda.jit(cache=True)
def _sparse_categorical_kernel(p, labels, sw, has_sw, grad_scale, eps, want_grad, dz, acc,
                               slot):
    buf = cuda.shared.array(REDUCE_THREADS, np.float64)
    rows, classes = p.shape
    local = 0.0
    for r in range(cuda.threadIdx.x, rows, cuda.blockDim.x):
        label = labels[r]
        total = 0.0
        for j in range(classes):
            total += float(p[r, j])
        w = float(sw[r]) if has_sw else 1.0
        local += w * -_clipped_log(float(p[r, label]) / total, eps)
        if want_grad:
            s = grad_scale * w
            for j in range(classes):
                dz[r, j] = s * (float(p[r, j]) - (1.0 if j == label else 0.0))
    total_loss = block_reduce(buf, local, False)
    if cuda.threadIdx.x == 0:
        acc[slot] += total_loss


@cuda.jit(cache=True)
def _binary_kernel(p, y, sw, has_sw, grad_scale, eps, want_grad, dz, acc, slot):
    buf = cuda.shared.array(REDUCE_THREADS, np.float64)
    rows, units = p.shape
    local = 0.0
    for r in range(cuda.threadIdx.x, rows, cuda.blockDim.x):
        loss = 0.0
        for j in range(units):
            pv = float(p[r, j])
            yv = float(y[r, j])
            loss -= yv * _clipped_log(pv, eps) + (1.0 - yv) * _clipped_log(1.0 - pv, eps)
        w = float(sw[r]) if has_sw else 1.0
        local += w * (loss / units)
        if want_grad:
            s = grad_scale * w / units
            for j in range(units):
                dz[r, j] = s * (float(p[r, j]) - float(y[r, j]))
    total_loss = block_reduce(buf, local, False)
    if cuda.threadIdx.x == 0:
        acc[slot] += total_loss


@cuda.jit(cache=True)
def _squared_error_kernel(p, y, sw, has_sw, grad_scale, eps, want_grad, dz, acc, slot):
    buf = cuda.shared.array(REDUCE_THREADS, np.float64)
    rows, units = p.shape
    local = 0.0
    for r in range(cuda.threadIdx.x, rows, cuda.blockDim.x):
        loss = 0.0
        for j in range(units):
            d = float(p[r, j]) - float(y[r, j])
            loss += d * d
        w = float(sw[r]) if has_sw else 1.0
        local += w * (loss / units)
        if want_grad:
            s = grad_scale * w * 2.0 / units
            for j in range(units):
                dz[r, j] = s * (float(p[r, j]) - float(y[r, j]))
    total_loss = block_reduce(buf, local, False)
    if cuda.threadIdx.x == 0:
        acc[slot] += total_loss


@cuda.jit(cache=True)
def _accuracy_kernel(p, y, labels, kind, threshold, acc, slot):
    buf = cuda.shared.array(REDUCE_THREADS, np.float64)
    rows, units = p.shape
    local = 0.0
    for r in range(cuda.threadIdx.x, rows, cuda.blockDim.x):
        if kind == BINARY:
            hits = 0.0
            for j in range(units):
                predicted = 1.0 if float(p[r, j]) > threshold else 0.0
                hits += 1.0 if float(y[r, j]) == predicted else 0.0
            local += hits / units
        else:
            best = 0  # argmax of the prediction, ties to the first index
            for j in range(1, units):
                if p[r, j] > p[r, best]:
                    best = j
            if kind == SPARSE_CATEGORICAL:
                target = labels[r]
            else:
                target = 0
                for j in range(1, units):
                    if y[r, j] > y[r, target]:
                        target = j
            local += 1.0 if target == best else 0.0
    total = block_reduce(buf, local, False)
    if cuda.threadIdx.x == 0:
        acc[slot] += total


_LOSS_KERNELS = {"categorical_crossentropy": _categorical_kernel,
                 "sparse_categorical_crossentropy": _sparse_categorical_kernel,
                 "binary_crossentropy": _binary_kernel,
                 "mean_squared_error": _squared_error_kernel}

#: The losses :func:`loss_batch` computes.
LOSSES = tuple(_LOSS_KERNELS)

_DUMMY: dict = {}


def _placeholder(dtype: Any) -> Any:
    """A 1 x 1 device array of ``dtype`` for an argument a kernel variant does not read."""
    dtype = np.dtype(dtype)
    if dtype not in _DUMMY:
        _DUMMY[dtype] = cuda.device_array((1, 1), dtype=dtype)
    return _DUMMY[dtype]


def _accumulator(acc: Any, slot: Any) -> tuple:
    acc = device_array("acc", acc, dtypes=(np.dtype(np.float64),), ndim=1)
    if isinstance(slot, bool) or not isinstance(slot, (int, np.integer)) \
            or not 0 <= slot < acc.shape[0]:
        raise ValueError(f"`slot` must be an index into `acc` (0 ... {acc.shape[0] - 1}); "
                         f"got {slot!r}")
    return acc, int(slot)


def loss_batch(name: str, p: Any, y: Any, sample_weight: Any, grad_scale: float, eps: float,
               dz: Any, acc: Any, slot: int) -> None:
    """Add one batch's weighted loss sum to ``acc[slot]``; write its gradient into ``dz``.

    Parameters
    ----------
    name : str
        One of :data:`LOSSES`.
    p : device array, (rows, units)
        The model's output (probabilities for the crossentropies), float32 or float64.
    y : device array
        Targets: ``p``'s shape and dtype, or for ``'sparse_categorical_crossentropy'`` int32
        class labels of shape ``(rows,)`` (checked on the host when uploaded).
    sample_weight : device array (rows,) of ``p``'s dtype, or None
    grad_scale : float
        Factor of the gradient (``1 / rows`` for Keras's sum-over-batch-size mean).
    eps : float
        Clipping of probabilities in the loss value (the backend epsilon).
    dz : device array like ``p``, or None
        The gradient with respect to the logits of the output's softmax/sigmoid (the
        crossentropies) or to the output itself (``'mean_squared_error'``); None: values only.
    acc : device array, float64, 1-D
        Accumulators; ``acc[slot] += sum(sample_weight * loss)``.
    slot : int

    Raises
    ------
    ValueError, TypeError
        For an unknown ``name``, or arrays of the wrong kind, shape or dtype.
    """
    if name not in _LOSS_KERNELS:
        raise ValueError(f"`name` must be one of {', '.join(LOSSES)}; got {name!r}")
    p = device_array("p", p, dtypes=FLOAT_DTYPES, ndim=2)
    dtype = np.dtype(p.dtype)
    if name == "sparse_categorical_crossentropy":
        y = device_array("y", y, dtypes=(np.dtype(np.int32),), shape=(p.shape[0],))
    else:
        y = device_array("y", y, dtypes=(dtype,), shape=p.shape)
    has_sw = sample_weight is not None
    sw = device_array("sample_weight", sample_weight, dtypes=(dtype,),
                      shape=(p.shape[0],)) if has_sw else _placeholder(dtype)[0]
    want_grad = dz is not None
    if want_grad:
        dz = device_array("dz", dz, dtypes=FLOAT_DTYPES, shape=p.shape)
        same_dtype("`p` and `dz`", p, dz)
    else:
        dz = _placeholder(dtype)
    acc, slot = _accumulator(acc, slot)
    if p.shape[0] == 0:
        return
    _LOSS_KERNELS[name][1, REDUCE_THREADS](p, y, sw, has_sw, float(grad_scale), float(eps),
                                           want_grad, dz, acc, slot)


def accuracy_batch(kind: int, p: Any, y: Any, acc: Any, slot: int,
                   threshold: float = 0.5) -> None:
    """Add the batch's per-row accuracies to ``acc[slot]``.

    Parameters
    ----------
    kind : int
        :data:`CATEGORICAL` (``argmax y == argmax p``), :data:`SPARSE_CATEGORICAL`
        (``label == argmax p``; ``y`` int32 labels ``(rows,)``) or :data:`BINARY` (the row's
        mean of ``y == (p > threshold)``).
    p : device array, (rows, units)
    y : device array
        ``p``'s shape and dtype, or int32 labels for the sparse kind.
    acc, slot
        As for :func:`loss_batch`.
    threshold : float
        The binary kind's decision threshold.
    """
    if kind not in (CATEGORICAL, SPARSE_CATEGORICAL, BINARY):
        raise ValueError(f"`kind` must be CATEGORICAL, SPARSE_CATEGORICAL or BINARY; got {kind!r}")
    p = device_array("p", p, dtypes=FLOAT_DTYPES, ndim=2)
    if kind == SPARSE_CATEGORICAL:
        labels = device_array("y", y, dtypes=(np.dtype(np.int32),), shape=(p.shape[0],))
        y = _placeholder(p.dtype)
    else:
        y = device_array("y", y, dtypes=(np.dtype(p.dtype),), shape=p.shape)
        labels = _placeholder(np.int32)[0]
    acc, slot = _accumulator(acc, slot)
    if p.shape[0] == 0:
        return
    _accuracy_kernel[1, REDUCE_THREADS](p, y, labels, int(kind), float(threshold), acc, slot)


@cuda.jit(cache=True)
def _gather_kernel(src, index, out):
    rows, width = out.shape
    for i in range(cuda.grid(1), rows * width, cuda.gridsize(1)):
        r = i // width
        j = i - r * width
        out[r, j] = src[index[r], j]


def gather_rows(src: Any, index: Any, out: Any) -> None:
    """``out[r] = src[index[r]]`` for 2-D device arrays of one dtype (a shuffled copy).

    ``index`` is an int64 device array of ``out.shape[0]`` row numbers of ``src``, checked on
    the host by the caller (a permutation is always in range).
    """
    src = device_array("src", src, ndim=2)
    out = device_array("out", out, ndim=2)
    index = device_array("index", index, dtypes=(np.dtype(np.int64),), shape=(out.shape[0],))
    same_dtype("`src` and `out`", src, out)
    if src.shape[1] != out.shape[1]:
        raise ValueError(f"`src` and `out` must have rows of one length; got {src.shape[1]} and "
                         f"{out.shape[1]}")
    if out.size:
        _gather_kernel[grid(out.size)](src, index, out)
