"""fastkeras.constraints: formulas, configs, lookup and errors (spec §18)."""

import numpy as np
import pytest

from fastkeras import constraints as C
from fastkeras.backend.tensor import Variable

W = np.array([[3.0, 0.0], [4.0, -1.0]], np.float32)


def norms(w, axis):
    return np.sqrt(np.sum(w.astype(np.float64) ** 2, axis=axis, keepdims=True))


def test_spec_examples():
    np.testing.assert_allclose(C.max_norm(2)(W), [[1.2, 0], [1.6, -1]], rtol=1e-6)
    np.testing.assert_allclose(C.MaxNorm(2, axis=1)(W), [[2, 0], [1.94029, -0.48507]], rtol=1e-5)
    np.testing.assert_array_equal(C.non_neg()(W), [[3, 0], [4, 0]])
    np.testing.assert_allclose(C.unit_norm()(W), [[0.6, 0], [0.8, -1]], rtol=1e-6)
    np.testing.assert_allclose(C.min_max_norm(1, 2, rate=0.5)(W), [[2.1, 0], [2.8, -1]],
                               rtol=1e-6)


def test_formulas_on_random_weights_with_tuple_axis():
    w = np.random.default_rng(0).standard_normal((3, 4, 5)).astype(np.float32)
    n = norms(w, (0, 1))
    np.testing.assert_allclose(C.MaxNorm(1.5, axis=(0, 1))(w),
                               w * np.clip(n, 0, 1.5) / (1e-7 + n), rtol=1e-5)
    np.testing.assert_allclose(C.UnitNorm(axis=[0, 1])(w), w / (1e-7 + n), rtol=1e-5)
    desired = 0.3 * np.clip(n, 2.0, 3.0) + 0.7 * n
    np.testing.assert_allclose(C.MinMaxNorm(2.0, 3.0, 0.3, axis=(0, 1))(w),
                               w * desired / (1e-7 + n), rtol=1e-5)


def test_variables_in_arrays_out_with_dtype_kept():
    v = Variable(W)
    out = C.max_norm(2)(v)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    np.testing.assert_array_equal(v.value, W)  # input untouched
    assert C.unit_norm()(W.astype(np.float64)).dtype == np.float64
    w = C.Constraint()
    assert w(W) is W


def test_configs_and_round_trip():
    assert C.MaxNorm().get_config() == {"max_value": 2, "axis": 0}
    assert C.NonNeg().get_config() == {}
    assert C.UnitNorm().get_config() == {"axis": 0}
    assert C.MinMaxNorm().get_config() == {"min_value": 0.0, "max_value": 1.0, "rate": 1.0,
                                           "axis": 0}
    cfg = C.serialize(C.MaxNorm(3, axis=1))
    assert cfg == {"module": "fastkeras.constraints", "class_name": "MaxNorm",
                   "config": {"max_value": 3, "axis": 1}, "registered_name": None}
    assert C.deserialize(cfg).get_config() == {"max_value": 3, "axis": 1}
    keras_cfg = {"module": "keras.constraints", "class_name": "NonNeg", "config": {},
                 "registered_name": None}
    assert isinstance(C.deserialize(keras_cfg), C.NonNeg)


@pytest.mark.parametrize("name,cls", [
    ("max_norm", C.MaxNorm), ("non_neg", C.NonNeg), ("unit_norm", C.UnitNorm),
    ("min_max_norm", C.MinMaxNorm), ("MaxNorm", C.MaxNorm), ("maxnorm", C.MaxNorm),
    ("nonneg", C.NonNeg), ("unitnorm", C.UnitNorm)])
def test_get_by_name(name, cls):
    assert type(C.get(name)) is cls


def test_get_other_identifiers():
    assert C.get(None) is None
    assert isinstance(C.get(C.NonNeg), C.NonNeg)
    with pytest.raises(ValueError, match="Could not interpret constraint identifier: foo"):
        C.get("foo")


@pytest.mark.parametrize("make,match", [
    (lambda: C.MaxNorm(max_value="2"), "argument max_value: expected a number"),
    (lambda: C.MinMaxNorm(rate=None), "argument rate: expected a number"),
    (lambda: C.UnitNorm(axis=1.5), "argument axis: expected an integer or a tuple"),
    (lambda: C.MaxNorm(axis=()), "argument axis"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()
