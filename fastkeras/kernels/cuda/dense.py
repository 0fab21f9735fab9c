"""CUDA twins of :mod:`fastkeras.kernels.dense`: Dense epilogues around GPU matrix products.

Same functions, arguments, activation codes and parameter vectors as the CPU module; arrays are
2-D C-contiguous device arrays (float32 or float64). As on the CPU, every activation is evaluated
in float64 and rounded once into the output's dtype, so float32 results agree with the CPU kernels
to within one rounding. Elementwise codes run one thread per element; softmax (and its gradient,
which needs ``sum(g * y)``) runs one block per row with float64 block reductions. The two
products the CPU kernels round in the arrays' dtype (``y * y`` for tanh, ``g * y`` for softmax)
are rounded the same way here. The matrix products go to
:func:`fastkeras.kernels.cuda.gemm.matmul`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import cuda

from fastkeras.kernels import dense as cpu
from fastkeras.kernels.cuda import gemm
from fastkeras.kernels.cuda.launch import (FLOAT_DTYPES, block_reduce, blocks, device_array, grid,
                                           row_threads, same_dtype)

_LINEAR, _RELU, _SIGMOID, _TANH, _SOFTMAX = cpu.LINEAR, cpu.RELU, cpu.SIGMOID, cpu.TANH, cpu.SOFTMAX
_ELU, _SELU, _SOFTPLUS, _SOFTSIGN = cpu.ELU, cpu.SELU, cpu.SOFTPLUS, cpu.SOFTSIGN
_HARD_SIGMOID, _SILU, _GELU, _GELU_TANH = cpu.HARD_SIGMOID, cpu.SILU, cpu.GELU, cpu.GELU_TANH
_EXPONENTIAL, _HARD_SILU, _MISH = cpu.EXPONENTIAL, cpu.HARD_SILU, cpu.MISH
_SELU_ALPHA, _SELU_SCALE = cpu.SELU_ALPHA, cpu.SELU_SCALE
_SQRT_HALF = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327
_SQRT_2_OVER_PI = 0.7978845608028654
_GELU_CUBIC = 0.044715
_EXP_MAX = 709.782712893384  # log of the largest float64: exp overflows beyond it

ROW_THREADS = 128  # most threads of the one-block-per-row kernels (a power of two)
_NO_BIAS: dict = {}


# -- elementary functions (float64) ------------------------------------------------------------

@cuda.jit(device=True, inline=True)
def _exp(x):
    # inf past the overflow point explicitly (Python's math.exp, which the simulator runs, raises).
    return math.inf if x > _EXP_MAX else math.exp(x)


@cuda.jit(device=True, inline=True)
def _sigmoid(x):
    return 1.0 / (1.0 + _exp(-x))


@cuda.jit(device=True, inline=True)
def _softplus(x):
    return max(x, 0.0) + math.log1p(_exp(-abs(x)))


@cuda.jit(device=True, inline=True)
def _hard_sigmoid(x):
    v = x / 6.0 + 0.5
    v = 0.0 if v < 0.0 else v
    return 1.0 if v > 1.0 else v


@cuda.jit(device=True, inline=True)
def _activate(v, code, p0, p1, p2, p3):
    """f(v) for every elementwise code (float64 in, float64 out)."""
    if code == _RELU:
        a = 0.0 if v <= p3 else v
        a = p1 if a < p1 else a
        a = p2 if a > p2 else a
        if p0 == 0.0:  # 0 * inf would turn relu(-inf) into NaN
            return a
        return a - p0 * max(p3 - v, 0.0)
    if code == _SIGMOID:
        return _sigmoid(v)
    if code == _TANH:
        return math.tanh(v)
    if code == _ELU:
        return v if v > 0.0 else p0 * math.expm1(v)
    if code == _SELU:
        return _SELU_SCALE * (v if v > 0.0 else _SELU_ALPHA * math.expm1(v))
    if code == _SOFTPLUS:
        return _softplus(v)
    if code == _SOFTSIGN:
        return v / (1.0 + abs(v))
    if code == _HARD_SIGMOID:
        return _hard_sigmoid(v)
    if code == _SILU:
        return v * _sigmoid(v)
    if code == _GELU:
        return 0.5 * v * (1.0 + math.erf(v * _SQRT_HALF))
    if code == _GELU_TANH:
        return 0.5 * v * (1.0 + math.tanh(_SQRT_2_OVER_PI * (v + _GELU_CUBIC * v * v * v)))
    if code == _EXPONENTIAL:
        return _exp(v)
    if code == _HARD_SILU:
        return v * _hard_sigmoid(v)
    if code == _MISH:
        return v * math.tanh(_softplus(v))
    return v


@cuda.jit(device=True, inline=True)
def _derivative(gv, v, yv, ysq, code, p0, p1, p2, p3):
    """g * f'(z) from the pre-activation ``v`` or the output ``yv`` (float64); ``ysq`` is
    ``y * y`` rounded in the arrays' dtype, as the CPU kernel's tanh derivative has it."""
    if code == _RELU:
        d = 1.0 if (v > p3 and p1 <= v <= p2) else 0.0
        return gv * (d + p0 if v < p3 else d)
    if code == _SIGMOID:
        return gv * (yv * (1.0 - yv))
    if code == _TANH:
        return gv * (1.0 - ysq)
    if code == _ELU:
        return gv * (1.0 if v > 0.0 else p0 * _exp(v))
    if code == _SELU:
        return gv * (_SELU_SCALE if yv > 0.0 else yv + _SELU_SCALE * _SELU_ALPHA)
    if code == _SOFTPLUS:
        return gv * -math.expm1(-yv)
    if code == _SOFTSIGN:
        a = 1.0 - abs(yv)
        return gv * (a * a)
    if code == _HARD_SIGMOID:
        return gv * (1.0 / 6.0 if 0.0 < yv < 1.0 else 0.0)
    if code == _SILU:
        s = _sigmoid(v)
        return gv * (s * (1.0 + v * (1.0 - s)))
    if code == _GELU:
        return gv * (0.5 * (1.0 + math.erf(v * _SQRT_HALF))
                     + v * _INV_SQRT_2PI * _exp(-0.5 * v * v))
    if code == _GELU_TANH:
        t = math.tanh(_SQRT_2_OVER_PI * (v + _GELU_CUBIC * v * v * v))
        return gv * (0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * _SQRT_2_OVER_PI
                     * (1.0 + 3.0 * _GELU_CUBIC * v * v))
    if code == _EXPONENTIAL:
        return gv * yv
    if code == _HARD_SILU:
        d = v / 3.0 + 0.5 if -3.0 < v < 3.0 else (1.0 if v >= 3.0 else 0.0)
        return gv * d
    if code == _MISH:
        t = math.tanh(_softplus(v))
        return gv * (t + v * _sigmoid(v) * (1.0 - t * t))
    return gv


# -- kernels -----------------------------------------------------------------------------------

@cuda.jit(cache=True)
def _bias_activation_kernel(z, bias, has_bias, code, p0, p1, p2, p3, y):
    rows, units = z.shape
    for i in range(cuda.grid(1), rows * units, cuda.gridsize(1)):
        r = i // units
        j = i - r * units
        if has_bias:
            z[r, j] += bias[j]
        y[r, j] = _activate(float(z[r, j]), code, p0, p1, p2, p3)


@cuda.jit(cache=True)
def _softmax_kernel(z, bias, has_bias, y):
    buf = cuda.shared.array(ROW_THREADS, np.float64)
    rows, units = z.shape
    t = cuda.threadIdx.x
    for r in range(cuda.blockIdx.x, rows, cuda.gridDim.x):
        m = -math.inf
        for j in range(t, units, cuda.blockDim.x):
            if has_bias:
                z[r, j] += bias[j]
            m = max(m, float(z[r, j]))
        m = block_reduce(buf, m, True)
        s = 0.0
        for j in range(t, units, cuda.blockDim.x):
            y[r, j] = _exp(float(z[r, j]) - m)
            s += float(y[r, j])  # the stored (rounded) value, as the CPU kernel sums it
        inv = 1.0 / block_reduce(buf, s, False)
        for j in range(t, units, cuda.blockDim.x):
            y[r, j] = float(y[r, j]) * inv


@cuda.jit(cache=True)
def _activation_backward_kernel(g, z, y, code, p0, p1, p2, p3, dz):
    rows, units = g.shape
    for i in range(cuda.grid(1), rows * units, cuda.gridsize(1)):
        r = i // units
        j = i - r * units
        yv = y[r, j]
        ysq = yv * yv
        dz[r, j] = _derivative(float(g[r, j]), float(z[r, j]), float(yv), float(ysq), code,
                               p0, p1, p2, p3)


@cuda.jit(cache=True)
def _softmax_backward_kernel(g, y, dz):
    buf = cuda.shared.array(ROW_THREADS, np.float64)
    rows, units = g.shape
    t = cuda.threadIdx.x
    for r in range(cuda.blockIdx.x, rows, cuda.gridDim.x):
        s = 0.0
        for j in range(t, units, cuda.blockDim.x):
            s += float(g[r, j] * y[r, j])  # the product rounded in the dtype, as on the CPU
        s = block_reduce(buf, s, False)
        for j in range(t, units, cuda.blockDim.x):
            dz[r, j] = float(y[r, j]) * (float(g[r, j]) - s)


@cuda.jit(cache=True)
def _column_sum_kernel(a, out):
    # One thread per column, rows in order: a fixed summation order, coalesced across threads.
    rows, cols = a.shape
    for j in range(cuda.grid(1), cols, cuda.gridsize(1)):
        s = 0.0
        for r in range(rows):
            s += float(a[r, j])
        out[j] = s


@cuda.jit(cache=True)
def _softmax_crossentropy_backward_kernel(p, y, scale, dz):
    buf = cuda.shared.array(ROW_THREADS, np.float64)
    rows, units = p.shape
    t = cuda.threadIdx.x
    for r in range(cuda.blockIdx.x, rows, cuda.gridDim.x):
        s = 0.0
        for j in range(t, units, cuda.blockDim.x):
            s += float(y[r, j])
        s = block_reduce(buf, s, False)
        for j in range(t, units, cuda.blockDim.x):
            dz[r, j] = scale * (float(p[r, j]) * s - float(y[r, j]))


def _code_params(code: Any, params: Any) -> tuple:
    if isinstance(code, (bool, np.bool_)) or not isinstance(code, (int, np.integer)) \
            or not cpu.LINEAR <= code <= cpu.MISH:
        raise ValueError(f"`code` must be an activation code of fastkeras.kernels.dense "
                         f"(LINEAR ... MISH); got {code!r}")
    p = np.asarray(params, dtype=np.float64)
    if p.shape != (cpu.NPARAMS,):
        raise ValueError(f"`params` must have shape ({cpu.NPARAMS},); got {p.shape}")
    return int(code), tuple(float(v) for v in p)


def _rows(name: str, a: Any, shape: tuple | None = None) -> Any:
    return device_array(name, a, dtypes=FLOAT_DTYPES, ndim=2, shape=shape)


def _bias(bias: Any, z: Any) -> tuple:
    units = z.shape[1]
    bias = device_array("bias", bias, dtypes=(np.dtype(z.dtype),), ndim=1)
    if bias.shape[0] not in (0, units):
        raise ValueError(f"`bias` must have shape ({units},) or (0,); got {tuple(bias.shape)}")
    if bias.shape[0]:
        return bias, True
    # The kernels read bias[j] only when has_bias; an empty bias stands in as a 1-element one.
    dtype = np.dtype(z.dtype)
    if dtype not in _NO_BIAS:
        _NO_BIAS[dtype] = cuda.device_array(1, dtype=dtype)
    return _NO_BIAS[dtype], False


def bias_activation(z: Any, bias: Any, code: int, params: Any, y: Any) -> None:
    """``z += bias`` (when ``bias`` is non-empty), then ``y = f(z)``.

    Same arguments as :func:`fastkeras.kernels.dense.bias_activation`, on device arrays
    (``y`` may be ``z``, and must be for LINEAR).
    """
    z = _rows("z", z)
    y = _rows("y", y, shape=z.shape)
    same_dtype("`z` and `y`", z, y)
    code, p = _code_params(code, params)
    bias, has_bias = _bias(bias, z)
    rows, units = z.shape
    if rows == 0 or units == 0:
        return
    if code == _SOFTMAX:
        threads = row_threads(units, ROW_THREADS)
        _softmax_kernel[blocks(rows, 1), threads](z, bias, has_bias, y)
    else:
        _bias_activation_kernel[grid(z.size)](z, bias, has_bias, code, *p, y)


def activation_backward(g: Any, z: Any, y: Any, code: int, params: Any, dz: Any) -> None:
    """``dz = g * f'(z)``.

    Same arguments as :func:`fastkeras.kernels.dense.activation_backward`, on device arrays
    (``z`` is read only for codes in ``NEEDS_PREACTIVATION``; pass ``y`` otherwise).
    """
    g = _rows("g", g)
    z = _rows("z", z, shape=g.shape)
    y = _rows("y", y, shape=g.shape)
    dz = _rows("dz", dz, shape=g.shape)
    same_dtype("`g`, `z`, `y` and `dz`", g, z, y, dz)
    code, p = _code_params(code, params)
    rows, units = g.shape
    if rows == 0 or units == 0:
        return
    if code == _SOFTMAX:
        threads = row_threads(units, ROW_THREADS)
        _softmax_backward_kernel[blocks(rows, 1), threads](g, y, dz)
    else:
        _activation_backward_kernel[grid(g.size)](g, z, y, code, *p, dz)


def column_sum(a: Any, out: Any) -> None:
    """``out[j] = sum(a[:, j])``, accumulated in float64 in row order (the bias gradient)."""
    a = _rows("a", a)
    out = device_array("out", out, dtypes=(np.dtype(a.dtype),), shape=(a.shape[1],))
    if a.shape[1]:
        _column_sum_kernel[grid(a.shape[1])](a, out)


def softmax_crossentropy_backward(p: Any, y: Any, scale: float, dz: Any) -> None:
    """Gradient of categorical crossentropy with respect to the logits of a softmax output:
    ``dz = scale * (p * sum(y, axis=-1) - y)`` (``scale`` is the loss's weight per row, e.g.
    ``1 / batch`` for a mean), evaluated in float64 and rounded once.

    Parameters
    ----------
    p : device array, (rows, classes)
        The softmax output.
    y : device array, (rows, classes)
        The targets (one-hot or any distribution), ``p``'s dtype.
    scale : float
        Factor of every row's gradient.
    dz : device array, (rows, classes)
        Output; may be ``p`` itself.
    """
    p = _rows("p", p)
    y = _rows("y", y, shape=p.shape)
    dz = _rows("dz", dz, shape=p.shape)
    same_dtype("`p`, `y` and `dz`", p, y, dz)
    rows, units = p.shape
    if rows and units:
        _softmax_crossentropy_backward_kernel[blocks(rows, 1), row_threads(units, ROW_THREADS)](
            p, y, float(scale), dz)


def dense_forward(x: Any, kernel: Any, bias: Any, code: int, params: Any, z: Any,
                  y: Any) -> None:
    """``z = x @ kernel + bias``, then ``y = f(z)`` (see
    :func:`fastkeras.kernels.dense.dense_forward`), all on device arrays."""
    code, _ = _code_params(code, params)
    gemm.matmul(x, kernel, z)
    if code != _LINEAR or bias.shape[0]:
        bias_activation(z, bias, code, params, y)


def dense_backward(g: Any, x: Any, kernel: Any, z: Any, y: Any, code: int, params: Any,
                   dz: Any, dx: Any | None, dkernel: Any | None, dbias: Any | None) -> None:
    """Gradients of ``y = f(x @ kernel + bias)`` given ``g = dL/dy`` (see
    :func:`fastkeras.kernels.dense.dense_backward`), all on device arrays.

    ``dz = g * f'(z)`` (LINEAR uses ``g`` and leaves ``dz`` alone), then ``dkernel = x.T @ dz``,
    ``dbias = column sums of dz`` and ``dx = dz @ kernel.T``; each output may be None.
    """
    code, _ = _code_params(code, params)
    if code == _LINEAR:
        dz = g
    else:
        activation_backward(g, z, y, code, params, dz)
    if dkernel is not None:
        gemm.matmul(x, dz, dkernel, trans_a=True)
    if dbias is not None:
        column_sum(dz, dbias)
    if dx is not None:
        gemm.matmul(dz, kernel, dx, trans_b=True)
