"""CUDA mask kernels against their CPU twins: bit-identical masks and outputs for a seed."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import cuda

from cuda_helpers import dev, filled, host
from fastkeras.kernels import masks
from fastkeras.kernels.cuda import masks as cmasks


def _run(module, to, back, x, seed, counter, rate, noise):
    """Dropout of ``x`` through ``module``'s kernels, dense or broadcast as the layout says."""
    dims, strides, size = masks.broadcast_layout(x.shape, noise)
    key, threshold = masks.stream_key(seed, counter), masks.keep_threshold(rate)
    keep_prob = x.dtype.type(1 - rate)
    if size == x.size:
        out = to(np.full(x.size, np.nan, x.dtype))
        module.dropout_dense(to(x.reshape(-1)), out, key, threshold, keep_prob)
    else:
        rows = (x.size // dims[-1], int(dims[-1]))
        out = to(np.full(rows, np.nan, x.dtype))
        module.dropout_broadcast(to(x.reshape(rows)), out, dims, strides, key, threshold,
                                 keep_prob)
    return back(out).reshape(x.shape)


def cpu_dropout(x, seed, counter, rate, noise):
    return _run(masks, np.asarray, np.asarray, x, seed, counter, rate, noise)


def cuda_dropout(x, seed, counter, rate, noise):
    return _run(cmasks, dev, host, x, seed, counter, rate, noise)


@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_dropout_bit_identical_to_cpu(data):
    shape = tuple(data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=4), label="shape"))
    noise = tuple(data.draw(st.sampled_from([1, s]), label=f"noise{i}")
                  for i, s in enumerate(shape))
    dtype = data.draw(st.sampled_from([np.float32, np.float64]), label="dtype")
    rate = data.draw(st.floats(0.0, 1.0), label="rate")
    seed = data.draw(st.integers(-2**63, 2**64 - 1), label="seed")
    counter = data.draw(st.integers(0, 1000), label="counter")
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    expected = cpu_dropout(x, seed, counter, rate, noise)
    got = cuda_dropout(x, seed, counter, rate, noise)
    assert got.tobytes() == expected.tobytes()


def test_dropout_spans_several_blocks_and_keeps_specials():
    # More elements than one block of threads; NaN/inf kept or dropped exactly like the CPU.
    x = np.random.default_rng(1).standard_normal((3, 130)).astype(np.float32)
    x[0, :4] = [np.nan, np.inf, -np.inf, -0.0]
    for noise in [(3, 130), (3, 1), (1, 130)]:
        got = cuda_dropout(x, 7, 3, 0.45, noise)
        assert got.tobytes() == cpu_dropout(x, 7, 3, 0.45, noise).tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_masking_forward_matches_cpu(dtype):
    rng = np.random.default_rng(4)
    x = (rng.integers(0, 2, (12, 3)) * 2).astype(dtype)
    x[5] = [np.nan, 0, 0]
    x[6] = 0
    expected_out, expected_mask = np.empty_like(x), np.zeros(12, bool)
    masks.masking_forward(x, dtype(0), expected_out, expected_mask)
    out, mask = filled(x.shape, dtype), cuda.to_device(np.ones(12, bool))
    cmasks.masking_forward(dev(x), 0.0, out, mask)
    np.testing.assert_array_equal(host(mask), expected_mask)
    np.testing.assert_array_equal(host(out), expected_out)
    assert (~expected_mask).any() and expected_mask.any()


def test_masking_long_rows_and_empty_rows():
    # Rows longer than a block share the decision across the block; zero features mask all.
    x = np.zeros((3, 300), np.float32)
    x[1, 299] = 2.0
    out, mask = filled(x.shape, np.float32), cuda.to_device(np.ones(3, bool))
    cmasks.masking_forward(dev(x), 0.0, out, mask)
    assert host(mask).tolist() == [False, True, False]
    np.testing.assert_array_equal(host(out), x)
    empty = np.zeros((2, 0), np.float32)
    mask = cuda.to_device(np.ones(2, bool))
    cmasks.masking_forward(dev(empty), 0.0, dev(empty), mask)
    assert host(mask).tolist() == [False, False]


def test_masked_rows_matches_cpu():
    src = np.arange(15, dtype=np.float64).reshape(5, 3) - 4
    src[2, 1] = np.nan
    keep = np.array([True, False, True, False, True])
    expected = np.full_like(src, 7.0)
    masks.masked_rows(src, keep, expected)
    out = filled(src.shape, np.float64, 7.0)
    cmasks.masked_rows(dev(src), dev(keep), out)
    np.testing.assert_array_equal(host(out), expected)


def test_errors_name_the_argument():
    x = dev(np.zeros(4, np.float32))
    key, thr = masks.stream_key(0, 0), masks.keep_threshold(0.5)
    with pytest.raises(TypeError, match="`src` must be a CUDA device array"):
        cmasks.dropout_dense(np.zeros(4, np.float32), x, key, thr, 0.5)
    with pytest.raises(TypeError, match="`src` and `out` must share one dtype"):
        cmasks.dropout_dense(x, dev(np.zeros(4)), key, thr, 0.5)
    with pytest.raises(ValueError, match="`out` must have shape"):
        cmasks.dropout_dense(x, dev(np.zeros(5, np.float32)), key, thr, 0.5)
    x2 = dev(np.zeros((3, 4), np.float32))
    dims, strides, _ = masks.broadcast_layout((3, 4), (3, 1))
    with pytest.raises(ValueError, match="`dims` and `strides` must be 1-D"):
        cmasks.dropout_broadcast(x2, x2, dims, np.array([1]), key, thr, 0.5)
    with pytest.raises(ValueError, match="must multiply to the size of `src`"):
        cmasks.dropout_broadcast(x2, x2, np.array([4, 3]), strides, key, thr, 0.5)
    with pytest.raises(TypeError, match="`dims` must be a host"):
        cmasks.dropout_broadcast(x2, x2, dev(dims), strides, key, thr, 0.5)
    with pytest.raises(TypeError, match="`x` must have dtype"):
        cmasks.masking_forward(dev(np.zeros((2, 2), np.int32)), 0, x, x)
    with pytest.raises(ValueError, match="`mask` must have shape"):
        cmasks.masked_rows(dev(np.zeros((2, 2))), dev(np.ones(3, bool)), dev(np.zeros((2, 2))))
