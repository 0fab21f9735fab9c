"""Tests for DirectoryIterator (spec image.md §8, §7.1) on trees built in temporary folders."""

import io
import os
import re
import warnings

import numpy as np
import pytest
from PIL import Image

from fastkeras.preprocessing import directory
from fastkeras.preprocessing.directory import DirectoryIterator, list_class_files
from fastkeras.preprocessing.image import ImageDataGenerator
from fastkeras.utils.image_loading import decode_rgb
from fastkeras.utils.image_utils import InvalidImageError, array_to_img, load_img

FORMATS = {"png": "png", "jpg": "jpeg", "jpeg": "jpeg", "bmp": "bmp", "tif": "tiff",
           "tiff": "tiff", "ppm": "ppm"}


def pixels(seed, h=6, w=8):
    """A deterministic RGB image whose content identifies it."""
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def write_image(path, arr):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(arr).save(path, FORMATS[path.rsplit(".", 1)[1].lower()])


def write_text(path, text="not an image"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


@pytest.fixture
def spec_tree(tmp_path):
    """The example tree of spec §8; returns (root, {relative path: pixels})."""
    root = str(tmp_path / "data")
    images = {}
    for k, rel in enumerate(["dogs/A.PNG", "dogs/b.png", "dogs/c.jpg", "dogs/sub/z.bmp",
                             "cats/1.png", "cats/10.png", "cats/2.png", "Zebra/q.tif",
                             "_empty/.keep.png"]):
        images[rel] = pixels(k)
        write_image(os.path.join(root, rel), images[rel])
    for rel in ["cats/3.gif", "cats/notes.txt", "cats/broken.png"]:
        write_text(os.path.join(root, rel))
    os.makedirs(os.path.join(root, "emptycls"))
    return root, images


SPEC_ORDER = ["Zebra/q.tif", "_empty/.keep.png", "cats/1.png", "cats/10.png", "cats/2.png",
              "cats/broken.png", "dogs/A.PNG", "dogs/b.png", "dogs/c.jpg", "dogs/sub/z.bmp"]


# ----------------------------------------------------------------------------- listing


def test_spec_example_tree(spec_tree, capsys):
    root, _ = spec_tree
    it = DirectoryIterator(root, None, target_size=(6, 8), shuffle=False)
    assert capsys.readouterr().out == "Found 10 images belonging to 5 classes.\n"
    assert it.class_indices == {"Zebra": 0, "_empty": 1, "cats": 2, "dogs": 3, "emptycls": 4}
    assert it.filenames == SPEC_ORDER
    assert it.filepaths == [os.path.join(root, f) for f in it.filenames]
    assert it.classes.dtype == np.int32
    np.testing.assert_array_equal(it.classes, [0, 1, 2, 2, 2, 2, 3, 3, 3, 3])
    assert it.labels is it.classes
    assert it.samples == it.n == 10 and it.num_classes == 5
    assert it.image_shape == (6, 8, 3) and it.sample_weight is None


def test_spec_example_validation_split(spec_tree, capsys):
    root, _ = spec_tree
    generator = ImageDataGenerator(validation_split=0.5)
    val = DirectoryIterator(root, generator, subset="validation", shuffle=False)
    train = DirectoryIterator(root, generator, subset="training", shuffle=False)
    assert val.filenames == ["cats/1.png", "cats/10.png", "dogs/A.PNG", "dogs/b.png"]
    # 1-file classes give nothing to validation; the two subsets partition the listing
    assert sorted(val.filenames + train.filenames) == sorted(SPEC_ORDER)
    assert train.filenames == ["Zebra/q.tif", "_empty/.keep.png", "cats/2.png", "cats/broken.png",
                               "dogs/c.jpg", "dogs/sub/z.bmp"]
    np.testing.assert_array_equal(val.classes, [2, 2, 3, 3])
    out = capsys.readouterr().out.splitlines()
    assert out == ["Found 4 images belonging to 5 classes.",
                   "Found 6 images belonging to 5 classes."]


@pytest.mark.parametrize("fraction, m, expected_val", [(0.2, 7, 1), (0.3, 7, 2), (0.25, 3, 0)])
def test_subset_split_per_class_counts(tmp_path, fraction, m, expected_val):
    root = str(tmp_path)
    for c in ["a", "b"]:
        for i in range(m):
            write_image(os.path.join(root, c, f"{i}.png"), pixels(i))
    generator = ImageDataGenerator(validation_split=fraction)
    val = DirectoryIterator(root, generator, subset="validation")
    train = DirectoryIterator(root, generator, subset="training")
    assert val.samples == 2 * expected_val == 2 * int(fraction * m)
    assert train.samples == 2 * (m - expected_val)
    first_of_a = sorted(f"{i}.png" for i in range(m))[:expected_val]
    assert val.filenames[:expected_val] == [os.path.join("a", f) for f in first_of_a]


def test_given_classes_keep_their_order_and_missing_ones_are_empty(spec_tree):
    root, _ = spec_tree
    it = DirectoryIterator(root, None, classes=["dogs", "nothere", "Zebra"], shuffle=False)
    assert it.class_indices == {"dogs": 0, "nothere": 1, "Zebra": 2}
    assert it.filenames == ["dogs/A.PNG", "dogs/b.png", "dogs/c.jpg", "dogs/sub/z.bmp",
                            "Zebra/q.tif"]
    np.testing.assert_array_equal(it.classes, [0, 0, 0, 0, 2])


def test_plain_string_order_hidden_and_empty_folders(tmp_path):
    root = str(tmp_path)
    for rel in ["2/x.png", "10/x.png", "Zebra/x.png", "cats/x.png", ".hidden/x.png"]:
        write_image(os.path.join(root, rel), pixels(0))
    os.makedirs(os.path.join(root, "_empty"))
    write_text(os.path.join(root, "a_file.png"))  # files at the top level are not classes
    it = DirectoryIterator(root, None)
    assert list(it.class_indices) == [".hidden", "10", "2", "Zebra", "_empty", "cats"]
    assert it.samples == 5


def test_extensions_are_case_insensitive_and_files_sorted_by_name(tmp_path):
    root = str(tmp_path)
    for rel in ["c/B.JPEG", "c/a.Png", "c/C.ppm", "c/d.TIF", "c/e.bmp"]:
        write_image(os.path.join(root, rel), pixels(1))
    for rel in ["c/f.gif", "c/g.txt", "c/h.webp", "c/xpng"]:
        write_text(os.path.join(root, rel))
    # Keras matches the name's ending without a dot, so "xpng" is listed too (it fails to load)
    assert list_class_files(os.path.join(root, "c")) == ["B.JPEG", "C.ppm", "a.Png", "d.TIF",
                                                         "e.bmp", "xpng"]


def test_recursive_listing_visits_folders_by_full_path(tmp_path):
    root = str(tmp_path)
    for rel in ["c/z.png", "c/sub/b.png", "c/sub-a/a.png", "c/sub/deeper/a.png", "c/a/y.png"]:
        write_image(os.path.join(root, rel), pixels(2))
    # roots sorted as strings: c < c/a < c/sub < c/sub-a < c/sub/deeper ('-' < '/')
    want = ["z.png", "a/y.png", "sub/b.png", "sub-a/a.png", "sub/deeper/a.png"]
    assert list_class_files(os.path.join(root, "c")) == want


def test_tiff_names_warn(tmp_path):
    root = str(tmp_path)
    write_image(os.path.join(root, "c", "a.tiff"), pixels(3))
    with pytest.warns(UserWarning, match='Using ".tiff" files with multiple bands will cause '
                                         "distortion. Please verify your output."):
        it = DirectoryIterator(root, None)
    assert it.filenames == ["c/a.tiff"]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_symlinks_with_and_without_follow_links(tmp_path):
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    write_image(str(outside / "cls" / "in_linked_class.png"), pixels(4))
    write_image(str(outside / "extra" / "in_linked_sub.png"), pixels(5))
    write_image(str(root / "real" / "own.png"), pixels(6))
    os.symlink(outside / "cls", root / "linked")  # a class folder that is a symlink
    os.symlink(outside / "extra", root / "real" / "sub")  # a symlinked sub-folder
    os.symlink(root / "real", root / "real" / "loop")  # a cycle
    plain = DirectoryIterator(str(root), None, shuffle=False)
    assert plain.class_indices == {"linked": 0, "real": 1}
    assert plain.filenames == ["linked/in_linked_class.png", "real/own.png"]
    followed = DirectoryIterator(str(root), None, target_size=(6, 8), shuffle=False,
                                 follow_links=True)
    assert followed.filenames == ["linked/in_linked_class.png", "real/own.png",
                                  "real/sub/in_linked_sub.png"]
    x, y = followed[0]
    np.testing.assert_array_equal(x[2], pixels(5))
    np.testing.assert_array_equal(y, [[1, 0], [0, 1], [0, 1]])


# ----------------------------------------------------------------------------- batches


def test_batches_hold_the_images_and_one_hot_labels(spec_tree):
    root, images = spec_tree
    it = DirectoryIterator(root, None, target_size=(6, 8), classes=["cats", "dogs"],
                           batch_size=3, shuffle=False)
    x, y = next(it)
    assert x.dtype == np.float32 and x.shape == (3, 6, 8, 3)
    for i, rel in enumerate(["cats/1.png", "cats/10.png", "cats/2.png"]):
        np.testing.assert_array_equal(x[i], images[rel])
    np.testing.assert_array_equal(y, [[1, 0], [1, 0], [1, 0]])
    with pytest.raises(InvalidImageError, match="broken.png") as info:
        next(it)  # [cats/broken.png, dogs/A.PNG, dogs/b.png]: a text file with an image name
    assert os.path.join(root, "cats", "broken.png") == info.value.path
    x, y = next(it)  # the iterator has moved on: [dogs/c.jpg, dogs/sub/z.bmp]
    want_jpg = np.asarray(Image.open(os.path.join(root, "dogs", "c.jpg")).convert("RGB"))
    np.testing.assert_array_equal(x[0], want_jpg)
    np.testing.assert_array_equal(x[1], images["dogs/sub/z.bmp"])
    np.testing.assert_array_equal(y, [[0, 1], [0, 1]])


def _three_class_tree(root):
    for c, name in enumerate(["a", "b", "c"]):
        for i in range(2):
            write_image(os.path.join(root, name, f"{i}.png"), pixels(10 * c + i, 4, 5))


@pytest.mark.parametrize("dtype", [None, "float64", "float16"])
def test_every_class_mode_with_keras_label_dtypes(tmp_path, dtype):
    root = str(tmp_path)
    _three_class_tree(root)
    want_dtype = np.dtype(dtype or "float32")
    index = np.array([0, 1, 2, 3, 4, 5])
    classes = np.array([0, 0, 1, 1, 2, 2])
    images = np.stack([pixels(10 * c + i, 4, 5) for c in range(3) for i in range(2)])

    def batch(mode):
        it = DirectoryIterator(root, None, target_size=(4, 5), class_mode=mode, batch_size=6,
                               shuffle=False, dtype=dtype)
        return it[0]

    x, y = batch("categorical")
    assert x.dtype == y.dtype == want_dtype
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, np.eye(3)[classes])
    for mode in ["binary", "sparse"]:  # binary does not insist on two classes
        x, y = batch(mode)
        assert y.dtype == want_dtype and y.shape == (6,)
        np.testing.assert_array_equal(y, classes[index])
    x, y = batch("input")
    np.testing.assert_array_equal(y, x)
    assert y is not x and not np.shares_memory(x, y)
    x = batch(None)
    assert isinstance(x, np.ndarray) and x.dtype == want_dtype
    np.testing.assert_array_equal(x, images)


