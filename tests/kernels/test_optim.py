"""The fused optimizer kernels against plain-numpy references of the same formulas."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fastkeras.kernels import optim as kernels


def _prepared(g, gscale, clip):
    return np.clip(g * gscale, -clip, clip)


def ref_sgd(w, g, gscale, clip, decay, lr):
    g = _prepared(g, gscale, clip)
    return w * decay - lr * g


def ref_sgd_momentum(w, g, v, gscale, clip, decay, lr, mu, nesterov):
    g = _prepared(g, gscale, clip)
    v = v * mu - lr * g
    w = w * decay
    return ((w - lr * g) + mu * v if nesterov else w + v), v


def ref_adam(w, g, m, v, vh, gscale, clip, decay, alpha, b1, omb1, b2, omb2, eps, amsgrad):
    g = _prepared(g, gscale, clip)
    m = m * b1 + omb1 * g
    v = v * b2 + omb2 * (g * g)
    vh = np.maximum(vh, v) if amsgrad else vh
    denom = np.sqrt(vh if amsgrad else v) + eps
    return w * decay - (m * alpha) / denom, m, v, vh


def ref_rmsprop(w, g, v, a, mom, gscale, clip, decay, lr, rho, omr, mu, eps, centered,
                use_momentum):
    g = _prepared(g, gscale, clip)
    v = v * rho + omr * (g * g)
    denom = v + eps
    if centered:
        a = a * rho + omr * g
        denom = denom - a * a
    delta = (g * lr) / np.sqrt(denom)
    if use_momentum:
        mom = mom * mu + delta
        delta = mom
    return w * decay - delta, v, a, mom


def ref_adagrad(w, g, acc, gscale, clip, decay, lr, eps):
    g = _prepared(g, gscale, clip)
    acc = acc + g * g
    return w * decay - (g * lr) / np.sqrt(acc + eps), acc


def _arrays(seed, n, dtype, count):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=n).astype(dtype) for _ in range(count)]


def _scalars(dtype, *values):
    return [np.dtype(dtype).type(x) for x in values]


cases = st.tuples(
    st.integers(0, 2 ** 16), st.integers(0, 300), st.sampled_from(["float32", "float64"]),
    st.sampled_from([1.0, 0.37]), st.sampled_from([np.inf, 0.5]), st.sampled_from([1.0, 0.95]))


def _close(actual, expected):
    np.testing.assert_array_max_ulp(actual, expected, maxulp=2)


@settings(max_examples=25, deadline=None)
@given(cases, st.booleans())
def test_sgd_kernels_match_numpy(case, nesterov):
    seed, n, dtype, gscale, clip, decay = case
    w, g, v = _arrays(seed, n, dtype, 3)
    gs, cl, de, lr, mu = _scalars(dtype, gscale, clip, decay, 0.1, 0.9)
    exp_w = ref_sgd(w, g, gs, cl, de, lr)
    w1 = w.copy()
    kernels.sgd_step(w1, g, gs, cl, de, lr)
    _close(w1, exp_w)

    exp_w, exp_v = ref_sgd_momentum(w, g, v, gs, cl, de, lr, mu, nesterov)
    w2, v2 = w.copy(), v.copy()
    kernels.sgd_momentum_step(w2, g, v2, gs, cl, de, lr, mu, nesterov)
    _close(w2, exp_w)
    _close(v2, exp_v)


@settings(max_examples=25, deadline=None)
@given(cases, st.booleans())
def test_adam_kernel_matches_numpy(case, amsgrad):
    seed, n, dtype, gscale, clip, decay = case
    w, g, m, v, vh = _arrays(seed, n, dtype, 5)
    v, vh = np.abs(v), np.abs(vh)
    sc = _scalars(dtype, gscale, clip, decay, 0.03, 0.9, 1 - 0.9, 0.999, 1 - 0.999, 1e-7)
    expected = ref_adam(w, g, m, v, vh, *sc, amsgrad)
    got = [w.copy(), m.copy(), v.copy(), vh.copy()]
    kernels.adam_step(got[0], g, got[1], got[2], got[3], *sc, amsgrad)
    for a, e in zip(got, expected):
        _close(a, e)


@settings(max_examples=25, deadline=None)
@given(cases, st.booleans(), st.booleans())
def test_rmsprop_kernel_matches_numpy(case, centered, use_momentum):
    seed, n, dtype, gscale, clip, decay = case
    w, g, v, a, mom = _arrays(seed, n, dtype, 5)
    v = np.abs(v) + 1.0
    a = a * 0.1
    sc = _scalars(dtype, gscale, clip, decay, 0.01, 0.9, 1 - 0.9, 0.5, 1e-7)
    expected = ref_rmsprop(w, g, v, a, mom, *sc, centered, use_momentum)
    got = [w.copy(), v.copy(), a.copy(), mom.copy()]
    kernels.rmsprop_step(got[0], g, got[1], got[2], got[3], *sc, centered, use_momentum)
    for x, e in zip(got, expected):
        _close(x, e)


@settings(max_examples=25, deadline=None)
@given(cases)
def test_adagrad_kernel_matches_numpy(case):
    seed, n, dtype, gscale, clip, decay = case
    w, g, acc = _arrays(seed, n, dtype, 3)
    acc = np.abs(acc)
    sc = _scalars(dtype, gscale, clip, decay, 0.01, 1e-7)
    exp_w, exp_acc = ref_adagrad(w, g, acc, *sc)
    w1, acc1 = w.copy(), acc.copy()
    kernels.adagrad_step(w1, g, acc1, *sc)
    _close(w1, exp_w)
    _close(acc1, exp_acc)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_identity_settings_leave_gradient_exact(dtype):
    # gscale 1, clip inf and decay 1 must not perturb a single bit of the plain update.
    w, g = _arrays(7, 50, dtype, 2)
    gs, cl, de, lr = _scalars(dtype, 1.0, np.inf, 1.0, 0.1)
    w1 = w.copy()
    kernels.sgd_step(w1, g, gs, cl, de, lr)
    np.testing.assert_array_equal(w1, w - lr * g)


def test_clipping_keeps_nan_gradients_nan():
    w = np.ones(3, np.float32)
    g = np.array([np.nan, 2.0, -2.0], np.float32)
    gs, cl, de, lr = _scalars("float32", 1.0, 0.5, 1.0, 0.1)
    kernels.sgd_step(w, g, gs, cl, de, lr)
    assert np.isnan(w[0])
    np.testing.assert_allclose(w[1:], [0.95, 1.05], rtol=1e-6)
