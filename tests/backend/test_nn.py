"""fastkeras.backend.nn: the fused Dense and activation ops, and the weight penalty."""

import math

import numpy as np
import pytest
import scipy.special

from fastkeras.backend import nn
from fastkeras.backend.tensor import GradientTape, Tensor, Variable, backprop
from fastkeras.kernels import dense as kd

NAMES = sorted(kd.ACTIVATIONS)


def reference(name, z):
    """f(z) in float64 numpy, independent of the kernels."""
    sig = scipy.special.expit
    c = math.sqrt(2 / math.pi)
    table = {
        "linear": lambda: z,
        "relu": lambda: np.maximum(z, 0),
        "leaky_relu": lambda: np.where(z >= 0, z, 0.2 * z),
        "relu6": lambda: np.clip(z, 0, 6),
        "sigmoid": lambda: sig(z),
        "tanh": lambda: np.tanh(z),
        "softmax": lambda: scipy.special.softmax(z, axis=-1),
        "elu": lambda: np.where(z > 0, z, np.expm1(z)),
        "selu": lambda: 1.0507009873554805 * np.where(z > 0, z, 1.6732632423543772 * np.expm1(z)),
        "softplus": lambda: np.logaddexp(0, z),
        "softsign": lambda: z / (1 + np.abs(z)),
        "hard_sigmoid": lambda: np.clip(z / 6 + 0.5, 0, 1),
        "silu": lambda: z * sig(z),
        "gelu": lambda: 0.5 * z * (1 + scipy.special.erf(z / math.sqrt(2))),
        "gelu_approximate": lambda: 0.5 * z * (1 + np.tanh(c * (z + 0.044715 * z ** 3))),
        "exponential": lambda: np.exp(z),
        "hard_silu": lambda: z * np.clip(z / 6 + 0.5, 0, 1),
        "mish": lambda: z * np.tanh(np.logaddexp(0, z)),
    }
    return table[name]()


def numeric_gradients(f, arrays, weights, eps=1e-6):
    """Central differences of sum(weights * f(*arrays)) with respect to each array."""
    grads = []
    for a in arrays:
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            orig = a[idx]
            a[idx] = orig + eps
            up = np.sum(weights * f(*arrays))
            a[idx] = orig - eps
            down = np.sum(weights * f(*arrays))
            a[idx] = orig
            g[idx] = (up - down) / (2 * eps)
        grads.append(g)
    return grads


def tape_gradients(fn, variables, weights):
    with GradientTape():
        out = fn(*variables)
        loss = np.sum(out * weights)
    return out, backprop(loss, variables)


