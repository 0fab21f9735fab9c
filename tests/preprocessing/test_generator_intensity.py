"""Channel shift and brightness helpers (spec §3.3, §3.4, §9) against Pillow and the spec examples."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageEnhance

from fastkeras.backend import config
from fastkeras.preprocessing.image import (
    apply_brightness_shift, apply_channel_shift, random_brightness, random_channel_shift,
)
from fastkeras.preprocessing.intensity import brightness_shift
from test_generator_reference import ref_brightness


def test_channel_shift_spec_example():
    x = np.zeros((3, 2, 2), np.float32)  # channels first
    x[0] = [[10, 40], [70, 100]]
    x[1] = [[20, 50], [80, 110]]
    x[2] = [[30, 60], [90, 200]]
    up = apply_channel_shift(x, 50.0, channel_axis=0)
    np.testing.assert_array_equal(up[0], [[60, 90], [120, 150]])
    np.testing.assert_array_equal(up[2], [[80, 110], [140, 200]])
    down = apply_channel_shift(np.moveaxis(x, 0, -1), -25.0, channel_axis=2)
    np.testing.assert_array_equal(down[..., 0].ravel(), [10, 15, 45, 75])
    assert up.dtype == np.float32


def test_channel_shift_rounds_the_offset_to_float32():
    x = np.array([[[0.0], [1000.0]]], np.float32)
    got = apply_channel_shift(x, 0.1, channel_axis=2)
    assert got[0, 0, 0] == np.float32(0.1) and got.dtype == np.float32


def test_random_channel_shift_draws_from_global_rng():
    x = np.random.default_rng(0).random((4, 5, 3)).astype(np.float32) * 100
    np.random.seed(7)
    got = random_channel_shift(x, 20.0, channel_axis=2)
    delta = np.random.RandomState(7).uniform(-20.0, 20.0)
    np.testing.assert_array_equal(got, apply_channel_shift(x, delta, channel_axis=2))


def test_brightness_generator_path_spec_examples():
    v = np.array([0, 10.7, 100.2, 200.9, 255, 128.5], np.float32).reshape(1, 6, 1)
    for b, want in [(0.5, [0, 5, 50, 100, 127, 64]), (1.0, [0, 10, 100, 200, 255, 128]),
                    (1.5, [0, 15, 150, 255, 255, 192])]:
        np.testing.assert_array_equal(brightness_shift(v, b, False, -1).ravel(), want)
    w = np.array([-1, 0, .5, 1, 2, 3], np.float32).reshape(1, 6, 1)
    np.testing.assert_allclose(brightness_shift(w, 0.5, False, -1).ravel(),
                               [-1, -0.5137, -0.2627, -0.0118, 0.4902, 0.9922], atol=1e-4)
    g = np.array([10, 20, 250], np.float32).reshape(1, 3, 1)
    np.testing.assert_array_equal(brightness_shift(g, 1.5, False, -1).ravel(), [15, 30, 255])
    u = np.array([0, .25, .5, .75, 1, .1], np.float32).reshape(1, 6, 1)
    np.testing.assert_array_equal(brightness_shift(u, 1.2, False, -1).ravel(), [0, 0, 0, 0, 1, 0])


def test_brightness_helper_scales_by_default_like_keras_preprocessing():
    w = np.array([-1, 0, .5, 1, 2, 3], np.float32).reshape(1, 6, 1)
    np.testing.assert_array_equal(apply_brightness_shift(w, 0.5).ravel(), [0, 31, 47, 63, 95, 127])
    u = np.array([0, .25, .5, .75, 1, .1], np.float32).reshape(1, 6, 1)
    np.testing.assert_array_equal(apply_brightness_shift(u, 1.2).ravel(), [0, 75, 152, 229, 255, 30])


def _pillow(x, b, scale):
    """Keras 3's apply_brightness_shift, channels last, written with Pillow."""
    m, mx = x.min(), x.max()
    local = m < 0 or mx > 255
    y = x.astype(np.float32)
    if local or scale:
        y = y - y.min()
        if y.max() != 0:
            y /= y.max()
        y *= 255
    q = y.astype(np.uint8)
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[q.shape[-1]]
    img = Image.fromarray(q[..., 0] if mode == "L" else q, mode)
    out = np.asarray(ImageEnhance.Brightness(img).enhance(b), np.float32).reshape(q.shape)
    if not scale and local:
        out = out / 255 * (mx - m) + m
    return out


@settings(max_examples=80, deadline=None)
@given(c=st.sampled_from([1, 3, 4]), b=st.floats(0, 3), scale=st.booleans(),
       low=st.sampled_from([0.0, -5.0, 0.2]), high=st.sampled_from([1.0, 255.0, 400.0]),
       seed=st.integers(0, 10_000))
def test_brightness_equals_pillow(c, b, scale, low, high, seed):
    x = np.random.default_rng(seed).uniform(low, high, (5, 7, c)).astype(np.float32)
    x0 = x.copy()
    got = brightness_shift(x, b, scale, -1)
    np.testing.assert_array_equal(got, _pillow(x, b, scale))
    np.testing.assert_array_equal(brightness_shift(np.moveaxis(x, -1, 0), b, scale, 0), np.moveaxis(got, -1, 0))
    np.testing.assert_array_equal(x, x0)


def test_brightness_keeps_alpha():
    x = np.array([[[100.0, 50.0, 10.0, 200.7]]], np.float32)
    np.testing.assert_array_equal(brightness_shift(x, 0.5, False, -1), [[[50, 25, 5, 200]]])


def test_brightness_products_are_float32_like_pillow():
    # 2.3333333333333335 * 27 = 63.00000000000001 in float64 but 62.999996 in float32: Pillow gives 62.
    x = np.full((1, 1, 1), 27, np.float32)
    assert brightness_shift(x, 2.3333333333333335, False, -1)[0, 0, 0] == 62
    assert ref_brightness(x, 2.3333333333333335, 2)[0, 0, 0] == 62


def test_brightness_rejects_other_channel_counts():
    with pytest.raises(ValueError, match="Unsupported channel number: 2"):
        brightness_shift(np.ones((4, 4, 2), np.float32), 1.2, False, -1)
    with pytest.raises(ValueError, match="Unsupported channel number: 5"):
        brightness_shift(np.ones((5, 4, 4), np.float32), 1.2, False, 0)


def test_apply_brightness_shift_follows_image_data_format(monkeypatch):
    x = np.random.default_rng(1).uniform(0, 255, (3, 4, 5)).astype(np.float32)
    monkeypatch.setattr(config, "_IMAGE_DATA_FORMAT", "channels_first")
    got = apply_brightness_shift(x, 0.7, scale=False)
    np.testing.assert_array_equal(got, np.moveaxis(_pillow(np.moveaxis(x, 0, -1), 0.7, False), -1, 0))


def test_random_brightness_draws_and_validates():
    x = np.random.default_rng(2).uniform(0, 255, (4, 4, 3)).astype(np.float32)
    np.random.seed(3)
    got = random_brightness(x, (0.5, 1.5), scale=False)
    b = np.random.RandomState(3).uniform(0.5, 1.5)
    np.testing.assert_array_equal(got, _pillow(x, b, False))
    with pytest.raises(ValueError, match="brightness_range should be tuple or list of two floats"):
        random_brightness(x, (0.5, 1.0, 1.5))
