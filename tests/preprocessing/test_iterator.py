"""Iterator mechanics (spec §7.1) and NumpyArrayIterator construction (spec §7)."""

import os
import re
import threading

import numba
import numpy as np
import pytest

from fastkeras.kernels.resample import affine_batch
from fastkeras.preprocessing import image as image_module
from fastkeras.preprocessing.image import ImageDataGenerator, Iterator, NumpyArrayIterator
from test_generator_reference import config, ref_apply_transform, replay_params

AUG = dict(rotation_range=20, width_shift_range=0.2, height_shift_range=0.2, shear_range=5, zoom_range=0.2,
           horizontal_flip=True, channel_shift_range=10.0)


def _images(n=10, shape=(6, 7, 3), seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (n,) + shape).astype(np.float32)


def _labels(it, count):
    return [list(next(it)[1]) for _ in range(count)]


def _global_state_equal(a, b):
    return all(np.array_equal(u, v) for u, v in zip(a, b))


# --------------------------------------------------------------------------- index bookkeeping


def test_spec_shuffled_order_example():
    it = ImageDataGenerator().flow(_images(), np.arange(10), batch_size=4, shuffle=True, seed=3)
    assert _labels(it, 6) == [[5, 4, 1, 2], [9, 6, 7, 0], [3, 8], [8, 1, 7, 0], [6, 5, 2, 4], [3, 9]]
    assert it.total_batches_seen == 6 and it.batch_index == 0


def test_unshuffled_order_and_short_last_batch():
    it = ImageDataGenerator().flow(_images(), np.arange(10), batch_size=4, shuffle=False)
    assert _labels(it, 4) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9], [0, 1, 2, 3]]
    assert len(it) == 3 and it.next()[0].shape == (4, 6, 7, 3)


def test_attributes():
    x, y, sw = _images(), np.arange(10), np.linspace(0, 1, 10)
    gen = ImageDataGenerator()
    it = gen.flow(x, y, batch_size=4, sample_weight=sw, seed=9, save_prefix="p", save_format="jpeg")
    assert (it.n, it.batch_size, it.shuffle, it.seed, it.batch_index, it.total_batches_seen) == (10, 4, True, 9, 0, 0)
    assert it.index_array is None and isinstance(it.lock, type(threading.Lock()))
    assert it.x is x and it.x_misc == [] and it.image_data_generator is gen and it.data_format == "channels_last"
    assert it.y.dtype == np.int64 and it.sample_weight.dtype == np.float64
    assert (it.save_to_dir, it.save_prefix, it.save_format) == (None, "p", "jpeg")
    assert it.white_list_formats == ("png", "jpg", "jpeg", "bmp", "ppm", "tif", "tiff")
    assert iter(it) is it


def test_getitem_semantics():
    it = ImageDataGenerator(**AUG).flow(_images(), np.arange(10), batch_size=4, seed=5)
    a = it[1]
    b = it[1]
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], b[0])  # augmented anew: seeded by total_batches_seen
    assert it.total_batches_seen == 2 and it.batch_index == 0
    np.testing.assert_array_equal(a[1], np.random.RandomState(5).permutation(10)[4:8])
    assert len(it[-1][1]) == 0  # Keras: a negative index slices an empty batch
    with pytest.raises(ValueError, match="Asked to retrieve element 3, but the Sequence has length 3"):
        it[3]


def test_getitem_batches_follow_seed_plus_batches_seen():
    x = _images(5)
    cfg = config(**AUG)
    it = ImageDataGenerator(**AUG).flow(x, batch_size=2, seed=4, shuffle=False)
    it[0]
    got = it[2]
    rs = np.random.RandomState(4 + 1)
    want = np.stack([ref_apply_transform(x[4], replay_params(cfg, x[4].shape, rs), cfg)])
    np.testing.assert_array_equal(got, want)


def test_on_epoch_end_reshuffles_and_reset_restarts():
    it = ImageDataGenerator().flow(_images(), np.arange(10), batch_size=4, seed=1)
    first = list(it[0][1])
    it.on_epoch_end()
    assert sorted(it.index_array) == list(range(10)) and list(it[0][1]) != first
    it2 = ImageDataGenerator().flow(_images(), np.arange(10), batch_size=4, seed=1)
    next(it2)
    it2.reset()
    assert it2.batch_index == 0
    assert list(next(it2)[1]) == list(np.random.RandomState(2).permutation(10)[:4])


def test_on_epoch_end_continues_the_last_batch_stream_like_keras():
    cfg = config(**AUG)
    x = _images(6)
    it = ImageDataGenerator(**AUG).flow(x, batch_size=3, seed=7)
    it[0], it[1]
    it.on_epoch_end()
    # Keras: the global RNG was seeded with 7 + 1 before batch 1 and advanced by its 3 images' draws.
    rs = np.random.RandomState(8)
    for _ in range(3):
        replay_params(cfg, x[0].shape, rs)
    np.testing.assert_array_equal(it.index_array, rs.permutation(6))


