"""CUDA Dense epilogues against their CPU twins, every activation code, both float dtypes."""

import numpy as np
import pytest

from cuda_helpers import dev, filled, host
from fastkeras.kernels import dense as cpu
from fastkeras.kernels.cuda import dense as gpu

CODES = sorted({code for code, _ in cpu.ACTIVATIONS.values()})
PARAMS = {cpu.RELU: cpu.relu_params(negative_slope=0.1, max_value=2.5, threshold=-0.3),
          cpu.ELU: cpu.elu_params(0.7)}
DTYPES = [np.float32, np.float64]


def assert_close(got, expected, dtype):
    """Both sides evaluate in float64 and round once; results differ only by the elementary
    functions' last float64 bits, amplified where a difference cancels (gelu's ``1 + erf(v)``
    far left of 0 is ~1e-14 and keeps few correct digits on either side)."""
    if dtype == np.float32:
        np.testing.assert_allclose(got, expected, rtol=3e-7, atol=1e-12)
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-11, atol=1e-14)


def _inputs(dtype, rows=3, units=7, seed=0):
    rng = np.random.default_rng(seed)
    z = (rng.standard_normal((rows, units)) * 3).astype(dtype)
    z[0, :4] = [0.0, -0.3, 2.5, 3.0]  # relu's threshold and clip points, hard_silu's corner
    bias = rng.standard_normal(units).astype(dtype)
    return z, bias


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("code", CODES)
def test_bias_activation_matches_cpu(code, dtype):
    params = PARAMS.get(code, cpu.NO_PARAMS)
    z, bias = _inputs(dtype)
    z_cpu, y_cpu = z.copy(), np.empty_like(z)
    cpu.bias_activation(z_cpu, bias, code, params, z_cpu if code == cpu.LINEAR else y_cpu)
    z_dev = dev(z)
    y_dev = z_dev if code == cpu.LINEAR else filled(z.shape, dtype)
    gpu.bias_activation(z_dev, dev(bias), code, params, y_dev)
    np.testing.assert_array_equal(host(z_dev), z_cpu)  # the bias add is one rounding each
    assert_close(host(y_dev), z_cpu if code == cpu.LINEAR else y_cpu, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("code", CODES)
def test_activation_backward_matches_cpu(code, dtype):
    params = PARAMS.get(code, cpu.NO_PARAMS)
    z, _ = _inputs(dtype, seed=1)
    y = np.empty_like(z)
    cpu.bias_activation(z.copy(), np.empty(0, dtype), code, params, y)
    g = np.random.default_rng(2).standard_normal(z.shape).astype(dtype)
    expected = np.empty_like(z)
    cpu.activation_backward(g, z, y, code, params, expected)
    got = filled(z.shape, dtype)
    gpu.activation_backward(dev(g), dev(z), dev(y), code, params, got)
    assert_close(host(got), expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_rows_longer_than_a_block(dtype):
    # 130 units: each thread of the row's block handles one or two, the reductions span all.
    z, bias = _inputs(dtype, rows=2, units=130, seed=3)
    z_cpu, y_cpu = z.copy(), np.empty_like(z)
    cpu.bias_activation(z_cpu, bias, cpu.SOFTMAX, cpu.NO_PARAMS, y_cpu)
    y_dev = filled(z.shape, dtype)
    gpu.bias_activation(dev(z), dev(bias), cpu.SOFTMAX, cpu.NO_PARAMS, y_dev)
    got = host(y_dev)
    assert_close(got, y_cpu, dtype)
    np.testing.assert_allclose(got.sum(axis=1, dtype=np.float64), 1.0,
                               rtol=200 * np.finfo(dtype).eps)
    g = np.random.default_rng(4).standard_normal(z.shape).astype(dtype)
    expected = np.empty_like(z)
    cpu.activation_backward(g, y_cpu, y_cpu, cpu.SOFTMAX, cpu.NO_PARAMS, expected)
    dz = filled(z.shape, dtype)
    gpu.activation_backward(dev(g), y_dev, y_dev, cpu.SOFTMAX, cpu.NO_PARAMS, dz)
    np.testing.assert_allclose(host(dz), expected, rtol=1e-5 if dtype == np.float32 else 1e-11,
                               atol=10 * np.finfo(dtype).eps * np.abs(expected).max())


def test_extreme_inputs_saturate_like_the_cpu():
    z = np.array([[-1000.0, -40.0, 0.0, 40.0, 800.0, np.inf, -np.inf]])
    for code in (cpu.SIGMOID, cpu.TANH, cpu.SOFTPLUS, cpu.SILU, cpu.EXPONENTIAL, cpu.ELU,
                 cpu.SELU, cpu.MISH, cpu.GELU):
        params = PARAMS.get(code, cpu.NO_PARAMS)
        y_cpu = np.empty_like(z)
        cpu.bias_activation(z.copy(), np.empty(0), code, params, y_cpu)
        y_dev = filled(z.shape, np.float64)
        gpu.bias_activation(dev(z), dev(np.empty(0)), code, params, y_dev)
        np.testing.assert_allclose(host(y_dev), y_cpu, rtol=1e-12, atol=0, err_msg=str(code))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("code, with_bias", [(cpu.LINEAR, False), (cpu.LINEAR, True),
                                             (cpu.RELU, True), (cpu.SOFTMAX, True)])
def test_dense_forward_and_backward_match_cpu(code, with_bias, dtype):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 9)).astype(dtype)
    kernel = rng.standard_normal((9, 4)).astype(dtype)
    bias = rng.standard_normal(4).astype(dtype) if with_bias else np.empty(0, dtype)
    params = PARAMS.get(code, cpu.NO_PARAMS)
    z, y = np.empty((3, 4), dtype), np.empty((3, 4), dtype)
    y = z if code == cpu.LINEAR else y
    cpu.dense_forward(x, kernel, bias, code, params, z, y)
    zd = filled((3, 4), dtype)
    yd = zd if code == cpu.LINEAR else filled((3, 4), dtype)
    xd, kd = dev(x), dev(kernel)
    gpu.dense_forward(xd, kd, dev(bias), code, params, zd, yd)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(host(zd), z, **tol)
    np.testing.assert_allclose(host(yd), y, **tol)

    g = rng.standard_normal((3, 4)).astype(dtype)
    outs = [np.empty((3, 4), dtype), np.empty((3, 9), dtype), np.empty((9, 4), dtype),
            np.empty(4, dtype)]
    saved = z if code in cpu.NEEDS_PREACTIVATION else y
    cpu.dense_backward(g, x, kernel, saved, y, code, params, *outs)
    douts = [filled(o.shape, dtype) for o in outs]
    gpu.dense_backward(dev(g), xd, kd, dev(saved), dev(y), code, params, *douts)
    for name, got, expected in zip(["dx", "dkernel", "dbias"], douts[1:], outs[1:]):
        np.testing.assert_allclose(host(got), expected, **tol, err_msg=name)
    # Each gradient also against plain numpy.
    dz = outs[0] if code != cpu.LINEAR else g
    np.testing.assert_allclose(host(douts[2]), x.T.astype(np.float64) @ dz, **tol)
    np.testing.assert_allclose(host(douts[3]), dz.astype(np.float64).sum(axis=0), **tol)


