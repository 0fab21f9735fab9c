"""fastkeras.kernels.dense against plain-numpy references written here."""

import math

import numpy as np
import pytest
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from fastkeras.kernels import dense as kd

SELU_A, SELU_S = 1.6732632423543772, 1.0507009873554805
C = math.sqrt(2 / math.pi)


def _sig(z):
    return scipy.special.expit(z)


# name -> (f(z), f'(z)) in float64 numpy; relu-family params are Keras defaults.
REFERENCE = {
    "linear": (lambda z: z, lambda z: np.ones_like(z)),
    "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0).astype(float)),
    "leaky_relu": (lambda z: np.where(z >= 0, z, 0.2 * z), lambda z: np.where(z > 0, 1.0, 0.2)),
    "relu6": (lambda z: np.clip(z, 0, 6), lambda z: ((z > 0) & (z < 6)).astype(float)),
    "sigmoid": (_sig, lambda z: _sig(z) * (1 - _sig(z))),
    "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "elu": (lambda z: np.where(z > 0, z, np.expm1(z)), lambda z: np.where(z > 0, 1.0, np.exp(z))),
    "selu": (lambda z: SELU_S * np.where(z > 0, z, SELU_A * np.expm1(z)),
             lambda z: SELU_S * np.where(z > 0, 1.0, SELU_A * np.exp(z))),
    "softplus": (lambda z: np.logaddexp(0, z), _sig),
    "softsign": (lambda z: z / (1 + np.abs(z)), lambda z: 1 / (1 + np.abs(z)) ** 2),
    "hard_sigmoid": (lambda z: np.clip(z / 6 + 0.5, 0, 1),
                     lambda z: np.where(np.abs(z) < 3, 1 / 6, 0.0)),
    "silu": (lambda z: z * _sig(z), lambda z: _sig(z) * (1 + z * (1 - _sig(z)))),
    "gelu": (lambda z: 0.5 * z * (1 + scipy.special.erf(z / math.sqrt(2))),
             lambda z: 0.5 * (1 + scipy.special.erf(z / math.sqrt(2)))
             + z * np.exp(-z * z / 2) / math.sqrt(2 * math.pi)),
    "gelu_approximate": (
        lambda z: 0.5 * z * (1 + np.tanh(C * (z + 0.044715 * z ** 3))),
        lambda z: 0.5 * (1 + np.tanh(C * (z + 0.044715 * z ** 3)))
        + 0.5 * z * (1 - np.tanh(C * (z + 0.044715 * z ** 3)) ** 2) * C
        * (1 + 3 * 0.044715 * z * z)),
    "exponential": (np.exp, np.exp),
    "hard_silu": (lambda z: z * np.clip(z / 6 + 0.5, 0, 1),
                  lambda z: np.where(z <= -3, 0.0, np.where(z >= 3, 1.0, z / 3 + 0.5))),
    "mish": (lambda z: z * np.tanh(np.logaddexp(0, z)),
             lambda z: np.tanh(np.logaddexp(0, z))
             + z * _sig(z) * (1 - np.tanh(np.logaddexp(0, z)) ** 2)),
}


def reference_forward(name, z):
    if name == "softmax":
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    return REFERENCE[name][0](z)


def reference_dz(name, z, g):
    if name == "softmax":
        y = reference_forward(name, z)
        return y * (g - np.sum(g * y, axis=-1, keepdims=True))
    return g * REFERENCE[name][1](z)


def away_from_kinks(z):
    """Move values within 1e-3 of a kink (0, +-3, 6) off it, so derivatives are unambiguous."""
    for k in (0.0, 3.0, -3.0, 6.0):
        near = np.abs(z - k) < 1e-3
        z = np.where(near, k + 0.01, z)
    return z


TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-11, atol=1e-11)}


def test_every_name_has_a_reference():
    assert set(kd.ACTIVATIONS) == set(REFERENCE) | {"softmax"}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("name", sorted(kd.ACTIVATIONS))
