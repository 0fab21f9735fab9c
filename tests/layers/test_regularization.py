"""ActivityRegularization (spec §13): identity, penalty / batch size, training loss, config."""

import numpy as np
import pytest

from fastkeras import regularizers
from fastkeras.backend.tensor import Tensor
from fastkeras.engine.input_layer import Input
from fastkeras.engine.sequential import Sequential
from fastkeras.layers.dense import Dense
from fastkeras.layers.regularization import ActivityRegularization
from layer_gradcheck import check_gradient

X = np.array([[1.0, -2.0], [3.0, 0.5]], np.float32)


def penalty(y, l1, l2):
    return (l1 * np.abs(y).sum() + l2 * np.square(y).sum()) / y.shape[0]


def test_spec_example_identity_and_losses_per_call():
    layer = ActivityRegularization(l1=0.1, l2=0.2)
    np.testing.assert_array_equal(layer(X), X)
    assert len(layer.losses) == 1
    np.testing.assert_allclose(layer.losses[0].value, 1.75, rtol=1e-6)
    np.testing.assert_allclose(layer.losses[0].value, penalty(X.astype(np.float64), 0.1, 0.2),
                               rtol=1e-6)
    layer(X[:1])
    assert len(layer.losses) == 1
    np.testing.assert_allclose(layer.losses[0].value, 1.3, rtol=1e-6)


def test_penalty_gradient_matches_finite_differences():
    x = np.array([[0.7, -1.3, 2.1], [-0.4, 0.9, -2.2]])
    layer = ActivityRegularization(l1=0.3, l2=0.05, dtype="float64")

    def loss_of(t):
        layer(t)
        return layer.losses[0]
    (grad,) = check_gradient(loss_of, [x], seed=0)
    weight = np.random.default_rng(0).standard_normal(())  # check_gradient's output weighting
    np.testing.assert_allclose(grad, weight * (0.3 * np.sign(x) + 0.1 * x) / 2, rtol=1e-12)


def test_mask_passes_through():
    t = Tensor(X)
    t._keras_mask = np.array([True, False])
    out = ActivityRegularization(l1=0.1)(t)
    np.testing.assert_array_equal(out._keras_mask, [True, False])


def test_penalty_is_part_of_the_training_loss():
    # Spec §17: mse 6.625 + kernel l2 0.2 + activity l1 0.01 * 4.5 / 2 = 6.8475.
    model = Sequential([Input((2,)),
                        Dense(1, kernel_initializer="ones", use_bias=False,
                              kernel_regularizer=regularizers.l2(0.1)),
                        ActivityRegularization(l1=0.01)])
    model.compile(optimizer="sgd", loss="mse")
    y = np.zeros((2, 1), np.float32)
    assert model.evaluate(X, y, verbose=0) == pytest.approx(6.8475, rel=1e-6)
    assert model.train_on_batch(X, y) == pytest.approx(6.8475, rel=1e-6)


def test_config_round_trip():
    config = ActivityRegularization(l1=0.1, l2=0.2, name="ar").get_config()
    assert config == {"name": "ar", "trainable": True, "dtype": "float32", "l1": 0.1, "l2": 0.2}
    clone = ActivityRegularization.from_config(config)
    assert (clone.l1, clone.l2) == (0.1, 0.2)
    assert ActivityRegularization().compute_output_shape((None, 4)) == (None, 4)


@pytest.mark.parametrize("kwargs, match", [
    ({"l1": -1}, "Invalid value for argument l1: expected a non-negative float.Received: l1=-1"),
    ({"l2": float("nan")}, "argument l2"),
    ({"l2": float("inf")}, "argument l2"),
    ({"l1": "a"}, "Received: l1=a"),
])
def test_bad_factors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ActivityRegularization(**kwargs)


def test_activity_regularizer_argument_is_refused():
    with pytest.raises(TypeError, match="sets its own `activity_regularizer`"):
        ActivityRegularization(l1=0.1, activity_regularizer="l2")