def test_backward_outputs_may_be_skipped():
    rng = np.random.default_rng(6)
    x, kernel, g = (rng.standard_normal(s) for s in [(3, 2), (2, 4), (3, 4)])
    dkernel = filled((2, 4), np.float64)
    gpu.dense_backward(dev(g), dev(x), dev(kernel), dev(g), dev(g), cpu.LINEAR, cpu.NO_PARAMS,
                       dev(g), None, dkernel, None)
    np.testing.assert_allclose(host(dkernel), x.T @ g, rtol=1e-13)


def test_errors_name_the_argument():
    z = dev(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="`code` must be an activation code"):
        gpu.bias_activation(z, dev(np.empty(0)), 99, cpu.NO_PARAMS, z)
    with pytest.raises(ValueError, match=r"`params` must have shape \(4,\)"):
        gpu.bias_activation(z, dev(np.empty(0)), cpu.RELU, np.zeros(3), z)
    with pytest.raises(ValueError, match=r"`bias` must have shape \(3,\) or \(0,\)"):
        gpu.bias_activation(z, dev(np.zeros(2)), cpu.RELU, cpu.NO_PARAMS, z)
    with pytest.raises(TypeError, match="`bias` must have dtype float64"):
        gpu.bias_activation(z, dev(np.zeros(3, np.float32)), cpu.RELU, cpu.NO_PARAMS, z)
    with pytest.raises(TypeError, match="`z` and `y` must share one dtype"):
        gpu.bias_activation(z, dev(np.empty(0)), cpu.RELU, cpu.NO_PARAMS,
                            dev(np.zeros((2, 3), np.float32)))
    with pytest.raises(ValueError, match=r"`dz` must have shape \(2, 3\)"):
        gpu.activation_backward(z, z, z, cpu.TANH, cpu.NO_PARAMS, dev(np.zeros((3, 2))))
    with pytest.raises(TypeError, match="`g` must be a CUDA device array"):
        gpu.activation_backward(np.zeros((2, 3)), z, z, cpu.TANH, cpu.NO_PARAMS, z)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_crossentropy_gradient_matches_numpy(dtype):
    # d/dz of mean(-sum(y * log(softmax(z)))) = (p * sum(y) - y) / rows.
    rng = np.random.default_rng(7)
    z = rng.standard_normal((4, 6))
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    y = rng.uniform(0, 1, (4, 6))
    y[:2] = np.eye(6)[[3, 0]]  # one-hot rows and soft rows
    expected = (p * y.sum(axis=1, keepdims=True) - y) / 4
    dz = filled(p.shape, dtype)
    gpu.softmax_crossentropy_backward(dev(p.astype(dtype)), dev(y.astype(dtype)), 0.25, dz)
    tol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(host(dz), expected, rtol=tol * 10, atol=tol)
    # Against finite differences of the loss itself (float64).
    def loss(zz):
        q = np.exp(zz - zz.max(axis=1, keepdims=True))
        q /= q.sum(axis=1, keepdims=True)
        return -(y * np.log(q)).sum() / 4
    if dtype == np.float64:
        h = 1e-6
        fd = np.zeros_like(z)
        for idx in np.ndindex(z.shape):
            zp, zm = z.copy(), z.copy()
            zp[idx] += h
            zm[idx] -= h
            fd[idx] = (loss(zp) - loss(zm)) / (2 * h)
        np.testing.assert_allclose(host(dz), fd, rtol=1e-6, atol=1e-8)
    with pytest.raises(TypeError, match="`p`, `y` and `dz` must share one dtype"):
        gpu.softmax_crossentropy_backward(dev(p), dev(y.astype(np.float32)), 0.25, dev(p))
