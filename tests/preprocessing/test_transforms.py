"""Parameter draws (spec §2) and matrices (spec §3.2) against the spec's recipes replayed here."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastkeras.preprocessing import transforms
from fastkeras.preprocessing.image import ImageDataGenerator, transform_matrix_offset_center
from test_generator_reference import config, ref_matrix, replay_params

# Every row of spec §2's table, alone and together.
CONFIGS = [
    dict(),
    dict(rotation_range=20),
    dict(rotation_range=-15),
    dict(width_shift_range=0.2),
    dict(height_shift_range=0.2),
    dict(width_shift_range=1.0, height_shift_range=5.0),
    dict(width_shift_range=3, height_shift_range=2),
    dict(width_shift_range=1, height_shift_range=True),
    dict(width_shift_range=-3),
    dict(width_shift_range=[1, 2], height_shift_range=(0.1, 0.2)),
    dict(width_shift_range=[-5, 0.5], height_shift_range=[-2, 0.5, 3]),
    dict(shear_range=10),
    dict(zoom_range=0.2),
    dict(zoom_range=[0.8, 1.2]),
    dict(zoom_range=2),
    dict(zoom_range=[1.3, 0.7]),
    dict(horizontal_flip=True, vertical_flip=True),
    dict(channel_shift_range=15.0),
    dict(brightness_range=(0.5, 1.5)),
    dict(brightness_range=[2.0, 0.1]),
    dict(rotation_range=20, width_shift_range=0.1, height_shift_range=0.2, shear_range=10, zoom_range=0.3,
         horizontal_flip=True, vertical_flip=True, channel_shift_range=20.0, brightness_range=(0.2, 1.8)),
    dict(rotation_range=45, width_shift_range=[3, 0.4], height_shift_range=4, shear_range=-8,
         zoom_range=[0.5, 1.0], horizontal_flip=True, channel_shift_range=-5.0, data_format="channels_first"),
]


def _shape(cfg):
    return (3, 30, 40) if cfg.get("data_format") == "channels_first" else (30, 40, 3)


def _same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert a[k] == b[k] and type(a[k]) is type(b[k]), (k, a[k], b[k])


@pytest.mark.parametrize("kwargs", CONFIGS)
def test_get_random_transform_replays_spec_table(kwargs):
    gen = ImageDataGenerator(**kwargs)
    cfg = config(**kwargs)
    for seed in range(300):
        _same(gen.get_random_transform(_shape(kwargs), seed=seed),
              replay_params(cfg, _shape(kwargs), np.random.RandomState(seed)))


def test_get_random_transform_gives_spec_example():
    gen = ImageDataGenerator(rotation_range=20, width_shift_range=0.1, height_shift_range=[-2, 0.5, 3],
                             shear_range=10, zoom_range=[0.8, 1.2], horizontal_flip=True,
                             channel_shift_range=15., brightness_range=(0.5, 1.5))
    p = gen.get_random_transform((30, 40, 3), seed=42)
    assert p == {
        "theta": -5.0183952461055, "tx": 2.0, "ty": 1.8559515344912403, "shear": 1.973169683940732,
        "zx": 0.8624074561769747, "zy": 0.8623978081344811, "flip_horizontal": 1, "flip_vertical": 0,
        "channel_shift_intensity": 3.0334503522962635, "brightness": 1.2080725777960455,
    }
    assert type(p["tx"]) is np.float64


@pytest.mark.parametrize("shift,values", [
    (3, {-2, -1, 0, 1, 2}),
    (2, {-1, 0, 1}),
    (1, {0}),
    (True, {0}),
    ([1, 2], {-2, -1, 1, 2}),
    ([0.1, 0.2], {-8, -4, 4, 8}),
    ((0.1, 0.2), {-8, -4, 4, 8}),
    ([-5, 0.5], {-200, -20, 20, 200}),
])
def test_discrete_shift_values_match_spec_table(shift, values):
    # img_shape (30, 40, 3): width range scales by W = 40.
    gen = ImageDataGenerator(width_shift_range=shift)
    seen = {gen.get_random_transform((30, 40, 3), seed=s)["ty"] for s in range(400)}
    assert seen == values


@pytest.mark.parametrize("shift,low,high,scaled", [
    (0.2, -8, 8, True), (1.0, -1, 1, False), (5.0, -5, 5, False), (-3, -120, 120, True),
])
def test_continuous_shift_ranges_match_spec_table(shift, low, high, scaled):
    gen = ImageDataGenerator(width_shift_range=shift)
    ty = np.array([gen.get_random_transform((30, 40, 3), seed=s)["ty"] for s in range(400)])
    assert low <= ty.min() and ty.max() < high
    assert np.abs(ty).max() > 0.8 * high
    assert len(set(ty)) == 400


def test_ndarray_shift_range_fails_at_first_draw():
    gen = ImageDataGenerator(width_shift_range=np.array([0.1, 0.5]))
    with pytest.raises(ValueError, match="truth value of an array"):
        gen.get_random_transform((30, 40, 3), seed=0)


def test_seeded_draws_leave_global_rng_alone_and_unseeded_use_it():
    gen = ImageDataGenerator(rotation_range=30, zoom_range=0.2, horizontal_flip=True)
    before = np.random.get_state()
    gen.get_random_transform((8, 8, 3), seed=5)
    after = np.random.get_state()
    assert all(np.array_equal(a, b) for a, b in zip(before, after))
    np.random.seed(5)
    p = gen.get_random_transform((8, 8, 3))
    _same(p, replay_params(config(rotation_range=30, zoom_range=0.2, horizontal_flip=True), (8, 8, 3),
                           np.random.RandomState(5)))


def test_default_generator_consumes_two_draws_per_image():
    rs = np.random.RandomState(0)
    transforms.draw_batch(ImageDataGenerator(), (5, 5, 3), 7, rs)
    ref = np.random.RandomState(0)
    ref.random_sample(14)
    assert rs.random_sample() == ref.random_sample()


shift_ranges = st.one_of(
    st.just(0.0), st.floats(-0.9, 0.9), st.floats(1.0, 6.0), st.integers(-4, 5),
    st.lists(st.sampled_from([1, 2, 0.25, 0.5, -3]), min_size=1, max_size=3),
)


@settings(max_examples=60, deadline=None)
@given(
    rotation=st.one_of(st.just(0), st.floats(-90, 90)),
    wsr=shift_ranges, hsr=shift_ranges,
    shear=st.one_of(st.just(0.0), st.floats(-30, 30)),
    zoom=st.one_of(st.just(0.0), st.floats(0, 0.5), st.tuples(st.floats(0.5, 1.5), st.floats(0.5, 1.5))),
    hflip=st.booleans(), vflip=st.booleans(),
    cs=st.one_of(st.just(0.0), st.floats(-50, 50)),
    br=st.one_of(st.none(), st.tuples(st.floats(0.1, 2), st.floats(0.1, 2))),
    n=st.integers(0, 9), seed=st.integers(0, 2**31), channels_first=st.booleans(),
)
def test_batch_draws_equal_sequential_draws(rotation, wsr, hsr, shear, zoom, hflip, vflip, cs, br, n, seed,
                                            channels_first):
    gen = ImageDataGenerator(
        rotation_range=rotation, width_shift_range=wsr, height_shift_range=hsr, shear_range=shear,
        zoom_range=list(zoom) if isinstance(zoom, tuple) else zoom, horizontal_flip=hflip, vertical_flip=vflip,
        channel_shift_range=cs, brightness_range=br,
        data_format="channels_first" if channels_first else "channels_last",
    )
    shape = (3, 11, 7) if channels_first else (11, 7, 3)
    a, b = np.random.RandomState(seed), np.random.RandomState(seed)
    batch = transforms.draw_batch(gen, shape, n, a)
    dicts = [replay_params(config(rotation_range=rotation, width_shift_range=wsr, height_shift_range=hsr,
                                  shear_range=shear, zoom_range=zoom, horizontal_flip=hflip, vertical_flip=vflip,
                                  channel_shift_range=cs, brightness_range=br,
                                  data_format=gen.data_format), shape, b) for _ in range(n)]
    for key, name in [("theta", "theta"), ("tx", "tx"), ("ty", "ty"), ("shear", "shear"), ("zx", "zx"),
                      ("zy", "zy"), ("flip_h", "flip_horizontal"), ("flip_v", "flip_vertical")]:
        np.testing.assert_array_equal(getattr(batch, key), [float(bool(d[name])) if key.startswith("flip")
                                                            else float(d[name]) for d in dicts])
    for key, name in [("channel_shift", "channel_shift_intensity"), ("brightness", "brightness")]:
        got, expected = getattr(batch, key), [d[name] for d in dicts]
        if got is None:
            assert all(v is None for v in expected)
        else:
            np.testing.assert_array_equal(got, expected)
    assert a.random_sample() == b.random_sample()  # same number of draws consumed


def test_batch_draws_fall_back_for_non_finite_ranges():
    gen = ImageDataGenerator(rotation_range=float("inf"))
    with pytest.raises(OverflowError):
        transforms.draw_batch(gen, (4, 4, 3), 2, np.random.RandomState(0))


# --------------------------------------------------------------------------- matrices

@pytest.mark.parametrize("convention", transforms.CONVENTIONS)
def test_affine_matrix_follows_spec_recipe(convention):
    rng = np.random.default_rng(1)
    for _ in range(200):
        theta, shear = rng.uniform(-180, 180, 2) * (rng.random(2) < 0.7)
        tx, ty = rng.uniform(-9, 9, 2) * (rng.random(2) < 0.7)
        zx, zy = np.where(rng.random(2) < 0.7, rng.uniform(0.5, 1.5, 2), 1.0)
        h, w = (int(v) for v in rng.integers(1, 40, 2))
        got = transforms.affine_matrix(theta, tx, ty, shear, zx, zy, shape=(h, w, 3), row_axis=0, col_axis=1,
                                       affine_convention=convention)
        if convention == "exact":
            # keras_preprocessing's matrix about the true centre (n - 1) / 2.
            want = ref_matrix(theta, tx, ty, shear, zx, zy, h - 2, w - 2, "keras_preprocessing")
        else:
            want = ref_matrix(theta, tx, ty, shear, zx, zy, h, w, convention)
        if want is None:
            assert got is None
        else:
            np.testing.assert_array_equal(got, want)


def test_exact_convention_keeps_row_column_meaning_for_transposed_axes():
    # Planes (W, H): the matrix is the (row, col) one with both axes swapped.
    m_rc = transforms.affine_matrix(30, 2, 1, 5, 1.1, 0.9, shape=(3, 6, 9), row_axis=1, col_axis=2,
                                    affine_convention="exact")
    m_cr = transforms.affine_matrix(30, 2, 1, 5, 1.1, 0.9, shape=(3, 9, 6), row_axis=2, col_axis=1,
                                    affine_convention="exact")
    np.testing.assert_array_equal(m_cr, m_rc[[1, 0, 2]][:, [1, 0, 2]])


@pytest.mark.parametrize("convention", transforms.CONVENTIONS)
def test_batch_matrices_are_bit_identical_to_per_image_products(convention):
    gen = ImageDataGenerator(rotation_range=40, width_shift_range=3, height_shift_range=0.3, shear_range=15,
                             zoom_range=0.25)
    for seed in range(40):
        rs = np.random.RandomState(seed)
        params = transforms.draw_batch(gen, (13, 17, 3), 16, rs)
        # Knock out factors on some images so that several factor patterns share a batch.
        params.theta[::3] = 0
        params.shear[1::4] = 0
        params.zx[2::5] = 1
        params.zy[2::5] = 1
        params.tx[::2] = 0
        mats, affine = transforms.batch_matrices(params, 13, 17, convention)
        for i in range(16):
            m = transforms.affine_matrix(params.theta[i], params.tx[i], params.ty[i], params.shear[i],
                                         params.zx[i], params.zy[i], shape=(13, 17, 3), row_axis=0, col_axis=1,
                                         affine_convention=convention)
            if m is None:
                assert not affine[i]
                np.testing.assert_array_equal(mats[i], [[1, 0, 0], [0, 1, 0]])
            else:
                assert affine[i]
                assert mats[i].tobytes() == m[:2].tobytes()


def test_batch_matrices_leave_untransformed_images_at_identity():
    params = transforms.draw_batch(ImageDataGenerator(rotation_range=30), (6, 5, 3), 6, np.random.RandomState(0))
    params.theta[::2] = 0
    mats, affine = transforms.batch_matrices(params, 6, 5, "keras_preprocessing")
    np.testing.assert_array_equal(affine, [False, True] * 3)
    np.testing.assert_array_equal(mats[::2], np.tile([[1.0, 0, 0], [0, 1, 0]], (3, 1, 1)))
    for i in (1, 3, 5):
        m = transforms.affine_matrix(params.theta[i], shape=(6, 5, 3), row_axis=0, col_axis=1)
        assert mats[i].tobytes() == m[:2].tobytes()


def test_batch_matrices_identity_batch():
    params = transforms.draw_batch(ImageDataGenerator(horizontal_flip=True), (4, 4, 1), 3, np.random.RandomState(0))
    mats, affine = transforms.batch_matrices(params, 4, 4, "keras3")
    assert not affine.any()
    np.testing.assert_array_equal(mats, np.tile([[1.0, 0, 0], [0, 1, 0]], (3, 1, 1)))


def test_transform_matrix_offset_center_uses_keras_preprocessing_centre():
    m = np.array([[0.5, -0.2, 1.0], [0.3, 1.2, -2.0], [0, 0, 1]])
    o = np.array([[1, 0, 3.0], [0, 1, 4.5], [0, 0, 1]])  # (5/2 + 0.5, 8/2 + 0.5)
    np.testing.assert_allclose(transform_matrix_offset_center(m, 5, 8), o @ m @ np.linalg.inv(o), atol=1e-15)


def test_unknown_convention_is_rejected():
    with pytest.raises(ValueError, match="affine_convention"):
        transforms.check_convention("keras2")
    with pytest.raises(ValueError, match="affine_convention"):
        ImageDataGenerator(affine_convention="tf")
    gen = ImageDataGenerator(rotation_range=10)
    gen.affine_convention = "keras2"
    with pytest.raises(ValueError, match="affine_convention"):
        gen.flow(np.ones((2, 4, 4, 3)), seed=0).next()
