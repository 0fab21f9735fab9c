"""Tests for fastkeras.utils.image_utils: spec image.md §9, Pillow and keras_preprocessing."""

import io
import os
import pathlib
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from fastkeras.backend import config
from fastkeras.utils.image_utils import (
    fit_image,
    InvalidImageError,
    array_to_img,
    check_image_file,
    crop_box,
    img_to_array,
    load_img,
    save_img,
)


def _png_bytes(arr, mode=None):
    buf = io.BytesIO()
    Image.fromarray(arr, mode).save(buf, "png")
    return buf.getvalue()


def _write(path, data):
    path.write_bytes(data)
    return path


@pytest.fixture
def ramp_6x10(tmp_path):
    """The spec's 6x10 grey image whose pixel (r, c) is 10*r + c."""
    arr = np.arange(60, dtype=np.uint8).reshape(6, 10)
    return _write(tmp_path / "ramp.png", _png_bytes(arr)), arr


@pytest.fixture
def restore_config():
    fmt, fx = config.image_data_format(), config.floatx()
    yield
    config.set_image_data_format(fmt)
    config.set_floatx(fx)


# ----------------------------------------------------------------------------- array_to_img


def test_array_to_img_scales_min_max_to_0_255():
    x = np.array([-1, 0, 1, 3], np.float32).reshape(1, 4, 1)
    img = array_to_img(x)
    assert img.mode == "L"
    np.testing.assert_array_equal(np.asarray(img), [[0, 63, 127, 255]])
    np.testing.assert_array_equal(x.ravel(), [-1, 0, 1, 3])  # input untouched


def test_array_to_img_constant_image_is_black():
    img = array_to_img(np.full((2, 3, 3), 7.0))
    assert img.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(img), np.zeros((2, 3, 3), np.uint8))


def test_array_to_img_without_scale_truncates_and_wraps():
    x = np.array([-1.0, 0.0, 12.9, 255.0, 256.0, 300.7], np.float32).reshape(1, 6, 1)
    # 300.7 -> 300 -> 300 - 256 = 44 (uint8 wraparound after truncation toward zero)
    np.testing.assert_array_equal(
        np.asarray(array_to_img(np.concatenate([x, x, x], axis=2), scale=False))[..., 0],
        [[255, 0, 12, 255, 0, 44]],
    )


def test_array_to_img_single_channel_above_255_is_mode_I():
    x = np.array([0, 1000, 70000], np.float64).reshape(1, 3, 1)
    img = array_to_img(x, scale=False)
    assert img.mode == "I"
    np.testing.assert_array_equal(np.asarray(img), [[0, 1000, 70000]])


def test_array_to_img_channel_modes_and_channels_first():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (4, 5, 6)).astype(np.float32)  # channels_first: 4 channels
    img = array_to_img(x, data_format="channels_first", scale=False)
    assert img.mode == "RGBA" and img.size == (6, 5)
    np.testing.assert_array_equal(np.asarray(img), x.transpose(1, 2, 0).astype(np.uint8))


def test_array_to_img_errors():
    with pytest.raises(ValueError, match="rank 3"):
        array_to_img(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="Unsupported channel number: 2"):
        array_to_img(np.zeros((4, 4, 2)))
    with pytest.raises(ValueError, match="data_format"):
        array_to_img(np.zeros((4, 4, 3)), data_format="nhwc")


# ----------------------------------------------------------------------------- img_to_array


def test_img_to_array_adds_channel_axis_in_both_formats(ramp_6x10):
    path, arr = ramp_6x10
    img = Image.open(path)
    last = img_to_array(img, "channels_last")
    first = img_to_array(img, "channels_first")
    assert last.shape == (6, 10, 1) and first.shape == (1, 6, 10)
    assert last.dtype == np.float32
    np.testing.assert_array_equal(last[..., 0], arr)
    np.testing.assert_array_equal(first[0], arr)


def test_img_to_array_follows_global_settings(restore_config):
    rgb = Image.fromarray(np.arange(24, dtype=np.uint8).reshape(2, 4, 3))
    config.set_image_data_format("channels_first")
    config.set_floatx("float64")
    x = img_to_array(rgb)
    assert x.shape == (3, 2, 4) and x.dtype == np.float64
    np.testing.assert_array_equal(x, np.arange(24).reshape(2, 4, 3).transpose(2, 0, 1))
    assert img_to_array(rgb, "channels_last", dtype="uint8").dtype == np.uint8


