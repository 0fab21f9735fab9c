"""Masking (spec §14) and masked sequence models built from fastkeras's own layers."""

import numpy as np
import pytest

from fastkeras.backend.tensor import GradientTape, Tensor, backprop
from fastkeras.engine.input_layer import Input
from fastkeras.engine.training import Model
from fastkeras.layers.dense import Dense
from fastkeras.layers.dropout import Dropout
from fastkeras.layers.lambda_layer import Lambda
from fastkeras.layers.masking import Masking, masking
from fastkeras.layers.pooling import GlobalAveragePooling1D, GlobalMaxPooling1D
from fastkeras.layers.reshaping import Flatten
from layer_gradcheck import check_gradient


def test_spec_examples():
    x = np.array([[[1, 2], [0, 0], [3, 0]]], np.float32)
    out = Masking()(Tensor(x))
    np.testing.assert_array_equal(out.value, x)
    np.testing.assert_array_equal(out._keras_mask, [[True, False, True]])
    out = Masking(5.0)(Tensor(np.array([[[5, 5], [5, 1], [2, 2]]], np.float32)))
    np.testing.assert_array_equal(out.value, [[[0, 0], [5, 1], [2, 2]]])
    np.testing.assert_array_equal(out._keras_mask, [[False, True, True]])
    assert not np.signbit(out.value).any()
    two_d = Masking()(Tensor(np.array([[0, 0], [0, 1]], np.float32)))
    assert two_d._keras_mask.shape == (2,) and two_d._keras_mask.tolist() == [False, True]
    nan = Masking(np.nan)(Tensor(np.full((2, 3, 2), np.nan, np.float32)))
    assert nan._keras_mask.all()


def test_matches_numpy_reference_and_array_call():
    rng = np.random.default_rng(0)
    x = rng.integers(-1, 2, (4, 6, 3)).astype(np.float32)
    x[:, 2] = -1.0
    mask = np.any(x != -1.0, axis=-1)
    x_before = x.copy()
    out = Masking(-1.0)(x)
    np.testing.assert_array_equal(out, np.where(mask[..., None], x, 0))
    np.testing.assert_array_equal(x, x_before)  # the input is never written
    layer = Masking(-1.0)
    np.testing.assert_array_equal(layer.compute_mask(Tensor(x)), mask)
    assert layer.compute_output_shape((None, 6, 3)) == (None, 6, 3)


def test_mask_value_is_compared_in_the_input_dtype():
    x = np.full((1, 2, 2), 0.1, np.float32)
    x[0, 1] = 1.0
    out = Masking(0.1)(Tensor(x))
    assert out._keras_mask.tolist() == [[False, True]]
    # A float64 layer compares in float64: float32(0.1) widened is not 0.1.
    out64 = Masking(0.1, dtype="float64")(Tensor(x.astype(np.float64)))
    assert out64._keras_mask.tolist() == [[True, True]] and out64.dtype == np.float64


def test_gradient_passes_valid_steps_and_blocks_masked_ones():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 2))
    check_gradient(lambda t: masking(t, 0.0), [x])  # no step masked: identity
    x[0, 1] = 0.0
    x[1, 2] = 0.0
    t = Tensor(x.copy())
    weights = rng.standard_normal(x.shape)
    with GradientTape() as tape:
        tape.watch(t)
        loss = np.sum(Masking(dtype="float64")(t) * weights)
    (grad,) = backprop(loss, [t])
    valid = np.any(x != 0, axis=-1)[..., None]
    np.testing.assert_array_equal(grad, np.where(valid, weights, 0))


def test_non_contiguous_and_float16_inputs():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4).transpose(1, 0, 2) % 5
    out = Masking(0.0)(Tensor(np.ascontiguousarray(x)[:, ::-1]))
    ref = np.ascontiguousarray(x)[:, ::-1]
    np.testing.assert_array_equal(out.value, np.where(np.any(ref != 0, -1)[..., None], ref, 0))
    half = Masking(dtype="float16")(np.array([[[0, 0], [1, 2]]]))
    assert half.dtype == np.float16
    np.testing.assert_array_equal(half, [[[0, 0], [1, 2]]])


def test_mask_meets_layers_without_mask_support():
    masked = Masking(name="pad")(Input((3, 2)))
    assert masked._keras_mask is not None and masked._keras_mask.shape == (None, 3)
    with pytest.raises(TypeError, match="'flat' \\(of type Flatten\\).*produced by layer 'pad'"):
        Flatten(name="flat")(masked)
    with pytest.raises(TypeError, match="'lam' \\(of type Lambda\\).*produced by layer 'pad'"):
        Lambda(lambda t: t, name="lam")(masked)
    eager = Masking(name="pad_eager")(Tensor(np.ones((2, 3, 2), np.float32)))
    with pytest.raises(TypeError, match="Flatten.*produced by layer 'pad_eager'"):
        Flatten()(eager)


