"""The fused resampling kernel against scipy.ndimage, Pillow and numpy references (spec image.md
§3.2-§5): geometry bit-identical to ``scipy.ndimage.affine_transform`` per channel plane, the
pointwise chain against references that follow the spec (and Keras's numpy code) literally."""

import functools

import numba
import numpy as np
import pytest
import scipy.ndimage
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from PIL import Image, ImageEnhance

from fastkeras.kernels.resample import (
    _PREFETCH_BYTES, AFFINE, BRIGHTNESS, CHANNEL_SHIFT, FEATURE_CENTER, FEATURE_STD, FLIP_H,
    FLIP_V, MODES, RESCALE, SAMPLE_CENTER, SAMPLE_STD, _input_rows, _resample_pass, _touch_rows,
    affine_batch, resample,
)

NO_STATS = np.zeros((1, 1, 1), np.float32)


# ------------------------------------------------------------------------------------------
# references
# ------------------------------------------------------------------------------------------


def scipy_resample(x, matrix, mode, cval, order, channels_first=False):
    """scipy.ndimage.affine_transform on every channel plane, as Keras calls it."""
    m = np.asarray(matrix, np.float64)[:2]
    planes = x if channels_first else np.moveaxis(x, -1, 0)
    out = np.stack([scipy.ndimage.affine_transform(p, m[:, :2], m[:, 2], order=order, mode=mode,
                                                   cval=cval) for p in planes])
    return out if channels_first else np.moveaxis(out, 0, -1)


def keras_matrix(theta=0.0, tx=0.0, ty=0.0, shear=0.0, zx=1.0, zy=1.0, h=1, w=1, keras3=True):
    """The 2x3 matrix of spec §3.2: non-identity factors multiplied with np.dot, centred,
    and (Keras 3) rows/columns swapped; keras3=False gives keras_preprocessing's."""
    factors = []
    if theta:
        t = np.deg2rad(theta)
        factors.append(np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0],
                                 [0, 0, 1]]))
    if tx or ty:
        factors.append(np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]], dtype=np.float64))
    if shear:
        s = np.deg2rad(shear)
        factors.append(np.array([[1, -np.sin(s), 0], [0, np.cos(s), 0], [0, 0, 1]]))
    if zx != 1 or zy != 1:
        factors.append(np.array([[zx, 0, 0], [0, zy, 0], [0, 0, 1]], dtype=np.float64))
    m = functools.reduce(np.dot, factors) if factors else np.eye(3)
    oa, ob = (h / 2 - 0.5, w / 2 - 0.5) if keras3 else (h / 2 + 0.5, w / 2 + 0.5)
    offset = np.array([[1, 0, oa], [0, 1, ob], [0, 0, 1]])
    reset = np.array([[1, 0, -oa], [0, 1, -ob], [0, 0, 1]])
    m = np.dot(np.dot(offset, m), reset)
    if keras3:
        m[:, [0, 1]] = m[:, [1, 0]]
        m[[0, 1]] = m[[1, 0]]
    return m[:2]


def ref_channel_shift(x, delta):
    """Keras's apply_channel_shift: one delta, clipped to the image's min/max (float32)."""
    lo, hi = np.min(x), np.max(x)
    return np.clip(x + float(delta), lo, hi)  # Keras's delta is a Python float


def ref_brightness(x, b, channels_first=False):
    """Keras 3's apply_brightness_shift(x, b, scale=False), with Pillow doing the blend."""
    img = np.moveaxis(x, 0, -1) if channels_first else x
    x_min, x_max = np.min(img), np.max(img)
    stretch = x_min < 0 or x_max > 255
    y = np.asarray(img, np.float32)  # array_to_img
    if stretch:
        y = y - np.min(y)
        y_max = np.max(y)
        if y_max != 0:
            y /= y_max
        y *= 255
    q = y.astype(np.uint8)
    c = q.shape[-1]
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[c]
    pil = Image.fromarray(q[..., 0] if c == 1 else q, mode)
    p = np.asarray(ImageEnhance.Brightness(pil).enhance(b), dtype=np.float32)
    p = p.reshape(q.shape)
    if stretch:
        p = p / 255 * (x_max - x_min) + x_min
    return np.moveaxis(p, -1, 0) if channels_first else p


def ref_standardize(x, post, rescale=1.0, mean=None, std=None, float64_stats=False):
    """Keras's ImageDataGenerator.standardize on a copy, numpy's own float32 arithmetic; with
    ``float64_stats`` the samplewise mean and std are taken in float64 (then rounded)."""
    x = x.copy()
    if post & RESCALE:
        x *= rescale
    if post & SAMPLE_CENTER:
        x -= np.mean(x.astype(np.float64)).astype(x.dtype) if float64_stats else np.mean(
            x, keepdims=True)
    if post & SAMPLE_STD:
        x /= (np.std(x.astype(np.float64)).astype(x.dtype) if float64_stats else np.std(
            x, keepdims=True)) + 1e-6
    if post & FEATURE_CENTER:
        x -= mean
    if post & FEATURE_STD:
        x /= std + 1e-6
    return x


