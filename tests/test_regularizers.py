"""fastkeras.regularizers: penalties, defaults, configs, lookup and errors (spec §17)."""

import numpy as np
import pytest

from fastkeras import regularizers as R
from fastkeras.backend.tensor import GradientTape, Variable, backprop

W = np.array([[1.0, -2.0], [3.0, 0.5]], np.float32)


def test_spec_examples():
    np.testing.assert_allclose(R.l1(0.1)(W), 0.65, rtol=1e-6)
    np.testing.assert_allclose(R.l2(0.1)(W), 1.425, rtol=1e-6)
    np.testing.assert_allclose(R.l1_l2(0.1, 0.2)(W), 3.5, rtol=1e-6)
    assert R.l1(0.1)(W).dtype == np.float32


def test_defaults():
    assert R.L1().l1 == 0.01 and R.L2().l2 == 0.01
    assert R.L1L2().get_config() == {"l1": 0.0, "l2": 0.0}
    assert R.L1(None).l1 == 0.01 and R.L1L2(None, 0.3).get_config() == {"l1": 0.0, "l2": 0.3}
    assert R.L1L2()(W) == 0.0
    assert R.Regularizer()(W) == 0.0


def test_penalty_on_a_variable_is_differentiable():
    w = Variable(W, dtype="float64")
    with GradientTape():
        p = R.l1_l2(0.1, 0.2)(w)
    (g,) = backprop(p, [w])
    np.testing.assert_allclose(p.value, 3.5)
    np.testing.assert_allclose(g, 0.1 * np.sign(W) + 0.4 * W)


def test_configs_and_round_trip():
    assert R.L1(0.3).get_config() == {"l1": 0.3}
    assert R.L2(0.3).get_config() == {"l2": 0.3}
    assert R.L1L2(0.1, 0.2).get_config() == {"l1": 0.1, "l2": 0.2}
    cfg = R.serialize(R.l2(0.1))
    assert cfg == {"module": "fastkeras.regularizers", "class_name": "L2",
                   "config": {"l2": 0.1}, "registered_name": None}
    assert R.deserialize(cfg).l2 == 0.1
    keras_cfg = {"module": "keras.regularizers", "class_name": "L1L2",
                 "config": {"l1": 0.1, "l2": 0.2}, "registered_name": None}
    assert R.deserialize(keras_cfg).get_config() == {"l1": 0.1, "l2": 0.2}
    assert R.serialize(None) is None
    with pytest.raises(NotImplementedError, match="does not implement get_config"):
        R.Regularizer().get_config()


@pytest.mark.parametrize("name,cls", [("l1", R.L1), ("l2", R.L2), ("l1l2", R.L1L2),
                                      ("l1_l2", R.L1L2), ("L2", R.L2), ("L1L2", R.L1L2)])
def test_get_by_name(name, cls):
    assert type(R.get(name)) is cls


def test_get_other_identifiers():
    assert R.get(None) is None
    assert isinstance(R.get(R.L2), R.L2)
    fn = lambda w: 0.0  # noqa: E731
    assert R.get(fn) is fn
    assert R.get({"class_name": "L1", "config": {"l1": 0.5}}).l1 == 0.5
    with pytest.raises(ValueError, match="Could not interpret regularizer identifier: foo"):
        R.get("foo")


@pytest.mark.parametrize("cls,arg,value", [
    (R.L2, "l2", -1), (R.L2, "l2", "a"), (R.L1, "l1", float("nan")), (R.L1, "l1", float("inf")),
    (R.L1L2, "l2", -0.5)])
def test_invalid_factors(cls, arg, value):
    with pytest.raises(ValueError, match=f"Invalid value for argument {arg}: expected a "
                                         f"non-negative float.Received: {arg}={value}"):
        cls(**{arg: value})
