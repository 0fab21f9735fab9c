"""Fused Dense epilogues: bias + activation forward, activation derivative backward.

The matrix products go to BLAS through ``np.dot`` with preallocated outputs; the Numba kernels are
the passes fused around them. Every array is 2-D ``(rows, units)`` and C-contiguous, float32 or
float64, so each kernel compiles two specialisations. Parallelism is over rows.

An activation is a code (the module constants below) and a float64 parameter vector of length
:data:`NPARAMS`. :data:`ACTIVATIONS` maps each fusable Keras activation name to its code and
default parameters; :func:`relu_params` and :func:`elu_params` build non-default ones. The backward
pass reads the saved output ``y`` or, for the codes in :data:`NEEDS_PREACTIVATION`, the
pre-activation ``z``.

Without Intel SVML, Numba lowers ``math.exp``/``math.tanh``/``math.erf`` to scalar libm calls,
which cannot be vectorised and run 5-80x slower than numpy's SIMD loops. The kernels therefore
use the branch-free :func:`exp`, :func:`expm1`, :func:`tanh`, :func:`log1p_unit` and
:func:`erf_erfc` below (float64, accurate to a few ulp), which LLVM vectorises.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange, types
from numba.extending import intrinsic

LINEAR = 0
RELU = 1          # params: negative_slope, lower clip, upper clip, threshold
SIGMOID = 2
TANH = 3
SOFTMAX = 4       # over each row (the last axis)
ELU = 5           # params: alpha
SELU = 6
SOFTPLUS = 7
SOFTSIGN = 8
HARD_SIGMOID = 9  # Keras 3: clip(x / 6 + 0.5, 0, 1)
SILU = 10
GELU = 11         # exact, with erf
GELU_TANH = 12    # the tanh approximation
EXPONENTIAL = 13
HARD_SILU = 14
MISH = 15

NPARAMS = 4

SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805
_SQRT_HALF = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327
_SQRT_2_OVER_PI = 0.7978845608028654
_GELU_CUBIC = 0.044715
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10

#: Codes whose derivative needs the pre-activation ``z``; all others use the output ``y``.
NEEDS_PREACTIVATION = frozenset({RELU, ELU, SILU, GELU, GELU_TANH, HARD_SILU, MISH})


def relu_params(negative_slope: float = 0.0, max_value: float | None = None,
                threshold: float = 0.0) -> np.ndarray:
    """Parameters of the :data:`RELU` code for Keras's ``relu`` arguments.

    Keras computes ``a = x if x > threshold else 0``, clips ``a`` to ``[0, max_value]`` only when
    ``max_value`` is given, then subtracts ``negative_slope * max(threshold - x, 0)``.
    """
    lo, hi = (-math.inf, math.inf) if max_value is None else (0.0, float(max_value))
    return np.array([negative_slope, lo, hi, threshold], dtype=np.float64)


def elu_params(alpha: float = 1.0) -> np.ndarray:
    """Parameters of the :data:`ELU` code."""
    return np.array([alpha, 0.0, 0.0, 0.0], dtype=np.float64)


NO_PARAMS = np.zeros(NPARAMS, dtype=np.float64)

#: Keras activation name -> (code, default parameters).
ACTIVATIONS: dict[str, tuple[int, np.ndarray]] = {
    "linear": (LINEAR, NO_PARAMS),
    "relu": (RELU, relu_params()),
    "leaky_relu": (RELU, relu_params(negative_slope=0.2)),
    "relu6": (RELU, relu_params(max_value=6.0)),
    "sigmoid": (SIGMOID, NO_PARAMS),
    "tanh": (TANH, NO_PARAMS),
    "softmax": (SOFTMAX, NO_PARAMS),
    "elu": (ELU, elu_params()),
    "selu": (SELU, NO_PARAMS),
    "softplus": (SOFTPLUS, NO_PARAMS),
    "softsign": (SOFTSIGN, NO_PARAMS),
    "hard_sigmoid": (HARD_SIGMOID, NO_PARAMS),
    "silu": (SILU, NO_PARAMS),
    "gelu": (GELU, NO_PARAMS),
    "gelu_approximate": (GELU_TANH, NO_PARAMS),
    "exponential": (EXPONENTIAL, NO_PARAMS),
    "hard_silu": (HARD_SILU, NO_PARAMS),
    "mish": (MISH, NO_PARAMS),
}


# -- vectorisable elementary functions (float64) --------------------------------------------------

@intrinsic
def _bits_to_float64(typingctx, bits):
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))
    return sig, codegen


@njit(cache=True, inline="always", error_model="numpy")
def _pow2(k):
    """2**k for an integer k in [-1022, 1023]."""
    return _bits_to_float64((k + 1023) << 52)


@njit(cache=True, inline="always", error_model="numpy")
def _exp_split(x):
    """e**x = 2**k1 * 2**k2 * (1 + q); returns (2**k1, 2**k2, q, k1 + k2)."""
    x = 710.0 if x > 710.0 else x     # NaN passes both clamps
    x = -746.0 if x < -746.0 else x
    n = math.floor(x * _LOG2E + 0.5)
    r = (x - n * _LN2_HI) - n * _LN2_LO  # |r| <= ln2/2: Taylor to r**13 is below rounding
    q = r * (1.0 + r * (0.5 + r * (0.16666666666666666 + r * (0.041666666666666664 + r * (
        0.008333333333333333 + r * (0.001388888888888889 + r * (0.0001984126984126984 + r * (
            2.48015873015873e-05 + r * (2.7557319223985893e-06 + r * (2.755731922398589e-07 + r * (
                2.505210838544172e-08 + r * (2.08767569878681e-09 + r * (
                    1.6059043836821613e-10 + r * 1.1470745597729725e-11)))))))))))))
    k = np.int64(n)
    k1 = k >> 1
    return _pow2(k1), _pow2(k - k1), q, k


@njit(cache=True, inline="always", error_model="numpy")
def exp(x):
    """e**x (overflow -> inf, underflow -> 0, NaN -> NaN)."""
    s1, s2, q, _ = _exp_split(x)
    return (s1 * (1.0 + q)) * s2


@njit(cache=True, inline="always", error_model="numpy")
def expm1(x):
    """e**x - 1, accurate near 0."""
    s1, s2, q, k = _exp_split(x)
    return q if k == 0 else (s1 * (1.0 + q)) * s2 - 1.0


@njit(cache=True, inline="always", error_model="numpy")
def tanh(x):
    """tanh(x) through expm1, accurate near 0 and saturating to +-1."""
    q = expm1(-2.0 * abs(x))
    return math.copysign(-q / (2.0 + q), x)


@njit(cache=True, inline="always", error_model="numpy")
def log1p_unit(t):
    """log(1 + t) for t in [0, 1], as 2 atanh(t / (2 + t)) summed to float64 precision."""
    s = t / (2.0 + t)
    w = s * s
    c = 1.0 / 35.0
    for k in range(16, -1, -1):
        c = 1.0 / (2 * k + 1) + w * c
    return 2.0 * s * c


# erf(a) / a as a polynomial in s = 2*a*a - 1 (0 <= a <= 1), and a * exp(a*a) * erfc(a) as one
# in s = 2/a - 1 (a >= 1); highest power first. Each is the Chebyshev interpolant of
# scipy.special.erf / erfcx at 13 / 29 Chebyshev nodes, converted to powers of s: relative error
# below 2.1e-15 over its range.
_ERF_SMALL = np.array([
    3.3443734845067877e-13, -3.344373484506787e-13, 8.207649926560414e-12, -2.0363750798266637e-10,
    4.116891012437486e-09, -7.511558753079357e-08, 1.2233821613657217e-06, -1.7537169484874416e-05,
    0.000217517156181055, -0.0022854855611364228, 0.01985249668897118, -0.14053608902271755,
    0.9654687386698677])
_ERFC_LARGE = np.array([
    -2.1033646959692534e-07, 2.3112553926638873e-07, 1.402528470818103e-06,
    -1.8162854139027048e-06, -3.4784087937978746e-06, 5.340750452131792e-06, 3.888801843761791e-06,
    -6.987032377028173e-06, -3.497447607234142e-06, 5.440481290710977e-06, 5.409304702278945e-06,
    -9.112506302480317e-06, 3.5540414532733974e-06, 1.654459241378975e-06, -1.0466751061648456e-05,
    2.9548403263352828e-05, -5.265732321166722e-05, 5.8413955544478705e-05,
    -5.9151264480097304e-06, -0.0001626718993274912, 0.0004785436038067396, -0.0008159373087287778,
    0.0006340715032289141, 0.0013280660005093735, -0.0067970957804238, 0.014870331367405036,
    -0.009158321378719667, -0.08360550520707091, 0.5107913526210116])


@njit(cache=True, inline="always", error_model="numpy")
def _horner(c, s):
    """sum(c[k] * s**(n-1-k)) for the n coefficients c, highest power first."""
    r = 0.0
    for k in range(c.shape[0]):
        r = r * s + c[k]
    return r


@njit(cache=True, inline="always", error_model="numpy")
def erf_erfc(a):
    """(erf(a), erfc(a)) for a >= 0 (NaN -> NaN), relative errors below 2e-14 while a < 6;
    beyond, erfc's grows as a*a*1e-16 (the rounding of a*a)."""
    w = a * a
    small = a * _horner(_ERF_SMALL, 2.0 * w - 1.0)
    t = 1.0 / a
    tail = t * exp(-w) * _horner(_ERFC_LARGE, 2.0 * t - 1.0)
    near = a < 1.0
    return (small if near else 1.0 - tail), (1.0 - small if near else tail)