def ref_augment(x, matrix, flags, shift, bright, mode, cval, order, channels_first, post=0,
                rescale=1.0, mean=None, std=None, dtype=np.float32, float64_stats=False):
    """Keras's apply_transform + standardize for one image, in Keras's order (spec §3). The
    kernel resamples x's own values (Keras's float32 cast of float64 data is the caller's)."""
    img = x.astype(dtype)
    if flags & AFFINE:
        geo = scipy_resample(x.astype(np.float64), matrix, mode, cval, order, channels_first)
        img = geo.astype(dtype)
    if flags & CHANNEL_SHIFT:
        img = ref_channel_shift(img, shift)
    rows, cols = (1, 2) if channels_first else (0, 1)
    if flags & FLIP_H:
        img = np.flip(img, cols)
    if flags & FLIP_V:
        img = np.flip(img, rows)
    if flags & BRIGHTNESS:
        img = ref_brightness(img, bright, channels_first).astype(dtype)
    return ref_standardize(np.ascontiguousarray(img), post, rescale, mean, std, float64_stats)


def run_batch(x, matrices=None, flags=AFFINE, shift=0.0, bright=1.0, mode="nearest", cval=0.0,
              order=1, post=0, rescale=1.0, mean=NO_STATS, std=NO_STATS, channels_first=False,
              out_dtype=np.float32):
    """Call affine_batch with per-image values broadcast from scalars; check x is untouched."""
    n = len(x)
    if matrices is None:
        matrices = np.tile(np.array([[1.0, 0, 0], [0, 1, 0]]), (n, 1, 1))
    before = x.copy()
    out = np.full(x.shape, 77, dtype=out_dtype)
    affine_batch(x, out, np.asarray(matrices, np.float64),
                 np.broadcast_to(np.asarray(flags, np.uint8), (n,)),
                 np.broadcast_to(np.asarray(shift, np.float64), (n,)),
                 np.broadcast_to(np.asarray(bright, np.float64), (n,)),
                 MODES[mode], cval, order, post, rescale, mean, std, channels_first)
    assert_array_equal(x, before)
    return out


def image(rng, shape, dtype, lo=-40.0, hi=300.0):
    if np.dtype(dtype) == np.uint8:
        return rng.integers(0, 256, shape).astype(np.uint8)
    return rng.uniform(lo, hi, shape).astype(dtype)


# ------------------------------------------------------------------------------------------
# geometry: bit-identical to scipy for every mode, orders 0 and 1
# ------------------------------------------------------------------------------------------


@st.composite
def transforms(draw):
    """An image size and a 2x3 matrix: Keras recipes (K3 and KP), 180 degree rotations, zooms
    of 1.0000001, half-pixel shifts (order-0 ties), arbitrary and far-away matrices."""
    h = draw(st.integers(1, 12))
    w = draw(st.integers(1, 12))
    kind = draw(st.sampled_from(["keras", "rot180", "zoom_eps", "shift", "random", "far"]))
    keras3 = draw(st.booleans())
    f = functools.partial(st.floats, allow_nan=False, allow_infinity=False)
    if kind == "keras":
        m = keras_matrix(draw(f(-180, 180)), draw(f(-6, 6)), draw(f(-6, 6)), draw(f(-30, 30)),
                         draw(f(0.3, 2.5)), draw(f(0.3, 2.5)), h, w, keras3)
    elif kind == "rot180":
        m = keras_matrix(draw(st.sampled_from([90.0, 180.0, -90.0, 270.0])), h=h, w=w,
                         keras3=keras3)
    elif kind == "zoom_eps":
        m = keras_matrix(zx=1.0000001, zy=1.0000001, h=h, w=w, keras3=keras3)
    elif kind == "shift":
        m = np.array([[1.0, 0.0, draw(st.integers(-30, 30)) / 2],
                      [0.0, 1.0, draw(st.integers(-30, 30)) / 2]])
    elif kind == "random":
        m = np.array([[draw(f(-2, 2)), draw(f(-2, 2)), draw(f(-15, 15))],
                      [draw(f(-2, 2)), draw(f(-2, 2)), draw(f(-15, 15))]])
    else:
        far = draw(f(50, 1e4)) * draw(st.sampled_from([-1, 1]))
        m = np.array([[draw(f(-3, 3)), draw(f(-3, 3)), far],
                      [draw(f(-3, 3)), draw(f(-3, 3)), draw(f(-1e4, 1e4))]])
    return h, w, m


