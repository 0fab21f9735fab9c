"""Tests for DataFrameIterator (spec image.md §8.1) on files written in temporary folders."""

import builtins
import os
import re
import warnings

import numpy as np
import pytest
from PIL import Image

pd = pytest.importorskip("pandas")

from fastkeras.preprocessing.dataframe import DataFrameIterator  # noqa: E402
from fastkeras.preprocessing.image import ImageDataGenerator  # noqa: E402


def pixels(seed, h=4, w=5):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)



@pytest.fixture
def frame(tmp_path):
    """Eight PNGs img0..img7 in tmp_path; a frame naming them in a shuffled order."""
    for i in range(8):
        Image.fromarray(pixels(i)).save(tmp_path / f"img{i}.png")
    order = [3, 0, 6, 1, 7, 2, 5, 4]
    df = pd.DataFrame({
        "filename": [f"img{i}.png" for i in order],
        "class": ["dog" if i % 2 else "cat" for i in order],
        "weight": [0.5 + i for i in order],
        "score": [10.0 * i for i in order],
        "size": [i % 3 for i in order],
    })
    return str(tmp_path), df, order


def make(df, directory, **kwargs):
    kwargs.setdefault("target_size", (4, 5))
    kwargs.setdefault("shuffle", False)
    return DataFrameIterator(df, directory, None, **kwargs)


def test_categorical_in_frame_order(frame, capsys):
    directory, df, order = frame
    original = df.copy()
    it = make(df, directory, batch_size=8)
    assert capsys.readouterr().out == "Found 8 validated image filenames belonging to 2 classes.\n"
    assert it.class_indices == {"cat": 0, "dog": 1}
    assert it.filenames == df["filename"].tolist()
    assert it.filepaths == [os.path.join(directory, f) for f in it.filenames]
    assert it.classes == [i % 2 for i in order] and it.labels is it.classes
    x, y = it[0]
    assert x.dtype == y.dtype == np.float32
    np.testing.assert_array_equal(x, np.stack([pixels(i) for i in order]))
    np.testing.assert_array_equal(y, np.eye(2)[[i % 2 for i in order]])
    pd.testing.assert_frame_equal(df, original)  # the caller's frame is untouched


def test_given_classes_keep_order_dedupe_and_drop_rows(frame):
    directory, df, order = frame
    df = df.assign(kind=[["a", "b"], ["c"], ["b"], ["a"], "c", "b", ("a", "c"), "b"])
    it = make(df, directory, y_col="kind", classes=["b", "a", "b"], batch_size=8)
    assert it.class_indices == {"b": 0, "a": 1}
    # rows labelled only "c" are dropped; "c" is removed from list labels
    kept = [0, 2, 3, 5, 6, 7]
    assert it.filenames == [df["filename"][k] for k in kept]
    assert it.classes == [[1, 0], [0], [1], 0, [1], 0]
    _, y = it[0]
    np.testing.assert_array_equal(y, [[1, 1], [1, 0], [0, 1], [1, 0], [0, 1], [1, 0]])


def test_sorted_classes_and_multi_label(frame):
    directory, df, _ = frame
    df = df.assign(tags=[["z", "a"], ["m"], ("a",), "z", "m", ["a", "m", "z"], "a", ["z"]])
    it = make(df, directory, y_col="tags", batch_size=8)
    assert it.class_indices == {"a": 0, "m": 1, "z": 2}
    _, y = it[0]
    np.testing.assert_array_equal(
        y, [[1, 0, 1], [0, 1, 0], [1, 0, 0], [0, 0, 1], [0, 1, 0], [1, 1, 1], [1, 0, 0], [0, 0, 1]]
    )


@pytest.mark.parametrize("mode", ["binary", "sparse"])
def test_binary_and_sparse_give_float_indices(frame, mode):
    directory, df, order = frame
    _, y = make(df, directory, class_mode=mode, batch_size=8, dtype="float64")[0]
    assert y.dtype == np.float64 and y.shape == (8,)
    np.testing.assert_array_equal(y, [i % 2 for i in order])


