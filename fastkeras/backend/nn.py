"""Neural-network ops over the fused kernels: Dense, activations and weight penalties.

Each op takes tensors or arrays, runs one fused kernel from :mod:`fastkeras.kernels.dense` and
returns a :class:`~fastkeras.backend.tensor.Tensor` that records its vector-Jacobian product while
a tape is recording. Softmax and sigmoid are recorded as their own node (``op='softmax'`` /
``op='sigmoid'``, ``parents == (logits,)``) so losses can fuse them with crossentropy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastkeras.backend.config import floatx
from fastkeras.backend.tensor import Tensor, is_recording, make, value_of
from fastkeras.kernels import dense as kd

_EMPTY = {np.dtype(np.float32): np.zeros(0, np.float32),
          np.dtype(np.float64): np.zeros(0, np.float64)}
_OP_NAMES = {kd.SOFTMAX: "softmax", kd.SIGMOID: "sigmoid"}
# op names for the tape: a code's first name in ACTIVATIONS ('relu' rather than 'relu6')
_CODE_NAMES = {code: name for name, (code, _) in reversed(kd.ACTIVATIONS.items())}


def _dtypes(dtype: np.dtype) -> tuple[np.dtype, np.dtype]:
    """(result dtype, kernel dtype) for an input dtype: floats keep theirs, others get floatx;
    the kernels run float64 for float64 and float32 for every other float."""
    out = dtype if dtype.kind == "f" else np.dtype(floatx())
    return out, np.dtype(np.float64 if out == np.float64 else np.float32)


def _rows(value: np.ndarray, rows_shape: tuple, dtype: np.dtype) -> np.ndarray:
    """A writable C-contiguous ``rows_shape`` array of ``dtype`` holding ``value`` (no copy if
    it already is one): the kernels' only specialisation."""
    a = np.ascontiguousarray(np.reshape(value, rows_shape), dtype=dtype)
    return a if a.flags.writeable else a.copy()


def _check_code(code: int, params: np.ndarray | None) -> np.ndarray:
    if not isinstance(code, (int, np.integer)) or not kd.LINEAR <= code <= kd.MISH:
        raise ValueError(f"Invalid activation code: {code!r}. Expected one of the constants in "
                         "fastkeras.kernels.dense (LINEAR ... MISH).")
    if params is None:
        return kd.NO_PARAMS
    params = np.asarray(params, dtype=np.float64)
    if params.shape != (kd.NPARAMS,):
        raise ValueError(f"`params` must have shape ({kd.NPARAMS},); received {params.shape}.")
    return params


def _tracked(*xs: Any) -> bool:
    return is_recording() and any(isinstance(t, Tensor) and t.tracked for t in xs)


def _activation_vjp(z: np.ndarray, y: np.ndarray, code: int, params: np.ndarray,
                    shape: tuple, dtype: np.dtype):
    """VJP of ``y = f(z)`` over ``(rows, units)`` kernel arrays, returning ``shape``/``dtype``."""
    saved = z if code in kd.NEEDS_PREACTIVATION else y

    def vjp(g):
        g2 = _rows(g, y.shape, y.dtype)
        dz = np.empty_like(g2)
        kd.activation_backward(g2, saved, y, code, params, dz)
        return (dz.reshape(shape).astype(dtype, copy=False),)
    return vjp


def dense(x: Any, kernel: Any, bias: Any = None, activation_code: int = kd.LINEAR,
          params: np.ndarray | None = None) -> Tensor:
    """``f(x @ kernel + bias)`` as one fused, differentiable op.

    Parameters
    ----------
    x : Tensor, array_like or scipy.sparse matrix, shape ``(..., d)``
        The input; the product contracts its last axis only, leading axes are kept. A sparse
        matrix (2-D) is multiplied as such and gets no gradient.
    kernel : Tensor or array_like, shape ``(d, units)``
        The weights, of a float dtype: ``x`` and ``bias`` are cast to it (float16 is computed in
        float32 and rounded back).
    bias : Tensor or array_like, shape ``(units,)``, optional
    activation_code : int
        One of the activation codes of :mod:`fastkeras.kernels.dense`.
    params : ndarray, optional
        The code's parameters (see :data:`fastkeras.kernels.dense.ACTIVATIONS`).

    Returns
    -------
    Tensor
        Shape ``(..., units)``. With a softmax or sigmoid code a tape records two nodes: the
        logits (``op='dense'``) and the activation (``op='softmax'`` / ``'sigmoid'``).
    """
    params = _check_code(activation_code, params)
    code = int(activation_code)
    sparse = type(x).__module__.startswith("scipy.sparse")
    xv = x if sparse else np.asarray(value_of(x))
    kv = np.asarray(value_of(kernel))
    bv = None if bias is None else np.asarray(value_of(bias))
    if kv.ndim != 2:
        raise ValueError(f"`kernel` must be 2-D (input_dim, units); received shape {kv.shape}.")
    if kv.dtype.kind != "f":
        raise TypeError(f"`kernel` must have a float dtype; received dtype {kv.dtype}.")
    d, units = kv.shape
    if xv.ndim < 1 or xv.shape[-1] != d:
        raise ValueError(f"The last axis of `x` must match the kernel's first axis {d}; "
                         f"received x shape {xv.shape} and kernel shape {kv.shape}.")
    if bv is not None and bv.shape != (units,):
        raise ValueError(f"`bias` must have shape ({units},); received {bv.shape}.")

    out_dtype, dtype = _dtypes(kv.dtype)
    out_shape = xv.shape[:-1] + (units,)
    x2 = xv.tocsr().astype(dtype) if sparse else np.ascontiguousarray(xv.reshape(-1, d),
                                                                      dtype=dtype)
    k2 = kv.astype(dtype, copy=False)
    b2 = _EMPTY[dtype] if bv is None else _rows(bv, (units,), dtype)
    record = _tracked(x, kernel, bias)
    split = record and code in _OP_NAMES
    z = np.empty((x2.shape[0], units), dtype)
    y = np.empty_like(z) if record and (split or code in kd.NEEDS_PREACTIVATION) else z
    kd.dense_forward(x2, k2, b2, code, params, z, y)
    if not record:
        return Tensor(y.reshape(out_shape).astype(out_dtype, copy=False))

    parents = tuple(t for t in (x, kernel, bias) if isinstance(t, Tensor))
    linear_code = kd.LINEAR if split else code

    def vjp(g):
        g2 = _rows(g, z.shape, dtype)
        dz = g2 if linear_code == kd.LINEAR else np.empty_like(g2)
        want = [isinstance(t, Tensor) and t.tracked for t in (x, kernel, bias)]
        dx = np.empty_like(x2) if want[0] else None
        dk = np.empty_like(k2) if want[1] else None
        db = np.empty(units, dtype) if want[2] else None
        kd.dense_backward(g2, x2, k2, z, y, linear_code, params, dz, dx, dk, db)
        grads = (None if dx is None else dx.reshape(xv.shape).astype(xv.dtype, copy=False),
                 None if dk is None else dk.astype(kv.dtype, copy=False),
                 None if db is None else db.astype(bv.dtype, copy=False))
        return tuple(gr for gr, t in zip(grads, (x, kernel, bias)) if isinstance(t, Tensor))

    def result(a):
        return a.reshape(out_shape).astype(out_dtype, copy=False)

    if not split:
        return make(result(y), parents, vjp, "dense")
    logits = make(result(z), parents, vjp, "dense")
    return make(result(y), (logits,),
                _activation_vjp(z, y, code, params, out_shape, out_dtype), _OP_NAMES[code])


