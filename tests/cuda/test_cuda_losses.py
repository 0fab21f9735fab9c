"""The resident trainer's loss, accuracy and gather kernels against numpy references."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cuda_helpers import dev, host
from fastkeras.kernels.cuda import losses as kl

EPS = 1e-7


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def batch(rows=5, units=4, seed=0):
    rng = np.random.default_rng(seed)
    p = softmax(rng.normal(size=(rows, units)) * 3).astype(np.float32)
    labels = rng.integers(0, units, rows)
    onehot = np.eye(units, dtype=np.float32)[labels]
    sw = rng.uniform(0.5, 2, rows).astype(np.float32)
    return p, labels, onehot, sw


def reference(name, p, y, sw):
    """(sum of sample_weight * loss, gradient of that sum) in float64, as fastkeras.losses."""
    p, sw = p.astype(np.float64), sw.astype(np.float64)
    units = p.shape[1]
    if name == "sparse_categorical_crossentropy":
        onehot = np.eye(units)[y]
        q = np.clip(p[np.arange(len(y)), y] / p.sum(axis=1), EPS, 1 - EPS)
        return np.sum(sw * -np.log(q)), sw[:, None] * (p - onehot)
    y = y.astype(np.float64)
    if name == "categorical_crossentropy":
        q = np.clip(p / p.sum(axis=1, keepdims=True), EPS, 1 - EPS)
        loss = -np.sum(y * np.log(q), axis=1)
        return np.sum(sw * loss), sw[:, None] * (p * y.sum(axis=1, keepdims=True) - y)
    if name == "binary_crossentropy":
        pc = np.clip(p, EPS, 1 - EPS)
        loss = -np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc), axis=1)
        return np.sum(sw * loss), sw[:, None] * (p - y) / units
    loss = np.mean((p - y) ** 2, axis=1)
    return np.sum(sw * loss), sw[:, None] * 2 * (p - y) / units


@pytest.mark.parametrize("name", kl.LOSSES)
def test_loss_sums_and_gradients_match_numpy(name):
    p, labels, onehot, sw = batch()
    y = labels.astype(np.int32) if name.startswith("sparse") else onehot
    if name == "binary_crossentropy":
        y = (np.random.default_rng(1).random(p.shape) < 0.5).astype(np.float32)
    acc = dev(np.array([0.0, 1.5]))
    dz = dev(np.full(p.shape, np.nan, np.float32))
    kl.loss_batch(name, dev(p), dev(y), dev(sw), 0.25, EPS, dz, acc, 1)
    want_sum, want_grad = reference(name, p, y, sw)
    got = host(acc)
    assert got[0] == 0.0
    np.testing.assert_allclose(got[1] - 1.5, want_sum, rtol=1e-6)
    np.testing.assert_allclose(host(dz), 0.25 * want_grad, rtol=1e-5, atol=1e-7)
    # without sample weights and without a gradient: the plain sum, accumulated on top
    kl.loss_batch(name, dev(p), dev(y), None, 0.25, EPS, None, acc, 1)
    plain, _ = reference(name, p, y, np.ones_like(sw))
    np.testing.assert_allclose(host(acc)[1] - 1.5, want_sum + plain, rtol=1e-6)


@settings(max_examples=12, deadline=None)
@given(rows=st.integers(1, 70), units=st.integers(1, 6), seed=st.integers(0, 2**16),
       name=st.sampled_from(kl.LOSSES))
def test_any_batch_shape_matches_numpy(rows, units, seed, name):
    # more rows than the block's threads: each thread walks several rows
    p, labels, onehot, sw = batch(rows, units, seed)
    y = labels.astype(np.int32) if name.startswith("sparse") else onehot
    acc = dev(np.zeros(1))
    dz = dev(np.zeros(p.shape, np.float32))
    kl.loss_batch(name, dev(p), dev(y), dev(sw), 1.0, EPS, dz, acc, 0)
    want_sum, want_grad = reference(name, p, y, sw)
    np.testing.assert_allclose(host(acc)[0], want_sum, rtol=1e-6)
    np.testing.assert_allclose(host(dz), want_grad, rtol=1e-5, atol=1e-7)


def test_accuracy_counts_match_numpy():
    p, labels, onehot, _ = batch(rows=7, units=3, seed=2)
    p[0] = [0.2, 0.4, 0.4]  # a tie goes to the first index, as numpy's argmax
    acc = dev(np.zeros(3))
    kl.accuracy_batch(kl.CATEGORICAL, dev(p), dev(onehot), acc, 0)
    kl.accuracy_batch(kl.SPARSE_CATEGORICAL, dev(p), dev(labels.astype(np.int32)), acc, 1)
    target = (np.random.default_rng(3).random(p.shape) < 0.5).astype(np.float32)
    kl.accuracy_batch(kl.BINARY, dev(p), dev(target), acc, 2, threshold=0.3)
    hits = np.sum(p.argmax(axis=1) == labels)
    binary = np.sum(np.mean(target == (p > 0.3), axis=1))
    np.testing.assert_allclose(host(acc), [hits, hits, binary], rtol=1e-12)


def test_gather_rows_takes_rows_in_index_order():
    src = np.arange(15, dtype=np.float64).reshape(5, 3)
    index = np.array([4, 0, 2, 2], np.int64)
    out = dev(np.zeros((4, 3)))
    kl.gather_rows(dev(src), dev(index), out)
    np.testing.assert_array_equal(host(out), src[index])


def test_bad_arguments_are_named():
    p, labels, onehot, _ = batch()
    acc = dev(np.zeros(1))
    with pytest.raises(ValueError, match="`name` must be one of"):
        kl.loss_batch("hinge", dev(p), dev(onehot), None, 1.0, EPS, None, acc, 0)
    with pytest.raises(TypeError, match="`y` must have dtype int32"):
        kl.loss_batch("sparse_categorical_crossentropy", dev(p), dev(labels), None, 1.0, EPS,
                      None, acc, 0)
    with pytest.raises(ValueError, match=r"`y` must have shape \(5, 4\)"):
        kl.loss_batch("mean_squared_error", dev(p), dev(onehot[:3]), None, 1.0, EPS, None,
                      acc, 0)
    with pytest.raises(ValueError, match="`slot` must be an index into `acc`"):
        kl.loss_batch("mean_squared_error", dev(p), dev(onehot), None, 1.0, EPS, None, acc, 1)
    with pytest.raises(TypeError, match="`acc` must have dtype float64"):
        kl.accuracy_batch(kl.CATEGORICAL, dev(p), dev(onehot), dev(np.zeros(1, np.float32)), 0)
    with pytest.raises(ValueError, match="`kind` must be"):
        kl.accuracy_batch(7, dev(p), dev(onehot), acc, 0)
    with pytest.raises(TypeError, match="`p` must be a CUDA device array"):
        kl.loss_batch("mean_squared_error", p, dev(onehot), None, 1.0, EPS, None, acc, 0)
    with pytest.raises(ValueError, match="`src` and `out` must have rows of one length"):
        kl.gather_rows(dev(p), dev(np.zeros(2, np.int64)), dev(np.zeros((2, 3), np.float32)))