def test_raw_multi_output_weights_input_and_none(frame, capsys):
    directory, df, order = frame
    _, y = make(df, directory, class_mode="raw", y_col="score", batch_size=3)[1]
    np.testing.assert_array_equal(y, [10.0 * i for i in order[3:6]])
    _, y = make(df, directory, class_mode="raw", y_col=["score", "size"], batch_size=3)[0]
    np.testing.assert_array_equal(y, [[10.0 * i, i % 3] for i in order[:3]])
    _, y = make(df, directory, class_mode="multi_output", y_col=["score", "size"], batch_size=3)[0]
    assert isinstance(y, list) and len(y) == 2
    np.testing.assert_array_equal(y[0], [10.0 * i for i in order[:3]])
    np.testing.assert_array_equal(y[1], [i % 3 for i in order[:3]])
    x, y, w = make(df, directory, weight_col="weight", batch_size=3)[0]
    np.testing.assert_array_equal(w, [0.5 + i for i in order[:3]])
    x, y = make(df, directory, class_mode="input", batch_size=3)[0]
    np.testing.assert_array_equal(x, y)
    assert not np.shares_memory(x, y)
    x = make(df, directory, class_mode=None, batch_size=3)[0]
    np.testing.assert_array_equal(x, np.stack([pixels(i) for i in order[:3]]))
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "Found 8 validated image filenames."
    assert lines[0] == "Found 8 validated image filenames."


def test_validate_filenames_drops_rows_with_one_warning(frame, capsys):
    directory, df, _ = frame
    with open(os.path.join(directory, "notes.txt"), "w") as f:
        f.write("x")
    extra = pd.DataFrame({"filename": ["notes.txt", "missing.png"], "class": ["cat", "dog"]})
    df = pd.concat([df, extra], ignore_index=True)
    message = ('Found 2 invalid image filename(s) in x_col="filename". '
               "These filename(s) will be ignored.")
    with pytest.warns(UserWarning, match=re.escape(message)):
        it = make(df, directory)
    assert it.samples == 8
    assert "Found 8 validated image filenames belonging to 2 classes." in capsys.readouterr().out
    it = make(df, directory, validate_filenames=False)
    assert it.samples == 10 and it.filenames[-2:] == ["notes.txt", "missing.png"]
    out = capsys.readouterr().out
    assert out == "Found 10 non-validated image filenames belonging to 2 classes.\n"


def test_subset_slices_the_filtered_frame(frame):
    directory, df, _ = frame
    generator = ImageDataGenerator(validation_split=0.3)
    val = DataFrameIterator(df, directory, generator, subset="validation", shuffle=False)
    train = DataFrameIterator(df, directory, generator, subset="training", shuffle=False)
    assert val.filenames == df["filename"].tolist()[:2]  # int(0.3 * 8) = 2 rows, not per class
    assert train.filenames == df["filename"].tolist()[2:]


def test_directory_none_uses_paths_as_given(frame):
    directory, df, order = frame
    df = df.assign(filename=[os.path.join(directory, f) for f in df["filename"]])
    it = DataFrameIterator(df, None, None, target_size=(4, 5), shuffle=False, batch_size=2)
    assert it.filepaths == df["filename"].tolist()
    np.testing.assert_array_equal(it[0][0], np.stack([pixels(i) for i in order[:2]]))


def test_invalid_images_skip(frame, capsys):
    directory, df, _ = frame
    with open(os.path.join(directory, "img3.png"), "w") as f:
        f.write("not a png")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        it = make(df, directory, invalid_images="skip")
    assert len(caught) == 1 and "img3.png" in str(caught[0].message)
    assert "img3.png" not in it.filenames and it.samples == 7
    assert it.invalid_filenames == ["img3.png"]
    assert capsys.readouterr().out == (
        "Found 7 validated image filenames belonging to 2 classes (1 invalid file skipped).\n"
    )