@njit(cache=True, inline="always", error_model="numpy")
def normal_cdf(x):
    """P(N(0, 1) <= x) = erfc(-x / sqrt(2)) / 2, accurate in both tails."""
    e, c = erf_erfc(abs(x) * _SQRT_HALF)
    return 0.5 * (1.0 + e) if x >= 0.0 else 0.5 * c


@njit(cache=True, inline="always", error_model="numpy")
def sigmoid(x):
    """1 / (1 + e**-x), stable for any x."""
    return 1.0 / (1.0 + exp(-x))


@njit(cache=True, inline="always", error_model="numpy")
def softplus(x):
    """log(1 + e**x), stable for any x."""
    return max(x, 0.0) + log1p_unit(exp(-abs(x)))


@njit(cache=True, inline="always", error_model="numpy")
def _clip(x, lo, hi):
    """min(max(x, lo), hi), letting NaN through."""
    x = lo if x < lo else x
    return hi if x > hi else x


@njit(cache=True, inline="always", error_model="numpy")
def _hard_sigmoid(x):
    return _clip(x / 6.0 + 0.5, 0.0, 1.0)


@njit(cache=True, inline="always", error_model="numpy")
def _row_max(a):
    """max(a) with four independent chains (a strict reduction would not pipeline)."""
    n = a.shape[0]
    m0 = m1 = m2 = m3 = -np.inf
    j = 0
    while j + 4 <= n:
        m0 = max(m0, a[j])
        m1 = max(m1, a[j + 1])
        m2 = max(m2, a[j + 2])
        m3 = max(m3, a[j + 3])
        j += 4
    while j < n:
        m0 = max(m0, a[j])
        j += 1
    return max(max(m0, m1), max(m2, m3))


