"""ImageDataGenerator: constructor (spec §1), apply_transform (§3), standardize (§5), fit (§6) and the
batches of flow (§7) against the spec references replayed with scipy.ndimage, Pillow and numpy."""

import warnings

import numpy as np
import pytest

from fastkeras.preprocessing.image import ImageDataGenerator
from test_generator_reference import (
    config, ref_apply_transform, ref_flow, ref_standardize, replay_params,
)

# --------------------------------------------------------------------------- §1 constructor


def test_defaults_and_axes():
    gen = ImageDataGenerator()
    assert gen.data_format == "channels_last" and gen.dtype == "float32"
    assert (gen.channel_axis, gen.row_axis, gen.col_axis) == (3, 1, 2)
    assert gen.zoom_range == [1.0, 1.0] and gen.brightness_range is None
    assert gen.mean is None and gen.std is None and gen.zca_whitening_matrix is None
    assert gen.principal_components is None and gen.affine_convention == "keras_preprocessing"
    first = ImageDataGenerator(data_format="channels_first")
    assert (first.channel_axis, first.row_axis, first.col_axis) == (1, 2, 3)


def test_arguments_are_positional_in_keras_order():
    gen = ImageDataGenerator(False, False, False, False, False, 1e-6, 10, 0.1, 0.2, (0.5, 1.5), 5.0, 0.3,
                             2.0, "reflect", 1.0, True, True, 1 / 255, None, "channels_first", 0.2, 0, "float64")
    assert gen.rotation_range == 10 and gen.width_shift_range == 0.1 and gen.height_shift_range == 0.2
    assert gen.brightness_range == (0.5, 1.5) and gen.shear_range == 5.0 and gen.zoom_range == [0.7, 1.3]
    assert gen.channel_shift_range == 2.0 and gen.fill_mode == "reflect" and gen.cval == 1.0
    assert gen.horizontal_flip and gen.vertical_flip and gen.rescale == 1 / 255
    assert gen.data_format == "channels_first" and gen._validation_split == 0.2
    assert gen.interpolation_order == 0 and gen.dtype == "float64"


def test_bad_data_format():
    with pytest.raises(ValueError, match='`data_format` should be `"channels_last"`.*Received: channels_middle'):
        ImageDataGenerator(data_format="channels_middle")


@pytest.mark.parametrize("value", [1.0, -0.1, 1.5])
def test_bad_validation_split(value):
    with pytest.raises(ValueError, match="`validation_split` must be strictly between 0 and 1"):
        ImageDataGenerator(validation_split=value)


@pytest.mark.parametrize("value", [0, 0.0, None, 0.5])
def test_accepted_validation_split(value):
    assert ImageDataGenerator(validation_split=value)._validation_split == value


@pytest.mark.parametrize("value,expected", [
    (0.2, [0.8, 1.2]), (2, [-1, 3]), (True, [0, 2]), (np.float64(0.5), [0.5, 1.5]),
    ((0.8, 1.2), [0.8, 1.2]), ([1.3, 0.7], [1.3, 0.7]), (np.array([0.9, 1.1]), [0.9, 1.1]),
])
def test_zoom_range_forms(value, expected):
    assert ImageDataGenerator(zoom_range=value).zoom_range == pytest.approx(expected)


@pytest.mark.parametrize("value", [[0.5, 1.0, 1.5], [np.float32(0.8), 1.2], "ab", [None, 1]])
def test_zoom_range_value_errors(value):
    with pytest.raises(ValueError, match="`zoom_range` should be a float or a tuple or list of two floats"):
        ImageDataGenerator(zoom_range=value)


@pytest.mark.parametrize("value", [None, np.float32(0.3), np.int64(1)])
def test_zoom_range_type_errors(value):
    with pytest.raises(TypeError, match="has no len"):
        ImageDataGenerator(zoom_range=value)


@pytest.mark.parametrize("value", [(0.5,), [0.1, 0.5, 1.0], np.array([0.5, 1.5]), 0.5])
def test_bad_brightness_range(value):
    with pytest.raises(ValueError, match="`brightness_range should be tuple or list of two floats"):
        ImageDataGenerator(brightness_range=value)