@settings(max_examples=400, deadline=None)
@given(tf=transforms(), c=st.sampled_from([1, 3, 4, 5]),
       dtype=st.sampled_from([np.uint8, np.float32, np.float64]),
       mode=st.sampled_from(sorted(MODES)), order=st.sampled_from([0, 1]),
       cval=st.sampled_from([0.0, -1.0, 127.5, 254.6, 300.0, -7.25]),
       channels_first=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_resample_bit_identical_to_scipy(tf, c, dtype, mode, order, cval, channels_first, seed):
    h, w, m = tf
    shape = (c, h, w) if channels_first else (h, w, c)
    x = image(np.random.default_rng(seed), shape, dtype)
    got = resample(x, m, mode, cval, order, channels_first)
    want = scipy_resample(x, m, mode, cval, order, channels_first)
    assert got.dtype == x.dtype
    assert_array_equal(got, want)


@pytest.mark.parametrize("mode", sorted(MODES))
def test_one_and_two_pixel_axes(mode):
    """n = 1 and n = 2 take scipy's special cases (no period, period 1 or 2)."""
    rng = np.random.default_rng(11)
    for h, w in [(1, 1), (1, 2), (2, 1), (2, 2), (1, 6), (2, 7), (7, 1)]:
        x = image(rng, (h, w, 2), np.float64)
        for m in [keras_matrix(37, 0.3, -0.6, 12, 1.3, 0.8, h, w), keras_matrix(180, h=h, w=w),
                  np.array([[1.0, 0, -0.5], [0, 1.0, 1.5]]), np.array([[0.0, 0, 3.25], [0, 0, -2.5]]),
                  np.array([[-1.0, 0.5, 40.0], [0.25, 1.0, -33.0]])]:
            for order in (0, 1):
                assert_array_equal(resample(x, m, mode, -3.5, order),
                                   scipy_resample(x, m, mode, -3.5, order))


# Images above _PREFETCH_BYTES have their input rows read ahead in blocks; batches of three
# split into chunks that start mid-image on one and on two threads.
@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("order", [0, 1])
def test_large_images_bit_identical_on_one_and_two_threads(mode, order):
    case = 2 * sorted(MODES).index(mode) + order
    rng = np.random.default_rng(case)
    c, dtype, channels_first = [(1, np.float64, False), (3, np.float32, False),
                                (3, np.uint8, False), (4, np.float32, True),
                                (5, np.uint8, False)][case % 5]
    h, w = 170, 150
    assert h * w * c * np.dtype(dtype).itemsize > _PREFETCH_BYTES
    shape = (3, c, h, w) if channels_first else (3, h, w, c)
    x = image(rng, shape, dtype)
    matrices = np.stack([keras_matrix(20, 9.0, -15.0, 10, 1.2, 0.8, h, w),
                         keras_matrix(-160, -30.0, 4.0, -8, 0.7, 1.3, h, w),
                         np.array([[2.5, 0.4, -60.0], [-0.3, 1.0, 7.5]])])
    flags = np.array([AFFINE | FLIP_V, AFFINE | FLIP_H, AFFINE | FLIP_H | FLIP_V], np.uint8)
    rows, cols = (1, 2) if channels_first else (0, 1)
    threads = numba.get_num_threads()
    try:
        for n_threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(n_threads)
            got = run_batch(x, matrices, flags, mode=mode, cval=-7.25, order=order,
                            channels_first=channels_first, out_dtype=np.float64)
            for i in range(3):
                want = scipy_resample(x[i].astype(np.float64), matrices[i], mode, -7.25, order,
                                      channels_first)
                if flags[i] & FLIP_H:
                    want = np.flip(want, cols)
                if flags[i] & FLIP_V:
                    want = np.flip(want, rows)
                assert_array_equal(got[i], want)
    finally:
        numba.set_num_threads(threads)


@settings(max_examples=200, deadline=None)
@given(h=st.integers(1, 40), w=st.integers(1, 40), flip_v=st.booleans(),
       m=st.lists(st.floats(-50, 50, allow_nan=False), min_size=3, max_size=3),
       rows=st.tuples(st.integers(0, 39), st.integers(0, 39)))
def test_input_rows_are_the_rows_a_block_reads(h, w, flip_v, m, rows):
    """The prefetched rows are exactly the clamped taps floor(r), floor(r) + 1 (order 0 taps
    floor(r + 0.5) among them) of the block's pixels, computed as the kernel does."""
    r0, r1 = sorted(min(r, h - 1) for r in rows)
    matrices = np.zeros((1, 2, 3))
    matrices[0, 0] = m
    first, last = _input_rows(matrices, 0, r0, r1, flip_v, h, w)
    taps = []
    for r in range(r0, r1 + 1):
        rr = h - 1 - r if flip_v else r
        rin = (m[2] + rr * m[0]) + np.arange(w) * m[1]
        taps += [np.floor(rin), np.floor(rin) + 1]
    taps = np.clip(np.concatenate(taps), 0, h - 1)
    assert (first, last) == (taps.min(), taps.max())


def test_prefetching_reads_the_same_rows_whatever_the_pointwise_chain():
    """Rows that record their min/max for a channel shift read ahead exactly as the others."""
    rng = np.random.default_rng(9)
    x = image(rng, (2, 120, 110, 3), np.float32)
    matrices = np.stack([keras_matrix(20, 5.0, -9.0, 10, 1.2, 0.8, 120, 110)] * 2)
    sums = []
    for extra in (0, CHANNEL_SHIFT):
        touched = np.zeros(16)
        _resample_pass(x, np.arange(2), np.empty_like(x), matrices,
                       np.full(2, AFFINE | extra, np.uint8), 1, 0.0, 1, 0, np.float32(1.0),
                       NO_STATS, NO_STATS, False, np.empty((240, 5)), touched)
        sums.append(touched)
    assert sums[0].sum() > 0
    assert_array_equal(sums[0], sums[1])


@pytest.mark.parametrize("dtype, channels_first", [(np.uint8, False), (np.float32, False),
                                                   (np.float64, True)])
def test_touch_rows_reads_one_element_per_cache_line_of_the_rows(dtype, channels_first):
    x = np.random.default_rng(4).integers(0, 256, (2, 3, 9, 50)).astype(dtype)
    if not channels_first:
        x = np.ascontiguousarray(x.reshape(2, 9, 50, 3))
    img = x[0].size
    rs, outer, so, inner = (50, 3, 9 * 50, 50) if channels_first else (150, 1, 0, 150)
    step = 64 // x.itemsize
    flat = x.reshape(-1).astype(np.float64)
    want = sum(flat[img + r * rs + a * so + j] for r in range(2, 7) for a in range(outer)
               for j in range(0, inner, step))
    assert _touch_rows(x.reshape(-1), img, 2, 6, rs, outer, so, inner) == want


@pytest.mark.parametrize("mode, expected", [
    # spec §4 table: a 1x4 row [10, 20, 30, 40], output col c reads input col c + tx, cval -1:
    # (tx=-0.5 order 1, tx=-0.5 order 0, tx=-1.5 order 1, tx=+2 order 1)
    ("constant", ([-1, 15, 25, 35], [-1, 20, 30, 40], [-1, -1, 15, 25], [30, 40, -1, -1])),
    ("grid-constant", ([4.5, 15, 25, 35], [10, 20, 30, 40], [-1, 4.5, 15, 25],
                       [30, 40, -1, -1])),
    ("nearest", ([10, 15, 25, 35], [10, 20, 30, 40], [10, 10, 15, 25], [30, 40, 40, 40])),
    ("reflect", ([10, 15, 25, 35], [10, 20, 30, 40], [15, 10, 15, 25], [30, 40, 40, 30])),
    ("mirror", ([15, 15, 25, 35], [20, 20, 30, 40], [25, 15, 15, 25], [30, 40, 30, 20])),
    ("wrap", ([35, 15, 25, 35], [40, 20, 30, 40], [25, 35, 15, 25], [30, 40, 20, 30])),
    ("grid-wrap", ([25, 15, 25, 35], [10, 20, 30, 40], [35, 25, 15, 25], [30, 40, 10, 20])),
])
def test_spec_1d_table(mode, expected):
    x = np.array([10, 20, 30, 40], np.float32).reshape(1, 4, 1)
    for (tx, order), want in zip([(-0.5, 1), (-0.5, 0), (-1.5, 1), (2.0, 1)], expected):
        m = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, tx]])
        got = resample(x, m, mode, -1.0, order)
        assert_array_equal(got[0, :, 0], np.array(want, np.float32), err_msg=f"{mode} {tx}")