def test_empty_dataset_yields_empty_batches():
    it = ImageDataGenerator().flow(np.zeros((0, 4, 4, 3), np.float32), batch_size=2)
    assert len(it) == 0 and next(it).shape == (0, 4, 4, 3)


# --------------------------------------------------------------------------- randomness


def test_seeded_flow_leaves_numpy_global_rng_alone():
    np.random.seed(123)
    before = np.random.get_state()
    it = ImageDataGenerator(**AUG).flow(_images(), np.arange(10), batch_size=4, seed=2)
    for _ in range(5):
        next(it)
    it[1]
    it.on_epoch_end()
    assert _global_state_equal(before, np.random.get_state())


def test_unseeded_flow_draws_from_numpy_global_rng():
    x = _images(4)
    cfg = config(**AUG)
    gen = ImageDataGenerator(**AUG)
    np.random.seed(17)
    a = next(gen.flow(x, batch_size=4))
    np.random.seed(17)
    b = next(gen.flow(x, batch_size=4))
    np.testing.assert_array_equal(a, b)
    rs = np.random.RandomState(17)
    order = rs.permutation(4)
    want = np.stack([ref_apply_transform(x[j], replay_params(cfg, x[j].shape, rs), cfg) for j in order])
    np.testing.assert_array_equal(a, want)


@pytest.mark.parametrize("x, extra, in_place", [
    (_images(9, (11, 13, 3)), {}, True),
    (_images(9, (11, 13, 3)).astype(np.uint8), {}, True),
    (_images(9, (11, 13, 3)).astype(np.float16), {}, True),         # made float32 in flow()
    (_images(9, (11, 13, 3)).astype(np.float64), {}, False),        # rounded: picked, then cast
    (_images(9, (11, 26, 3))[:, :, ::2], {}, False),                # a strided view of the data
    (_images(9, (11, 13, 3)), dict(interpolation_order=3), False),  # scipy resamples the picks
    (_images(9, (11, 13, 3)), dict(preprocessing_function=np.sqrt), True),
])
def test_flow_batches_equal_augmenting_the_picked_images(monkeypatch, x, extra, in_place):
    # flow hands the whole array and the batch's positions to the kernel where it can read the
    # images in place; the batch must be what augmenting x[index_array] with the same draws
    # gives, and x must stay untouched.
    indexed = []

    def spy(*args, **kwargs):
        indexed.append(args[-1] is not None)
        return affine_batch(*args, **kwargs)

    monkeypatch.setattr(image_module, "affine_batch", spy)
    gen = ImageDataGenerator(samplewise_center=True, **AUG, **extra)
    before = x.copy()
    it = gen.flow(x, batch_size=4, seed=8)
    for _ in range(3):
        index_array, rng = it._next_index_array()
        state = rng.get_state()
        got = it._get_batches_of_transformed_samples(index_array, rng)
        rng.set_state(state)
        want = gen._augment_batch(x[index_array], rng)
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(x, before)
    assert indexed[::2] == [in_place] * 3 and not any(indexed[1::2])


def test_seeded_batches_do_not_depend_on_thread_count():
    x = _images(12, (16, 15, 3)).astype(np.uint8)
    gen = ImageDataGenerator(samplewise_center=True, samplewise_std_normalization=True, brightness_range=(0.6, 1.4),
                             **AUG)
    saved = numba.get_num_threads()
    try:
        results = []
        for threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(threads)
            it = gen.flow(x, batch_size=5, seed=31)
            results.append([next(it) for _ in range(4)])
    finally:
        numba.set_num_threads(saved)
    for a, b in zip(*results):
        assert a.tobytes() == b.tobytes()


def test_concurrent_next_calls_give_the_sequential_batches():
    x = _images(20)
    gen = ImageDataGenerator(**AUG)
    sequential = gen.flow(x, np.arange(20), batch_size=3, seed=6)
    expected = sorted((tuple(by), bx.tobytes()) for bx, by in (next(sequential) for _ in range(28)))
    shared = gen.flow(x, np.arange(20), batch_size=3, seed=6)
    got, errors = [], []

    def worker():
        try:
            for _ in range(7):
                bx, by = next(shared)
                got.append((tuple(by), bx.tobytes()))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and sorted(got) == expected