def kink_free(rng, shape):
    z = rng.normal(scale=2.0, size=shape)
    for k in (0.0, 3.0, -3.0, 6.0):
        z = np.where(np.abs(z - k) < 0.05, k + 0.1, z)
    return z


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4)])
@pytest.mark.parametrize("name", NAMES)
def test_dense_matches_numpy_forward_and_backward(name, shape, use_bias, dtype):
    rng = np.random.default_rng(len(name) * 7 + len(shape))
    x = Variable(rng.standard_normal(shape), dtype=dtype)
    k = Variable(rng.standard_normal((4, 3)) * 0.7, dtype=dtype)
    b = Variable(rng.standard_normal(3), dtype=dtype) if use_bias else None
    code, params = kd.ACTIVATIONS[name]
    weights = rng.standard_normal(shape[:-1] + (3,))

    args = [x, k] + ([b] if use_bias else [])
    out, grads = tape_gradients(lambda *a: nn.dense(a[0], a[1], a[2] if use_bias else None,
                                                    code, params), args, weights)
    x64, k64 = x.value.astype(np.float64), k.value.astype(np.float64)
    z = x64 @ k64 + (b.value.astype(np.float64) if use_bias else 0.0)
    tol = dict(rtol=3e-5, atol=3e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    assert out.shape == shape[:-1] + (3,) and out.dtype == dtype
    np.testing.assert_allclose(out.value, reference(name, z), **tol)
    for g, v in zip(grads, args):
        assert g.shape == v.shape and g.dtype == dtype

    if dtype == np.float64:  # finite differences of the numpy reference
        def f(xa, ka, *ba):
            return reference(name, xa @ ka + (ba[0] if ba else 0.0))
        arrays = [x64.copy(), k64.copy()] + ([b.value.copy()] if use_bias else [])
        if name in ("relu", "leaky_relu", "relu6", "hard_sigmoid", "hard_silu"):
            zk = kink_free(rng, z.shape)  # shift x so no pre-activation sits on a kink
            arrays[0] = arrays[0] + np.linalg.lstsq(k64.T, (zk - z).reshape(-1, 3).T,
                                                    rcond=None)[0].T.reshape(shape)
            x.assign(arrays[0])
            _, grads = tape_gradients(lambda *a: nn.dense(a[0], a[1], a[2] if use_bias else None,
                                                          code, params), args, weights)
        for g, n in zip(grads, numeric_gradients(f, arrays, weights)):
            np.testing.assert_allclose(g, n, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name,op", [("softmax", "softmax"), ("sigmoid", "sigmoid")])
def test_softmax_and_sigmoid_record_logits_then_activation(name, op):
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((3, 4)).astype(np.float32))
    k = Variable(rng.standard_normal((4, 2)))
    b = Variable(np.zeros(2))
    with GradientTape():
        out = nn.dense(x, k, b, *kd.ACTIVATIONS[name])
    assert out.op == op
    (logits,) = out.parents
    assert logits.op == "dense"
    np.testing.assert_allclose(logits.value, x.value @ k.value + b.value, rtol=1e-6)
    np.testing.assert_allclose(out.value, reference(name, logits.value.astype(np.float64)),
                               rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["relu", "tanh", "linear", "gelu"])
def test_other_codes_record_one_dense_node(name):
    x, k = Tensor(np.ones((1, 2), np.float32)), Variable(np.ones((2, 2)))
    with GradientTape():
        out = nn.dense(x, k, None, *kd.ACTIVATIONS[name])
    assert out.op == "dense" and [id(p) for p in out.parents] == [id(x), id(k)]


def test_outside_a_tape_nothing_is_recorded():
    k = Variable(np.ones((2, 2)))
    out = nn.dense(np.ones((1, 2)), k, None, *kd.ACTIVATIONS["softmax"])
    assert out.parents == () and not out.tracked
    np.testing.assert_allclose(out.value, [[0.5, 0.5]])


def test_untracked_input_gets_no_gradient_and_frozen_kernel_none():
    x = Tensor(np.ones((2, 3), np.float32))
    k = Variable(np.ones((3, 2)))
    frozen = Variable(np.ones(2), trainable=False)
    with GradientTape():
        loss = np.sum(nn.dense(x, k, frozen, kd.RELU, kd.relu_params()))
    gx, gk, gb = backprop(loss, [x, k, frozen])
    assert gx is None and gb is None
    np.testing.assert_array_equal(gk, np.full((3, 2), 2.0))


def test_dense_rank3_contracts_last_axis_only():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    out = nn.dense(x, np.ones((4, 3), np.float32))
    assert out.shape == (2, 3, 3)
    np.testing.assert_array_equal(out.value[..., 0].ravel(), [6, 22, 38, 54, 70, 86])


def test_dense_casts_input_to_kernel_dtype_and_gradient_back():
    x = Variable(np.ones((2, 3)), dtype="float64")
    k = Variable(np.ones((3, 1)), dtype="float32")
    with GradientTape():
        out = nn.dense(x, k)
        loss = np.sum(out)
    assert out.dtype == np.float32
    gx, = backprop(loss, [x])
    assert gx.dtype == np.float64
    np.testing.assert_array_equal(gx, np.ones((2, 3)))


def test_dense_float16_runs_in_float32_and_rounds_back():
    x = Variable(np.array([[0.5, -1.0]]), dtype="float16")
    k = Variable(np.array([[1.0], [2.0]]), dtype="float16")
    b = Variable(np.array([0.25]), dtype="float16")
    with GradientTape():
        out = nn.dense(x, k, b, *kd.ACTIVATIONS["tanh"])
        loss = np.sum(out)
    assert out.dtype == np.float16
    np.testing.assert_allclose(out.value, np.tanh([[-1.25]]), rtol=1e-3)
    gx, gk, gb = backprop(loss, [x, k, b])
    assert gx.dtype == gk.dtype == gb.dtype == np.float16
    d = 1 - np.tanh(-1.25) ** 2
    np.testing.assert_allclose(gk, [[0.5 * d], [-d]], rtol=2e-3)
    np.testing.assert_allclose(gb, [d], rtol=2e-3)


def test_dense_non_contiguous_and_readonly_inputs_are_not_modified():
    base = np.arange(12, dtype=np.float32).reshape(4, 3)
    x = base.T  # non-contiguous view
    x.flags.writeable = False
    before = x.copy()
    out = nn.dense(x, np.eye(4, dtype=np.float32), np.ones(4, np.float32), kd.RELU,
                   kd.relu_params())
    np.testing.assert_array_equal(out.value, before + 1)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(x=np.ones((2, 3)), kernel=np.ones((4, 2))), ValueError, "last axis of `x` must match"),
    (dict(x=np.ones((2, 3)), kernel=np.ones(3)), ValueError, "`kernel` must be 2-D"),
    (dict(x=np.ones((2, 3)), kernel=np.ones((3, 2), np.int64)), TypeError, "must have a float"),
    (dict(x=np.ones((2, 3)), kernel=np.ones((3, 2)), bias=np.ones(3)), ValueError,
     r"`bias` must have shape \(2,\)"),
    (dict(x=np.ones((2, 3)), kernel=np.ones((3, 2)), activation_code=99), ValueError,
     "Invalid activation code"),
    (dict(x=np.ones((2, 3)), kernel=np.ones((3, 2)), activation_code=kd.RELU,
          params=np.ones(2)), ValueError, r"`params` must have shape \(4,\)"),
])
def test_dense_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        nn.dense(**kwargs)