@njit(cache=True, inline="always", error_model="numpy")
def _row_sum(a):
    """sum(a) in float64 with four independent chains."""
    n = a.shape[0]
    s0 = s1 = s2 = s3 = 0.0
    j = 0
    while j + 4 <= n:
        s0 += a[j]
        s1 += a[j + 1]
        s2 += a[j + 2]
        s3 += a[j + 3]
        j += 4
    while j < n:
        s0 += a[j]
        j += 1
    return (s0 + s1) + (s2 + s3)


@njit(cache=True, inline="always", error_model="numpy")
def _row_dot(a, b):
    """sum(a * b) in float64 with four independent chains."""
    n = a.shape[0]
    s0 = s1 = s2 = s3 = 0.0
    j = 0
    while j + 4 <= n:
        s0 += a[j] * b[j]
        s1 += a[j + 1] * b[j + 1]
        s2 += a[j + 2] * b[j + 2]
        s3 += a[j + 3] * b[j + 3]
        j += 4
    while j < n:
        s0 += a[j] * b[j]
        j += 1
    return (s0 + s1) + (s2 + s3)


# -- row passes --------------------------------------------------------------------------------

@njit(cache=True, error_model="numpy")
def _forward_row(z, y, code, p):
    """y = f(z) for one row; the code is dispatched once so each loop is tight."""
    n = z.shape[0]
    if code == SOFTMAX:
        m = _row_max(z)
        for j in range(n):
            y[j] = exp(z[j] - m)
        inv = 1.0 / _row_sum(y)
        for j in range(n):
            y[j] *= inv
    elif code == RELU:
        slope, lo, hi, thr = p[0], p[1], p[2], p[3]
        for j in range(n):
            v = z[j]
            a = _clip(0.0 if v <= thr else v, lo, hi)
            damped = a - slope * max(thr - v, 0.0)
            y[j] = a if slope == 0.0 else damped  # 0 * inf would turn relu(-inf) into NaN
    elif code == SIGMOID:
        for j in range(n):
            y[j] = sigmoid(z[j])
    elif code == TANH:
        for j in range(n):
            y[j] = tanh(z[j])
    elif code == ELU:
        alpha = p[0]
        for j in range(n):
            v = z[j]
            e = alpha * expm1(v)
            y[j] = v if v > 0.0 else e
    elif code == SELU:
        for j in range(n):
            v = z[j]
            e = SELU_ALPHA * expm1(v)
            y[j] = SELU_SCALE * (v if v > 0.0 else e)
    elif code == SOFTPLUS:
        for j in range(n):
            y[j] = softplus(z[j])
    elif code == SOFTSIGN:
        for j in range(n):
            v = z[j]
            y[j] = v / (1.0 + abs(v))
    elif code == HARD_SIGMOID:
        for j in range(n):
            y[j] = _hard_sigmoid(z[j])
    elif code == SILU:
        for j in range(n):
            v = z[j]
            y[j] = v * sigmoid(v)
    elif code == GELU:
        for j in range(n):
            v = z[j]
            y[j] = v * normal_cdf(v)
    elif code == GELU_TANH:
        for j in range(n):
            v = z[j]
            y[j] = 0.5 * v * (1.0 + tanh(_SQRT_2_OVER_PI * (v + _GELU_CUBIC * v * v * v)))
    elif code == EXPONENTIAL:
        for j in range(n):
            y[j] = exp(z[j])
    elif code == HARD_SILU:
        for j in range(n):
            v = z[j]
            y[j] = v * _hard_sigmoid(v)
    elif code == MISH:
        for j in range(n):
            v = z[j]
            y[j] = v * tanh(softplus(v))