def test_dense_forward_and_backward_match_numpy(name, use_bias, dtype):
    rng = np.random.default_rng(abs(hash((name, use_bias))) % 2**32)
    rows, d, units = 13, 7, 9
    x = rng.standard_normal((rows, d)).astype(dtype)
    w = rng.standard_normal((d, units)).astype(dtype)
    b = rng.standard_normal(units).astype(dtype) if use_bias else np.zeros(0, dtype)
    g = rng.standard_normal((rows, units)).astype(dtype)
    code, params = kd.ACTIVATIONS[name]

    z = np.empty((rows, units), dtype)
    y = z if code == kd.LINEAR else np.empty_like(z)
    kd.dense_forward(x, w, b, code, params, z, y)

    pre = x.astype(np.float64) @ w.astype(np.float64) + (b if use_bias else 0)
    np.testing.assert_allclose(z, pre, **TOL[dtype])
    np.testing.assert_allclose(y, reference_forward(name, pre), **TOL[dtype])

    dz, dx, dw = np.empty_like(g), np.empty_like(x), np.empty_like(w)
    db = np.empty(units, dtype)
    kd.dense_backward(g, x, w, z, y, code, params, dz, dx, dw, db)
    dz_ref = reference_dz(name, z.astype(np.float64), g.astype(np.float64))
    np.testing.assert_allclose(dw, x.T.astype(np.float64) @ dz_ref, **TOL[dtype])
    np.testing.assert_allclose(db, dz_ref.sum(axis=0), **TOL[dtype])
    np.testing.assert_allclose(dx, dz_ref @ w.T.astype(np.float64), **TOL[dtype])
    assert dx.dtype == dw.dtype == db.dtype == dtype


@pytest.mark.parametrize("name", sorted(kd.ACTIVATIONS))
def test_activation_backward_matches_analytic_derivative(name):
    rng = np.random.default_rng(7)
    z = away_from_kinks(rng.normal(scale=3.0, size=(6, 50)))
    g = rng.standard_normal(z.shape)
    code, params = kd.ACTIVATIONS[name]
    y = np.empty_like(z)
    kd.bias_activation(z, np.zeros(0), code, params, z if code == kd.LINEAR else y)
    y = z if code == kd.LINEAR else y
    dz = np.empty_like(z)
    saved = z if code in kd.NEEDS_PREACTIVATION else y
    kd.activation_backward(g, saved, y, code, params, dz)
    np.testing.assert_allclose(dz, reference_dz(name, z, g), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("slope,max_value,threshold", [
    (0.1, 3.0, 1.0), (0.5, None, 0.0), (0.0, 5.0, 0.0), (0.0, None, 5.0), (0.3, None, -1.0),
    (0.0, 2.0, -1.0)])
def test_parametrised_relu_matches_keras_formula(slope, max_value, threshold):
    z = away_from_kinks(np.linspace(-8, 8, 321))
    for k in (threshold, max_value or 0.0):
        z = np.where(np.abs(z - k) < 1e-3, k + 0.01, z)
    z = z.reshape(1, -1)
    # Keras 3: where(x > t, x, 0), clipped to [0, max] only when max is given, minus slope part.
    a = np.where(z > threshold, z, 0.0)
    if max_value is not None:
        a = np.clip(a, 0.0, max_value)
    expected = a - slope * np.maximum(threshold - z, 0.0)
    params = kd.relu_params(slope, max_value, threshold)
    y = np.empty_like(z)
    kd.bias_activation(z.copy(), np.zeros(0), kd.RELU, params, y)
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-15)

    h = 1e-6
    yp, ym = np.empty_like(z), np.empty_like(z)
    kd.bias_activation(z + h, np.zeros(0), kd.RELU, params, yp)
    kd.bias_activation(z - h, np.zeros(0), kd.RELU, params, ym)
    fd = (yp - ym) / (2 * h)
    dz = np.empty_like(z)
    kd.activation_backward(np.ones_like(z), z, y, kd.RELU, params, dz)
    np.testing.assert_allclose(dz, fd, atol=1e-8)


