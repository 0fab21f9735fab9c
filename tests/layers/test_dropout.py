"""Dropout and SpatialDropout1D/2D/3D (spec §6, §7): masks, scaling, seeds, threads, errors."""

import hashlib
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from fastkeras import backend as K
from fastkeras.backend.tensor import GradientTape, Tensor, backprop
from fastkeras.layers.dropout import (
    Dropout, SpatialDropout1D, SpatialDropout2D, SpatialDropout3D, dropout,
)
from layer_gradcheck import check_gradient


# -- Dropout ---------------------------------------------------------------------------------------
def test_spec_ones_example_and_inference_identity():
    layer = Dropout(0.5, seed=1)
    x = np.ones((2, 3, 4))
    out = layer(x, training=True)
    assert out.dtype == np.float32 and set(np.unique(out)) <= {0.0, 2.0}
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer(x, training=False), x)


@pytest.mark.parametrize("rate", [0.1, 0.3, 0.5, 0.9])
def test_fraction_dropped_and_scale_on_a_million_elements(rate):
    out = Dropout(rate, seed=123)(np.ones((1000, 1000), np.float32), training=True)
    dropped = np.mean(out == 0)
    assert abs(dropped - rate) <= 0.01 * rate
    np.testing.assert_array_equal(np.unique(out[out != 0]), [np.float32(1) / np.float32(1 - rate)])


def test_spec_rate_point_three_kept_value():
    out = Dropout(0.3, seed=0)(np.ones((1000, 100)), training=True)
    assert np.unique(out[out != 0]).tolist() == [np.float32(1.4285715)]


def test_calls_use_the_seed_and_successive_counters():
    # The op's masks are checked bit for bit against the documented generator in
    # tests/kernels/test_masks.py; here the layer must draw call k's mask from (seed, k).
    x = np.random.default_rng(0).standard_normal((6, 7)).astype(np.float32)
    x_before = x.copy()
    layer = Dropout(0.4, seed=99)
    for counter in range(3):
        out = layer(x, training=True)
        np.testing.assert_array_equal(x, x_before)  # the input is never written
        np.testing.assert_array_equal(out, dropout(Tensor(x), 0.4, x.shape, 99, counter).value)
        keep = out != 0
        np.testing.assert_array_equal(out[keep], x[keep] / np.float32(0.6))


def test_rate_one_gives_zeros_and_rate_zero_is_identity():
    x = np.random.default_rng(1).standard_normal((5, 6)).astype(np.float32)
    np.testing.assert_array_equal(Dropout(1.0, seed=0)(x, training=True), np.zeros_like(x))
    np.testing.assert_array_equal(Dropout(1)(x, training=True), np.zeros_like(x))
    np.testing.assert_array_equal(Dropout(0.0)(x, training=True), x)


def test_noise_shape_shares_the_mask_over_timesteps():
    out = Dropout(0.5, noise_shape=(None, 1, 4), seed=2)(np.ones((2, 3, 4)), training=True)
    assert set(np.unique(out)) == {0.0, 2.0}
    np.testing.assert_array_equal(out, np.broadcast_to(out[:, :1], out.shape))
    expected = dropout(Tensor(np.ones((2, 3, 4), np.float32)), 0.5, (2, 1, 4), 2, 0).value
    np.testing.assert_array_equal(out, expected)


def test_short_noise_shape_broadcasts_from_the_right():
    out = Dropout(0.5, noise_shape=(4,), seed=4)(np.ones((3, 5, 4)), training=True)
    np.testing.assert_array_equal(out, np.broadcast_to(out[0, 0], out.shape))


def test_seeded_layers_repeat_and_calls_differ():
    x = np.ones((64, 64), np.float32)
    a, b = Dropout(0.5, seed=7), Dropout(0.5, seed=7)
    first_a, first_b = a(x, training=True), b(x, training=True)
    np.testing.assert_array_equal(first_a, first_b)
    second = a(x, training=True)
    assert not np.array_equal(first_a, second)
    # Consecutive calls' masks are independent: both dropped ~ rate**2 of the time.
    both = np.mean((first_a == 0) & (second == 0))
    assert abs(both - 0.25) < 0.02


def test_unseeded_layers_draw_from_numpy_global_rng():
    x = np.ones((32, 32), np.float32)
    np.random.seed(5)
    first = Dropout(0.5)(x, training=True)
    np.random.seed(5)
    again = Dropout(0.5)(x, training=True)
    np.testing.assert_array_equal(first, again)
    layer = Dropout(0.5)
    assert not np.array_equal(layer(x, training=True), layer(x, training=True))
    assert Dropout(0.5).get_config()["seed"] is None


