"""Counter-based mask kernels: the documented generator bit for bit, broadcast layouts, Masking."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastkeras.kernels import masks

# The published SplitMix64 test vector: the first outputs of the generator seeded with 1234567.
SPLITMIX64_1234567 = [6457827717110365317, 3203168211198807973, 9817491932198370423,
                      4593380528125082431, 16408922859458223821]


def _mix64(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def reference_keep(seed: int, counter: int, size: int, rate: float) -> np.ndarray:
    """The module docstring's generator in plain numpy uint64 arithmetic (wraps mod 2**64)."""
    g = np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        base = _mix64(np.array([seed % 2**64], dtype=np.uint64))
        key = _mix64(base + np.array([counter + 1], dtype=np.uint64) * g)
        bits = _mix64(key + (np.arange(size, dtype=np.uint64) + np.uint64(1)) * g)
    u = (bits >> np.uint64(32)).astype(np.float64) / 2.0**32
    return u >= rate


def reference_dropout(x, seed, counter, rate, noise_shape):
    keep = reference_keep(seed, counter, int(np.prod(noise_shape)), rate).reshape(noise_shape)
    kp = x.dtype.type(1 - rate)
    with np.errstate(divide="ignore", invalid="ignore"):  # rate 1: nothing is kept anyway
        return np.where(np.broadcast_to(keep, x.shape), x / kp, x.dtype.type(0))


def run_kernel(x, seed, counter, rate, noise_shape):
    """Apply the kernel the layout calls for, as the dropout op does."""
    dims, strides, size = masks.broadcast_layout(x.shape, noise_shape)
    assert size == int(np.prod(noise_shape))
    out = np.full_like(x, np.nan)
    args = (masks.stream_key(seed, counter), masks.keep_threshold(rate), x.dtype.type(1 - rate))
    if dims.size == 1 and strides[0] == 1:
        masks.dropout_dense(x.reshape(-1), out.reshape(-1), *args)
    else:
        rows = (-1, int(dims[-1]))
        masks.dropout_broadcast(x.reshape(rows), out.reshape(rows), dims, strides, *args)
    return out


def test_element_hash_is_splitmix64():
    # With key k, element m uses the (m+1)-th SplitMix64 output of state k.
    key = np.uint64(1234567)
    u = np.array([v >> 32 for v in SPLITMIX64_1234567], dtype=np.float64) / 2.0**32
    src = np.ones(5, np.float64)
    for rate in (0.05, 0.3, 0.5, 0.7, 0.95):
        out = np.empty(5)
        masks.dropout_dense(src, out, key, masks.keep_threshold(rate), 1 - rate)
        np.testing.assert_array_equal(out != 0, u >= rate)
        # The broadcast kernel on a one-group, unshared layout draws the same bits.
        out2 = np.empty((1, 5))
        masks.dropout_broadcast(src.reshape(1, 5), out2, np.array([5], np.int64),
                                np.array([1], np.int64), key, masks.keep_threshold(rate),
                                1 - rate)
        np.testing.assert_array_equal(out2[0], out)


def test_stream_key_matches_numpy_reference():
    g = 0x9E3779B97F4A7C15
    for seed, counter in [(0, 0), (1, 0), (1, 1), (-5, 3), (2**70 + 3, 9)]:
        with np.errstate(over="ignore"):
            base = _mix64(np.array([seed % 2**64], dtype=np.uint64))
            expected = _mix64(base + np.uint64((counter + 1) * g % 2**64))[0]
        assert masks.stream_key(seed, counter) == expected


def test_keep_threshold_is_exact():
    assert masks.keep_threshold(0.0) == 0
    assert masks.keep_threshold(0.5) == 2**31
    assert masks.keep_threshold(1.0) == 2**32
    # 0.1 * 2**32 = 429496729.6 -> the first 32-bit value u with u / 2**32 >= 0.1 is 429496730.
    assert masks.keep_threshold(0.1) == 429496730
    assert 429496729 / 2**32 < 0.1 <= 429496730 / 2**32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_dropout_matches_reference_across_blocks(dtype):
    x = np.random.default_rng(0).standard_normal((3, 16384 + 7)).astype(dtype)
    out = run_kernel(x, seed=11, counter=2, rate=0.3, noise_shape=x.shape)
    np.testing.assert_array_equal(out, reference_dropout(x, 11, 2, 0.3, x.shape))
    assert out.dtype == dtype


def test_dropped_values_are_exact_zeros_even_for_nan_and_inf():
    x = np.array([np.nan, np.inf, -np.inf, 1.0] * 64, np.float32)
    out = run_kernel(x, seed=3, counter=0, rate=0.5, noise_shape=x.shape)
    keep = reference_keep(3, 0, x.size, 0.5)
    assert np.all(out[~keep] == 0) and not np.signbit(out[~keep]).any()
    np.testing.assert_array_equal(out[keep], x[keep] / np.float32(0.5))


def test_rate_one_drops_everything():
    x = np.random.default_rng(1).standard_normal((10, 100)).astype(np.float32)
    for noise in [x.shape, (10, 1)]:
        out = run_kernel(x, 0, 0, 1.0, noise)
        np.testing.assert_array_equal(out, np.zeros_like(x))


