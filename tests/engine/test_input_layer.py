"""Input / InputLayer / KerasTensor (spec section 3)."""

import numpy as np
import pytest

from fastkeras import backend as K
from fastkeras.engine.input_layer import Input, InputLayer
from fastkeras.engine.keras_tensor import KerasTensor


@pytest.fixture(autouse=True)
def _fresh_names():
    K.clear_session()


@pytest.mark.parametrize("kwargs, shape", [
    ({"shape": (3,)}, (None, 3)),
    ({"shape": (None, 4)}, (None, None, 4)),
    ({"batch_shape": (8, 3)}, (8, 3)),
    ({"shape": (3,), "batch_size": 8}, (8, 3)),
    ({"shape": (0,)}, (None, 0)),
    ({"shape": 3}, (None, 3)),
])
def test_shapes(kwargs, shape):
    assert Input(**kwargs).shape == shape


def test_keras_tensor_attributes_and_repr():
    x = Input((3,), name="zz", dtype=np.float32)
    assert isinstance(x, KerasTensor)
    assert (x.dtype, x.name, x.sparse, x.ndim) == ("float32", "zz", False, 2)
    assert repr(x) == ("<KerasTensor shape=(None, 3), dtype=float32, sparse=False, "
                       "ragged=False, name=zz>")
    with pytest.raises(ValueError, match="A KerasTensor is symbolic"):
        np.asarray(x)
    assert Input((2,), dtype="int32").dtype == "int32"


@pytest.mark.parametrize("kwargs, message", [
    ({"shape": (3,), "batch_shape": (None, 3)},
     "You cannot pass both `shape` and `batch_shape` at the same time."),
    ({"batch_size": 2, "batch_shape": (2, 3)},
     "You cannot pass both `batch_size` and `batch_shape` at the same time."),
    ({}, "You must pass a `shape` argument."),
    ({"shape": (-1, 2)}, "Negative dimensions are not allowed."),
    ({"shape": (2.5,)}, "Found invalid dimension '2.5'"),
    ({"shape": "ab"}, "Cannot convert 'ab' to a shape."),
])
def test_errors(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Input(**kwargs)


def test_batch_input_shape_is_only_for_input_layer():
    with pytest.raises(TypeError):
        Input(batch_input_shape=(None, 3))
    assert InputLayer(batch_input_shape=(None, 3)).batch_shape == (None, 3)
    assert InputLayer(input_shape=(3,)).batch_shape == (None, 3)


def test_tensor_argument():
    base = Input((4,), name="base")
    adopted = Input(tensor=base)
    assert adopted is base and adopted.shape == (None, 4)
    with pytest.raises(ValueError, match="Argument `input_tensor` must be a KerasTensor"):
        Input(tensor=np.ones((1, 4)))
    with pytest.raises(ValueError, match="When providing the `input_tensor` argument, you "
                                         "cannot provide an incompatible `shape` argument."):
        Input(shape=(5,), tensor=Input((4,)))
    with pytest.raises(ValueError, match="incompatible `dtype` argument"):
        Input(dtype="int32", tensor=Input((4,)))


def test_input_layer_config_and_names():
    layer = InputLayer(shape=(3,), name="x")
    assert layer.get_config() == {"batch_shape": (None, 3), "dtype": "float32",
                                  "sparse": False, "ragged": False, "name": "x",
                                  "optional": False}
    assert InputLayer.from_config(layer.get_config()).batch_shape == (None, 3)
    assert Input((1,)).name == "input_layer" and Input((1,)).name == "input_layer_1"
    sparse = Input((3,), sparse=True)
    assert sparse.sparse and sparse._keras_history[0].get_config()["sparse"] is True