def test_color_modes_grayscale_rgba_and_16_bit(tmp_path):
    root = str(tmp_path)
    rgba = np.random.default_rng(0).integers(0, 256, (4, 5, 4), dtype=np.uint8)
    grey16 = np.array([[0, 1000, 40000, 65535, 7]] * 4, np.uint16)
    write_image(os.path.join(root, "a", "rgba.png"), rgba)
    write_image(os.path.join(root, "b", "grey16.png"), grey16)

    def load(mode, **kw):
        return DirectoryIterator(root, None, target_size=(4, 5), color_mode=mode, batch_size=2,
                                 shuffle=False, **kw)[0][0]

    x = load("rgba")
    assert x.shape == (2, 4, 5, 4)
    np.testing.assert_array_equal(x[0], rgba)
    saturated = np.minimum(grey16, 255)
    np.testing.assert_array_equal(x[1][..., :3], np.stack([saturated] * 3, axis=-1))
    np.testing.assert_array_equal(x[1][..., 3], 255)
    x = load("grayscale")
    assert x.shape == (2, 4, 5, 1)
    # ITU-R 601-2 luma in Pillow's 16-bit fixed point: (R*19595 + G*38470 + B*7471 + 2**15) >> 16
    r, g, b = (rgba[..., k].astype(np.int64) for k in range(3))
    np.testing.assert_array_equal(x[0][..., 0], (r * 19595 + g * 38470 + b * 7471 + 2**15) >> 16)
    np.testing.assert_array_equal(x[1][..., 0], grey16.astype(np.float32))  # 16-bit kept whole
    x = load("rgb")
    np.testing.assert_array_equal(x[0], rgba[..., :3])  # alpha dropped, not composited
    np.testing.assert_array_equal(x[1][..., 0], np.minimum(grey16, 255))  # 16-bit saturates
    x = load("grayscale", data_format="channels_first")
    assert x.shape == (2, 1, 4, 5)
    np.testing.assert_array_equal(x[1][0], grey16)