@njit(cache=True, error_model="numpy")
def _backward_row(g, z, y, dz, code, p):
    """dz = g * f'(z) for one row (softmax: y * (g - sum(g * y)))."""
    n = g.shape[0]
    if code == SOFTMAX:
        s = _row_dot(g, y)
        for j in range(n):
            dz[j] = y[j] * (g[j] - s)
    elif code == RELU:
        slope, lo, hi, thr = p[0], p[1], p[2], p[3]
        for j in range(n):
            v = z[j]
            d = 1.0 if (v > thr and lo <= v <= hi) else 0.0
            dz[j] = g[j] * (d + slope if v < thr else d)
    elif code == SIGMOID:
        for j in range(n):
            dz[j] = g[j] * (y[j] * (1.0 - y[j]))
    elif code == TANH:
        for j in range(n):
            dz[j] = g[j] * (1.0 - y[j] * y[j])
    elif code == ELU:
        alpha = p[0]
        for j in range(n):
            v = z[j]
            e = alpha * exp(v)
            dz[j] = g[j] * (1.0 if v > 0.0 else e)
    elif code == SELU:
        for j in range(n):
            dz[j] = g[j] * (SELU_SCALE if y[j] > 0.0 else y[j] + SELU_SCALE * SELU_ALPHA)
    elif code == SOFTPLUS:
        for j in range(n):
            dz[j] = g[j] * -expm1(-y[j])
    elif code == SOFTSIGN:
        for j in range(n):
            a = 1.0 - abs(y[j])
            dz[j] = g[j] * (a * a)
    elif code == HARD_SIGMOID:
        for j in range(n):
            dz[j] = g[j] * (1.0 / 6.0 if 0.0 < y[j] < 1.0 else 0.0)
    elif code == SILU:
        for j in range(n):
            v = z[j]
            s = sigmoid(v)
            dz[j] = g[j] * (s * (1.0 + v * (1.0 - s)))
    elif code == GELU:
        for j in range(n):
            v = z[j]
            dz[j] = g[j] * (normal_cdf(v) + v * _INV_SQRT_2PI * exp(-0.5 * v * v))
    elif code == GELU_TANH:
        for j in range(n):
            v = z[j]
            t = tanh(_SQRT_2_OVER_PI * (v + _GELU_CUBIC * v * v * v))
            dz[j] = g[j] * (0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * _SQRT_2_OVER_PI
                            * (1.0 + 3.0 * _GELU_CUBIC * v * v))
    elif code == EXPONENTIAL:
        for j in range(n):
            dz[j] = g[j] * y[j]
    elif code == HARD_SILU:
        for j in range(n):
            v = z[j]
            d = v / 3.0 + 0.5 if -3.0 < v < 3.0 else (1.0 if v >= 3.0 else 0.0)
            dz[j] = g[j] * d
    elif code == MISH:
        for j in range(n):
            v = z[j]
            t = tanh(softplus(v))
            dz[j] = g[j] * (t + v * sigmoid(v) * (1.0 - t * t))
    else:
        for j in range(n):
            dz[j] = g[j]