def test_spec_relu_example():
    x = np.array([[-4, -1, 0, 0.5, 2, 4]])
    y = np.empty_like(x)
    kd.bias_activation(x, np.zeros(0), kd.RELU, kd.relu_params(0.1, 3, 1), y)
    np.testing.assert_allclose(y, [[-0.5, -0.2, -0.1, -0.05, 2, 3]], atol=1e-15)


def test_elu_alpha():
    z = np.array([[-2.0, -0.5, 0.5, 2.0]])
    y = np.empty_like(z)
    kd.bias_activation(z, np.zeros(0), kd.ELU, kd.elu_params(0.3), y)
    np.testing.assert_allclose(y, np.where(z > 0, z, 0.3 * np.expm1(z)), rtol=1e-15)


def test_bias_is_added_in_place_and_linear_leaves_y_alone():
    z = np.arange(6.0).reshape(2, 3)
    kd.bias_activation(z, np.array([1.0, 2.0, 3.0]), kd.LINEAR, kd.NO_PARAMS, z)
    np.testing.assert_array_equal(z, [[1, 3, 5], [4, 6, 8]])


def test_softmax_is_stable_for_huge_logits():
    z = np.array([[1000.0, 1000.0, -1000.0], [-1e30, 0.0, 1e30]])
    y = np.empty_like(z)
    kd.bias_activation(z, np.zeros(0), kd.SOFTMAX, kd.NO_PARAMS, y)
    np.testing.assert_allclose(y, [[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]], atol=1e-300)


def test_sigmoid_softplus_are_stable_at_extremes():
    z = np.array([[-800.0, -50.0, 0.0, 50.0, 800.0]])
    y = np.empty_like(z)
    kd.bias_activation(z, np.zeros(0), kd.SIGMOID, kd.NO_PARAMS, y)
    np.testing.assert_allclose(y, scipy.special.expit(z), rtol=1e-14, atol=0)
    kd.bias_activation(z, np.zeros(0), kd.SOFTPLUS, kd.NO_PARAMS, y)
    np.testing.assert_allclose(y, np.logaddexp(0, z), rtol=1e-14, atol=0)


@njit(error_model="numpy")
def _elementary(x, out, which):
    for i in range(x.size):
        v = x[i]
        if which == 0:
            out[i] = kd.exp(v)
        elif which == 1:
            out[i] = kd.expm1(v)
        elif which == 2:
            out[i] = kd.tanh(v)
        elif which == 3:
            out[i] = kd.sigmoid(v)
        else:
            out[i] = kd.softplus(v)


@pytest.mark.parametrize("which,reference", [
    (0, np.exp), (1, np.expm1), (2, np.tanh), (3, scipy.special.expit),
    (4, lambda v: np.logaddexp(0, v))])
def test_vectorised_elementary_functions_match_numpy(which, reference):
    rng = np.random.default_rng(which)
    x = np.concatenate([rng.standard_normal(20000) * s for s in (1e-9, 1e-3, 0.3, 3, 40, 300)]
                       + [np.array([0.0, -0.0, 709.7, 710.0, -745.0, -746.0, 1e4, -1e4,
                                    np.inf, -np.inf, np.nan])])
    out = np.empty_like(x)
    _elementary(x, out, which)
    with np.errstate(over="ignore", invalid="ignore"):
        ref = reference(x)
    normal = np.isfinite(ref) & (np.abs(ref) > 1e-300)
    np.testing.assert_allclose(out[normal], ref[normal], rtol=2e-15, atol=0)
    tiny = ~normal & np.isfinite(ref)
    np.testing.assert_allclose(out[tiny], ref[tiny], rtol=0, atol=1e-300)
    np.testing.assert_array_equal(out[~np.isfinite(ref)], ref[~np.isfinite(ref)])


