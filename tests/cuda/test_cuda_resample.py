"""The CUDA augmentation kernel against its CPU twin: geometry, intensity chain, standardize."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cuda_helpers import dev, filled, host
from fastkeras.kernels import resample as cpu
from fastkeras.kernels.cuda import resample as gpu
from fastkeras.kernels.cuda.launch import SIMULATOR

NO_STATS = np.zeros((1, 1, 1), np.float32)


def keras_matrix(theta, tx, ty, shear, zx, zy, h, w):
    """Keras's composed transform, offset to the image centre, as (row, col) [A | off]."""
    t = np.deg2rad(theta)
    s = np.deg2rad(shear)
    m = (np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
         @ np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]])
         @ np.array([[1, -np.sin(s), 0], [0, np.cos(s), 0], [0, 0, 1]])
         @ np.array([[zx, 0, 0], [0, zy, 0], [0, 0, 1]]))
    ox, oy = h / 2 - 0.5, w / 2 - 0.5
    m = np.array([[1, 0, ox], [0, 1, oy], [0, 0, 1]]) @ m @ np.array([[1, 0, -ox], [0, 1, -oy],
                                                                      [0, 0, 1]])
    return m[:2]


def both(x, out_dtype, matrices, flags, shift, bright, mode, cval, order, post, rescale, mean,
         std, channels_first):
    """The CPU and the CUDA kernel on the same batch; ``x`` must come back untouched."""
    args = (matrices, flags, shift, bright, mode, cval, order, post, rescale)
    expected = np.full(x.shape, 77, out_dtype)
    cpu.affine_batch(x, expected, *args, mean, std, channels_first)
    dx = dev(x)
    out = filled(x.shape, out_dtype, 77)
    gpu.affine_batch(dx, out, *args, mean, std, channels_first)
    np.testing.assert_array_equal(host(dx), x)
    return host(out), expected


def assert_twin(got, expected, samplewise):
    """Bit for bit under the simulator (the same IEEE arithmetic); within float32 rounding on a
    GPU, whose compiler may fuse a*b + c. Samplewise statistics are summed in another order."""
    if samplewise:
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    elif SIMULATOR:
        np.testing.assert_array_equal(got, expected)
    else:
        np.testing.assert_allclose(got, expected, rtol=2e-6, atol=1e-5)


@settings(max_examples=16, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), channels_first=st.booleans(),
       c=st.sampled_from([1, 3, 4]), mode=st.sampled_from(sorted(cpu.MODES)),
       order=st.sampled_from([0, 1]), post=st.integers(0, 31),
       dtype=st.sampled_from([np.uint8, np.float32, np.float64]),
       out_dtype=st.sampled_from([np.float32, np.float64]))
def test_whole_chain_matches_cpu(seed, channels_first, c, mode, order, post, dtype, out_dtype):
    # Every image has its own flags: affine, flips, channel shift, brightness, all mixed.
    rng = np.random.default_rng(seed)
    n, h, w = 3, int(rng.integers(1, 6)), int(rng.integers(1, 6))
    shape = (n, c, h, w) if channels_first else (n, h, w, c)
    x = (rng.integers(0, 256, shape) if dtype == np.uint8
         else rng.uniform(-20, 270, shape)).astype(dtype)
    matrices = np.stack([keras_matrix(*rng.uniform(-30, 30, 4), *rng.uniform(0.7, 1.3, 2),
                                      h=h, w=w) for _ in range(n)])
    flags = rng.integers(0, 32, n).astype(np.uint8)
    mean = rng.uniform(-5, 5, shape[1:]).astype(np.float32)
    std = rng.uniform(0.5, 3, shape[1:]).astype(np.float32)
    got, expected = both(x, out_dtype, matrices, flags, rng.uniform(-60, 60, n),
                         rng.uniform(0.3, 1.8, n), cpu.MODES[mode], 9.5, order, post, 1 / 127,
                         mean, std, channels_first)
    assert_twin(got, expected, post & (cpu.SAMPLE_CENTER | cpu.SAMPLE_STD))


