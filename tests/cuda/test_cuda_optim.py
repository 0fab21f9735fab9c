"""CUDA optimizer updates against their CPU twins (float32 and float64, every variant)."""

import numpy as np
import pytest

from cuda_helpers import dev, host
from fastkeras.kernels import optim as cpu
from fastkeras.kernels.cuda import optim as gpu

# The GPU compiler fuses a*b + c into one rounding: a couple of ulp, never more.
MAXULP = 4


def _arrays(seed, n, dtype, count):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=n).astype(dtype) for _ in range(count)]


def _scalars(dtype, *values):
    return [np.dtype(dtype).type(v) for v in values]


def _compare(step, arrays, scalars, flags):
    """Run ``step`` on the CPU and on the device from the same state; compare every array."""
    cpu_state = [a.copy() for a in arrays]
    getattr(cpu, step)(*cpu_state, *scalars, *flags)
    dev_state = [dev(a) for a in arrays]
    getattr(gpu, step)(*dev_state, *scalars, *flags)
    for got, expected in zip(dev_state, cpu_state):
        np.testing.assert_array_max_ulp(host(got), expected, maxulp=MAXULP)
    np.testing.assert_array_equal(host(dev_state[1]), arrays[1])  # the gradient is read only
    assert not np.array_equal(host(dev_state[0]), arrays[0])  # the variable did move


CASES = [(dtype, gscale, clip, decay) for dtype in ("float32", "float64")
         for gscale, clip, decay in [(1.0, np.inf, 1.0), (0.37, 0.5, 0.95)]]


@pytest.mark.parametrize("dtype, gscale, clip, decay", CASES)
def test_sgd_and_momentum(dtype, gscale, clip, decay):
    w, g, v = _arrays(1, 300, dtype, 3)
    _compare("sgd_step", [w, g], _scalars(dtype, gscale, clip, decay, 0.1), [])
    for nesterov in (False, True):
        _compare("sgd_momentum_step", [w, g, v],
                 _scalars(dtype, gscale, clip, decay, 0.1, 0.9), [nesterov])


@pytest.mark.parametrize("dtype, gscale, clip, decay", CASES)
@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam(dtype, gscale, clip, decay, amsgrad):
    w, g, m, v, vh = _arrays(2, 300, dtype, 5)
    sc = _scalars(dtype, gscale, clip, decay, 0.03, 0.9, 1 - 0.9, 0.999, 1 - 0.999, 1e-7)
    _compare("adam_step", [w, g, m, np.abs(v), np.abs(vh)], sc, [amsgrad])


@pytest.mark.parametrize("dtype, gscale, clip, decay", CASES)
@pytest.mark.parametrize("centered, use_momentum", [(False, False), (True, True)])
def test_rmsprop(dtype, gscale, clip, decay, centered, use_momentum):
    w, g, v, a, mom = _arrays(3, 300, dtype, 5)
    sc = _scalars(dtype, gscale, clip, decay, 0.01, 0.9, 1 - 0.9, 0.5, 1e-7)
    _compare("rmsprop_step", [w, g, np.abs(v) + 1, a * 0.1, mom], sc,
             [centered, use_momentum])


@pytest.mark.parametrize("dtype, gscale, clip, decay", CASES)
def test_adagrad(dtype, gscale, clip, decay):
    w, g, acc = _arrays(4, 300, dtype, 3)
    _compare("adagrad_step", [w, g, np.abs(acc)],
             _scalars(dtype, gscale, clip, decay, 0.01, 1e-7), [])


def test_hand_computed_sgd_momentum_step():
    # v = 0.9 * 1 - 0.5 * 2 = -0.1; w = 3 + v = 2.9 (Nesterov: 3 - 0.5*2 + 0.9 * -0.1 = 1.91).
    for nesterov, expected in ((False, 2.9), (True, 1.91)):
        w, v = dev(np.array([3.0])), dev(np.array([1.0]))
        gpu.sgd_momentum_step(w, dev(np.array([2.0])), v, 1.0, np.inf, 1.0, 0.5, 0.9, nesterov)
        np.testing.assert_allclose(host(w), [expected], rtol=1e-15)
        np.testing.assert_allclose(host(v), [-0.1], rtol=1e-15)


def test_unused_slots_are_not_touched():
    w, g, m, v = _arrays(5, 50, "float32", 4)
    v = np.abs(v)
    sentinel = dev(np.full(7, 9.0, np.float32))  # any array of the dtype will do
    gpu.adam_step(dev(w), dev(g), dev(m), dev(v), sentinel, *_scalars("float32", 1, np.inf, 1,
                  0.1, 0.9, 0.1, 0.999, 0.001, 1e-7), False)
    np.testing.assert_array_equal(host(sentinel), np.full(7, 9.0, np.float32))


def test_errors_name_the_argument():
    w = dev(np.zeros(4, np.float32))
    with pytest.raises(TypeError, match="`w` must be a CUDA device array"):
        gpu.sgd_step(np.zeros(4, np.float32), w, 1, np.inf, 1, 0.1)
    with pytest.raises(ValueError, match=r"`g` must have shape \(4,\)"):
        gpu.sgd_step(w, dev(np.zeros(5, np.float32)), 1, np.inf, 1, 0.1)
    with pytest.raises(TypeError, match="`velocity` must have the variable's dtype float32"):
        gpu.sgd_momentum_step(w, w, dev(np.zeros(4)), 1, np.inf, 1, 0.1, 0.9, False)
    with pytest.raises(TypeError, match="`lr` must be a real number"):
        gpu.sgd_step(w, w, 1, np.inf, 1, "0.1")
    with pytest.raises(ValueError, match="`v_hat` must have shape"):
        gpu.adam_step(w, w, w, w, dev(np.zeros(3, np.float32)), 1, np.inf, 1, 0.1, 0.9, 0.1,
                      0.999, 0.001, 1e-7, True)
    with pytest.raises(ValueError, match="`w` must be 1-D"):
        gpu.adagrad_step(dev(np.zeros((2, 2))), w, w, 1, np.inf, 1, 0.1, 1e-7)