def test_masking_then_global_average_pooling_averages_only_unmasked_steps():
    x = np.array([[[1, 2], [0, 0], [3, 0]], [[0, 0], [0, 0], [4, 8]]], np.float32)
    inp = Input((3, 2))
    model = Model(inp, GlobalAveragePooling1D()(Masking()(inp)))
    np.testing.assert_array_equal(model.predict(x, verbose=0), [[2, 1], [4, 8]])
    model_max = Model(inp, GlobalMaxPooling1D()(Masking()(inp)))
    # All values <= 0: the zeros of masked steps would win an unmasked max.
    np.testing.assert_array_equal(model_max.predict(-x, verbose=0), [[-1, 0], [-4, -8]])


def test_config_round_trip_and_bad_mask_value():
    config = Masking(2.5, name="m").get_config()
    assert config == {"name": "m", "trainable": True, "dtype": "float32", "mask_value": 2.5}
    assert Masking.from_config(config).mask_value == 2.5
    assert Masking(np.float32(1.5)).get_config()["mask_value"] == 1.5
    with pytest.raises(TypeError, match="`mask_value` must be a number. Received: "
                                        "mask_value='x'"):
        Masking("x")
    with pytest.raises(ValueError, match="expected min_ndim=1, found ndim=0"):
        Masking()(np.float32(1.0))


# -- end to end: Input -> Masking -> Dense -> GlobalAveragePooling1D -> Dense, fitted ----------
def _sequences(rng, lengths, features, steps, pad=0.0):
    x = np.full((len(lengths), steps, features), pad, np.float32)
    for i, n in enumerate(lengths):
        x[i, :n] = rng.uniform(0.5, 1.5, (n, features)) * rng.choice([-1, 1], (n, features))
    return x


def _model(masked: bool, seed_weights=None):
    inp = Input((None, 3))
    h = Masking()(inp) if masked else inp
    h = Dense(4, activation="tanh", bias_initializer="ones")(h)
    # The mask passes through Dropout; one dropout draw per (sample, unit), shared over the
    # steps, so both paddings of a batch see the same dropout mask.
    h = Dropout(0.5, noise_shape=(None, 1, 4), seed=1)(h)
    h = GlobalAveragePooling1D()(h)
    model = Model(inp, Dense(1)(h))
    if seed_weights is not None:
        model.set_weights(seed_weights)
    return model


def test_masked_sequence_model_ignores_padding_in_predictions_and_training():
    rng = np.random.default_rng(2)
    lengths = [2, 5, 3, 1, 4, 5, 2, 3]
    short = _sequences(rng, lengths, 3, 5)
    long = np.concatenate([short, np.zeros((8, 4, 3), np.float32)], axis=1)
    y = rng.standard_normal((8, 1)).astype(np.float32)

    model = _model(masked=True)
    weights = model.get_weights()
    # Predictions equal the numpy reference over the valid steps, whatever the padding.
    k1, b1, k2, b2 = weights
    ref = np.stack([np.tanh(short[i, :n] @ k1 + b1).mean(axis=0) for i, n in enumerate(lengths)])
    ref = ref @ k2 + b2
    np.testing.assert_allclose(model.predict(short, verbose=0), ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(long, verbose=0), ref, rtol=1e-5, atol=1e-6)
    for i, n in enumerate(lengths):  # and what the unpadded sequence alone gives
        np.testing.assert_allclose(model.predict(short[i:i + 1, :n], verbose=0), ref[i:i + 1],
                                   rtol=1e-5, atol=1e-6)

    # Training on the two paddings gives the same weights: masked steps never reach the loss.
    trained = []
    for x in (short, long):
        m = _model(masked=True, seed_weights=weights)
        m.compile(optimizer="sgd", loss="mse")
        history = m.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0)
        assert np.isfinite(history.history["loss"]).all()
        trained.append(m.get_weights())
    for a, b in zip(*trained):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not np.allclose(trained[0][0], weights[0])

    # Without Masking the same comparison fails: the test can see padding influence.
    unmasked = _model(masked=False, seed_weights=weights)
    assert not np.allclose(unmasked.predict(short, verbose=0), unmasked.predict(long, verbose=0))


def test_loss_honours_output_masks():
    # Spec §21: predictions [3, 0, 3] with mask [T, F, T] against 0 -> MSE 9.0 (not 6.0).
    inp = Input((3, 1))
    out = Dense(1, kernel_initializer="ones", use_bias=False)(Masking()(inp))
    model = Model(inp, out)
    model.compile(optimizer="sgd", loss="mse")
    x = np.array([[[3.0], [0.0], [3.0]]], np.float32)
    assert model.evaluate(x, np.zeros((1, 3, 1)), verbose=0) == pytest.approx(9.0)