@pytest.mark.parametrize(
    "kwargs, frame_update, error, message",
    [
        ({"class_mode": "other"}, None, ValueError, "Invalid class_mode: other"),
        ({"class_mode": "multi_output", "y_col": "class"}, None, TypeError,
         'If class_mode="multi_output", y_col must be a list. Received str.'),
        ({}, {"filename": [1] * 8}, TypeError,
         "All values in column x_col=filename must be strings."),
        ({"class_mode": "sparse"}, {"class": [0, 1] * 4}, TypeError,
         'If class_mode="sparse", y_col="class" column values must be strings.'),
        ({"class_mode": "binary"}, {"class": ["a", "b", "c", "d"] * 2}, ValueError,
         'If class_mode="binary" there must be 2 classes. Found 4 classes.'),
        ({"class_mode": "binary", "classes": ["a", "b", "c"]}, None, ValueError,
         'If class_mode="binary" there must be 2 classes. 3 class/es were given.'),
        ({}, {"class": [0] * 8}, TypeError,
         'If class_mode="categorical", y_col="class" column values must be type string, '
         "list or tuple."),
        ({"weight_col": "class"}, None, TypeError, "Column weight_col=class must be numeric."),
        ({"x_col": "path"}, None, ValueError, "x_col='path' is not a column of `dataframe`"),
        ({"weight_col": "w"}, None, ValueError, "weight_col='w' is not a column of `dataframe`"),
        ({"y_col": ["class", "size"]}, None, TypeError, "y_col must be one column name"),
        ({"invalid_images": "drop"}, None, ValueError,
         "`invalid_images` must be 'raise' or 'skip'"),
        ({"color_mode": "cmyk"}, None, ValueError, "Invalid color mode: cmyk"),
    ],
)
def test_argument_errors(frame, kwargs, frame_update, error, message):
    directory, df, _ = frame
    if frame_update:
        df = df.assign(**frame_update)
    with pytest.raises(error, match=re.escape(message)):
        make(df, directory, **kwargs)


def test_classes_ignored_warning(frame):
    directory, df, _ = frame
    with pytest.warns(UserWarning, match='`classes` will be ignored given the class_mode="raw"'):
        make(df, directory, class_mode="raw", y_col="score", classes=["cat"])


def test_not_a_dataframe(frame):
    directory, df, _ = frame
    with pytest.raises(TypeError, match="`dataframe` must be a pandas DataFrame"):
        make(df.to_dict(), directory)


def test_missing_pandas_names_the_install(frame, monkeypatch):
    directory, df, _ = frame
    real_import = builtins.__import__

    def no_pandas(name, *args, **kwargs):
        if name == "pandas":
            raise ImportError("No module named 'pandas'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pandas)
    with pytest.raises(ImportError, match="pip install pandas") as info:
        make(df, directory)
    assert isinstance(info.value.__cause__, ImportError)


def test_matches_keras_preprocessing(frame):
    kp = pytest.importorskip("keras_preprocessing.image")
    directory, df, _ = frame
    for class_mode, y_col in [("categorical", "class"), ("sparse", "class"), ("binary", "class"),
                              ("raw", "score"), ("input", "class")]:
        kwargs = dict(x_col="filename", y_col=y_col, class_mode=class_mode, target_size=(3, 3),
                      interpolation="bilinear", batch_size=3, shuffle=False, weight_col="weight")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = kp.ImageDataGenerator().flow_from_dataframe(df, directory, **kwargs)
            got = DataFrameIterator(df, directory, None, **kwargs)
        assert got.filenames == want.filenames
        assert got.class_indices == getattr(want, "class_indices", {})
        for _ in range(len(got)):
            for g, w in zip(next(got), next(want)):
                assert g.dtype == w.dtype
                np.testing.assert_array_equal(g, w)
