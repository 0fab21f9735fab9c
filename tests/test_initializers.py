"""fastkeras.initializers: formulas, fans, seeds, configs, lookup and errors (spec §16)."""

import math
import random

import numpy as np
import pytest

from fastkeras import initializers as I
from fastkeras.backend.tensor import Tensor

RANDOM = [I.RandomUniform, I.RandomNormal, I.TruncatedNormal, I.VarianceScaling, I.GlorotUniform,
          I.GlorotNormal, I.HeNormal, I.HeUniform, I.LecunNormal, I.LecunUniform, I.Orthogonal]


@pytest.mark.parametrize("shape,fans", [
    ((), (1, 1)), ((7,), (7, 7)), ((3, 5), (3, 5)), ((3, 3, 4, 8), (36, 72)), ((2, 4, 6), (8, 12))])
def test_fans(shape, fans):
    assert I.compute_fans(shape) == fans


def test_fans_from_named_axes():
    assert I.compute_fans((2, 3, 5), input_axes=(0, 1), output_axes=(2,)) == (6, 5)


@pytest.mark.parametrize("cls", RANDOM)
def test_seeded_instance_repeats_and_seeds_differ(cls):
    a = cls(seed=1)
    np.testing.assert_array_equal(a((30, 20)), a((30, 20)))
    np.testing.assert_array_equal(a((30, 20)), cls(seed=1)((30, 20)))
    assert not np.array_equal(a((30, 20)), cls(seed=2)((30, 20)))


def test_unseeded_instances_repeat_their_own_values_and_follow_python_random():
    a = I.GlorotUniform()
    np.testing.assert_array_equal(a((5, 5)), a((5, 5)))
    assert not np.array_equal(a((5, 5)), I.GlorotUniform()((5, 5)))
    random.seed(123)
    first = I.get("glorot_uniform")((5, 5))
    random.seed(123)
    np.testing.assert_array_equal(first, I.get("glorot_uniform")((5, 5)))


# Shape (400, 200): the spec's measured bounds and standard deviations.
@pytest.mark.parametrize("name,bound,std", [
    ("glorot_uniform", math.sqrt(6 / 600), math.sqrt(6 / 600) / math.sqrt(3)),
    ("he_uniform", math.sqrt(6 / 400), math.sqrt(6 / 400) / math.sqrt(3)),
    ("lecun_uniform", math.sqrt(3 / 400), math.sqrt(3 / 400) / math.sqrt(3)),
    ("he_normal", 2 * math.sqrt(2 / 400) / 0.87962566103423978, math.sqrt(2 / 400)),
    ("glorot_normal", 2 * math.sqrt(2 / 600) / 0.87962566103423978, math.sqrt(2 / 600)),
    ("lecun_normal", 2 * math.sqrt(1 / 400) / 0.87962566103423978, math.sqrt(1 / 400)),
    ("truncated_normal", 0.1, 0.05 * 0.87962566103423978),
    ("random_uniform", 0.05, 0.05 / math.sqrt(3)),
])
def test_distribution_bounds_and_std(name, bound, std):
    w = I.get({"class_name": name, "config": {"seed": 0}})((400, 200))
    assert w.dtype == np.float32 and w.shape == (400, 200)
    assert np.abs(w).max() <= bound * (1 + 1e-6)
    assert np.abs(w).max() > 0.95 * bound
    assert abs(w.std() - std) < 0.02 * std
    assert abs(w.mean()) < 0.02 * std


def test_spec_figures_for_400_by_200():
    assert abs(I.HeNormal(seed=1)((400, 200)).std() - 0.0705) < 0.001
    assert abs(I.TruncatedNormal(seed=1)((400, 200)).std() - 0.0441) < 0.001
    assert abs(I.GlorotUniform(seed=1)((400, 200)).std() - 0.0576) < 0.001


def test_random_normal_moments():
    w = I.RandomNormal(mean=1.0, stddev=2.0, seed=0)((200, 300))
    assert abs(w.mean() - 1.0) < 0.03 and abs(w.std() - 2.0) < 0.03


