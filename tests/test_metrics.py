"""Metrics: spec section 22 examples, numpy references, weighting rules, compile resolution."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fastkeras import metrics as M
from fastkeras.backend.tensor import Tensor


# -- spec examples ------------------------------------------------------------------------------

def test_binary_accuracy_threshold_is_strict():
    got = M.binary_accuracy(np.array([1, 0, 1, 0.]), np.array([.5, .5, .51, .2]))
    np.testing.assert_array_equal(got, [0, 1, 1, 1])
    got = M.binary_accuracy(np.array([1, 0.]), np.array([.3, .3]), threshold=0.25)
    np.testing.assert_array_equal(got, [1, 0])


def test_categorical_accuracy_ties_go_to_first_index():
    np.testing.assert_array_equal(
        M.categorical_accuracy(np.array([[0, 0, 1.]]), np.array([[.1, .9, .9]])), [0])
    np.testing.assert_array_equal(
        M.categorical_accuracy(np.array([[0, 1, 0.]]), np.array([[.1, .9, .9]])), [1])


def test_sparse_categorical_accuracy_label_shapes():
    p = np.array([[.1, .7, .2], [.5, .3, .2], [.2, .2, .6]])
    np.testing.assert_array_equal(M.sparse_categorical_accuracy(np.array([1, 0, 0]), p),
                                  [1, 1, 0])
    np.testing.assert_array_equal(M.sparse_categorical_accuracy(np.array([[1], [0], [0]]), p),
                                  [1, 1, 0])


def test_accuracy_object_exact_match():
    m = M.Accuracy()
    m.update_state([[1], [2], [3], [4]], [[0], [2], [3], [4]])
    assert m.result() == pytest.approx(.75)
    assert m.name == "accuracy"


def test_binary_accuracy_object_and_sample_weight():
    y, p = [[1], [1], [0], [0]], [[.98], [1], [0], [.6]]
    m = M.BinaryAccuracy()
    m.update_state(y, p)
    assert m.result() == pytest.approx(.75)
    m.reset_state()
    m.update_state(y, p, sample_weight=[1, 0, 0, 1])
    assert m.result() == pytest.approx(.5)


def test_top_k_categorical_accuracy():
    y = np.eye(6)[[0, 5, 2]]
    p = np.array([[.9, .1, .0, .0, .0, .0],     # class 0 top
                  [.6, .5, .4, .3, .2, .1],     # class 5 last: out of top 5
                  [.1, .2, .3, .1, .1, .1]])    # class 2 top
    np.testing.assert_array_equal(M.top_k_categorical_accuracy(y, p), [1, 0, 1])
    np.testing.assert_array_equal(M.top_k_categorical_accuracy(y, p, k=1), [1, 0, 1])
    # ties with the k-th score count as inside the top k
    np.testing.assert_array_equal(
        M.top_k_categorical_accuracy(np.eye(3)[[2]], np.array([[.5, .2, .2]]), k=2), [1])
    np.testing.assert_array_equal(
        M.sparse_top_k_categorical_accuracy(np.array([0, 5, 2]), p, k=5), [1, 0, 1])
    ids = np.array([[3, 1, 0], [2, 0, 1]])
    np.testing.assert_array_equal(
        M.sparse_top_k_categorical_accuracy([1, 1], ids, k=2, from_sorted_ids=True), [1, 0])


# -- numpy references over random inputs --------------------------------------------------------

def _reference_mean(values, weights=None):
    values = np.asarray(values, np.float64)
    if weights is None:
        return values.mean()
    return np.sum(values * weights) / np.sum(weights)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2 ** 16), st.booleans())
def test_running_means_match_numpy(seed, weighted):
    rng = np.random.default_rng(seed)
    batches = []
    for n in (5, 3):
        labels = rng.integers(0, 4, n)
        batches.append((labels, rng.random((n, 4)), rng.random(n) if weighted else None))
    acc, sparse, mse = M.CategoricalAccuracy(), M.SparseCategoricalAccuracy(), M.MeanSquaredError()
    vals_acc, vals_mse, ws = [], [], []
    for labels, p, w in batches:
        onehot = np.eye(4)[labels]
        acc.update_state(onehot, p, sample_weight=w)
        sparse.update_state(labels, p, sample_weight=w)
        mse.update_state(onehot, p, sample_weight=w)
        vals_acc.append(labels == np.argmax(p, -1))
        vals_mse.append(np.mean((onehot - p) ** 2, -1))
        ws.append(np.ones(len(labels)) if w is None else w)
    w = np.concatenate(ws)
    assert acc.result() == pytest.approx(_reference_mean(np.concatenate(vals_acc), w), rel=1e-6)
    assert sparse.result() == pytest.approx(acc.result(), rel=1e-6)
    assert mse.result() == pytest.approx(_reference_mean(np.concatenate(vals_mse), w), rel=1e-5)


def test_regression_and_probabilistic_metrics_match_numpy():
    rng = np.random.default_rng(2)
    y, p = rng.random((6, 3)), rng.random((6, 3)) + .05
    yb = (rng.random((6, 1)) > .5).astype(float)
    pb = rng.uniform(.05, .95, (6, 1))
    cases = [
        (M.MeanAbsoluteError(), y, p, np.mean(np.abs(y - p))),
        (M.RootMeanSquaredError(), y, p, np.sqrt(np.mean((y - p) ** 2))),
        (M.MeanAbsolutePercentageError(), y, p, 100 * np.mean(np.abs(y - p) / y)),
        (M.LogCoshError(), y, p, np.mean(np.log(np.cosh(p - y)))),
        (M.CosineSimilarity(), y, p, np.mean(np.sum(y * p, -1) / np.linalg.norm(y, axis=-1)
                                             / np.linalg.norm(p, axis=-1))),
        (M.BinaryCrossentropy(), yb, pb, np.mean(-(yb * np.log(pb) + (1 - yb) * np.log(1 - pb)))),
        (M.Poisson(), y, p, np.mean(p - y * np.log(p + 1e-7))),
    ]
    for metric, a, b, expected in cases:
        metric.update_state(a, b)
        assert metric.result() == pytest.approx(expected, rel=2e-6), metric.name


def test_crossentropy_metrics():
    y = np.array([[0, 1, 0], [0, 0, 1.]])
    p = np.array([[.05, .95, 0], [.1, .8, .1]])
    cce = M.CategoricalCrossentropy()
    cce.update_state(y, p)
    assert cce.result() == pytest.approx((.05129 + 2.30259) / 2, abs=1e-5)
    scce = M.SparseCategoricalCrossentropy()
    scce.update_state([1, 2], p)
    assert scce.result() == pytest.approx(cce.result(), rel=1e-6)


def test_mean_and_sum():
    m = M.Mean()
    m.update_state([1.0, 2.0, 3.0])
    m.update_state([[4.0, 6.0]], sample_weight=[2.0])     # per-sample mean 5, weight 2
    assert m.result() == pytest.approx((1 + 2 + 3 + 10) / 5)
    assert m([10.0]) == pytest.approx((16 + 10) / 6)
    m.reset_state()
    assert m.result() == 0.0
    s = M.Sum()
    s.update_state([1.0, 2.0], sample_weight=[3.0, 0.5])
    s.update_state(4.0)
    assert s.result() == pytest.approx(8.0)


def test_mask_on_y_pred_weights_values():
    pred = Tensor(np.array([[[1.0], [5.0], [3.0]]], np.float32))
    pred._keras_mask = np.array([[True, False, True]])
    m = M.MeanAbsoluteError()
    m.update_state(np.zeros((1, 3, 1)), pred)
    assert m.result() == pytest.approx(2.0)     # (1 + 3) / 2 valid steps


def test_function_metric_wrapper_and_direction():
    def zzz(y_true, y_pred):
        return np.abs(np.asarray(y_true) - np.asarray(y_pred))[:, 0]

    m = M.MeanMetricWrapper(zzz, name="zzz")
    m.update_state(np.array([[1.0], [2.0]]), np.array([[0.0], [0.0]]))
    assert m.result() == pytest.approx(1.5)
    assert m._direction is None
    assert M.MeanMetricWrapper(M.mse)._direction == "down"
    assert M.BinaryAccuracy()._direction == "up"
    assert M.MeanSquaredError()._direction == "down"


# -- compile resolution, get, config -------------------------------------------------------------

@pytest.mark.parametrize("y_true, y_pred, expected", [
    (np.zeros((4, 1)), np.zeros((4, 1)), M.BinaryAccuracy),            # sigmoid (n, 1)
    (np.zeros((4, 3)), np.zeros((4, 3)), M.CategoricalAccuracy),       # one-hot
    (np.zeros(4, int), np.zeros((4, 3)), M.SparseCategoricalAccuracy),  # int (n,)
    (np.zeros((4, 1), int), np.zeros((4, 3)), M.SparseCategoricalAccuracy),  # int (n, 1)
])
@pytest.mark.parametrize("identifier", ["accuracy", "acc", "ACC"])
def test_resolve_accuracy_by_shapes(identifier, y_true, y_pred, expected):
    metric = M.resolve_compile_metric(identifier, y_true, y_pred)
    assert type(metric) is expected
    assert metric.name == identifier


def test_resolve_other_identifiers():
    y, p = np.zeros((2, 3)), np.zeros((2, 3))
    mae = M.resolve_compile_metric("mae", y, p)
    assert isinstance(mae, M.MeanAbsoluteError) and mae.name == "mae"

    def myMetric(y_true, y_pred):
        return np.zeros(len(y_true))

    wrapped = M.resolve_compile_metric(myMetric, y, p)
    assert isinstance(wrapped, M.MeanMetricWrapper) and wrapped.name == "my_metric"
    obj = M.BinaryAccuracy(name="ba")
    assert M.resolve_compile_metric(obj, y, p) is obj and obj.name == "ba"
    with pytest.raises(ValueError, match="Expected metric, received `None`"):
        M.resolve_compile_metric(None, y, p)


def test_get():
    assert type(M.get("accuracy")) is M.Accuracy
    assert type(M.get("mse")) is M.MeanSquaredError
    assert type(M.get("binary_accuracy")) is M.BinaryAccuracy
    assert type(M.get("CategoricalAccuracy")) is M.CategoricalAccuracy
    assert type(M.get("categorical_crossentropy")) is M.CategoricalCrossentropy
    assert type(M.get(M.Hinge)) is M.Hinge
    assert M.get(M.categorical_accuracy) is M.categorical_accuracy
    with pytest.raises(ValueError, match=r"^Could not interpret metric identifier: acc\. Valid names: \["):
        M.get("acc")
    with pytest.raises(ValueError, match=r"^Could not interpret metric identifier: 5\. Valid names: \["):
        M.get(5)


def test_configs_round_trip():
    assert M.BinaryAccuracy().get_config() == {"name": "binary_accuracy", "dtype": "float32",
                                               "threshold": 0.5}
    assert M.TopKCategoricalAccuracy(k=3).get_config() == {
        "name": "top_k_categorical_accuracy", "dtype": "float32", "k": 3}
    assert M.Accuracy().get_config() == {"name": "accuracy", "dtype": "float32"}
    for metric in (M.SparseCategoricalCrossentropy(ignore_class=2), M.BinaryAccuracy(threshold=.3),
                   M.MeanMetricWrapper(M.binary_accuracy, name="ba", threshold=.7)):
        again = M.deserialize(M.serialize(metric))
        assert type(again) is type(metric) and again.get_config() == metric.get_config()


def test_errors():
    with pytest.raises(TypeError, match="`y_pred` must be numeric"):
        M.accuracy([1], ["a"])
    with pytest.raises(ValueError, match="Argument `k` must be a positive integer"):
        M.TopKCategoricalAccuracy(k=0)
    with pytest.raises(ValueError, match=r"Class labels must be in \[0, 3\)"):
        M.sparse_top_k_categorical_accuracy([3], np.zeros((1, 3)), k=1)
    with pytest.raises(ValueError, match="cannot be broadcast"):
        M.Mean().update_state(np.ones((2, 3)), sample_weight=np.ones((3, 2)))
    with pytest.raises(TypeError, match="`fn` must be callable"):
        M.MeanMetricWrapper("accuracy")

    class Incomplete(M.Metric):
        pass

    with pytest.raises(NotImplementedError, match="must implement `update_state`"):
        Incomplete().update_state(1)


def test_unknown_metric_identifier_lists_the_valid_names_sorted():
    with pytest.raises(ValueError) as err:
        M.get("accuracyy")
    listed = str(err.value).split("Valid names: ", 1)[1]
    names = [n.strip(" '") for n in listed.strip("[]").split(",")]
    assert "accuracy" in names and "categorical_accuracy" in names and "AUC" not in names
    assert names == sorted(names) and "Metric" not in names
    assert all(isinstance(M.get(n), M.Metric) for n in names)