def test_channels_first_layout(spec_tree):
    root, images = spec_tree
    it = DirectoryIterator(root, None, target_size=(6, 8), classes=["dogs"], shuffle=False,
                           data_format="channels_first")
    assert it.image_shape == (3, 6, 8)
    x, _ = it[0]
    np.testing.assert_array_equal(x[0], images["dogs/A.PNG"].transpose(2, 0, 1))


def test_target_size_interpolation_and_keep_aspect_ratio(tmp_path):
    root = str(tmp_path)
    ramp = np.arange(60, dtype=np.uint8).reshape(6, 10)  # pixel (r, c) = 10 r + c
    write_image(os.path.join(root, "a", "ramp.png"), ramp)

    def first(**kw):
        x, _ = DirectoryIterator(root, None, color_mode="grayscale", shuffle=False, **kw)[0]
        return x[0, ..., 0]

    np.testing.assert_array_equal(first(target_size=(3, 3), keep_aspect_ratio=True),
                                  [[13, 15, 17], [33, 35, 37], [53, 55, 57]])
    # without the crop, nearest takes source pixel floor((i + 0.5) * scale) on each axis
    rows = np.floor((np.arange(3) + 0.5) * 6 / 3).astype(int)
    cols = np.floor((np.arange(3) + 0.5) * 10 / 3).astype(int)
    np.testing.assert_array_equal(first(target_size=(3, 3)), ramp[np.ix_(rows, cols)])
    # an unknown method only fails when a resize is needed
    np.testing.assert_array_equal(first(target_size=(6, 10), interpolation="cubic"), ramp)
    it = DirectoryIterator(root, None, target_size=(3, 3), interpolation="cubic")
    message = ("Invalid interpolation method cubic specified. Supported methods are nearest, "
               "bilinear, bicubic, hamming, box, lanczos")
    with pytest.raises(ValueError, match=message):
        next(it)


