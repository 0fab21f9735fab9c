"""Fused optimizer updates, in place on flat variable and slot arrays.

Each kernel does one whole optimizer step for one variable in a single pass over memory:
gradient scaling (loss-scale undo, ``clipnorm``/``global_clipnorm`` factor), ``clipvalue``
clipping, decoupled weight decay (the variable multiplied by ``decay = 1 - wd*lr``) and the
update of the variable and its slots. All arrays are 1-D, C-contiguous and of one float dtype
(float32 or float64); every scalar is passed in that same dtype, so float32 variables are
updated in float32 arithmetic, operation for operation as Keras's torch backend does it.
A ``clip`` of ``inf``, a ``gscale`` of 1 and a ``decay`` of 1 leave the gradient and the variable
exactly as they are. A NaN gradient stays NaN (clipping never hides it).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(inline="always")
def _prepared(gi, gscale, clip):
    gi = gi * gscale
    if gi > clip:
        gi = clip
    elif gi < -clip:
        gi = -clip
    return gi


@njit(parallel=True, cache=True)
def sgd_step(w, g, gscale, clip, decay, lr):
    """Plain SGD: ``w = w*decay - lr*g``."""
    for i in prange(w.size):
        gi = _prepared(g[i], gscale, clip)
        w[i] = w[i] * decay - lr * gi


@njit(parallel=True, cache=True)
def sgd_momentum_step(w, g, velocity, gscale, clip, decay, lr, momentum, nesterov):
    """SGD with momentum: ``v = mu*v - lr*g``; ``w += v``, or ``w += mu*v - lr*g`` (Nesterov)."""
    for i in prange(w.size):
        gi = _prepared(g[i], gscale, clip)
        vi = velocity[i] * momentum - lr * gi
        velocity[i] = vi
        wi = w[i] * decay
        if nesterov:
            w[i] = (wi - lr * gi) + momentum * vi
        else:
            w[i] = wi + vi


@njit(parallel=True, cache=True)
def adam_step(w, g, m, v, v_hat, gscale, clip, decay, alpha, beta_1, one_minus_beta_1,
              beta_2, one_minus_beta_2, epsilon, amsgrad):
    """Adam: moments updated, then ``w -= alpha*m / (sqrt(v) + eps)``.

    ``alpha`` is the bias-corrected step ``lr*sqrt(1-beta_2^t)/(1-beta_1^t)``. With ``amsgrad``
    ``v_hat`` keeps the running maximum of ``v`` and replaces it in the denominator; without it
    ``v_hat`` is not touched (any array of the right dtype may be passed).
    """
    for i in prange(w.size):
        gi = _prepared(g[i], gscale, clip)
        mi = m[i] * beta_1 + one_minus_beta_1 * gi
        vi = v[i] * beta_2 + one_minus_beta_2 * (gi * gi)
        m[i] = mi
        v[i] = vi
        if amsgrad:
            if v_hat[i] > vi:
                vi = v_hat[i]
            v_hat[i] = vi
        w[i] = w[i] * decay - (mi * alpha) / (np.sqrt(vi) + epsilon)


@njit(parallel=True, cache=True)
def rmsprop_step(w, g, v, avg_g, mom, gscale, clip, decay, lr, rho, one_minus_rho, momentum,
                 epsilon, centered, use_momentum):
    """RMSprop: ``v = rho*v + (1-rho)*g^2``, ``delta = lr*g / sqrt(v + eps [- avg_g^2])``.

    ``centered`` also tracks the mean gradient ``avg_g``; ``use_momentum`` accumulates
    ``mom = momentum*mom + delta`` and subtracts ``mom`` instead of ``delta``. Slot arrays a
    variant does not use are not touched.
    """
    for i in prange(w.size):
        gi = _prepared(g[i], gscale, clip)
        vi = v[i] * rho + one_minus_rho * (gi * gi)
        v[i] = vi
        denom = vi + epsilon
        if centered:
            ai = avg_g[i] * rho + one_minus_rho * gi
            avg_g[i] = ai
            denom = denom - ai * ai
        delta = (gi * lr) / np.sqrt(denom)
        wi = w[i] * decay
        if use_momentum:
            delta = mom[i] * momentum + delta
            mom[i] = delta
        w[i] = wi - delta


@njit(parallel=True, cache=True)
def adagrad_step(w, g, acc, gscale, clip, decay, lr, epsilon):
    """Adagrad: ``acc += g^2``, ``w -= lr*g / sqrt(acc + eps)``."""
    for i in prange(w.size):
        gi = _prepared(g[i], gscale, clip)
        ai = acc[i] + gi * gi
        acc[i] = ai
        w[i] = w[i] * decay - (gi * lr) / np.sqrt(ai + epsilon)