def activation(x: Any, activation_code: int, params: np.ndarray | None = None,
               axis: int = -1) -> Tensor:
    """An element-wise activation (or softmax along ``axis``) as one fused, differentiable op.

    Parameters
    ----------
    x : Tensor or array_like
        Float inputs keep their dtype (float16 is computed in float32); others become floatx.
    activation_code : int
        One of the activation codes of :mod:`fastkeras.kernels.dense`; LINEAR returns ``x``.
    params : ndarray, optional
        The code's parameters.
    axis : int
        The softmax axis (ignored by the other codes).

    Returns
    -------
    Tensor
        Same shape as ``x``; recorded with ``op='softmax'``/``'sigmoid'`` for those codes (softmax
        only when it runs over the last axis), else with the code's name.
    """
    params = _check_code(activation_code, params)
    code = int(activation_code)
    x = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
    out_dtype, dtype = _dtypes(x.dtype)
    if code == kd.LINEAR:
        return x if x.dtype == out_dtype else x.astype(out_dtype)

    xv = x.value
    moved = code == kd.SOFTMAX and xv.ndim > 1 and axis % xv.ndim != xv.ndim - 1
    if code == kd.SOFTMAX and xv.ndim and not -xv.ndim <= axis < xv.ndim:
        raise ValueError(f"`axis` {axis} is out of bounds for an input of rank {xv.ndim}.")
    work = np.moveaxis(xv, axis, -1) if moved else xv
    rows_shape = (-1, work.shape[-1]) if work.ndim else (1, 1)
    z = _rows(work, rows_shape, dtype)
    y = np.empty_like(z)
    kd.bias_activation(z, _EMPTY[dtype], code, params, y)

    def shaped(a):
        a = a.reshape(work.shape)
        return (np.moveaxis(a, -1, axis) if moved else a).astype(out_dtype, copy=False)

    out = shaped(y)
    if not _tracked(x):
        return Tensor(out)
    inner = _activation_vjp(z, y, code, params, z.shape, dtype)

    def vjp(g):
        g = np.moveaxis(np.asarray(g), axis, -1) if moved else g
        return (shaped(inner(g)[0]),)

    name = _OP_NAMES.get(code) if not moved else "softmax_axis"
    return make(out, (x,), vjp, name or _CODE_NAMES[code])


def l1_l2_penalty(x: Any, l1: float = 0.0, l2: float = 0.0) -> Tensor:
    """``l1 * sum(|x|) + l2 * sum(x**2)`` as a differentiable scalar in ``x``'s dtype.

    Terms whose factor is 0 are skipped; the gradient of ``|x|`` at 0 is 0.
    """
    x = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
    v = x.value
    dtype = v.dtype if v.dtype.kind == "f" else np.dtype(floatx())
    total = np.zeros((), dtype)
    if l1:
        total = total + dtype.type(l1) * np.sum(np.abs(v), dtype=dtype)
    if l2:
        total = total + dtype.type(l2) * np.sum(np.square(v), dtype=dtype)

    def vjp(g):
        grad = np.zeros(v.shape, dtype)
        if l1:
            grad += dtype.type(l1) * np.sign(v)
        if l2:
            grad += dtype.type(2.0 * l2) * v
        return (grad * g,)
    return make(np.asarray(total, dtype), (x,), vjp, "l1_l2_penalty")