def test_workers_give_identical_batches(tmp_path):
    root = str(tmp_path)
    for c in range(3):
        for i in range(7):
            write_image(os.path.join(root, f"c{c}", f"{i}.{['png', 'jpg', 'bmp'][c]}"),
                        pixels(c * 10 + i, 9 + i, 11))
    grey16 = np.arange(99, dtype=np.uint16).reshape(9, 11) * 600
    write_image(os.path.join(root, "c0", "wide.png"), grey16)
    runs = []
    for workers in [1, 2, 3]:
        it = DirectoryIterator(root, None, target_size=(8, 10), color_mode="grayscale",
                               interpolation="bilinear", batch_size=5, seed=7, workers=workers)
        runs.append([next(it) for _ in range(6)])
    for other in runs[1:]:
        for (x1, y1), (x2, y2) in zip(runs[0], other):
            np.testing.assert_array_equal(x1, x2)
            np.testing.assert_array_equal(y1, y2)
    assert any(x.max() > 255 for x, _ in runs[0])  # the 16-bit file went through


def test_seeded_order_follows_the_iterator(tmp_path):
    root = str(tmp_path)
    for i in range(10):
        write_image(os.path.join(root, "a" if i < 5 else "b", f"{i}.png"),
                    np.full((2, 2), i * 20, np.uint8))
    it = DirectoryIterator(root, None, target_size=(2, 2), color_mode="grayscale",
                           class_mode="sparse", batch_size=4, seed=3)
    got = [next(it)[0][:, 0, 0, 0] / 20 for _ in range(3)]
    order = np.random.RandomState(3).permutation(10)
    np.testing.assert_array_equal(np.concatenate(got), order)