@pytest.mark.parametrize("mode, coord, value", [
    # spec §4 "more points": [10, 20, 30, 40] sampled at one coordinate, cval -100, order 1
    ("constant", -1e-17, -100.0), ("constant", 3 + 1e-15, -100.0),
    ("wrap", -3.0, 40.0), ("wrap", 6.0, 10.0), ("wrap", -0.25, 37.5),
    ("reflect", -1.5, 15.0), ("mirror", -0.5, 15.0),
])
def test_spec_more_points(mode, coord, value):
    x = np.array([10, 20, 30, 40], np.float64).reshape(1, 4, 1)
    m = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, coord]])  # every pixel reads column `coord`
    assert_array_equal(resample(x, m, mode, -100.0, 1)[0, :, 0], np.full(4, value))


def test_spec_matrix_examples():
    """§3.2's examples on arange(20).reshape(4, 5) and 5x5 images (constant, cval -1)."""
    x = np.arange(20, dtype=np.float32).reshape(4, 5, 1)

    def run(keras3, **kw):
        return resample(x, keras_matrix(h=4, w=5, keras3=keras3, **kw), "constant", -1.0)[..., 0]

    assert_array_equal(run(True, tx=1)[:, -1], -1)
    assert_array_equal(run(True, tx=1)[:, :4], x[:, 1:, 0])
    assert_array_equal(run(False, tx=1)[:3], x[1:, :, 0])
    assert_array_equal(run(False, tx=1)[3], -1)
    assert_array_equal(run(True, zx=2)[0], [-1, 0.5, 2.5, -1, -1])
    kp_zoom = run(False, zx=2)
    assert_array_equal(kp_zoom[2], [7.5, 8.5, 9.5, 10.5, 11.5])
    assert_array_equal(np.delete(kp_zoom, 2, axis=0), -1)

    x5 = np.arange(1, 26, dtype=np.float32).reshape(5, 5, 1)
    rot90 = resample(x5, keras_matrix(90, h=5, w=5), "constant", -1.0)[..., 0]
    assert_allclose(rot90, np.rot90(x5[..., 0]), atol=1e-5)
    rot180 = resample(x5, keras_matrix(180, h=5, w=5), "constant", -1.0)[..., 0]
    assert_array_equal(rot180[0], [25, 24, 23, 22, -1])  # sin(pi) pushes the edge to 4 + eps
    assert_array_equal(rot180[2], [15, 14, 13, 12, -1])
    zoom = resample(x5, keras_matrix(zx=1.0000001, zy=1.0000001, h=5, w=5), "constant", -1.0)
    border = np.ones((5, 5), bool)
    border[1:-1, 1:-1] = False
    assert_array_equal(zoom[..., 0][border], -1)
    assert_allclose(zoom[1:-1, 1:-1, 0], x5[1:-1, 1:-1, 0], atol=1e-4)


def test_uint8_output_rounds_and_saturates_like_scipy():
    x = np.array([[0, 255, 128, 3]], np.uint8).reshape(1, 4, 1)
    for cval in (-3.0, 2.5, 254.5, 255.4, 300.0):
        for shift in (-0.5, 0.25, 0.5, 2.5):
            m = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, shift]])
            assert_array_equal(resample(x, m, "constant", cval), scipy_resample(
                x, m, "constant", cval, 1))


@pytest.mark.parametrize("order", [2, 3, 5])
def test_higher_orders_and_other_dtypes_use_scipy(order):
    rng = np.random.default_rng(order)
    m = keras_matrix(17, 1.5, -2, 5, 1.1, 0.9, 7, 9)
    x = image(rng, (7, 9, 3), np.float32)
    assert_array_equal(resample(x, m, "reflect", 0.0, order), scipy_resample(x, m, "reflect",
                                                                            0.0, order))
    xi = rng.integers(-300, 300, (3, 7, 9)).astype(np.int16)
    got = resample(xi, m, "wrap", 5.0, 1, channels_first=True)
    assert got.dtype == np.int16
    assert_array_equal(got, scipy_resample(xi, m, "wrap", 5.0, 1, channels_first=True))