def _warnings_of(**kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gen = ImageDataGenerator(**kwargs)
    return gen, [str(w.message) for w in caught]


def test_override_warnings():
    gen, msgs = _warnings_of(zca_whitening=True)
    assert gen.featurewise_center and msgs == [
        "This ImageDataGenerator specifies `zca_whitening`, which overrides setting of `featurewise_center`."]
    gen, msgs = _warnings_of(zca_whitening=True, featurewise_std_normalization=True)
    assert gen.featurewise_center and not gen.featurewise_std_normalization and len(msgs) == 3
    assert "which overrides setting of `featurewise_std_normalization`" in msgs[1]
    assert "`featurewise_std_normalization`, which overrides setting of `featurewise_center`" in msgs[2]
    gen, msgs = _warnings_of(featurewise_std_normalization=True)
    assert gen.featurewise_center and len(msgs) == 1
    gen, msgs = _warnings_of(featurewise_std_normalization=True, featurewise_center=True)
    assert msgs == []
    gen, msgs = _warnings_of(samplewise_std_normalization=True)
    assert gen.samplewise_center and msgs == [
        "This ImageDataGenerator specifies `samplewise_std_normalization`, which overrides setting of "
        "`samplewise_center`."]


def test_bad_fill_mode_and_order_fail_at_first_geometric_transform():
    x = np.random.default_rng(0).random((4, 5, 6, 3)).astype(np.float32)
    gen = ImageDataGenerator(fill_mode="bogus", horizontal_flip=True, vertical_flip=True)
    assert gen.flow(x, batch_size=4, seed=0).next().shape == x.shape  # flips only: never fails
    gen.rotation_range = 10
    with pytest.raises(RuntimeError, match="boundary mode not supported"):
        gen.flow(x, seed=0).next()
    with pytest.raises(RuntimeError, match="spline order not supported"):
        ImageDataGenerator(rotation_range=10, interpolation_order=6).flow(x, seed=0).next()
    with pytest.raises(RuntimeError, match="boundary mode not supported"):
        gen.apply_transform(x[0], {"theta": 5})
    with pytest.raises(TypeError, match="`cval` should be a number"):
        ImageDataGenerator(rotation_range=10, cval="white").flow(x, seed=0).next()


# --------------------------------------------------------------------------- §3 apply_transform

PARAMS = dict(theta=17.0, tx=1.5, ty=-2.25, shear=8.0, zx=0.9, zy=1.15, flip_horizontal=1, flip_vertical=1,
              channel_shift_intensity=12.5, brightness=1.3)


@pytest.mark.parametrize("convention", ["keras_preprocessing", "keras3", "exact"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("fill_mode,order", [("nearest", 1), ("constant", 0), ("wrap", 1), ("reflect", 3)])
def test_apply_transform_equals_reference(convention, data_format, fill_mode, order):
    shape = (3, 9, 13) if data_format == "channels_first" else (9, 13, 3)
    x = np.random.default_rng(5).uniform(0, 255, shape).astype(np.float32)
    x0 = x.copy()
    gen = ImageDataGenerator(data_format=data_format, fill_mode=fill_mode, cval=4.0, interpolation_order=order,
                             affine_convention=convention)
    for drop in [(), ("brightness",), ("brightness", "channel_shift_intensity", "flip_vertical")]:
        p = {k: v for k, v in PARAMS.items() if k not in drop}
        got = gen.apply_transform(x, p)
        want = ref_apply_transform(x, p, config(data_format=data_format), fill_mode=fill_mode, cval=4.0,
                                   order=order, convention=convention)
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(x, x0)


def test_apply_transform_identity_views_and_dtypes():
    gen = ImageDataGenerator()
    x = np.arange(60, dtype=np.uint8).reshape(4, 5, 3)
    assert gen.apply_transform(x, {}) is x
    flipped = gen.apply_transform(x, {"flip_horizontal": 1})
    assert np.shares_memory(flipped, x)
    np.testing.assert_array_equal(flipped, x[:, ::-1])
    assert gen.apply_transform(x, {"theta": 10.0}).dtype == np.uint8
    assert gen.apply_transform(x, {"brightness": 1.0}).dtype == np.float32


def test_channels_first_brightness_uses_the_channel_axis():
    x = np.random.default_rng(6).uniform(0, 300, (6, 5, 3)).astype(np.float32)
    last = ImageDataGenerator().apply_transform(x, {"brightness": 0.6})
    first = ImageDataGenerator(data_format="channels_first").apply_transform(np.moveaxis(x, -1, 0),
                                                                             {"brightness": 0.6})
    np.testing.assert_array_equal(first, np.moveaxis(last, -1, 0))


def test_brightness_with_two_channels_raises():
    x = np.ones((4, 2, 5, 6), np.float32)
    gen = ImageDataGenerator(brightness_range=(0.5, 1.5), data_format="channels_first")
    with pytest.raises(ValueError, match="Unsupported channel number: 2"):
        gen.flow(x, seed=0).next()
    with pytest.raises(ValueError, match="Unsupported channel number: 2"):
        gen.random_transform(x[0], seed=0)


def test_flow_brightness_products_are_float32_like_pillow():
    # 2.3333333333333335 * 27 = 63.00000000000001 in float64, 62.999996 in float32: Keras gives 62.
    gen = ImageDataGenerator(brightness_range=(2.3333333333333335, 2.3333333333333335))
    x = np.full((1, 2, 2, 1), 27, np.float32)
    assert gen.flow(x, batch_size=1, seed=0).next()[0, 0, 0, 0] == 62


def test_random_transform_is_apply_of_get():
    gen = ImageDataGenerator(rotation_range=30, width_shift_range=0.2, zoom_range=0.2, horizontal_flip=True)
    x = np.random.default_rng(7).random((8, 9, 3)).astype(np.float32)
    np.testing.assert_array_equal(gen.random_transform(x, seed=3),
                                  gen.apply_transform(x, gen.get_random_transform(x.shape, seed=3)))


# --------------------------------------------------------------------------- §5 standardize


def test_standardize_spec_example_mutates_in_place():
    x = np.arange(12, dtype=np.float32).reshape(2, 2, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gen = ImageDataGenerator(rescale=0.5, samplewise_center=True, samplewise_std_normalization=True)
    out = gen.standardize(x)
    assert out is x
    np.testing.assert_allclose(x.ravel()[:3], [-1.59325, -1.30357, -1.01389], atol=1e-5)


def test_standardize_samplewise_uses_batch_wide_statistics():
    x = np.array([0, 0, 0, 0, 10, 10, 10, 10], np.float32).reshape(2, 2, 2, 1)
    np.testing.assert_array_equal(ImageDataGenerator(samplewise_center=True).standardize(x).ravel(),
                                  [-5, -5, -5, -5, 5, 5, 5, 5])


def test_standardize_order_featurewise_and_warnings():
    calls = []

    def pf(img):
        calls.append(img.copy())
        return img + 1

    gen = ImageDataGenerator(featurewise_center=True, featurewise_std_normalization=True, rescale=2.0,
                             preprocessing_function=pf)
    x = np.random.default_rng(8).random((3, 4, 3)).astype(np.float32)
    with pytest.warns(UserWarning, match="specifies `featurewise_center`, but it hasn't been fit"):
        gen.standardize(x.copy())
    gen.mean = np.array([0.5, 1.0, 1.5], np.float32).reshape(1, 1, 3)
    gen.std = np.array([2.0, 3.0, 4.0], np.float32).reshape(1, 1, 3)
    got = gen.standardize(x.copy())
    np.testing.assert_array_equal(calls[-1], x)
    want = ref_standardize(x + 1, rescale=2.0, mean=gen.mean, std=gen.std)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    with pytest.warns(UserWarning, match="specifies `zca_whitening`, but it hasn't been fit"):
        ImageDataGenerator(zca_whitening=True, featurewise_center=True).standardize(x.copy())


def test_standardize_integer_input_fails_like_numpy():
    with pytest.raises(TypeError, match="Cannot cast ufunc 'multiply' output"):
        ImageDataGenerator(rescale=0.5).standardize(np.ones((2, 2, 3), np.uint8))


# --------------------------------------------------------------------------- §6 fit


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_fit_statistics_spec_example(data_format):
    rng = np.random.default_rng(9)
    x = rng.uniform(0, 255, (6, 3, 4, 3)).astype(np.float32)
    if data_format == "channels_first":
        x = np.moveaxis(x, -1, 1).copy()
    x0 = x.copy()
    gen = ImageDataGenerator(featurewise_center=True, featurewise_std_normalization=True, data_format=data_format)
    gen.fit(x)
    axes = (0, 2, 3) if data_format == "channels_first" else (0, 1, 2)
    shape = (3, 1, 1) if data_format == "channels_first" else (1, 1, 3)
    assert gen.mean.shape == shape and gen.mean.dtype == np.float32 and gen.std.dtype == np.float32
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(gen.mean.ravel(), x64.mean(axis=axes), rtol=1e-6)
    centred = x64 - x64.mean(axis=axes, keepdims=True)
    np.testing.assert_allclose(gen.std.ravel(), centred.std(axis=axes), rtol=1e-6)
    np.testing.assert_array_equal(x, x0)


def test_fit_errors_and_warnings():
    gen = ImageDataGenerator(featurewise_center=True)
    with pytest.raises(ValueError, match=r"Input to `.fit\(\)` should have rank 4. Got array with shape: \(3, 4, 5\)"):
        gen.fit(np.ones((3, 4, 5)))
    with pytest.warns(UserWarning, match=r"channels on axis 3\), i.e. expected either 1, 3 or 4 channels"):
        gen.fit(np.ones((3, 4, 5, 2)))


def test_fit_rescales_before_augmenting_with_reproducible_private_seed():
    kwargs = dict(featurewise_center=True, featurewise_std_normalization=True, rescale=1 / 255, rotation_range=30,
                  width_shift_range=0.2, zoom_range=0.2, horizontal_flip=True, channel_shift_range=0.1)
    x = np.random.default_rng(10).uniform(0, 255, (5, 8, 7, 3)).astype(np.float32)
    gen = ImageDataGenerator(**kwargs)
    before = np.random.get_state()
    gen.fit(x, augment=True, rounds=2, seed=1)
    after = np.random.get_state()
    assert all(np.array_equal(a, b) for a, b in zip(before, after))
    mean, std = gen.mean.copy(), gen.std.copy()
    gen.fit(x, augment=True, rounds=2, seed=1)
    np.testing.assert_array_equal(gen.mean, mean)
    np.testing.assert_array_equal(gen.std, std)
    # Reference: Keras's loop, round-major, rescaled data, draws from RandomState(seed).
    cfg = config(**{k: v for k, v in kwargs.items() if k in config()})
    rs = np.random.RandomState(1)
    scaled = x * np.float32(1 / 255)
    aug = np.stack([ref_apply_transform(scaled[i], replay_params(cfg, scaled[i].shape, rs), cfg)
                    for _ in range(2) for i in range(5)]).astype(np.float64)
    np.testing.assert_allclose(mean.ravel(), aug.mean(axis=(0, 1, 2)), rtol=1e-5)
    np.testing.assert_allclose(std.ravel(), aug.std(axis=(0, 1, 2)), rtol=1e-5)


def test_fit_with_unseeded_augmentation_uses_global_rng():
    x = np.random.default_rng(11).uniform(0, 255, (4, 6, 6, 1)).astype(np.float32)
    gen = ImageDataGenerator(featurewise_center=True, rotation_range=40)
    np.random.seed(4)
    gen.fit(x, augment=True)
    first = gen.mean.copy()
    gen.fit(x, augment=True, seed=4)
    np.testing.assert_array_equal(gen.mean, first)


# --------------------------------------------------------------------------- §7 flow batches

GEOMETRY = dict(rotation_range=25, width_shift_range=0.2, height_shift_range=0.15, shear_range=10, zoom_range=0.2,
                horizontal_flip=True)

FLOW_CASES = [
    (dict(GEOMETRY), {}),
    (dict(GEOMETRY, fill_mode="constant", cval=9.0), dict(fill_mode="constant", cval=9.0)),
    (dict(GEOMETRY, fill_mode="wrap", interpolation_order=0), dict(fill_mode="wrap", order=0)),
    (dict(GEOMETRY, fill_mode="reflect", interpolation_order=3), dict(fill_mode="reflect", order=3)),
    (dict(GEOMETRY, affine_convention="keras3"), dict(convention="keras3")),
    (dict(GEOMETRY, affine_convention="exact", fill_mode="mirror"), dict(convention="exact", fill_mode="mirror")),
    (dict(rotation_range=10, width_shift_range=3, height_shift_range=[1, 2], vertical_flip=True,
          channel_shift_range=30.0, brightness_range=(0.4, 1.6)), {}),
    (dict(GEOMETRY, channel_shift_range=20.0, brightness_range=(0.5, 1.5), data_format="channels_first"), {}),
]


def _as_cfg(kwargs):
    return config(**{k: v for k, v in kwargs.items() if k in config()})


@pytest.mark.parametrize("kwargs,tkw", FLOW_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.uint8])
def test_seeded_flow_equals_reference(kwargs, tkw, dtype):
    first = kwargs.get("data_format") == "channels_first"
    x = np.random.default_rng(12).uniform(0, 255, (7, 3, 9, 11) if first else (7, 9, 11, 3)).astype(dtype)
    x0 = x.copy()
    it = ImageDataGenerator(**kwargs).flow(x, np.arange(7), batch_size=3, seed=21)
    for idx, want in ref_flow(x, _as_cfg(kwargs), 21, 3, 5, transform_kwargs=tkw):
        bx, by = next(it)
        np.testing.assert_array_equal(by, idx)
        assert bx.dtype == np.float32
        np.testing.assert_array_equal(bx, want)
    np.testing.assert_array_equal(x, x0)


def test_flow_standardisation_equals_reference():
    kwargs = dict(GEOMETRY, rescale=1 / 255, samplewise_center=True, samplewise_std_normalization=True,
                  featurewise_center=True, featurewise_std_normalization=True)
    x = np.random.default_rng(13).uniform(0, 255, (8, 10, 9, 3)).astype(np.float32)
    gen = ImageDataGenerator(**kwargs)
    gen.mean = np.array([0.1, -0.2, 0.3], np.float32).reshape(1, 1, 3)
    gen.std = np.array([1.5, 0.5, 2.0], np.float32).reshape(1, 1, 3)
    std_kwargs = dict(rescale=1 / 255, samplewise_center=True, samplewise_std=True, mean=gen.mean, std=gen.std)
    it = gen.flow(x, batch_size=4, seed=2)
    for _, want in ref_flow(x, _as_cfg(kwargs), 2, 4, 4, std_kwargs=std_kwargs):
        np.testing.assert_allclose(next(it), want, rtol=0, atol=2e-5)


def test_preprocessing_function_runs_per_image_between_transform_and_standardize():
    seen = []

    def pf(img):
        seen.append(img.shape)
        return np.sqrt(img)

    kwargs = dict(GEOMETRY, rescale=0.5, featurewise_center=True, channel_shift_range=5.0)
    gen = ImageDataGenerator(preprocessing_function=pf, **kwargs)
    gen.mean = np.array([1.0, 2.0, 3.0], np.float32).reshape(1, 1, 3)
    x = np.random.default_rng(14).uniform(0, 255, (5, 6, 7, 3)).astype(np.float32)
    it = gen.flow(x, batch_size=5, seed=8, shuffle=False)
    ((_, transformed),) = ref_flow(x, _as_cfg(kwargs), 8, 5, 1, shuffle=False)
    want = np.stack([ref_standardize(np.sqrt(t), rescale=0.5, mean=gen.mean) for t in transformed])
    np.testing.assert_allclose(next(it), want, rtol=1e-6)
    assert seen == [(6, 7, 3)] * 5


def test_flow_batches_equal_per_image_keras_pipeline_of_this_generator():
    """A batch equals Keras's definition: standardize(apply_transform(x.astype(dtype), params)) per image."""
    kwargs = dict(GEOMETRY, channel_shift_range=15.0, brightness_range=(0.7, 1.3), rescale=1 / 127.5,
                  samplewise_center=True, dtype="float64")
    gen = ImageDataGenerator(**kwargs)
    x = np.random.default_rng(15).uniform(0, 255, (6, 8, 8, 4))
    batch = gen._augment_batch(x, np.random.RandomState(30))
    rs = np.random.RandomState(30)
    for i in range(6):
        p = replay_params(_as_cfg(kwargs), x[i].shape, rs)
        want = gen.standardize(gen.apply_transform(x[i].astype("float64"), p))
        np.testing.assert_allclose(batch[i], want, rtol=0, atol=1e-5)
    assert batch.dtype == np.float64


def test_float64_input_is_rounded_to_float32_first_like_keras():
    x = np.random.default_rng(16).uniform(0, 255, (4, 7, 7, 3))
    gen = ImageDataGenerator(**GEOMETRY)
    np.testing.assert_array_equal(gen.flow(x, batch_size=4, seed=1).next(),
                                  gen.flow(x.astype(np.float32), batch_size=4, seed=1).next())


def test_flow_keeps_uint8_without_float_copy_and_converts_other_dtypes():
    x8 = np.zeros((3, 4, 4, 3), np.uint8)
    assert ImageDataGenerator().flow(x8).x is x8
    x16 = np.zeros((3, 4, 4, 3), np.int16)
    it = ImageDataGenerator().flow(x16)
    assert it.x.dtype == np.float32
    assert it.next().dtype == np.float32


def test_flow_from_directory_builds_a_directory_iterator(tmp_path, capsys):
    from PIL import Image

    for cls in ("cats", "dogs"):
        (tmp_path / cls).mkdir()
        for k in range(3):
            Image.fromarray(np.full((6, 8, 3), 40 * k, np.uint8)).save(tmp_path / cls / f"{k}.png")
    gen = ImageDataGenerator(horizontal_flip=True, validation_split=0.34)
    it = gen.flow_from_directory(str(tmp_path), target_size=(6, 8), class_mode="sparse", batch_size=2, seed=3,
                                 subset="training", shuffle=False)
    assert "Found 4 images belonging to 2 classes." in capsys.readouterr().out
    assert it.image_data_generator is gen and it.target_size == (6, 8) and it.seed == 3
    bx, by = it.next()
    assert bx.shape == (2, 6, 8, 3) and bx.dtype == np.float32
    np.testing.assert_array_equal(by, [0, 0])


def test_flow_from_dataframe_forwards_and_warns(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("fastkeras.preprocessing.dataframe")
    from PIL import Image

    for k in range(2):
        Image.fromarray(np.full((5, 5, 3), 50 * k, np.uint8)).save(tmp_path / f"{k}.png")
    df = pd.DataFrame({"filename": ["0.png", "1.png"], "value": [1.5, 2.5]})
    gen = ImageDataGenerator()
    with pytest.warns(DeprecationWarning, match="please use `class_mode=\"raw\"`"):
        it = gen.flow_from_dataframe(df, str(tmp_path), y_col="value", class_mode="other", target_size=(5, 5),
                                     shuffle=False)
    assert it.class_mode == "raw" and it.image_data_generator is gen
    with pytest.warns(DeprecationWarning, match="has_ext is deprecated"):
        gen.flow_from_dataframe(df, str(tmp_path), y_col="value", class_mode="raw", target_size=(5, 5), has_ext=True)
