"""The loaders' fast paths give Pillow's pixels: JPEG decoding and the nearest resize."""

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from fastkeras.kernels.gather import take_pixels
from fastkeras.utils.image_loading import decode_rgb, resize_nearest


def encode(arr, mode=None, **save_args):
    buf = io.BytesIO()
    img = Image.fromarray(arr) if mode is None else Image.fromarray(arr).convert(mode)
    img.save(buf, format="JPEG", **save_args)
    return buf.getvalue()


def pillow_rgb(data):
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"))


def photo(h, w, seed=0):
    """Smooth colour gradients plus noise: chroma detail for the upsampling to matter."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 / max(w, 1), yy * 255 / max(h, 1), (xx + yy) % 64 * 4], axis=-1)
    return np.clip(base + rng.normal(0, 25, (h, w, 3)), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("h, w", [(1, 1), (17, 33), (64, 48), (257, 255)])
@pytest.mark.parametrize("save_args", [
    dict(quality=95, subsampling=0),                     # 4:4:4
    dict(quality=75, subsampling=1),                     # 4:2:2
    dict(quality=30, subsampling=2),                     # 4:2:0
    dict(quality=90, progressive=True),
    dict(quality=85, optimize=True),
])
def test_colour_jpegs_decode_to_pillows_pixels(h, w, save_args):
    data = encode(photo(h, w), **save_args)
    got = decode_rgb(data)
    assert got.dtype == np.uint8 and got.shape == (h, w, 3)
    np.testing.assert_array_equal(got, pillow_rgb(data))


@pytest.mark.parametrize("data", [
    encode(photo(20, 30), mode="L"),                     # grey JPEG: Pillow's own path
    encode(photo(20, 30), mode="CMYK"),
    encode(photo(20, 30))[:300],                         # truncated
    b"\x89PNG\r\n\x1a\n" + b"\0" * 64,
    b"",
])
def test_other_files_are_left_to_pillow(data):
    assert decode_rgb(data) is None


def test_images_over_pillows_bomb_limit_are_left_to_pillow(monkeypatch):
    h, w = 20, 30
    data = encode(photo(h, w))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", h * w - 1)
    assert decode_rgb(data) is None
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", h * w)
    assert decode_rgb(data) is not None
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    assert decode_rgb(data) is not None


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 90), w=st.integers(1, 90), th=st.integers(1, 120),
       tw=st.integers(1, 120), crop=st.booleans(), data=st.data())
def test_resize_nearest_equals_pillow(h, w, th, tw, crop, data):
    arr = np.random.default_rng(h * 1000 + w).integers(0, 256, (h, w, 3), dtype=np.uint8)
    box = None
    if crop:
        left = data.draw(st.floats(0, w - 0.5))
        upper = data.draw(st.floats(0, h - 0.5))
        box = (left, upper, data.draw(st.floats(left + 0.25, w)),
               data.draw(st.floats(upper + 0.25, h)))
    want = np.asarray(Image.fromarray(arr).resize((tw, th), Image.NEAREST, box=box))
    np.testing.assert_array_equal(resize_nearest(arr, (tw, th), box), want)


def test_take_pixels_matches_numpy_and_checks_its_arguments():
    src = np.random.default_rng(1).integers(0, 256, (5, 7, 4), dtype=np.uint8)
    rows = np.array([4, 0, 0, 2], np.int32)
    cols = np.array([6, 1], np.int32)
    np.testing.assert_array_equal(take_pixels(src, rows, cols), src[np.ix_(rows, cols)])
    with pytest.raises(TypeError, match="`src` must be an \\(H, W, C\\) uint8 array"):
        take_pixels(src.astype(np.float32), rows, cols)
    with pytest.raises(TypeError, match="`rows` must be a 1-D int32 array"):
        take_pixels(src, rows.astype(np.int64), cols)
    with pytest.raises(ValueError, match=r"`cols` must lie in \[0, 7\)"):
        take_pixels(src, rows, np.array([7], np.int32))