def test_save_to_dir_names_and_contents(tmp_path):
    root = str(tmp_path / "data")
    _three_class_tree(root)
    out = tmp_path / "saved"
    out.mkdir()
    it = DirectoryIterator(root, None, target_size=(4, 5), batch_size=4, shuffle=False, seed=11,
                           save_to_dir=str(out), save_prefix="aug", save_format="png")
    x, _ = next(it)
    rng = np.random.RandomState(11)  # seed + total_batches_seen (0); no shuffle draws
    want = [f"aug_{j}_{rng.randint(10**7)}.png" for j in range(4)]
    assert sorted(os.listdir(out)) == sorted(want)
    for i, name in enumerate(want):
        saved = np.asarray(Image.open(out / name))
        np.testing.assert_array_equal(saved, np.asarray(array_to_img(x[i], scale=True)))


# ----------------------------------------------------------------------------- invalid files


def _tree_with_bad_files(root):
    for i in range(5):
        write_image(os.path.join(root, "a", f"{i}.png"), pixels(i))
        write_image(os.path.join(root, "b", f"{i}.jpg"), pixels(i + 5, 32, 32))
    buf = io.BytesIO()
    Image.fromarray(pixels(99, 32, 32)).save(buf, "jpeg")
    with open(os.path.join(root, "b", "2_truncated.jpg"), "wb") as f:
        f.write(buf.getvalue()[: len(buf.getvalue()) * 2 // 3])
    write_text(os.path.join(root, "a", "3_text.png"))


def test_invalid_images_raise_names_file_and_reason(tmp_path):
    root = str(tmp_path)
    _tree_with_bad_files(root)
    it = DirectoryIterator(root, None, target_size=(8, 8), batch_size=12, shuffle=False)
    assert it.samples == 12
    with pytest.raises(InvalidImageError) as info:
        next(it)
    # the first bad file in batch order is reported, with Pillow's reason chained
    assert info.value.path == os.path.join(root, "a", "3_text.png")
    assert "cannot identify image file" in str(info.value) and info.value.__cause__ is not None
    it = DirectoryIterator(root, None, target_size=(8, 8), classes=["b"], batch_size=6,
                           shuffle=False)
    with pytest.raises(InvalidImageError, match=r"2_truncated\.jpg.*truncated"):
        next(it)


def test_invalid_images_skip_lists_once_and_counts(tmp_path, capsys):
    root = str(tmp_path)
    _tree_with_bad_files(root)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        it = DirectoryIterator(root, None, target_size=(8, 8), batch_size=10, shuffle=False,
                               invalid_images="skip")
    out = capsys.readouterr().out
    assert out == "Found 10 images belonging to 2 classes (2 invalid files skipped).\n"
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "a/3_text.png" in message and "b/2_truncated.jpg" in message
    assert it.invalid_filenames == ["a/3_text.png", "b/2_truncated.jpg"]
    assert "3_text.png" not in " ".join(it.filenames) and it.samples == 10
    x, y = next(it)  # every listed file loads
    np.testing.assert_array_equal(y.argmax(1), [0] * 5 + [1] * 5)
    # nearest 6x8 -> 8x8 keeps columns and takes rows floor((i + 0.5) * 6 / 8)
    rows = np.floor((np.arange(8) + 0.5) * 6 / 8).astype(int)
    np.testing.assert_array_equal(x[:5], np.stack([pixels(i)[rows] for i in range(5)]))


def test_flow_from_directory_passes_workers_and_invalid_images(tmp_path, capsys):
    root = str(tmp_path)
    _tree_with_bad_files(root)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        it = ImageDataGenerator().flow_from_directory(
            root, target_size=(8, 8), batch_size=10, shuffle=False, workers=2,
            invalid_images="skip")
    assert capsys.readouterr().out.endswith("(2 invalid files skipped).\n")
    assert it.samples == 10 and it.invalid_filenames == ["a/3_text.png", "b/2_truncated.jpg"]
    with pytest.raises(ValueError, match="invalid_images"):
        ImageDataGenerator().flow_from_directory(root, invalid_images="ignore")


def test_skip_then_split_uses_the_valid_files(tmp_path, capsys):
    root = str(tmp_path)
    _tree_with_bad_files(root)
    val = DirectoryIterator(root, ImageDataGenerator(validation_split=0.4), subset="validation",
                            invalid_images="skip", shuffle=False)
    assert val.filenames == ["a/0.png", "a/1.png", "b/0.jpg", "b/1.jpg"]
    assert "(2 invalid files skipped)" in capsys.readouterr().out


# ----------------------------------------------------------------------------- errors


def test_missing_and_empty_directories(tmp_path, capsys):
    missing = str(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="nope"):
        DirectoryIterator(missing, None)
    write_text(str(tmp_path / "file.png"))
    with pytest.raises(NotADirectoryError, match="file.png"):
        DirectoryIterator(str(tmp_path / "file.png"), None)
    empty = tmp_path / "empty"
    empty.mkdir()
    it = DirectoryIterator(str(empty), None)
    assert capsys.readouterr().out == "Found 0 images belonging to 0 classes.\n"
    assert len(it) == 0 and it.class_indices == {} and it.filenames == []
    with pytest.raises(ValueError, match="found 0 files"):
        next(it)
    with pytest.raises(ValueError, match="has length 0"):
        it[0]


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"color_mode": "hsv"}, ValueError,
         'Invalid color mode: hsv; expected "rgb", "rgba", or "grayscale".'),
        ({"subset": "test"}, ValueError,
         'Invalid subset name: test;expected "training" or "validation"'),
        ({"subset": "training"}, ValueError, "needs an `image_data_generator`"),
        ({"class_mode": "raw"}, ValueError, "Invalid class_mode: raw; expected one of:"),
        ({"workers": 0}, ValueError, "`workers` must be a positive integer"),
        ({"workers": 1.5}, ValueError, "`workers` must be a positive integer"),
        ({"invalid_images": "ignore"}, ValueError, "`invalid_images` must be 'raise' or 'skip'"),
        ({"target_size": (0, 3)}, ValueError,
         "`target_size` must be a tuple of two positive integers"),
        ({"data_format": "nchw"}, ValueError, "The `data_format` argument must be one of"),
        ({"dtype": "float99"}, TypeError, "`dtype` must be a numpy dtype name"),
        ({"classes": ["a", 3]}, TypeError, "`classes` must be a list of folder names"),
        ({"classes": ["a", "a"]}, ValueError, "duplicate"),
    ],
)
def test_argument_errors(spec_tree, kwargs, error, message):
    root, _ = spec_tree
    with pytest.raises(error, match=re.escape(message)):
        DirectoryIterator(root, None, **kwargs)


