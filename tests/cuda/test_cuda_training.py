"""Device-resident training from the CUDA twins: a small MLP's Adam steps against numpy.

Data, weights, activations, gradients and Adam's moments stay on the device for every step; only
the per-step scalars (Adam's bias-corrected step) come from the host.
"""

import numpy as np

from cuda_helpers import dev, host
from fastkeras.kernels import dense as kd
from fastkeras.kernels.cuda import dense, optim

SIZES = (6, 5, 3)
BATCH = 4


def _numpy_steps(x, y, params, order):
    """The same training in float64 numpy: relu hidden layer, softmax crossentropy, Adam."""
    w = [p.astype(np.float64) for p in params]
    m = [np.zeros_like(p) for p in w]
    v = [np.zeros_like(p) for p in w]
    for step, i in enumerate(order, 1):
        xb, yb = x[i * BATCH:(i + 1) * BATCH], y[i * BATCH:(i + 1) * BATCH]
        z1 = xb @ w[0] + w[1]
        a1 = np.maximum(z1, 0)
        z2 = a1 @ w[2] + w[3]
        p = np.exp(z2 - z2.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        d2 = (p - yb) / BATCH
        d1 = (d2 @ w[2].T) * (z1 > 0)
        grads = [xb.T @ d1, d1.sum(axis=0), a1.T @ d2, d2.sum(axis=0)]
        alpha = 1e-2 * np.sqrt(1 - 0.999 ** step) / (1 - 0.9 ** step)
        for k, g in enumerate(grads):
            m[k] = 0.9 * m[k] + 0.1 * g
            v[k] = 0.999 * v[k] + 0.001 * g * g
            w[k] = w[k] - alpha * m[k] / (np.sqrt(v[k]) + 1e-7)
    return w


def test_resident_mlp_steps_match_numpy():
    rng = np.random.default_rng(0)
    x = rng.random((3 * BATCH, SIZES[0])).astype(np.float32)
    y = np.eye(SIZES[2], dtype=np.float32)[rng.integers(0, SIZES[2], 3 * BATCH)]
    params = [rng.uniform(-0.7, 0.7, (SIZES[0], SIZES[1])).astype(np.float32),
              rng.uniform(-0.1, 0.1, SIZES[1]).astype(np.float32),
              rng.uniform(-0.7, 0.7, (SIZES[1], SIZES[2])).astype(np.float32),
              rng.uniform(-0.1, 0.1, SIZES[2]).astype(np.float32)]
    order = [2, 0, 1]

    dx, dy = dev(x), dev(y)
    w = [dev(p) for p in params]
    slots = [(dev(np.zeros_like(p)), dev(np.zeros_like(p))) for p in params]
    grads = [dev(np.zeros_like(p)) for p in params]
    z1, a1, dz1 = (dev(np.zeros((BATCH, SIZES[1]), np.float32)) for _ in range(3))
    z2, p2, dz2 = (dev(np.zeros((BATCH, SIZES[2]), np.float32)) for _ in range(3))
    relu, relu_params = kd.ACTIVATIONS["relu"]
    f32 = np.float32
    for step, i in enumerate(order, 1):
        xb, yb = dx[i * BATCH:(i + 1) * BATCH], dy[i * BATCH:(i + 1) * BATCH]
        dense.dense_forward(xb, w[0], w[1], relu, relu_params, z1, a1)
        dense.dense_forward(a1, w[2], w[3], kd.SOFTMAX, kd.NO_PARAMS, z2, p2)
        dense.softmax_crossentropy_backward(p2, yb, 1 / BATCH, dz2)
        dense.dense_backward(dz2, a1, w[2], z2, p2, kd.LINEAR, kd.NO_PARAMS, dz2, a1, grads[2],
                             grads[3])  # a1 is dead after this: it takes the gradient da1
        dense.dense_backward(a1, xb, w[0], z1, z1, relu, relu_params, dz1, None, grads[0],
                             grads[1])
        alpha = 1e-2 * np.sqrt(1 - 0.999 ** step) / (1 - 0.9 ** step)
        for p, g, (m, v) in zip(w, grads, slots):
            optim.adam_step(p.reshape(p.size), g.reshape(g.size), m.reshape(m.size),
                            v.reshape(v.size), v.reshape(v.size), f32(1), f32(np.inf), f32(1),
                            f32(alpha), f32(0.9), f32(0.1), f32(0.999), f32(0.001), f32(1e-7),
                            False)
    expected = _numpy_steps(x.astype(np.float64), y.astype(np.float64), params, order)
    for got, want, start in zip(w, expected, params):
        assert not np.array_equal(host(got), start)
        np.testing.assert_allclose(host(got), want, rtol=0, atol=2e-5)
