"""CUDA twins of :mod:`fastkeras.kernels.optim`: fused optimizer updates on device arrays.

Same arguments, same formulas, same order of operations, one thread per element. Variables and
slots are 1-D C-contiguous device arrays of one float dtype and are updated in place, so
optimizer state never leaves the GPU; the scalars are cast to that dtype, so float32 variables
are updated in float32 arithmetic. The GPU compiler fuses ``a*b + c`` into one multiply-add
(rounded once), so results agree with the CPU kernels to within a couple of units in the last
place rather than bit for bit.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import cuda

from fastkeras.kernels.cuda.launch import FLOAT_DTYPES, device_array, grid, scalar


@cuda.jit(device=True, inline=True)
def _prepared(gi, gscale, clip):
    gi = gi * gscale
    if gi > clip:
        gi = clip
    elif gi < -clip:
        gi = -clip
    return gi


@cuda.jit(cache=True)
def _sgd(w, g, gscale, clip, decay, lr):
    for i in range(cuda.grid(1), w.size, cuda.gridsize(1)):
        gi = _prepared(g[i], gscale, clip)
        w[i] = w[i] * decay - lr * gi


@cuda.jit(cache=True)
def _sgd_momentum(w, g, velocity, gscale, clip, decay, lr, momentum, nesterov):
    for i in range(cuda.grid(1), w.size, cuda.gridsize(1)):
        gi = _prepared(g[i], gscale, clip)
        vi = velocity[i] * momentum - lr * gi
        velocity[i] = vi
        wi = w[i] * decay
        if nesterov:
            w[i] = (wi - lr * gi) + momentum * vi
        else:
            w[i] = wi + vi


@cuda.jit(cache=True)
def _adam(w, g, m, v, v_hat, gscale, clip, decay, alpha, beta_1, one_minus_beta_1, beta_2,
          one_minus_beta_2, epsilon, amsgrad):
    for i in range(cuda.grid(1), w.size, cuda.gridsize(1)):
        gi = _prepared(g[i], gscale, clip)
        mi = m[i] * beta_1 + one_minus_beta_1 * gi
        vi = v[i] * beta_2 + one_minus_beta_2 * (gi * gi)
        m[i] = mi
        v[i] = vi
        if amsgrad:
            if v_hat[i] > vi:
                vi = v_hat[i]
            v_hat[i] = vi
        w[i] = w[i] * decay - (mi * alpha) / (math.sqrt(vi) + epsilon)


@cuda.jit(cache=True)
def _rmsprop(w, g, v, avg_g, mom, gscale, clip, decay, lr, rho, one_minus_rho, momentum,
             epsilon, centered, use_momentum):
    for i in range(cuda.grid(1), w.size, cuda.gridsize(1)):
        gi = _prepared(g[i], gscale, clip)
        vi = v[i] * rho + one_minus_rho * (gi * gi)
        v[i] = vi
        denom = vi + epsilon
        if centered:
            ai = avg_g[i] * rho + one_minus_rho * gi
            avg_g[i] = ai
            denom = denom - ai * ai
        delta = (gi * lr) / math.sqrt(denom)
        wi = w[i] * decay
        if use_momentum:
            delta = mom[i] * momentum + delta
            mom[i] = delta
        w[i] = wi - delta


@cuda.jit(cache=True)
def _adagrad(w, g, acc, gscale, clip, decay, lr, epsilon):
    for i in range(cuda.grid(1), w.size, cuda.gridsize(1)):
        gi = _prepared(g[i], gscale, clip)
        ai = acc[i] + gi * gi
        acc[i] = ai
        w[i] = w[i] * decay - (gi * lr) / math.sqrt(ai + epsilon)


def _arrays(w: Any, **slots: Any) -> tuple:
    """Check the variable and its slots: 1-D, C-contiguous, on the device, one float dtype."""
    w = device_array("w", w, dtypes=FLOAT_DTYPES, ndim=1)
    checked = [w]
    for name, a in slots.items():
        a = device_array(name, a, dtypes=FLOAT_DTYPES, shape=w.shape)
        if a.dtype != w.dtype:
            raise TypeError(f"`{name}` must have the variable's dtype {w.dtype}; got {a.dtype}")
        checked.append(a)
    return np.dtype(w.dtype), checked


def _optional(w: Any, name: str, a: Any, used: bool) -> Any:
    """A slot the variant may not use: checked like the others when used, else only its dtype."""
    if used:
        return _arrays(w, **{name: a})[1][1]
    return device_array(name, a, dtypes=(np.dtype(w.dtype),), contiguous=False)


def _scalars(dtype: np.dtype, **values: Any) -> list:
    return [scalar(name, value, dtype) for name, value in values.items()]


def sgd_step(w: Any, g: Any, gscale: Any, clip: Any, decay: Any, lr: Any) -> None:
    """Plain SGD: ``w = w*decay - lr*g`` (see :func:`fastkeras.kernels.optim.sgd_step`)."""
    dtype, arrays = _arrays(w, g=g)
    _sgd[grid(arrays[0].size)](
        *arrays, *_scalars(dtype, gscale=gscale, clip=clip, decay=decay, lr=lr))


def sgd_momentum_step(w: Any, g: Any, velocity: Any, gscale: Any, clip: Any, decay: Any,
                      lr: Any, momentum: Any, nesterov: bool) -> None:
    """SGD with momentum (see :func:`fastkeras.kernels.optim.sgd_momentum_step`)."""
    dtype, arrays = _arrays(w, g=g, velocity=velocity)
    _sgd_momentum[grid(arrays[0].size)](
        *arrays, *_scalars(dtype, gscale=gscale, clip=clip, decay=decay, lr=lr,
                           momentum=momentum), bool(nesterov))


def adam_step(w: Any, g: Any, m: Any, v: Any, v_hat: Any, gscale: Any, clip: Any, decay: Any,
              alpha: Any, beta_1: Any, one_minus_beta_1: Any, beta_2: Any,
              one_minus_beta_2: Any, epsilon: Any, amsgrad: bool) -> None:
    """Adam (see :func:`fastkeras.kernels.optim.adam_step`); ``v_hat`` is read with ``amsgrad``.

    Without ``amsgrad``, ``v_hat`` is not touched and may be any device array of the dtype.
    """
    dtype, arrays = _arrays(w, g=g, m=m, v=v)
    v_hat = _optional(arrays[0], "v_hat", v_hat, amsgrad)
    _adam[grid(arrays[0].size)](
        *arrays, v_hat,
        *_scalars(dtype, gscale=gscale, clip=clip, decay=decay, alpha=alpha, beta_1=beta_1,
                  one_minus_beta_1=one_minus_beta_1, beta_2=beta_2,
                  one_minus_beta_2=one_minus_beta_2, epsilon=epsilon), bool(amsgrad))


def rmsprop_step(w: Any, g: Any, v: Any, avg_g: Any, mom: Any, gscale: Any, clip: Any,
                 decay: Any, lr: Any, rho: Any, one_minus_rho: Any, momentum: Any,
                 epsilon: Any, centered: bool, use_momentum: bool) -> None:
    """RMSprop (see :func:`fastkeras.kernels.optim.rmsprop_step`).

    ``avg_g`` is read only when ``centered`` and ``mom`` only with ``use_momentum``; otherwise
    they may be any device arrays of the dtype.
    """
    dtype, arrays = _arrays(w, g=g, v=v)
    slots = [_optional(arrays[0], "avg_g", avg_g, centered),
             _optional(arrays[0], "mom", mom, use_momentum)]
    _rmsprop[grid(arrays[0].size)](
        *arrays, *slots,
        *_scalars(dtype, gscale=gscale, clip=clip, decay=decay, lr=lr, rho=rho,
                  one_minus_rho=one_minus_rho, momentum=momentum, epsilon=epsilon),
        bool(centered), bool(use_momentum))


def adagrad_step(w: Any, g: Any, acc: Any, gscale: Any, clip: Any, decay: Any, lr: Any,
                 epsilon: Any) -> None:
    """Adagrad (see :func:`fastkeras.kernels.optim.adagrad_step`)."""
    dtype, arrays = _arrays(w, g=g, acc=acc)
    _adagrad[grid(arrays[0].size)](
        *arrays, *_scalars(dtype, gscale=gscale, clip=clip, decay=decay, lr=lr, epsilon=epsilon))