# -- kernels -----------------------------------------------------------------------------------

@njit(parallel=True, cache=True, error_model="numpy")
def bias_activation(z, bias, code, params, y):
    """``z += bias`` (when ``bias`` is non-empty), then ``y = f(z)``, one row per task.

    Parameters
    ----------
    z : (rows, units) ndarray
        Pre-activations; the bias is added in place.
    bias : (units,) or (0,) ndarray
        The bias, or an empty array for none.
    code : int
        Activation code; SOFTMAX normalises each row.
    params : (NPARAMS,) float64 ndarray
        The code's parameters.
    y : (rows, units) ndarray
        Output; may be ``z`` itself, and must be for LINEAR (which does not write it).
    """
    rows, units = z.shape
    has_bias = bias.shape[0] > 0
    for i in prange(rows):
        zr = z[i]
        if has_bias:
            for j in range(units):
                zr[j] += bias[j]
        _forward_row(zr, y[i], code, params)


@njit(parallel=True, cache=True, error_model="numpy")
def activation_backward(g, z, y, code, params, dz):
    """``dz = g * f'(z)``, one row per task.

    Parameters
    ----------
    g : (rows, units) ndarray
        Gradient with respect to the output ``y``.
    z : (rows, units) ndarray
        Pre-activations; read only for codes in :data:`NEEDS_PREACTIVATION` (pass ``y``
        otherwise).
    y : (rows, units) ndarray
        The forward output.
    code : int
        Activation code.
    params : (NPARAMS,) float64 ndarray
        The code's parameters.
    dz : (rows, units) ndarray
        Output: gradient with respect to the pre-activation.
    """
    for i in prange(g.shape[0]):
        _backward_row(g[i], z[i], y[i], dz[i], code, params)


def _product(a, b: np.ndarray, out: np.ndarray) -> None:
    """``out = a @ b``: BLAS for arrays, scipy's sparse product when ``a`` is a sparse matrix."""
    if isinstance(a, np.ndarray):
        np.dot(a, b, out=out)
    else:
        out[...] = a @ b


def dense_forward(x, kernel: np.ndarray, bias: np.ndarray, code: int,
                  params: np.ndarray, z: np.ndarray, y: np.ndarray) -> None:
    """``z = x @ kernel + bias`` (BLAS), then ``y = f(z)`` in one fused pass.

    ``x`` is ``(rows, d)`` (an array, or a scipy.sparse matrix), ``kernel`` ``(d, units)``,
    ``bias`` ``(units,)`` or ``(0,)``; ``z`` and ``y`` are preallocated ``(rows, units)`` outputs
    of the same dtype (``y`` may be ``z``, and must be for LINEAR).
    """
    _product(x, kernel, z)
    if code != LINEAR or bias.shape[0]:
        bias_activation(z, bias, code, params, y)


def dense_backward(g: np.ndarray, x, kernel: np.ndarray, z: np.ndarray,
                   y: np.ndarray, code: int, params: np.ndarray, dz: np.ndarray,
                   dx: np.ndarray | None, dkernel: np.ndarray | None,
                   dbias: np.ndarray | None) -> None:
    """Gradients of ``y = f(x @ kernel + bias)`` given ``g = dL/dy``.

    Writes ``dz = g * f'(z)`` in one fused pass (LINEAR uses ``g`` itself and leaves ``dz``
    alone), then with BLAS ``dkernel = x.T @ dz``, ``dbias = 1 @ dz`` and ``dx = dz @ kernel.T``.
    Each of ``dx``, ``dkernel``, ``dbias`` is a preallocated output, or None to skip it.
    """
    if code == LINEAR:
        dz = g
    else:
        activation_backward(g, z, y, code, params, dz)
    if dkernel is not None:
        _product(x.T, dz, dkernel)
    if dbias is not None:
        np.dot(np.ones(dz.shape[0], dtype=dz.dtype), dz, out=dbias)
    if dx is not None:
        np.dot(dz, kernel.T, out=dx)