@pytest.mark.parametrize("shape, noise, dims, strides, size", [
    ((3, 5, 7), (3, 5, 7), [105], [1], 105),
    ((3, 5, 7), (3, 1, 7), [3, 5, 7], [7, 0, 1], 21),
    ((3, 5, 7), (1, 5, 1), [3, 5, 7], [0, 1, 0], 5),
    ((3, 5, 7), (3, 5, 1), [15, 7], [1, 0], 15),
    ((3, 5, 7), (7,), [15, 7], [0, 1], 7),
    ((3, 1, 7), (3, 1, 1), [3, 7], [1, 0], 3),
    ((2, 3), (1, 1), [6], [0], 1),
    ((), (), [1], [1], 1),
])
def test_broadcast_layout(shape, noise, dims, strides, size):
    d, s, n = masks.broadcast_layout(shape, noise)
    assert d.tolist() == dims and s.tolist() == strides and n == size
    assert d.dtype == np.int64 and s.dtype == np.int64


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_broadcast_dropout_matches_numpy_reference(data):
    shape = tuple(data.draw(st.lists(st.integers(1, 6), min_size=1, max_size=5), label="shape"))
    noise = tuple(data.draw(st.sampled_from([1, s]), label=f"noise{i}")
                  for i, s in enumerate(shape))
    lead = data.draw(st.integers(0, len(noise) - 1), label="dropped leading axes")
    noise = noise[lead:]  # a shorter noise shape broadcasts from the right
    rate = data.draw(st.floats(0.0, 1.0), label="rate")
    seed = data.draw(st.integers(-2**63, 2**64 - 1), label="seed")
    counter = data.draw(st.integers(0, 1000), label="counter")
    x = np.random.default_rng(0).standard_normal(shape)
    expected = reference_dropout(x, seed, counter, rate,
                                 (1,) * (len(shape) - len(noise)) + noise)
    np.testing.assert_array_equal(run_kernel(x, seed, counter, rate, noise), expected)


@pytest.mark.parametrize("shape, noise", [
    ((3, 70, 90, 5), (3, 1, 1, 5)),      # channels last: rows of 5 varying entries
    ((3, 5, 70, 90), (3, 5, 1, 1)),      # channels first: rows of 6300 sharing one entry
    ((4, 30, 200, 7), (1, 30, 1, 7)),    # shared leading axis, then varying / shared / varying
])
def test_large_broadcast_masks_span_many_blocks(shape, noise):
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    out = run_kernel(x, seed=5, counter=1, rate=0.4, noise_shape=noise)
    np.testing.assert_array_equal(out, reference_dropout(x, 5, 1, 0.4, noise))


def test_backward_is_the_same_kernel_on_the_gradient():
    # d out / d x = keep / (1 - rate): applying the kernel to a gradient gives g * that.
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 9))
    g = rng.standard_normal((4, 9))
    out = run_kernel(x, 8, 0, 0.25, (4, 1))
    grad = run_kernel(g, 8, 0, 0.25, (4, 1))
    np.testing.assert_allclose(grad, g * (out / x), rtol=1e-12)


def _masking_reference(x, mask_value):
    mask = np.any(x != mask_value, axis=-1)
    return np.where(mask[..., None], x, 0), mask


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_masking_forward_matches_numpy(dtype):
    rng = np.random.default_rng(4)
    x = rng.integers(0, 2, (50, 3)).astype(dtype) * 2  # many rows equal to the mask value
    x[7] = [0, 0, 0]
    out = np.full_like(x, np.nan)
    mask = np.zeros(50, bool)
    masks.masking_forward(x, dtype(0.0), out, mask)
    ref_out, ref_mask = _masking_reference(x, 0.0)
    np.testing.assert_array_equal(mask, ref_mask)
    np.testing.assert_array_equal(out, ref_out)
    assert not mask[7]


def test_masking_nan_value_masks_nothing_and_empty_rows_are_masked():
    x = np.array([[np.nan, np.nan], [1.0, 2.0]], np.float32)
    out = np.empty_like(x)
    mask = np.zeros(2, bool)
    masks.masking_forward(x, np.float32(np.nan), out, mask)
    assert mask.tolist() == [True, True]
    empty = np.empty((3, 0), np.float32)
    mask = np.ones(3, bool)
    masks.masking_forward(empty, np.float32(0), np.empty_like(empty), mask)
    assert mask.tolist() == [False, False, False]


def test_masked_rows():
    src = np.arange(12, dtype=np.float64).reshape(4, 3) - 5
    src[1, 0] = np.nan
    out = np.full_like(src, 7.0)
    keep = np.array([True, False, False, True])
    masks.masked_rows(src, keep, out)
    np.testing.assert_array_equal(out, np.where(keep[:, None], src, 0))


def test_dropout_op_matches_reference():
    from fastkeras.backend.tensor import Tensor
    from fastkeras.layers.dropout import dropout
    x = np.random.default_rng(5).standard_normal((4, 6, 5)).astype(np.float32)
    for noise in [(4, 6, 5), (4, 1, 5), (1, 6, 1), (5,)]:
        out = dropout(Tensor(x), 0.35, noise, seed=12, counter=4)
        full = (1,) * (3 - len(noise)) + noise
        np.testing.assert_array_equal(out.value, reference_dropout(x, 12, 4, 0.35, full))
