"""to_categorical (spec §25)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastkeras.utils.np_utils import to_categorical


def test_spec_example():
    out = to_categorical([0, 2, 1])
    np.testing.assert_array_equal(out, [[1, 0, 0], [0, 0, 1], [0, 1, 0]])
    assert out.dtype == np.float32


def test_trailing_unit_axis_is_squeezed_and_num_classes():
    out = to_categorical(np.array([[1], [2]]), num_classes=4)
    np.testing.assert_array_equal(out, [[0, 1, 0, 0], [0, 0, 1, 0]])
    assert to_categorical(np.array([[1]]), 2).shape == (1, 2)
    assert to_categorical(np.array([3]), 5).shape == (1, 5)


def test_floats_are_truncated_and_dtype():
    out = to_categorical([0.5, 1.7, 2.0], dtype="int32")
    np.testing.assert_array_equal(out, [[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    assert out.dtype == np.int32


def test_empty_with_num_classes():
    assert to_categorical(np.zeros(0, int), 3).shape == (0, 3)


@settings(max_examples=30, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), classes=st.integers(1, 6),
       seed=st.integers(0, 1000))
def test_matches_numpy_eye_reference(shape, classes, seed):
    y = np.random.default_rng(seed).integers(0, classes, size=shape)
    out = to_categorical(y, classes)
    squeezed = y.reshape(y.shape[:-1]) if y.ndim > 1 and y.shape[-1] == 1 else y
    np.testing.assert_array_equal(out, np.eye(classes, dtype=np.float32)[squeezed])


@pytest.mark.parametrize("y,num_classes,error,match", [
    ([-1, 0], None, ValueError, "non-negative class indices; received the label -1"),
    ([0, np.nan], None, ValueError, "finite numeric class indices"),
    (["a"], None, ValueError, "finite numeric class indices"),
    ([0, 3], 3, IndexError, "Label 3 is out of range for num_classes=3"),
    ([], None, ValueError, "Cannot infer `num_classes` from an empty `y`"),
    ([0], 0, ValueError, "`num_classes` must be a positive integer"),
    ([0], 2.0, ValueError, "`num_classes` must be a positive integer"),
])
def test_errors(y, num_classes, error, match):
    with pytest.raises(error, match=match):
        to_categorical(y, num_classes)