def test_homogeneous_3x3_matrix():
    rng = np.random.default_rng(3)
    x = image(rng, (6, 8, 3), np.float64)
    m = np.vstack([keras_matrix(33, 1, 2, 0, 1.2, 0.8, 6, 8), [0, 0, 1]])
    assert_array_equal(resample(x, m, "mirror", 0.0, 1), resample(x, m[:2], "mirror", 0.0, 1))


# ------------------------------------------------------------------------------------------
# flips, channel shift, brightness, standardize
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("channels_first", [False, True])
@pytest.mark.parametrize("affine", [0, AFFINE])
def test_flips_equal_flipping_the_transformed_image(channels_first, affine):
    rng = np.random.default_rng(1)
    shape = (4, 3, 7, 9) if channels_first else (4, 7, 9, 3)
    x = image(rng, shape, np.float64)
    m = keras_matrix(25, 1.3, -0.7, 8, 1.1, 0.95, 7, 9)
    flags = np.array([0, FLIP_H, FLIP_V, FLIP_H | FLIP_V]) | affine
    got = run_batch(x, np.tile(m, (4, 1, 1)), flags, mode="reflect", channels_first=channels_first)
    rows, cols = (1, 2) if channels_first else (0, 1)
    for i in range(4):
        want = x[i]
        if affine:
            want = scipy_resample(want, m, "reflect", 0.0, 1, channels_first)
        want = want.astype(np.float32)
        if flags[i] & FLIP_H:
            want = np.flip(want, cols)
        if flags[i] & FLIP_V:
            want = np.flip(want, rows)
        assert_array_equal(got[i], want)


def test_matrix_unused_without_affine():
    x = image(np.random.default_rng(2), (2, 3, 4, 3), np.float64)
    got = run_batch(x, np.full((2, 2, 3), np.nan), flags=np.array([0, FLIP_V]))
    assert_array_equal(got, np.stack([x[0], x[1, ::-1]]).astype(np.float32))


def test_spec_channel_shift_example():
    x = np.zeros((2, 2, 3), np.float32)
    x[..., 0] = [[10, 40], [70, 100]]
    x[..., 1] = x[..., 0]
    x[..., 2] = [[30, 60], [90, 200]]
    up = run_batch(x[None], flags=CHANNEL_SHIFT, shift=50.0)[0]
    assert_array_equal(up[..., 0], [[60, 90], [120, 150]])
    assert_array_equal(up[..., 2], [[80, 110], [140, 200]])
    down = run_batch(x[None], flags=CHANNEL_SHIFT, shift=-25.0)[0]
    assert_array_equal(down[..., 0].ravel(), [10, 15, 45, 75])


