"""Flatten, Reshape, Permute, RepeatVector (spec §8-§11): numbers, shapes, gradients, errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastkeras import backend as K
from fastkeras.backend.tensor import Tensor
from fastkeras.engine.input_layer import Input
from fastkeras.engine.sequential import Sequential
from fastkeras.layers.masking import Masking
from fastkeras.layers.reshaping import (
    Flatten, Permute, RepeatVector, Reshape, standardize_data_format,
)
from layer_gradcheck import check_gradient


# -- Flatten ---------------------------------------------------------------------------------------
def test_flatten_spec_examples():
    x = np.arange(24).reshape(2, 3, 2, 2)
    np.testing.assert_array_equal(Flatten()(x)[0], np.arange(12))
    np.testing.assert_array_equal(Flatten(data_format="channels_first")(x)[0],
                                  [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11])
    np.testing.assert_array_equal(Flatten(data_format="channels_first")(
        np.arange(12).reshape(2, 3, 2)), [[0, 2, 4, 1, 3, 5], [6, 8, 10, 7, 9, 11]])
    assert Flatten().compute_output_shape((None, 3, None)) == (None, None)
    assert Flatten().compute_output_shape((None,)) == (None, 1)
    np.testing.assert_array_equal(Flatten()(np.arange(3)), [[0], [1], [2]])
    np.testing.assert_array_equal(Flatten(data_format="channels_first")(np.ones((2, 5))),
                                  np.ones((2, 5)))


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(0, 4), min_size=1, max_size=5),
       channels_first=st.booleans())
def test_flatten_matches_numpy(shape, channels_first):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    fmt = "channels_first" if channels_first else "channels_last"
    ref = np.moveaxis(x, 1, -1) if channels_first and x.ndim > 2 else x
    ref = ref.reshape(x.shape[0], int(np.prod(x.shape[1:])))
    out = Flatten(data_format=fmt)(x)
    np.testing.assert_array_equal(out, ref)
    assert Flatten().compute_output_shape(x.shape) == out.shape


def test_flatten_symbolic_and_gradient():
    assert Flatten()(Input((3, None))).shape == (None, None)
    assert Flatten()(Input((3, 4))).shape == (None, 12)
    x = np.random.default_rng(1).standard_normal((2, 3, 2))
    check_gradient(lambda t: Flatten(data_format="channels_first", dtype="float64")(t), [x])


def test_flatten_rejects_masks_and_rank_zero():
    masked = Masking(name="pad")(Tensor(np.ones((2, 3, 4), np.float32)))
    with pytest.raises(TypeError, match="Layer 'flat' \\(of type Flatten\\) does not support "
                                        "masking.*produced by layer 'pad'"):
        Flatten(name="flat")(masked)
    with pytest.raises(ValueError, match="expected min_ndim=1, found ndim=0"):
        Flatten()(np.float32(3.0))
    with pytest.raises(ValueError, match="data_format=nchw"):
        Flatten(data_format="nchw")


def test_flatten_config():
    config = Flatten(name="f").get_config()
    assert config == {"name": "f", "trainable": True, "dtype": "float32",
                      "data_format": "channels_last"}
    assert Flatten.from_config(config).data_format == "channels_last"


def test_standardize_data_format():
    assert standardize_data_format("CHANNELS_FIRST") == "channels_first"
    K.set_image_data_format("channels_first")
    try:
        assert standardize_data_format(None) == "channels_first"
    finally:
        K.set_image_data_format("channels_last")


# -- Reshape ---------------------------------------------------------------------------------------
def test_reshape_spec_examples():
    assert Reshape((2, 6))(np.zeros((5, 3, 4))).shape == (5, 2, 6)
    assert Reshape((-1, 2))(np.zeros((5, 3, 4))).shape == (5, 6, 2)
    assert Reshape((-1, 2))(Input((None, 4))).shape == (None, None, 2)
    assert Reshape((-1, 2)).compute_output_shape((None, 3, 4)) == (None, 6, 2)
    np.testing.assert_array_equal(Reshape((3, 2))(np.arange(12).reshape(2, 6)),
                                  np.arange(12).reshape(2, 3, 2))


def test_reshape_gradient_and_config():
    x = np.random.default_rng(2).standard_normal((2, 6))
    check_gradient(lambda t: Reshape((3, -1), dtype="float64")(t), [x])
    layer = Reshape([3, 2], name="r")
    assert layer.target_shape == (3, 2)
    config = layer.get_config()
    assert config["target_shape"] == (3, 2)
    assert Reshape.from_config(config).target_shape == (3, 2)


@pytest.mark.parametrize("target, error, match", [
    ((-1, -1), ValueError, "There must be at most one unknown dimension \\(-1\\)"),
    ((2, -2), ValueError, "Each dimension in `target_shape` must be a non-negative integer"),
    ((2, 1.5), ValueError, "Each dimension in `target_shape` must be a non-negative integer"),
    (6, TypeError, "`target_shape` must be a tuple or list of integers. Received: "
                   "target_shape=6"),
])
def test_reshape_construction_errors(target, error, match):
    with pytest.raises(error, match=match):
        Reshape(target)


def test_reshape_call_errors():
    with pytest.raises(ValueError, match="The total size of the tensor must be unchanged. "
                                         "Received: input_shape=\\(3, 4\\), target_shape=\\(5,\\)"):
        Reshape((5,))(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="input size cannot by divided by the specified "
                                         "dimensions in target_shape"):
        Reshape((-1, 5))(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="The total size of the tensor must be unchanged"):
        Reshape((5,))(Input((3, 4)))


# -- Permute ---------------------------------------------------------------------------------------
def test_permute_spec_examples():
    x = np.zeros((1, 2, 3, 4))
    assert Permute((2, 1, 3))(x).shape == (1, 3, 2, 4)
    assert Permute((3, 1, 2))(x).shape == (1, 4, 2, 3)
    np.testing.assert_array_equal(Permute((2, 1))(np.array([[[0, 1, 2], [3, 4, 5]]])),
                                  [[[0, 3], [1, 4], [2, 5]]])
    assert Permute((2, 1)).compute_output_shape((None, 3, None)) == (None, None, 3)


def test_permute_matches_numpy_and_gradient():
    x = np.random.default_rng(3).standard_normal((2, 3, 4, 5)).astype(np.float32)
    np.testing.assert_array_equal(Permute((3, 1, 2))(x), np.transpose(x, (0, 3, 1, 2)))
    check_gradient(lambda t: Permute((3, 1, 2), dtype="float64")(t),
                   [np.random.default_rng(4).standard_normal((2, 2, 3, 2))])


@pytest.mark.parametrize("dims", [(0, 1), (1, 1), (1, 3), (1.0, 2.0)])
def test_permute_not_a_permutation(dims):
    with pytest.raises(ValueError, match="Invalid permutation argument `dims` for Permute Layer. "
                                         "The set of indices in `dims` must be consecutive and "
                                         "start from 1. Received dims="):
        Permute(dims)


def test_permute_rank_and_config_errors():
    with pytest.raises(ValueError, match="expected ndim=3, found ndim=2"):
        Permute((2, 1))(np.zeros((2, 3)))
    with pytest.raises(TypeError, match="`dims` must be a tuple of integers"):
        Permute(2)
    with pytest.raises(ValueError, match="expected ndim=3"):
        Sequential([Input((4,)), Permute((2, 1))])
    config = Permute([2, 1], name="p").get_config()
    assert config["dims"] == (2, 1) and Permute.from_config(config).dims == (2, 1)


def test_sequential_reshape_permute_flatten_spec_example():
    model = Sequential([Input((6,)), Reshape((2, 3)), Permute((2, 1)), Flatten()])
    np.testing.assert_array_equal(model.predict(np.arange(6)[None].astype("float32"), verbose=0),
                                  [[0, 3, 1, 4, 2, 5]])


# -- RepeatVector ----------------------------------------------------------------------------------
def test_repeat_vector_spec_example_and_shape():
    np.testing.assert_array_equal(RepeatVector(3)(np.array([[1, 2], [3, 4]])),
                                  [[[1, 2]] * 3, [[3, 4]] * 3])
    assert RepeatVector(3).compute_output_shape((None, 5)) == (None, 3, 5)
    assert RepeatVector(4)(Input((2,))).shape == (None, 4, 2)


def test_repeat_vector_gradient_and_config():
    check_gradient(lambda t: RepeatVector(3, dtype="float64")(t),
                   [np.random.default_rng(5).standard_normal((2, 3))])
    config = RepeatVector(3, name="rv").get_config()
    assert config == {"name": "rv", "trainable": True, "dtype": "float32", "n": 3}
    assert RepeatVector.from_config(config).n == 3
    assert RepeatVector(np.int64(2)).n == 2


@pytest.mark.parametrize("n, error, match", [
    (2.0, TypeError, "Expected an integer value for `n`, got <class 'float'>."),
    (True, TypeError, "Expected an integer value for `n`, got <class 'bool'>."),
    ("3", TypeError, "got <class 'str'>"),
    (0, ValueError, "Argument `n` should be a positive integer. Received: n=0"),
    (-2, ValueError, "Received: n=-2"),
])
def test_repeat_vector_bad_n(n, error, match):
    with pytest.raises(error, match=match):
        RepeatVector(n)


@pytest.mark.parametrize("shape", [(2,), (2, 3, 4)])
def test_repeat_vector_wrong_rank(shape):
    with pytest.raises(ValueError, match=f"expected ndim=2, found ndim={len(shape)}"):
        RepeatVector(2)(np.zeros(shape))