@pytest.mark.parametrize("mode,n", [("fan_in", 30), ("fan_out", 50), ("fan_avg", 40)])
def test_variance_scaling_modes_untruncated(mode, n):
    w = I.VarianceScaling(3.0, mode, "untruncated_normal", seed=0)((30, 50, 40))
    # rank 3: fans (50*30, 40*30); scale by the mode's fan
    fan = {"fan_in": 1500, "fan_out": 1200, "fan_avg": 1350}[mode]
    assert abs(w.std() - math.sqrt(3.0 / fan)) < 0.01 * math.sqrt(3.0 / fan)
    assert np.abs(w).max() > 3 * math.sqrt(3.0 / fan)  # not truncated


def test_variance_scaling_normal_means_truncated():
    vs = I.VarianceScaling(distribution="normal")
    assert vs.distribution == "truncated_normal"
    w = I.VarianceScaling(2.0, distribution="Normal", seed=3)((100, 100))
    assert np.abs(w).max() < 2 * math.sqrt(2 / 100) / 0.87962566103423978


def test_variance_scaling_tiny_fan_is_not_amplified():
    w = I.VarianceScaling(1.0, distribution="uniform", seed=0)((0, 4))
    assert w.shape == (0, 4)
    w = I.VarianceScaling(1.0, "fan_in", "uniform", seed=0)(())
    assert abs(float(w)) <= math.sqrt(3.0)


def test_orthogonal():
    q = I.Orthogonal(gain=2.0, seed=0)((6, 4))
    np.testing.assert_allclose(q.T @ q, 4 * np.eye(4), atol=1e-5)
    q = I.Orthogonal(seed=0)((3, 7))
    np.testing.assert_allclose(q @ q.T, np.eye(3), atol=1e-5)
    q = I.Orthogonal(seed=0)((2, 3, 5))
    flat = q.reshape(6, 5)
    np.testing.assert_allclose(flat.T @ flat, np.eye(5), atol=1e-5)


def test_orthogonal_needs_two_axes():
    with pytest.raises(ValueError, match="at least two-dimensional"):
        I.Orthogonal()((5,))


def test_identity():
    np.testing.assert_array_equal(I.Identity()((2, 3)), np.eye(2, 3))
    np.testing.assert_array_equal(I.get("identity")((3, 3)), np.eye(3))
    np.testing.assert_array_equal(I.Identity(gain=3)((2, 2)), 3 * np.eye(2))
    with pytest.raises(ValueError, match="Identity matrix initializer can only be used for 2D"):
        I.Identity()((2, 2, 2))


def test_constants_and_dtypes():
    assert I.Zeros()((2, 3)).dtype == np.float32
    np.testing.assert_array_equal(I.Ones()((2,), dtype="int32"), np.ones(2, np.int32))
    assert I.Ones()((2,), dtype="int32").dtype == np.int32
    np.testing.assert_array_equal(I.Constant(2.5)((2, 2)), np.full((2, 2), 2.5, np.float32))
    np.testing.assert_array_equal(I.Constant([1.0, 2.0])((3, 2)), [[1, 2]] * 3)
    assert I.RandomUniform(seed=0)((2,), dtype="float64").dtype == np.float64
    np.testing.assert_array_equal(I.get("constant")((2,)), [0.0, 0.0])


def test_constant_that_cannot_broadcast():
    with pytest.raises(ValueError, match=r"shape \(3,\) cannot be broadcast to the requested "
                                         r"shape \(2, 2\)"):
        I.Constant([1, 2, 3])((2, 2))


@pytest.mark.parametrize("cls", RANDOM)
def test_random_initializers_reject_integer_dtypes(cls):
    with pytest.raises(ValueError, match="only supports floating point dtypes"):
        cls(seed=0)((2, 2), dtype="int32")