# ----------------------------------------------------------------------------- parity with KP


def test_listing_labels_and_batches_match_keras_preprocessing(spec_tree):
    kp = pytest.importorskip("keras_preprocessing.image")
    root, _ = spec_tree
    os.remove(os.path.join(root, "cats", "broken.png"))
    kwargs = dict(target_size=(5, 7), interpolation="bilinear", batch_size=4, shuffle=False)
    for color_mode in ["rgb", "grayscale", "rgba"]:
        for class_mode in ["categorical", "binary", "sparse", "input"]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                want = kp.ImageDataGenerator().flow_from_directory(
                    root, color_mode=color_mode, class_mode=class_mode, **kwargs)
                got = DirectoryIterator(root, None, color_mode=color_mode,
                                        class_mode=class_mode, **kwargs)
            assert got.filenames == want.filenames
            assert got.class_indices == want.class_indices
            np.testing.assert_array_equal(got.classes, want.classes)
            for _ in range(len(got) + 1):
                (gx, gy), (wx, wy) = next(got), next(want)
                assert gx.dtype == wx.dtype and gy.dtype == wy.dtype
                np.testing.assert_array_equal(gx, wx)
                np.testing.assert_array_equal(gy, wy)


# ----------------------------------------------------------------------------- with the generator

AUGMENT = dict(rotation_range=20, width_shift_range=0.2, height_shift_range=0.2, shear_range=10,
               zoom_range=0.2, horizontal_flip=True, fill_mode="nearest")