def test_img_to_array_errors():
    with pytest.raises(ValueError, match="Unsupported image shape"):
        img_to_array(np.zeros((1, 2, 3, 4)))
    with pytest.raises(ValueError, match="data_format"):
        img_to_array(np.zeros((2, 2)), data_format="bad")


# ----------------------------------------------------------------------------- load_img


def test_load_img_keep_aspect_ratio_spec_example(ramp_6x10):
    path, _ = ramp_6x10
    assert crop_box((10, 6), (3, 3)) == (2, 0, 8, 6)
    img = load_img(path, color_mode="grayscale", target_size=(3, 3), keep_aspect_ratio=True)
    np.testing.assert_array_equal(np.asarray(img), [[13, 15, 17], [33, 35, 37], [53, 55, 57]])


@settings(max_examples=40, deadline=None)
@given(
    th=st.integers(1, 6),
    tw=st.integers(1, 6),
    k=st.integers(1, 4),
    pad=st.integers(0, 7),
    pad_rows=st.booleans(),
)
def test_load_img_keep_aspect_ratio_crops_the_centre(th, tw, k, pad, pad_rows):
    # An image k times the target plus `pad` extra rows or columns: the crop must drop the
    # padding evenly (the extra one at the end) and nearest must then sample every k-th pixel.
    h, w = th * k + (pad if pad_rows else 0), tw * k + (0 if pad_rows else pad)
    arr = (np.arange(h * w * 3) % 251).astype(np.uint8).reshape(h, w, 3)
    top, left = ((pad // 2, 0) if pad_rows else (0, pad // 2))
    assert crop_box((w, h), (tw, th)) == (left, top, left + tw * k, top + th * k)
    got = load_img(io.BytesIO(_png_bytes(arr)), target_size=(th, tw), keep_aspect_ratio=True)
    assert got.size == (tw, th)
    rows = top + np.arange(th) * k + k // 2
    cols = left + np.arange(tw) * k + k // 2
    if (h, w) != (th, tw):  # no resize (and no crop) when the size already matches
        np.testing.assert_array_equal(np.asarray(got), arr[np.ix_(rows, cols)])


def test_load_img_resize_is_height_width(ramp_6x10):
    path, arr = ramp_6x10
    img = load_img(path, color_mode="grayscale", target_size=(3, 5))
    assert img.size == (5, 3)
    # nearest from 6x10 to 3x5 samples source pixel centres: rows 1,3,5; cols 1,3,5,7,9
    np.testing.assert_array_equal(np.asarray(img), arr[1::2, 1::2])


@pytest.mark.parametrize("kind", ["str", "bytes", "pathlib", "bytesio"])
def test_load_img_path_types(ramp_6x10, kind):
    path, arr = ramp_6x10
    src = {
        "str": str(path),
        "bytes": str(path).encode(),
        "pathlib": pathlib.Path(path),
        "bytesio": io.BytesIO(path.read_bytes()),
    }[kind]
    img = load_img(src, color_mode="grayscale")
    np.testing.assert_array_equal(np.asarray(img), arr)


def test_load_img_rejects_other_path_types():
    with pytest.raises(TypeError, match="path should be path-like or io.BytesIO"):
        load_img(12)


def test_load_img_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.png"):
        load_img(tmp_path / "nope.png")


def test_load_img_color_modes(tmp_path):
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 0] = [[10, 20], [30, 40]]
    rgba[..., 3] = [[0, 255], [128, 7]]
    path = _write(tmp_path / "a.png", _png_bytes(rgba, "RGBA"))
    # rgb drops alpha without compositing
    np.testing.assert_array_equal(np.asarray(load_img(path))[..., 0], rgba[..., 0])
    assert load_img(path).mode == "RGB"
    assert load_img(path, color_mode="rgba").mode == "RGBA"
    np.testing.assert_array_equal(np.asarray(load_img(path, color_mode="rgba")), rgba)
    # RGB -> RGBA adds an opaque alpha
    rgb_path = _write(tmp_path / "b.png", _png_bytes(rgba[..., :3].copy()))
    np.testing.assert_array_equal(np.asarray(load_img(rgb_path, color_mode="rgba"))[..., 3], 255)
    # grayscale uses ITU-R 601-2 luma: L = R*299/1000 + G*587/1000 + B*114/1000 (rounded)
    grey = load_img(rgb_path, color_mode="grayscale")
    assert grey.mode == "L"
    np.testing.assert_array_equal(np.asarray(grey), np.round(rgba[..., 0] * 0.299).astype(np.uint8))
    with pytest.raises(ValueError, match='color_mode must be "grayscale", "rgb", or "rgba"'):
        load_img(path, color_mode="hsv")


def test_load_img_16_bit_grey(tmp_path):
    arr = np.array([[0, 1000], [40000, 65535]], np.uint16)
    path = _write(tmp_path / "g16.png", _png_bytes(arr))
    grey = load_img(path, color_mode="grayscale")
    assert grey.mode == "I;16"
    np.testing.assert_array_equal(img_to_array(grey)[..., 0], arr.astype(np.float32))
    np.testing.assert_array_equal(np.asarray(load_img(path))[..., 0], [[0, 255], [255, 255]])


def test_load_img_deprecated_grayscale_keyword(ramp_6x10):
    path, arr = ramp_6x10
    with pytest.warns(DeprecationWarning, match="grayscale"):
        img = load_img(path, grayscale=True)
    assert img.mode == "L"
    np.testing.assert_array_equal(np.asarray(img), arr)


def test_load_img_interpolation_error_only_when_resizing(ramp_6x10):
    path, _ = ramp_6x10
    assert load_img(path, target_size=(6, 10), interpolation="cubic").size == (10, 6)
    message = ("Invalid interpolation method cubic specified. Supported methods are nearest, "
               "bilinear, bicubic, hamming, box, lanczos")
    with pytest.raises(ValueError, match=message):
        load_img(path, target_size=(3, 3), interpolation="cubic")


@pytest.mark.parametrize("bad", [(3,), (0, 4), "ab", (2.5, 3), 7])
def test_load_img_bad_target_size(ramp_6x10, bad):
    path, _ = ramp_6x10
    with pytest.raises(ValueError, match="target_size"):
        load_img(path, target_size=bad)


def _jpeg_bytes(h=32, w=40):
    rng = np.random.default_rng(1)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(buf, "jpeg")
    return buf.getvalue()


_JPEG = _jpeg_bytes()


@pytest.mark.parametrize(
    "name, data, reason",
    [
        ("text.png", b"this is not an image", "cannot identify image file"),
        ("header_cut.jpg", _JPEG[:300], "(?i)truncated"),
        ("data_cut.jpg", _JPEG[: len(_JPEG) * 3 // 4], "(?i)truncated"),
        ("cut.png", _png_bytes(np.arange(4096, dtype=np.uint8).reshape(64, 64) % 7)[:80],
         "(?i)truncated"),
    ],
    ids=["text", "jpeg-header-cut", "jpeg-data-cut", "png-cut"],
)
def test_load_img_invalid_file_names_file_and_reason(tmp_path, name, data, reason):
    path = _write(tmp_path / name, data)
    with pytest.raises(InvalidImageError, match=reason) as info:
        load_img(path)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.path == str(path) and str(path) in str(err)
    assert err.__cause__ is not None  # Pillow's exception is chained
    assert check_image_file(path)  # the listing-time check finds it too


def test_check_image_file_accepts_valid_images(tmp_path):
    arr = (np.arange(300) % 256).astype(np.uint8).reshape(10, 10, 3)
    for fmt in ["png", "jpeg", "bmp", "tiff", "ppm"]:
        path = tmp_path / f"ok.{fmt}"
        Image.fromarray(arr).save(path, fmt)
        assert check_image_file(path) is None


def test_decompression_bomb_limit_kept_with_clear_message(tmp_path, monkeypatch):
    path = _write(tmp_path / "big.png", _png_bytes(np.zeros((40, 40), np.uint8)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 1600 px > 2 * limit -> error
    with pytest.raises(InvalidImageError, match="MAX_IMAGE_PIXELS") as info:
        load_img(path)
    assert isinstance(info.value.__cause__, Image.DecompressionBombError)
    assert "decompression bomb" in check_image_file(path)


# ----------------------------------------------------------------------------- save_img


def test_save_img_infers_format_and_round_trips(tmp_path):
    x = (np.arange(48) * 5 % 256).astype(np.float32).reshape(4, 4, 3)
    save_img(tmp_path / "a.png", x, scale=False)
    with Image.open(tmp_path / "a.png") as img:
        assert img.format == "PNG"
        np.testing.assert_array_equal(np.asarray(img), x.astype(np.uint8))
    save_img(str(tmp_path / "b.JPG"), x)
    with Image.open(tmp_path / "b.JPG") as img:
        assert img.format == "JPEG"


def test_save_img_rgba_to_jpeg_warns_and_converts(tmp_path):
    x = np.random.default_rng(0).uniform(0, 255, (4, 4, 4))
    message = "The JPEG format does not support RGBA images, converting to RGB."
    with pytest.warns(UserWarning, match=message):
        save_img(tmp_path / "a.jpg", x)
    with Image.open(tmp_path / "a.jpg") as img:
        assert img.mode == "RGB"


def test_save_img_file_objects_and_kwargs(restore_config):
    x = np.random.default_rng(0).uniform(0, 255, (16, 16, 3))
    with pytest.raises(ValueError, match="file_format"):
        save_img(io.BytesIO(), x)
    low, high = io.BytesIO(), io.BytesIO()
    save_img(low, x, file_format="jpeg", quality=5)
    save_img(high, x, file_format="jpeg", quality=95)
    want = io.BytesIO()
    array_to_img(x).save(want, "jpeg", quality=5)
    assert low.getvalue() == want.getvalue()
    assert len(high.getvalue()) > len(low.getvalue())
    config.set_image_data_format("channels_first")
    buf = io.BytesIO()
    save_img(buf, np.zeros((1, 3, 5)), file_format="png")
    assert Image.open(buf).size == (5, 3)


def test_save_img_unknown_format(tmp_path):
    with pytest.raises(ValueError, match="cannot write the image format 'xyz'"):
        save_img(tmp_path / "a.xyz", np.zeros((2, 2, 3)))
    with pytest.raises(ValueError, match="file_format"):
        save_img(tmp_path / "noext", np.zeros((2, 2, 3)))


# ----------------------------------------------------------------------------- parity with KP


@pytest.mark.parametrize("interpolation",
                         ["nearest", "bilinear", "bicubic", "hamming", "box", "lanczos"])
@pytest.mark.parametrize("color_mode", ["rgb", "rgba", "grayscale"])
def test_load_img_matches_keras_preprocessing(tmp_path, interpolation, color_mode):
    kp_utils = pytest.importorskip("keras_preprocessing.image.utils")
    rng = np.random.default_rng(3)
    path = _write(tmp_path / "x.png", _png_bytes(rng.integers(0, 256, (13, 21, 3), dtype=np.uint8)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = kp_utils.load_img(str(path), color_mode=color_mode, target_size=(9, 7),
                                 interpolation=interpolation)
    got = load_img(path, color_mode=color_mode, target_size=(9, 7), interpolation=interpolation)
    assert got.mode == want.mode
    np.testing.assert_array_equal(img_to_array(got), kp_utils.img_to_array(want))


def test_check_image_file_reports_missing_files(tmp_path):
    os.symlink(tmp_path / "gone.png", tmp_path / "dangling.png")
    assert "No such file" in check_image_file(tmp_path / "dangling.png")


def test_fit_image_converts_then_resizes_and_keeps_an_image_that_fits():
    rgb = Image.fromarray(np.arange(6 * 10 * 3, dtype=np.uint8).reshape(6, 10, 3))
    assert fit_image(rgb, "rgb", (6, 10), "no such filter", False) is rgb  # nothing to do
    grey = fit_image(rgb, "grayscale", None, "nearest", False)
    assert grey.mode == "L" and grey.size == (10, 6)
    np.testing.assert_array_equal(np.asarray(grey), np.asarray(rgb.convert("L")))
    cropped = fit_image(rgb, "rgba", (3, 3), "bilinear", True)
    want = rgb.convert("RGBA").resize((3, 3), Image.BILINEAR, box=(2, 0, 8, 6))
    np.testing.assert_array_equal(np.asarray(cropped), np.asarray(want))
    with pytest.raises(ValueError, match="Invalid interpolation method cubic specified"):
        fit_image(rgb, "rgb", (3, 3), "cubic", False)
