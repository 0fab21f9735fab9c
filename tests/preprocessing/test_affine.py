"""Module-level geometric helpers (spec §3.1, §3.2, §9) against scipy.ndimage with spec §3.2's matrix."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastkeras.preprocessing.image import (
    apply_affine_transform, flip_axis, random_rotation, random_shear, random_shift, random_zoom,
)
from test_generator_reference import ref_affine, ref_matrix

MODES = ["constant", "nearest", "reflect", "wrap", "mirror", "grid-wrap", "grid-constant", "grid-mirror"]
CONVENTIONS = ["keras_preprocessing", "keras3", "exact"]


def reference(x, convention, row_axis, col_axis, channel_axis, mode, cval, order, **p):
    h, w = x.shape[row_axis], x.shape[col_axis]
    if convention == "exact":
        m = ref_matrix(p.get("theta", 0), p.get("tx", 0), p.get("ty", 0), p.get("shear", 0), p.get("zx", 1),
                       p.get("zy", 1), h - 2, w - 2, "keras_preprocessing")
    else:
        m = ref_matrix(p.get("theta", 0), p.get("tx", 0), p.get("ty", 0), p.get("shear", 0), p.get("zx", 1),
                       p.get("zy", 1), h, w, convention)
    return ref_affine(x, m, channel_axis, mode, cval, order)


@settings(max_examples=80, deadline=None)
@given(
    h=st.integers(1, 12), w=st.integers(1, 12), c=st.sampled_from([1, 3, 4]),
    channels_first=st.booleans(), convention=st.sampled_from(CONVENTIONS), mode=st.sampled_from(MODES),
    order=st.sampled_from([0, 1, 3]), dtype=st.sampled_from([np.float32, np.float64, np.uint8]),
    theta=st.floats(-180, 180), tx=st.floats(-6, 6), ty=st.floats(-6, 6), shear=st.floats(-40, 40),
    zx=st.floats(0.4, 1.8), zy=st.floats(0.4, 1.8), seed=st.integers(0, 1000),
)
def test_apply_affine_transform_equals_scipy_reference(h, w, c, channels_first, convention, mode, order, dtype,
                                                       theta, tx, ty, shear, zx, zy, seed):
    shape = (c, h, w) if channels_first else (h, w, c)
    axes = (1, 2, 0) if channels_first else (0, 1, 2)
    x = (np.random.default_rng(seed).random(shape) * 255).astype(dtype)
    x0 = x.copy()
    p = dict(theta=theta, tx=tx, ty=ty, shear=shear, zx=zx, zy=zy)
    got = apply_affine_transform(x, **p, row_axis=axes[0], col_axis=axes[1], channel_axis=axes[2], fill_mode=mode,
                                 cval=-3.5 if dtype != np.uint8 else 7, order=order, affine_convention=convention)
    want = reference(x, convention, *axes, mode, -3.5 if dtype != np.uint8 else 7, order, **p)
    assert got.dtype == x.dtype and got.shape == x.shape
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(x, x0)


def _plane(x, **kw):
    out = apply_affine_transform(x[..., None], row_axis=0, col_axis=1, channel_axis=2, fill_mode="constant",
                                 cval=-1, order=1, **kw)
    return out[..., 0]


def test_spec_section32_examples_keras_preprocessing_and_keras3():
    x = np.arange(20.0).reshape(4, 5)
    np.testing.assert_array_equal(_plane(x, tx=1), np.vstack([x[1:], np.full(5, -1.0)]))
    np.testing.assert_array_equal(_plane(x, tx=1, affine_convention="keras3"),
                                  np.hstack([x[:, 1:], np.full((4, 1), -1.0)]))
    np.testing.assert_array_equal(_plane(x, zx=2, affine_convention="keras3")[0], [-1, 0.5, 2.5, -1, -1])
    kp = _plane(x, zx=2)
    np.testing.assert_array_equal(kp[2], [7.5, 8.5, 9.5, 10.5, 11.5])
    assert (np.delete(kp, 2, axis=0) == -1).all()
    y = np.arange(1.0, 26).reshape(5, 5)
    np.testing.assert_allclose(_plane(y, theta=90, affine_convention="keras3"),
                               [[5, 10, 15, 20, 25], [4, 9, 14, 19, 24], [3, 8, 13, 18, 23],
                                [2, 7, 12, 17, 22], [1, 6, 11, 16, 21]], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(_plane(y, theta=90)[0, :3], [-1, -1, 21])
    k180 = _plane(y, theta=180, affine_convention="keras3")
    np.testing.assert_allclose(k180[0], [25, 24, 23, 22, -1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(k180[2], [15, 14, 13, 12, -1], rtol=0, atol=1e-12)
    border = _plane(y, zx=1.0000001, zy=1.0000001, affine_convention="keras3")
    assert (border[[0, -1]] == -1).all() and (border[:, [0, -1]] == -1).all()


def test_exact_convention_rotates_about_the_true_centre():
    y = np.arange(1.0, 26).reshape(5, 5)
    # keras_preprocessing's clockwise sense, centred: 90 degrees is np.rot90 clockwise.
    np.testing.assert_allclose(_plane(y, theta=90, affine_convention="exact"), np.rot90(y, -1), atol=1e-12)
    np.testing.assert_array_equal(_plane(y, tx=1, affine_convention="exact"), np.vstack([y[1:], np.full(5, -1.0)]))


@pytest.mark.parametrize("mode,expected", [
    ("constant", [-1, 15, 25, 35]), ("grid-constant", [4.5, 15, 25, 35]), ("nearest", [10, 15, 25, 35]),
    ("reflect", [10, 15, 25, 35]), ("mirror", [15, 15, 25, 35]), ("wrap", [35, 15, 25, 35]),
    ("grid-wrap", [25, 15, 25, 35]),
])
def test_spec_section4_row_example(mode, expected):
    row = np.array([[[10.0], [20], [30], [40]]])
    got = apply_affine_transform(row, tx=-0.5, row_axis=0, col_axis=1, channel_axis=2, fill_mode=mode, cval=-1,
                                 affine_convention="keras3")
    np.testing.assert_array_equal(got[0, :, 0], expected)


def test_identity_returns_the_input_object():
    x = np.ones((3, 4, 5))
    assert apply_affine_transform(x) is x
    assert apply_affine_transform(x, fill_mode="bogus", order=9) is x


@pytest.mark.parametrize("axes,message", [
    ((0, 0, 2), "must be distinct"),
    ((0, 1, 3), "Invalid axis' indices: {3}"),
    ((0, 2, 1), "Channels are allowed and the first and last dimensions."),
])
def test_axis_validation(axes, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        apply_affine_transform(np.ones((4, 4, 3)), theta=10, row_axis=axes[0], col_axis=axes[1],
                               channel_axis=axes[2])


def test_rank_validation():
    with pytest.raises(ValueError, match="Input arrays must be multi-channel 2D images."):
        apply_affine_transform(np.ones((4, 4)), theta=10)


def test_bad_mode_and_order_raise_like_scipy():
    x = np.ones((3, 4, 4), np.float32)
    with pytest.raises(RuntimeError, match="boundary mode not supported"):
        apply_affine_transform(x, theta=10, fill_mode="bogus")
    with pytest.raises(RuntimeError, match="spline order not supported"):
        apply_affine_transform(x, theta=10, order=7)


def test_keras3_matches_scipy_for_transposed_axes():
    x = np.random.default_rng(2).random((3, 6, 5))
    for convention in CONVENTIONS:
        got = apply_affine_transform(x, theta=25, tx=1.5, zy=1.2, row_axis=2, col_axis=1, channel_axis=0,
                                     affine_convention=convention)
        m = ref_matrix(25, 1.5, 0, 0, 1, 1.2, 5, 6, "keras_preprocessing")
        if convention == "exact":
            m = ref_matrix(25, 1.5, 0, 0, 1, 1.2, 3, 4, "keras_preprocessing")[[1, 0, 2]][:, [1, 0, 2]]
        elif convention == "keras3":
            # Keras 3 swaps only when col_axis > row_axis: here the centre is (H/2 - 0.5, W/2 - 0.5), no swap.
            m = ref_matrix(25, 1.5, 0, 0, 1, 1.2, 5 - 2, 6 - 2, "keras_preprocessing")
        np.testing.assert_array_equal(got, ref_affine(x, m, 0, "nearest", 0.0, 1))


def _replay(seed, *draws):
    rs = np.random.RandomState(seed)
    return [rs.uniform(*d) for d in draws]


def test_random_helpers_draw_from_global_rng_and_forward_axes():
    x = np.random.default_rng(3).random((6, 7, 3))
    kw = dict(row_axis=0, col_axis=1, channel_axis=2, fill_mode="reflect", cval=0.0, interpolation_order=1)
    ak = dict(row_axis=0, col_axis=1, channel_axis=2, fill_mode="reflect", cval=0.0, order=1)

    np.random.seed(11)
    got = random_rotation(x, 30, **kw)
    (theta,) = _replay(11, (-30, 30))
    np.testing.assert_array_equal(got, apply_affine_transform(x, theta=theta, **ak))

    np.random.seed(12)
    got = random_shift(x, 0.2, 0.3, **kw)
    tx, ty = _replay(12, (-0.3, 0.3), (-0.2, 0.2))
    np.testing.assert_array_equal(got, apply_affine_transform(x, tx=tx * 6, ty=ty * 7, **ak))

    np.random.seed(13)
    got = random_shear(x, 20, **kw)
    (shear,) = _replay(13, (-20, 20))
    np.testing.assert_array_equal(got, apply_affine_transform(x, shear=shear, **ak))

    np.random.seed(14)
    got = random_zoom(x, (0.7, 1.3), **kw)
    zx, zy = np.random.RandomState(14).uniform(0.7, 1.3, 2)
    np.testing.assert_array_equal(got, apply_affine_transform(x, zx=zx, zy=zy, **ak))


def test_random_rotation_defaults_are_channels_first():
    img_hwc = np.random.default_rng(4).random((5, 6, 3))
    np.random.seed(0)
    got = random_rotation(img_hwc, 30)
    (theta,) = _replay(0, (-30, 30))
    np.testing.assert_array_equal(got, apply_affine_transform(img_hwc, theta=theta, row_axis=1, col_axis=2,
                                                              channel_axis=0))


def test_random_zoom_validation_and_identity_range():
    x = np.ones((3, 4, 4))
    with pytest.raises(ValueError, match="`zoom_range` should be a tuple or list of two floats"):
        random_zoom(x, (0.5, 1.0, 2.0))
    before = np.random.get_state()
    assert random_zoom(x, [1, 1]) is x
    assert np.array_equal(np.random.get_state()[1], before[1])


def test_flip_axis_is_a_reversed_view():
    x = np.arange(24).reshape(2, 3, 4)
    for axis in range(3):
        f = flip_axis(x, axis)
        assert np.shares_memory(f, x)
        np.testing.assert_array_equal(f, np.flip(x, axis))
