"""The Dense layer (spec §4): shapes, weights, regularizers, constraints, config, errors."""

import numpy as np
import pytest
import scipy.special

from fastkeras import constraints, initializers, regularizers
from fastkeras.backend.tensor import GradientTape, Tensor, backprop
from fastkeras.engine.input_layer import Input
from fastkeras.layers.dense import Dense

X = np.array([[1.0, -2.0], [3.0, 0.5]], np.float32)


def test_spec_rank3_example():
    layer = Dense(3, kernel_initializer="ones")
    out = layer(np.arange(24).reshape(2, 3, 4))
    assert out.shape == (2, 3, 3) and out.dtype == np.float32
    assert layer.kernel.shape == (4, 3)
    np.testing.assert_array_equal(out.reshape(-1, 3), np.repeat([[6], [22], [38], [54], [70],
                                                                 [86]], 3, axis=1))
    assert layer.compute_output_shape((None, 3, 4)) == (None, 3, 3)


def test_rank3_contracts_last_axis_against_numpy():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5, 4)).astype(np.float32)
    layer = Dense(6, activation="tanh", bias_initializer="random_normal")
    out = layer(x)
    k, b = layer.kernel.numpy().astype(np.float64), layer.bias.numpy().astype(np.float64)
    expected = np.tanh(np.einsum("bti,io->bto", x.astype(np.float64), k) + b)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_weights_names_paths_and_no_bias():
    layer = Dense(2, name="fc")
    layer(np.ones((1, 3)))
    assert [w.name for w in layer.weights] == ["kernel", "bias"]
    assert [w.path for w in layer.weights] == ["fc/kernel", "fc/bias"]
    np.testing.assert_array_equal(layer.bias.numpy(), [0, 0])
    nob = Dense(2, use_bias=False)
    nob(np.ones((1, 3)))
    assert [w.name for w in nob.weights] == ["kernel"] and nob.bias is None
    assert nob.count_params() == 6


def test_glorot_uniform_default_kernel_bounds():
    layer = Dense(200)
    layer(np.ones((1, 400), np.float32))
    k = layer.kernel.numpy()
    assert np.abs(k).max() <= np.sqrt(6 / 600) and abs(k.std() - np.sqrt(2 / 600)) < 2e-3


def test_kernel_regularizer_spec_example():
    layer = Dense(1, kernel_initializer="ones", kernel_regularizer=regularizers.l2(0.1))
    np.testing.assert_array_equal(layer(np.ones((1, 2))), [[2.0]])
    assert len(layer.losses) == 1
    np.testing.assert_allclose(layer.losses[0].value, 0.2, rtol=1e-6)


def test_bias_regularizer():
    layer = Dense(2, bias_initializer=initializers.Constant(3.0), bias_regularizer="l1")
    layer(np.ones((1, 2)))
    np.testing.assert_allclose(layer.losses[0].value, 0.01 * 6, rtol=1e-6)


def test_activity_regularizer_spec_example():
    layer = Dense(1, kernel_initializer="ones", use_bias=False,
                  activity_regularizer=regularizers.l1(0.5))
    np.testing.assert_allclose(layer(X), [[-1.0], [3.5]])
    assert len(layer.losses) == 1
    np.testing.assert_allclose(layer.losses[0].value, 1.125, rtol=1e-6)


def test_constraints_are_attached_to_the_weights():
    layer = Dense(2, kernel_constraint="max_norm", bias_constraint=constraints.NonNeg())
    layer(np.ones((1, 3)))
    assert isinstance(layer.kernel.constraint, constraints.MaxNorm)
    assert isinstance(layer.bias.constraint, constraints.NonNeg)