@settings(max_examples=60, deadline=None)
@given(delta=st.floats(-300, 300), c=st.sampled_from([1, 3, 4]), channels_first=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_channel_shift_matches_keras(delta, c, channels_first, seed):
    rng = np.random.default_rng(seed)
    x = image(rng, (2, c, 5, 6) if channels_first else (2, 5, 6, c), np.float32)
    m = keras_matrix(40, 1, 1, 0, 0.7, 0.7, 5, 6)  # zoomed out: cval 0 joins the min/max
    got = run_batch(x, np.tile(m, (2, 1, 1)), AFFINE | CHANNEL_SHIFT, delta, mode="constant",
                    channels_first=channels_first)
    for i in range(2):
        geo = scipy_resample(x[i], m, "constant", 0.0, 1, channels_first)
        assert_array_equal(got[i], ref_channel_shift(geo, delta))


@pytest.mark.parametrize("values, b, want", [
    # spec §3.4 (grayscale images): truncation, the [-1, 3] stretch path, 0-1 data collapsing
    ([0, 10.7, 100.2, 200.9, 255, 128.5], 0.5, [0, 5, 50, 100, 127, 64]),
    ([0, 10.7, 100.2, 200.9, 255, 128.5], 1.0, [0, 10, 100, 200, 255, 128]),
    ([0, 10.7, 100.2, 200.9, 255, 128.5], 1.5, [0, 15, 150, 255, 255, 192]),
    ([-1, 0, .5, 1, 2, 3], 0.5, [-1, -0.5137, -0.2627, -0.0118, 0.4902, 0.9922]),
    ([0, .25, .5, .75, 1, .1], 1.2, [0, 0, 0, 0, 1, 0]),
    ([10, 20, 250], 1.5, [15, 30, 255]),
])
def test_spec_brightness_examples(values, b, want):
    x = np.array(values, np.float32).reshape(1, 1, -1, 1)
    got = run_batch(x, flags=BRIGHTNESS, bright=b)[0, 0, :, 0]
    assert_allclose(got, want, atol=5e-5)


def test_brightness_factor_is_a_float32_in_pillow():
    # float32(b) * 47 = 54.0000 but float64 b * 47 = 53.99999788: Pillow blends with a C float
    # factor (spec §3.4 writes the product in float64).
    b = 1.1489361252110533
    x = np.full((1, 1, 1, 1), 47, np.float32)
    assert run_batch(x, flags=BRIGHTNESS, bright=b)[0, 0, 0, 0] == 54
    assert ref_brightness(x[0], b)[0, 0, 0] == 54


def test_brightness_rgba_keeps_alpha():
    rng = np.random.default_rng(4)
    x = image(rng, (1, 4, 5, 4), np.float32, 0, 255)
    got = run_batch(x, flags=BRIGHTNESS, bright=0.5)[0]
    assert_array_equal(got[..., 3], np.trunc(x[0, ..., 3]))
    assert_array_equal(got[..., :3], np.trunc(np.trunc(x[0, ..., :3]) * 0.5))


@settings(max_examples=80, deadline=None)
@given(b=st.floats(0, 2.5), c=st.sampled_from([1, 3, 4]), channels_first=st.booleans(),
       scale=st.sampled_from([(0, 255), (-1, 3), (0, 1), (-50, 400), (300, 700)]),
       seed=st.integers(0, 2**32 - 1))
def test_brightness_matches_keras_and_pillow(b, c, channels_first, scale, seed):
    rng = np.random.default_rng(seed)
    x = image(rng, (2, c, 4, 5) if channels_first else (2, 4, 5, c), np.float32, *scale)
    got = run_batch(x, flags=BRIGHTNESS, bright=b, channels_first=channels_first)
    for i in range(2):
        assert_array_equal(got[i], ref_brightness(x[i], b, channels_first))


def test_spec_standardize_example():
    x = np.arange(12, dtype=np.float32).reshape(1, 2, 2, 3)
    got = run_batch(x, flags=0, post=RESCALE | SAMPLE_CENTER | SAMPLE_STD, rescale=0.5)
    assert_allclose(got.ravel()[:3], [-1.59325, -1.30357, -1.01389], atol=1e-5)


@pytest.mark.parametrize("channels_first", [False, True])
@pytest.mark.parametrize("post", [RESCALE, FEATURE_CENTER, FEATURE_STD,
                                  RESCALE | FEATURE_CENTER | FEATURE_STD])
def test_rescale_and_featurewise_exact(post, channels_first):
    rng = np.random.default_rng(post)
    shape = (3, 3, 6, 5) if channels_first else (3, 6, 5, 3)
    x = image(rng, shape, np.float32)
    mean = rng.uniform(-20, 100, shape[1:]).astype(np.float32)
    std = rng.uniform(0.5, 60, shape[1:]).astype(np.float32)
    got = run_batch(x, flags=0, post=post, rescale=1 / 255, mean=mean, std=std,
                    channels_first=channels_first)
    for i in range(3):
        assert_array_equal(got[i], ref_standardize(x[i], post, 1 / 255, mean, std))


def test_featurewise_std_of_minus_epsilon_divides_by_zero_as_numpy():
    """std + 1e-6 == 0 gives numpy's inf and nan (Keras divides in numpy), not an error."""
    x = np.array([[[[2.0], [-3.0], [0.0], [5.0]]]], np.float32)
    std = np.array([[[-1e-6], [-1e-6], [-1e-6], [1.0]]], np.float32)
    got = run_batch(x, flags=0, post=FEATURE_STD, mean=NO_STATS, std=std)
    with np.errstate(divide="ignore", invalid="ignore"):
        want = ref_standardize(x[0], FEATURE_STD, std=std)
    assert np.isinf(want[0, :2]).all() and np.isnan(want[0, 2])
    assert_array_equal(got[0], want)


@pytest.mark.parametrize("post", [SAMPLE_CENTER, SAMPLE_STD, SAMPLE_CENTER | SAMPLE_STD,
                                  RESCALE | SAMPLE_CENTER | SAMPLE_STD | FEATURE_CENTER
                                  | FEATURE_STD])
@pytest.mark.parametrize("out_dtype", [np.float32, np.float64])
def test_samplewise_steps(post, out_dtype):
    rng = np.random.default_rng(post)
    x = image(rng, (3, 7, 6, 3), np.uint8)
    x[2] = 42  # a constant image: std 0, so the 1e-6 alone divides
    mean = rng.uniform(-1, 1, (7, 6, 3)).astype(np.float32)
    std = rng.uniform(0.5, 2, (7, 6, 3)).astype(np.float32)
    got = run_batch(x, flags=0, post=post, rescale=1 / 255, mean=mean, std=std,
                    out_dtype=out_dtype)
    for i in range(3):
        img = x[i].astype(out_dtype)
        exact = ref_standardize(img, post, 1 / 255, mean, std, float64_stats=True)
        assert_allclose(got[i], exact, rtol=1e-6, atol=1e-6)
        if i < 2:
            # Keras's float32 statistics, within the spec's tolerance. (On the constant image
            # its float32 mean leaves a residue that the 1e-6 blows up; float64 gives 0.)
            keras = ref_standardize(img, post, 1 / 255, mean, std)
            assert_allclose(got[i], keras, rtol=1e-6, atol=1e-5)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), channels_first=st.booleans(),
       c=st.sampled_from([1, 3, 4]), mode=st.sampled_from(sorted(MODES)),
       order=st.sampled_from([0, 1]), post=st.integers(0, 31),
       dtype=st.sampled_from([np.uint8, np.float32, np.float64]),
       out_dtype=st.sampled_from([np.float32, np.float64]))