def test_image_and_mask_generators_stay_in_sync():
    rng = np.random.default_rng(3)
    images = rng.uniform(0, 255, (8, 12, 10, 3)).astype(np.float32)
    masks = images[..., :1].copy()
    args = dict(rotation_range=30, width_shift_range=0.2, height_shift_range=0.1, zoom_range=0.3,
                horizontal_flip=True, vertical_flip=True, fill_mode="reflect")
    image_gen, mask_gen = ImageDataGenerator(**args), ImageDataGenerator(**args)
    image_gen.fit(images, augment=True, seed=1)
    mask_gen.fit(masks, augment=True, seed=1)
    pairs = zip(image_gen.flow(images, batch_size=3, seed=1), mask_gen.flow(masks, batch_size=3, seed=1))
    for k, (bi, bm) in enumerate(pairs):
        np.testing.assert_array_equal(bm, bi[..., :1])
        if k == 5:
            break


def test_save_to_dir_names_use_the_batch_stream(tmp_path):
    x = _images(4)
    it = ImageDataGenerator(**AUG).flow(x, batch_size=4, seed=8, shuffle=False, save_to_dir=str(tmp_path),
                                        save_prefix="aug")
    next(it)
    rs = np.random.RandomState(8)
    for _ in range(4):
        replay_params(config(**AUG), x[0].shape, rs)
    want = {f"aug_{j}_{rs.randint(1e4)}.png" for j in range(4)}
    assert set(os.listdir(tmp_path)) == want


# --------------------------------------------------------------------------- construction


def test_misc_inputs_and_sample_weight():
    x, misc, y, sw = _images(6), np.arange(6) * 10, np.arange(6), np.arange(6) / 10
    it = ImageDataGenerator().flow((x, misc), y, batch_size=4, shuffle=False, sample_weight=sw)
    (bx, bmisc), by, bsw = next(it)
    np.testing.assert_array_equal(bmisc, misc[:4])
    np.testing.assert_array_equal(bsw, sw[:4])
    it = ImageDataGenerator().flow([x, [misc, misc + 1]], batch_size=4, shuffle=False, sample_weight=sw)
    out = next(it)
    assert isinstance(out, list) and len(out) == 3
    np.testing.assert_array_equal(out[2], misc[:4] + 1)


def test_construction_errors():
    gen = ImageDataGenerator(validation_split=0.25)
    x = _images(10)
    with pytest.raises(ValueError, match=re.escape("len(x[0]) = 10, len(x[?]) = 4")):
        gen.flow((x, np.arange(4)))
    with pytest.raises(ValueError, match=re.escape("`x` (images tensor) and `y` (labels) should have the same "
                                                   "length. Found: x.shape = (10, 6, 7, 3), y.shape = (9,)")):
        gen.flow(x, np.arange(9))
    with pytest.raises(ValueError, match=re.escape("`x` (images tensor) and `sample_weight` should have the same")):
        gen.flow(x, np.arange(10), sample_weight=np.ones(3))
    with pytest.raises(ValueError, match=re.escape('Invalid subset name: test; expected "training" or "validation".')):
        gen.flow(x, subset="test")
    with pytest.raises(ValueError, match="should have rank 4. You passed an array with shape \\(6, 7, 3\\)"):
        gen.flow(x[0])
    with pytest.raises(ValueError, match="different number of classes after the split"):
        gen.flow(x, np.repeat([0, 1], 5), subset="training")
    with pytest.raises(ValueError, match="different number of classes after the split"):
        ImageDataGenerator().flow(x, np.arange(10) % 2, subset="validation")
    with pytest.warns(UserWarning, match=re.escape('"channels_last" (channels on axis 3), i.e. expected either 1, '
                                                   "3, or 4 channels on axis 3. However, it was passed an array "
                                                   "with shape (2, 4, 4, 2) (2 channels).")):
        gen.flow(np.ones((2, 4, 4, 2)))


def test_subsets_split_at_the_front():
    x, y = _images(10), np.array([0, 1] * 5)
    gen = ImageDataGenerator(validation_split=0.25)
    val = gen.flow(x, y, subset="validation", shuffle=False)
    train = gen.flow(x, y, subset="training", shuffle=False)
    np.testing.assert_array_equal(val.x, x[:2])
    np.testing.assert_array_equal(train.x, x[2:])
    np.testing.assert_array_equal(train.y, y[2:])
    sorted_y = np.repeat([0, 1], 5)
    assert gen.flow(x, sorted_y, subset="training", ignore_class_split=True).n == 8
    assert ImageDataGenerator().flow(x, subset="training").n == 10


def test_iterator_base_requires_the_batch_method_and_known_options():
    it = Iterator(4, 2, False, None)
    with pytest.raises(NotImplementedError, match="_get_batches_of_transformed_samples"):
        next(it)
    with pytest.raises(TypeError, match="Unexpected keyword"):
        Iterator(4, 2, False, None, worker=3)


def test_numpy_array_iterator_without_generator_returns_raw_batches():
    x = _images(3).astype(np.uint8)
    it = NumpyArrayIterator(x, None, None, batch_size=3, shuffle=False, dtype="float64")
    batch = next(it)
    assert batch.dtype == np.float64
    np.testing.assert_array_equal(batch, x)