@njit(error_model="numpy")
def _erf_family(x, erf, erfc, cdf):
    for i in range(x.size):
        erf[i], erfc[i] = kd.erf_erfc(abs(x[i]))
        cdf[i] = kd.normal_cdf(x[i])


def test_erf_erfc_and_normal_cdf_match_scipy():
    x = np.concatenate([np.linspace(-8.4, 8.4, 40001), np.geomspace(1e-300, 1.0, 300),
                        -np.geomspace(1e-300, 1.0, 300)])
    erf, erfc, cdf = np.empty_like(x), np.empty_like(x), np.empty_like(x)
    _erf_family(x, erf, erfc, cdf)
    a = np.abs(x)
    np.testing.assert_allclose(erf, scipy.special.erf(a), rtol=3e-15, atol=0)
    np.testing.assert_allclose(erfc, scipy.special.erfc(a), rtol=2e-14, atol=0)
    np.testing.assert_allclose(cdf, scipy.special.ndtr(x), rtol=2e-14, atol=0)
    far = np.concatenate([np.linspace(-37.0, -8.4, 2001), [-np.inf, np.inf, np.nan]])
    erf, erfc, cdf = np.empty_like(far), np.empty_like(far), np.empty_like(far)
    _erf_family(far, erf, erfc, cdf)
    # far tail: the rounding of (x / sqrt 2)**2 costs about x*x*1e-16 relative
    np.testing.assert_allclose(cdf, scipy.special.ndtr(far), rtol=3e-13, atol=0)
    np.testing.assert_array_equal(erf[-3:], [1.0, 1.0, np.nan])
    np.testing.assert_array_equal(erfc[-3:], [0.0, 0.0, np.nan])


def test_log1p_unit_matches_numpy():
    t = np.concatenate([np.linspace(0, 1, 1001), np.geomspace(1e-300, 1e-3, 200)])
    out = np.array([kd.log1p_unit(v) for v in t])
    np.testing.assert_allclose(out, np.log1p(t), rtol=2e-16 * 4, atol=0)


def test_non_finite_inputs_propagate():
    z = np.array([[np.nan, np.inf, -np.inf]])
    y = np.empty_like(z)
    for name in ("relu", "leaky_relu", "relu6", "sigmoid", "tanh", "elu", "softplus",
                 "exponential", "hard_sigmoid", "softsign", "silu"):
        code, params = kd.ACTIVATIONS[name]
        kd.bias_activation(z, np.zeros(0), code, params, y)
        with np.errstate(invalid="ignore", over="ignore"):
            expected = reference_forward(name, z)
        np.testing.assert_array_equal(y, expected, err_msg=name)


def test_dense_backward_skips_unrequested_gradients_and_linear_uses_g():
    rng = np.random.default_rng(3)
    x, w, g = rng.standard_normal((4, 3)), rng.standard_normal((3, 2)), rng.standard_normal((4, 2))
    z = x @ w
    dx = np.empty_like(x)
    sentinel = np.full((4, 2), 7.0)
    kd.dense_backward(g, x, w, z, z, kd.LINEAR, kd.NO_PARAMS, sentinel, dx, None, None)
    np.testing.assert_allclose(dx, g @ w.T, rtol=1e-14)
    np.testing.assert_array_equal(sentinel, 7.0)


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(0, 9), d=st.integers(1, 8), units=st.integers(1, 11),
       name=st.sampled_from(sorted(kd.ACTIVATIONS)), seed=st.integers(0, 2**31 - 1))
def test_forward_any_shape(rows, d, units, name, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal((rows, d)), rng.standard_normal((d, units))
    b = rng.standard_normal(units)
    code, params = kd.ACTIVATIONS[name]
    z = np.empty((rows, units))
    y = z if code == kd.LINEAR else np.empty_like(z)
    kd.dense_forward(x, w, b, code, params, z, y)
    np.testing.assert_allclose(y, reference_forward(name, x @ w + b), rtol=1e-11, atol=1e-11)