@pytest.mark.parametrize("name", NAMES)
def test_activation_op_gradient_matches_finite_differences(name):
    rng = np.random.default_rng(11)
    x = Variable(kink_free(rng, (3, 5)), dtype="float64")
    weights = rng.standard_normal((3, 5))
    code, params = kd.ACTIVATIONS[name]
    out, (g,) = tape_gradients(lambda t: nn.activation(t, code, params), [x], weights)
    np.testing.assert_allclose(out.value, reference(name, x.value), rtol=1e-12, atol=1e-12)
    (n,) = numeric_gradients(lambda a: reference(name, a), [x.value.copy()], weights)
    np.testing.assert_allclose(g, n, rtol=1e-6, atol=1e-7)


def test_activation_softmax_over_another_axis():
    rng = np.random.default_rng(2)
    x = Variable(rng.standard_normal((2, 3, 4)), dtype="float64")
    weights = rng.standard_normal((2, 3, 4))
    out, (g,) = tape_gradients(lambda t: nn.activation(t, kd.SOFTMAX, axis=1), [x], weights)
    assert out.op == "softmax_axis"
    np.testing.assert_allclose(out.value, scipy.special.softmax(x.value, axis=1), rtol=1e-12)
    (n,) = numeric_gradients(lambda a: scipy.special.softmax(a, axis=1), [x.value.copy()], weights)
    np.testing.assert_allclose(g, n, rtol=1e-6, atol=1e-8)


def test_activation_records_softmax_and_sigmoid_with_logits_parent():
    x = Variable(np.zeros((2, 2)))
    with GradientTape():
        s = nn.activation(x, kd.SOFTMAX)
        p = nn.activation(x, kd.SIGMOID)
        r = nn.activation(x, kd.RELU, kd.relu_params())
    for t, op in ((s, "softmax"), (p, "sigmoid")):
        assert t.op == op and len(t.parents) == 1 and t.parents[0] is x
    assert r.op == "relu"


def test_activation_dtypes():
    assert nn.activation(np.ones(3, np.float64), kd.TANH).dtype == np.float64
    assert nn.activation(np.ones(3, np.int64), kd.TANH).dtype == np.float32
    half = nn.activation(np.array([0.0, 1.0], np.float16), kd.SIGMOID)
    assert half.dtype == np.float16
    np.testing.assert_allclose(half.value, [0.5, 0.7310586], rtol=1e-3)
    np.testing.assert_allclose(nn.activation(np.float32(0.0), kd.SOFTMAX).value, 1.0)


def test_activation_linear_is_identity_and_input_untouched():
    x = Tensor(np.array([-1.0, 2.0], np.float32))
    assert nn.activation(x, kd.LINEAR) is x
    ro = np.array([[-1.0, 2.0]], np.float32)
    ro.flags.writeable = False
    np.testing.assert_array_equal(nn.activation(ro, kd.RELU, kd.relu_params()).value, [[0, 2]])
    np.testing.assert_array_equal(ro, [[-1.0, 2.0]])


def test_activation_bad_softmax_axis():
    with pytest.raises(ValueError, match="`axis` 2 is out of bounds"):
        nn.activation(np.ones((2, 2)), kd.SOFTMAX, axis=2)


def test_l1_l2_penalty_value_and_gradient():
    w = Variable(np.array([[1.0, -2.0], [3.0, 0.5]]), dtype="float64")
    with GradientTape():
        p = nn.l1_l2_penalty(w, 0.1, 0.2)
    assert p.shape == () and p.dtype == np.float64
    np.testing.assert_allclose(p.value, 0.1 * 6.5 + 0.2 * 14.25)
    (g,) = backprop(p, [w])
    np.testing.assert_allclose(g, 0.1 * np.sign(w.value) + 0.4 * w.value)
    assert nn.l1_l2_penalty(np.ones(3, np.float32), 0.5).dtype == np.float32


def test_dense_sparse_input_matches_dense_input():
    import scipy.sparse
    x = scipy.sparse.random(6, 5, density=0.4, format="csr", random_state=3)
    k = Variable(np.random.default_rng(4).standard_normal((5, 3)), dtype="float64")
    b = Variable(np.arange(3.0), dtype="float64")
    g = np.random.default_rng(5).standard_normal((6, 3))
    results = []
    for inp in (x, x.toarray()):
        with GradientTape():
            out = nn.dense(inp, k, b, *kd.ACTIVATIONS["elu"])
        results.append((out.value, *backprop(out, [k, b], seed=g)))
    for sparse_result, dense_result in zip(*results):
        np.testing.assert_allclose(sparse_result, dense_result, rtol=1e-13, atol=1e-13)