@pytest.mark.parametrize("activation", ["relu", "softmax", "sigmoid", "gelu", "selu", None])
def test_gradients_through_the_layer_match_numpy(activation):
    rng = np.random.default_rng(1)
    x = Tensor(rng.standard_normal((4, 3)).astype(np.float32))
    GradientTape.watch(x)
    layer = Dense(5, activation=activation, bias_initializer="random_normal")
    g = rng.standard_normal((4, 5))
    with GradientTape():
        out = layer(x)
        loss = np.sum(out * g)
    gx, gk, gb = backprop(loss, [x, layer.kernel, layer.bias])
    k, b = layer.kernel.numpy().astype(np.float64), layer.bias.numpy().astype(np.float64)
    xv = x.value.astype(np.float64)
    z = xv @ k + b
    eps = 1e-6
    num_dz = np.zeros_like(z)  # dz by central differences of the numpy reference
    f = {"relu": lambda a: np.maximum(a, 0), "softmax": lambda a: scipy.special.softmax(a, -1),
         "sigmoid": scipy.special.expit, "gelu": lambda a: 0.5 * a * (1 + scipy.special.erf(
             a / np.sqrt(2))), "selu": lambda a: 1.0507009873554805 * np.where(
             a > 0, a, 1.6732632423543772 * np.expm1(a)), None: lambda a: a}[activation]
    for idx in np.ndindex(z.shape):
        e = np.zeros_like(z)
        e[idx] = eps
        num_dz[idx] = (np.sum(f(z + e) * g) - np.sum(f(z - e) * g)) / (2 * eps)
    np.testing.assert_allclose(gk, xv.T @ num_dz, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(gb, num_dz.sum(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(gx, num_dz @ k.T, rtol=1e-4, atol=1e-5)


def test_custom_callable_activation_runs_after_the_linear_part():
    layer = Dense(2, activation=lambda t: t * t, kernel_initializer="ones")
    np.testing.assert_allclose(layer(X), [[1.0, 1.0], [12.25, 12.25]])


def test_softmax_output_is_recorded_on_its_logits():
    layer = Dense(3, activation="softmax")
    with GradientTape():
        out = layer(Tensor(np.ones((2, 4), np.float32)))
    assert out.op == "softmax" and out.parents[0].op == "dense"


def test_float64_layer():
    layer = Dense(2, dtype="float64", kernel_initializer="ones")
    out = layer(np.ones((1, 3)))
    assert out.dtype == np.float64 and layer.kernel.dtype == np.float64


def test_masks_pass_through():
    x = Tensor(np.ones((2, 3, 4), np.float32))
    x._keras_mask = np.array([[True, False, True], [False, True, True]])
    out = Dense(2)(x)
    np.testing.assert_array_equal(out._keras_mask, x._keras_mask)


def test_sparse_batches_are_multiplied_without_densifying():
    import scipy.sparse
    x = scipy.sparse.random(4, 6, density=0.3, format="csr", random_state=0)
    layer = Dense(3, activation="relu", bias_initializer="ones")
    np.testing.assert_allclose(layer(x), layer(x.toarray()), rtol=1e-6)
    assert Dense(2)(Input((6,), sparse=True)).shape == (None, 2)


def test_symbolic_shapes():
    out = Dense(5)(Input((None, 4)))
    assert out.shape == (None, None, 5)


def test_config_keys_and_round_trip():
    layer = Dense(4, activation="swish", kernel_regularizer="l2", bias_constraint="non_neg",
                  activity_regularizer="l1", name="fc")
    cfg = layer.get_config()
    assert list(cfg) == ["name", "trainable", "dtype", "activity_regularizer", "units",
                         "activation", "use_bias", "kernel_initializer", "bias_initializer",
                         "kernel_regularizer", "bias_regularizer", "kernel_constraint",
                         "bias_constraint"]
    assert cfg["activation"] == "silu" and cfg["units"] == 4
    assert cfg["kernel_initializer"]["class_name"] == "GlorotUniform"
    assert cfg["kernel_regularizer"]["config"] == {"l2": 0.01}
    again = Dense.from_config(cfg)
    assert again.get_config() == cfg and not again.built
    assert "activity_regularizer" not in Dense(1).get_config()


def test_loads_a_keras_3_config():
    cfg = {"name": "dense", "trainable": True,
           "dtype": {"module": "keras", "class_name": "DTypePolicy",
                     "config": {"name": "float32"}, "registered_name": None},
           "units": 3, "activation": "relu", "use_bias": True,
           "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform",
                                  "config": {"seed": None}, "registered_name": None},
           "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros",
                                "config": {}, "registered_name": None},
           "kernel_regularizer": {"module": "keras.regularizers", "class_name": "L2",
                                  "config": {"l2": 0.01}, "registered_name": None},
           "bias_regularizer": None,
           "kernel_constraint": {"module": "keras.constraints", "class_name": "MaxNorm",
                                 "config": {"max_value": 2, "axis": 0}, "registered_name": None},
           "bias_constraint": None, "quantization_config": None}
    layer = Dense.from_config(cfg)
    assert layer.units == 3 and layer.dtype == "float32"
    assert isinstance(layer.kernel_regularizer, regularizers.L2)
    assert isinstance(layer.kernel_constraint, constraints.MaxNorm)


def test_keras2_arguments():
    layer = Dense(output_dim=3, input_dim=4)
    assert layer.units == 3
    with pytest.raises(ValueError, match="not both"):
        Dense(2, output_dim=3)


@pytest.mark.parametrize("units", [0, -1, 2.0, "3", None, True])
def test_invalid_units(units):
    with pytest.raises(ValueError, match="Received an invalid value for `units`, expected a "
                                         f"positive integer. Received: units={units}"):
        Dense(units)


def test_input_errors():
    with pytest.raises(ValueError, match="expected min_ndim=2, found ndim=1"):
        Dense(3)(np.ones(4))
    layer = Dense(3)
    layer(np.ones((2, 4)))
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 4"):
        layer(np.ones((2, 5)))
    with pytest.raises(ValueError, match="Shapes used to initialize variables must be "
                                         r"fully-defined \(no `None` dimensions\)"):
        Dense(3)(Input((None,)))


@pytest.mark.parametrize("kwargs,match", [
    (dict(activation="foo"), "Could not interpret activation function identifier: foo. .*relu"),
    (dict(kernel_initializer="foo"), "Could not interpret initializer identifier: foo. "
                                     ".*glorot_uniform"),
    (dict(kernel_regularizer="foo"), "Could not interpret regularizer identifier: foo. .*l1l2"),
    (dict(bias_constraint="foo"), "Could not interpret constraint identifier: foo. .*max_norm"),
    (dict(foo=1), r"Unrecognized keyword arguments passed to Dense: \{'foo': 1\}"),
    (dict(quantization_config={"mode": "int8"}), "does not support quantized"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Dense(2, **kwargs)


def test_fit_on_a_csr_matrix_takes_the_same_sgd_step_as_on_the_dense_array(monkeypatch):
    import scipy.sparse
    from fastkeras.backend import nn
    from fastkeras.engine.training import Model
    from fastkeras.optimizers import SGD

    seen = []
    real_dense = nn.dense

    def spy(x, *args):
        seen.append(type(x).__name__)
        return real_dense(x, *args)

    monkeypatch.setattr(nn, "dense", spy)

    rng = np.random.default_rng(5)
    x = np.where(rng.random((6, 4)) < 0.6, 0.0, rng.normal(size=(6, 4))).astype(np.float32)
    y = rng.normal(size=(6, 1)).astype(np.float32)
    inp = Input((4,), sparse=True)
    model = Model(inp, Dense(1, kernel_initializer="ones", bias_initializer="zeros")(inp))
    model.compile(optimizer=SGD(learning_rate=0.1), loss="mse")
    seen.clear()
    history = model.fit(scipy.sparse.csr_matrix(x), y, batch_size=6, epochs=1, shuffle=False,
                        verbose=0)
    x64, w, b = x.astype(np.float64), np.ones((4, 1)), 0.0
    residual = x64 @ w + b - y
    np.testing.assert_allclose(history.history["loss"][0], np.mean(residual ** 2), rtol=1e-5)
    kernel, bias = model.get_weights()
    np.testing.assert_allclose(kernel, w - 0.1 * 2 * x64.T @ residual / 6, rtol=1e-5)
    np.testing.assert_allclose(bias, [b - 0.1 * 2 * residual.mean()], rtol=1e-5, atol=1e-7)
    out = model.predict(scipy.sparse.csr_matrix(x), verbose=0)
    np.testing.assert_allclose(out, x64 @ kernel + bias, rtol=1e-5)
    assert seen == ["csr_matrix", "csr_matrix"]  # multiplied as sparse, never densified
