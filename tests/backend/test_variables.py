"""Variable and tensor helpers, session state (uids, learning phase)."""

import numpy as np
import pytest

from fastkeras import backend as K
from fastkeras.backend.tensor import Tensor, Variable


class FakeKerasTensor:
    """Stands in for the engine's symbolic tensor: recognised by ``_keras_history``."""
    shape = (None, 3)
    dtype = "float32"
    _keras_history = ("layer", 0, 0)


def test_variable_constant_and_fills():
    v = K.variable(np.array([[1, 2], [3, 4]]), name="v")
    assert isinstance(v, Variable) and v.dtype == np.float32 and v.name == "v" and v.trainable
    c = K.constant(2.0, shape=(2, 3))
    assert isinstance(c, Tensor) and not c.tracked and c.dtype == np.float32
    np.testing.assert_array_equal(c.value, np.full((2, 3), 2.0))
    np.testing.assert_array_equal(K.constant([1, 2, 3, 4], shape=(2, 2)).value, [[1, 2], [3, 4]])
    for maker, ref in [(K.zeros, np.zeros((2, 3))), (K.ones, np.ones((2, 3)))]:
        out = maker((2, 3))
        assert isinstance(out, Variable) and out.dtype == np.float32
        np.testing.assert_array_equal(out.value, ref)
    np.testing.assert_array_equal(K.eye(3, dtype="float64").value, np.eye(3))
    np.testing.assert_array_equal(K.eye((2, 3)).value, np.eye(2, 3))
    assert K.cast_to_floatx([1, 2]).dtype == np.float32


def test_get_and_set_value():
    v = K.variable(np.zeros((2, 2)))
    got = K.get_value(v)
    got[0, 0] = 99  # a copy: the variable is unchanged
    assert v.value[0, 0] == 0
    K.set_value(v, [[1, 2], [3, 4]])
    np.testing.assert_array_equal(K.eval(v), [[1, 2], [3, 4]])
    w = K.variable(np.zeros(3))
    K.batch_set_value([(v, np.ones((2, 2))), (w, [5, 6, 7])])
    a, b = K.batch_get_value([v, w])
    np.testing.assert_array_equal(a, np.ones((2, 2)))
    np.testing.assert_array_equal(b, [5, 6, 7])
    K.update_add(w, 1.0)
    K.update_sub(w, [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(w.value, [6, 6, 6])
    K.update(w, [0, 0, 1])
    np.testing.assert_array_equal(w.value, [0, 0, 1])


def test_set_value_errors():
    with pytest.raises(ValueError, match=r"shape \(3,\) to variable .* of shape \(2, 2\)"):
        K.set_value(K.variable(np.zeros((2, 2))), [1, 2, 3])
    with pytest.raises(TypeError, match="needs a fastkeras Variable"):
        K.set_value(np.zeros(2), [1, 2])
    with pytest.raises(ValueError, match="cannot fill"):
        K.constant([1, 2, 3], shape=(2, 2))


def test_shape_queries():
    x = np.zeros((2, 3, 4), dtype=np.float64)
    assert K.int_shape(x) == (2, 3, 4) and K.ndim(x) == 3 and K.dtype(x) == "float64"
    assert K.count_params(K.variable(np.zeros((3, 5)))) == 15
    s = K.shape(Tensor(x))
    assert s.dtype == np.int32
    np.testing.assert_array_equal(s.value, [2, 3, 4])
    kt = FakeKerasTensor()
    assert K.int_shape(kt) == (None, 3) and K.ndim(kt) == 2 and K.dtype(kt) == "float32"
    with pytest.raises(ValueError, match="int_shape"):
        K.shape(kt)


def test_tensor_predicates():
    assert K.is_tensor(Tensor(1.0)) and K.is_tensor(FakeKerasTensor())
    assert not K.is_tensor(np.zeros(2))
    assert K.is_keras_tensor(FakeKerasTensor())
    assert not K.is_keras_tensor(K.variable(1.0))
    with pytest.raises(ValueError, match="Expected a symbolic tensor instance"):
        K.is_keras_tensor(np.zeros(2))
    assert K.is_variable(K.variable(1.0)) and not K.is_variable(Tensor(1.0))


def test_uids_and_clear_session():
    K.clear_session()
    assert [K.get_uid("dense"), K.get_uid("dense"), K.get_uid("conv")] == [1, 2, 1]
    K.clear_session()
    assert K.get_uid("dense") == 1


def test_learning_phase():
    K.clear_session()
    assert K.learning_phase() == 0
    assert K.in_train_phase("train", "test") == "test"
    assert K.in_train_phase(lambda: "train", "test", training=True) == "train"
    assert K.in_test_phase("test", "train", training=0) == "test"
    K.set_learning_phase(1)
    assert K.learning_phase() == 1 and K.in_train_phase("train", "test") == "train"
    with pytest.raises(ValueError, match="Expected learning phase to be 0 or 1"):
        K.set_learning_phase(2)
    K.clear_session()
    assert K.learning_phase() == 0


def test_backend_name_and_config_getters():
    assert K.backend() == "fastkeras"
    assert K.floatx() in ("float16", "float32", "float64")
    assert K.image_data_format() in ("channels_first", "channels_last")


def test_keras2_layer_without_training_argument_sees_the_training_phase_of_fit():
    from fastkeras.engine.base_layer import Layer
    from fastkeras.engine.input_layer import Input
    from fastkeras.engine.training import Model

    class ZeroInTraining(Layer):
        """Keras 2 style: no ``training`` argument, the phase comes from the backend."""

        def call(self, x):
            return K.in_train_phase(x * 0.0, x)

    K.clear_session()
    x = np.arange(1.0, 13.0, dtype=np.float32).reshape(4, 3)
    inp = Input((3,))
    model = Model(inp, ZeroInTraining()(inp))
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(x, np.zeros_like(x), epochs=1, verbose=0)
    assert history.history["loss"] == [0.0]  # training output x * 0 against zero targets
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)
    assert model.evaluate(x, np.zeros_like(x), verbose=0) == pytest.approx(np.mean(x ** 2))
    assert K.learning_phase() == 0  # outside layer calls: the set value (default 0)