_THREAD_SCRIPT = textwrap.dedent("""
    import hashlib, numpy as np
    from fastkeras.layers.dropout import Dropout, SpatialDropout2D
    x = np.random.default_rng(0).standard_normal((5, 40000)).astype(np.float32)
    d, s = Dropout(0.3, seed=17), SpatialDropout2D(0.5, seed=3)
    h = hashlib.sha256()
    for _ in range(2):
        h.update(d(x, training=True).tobytes())
        h.update(s(x.reshape(5, 100, 50, 8), training=True).tobytes())
    print(h.hexdigest())
""")


def test_seeded_masks_are_identical_on_one_and_two_threads():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    digests = []
    for threads in ("1", "2"):
        env = dict(os.environ, NUMBA_NUM_THREADS=threads, PYTHONPATH=root)
        run = subprocess.run([sys.executable, "-c", _THREAD_SCRIPT], env=env, cwd=root,
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        digests.append(run.stdout.strip())
    # ...and identical to this process's own run.
    x = np.random.default_rng(0).standard_normal((5, 40000)).astype(np.float32)
    d, s = Dropout(0.3, seed=17), SpatialDropout2D(0.5, seed=3)
    h = hashlib.sha256()
    for _ in range(2):
        h.update(d(x, training=True).tobytes())
        h.update(s(x.reshape(5, 100, 50, 8), training=True).tobytes())
    assert digests == [h.hexdigest(), h.hexdigest()]


def test_gradient_matches_finite_differences_and_regenerates_the_mask():
    x = np.random.default_rng(3).standard_normal((2, 3, 2))
    for noise in [(2, 3, 2), (2, 1, 2), (1, 3, 1)]:
        check_gradient(lambda t: dropout(t, 0.4, noise, seed=6, counter=2), [x])
    # Through the layer: the backward pass uses the forward call's mask.
    layer = Dropout(0.5, seed=8, dtype="float64")
    t = Tensor(x.copy())
    with GradientTape() as tape:
        tape.watch(t)
        out = layer(t, training=True)
        loss = np.sum(out * 3.0)
    (grad,) = backprop(loss, [t])
    np.testing.assert_array_equal(grad, np.where(out.value != 0, 6.0, 0.0))
    assert out.op == "dropout"


def test_dtype_follows_the_layer():
    out = Dropout(0.5, seed=0, dtype="float64")(np.ones((3, 3), np.float32), training=True)
    assert out.dtype == np.float64
    half = Dropout(0.5, seed=0, dtype="float16")(np.ones((40, 40)), training=True)
    assert half.dtype == np.float16 and set(np.unique(half)) <= {0.0, 2.0}


def test_mask_passes_through():
    x = Tensor(np.ones((2, 3, 4), np.float32))
    x._keras_mask = np.array([[True, False, True], [False, True, True]])
    for training in (True, False):
        out = Dropout(0.5, seed=0)(x, training=training)
        np.testing.assert_array_equal(out._keras_mask, x._keras_mask)


def test_no_weights_and_shape_kept():
    layer = Dropout(0.5, seed=0)
    assert layer.compute_output_shape((None, 3)) == (None, 3)
    assert layer.built and layer.weights == []


def test_config_round_trip():
    layer = Dropout(0.25, noise_shape=[None, 1, 3], seed=5, name="drop")
    config = layer.get_config()
    assert config == {"name": "drop", "trainable": True, "dtype": "float32", "rate": 0.25,
                      "seed": 5, "noise_shape": (None, 1, 3)}
    clone = Dropout.from_config(config)
    x = np.ones((2, 4, 3))
    np.testing.assert_array_equal(clone(x, training=True), layer(x, training=True))


@pytest.mark.parametrize("rate, error, match", [
    (1.5, ValueError, "Expected a float value between 0 and 1. Received: rate=1.5"),
    (-0.1, ValueError, "Received: rate=-0.1"),
    (float("nan"), ValueError, "Received: rate=nan"),
    ("0.5", TypeError, "rate='0.5'"),
    (None, TypeError, "Invalid value received for argument `rate`"),
    (True, TypeError, "rate=True"),
])
def test_bad_rate(rate, error, match):
    with pytest.raises(error, match=match):
        Dropout(rate)


@pytest.mark.parametrize("noise_shape, match", [
    ("abc", "Expected a tuple or list of integers"),
    (5, "Expected an iterable of integers"),
    ((None, 1.5), "Received element at index 1: 1.5 \\(type: float\\)"),
    ((2, 0), "Received negative or zero value at index 1: 0"),
    ((2, -3), "Received negative or zero value at index 1: -3"),
])
def test_bad_noise_shape(noise_shape, match):
    with pytest.raises(ValueError, match=match):
        Dropout(0.5, noise_shape=noise_shape)


@pytest.mark.parametrize("noise_shape", [(2, 2, 4), (1, 1, 1, 4), (4, 3)])
def test_noise_shape_not_broadcastable_names_both_shapes(noise_shape):
    layer = Dropout(0.5, noise_shape=noise_shape)
    with pytest.raises(ValueError, match=r"does not broadcast to the input shape \(2, 3, 4\)"):
        layer(np.ones((2, 3, 4)), training=True)


def test_bad_seed():
    with pytest.raises(ValueError, match="Argument `seed` must be an integer. Received: seed=1.5"):
        Dropout(0.5, seed=1.5)


# -- SpatialDropout --------------------------------------------------------------------------------
@pytest.mark.parametrize("cls, shape, data_format, mask_shape", [
    (SpatialDropout1D, (4, 7, 6), None, (4, 1, 6)),
    (SpatialDropout2D, (4, 5, 7, 6), "channels_last", (4, 1, 1, 6)),
    (SpatialDropout2D, (4, 6, 5, 7), "channels_first", (4, 6, 1, 1)),
    (SpatialDropout3D, (4, 3, 5, 2, 6), "channels_last", (4, 1, 1, 1, 6)),
    (SpatialDropout3D, (4, 6, 3, 5, 2), "channels_first", (4, 6, 1, 1, 1)),
])
def test_spatial_dropout_drops_whole_channels(cls, shape, data_format, mask_shape):
    kwargs = {} if data_format is None else {"data_format": data_format}
    layer = cls(0.5, seed=21, **kwargs)
    x = np.random.default_rng(0).uniform(1, 2, shape).astype(np.float32)
    out = layer(x, training=True)
    keep = out != 0
    spatial = tuple(i for i, n in enumerate(mask_shape) if n == 1)
    per_channel = keep.all(axis=spatial, keepdims=True)
    np.testing.assert_array_equal(keep, np.broadcast_to(per_channel, shape))  # whole maps only
    assert 0 < per_channel.mean() < 1
    np.testing.assert_array_equal(out, np.where(keep, x / np.float32(0.5), 0))
    np.testing.assert_array_equal(out, dropout(Tensor(x), 0.5, mask_shape, 21, 0).value)
    np.testing.assert_array_equal(layer(x), x)


def test_spatial_dropout_default_data_format_follows_backend():
    K.set_image_data_format("channels_first")
    try:
        assert SpatialDropout2D(0.5).data_format == "channels_first"
    finally:
        K.set_image_data_format("channels_last")
    assert SpatialDropout3D(0.5, data_format="Channels_Last").data_format == "channels_last"


def test_spatial_dropout_gradient():
    x = np.random.default_rng(4).standard_normal((2, 3, 2, 3))
    layer = SpatialDropout2D(0.5, seed=1, dtype="float64")
    t = Tensor(x.copy())
    with GradientTape() as tape:
        tape.watch(t)
        out = layer(t, training=True)
        loss = np.sum(out * x)
    (grad,) = backprop(loss, [t])
    np.testing.assert_array_equal(grad, np.where(out.value != 0, 2 * x, 0))


@pytest.mark.parametrize("cls, shape, ndim", [
    (SpatialDropout1D, (2, 3), 3), (SpatialDropout2D, (2, 3, 4), 4),
    (SpatialDropout2D, (1, 2, 3, 4, 5), 4), (SpatialDropout3D, (2, 3, 4, 5), 5),
])
def test_spatial_dropout_wrong_rank(cls, shape, ndim):
    with pytest.raises(ValueError, match=f"expected ndim={ndim}, found ndim={len(shape)}"):
        cls(0.5)(np.ones(shape), training=True)


def test_spatial_dropout_errors_and_config():
    with pytest.raises(ValueError, match="data_format=nchw"):
        SpatialDropout2D(0.5, data_format="nchw")
    with pytest.raises(ValueError, match="rate=2"):
        SpatialDropout1D(2)
    with pytest.raises(TypeError, match="noise_shape"):
        SpatialDropout1D(0.5, noise_shape=(1, 1, 1))
    assert SpatialDropout1D(0.2, seed=3, name="sd").get_config() == {
        "rate": 0.2, "seed": 3, "name": "sd", "dtype": "float32"}
    config = SpatialDropout2D(0.2, data_format="channels_first", name="sd2").get_config()
    assert config == {"rate": 0.2, "seed": None, "name": "sd2", "dtype": "float32",
                      "data_format": "channels_first"}
    clone = SpatialDropout2D.from_config(config)
    assert clone.data_format == "channels_first" and clone.rate == 0.2
    assert SpatialDropout1D(0.5, trainable=False).trainable is False