@pytest.mark.parametrize("mode", sorted(cpu.MODES))
def test_fill_modes_far_outside_the_image(mode):
    # Coordinates many image sizes away: every folding rule of every mode, both orders.
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 255, (2, 4, 5, 2)).astype(np.float32)
    matrices = np.array([[[1.3, -0.4, -37.25], [0.2, 0.9, 41.5]],
                         [[-1.1, 0.3, 23.0], [0.4, -1.2, -19.75]]])
    for order in (0, 1):
        got, expected = both(x, np.float64, matrices, np.full(2, cpu.AFFINE, np.uint8),
                             np.zeros(2), np.ones(2), cpu.MODES[mode], -3.5, order, 0, 1.0,
                             NO_STATS, NO_STATS, False)
        assert_twin(got, expected, False)


def test_uint8_output_rounds_and_saturates_like_the_cpu():
    x = np.array([[[[0], [255], [128]], [[254], [1], [77]]]], np.uint8)
    matrices = np.array([[[1.0, 0.3, 0.25], [0.1, 0.7, -0.5]]])
    for cval in (0.0, 300.0, -7.0):
        got, expected = both(x, np.uint8, matrices, np.array([cpu.AFFINE | cpu.FLIP_H], np.uint8),
                             np.zeros(1), np.ones(1), cpu.MODES["constant"], cval, 1, 0, 1.0,
                             NO_STATS, NO_STATS, False)
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, expected)


def test_identity_copy_flips_and_rescale_by_hand():
    # No AFFINE bit: a copy, flipped both ways, then rescaled: out[r, c] = x[1-r, 2-c] / 2.
    x = np.arange(6, dtype=np.float32).reshape(1, 2, 3, 1)
    out = filled(x.shape, np.float32)
    gpu.affine_batch(dev(x), out, np.zeros((1, 2, 3)),
                     np.array([cpu.FLIP_H | cpu.FLIP_V], np.uint8), np.zeros(1), np.ones(1),
                     1, 0.0, 1, cpu.RESCALE, 0.5, NO_STATS, NO_STATS, False)
    np.testing.assert_array_equal(host(out)[0, :, :, 0], [[2.5, 2.0, 1.5], [1.0, 0.5, 0.0]])


def test_samplewise_standardize_of_a_constant_image_is_zero():
    # Keras: (x - mean) / (std + 1e-6) with std exactly 0 for a constant image.
    x = np.full((2, 3, 3, 1), 7.3, np.float32)
    x[1] = np.arange(9, dtype=np.float32).reshape(3, 3, 1)
    out = filled(x.shape, np.float32)
    gpu.affine_batch(dev(x), out, np.zeros((2, 2, 3)), np.zeros(2, np.uint8), np.zeros(2),
                     np.ones(2), 1, 0.0, 1, cpu.SAMPLE_CENTER | cpu.SAMPLE_STD, 1.0, NO_STATS,
                     NO_STATS, False)
    got = host(out)
    np.testing.assert_array_equal(got[0], 0.0)
    ref = (x[1] - x[1].mean()) / (x[1].std() + 1e-6)
    np.testing.assert_allclose(got[1], ref, rtol=1e-6)


def test_featurewise_statistics_may_stay_on_the_device():
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 255, (2, 3, 4, 3)).astype(np.float32)
    mean = rng.uniform(0, 100, (3, 4, 3)).astype(np.float32)
    std = rng.uniform(1, 50, (3, 4, 3)).astype(np.float32)
    post = cpu.FEATURE_CENTER | cpu.FEATURE_STD
    expected = np.empty_like(x)
    cpu.affine_batch(x, expected, np.zeros((2, 2, 3)), np.zeros(2, np.uint8), np.zeros(2),
                     np.ones(2), 1, 0.0, 1, post, 1.0, mean, std, False)
    out = filled(x.shape, np.float32)
    gpu.affine_batch(dev(x), out, np.zeros((2, 2, 3)), np.zeros(2, np.uint8), np.zeros(2),
                     np.ones(2), 1, 0.0, 1, post, 1.0, dev(mean), dev(std), False)
    np.testing.assert_array_equal(host(out), expected)
    np.testing.assert_allclose(expected, (x - mean) / (std + np.float32(1e-6)), rtol=1e-6)


def _args(**change):
    x = dev(np.zeros((2, 4, 5, 3), np.float32))
    args = dict(x=x, out=dev(np.zeros((2, 4, 5, 3), np.float32)),
                matrices=np.tile(np.eye(3)[:2], (2, 1, 1)), flags=np.full(2, cpu.AFFINE, np.uint8),
                shift=np.zeros(2), bright=np.ones(2), mode=1, cval=0.0, order=1, post=0,
                rescale=1.0, mean=NO_STATS, std=NO_STATS, channels_first=False)
    args.update(change)
    return args