def _augment_tree(root):
    for c in range(3):
        for i in range(5):
            write_image(os.path.join(root, f"c{c}", f"{i}.png"), pixels(c * 10 + i, 18 + c, 22))


def _augment_dirs(tmp_path):
    """The augmentation tree, and an empty save folder each for fastkeras and Keras."""
    root = str(tmp_path / "data")
    _augment_tree(root)
    ours_dir, kp_dir = tmp_path / "ours", tmp_path / "kp"
    ours_dir.mkdir()
    kp_dir.mkdir()
    return root, ours_dir, kp_dir


def test_augmented_batches_match_keras_preprocessing(tmp_path):
    kp = pytest.importorskip("keras_preprocessing.image")
    root, ours_dir, kp_dir = _augment_dirs(tmp_path)
    common = dict(target_size=(16, 20), batch_size=4, seed=5, interpolation="bilinear")
    ours = ImageDataGenerator(rescale=1 / 255, **AUGMENT).flow_from_directory(
        root, save_to_dir=str(ours_dir), save_prefix="s", **common)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = kp.ImageDataGenerator(rescale=1 / 255, **AUGMENT).flow_from_directory(
            root, save_to_dir=str(kp_dir), save_prefix="s", **common)
    for _ in range(2 * len(ours)):  # two epochs: shuffling, per-image draws, save-name draws
        global_state = np.random.get_state()
        gx, gy = next(ours)
        after = np.random.get_state()
        assert all(np.array_equal(a, b) for a, b in zip(global_state, after))
        wx, wy = next(theirs)
        assert gx.dtype == wx.dtype == np.float32
        np.testing.assert_allclose(gx, wx, rtol=0, atol=1e-5)
        np.testing.assert_array_equal(gy, wy)
    assert sorted(os.listdir(ours_dir)) == sorted(os.listdir(kp_dir))


@pytest.mark.parametrize("options", [{}, {"rotation_range": 0, "horizontal_flip": False,
                                      "brightness_range": None, "zoom_range": 0.0}])
def test_generator_that_changes_nothing_matches_keras_preprocessing(tmp_path, options):
    # Such a batch is only cast (in the loading threads): the values, the draws that Keras still
    # makes (seen in the save-name draws that follow them) and the global RNG must all agree.
    kp = pytest.importorskip("keras_preprocessing.image")
    root, ours_dir, kp_dir = _augment_dirs(tmp_path)
    common = dict(target_size=(16, 20), batch_size=4, seed=9, save_prefix="n", workers=2)
    generator = ImageDataGenerator(**options)
    ours = generator.flow_from_directory(root, save_to_dir=str(ours_dir), **common)
    del common["workers"]
    theirs = kp.ImageDataGenerator(**options).flow_from_directory(
        root, save_to_dir=str(kp_dir), **common)
    for _ in range(len(ours) + 1):
        global_state = np.random.get_state()
        gx, gy = next(ours)
        assert all(np.array_equal(a, b) for a, b in zip(global_state, np.random.get_state()))
        wx, wy = next(theirs)
        assert gx.dtype == wx.dtype == np.float32
        np.testing.assert_array_equal(gx, wx)
        np.testing.assert_array_equal(gy, wy)
    assert sorted(os.listdir(ours_dir)) == sorted(os.listdir(kp_dir))


def test_generator_that_changes_nothing_takes_the_same_batches_as_the_kernel(tmp_path,
                                                                              monkeypatch):
    root = str(tmp_path / "data")
    _augment_tree(root)
    runs = []
    for skip in [True, False]:
        generator = ImageDataGenerator(dtype="float64")
        if not skip:
            monkeypatch.setattr(generator, "_leaves_unchanged", lambda params: False)
        it = generator.flow_from_directory(root, target_size=(9, 7), batch_size=6, seed=1)
        runs.append([next(it) for _ in range(4)])
    for (x1, y1), (x2, y2) in zip(*runs):
        assert x1.dtype == x2.dtype == np.float64
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)