def test_whole_chain(seed, channels_first, c, mode, order, post, dtype, out_dtype):
    """Affine, channel shift, flips, brightness and standardize per image with its own flags,
    against scipy + the references in Keras's order."""
    rng = np.random.default_rng(seed)
    n, h, w = 4, int(rng.integers(1, 10)), int(rng.integers(1, 10))
    x = image(rng, (n, c, h, w) if channels_first else (n, h, w, c), dtype, -20, 270)
    matrices = np.stack([keras_matrix(*rng.uniform(-30, 30, 4), *rng.uniform(0.7, 1.3, 2),
                                      h=h, w=w) for _ in range(n)])
    flags = rng.integers(0, 32, n).astype(np.uint8)
    shift = rng.uniform(-60, 60, n)
    bright = rng.uniform(0.3, 1.8, n)
    mean = rng.uniform(-5, 5, x.shape[1:]).astype(np.float32)
    std = rng.uniform(0.5, 3, x.shape[1:]).astype(np.float32)
    got = run_batch(x, matrices, flags, shift, bright, mode, 9.5, order, post, 1 / 127, mean,
                    std, channels_first, out_dtype)
    for i in range(n):
        want = ref_augment(x[i], matrices[i], flags[i], shift[i], bright[i], mode, 9.5, order,
                           channels_first, post, 1 / 127, mean, std, out_dtype,
                           float64_stats=True)
        if post & (SAMPLE_CENTER | SAMPLE_STD):  # statistics summed in another order
            assert_allclose(got[i], want, rtol=1e-6, atol=1e-6)
        else:
            assert_array_equal(got[i], want)


def test_uint8_output_geometric_stage():
    rng = np.random.default_rng(8)
    x = image(rng, (3, 6, 7, 3), np.uint8)
    m = keras_matrix(30, 0.5, 1.5, 0, 1.1, 1.1, 6, 7)
    flags = np.array([AFFINE, AFFINE | FLIP_H, FLIP_V], np.uint8)
    got = run_batch(x, np.tile(m, (3, 1, 1)), flags, mode="constant", cval=300.0,
                    out_dtype=np.uint8)
    assert_array_equal(got[0], scipy_resample(x[0], m, "constant", 300.0, 1))
    assert_array_equal(got[1], scipy_resample(x[1], m, "constant", 300.0, 1)[:, ::-1])
    assert_array_equal(got[2], x[2, ::-1])


def test_same_result_on_one_and_two_threads():
    rng = np.random.default_rng(5)
    x = image(rng, (5, 23, 17, 3), np.float32)
    matrices = np.stack([keras_matrix(*rng.uniform(-30, 30, 4), 1.1, 0.9, h=23, w=17)
                         for _ in range(5)])
    args = dict(matrices=matrices, flags=np.array([1, 9, 17, 27, 31], np.uint8),
                shift=rng.uniform(-20, 20, 5), bright=rng.uniform(0.5, 1.5, 5), mode="reflect",
                post=RESCALE | SAMPLE_CENTER | SAMPLE_STD, rescale=1 / 255)
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = run_batch(x, **args)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = run_batch(x, **args)
    finally:
        numba.set_num_threads(threads)
    assert_array_equal(one, two)


# ------------------------------------------------------------------------------------------
# errors
# ------------------------------------------------------------------------------------------


def test_resample_errors():
    x = np.zeros((4, 5, 3), np.float32)
    m = np.eye(3)
    with pytest.raises(RuntimeError, match="boundary mode not supported"):
        resample(x, m, "bogus")
    with pytest.raises(RuntimeError, match="boundary mode not supported"):
        resample(x, m, None)
    for order in (-1, 6):
        with pytest.raises(RuntimeError, match="spline order not supported"):
            resample(x, m, order=order)
    with pytest.raises(TypeError, match="order"):
        resample(x, m, order=1.5)
    with pytest.raises(ValueError, match="3-D"):
        resample(np.zeros((4, 5)), m)
    with pytest.raises(ValueError, match="2x3 or 3x3"):
        resample(x, np.eye(2))
    with pytest.raises(ValueError, match="finite"):
        resample(x, [[1, 0, np.nan], [0, 1, 0]])


def _batch_args(**change):
    n = 2
    args = dict(x=np.zeros((n, 4, 5, 3), np.float32), out=np.zeros((n, 4, 5, 3), np.float32),
                matrices=np.tile(np.eye(3)[:2], (n, 1, 1)), flags=np.full(n, AFFINE, np.uint8),
                shift=np.zeros(n), bright=np.ones(n), mode=1, cval=0.0, order=1, post=0,
                rescale=1.0, mean=NO_STATS, std=NO_STATS, channels_first=False)
    args.update(change)
    return args