@pytest.mark.parametrize("change, error, match", [
    (dict(x=np.zeros((2, 4, 5, 3), np.float32)), TypeError, "`x` must be a CUDA device array"),
    (dict(x=dev(np.zeros((4, 5, 3), np.float32))), ValueError, "4-D"),
    (dict(x=dev(np.zeros((2, 4, 5, 3), np.int16))), TypeError, "`x` must have dtype"),
    (dict(out=dev(np.zeros((2, 4, 5, 2), np.float32))), ValueError, "`out` must have shape"),
    (dict(out=dev(np.zeros((2, 4, 5, 3), np.uint8))), TypeError, "`out` must have dtype"),
    (dict(mode=7), ValueError, "mode"),
    (dict(mode="nearest"), TypeError, "`mode` must be an integer"),
    (dict(order=2), ValueError, "`order` must be 0 or 1"),
    (dict(post=32), ValueError, "post"),
    (dict(cval="0"), TypeError, "`cval` must be a real number"),
    (dict(matrices=np.zeros((2, 3, 3))), ValueError, r"\(2, 2, 3\)"),
    (dict(matrices=dev(np.zeros((2, 2, 3)))), TypeError, "`matrices` must be a host"),
    (dict(flags=np.zeros(3, np.uint8)), ValueError, "flags"),
    (dict(matrices=np.full((2, 2, 3), np.nan)), ValueError, "finite"),
    (dict(flags=np.full(2, cpu.BRIGHTNESS, np.uint8), x=dev(np.zeros((2, 4, 5, 2), np.float32)),
          out=dev(np.zeros((2, 4, 5, 2), np.float32))), ValueError, "Unsupported channel"),
    (dict(post=cpu.FEATURE_CENTER), ValueError, "`mean` must have the shape of one image"),
    (dict(mean=np.zeros((1, 1, 1))), TypeError, "`mean` must be a 3-D float32 array"),
    (dict(x=dev(np.zeros((2, 4, 5, 3), np.uint8)), out=dev(np.zeros((2, 4, 5, 3), np.uint8)),
          post=1), ValueError, "only the geometric stage"),
    (dict(index=np.array([0, 2])), ValueError, r"`index` must lie in \[0, 2\)"),
    (dict(index=np.array([0.0, 1.0])), TypeError, "`index` must be a 1-D integer array"),
    (dict(index=np.array([1])), ValueError, "`out` must have shape"),
])
def test_errors_match_the_cpu_kernel(change, error, match):
    with pytest.raises(error, match=match):
        gpu.affine_batch(**_args(**change))


@pytest.mark.parametrize("channels_first", [False, True])
def test_index_picks_images_as_the_cpu_kernel(channels_first):
    rng = np.random.default_rng(5)
    shape = (4, 3, 9, 11) if channels_first else (4, 9, 11, 3)
    x = rng.uniform(0, 255, shape).astype(np.float32)
    idx = np.array([3, 0, 3])
    matrices = np.stack([keras_matrix(0.3 * i, 1.5, -2.0, 0.1, 0.9, 1.1, 9, 11)
                         for i in range(3)])
    flags = np.array([cpu.AFFINE, cpu.AFFINE | cpu.FLIP_H, cpu.CHANNEL_SHIFT], np.uint8)
    args = (matrices, flags, np.array([0.0, 0.0, 12.0]), np.ones(3), cpu.MODES["wrap"], 0.0, 1,
            cpu.RESCALE, 0.5, NO_STATS, NO_STATS, channels_first)
    expected = np.empty((3,) + shape[1:], np.float32)
    cpu.affine_batch(x, expected, *args, index=idx)
    out = filled(expected.shape, np.float32, 77)
    gpu.affine_batch(dev(x), out, *args, index=idx)
    assert_twin(host(out), expected, samplewise=False)


def test_out_must_not_overlap_x():
    x = dev(np.zeros((2, 4, 5, 3), np.float32))
    with pytest.raises(ValueError, match="`out` must not overlap `x`"):
        gpu.affine_batch(**_args(x=x, out=x))