def test_generator_leaves_unchanged_only_without_any_step():
    from fastkeras.preprocessing.transforms import draw_batch

    rng = np.random.RandomState(0)
    shape = (4, 5, 3)
    assert ImageDataGenerator()._leaves_unchanged(draw_batch(ImageDataGenerator(), shape, 3, rng))
    for options in [{"rescale": 0.5}, {"samplewise_center": True}, {"horizontal_flip": True},
                    {"rotation_range": 10}, {"channel_shift_range": 5.0},
                    {"brightness_range": (0.5, 1.5)}, {"featurewise_center": True},
                    {"preprocessing_function": np.negative}, {"zoom_range": 0.2}]:
        generator = ImageDataGenerator(**options)
        params = draw_batch(generator, shape, 8, np.random.RandomState(1))
        assert not generator._leaves_unchanged(params), options


def test_subset_with_the_generator_validation_split(spec_tree):
    root, _ = spec_tree
    generator = ImageDataGenerator(validation_split=0.5)
    val = generator.flow_from_directory(root, subset="validation", shuffle=False)
    assert val.filenames == ["cats/1.png", "cats/10.png", "dogs/A.PNG", "dogs/b.png"]
    assert val.image_data_generator is generator and val.dtype == "float32"


def test_iterator_dtype_wins_over_the_generator_dtype_and_negative_index(spec_tree):
    root, images = spec_tree
    generator = ImageDataGenerator(rescale=0.5)
    it = DirectoryIterator(root, generator, target_size=(6, 8), classes=["dogs"], shuffle=False,
                           dtype="float64", batch_size=2)
    x, y = it[0]
    assert x.dtype == y.dtype == np.float64
    np.testing.assert_array_equal(x[0], images["dogs/A.PNG"] * 0.5)
    x, y = it[-1]  # Keras slices [-2:0]: an empty batch, not the last one
    assert x.shape == (0, 6, 8, 3) and y.shape == (0, 1)


@pytest.mark.parametrize("kw", [
    dict(target_size=(20, 24)),                                         # nearest, gathered
    dict(target_size=(20, 24), keep_aspect_ratio=True),
    dict(target_size=(20, 24), interpolation="bilinear"),               # Pillow resizes
    dict(target_size=(31, 45), interpolation="cubic"),                  # the files' own size
    dict(target_size=(20, 24), color_mode="grayscale"),                 # Pillow throughout
])
def test_colour_jpegs_load_as_pillow_loads_them(tmp_path, monkeypatch, kw):
    # JPEG, PNG and grey-JPEG files side by side: the fast JPEG path must give load_img's
    # batches exactly, and run for the colour JPEGs loaded as rgb.
    root = str(tmp_path)
    rng = np.random.default_rng(3)
    for i in range(6):
        img = Image.fromarray(rng.integers(0, 256, (31, 45, 3), dtype=np.uint8))
        folder = os.path.join(root, f"c{i % 2}")
        os.makedirs(folder, exist_ok=True)
        if i == 4:
            img.save(os.path.join(folder, f"{i}.png"))
        elif i == 5:
            img.convert("L").save(os.path.join(folder, f"{i}.jpg"), quality=80)
        else:
            img.save(os.path.join(folder, f"{i}.JPG"), quality=70 + 5 * i)

    def batch():
        return DirectoryIterator(root, None, shuffle=False, batch_size=6, **kw)[0]

    decoded = []

    def spy(data):
        arr = decode_rgb(data)
        decoded.append(arr is not None)
        return arr

    monkeypatch.setattr(directory, "decode_rgb", spy)
    fast = batch()
    assert sum(decoded) == (0 if kw.get("color_mode") == "grayscale" else 4)
    monkeypatch.setattr(directory, "decode_rgb", lambda data: None)
    slow = batch()
    expected = np.stack([np.asarray(load_img(os.path.join(root, name), **kw))
                         for name in DirectoryIterator(root, None, shuffle=False).filenames])
    if expected.ndim == 3:
        expected = expected[..., None]
    np.testing.assert_array_equal(fast[0], expected)
    np.testing.assert_array_equal(slow[0], expected)
    np.testing.assert_array_equal(fast[1], slow[1])


def test_colour_jpegs_keep_load_imgs_interpolation_error(tmp_path):
    write_image(os.path.join(str(tmp_path), "a", "x.jpg"), pixels(1, 12, 10))
    it = DirectoryIterator(str(tmp_path), None, target_size=(5, 5), interpolation="cubic")
    with pytest.raises(ValueError, match="Invalid interpolation method cubic specified"):
        next(it)