def test_configs_as_the_spec_lists():
    assert I.RandomUniform().get_config() == {"seed": None, "minval": -0.05, "maxval": 0.05}
    for cls in (I.GlorotUniform, I.GlorotNormal, I.HeNormal, I.HeUniform, I.LecunNormal,
                I.LecunUniform):
        assert cls(seed=4).get_config() == {"seed": 4, "input_axes": None, "output_axes": None}
    assert I.RandomNormal().get_config() == {"seed": None, "mean": 0.0, "stddev": 0.05}
    assert I.TruncatedNormal(seed=3).get_config() == {"seed": 3, "mean": 0.0, "stddev": 0.05}
    assert I.VarianceScaling().get_config() == {
        "seed": None, "scale": 1.0, "mode": "fan_in", "distribution": "truncated_normal",
        "input_axes": None, "output_axes": None}
    assert I.Orthogonal().get_config() == {"seed": None, "gain": 1.0}
    assert I.Identity().get_config() == {"gain": 1.0}
    assert I.Constant(0.5).get_config() == {"value": 0.5}
    assert I.Zeros().get_config() == {}


@pytest.mark.parametrize("init", [I.GlorotNormal(seed=5), I.VarianceScaling(2.0, "fan_out",
                                                                          "uniform", seed=1),
                                  I.Constant(np.array([1.0, 2.0])), I.Orthogonal(0.5, seed=2),
                                  I.RandomUniform(-1, 1, seed=9), I.Zeros()])
def test_serialize_round_trip(init):
    cfg = I.serialize(init)
    assert set(cfg) == {"module", "class_name", "config", "registered_name"}
    assert cfg["class_name"] == type(init).__name__ and cfg["module"] == "fastkeras.initializers"
    again = I.deserialize(cfg)
    assert type(again) is type(init)
    np.testing.assert_array_equal(again((2, 2)), init((2, 2)))


def test_deserialize_keras_3_config():
    cfg = {"module": "keras.initializers", "class_name": "HeUniform",
           "config": {"seed": 7, "input_axes": None, "output_axes": None},
           "registered_name": None}
    init = I.deserialize(cfg)
    assert isinstance(init, I.HeUniform) and init.seed == 7


@pytest.mark.parametrize("name,cls", [
    ("uniform", I.RandomUniform), ("normal", I.RandomNormal), ("zero", I.Zeros),
    ("one", I.Ones), ("zeros", I.Zeros), ("GlorotUniform", I.GlorotUniform),
    ("glorot_uniform", I.GlorotUniform), ("he_normal", I.HeNormal),
    ("variance_scaling", I.VarianceScaling), ("constant", I.Constant),
    ("orthogonal", I.Orthogonal), ("identity", I.Identity), ("lecun_uniform", I.LecunUniform)])
def test_get_names(name, cls):
    assert type(I.get(name)) is cls


def test_get_other_identifiers():
    assert I.get(None) is None
    assert isinstance(I.get(I.HeNormal), I.HeNormal)
    fn = lambda shape, dtype=None: np.full(shape, 3.0)  # noqa: E731
    assert I.get(fn) is fn
    assert isinstance(I.get({"class_name": "Ones", "config": {}}), I.Ones)
    arr = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(I.get(arr)((2, 3)), arr)
    assert I.get(Tensor(arr))((2, 3)).dtype == np.float32
    with pytest.raises(ValueError, match=r"Expected `shape` to be \(2, 3\)"):
        I.get(arr)((3, 2))


def test_unknown_identifiers():
    with pytest.raises(ValueError, match="Could not interpret initializer identifier: foo") as e:
        I.get("foo")
    assert "glorot_uniform" in str(e.value)
    with pytest.raises(ValueError, match="Could not interpret initializer identifier: 3"):
        I.get(3)


@pytest.mark.parametrize("kwargs,match", [
    (dict(scale=0), "Argument `scale` must be positive float. Received: scale=0"),
    (dict(scale=-1.0), "Argument `scale` must be positive float"),
    (dict(scale="a"), "Argument `scale` must be positive float"),
    (dict(mode="x"), "Invalid `mode` argument: x"),
    (dict(distribution="gamma"), "Invalid `distribution` argument: gamma"),
])
def test_variance_scaling_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        I.VarianceScaling(**kwargs)


def test_seed_and_shape_errors():
    with pytest.raises(ValueError, match="`seed` argument should be an integer"):
        I.RandomUniform(seed=1.5)
    with pytest.raises(ValueError, match="Invalid shape"):
        I.Zeros()((2, -1))
    with pytest.raises(ValueError, match="Invalid shape"):
        I.GlorotUniform()((2, None))