@pytest.mark.parametrize("change, error, match", [
    (dict(x=[[[[0.0]]]]), TypeError, "numpy arrays"),
    (dict(x=np.zeros((4, 5, 3), np.float32)), ValueError, "4-D"),
    (dict(x=np.zeros((2, 4, 5, 3), np.int16)), TypeError, "uint8, float32 or float64"),
    (dict(out=np.zeros((2, 4, 5, 2), np.float32)), ValueError, "shape of `x`"),
    (dict(out=np.zeros((2, 4, 5, 3), np.uint8)), TypeError, "float32, float64 or"),
    (dict(x=np.zeros((2, 4, 10, 3), np.float32)[:, :, ::2]), ValueError, "C-contiguous"),
    (dict(mode=7), ValueError, "mode"),
    (dict(mode="nearest"), TypeError, "`mode` must be an integer"),
    (dict(order=1.0), TypeError, "`order` must be an integer"),
    (dict(cval="0"), TypeError, "`cval` must be a real number"),
    (dict(rescale=None), TypeError, "`rescale` must be a real number"),
    (dict(order=2), ValueError, "order"),
    (dict(post=32), ValueError, "post"),
    (dict(matrices=np.zeros((2, 3, 3))), ValueError, r"\(2, 2, 3\)"),
    (dict(flags=np.zeros(3, np.uint8)), ValueError, "flags"),
    (dict(shift=np.zeros(1)), ValueError, "shift"),
    (dict(bright=np.zeros((2, 1))), ValueError, "bright"),
    (dict(matrices=np.full((2, 2, 3), np.inf)), ValueError, "finite"),
    (dict(matrices=np.full((2, 2, 3), np.nan)), ValueError, "finite"),
    (dict(matrices=np.tile([[1e16, 0, 0], [0, 1, 0]], (2, 1, 1))), ValueError, "2\\*\\*52"),
    (dict(flags=np.full(2, BRIGHTNESS, np.uint8), x=np.zeros((2, 4, 5, 2), np.float32),
          out=np.zeros((2, 4, 5, 2), np.float32)), ValueError, "Unsupported channel number: 2"),
    (dict(post=FEATURE_CENTER), ValueError, "`mean` must have the shape of one image"),
    (dict(post=FEATURE_STD, std=np.ones((4, 5, 2), np.float32)), ValueError, "`std` must"),
    (dict(mean=np.zeros((1, 1, 1))), TypeError, "float32"),
    (dict(x=np.zeros((2, 4, 5, 3), np.uint8), out=np.zeros((2, 4, 5, 3), np.uint8), post=1),
     ValueError, "only the geometric stage"),
    (dict(index=np.array([0, 2])), ValueError, r"`index` must lie in \[0, 2\)"),
    (dict(index=np.array([-1, 0])), ValueError, r"`index` must lie in \[0, 2\)"),
    (dict(index=np.array([0.0, 1.0])), TypeError, "`index` must be a 1-D integer array"),
    (dict(index=np.array([[0, 1]])), TypeError, "`index` must be a 1-D integer array"),
    (dict(index=np.array([0, 1, 1])), ValueError, r"shape of `x\[index\]` \(3, 4, 5, 3\)"),
])
def test_affine_batch_errors(change, error, match):
    args = _batch_args(**change)
    with pytest.raises(error, match=match):
        affine_batch(**args)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), channels_first=st.booleans(),
       post=st.sampled_from([0, RESCALE, SAMPLE_CENTER | SAMPLE_STD]),
       dtype=st.sampled_from([np.uint8, np.float32, np.float64]),
       picks=st.lists(st.integers(0, 4), min_size=0, max_size=7))
def test_index_reads_the_picked_images_in_place(seed, channels_first, post, dtype, picks):
    # affine_batch(x, ..., index=i) is affine_batch(x[i], ...): repeats, any order, any length.
    rng = np.random.default_rng(seed)
    shape = (5, 3, 70, 90) if channels_first else (5, 70, 90, 3)
    x = image(rng, shape, dtype)
    before = x.copy()
    idx = np.array(picks, dtype=np.int64)
    n = len(idx)
    matrices = np.array([keras_matrix(rng.uniform(-20, 20), rng.uniform(-9, 9),
                                      rng.uniform(-9, 9), h=70, w=90) for _ in range(n)])
    matrices = matrices.reshape(n, 2, 3)
    flags = rng.choice(np.array([0, AFFINE, AFFINE | FLIP_H, AFFINE | CHANNEL_SHIFT, BRIGHTNESS,
                                 FLIP_V], np.uint8), n)
    args = (matrices, flags, rng.uniform(-20, 20, n), rng.uniform(0.5, 1.5, n), MODES["reflect"],
            0.0, 1, post, 1 / 255, NO_STATS, NO_STATS, channels_first)
    got = np.empty((n,) + shape[1:], np.float32)
    affine_batch(x, got, *args, index=idx)
    expected = np.empty_like(got)
    affine_batch(np.ascontiguousarray(x[idx]), expected, *args)
    assert_array_equal(got, expected)
    assert_array_equal(x, before)


def test_affine_batch_rejects_overlapping_out():
    x = np.zeros((2, 4, 5, 3), np.float32)
    with pytest.raises(ValueError, match="overlap"):
        affine_batch(**_batch_args(x=x, out=x))
    frozen = np.zeros((2, 4, 5, 3), np.float32)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        affine_batch(**_batch_args(out=frozen))


def test_empty_batches_are_accepted():
    for n, w in [(0, 5), (2, 0)]:  # no images; images of width 0 (nothing to read or write)
        x = np.zeros((n, 4, w, 3), np.float32)
        out = np.zeros_like(x)
        affine_batch(**_batch_args(x=x, out=out, matrices=np.zeros((n, 2, 3)),
                                   flags=np.full(n, AFFINE | BRIGHTNESS, np.uint8),
                                   shift=np.zeros(n), bright=np.zeros(n), post=SAMPLE_STD))
        assert out.shape == x.shape


def test_module_constants():
    assert MODES == {"constant": 0, "nearest": 1, "reflect": 2, "grid-mirror": 2, "wrap": 3,
                     "mirror": 4, "grid-constant": 5, "grid-wrap": 6}
    assert (AFFINE, FLIP_H, FLIP_V, CHANNEL_SHIFT, BRIGHTNESS) == (1, 2, 4, 8, 16)
    assert (RESCALE, SAMPLE_CENTER, SAMPLE_STD, FEATURE_CENTER, FEATURE_STD) == (1, 2, 4, 8, 16)
