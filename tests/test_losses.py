"""Losses: spec section 21 examples, reductions, masks, finite-difference gradients, fused grads."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import special

from fastkeras import backend as K
from fastkeras import losses as L
from fastkeras.backend.tensor import GradientTape, Tensor, backprop

Y2 = np.array([[0, 1], [1, 1]], np.float32)
P2 = np.array([[.2, .6], [.9, 0]], np.float32)
Y3 = np.array([[0, 1, 0], [0, 0, 1]], np.float32)
P3 = np.array([[.05, .95, 0], [.1, .8, .1]], np.float32)


def value(t):
    return np.asarray(t.value if isinstance(t, Tensor) else t)


# -- spec examples ------------------------------------------------------------------------------

def test_regression_examples():
    np.testing.assert_allclose(value(L.mean_squared_error(Y2, P2)), [.1, .505], rtol=1e-6)
    np.testing.assert_allclose(value(L.MeanSquaredError()(Y2, P2)), .3025, rtol=1e-6)
    np.testing.assert_allclose(value(L.mean_absolute_error(Y2, P2)), [.3, .55], rtol=1e-6)


def test_binary_crossentropy_examples():
    np.testing.assert_allclose(value(L.binary_crossentropy(Y2, P2)), [.36698, 8.11173],
                               atol=1e-5)
    # p = 0 is clipped to epsilon: -log(1e-7)
    one = value(L.binary_crossentropy(np.array([[1.0]]), np.array([[0.0]], np.float32)))
    np.testing.assert_allclose(one, [-np.log(1e-7)], rtol=1e-6)  # 16.118
    np.testing.assert_allclose(value(L.BinaryCrossentropy()(Y2, P2)), 4.23936, atol=1e-5)
    logits = np.array([[-2, 30], [50, -50]], np.float32)
    np.testing.assert_allclose(value(L.binary_crossentropy(Y2, logits, from_logits=True)),
                               [.06346, 25.0], atol=1e-5)


def test_categorical_crossentropy_examples():
    np.testing.assert_allclose(value(L.categorical_crossentropy(Y3, P3)), [.05129, 2.30259],
                               atol=1e-5)
    np.testing.assert_allclose(value(L.categorical_crossentropy(Y3, 2 * P3)), [.05129, 2.30259],
                               atol=1e-5)
    for labels in ([1, 2], [[1], [2]]):
        np.testing.assert_allclose(value(L.sparse_categorical_crossentropy(labels, P3)),
                                   [.05129, 2.30259], atol=1e-5)
    logits = np.array([[1, 2, 3], [1, 2, 3]], np.float32)
    np.testing.assert_allclose(
        value(L.categorical_crossentropy(Y3, logits, from_logits=True)), [1.40761, .40761],
        atol=1e-5)


def test_sample_weights_are_not_normalised():
    mse = L.MeanSquaredError()
    assert value(mse(Y2, P2, sample_weight=[1, 0])) == pytest.approx(.05, rel=1e-6)
    assert value(mse(Y2, P2, sample_weight=[2, 0])) == pytest.approx(.1, rel=1e-6)
    # (n, 1) weights are squeezed to the per-sample values' rank
    assert value(mse(Y2, P2, sample_weight=[[2], [0]])) == pytest.approx(.1, rel=1e-6)


@pytest.mark.parametrize("reduction, expected", [
    ("sum_over_batch_size", (.1 * 2 + .505 * 1) / 2),
    ("mean", (.1 * 2 + .505 * 1) / 2),
    ("sum", .1 * 2 + .505 * 1),
    ("mean_with_sample_weight", (.1 * 2 + .505 * 1) / 3),
    ("none", [.2, .505]),
    (None, [.2, .505]),
])
def test_reductions(reduction, expected):
    out = L.MeanSquaredError(reduction=reduction)(Y2, P2, sample_weight=[2, 1])
    np.testing.assert_allclose(value(out), expected, rtol=1e-6)


def test_masked_loss_is_the_mean_over_valid_steps():
    pred = Tensor(np.array([[[3.0], [0.0], [3.0]]], np.float32))
    pred._keras_mask = np.array([[True, False, True]])
    loss = L.MeanSquaredError()(np.zeros((1, 3, 1), np.float32), pred)
    assert value(loss) == 9.0
    # with 'sum' the mask is a plain 0/1 weight
    assert value(L.MeanSquaredError(reduction="sum")(np.zeros((1, 3, 1)), pred)) == 18.0
    # mask and sample weights multiply
    weighted = L.MeanSquaredError()(np.zeros((1, 3, 1)), pred, sample_weight=[[1.0, 1.0, 0.0]])
    assert value(weighted) == pytest.approx(4.5)


def test_sparse_ignore_class_masks_entries():
    labels = np.array([1, 2, 0])
    probs = np.array([[.1, .8, .1], [.2, .2, .6], [.3, .3, .4]], np.float32)
    per_sample = L.sparse_categorical_crossentropy(labels, probs, ignore_class=2)
    np.testing.assert_allclose(value(per_sample), [-np.log(.8), 0, -np.log(.3)], rtol=1e-6)
    np.testing.assert_array_equal(per_sample._keras_mask, [True, False, True])
    total = L.SparseCategoricalCrossentropy(ignore_class=2)(labels, probs)
    assert value(total) == pytest.approx((-np.log(.8) - np.log(.3)) / 2, rel=1e-6)


def test_rank_fix_up_and_broadcasting():
    y = np.array([1.0, 2.0, 3.0], np.float32)
    p = np.array([[1.5], [2.0], [2.0]], np.float32)
    np.testing.assert_allclose(value(L.mean_squared_error(y, p)), [.25, 0, 1], rtol=1e-6)
    np.testing.assert_allclose(value(L.MeanSquaredError()(y, p)), 1.25 / 3, rtol=1e-6)
    # (n, 1) outputs against (n, 3) targets broadcast, as Keras 3 does
    y3 = np.array([[0.0, 1.0, 2.0]], np.float32)
    np.testing.assert_allclose(value(L.mean_squared_error(y3, [[1.0]])), [(1 + 0 + 1) / 3])


def test_label_smoothing():
    y = np.array([[0.0, 1.0]], np.float32)
    p = np.array([[0.3, 0.7]], np.float32)
    s = 0.2
    ys = y * (1 - s) + 0.5 * s
    expected = -np.mean(ys * np.log(p) + (1 - ys) * np.log(1 - p))
    got = value(L.BinaryCrossentropy(label_smoothing=s)(y, p))
    assert got == pytest.approx(expected, rel=1e-6)
    yc = y * (1 - s) + s / 2
    got = value(L.CategoricalCrossentropy(label_smoothing=s)(y, p))
    assert got == pytest.approx(-np.sum(yc * np.log(p)), rel=1e-6)


def test_other_losses_against_numpy_formulas():
    rng = np.random.default_rng(1)
    t = rng.random((4, 5))
    p = rng.random((4, 5)) + 0.1
    z = rng.normal(size=(4, 5)) * 2
    yb = (rng.random((4, 5)) > .5).astype(float)
    onehot = np.eye(5)[[0, 3, 1, 4]]
    eps = 1e-7
    cases = [
        (L.mape, t, p, 100 * np.mean(np.abs(t - p) / np.maximum(np.abs(t), eps), -1)),
        (L.msle, t, p, np.mean((np.log(p + 1) - np.log(t + 1)) ** 2, -1)),
        (L.huber, t, z, np.mean(np.where(np.abs(z - t) <= 1, .5 * (z - t) ** 2,
                                          np.abs(z - t) - .5), -1)),
        (L.log_cosh, t, z, np.mean(np.log(np.cosh(z - t)), -1)),
        (L.hinge, yb, z, np.mean(np.maximum(1 - (2 * yb - 1) * z, 0), -1)),
        (L.squared_hinge, yb, z, np.mean(np.maximum(1 - (2 * yb - 1) * z, 0) ** 2, -1)),
        (L.categorical_hinge, onehot, z,
         np.maximum(np.max((1 - onehot) * z, -1) - np.sum(onehot * z, -1) + 1, 0)),
        (L.kld, t, np.clip(p, 0, 1), np.sum(np.clip(t, eps, 1) * np.log(
            np.clip(t, eps, 1) / np.clip(p, eps, 1)), -1)),
        (L.poisson, t, p, np.mean(p - t * np.log(p + eps), -1)),
        (L.cosine_similarity, t, z, -np.sum(t * z, -1) / (np.linalg.norm(t, axis=-1)
                                                          * np.linalg.norm(z, axis=-1))),
    ]
    for fn, a, b, expected in cases:
        np.testing.assert_allclose(value(fn(a, b)), expected, rtol=1e-10, err_msg=fn.__name__)
    # hinge keeps -1/1 labels as given
    pm = 2 * yb - 1
    np.testing.assert_allclose(value(L.hinge(pm, z)), np.mean(np.maximum(1 - pm * z, 0), -1))


# -- gradients ----------------------------------------------------------------------------------

def tape_grad(fn, p):
    x = Tensor(np.array(p, np.float64))
    with GradientTape() as tape:
        tape.watch(x)
        out = fn(x)
    return backprop(out, [x])[0], value(out)


def fd_grad(fn, p, h=1e-6):
    p = np.array(p, np.float64)
    grad = np.zeros_like(p)
    for i in np.ndindex(p.shape):
        up, down = p.copy(), p.copy()
        up[i] += h
        down[i] -= h
        grad[i] = (np.sum(value(fn(Tensor(up)))) - np.sum(value(fn(Tensor(down))))) / (2 * h)
    return grad


RNG = np.random.default_rng(5)
T = RNG.random((3, 4))
PR = RNG.uniform(0.1, 0.9, (3, 4))
Z = RNG.normal(size=(3, 4)) * 1.5
YB = (RNG.random((3, 4)) > .5).astype(float)
OH = np.eye(4)[[2, 0, 3]]
LAB = np.array([2, 0, 3])
SW = np.array([0.5, 2.0, 1.0])

GRAD_CASES = {
    "mse": (lambda p: L.mean_squared_error(T, p), PR),
    "mae": (lambda p: L.mean_absolute_error(T, p), PR),
    "mape": (lambda p: L.mape(T, p), PR),
    "msle": (lambda p: L.msle(T, p), PR),
    "huber": (lambda p: L.huber(T, p, delta=0.8), Z),
    "log_cosh": (lambda p: L.log_cosh(T, p), Z),
    "hinge": (lambda p: L.hinge(YB, p), Z),
    "squared_hinge": (lambda p: L.squared_hinge(YB, p), Z),
    "categorical_hinge": (lambda p: L.categorical_hinge(OH, p), Z),
    "kld": (lambda p: L.kld(OH * 0.9 + 0.025, p), PR),
    "poisson": (lambda p: L.poisson(T, p), PR),
    "cosine": (lambda p: L.cosine_similarity(T, p), Z),
    "cosine_axis0": (lambda p: L.cosine_similarity(T, p, axis=0), Z),
    "bce": (lambda p: L.binary_crossentropy(YB, p), PR),
    "bce_logits": (lambda p: L.binary_crossentropy(YB, p, from_logits=True), Z),
    "bce_smooth_axis0": (lambda p: L.binary_crossentropy(YB, p, label_smoothing=.1, axis=0), PR),
    "cce": (lambda p: L.categorical_crossentropy(OH, p), PR),
    "cce_logits": (lambda p: L.categorical_crossentropy(OH, p, from_logits=True), Z),
    "cce_smooth": (lambda p: L.categorical_crossentropy(OH, p, label_smoothing=.2), PR),
    "scce": (lambda p: L.sparse_categorical_crossentropy(LAB, p), PR),
    "scce_logits": (lambda p: L.sparse_categorical_crossentropy(LAB, p, from_logits=True), Z),
    "scce_ignore": (lambda p: L.sparse_categorical_crossentropy(LAB, p, ignore_class=0), PR),
    "mse_class_sw": (lambda p: L.MeanSquaredError(dtype="float64")(T, p, sample_weight=SW), PR),
    "mae_class_sum": (lambda p: L.MeanAbsoluteError(reduction="sum", dtype="float64")(T, p), PR),
    "bce_class_mwsw": (lambda p: L.BinaryCrossentropy(
        reduction="mean_with_sample_weight", dtype="float64")(YB, p, sample_weight=SW), PR),
    "cce_class_none": (lambda p: L.CategoricalCrossentropy(
        reduction="none", dtype="float64")(OH, p, sample_weight=SW), PR),
    "scce_class_ignore": (lambda p: L.SparseCategoricalCrossentropy(
        ignore_class=3, dtype="float64")(LAB, p), PR),
    "wrapper_rank_fix": (lambda p: L.LossFunctionWrapper(
        L.mean_squared_error, dtype="float64")(T[:, :1], p[:, :1].reshape(-1)), PR),
}


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_gradient_matches_finite_differences(name):
    fn, p = GRAD_CASES[name]
    grad, _ = tape_grad(fn, p)
    np.testing.assert_allclose(grad, fd_grad(fn, p), rtol=1e-6, atol=1e-8)


def test_masked_loss_gradient():
    mask = np.array([[True, False, True]])

    def fn(p):
        p._keras_mask = mask
        return L.MeanSquaredError(dtype="float64")(np.zeros((1, 3, 1)), p)
    p = np.array([[[3.0], [0.5], [2.0]]])
    grad, out = tape_grad(fn, p)
    assert out == pytest.approx((9 + 4) / 2)
    np.testing.assert_allclose(grad, fd_grad(fn, p), rtol=1e-6, atol=1e-8)
    assert grad[0, 1, 0] == 0


# -- fused softmax / sigmoid gradients ----------------------------------------------------------

def loss_and_logit_grad(loss, y, logits, activation):
    z = Tensor(np.array(logits, np.float64))
    with GradientTape() as tape:
        tape.watch(z)
        probs = activation(z)
        out = loss(y, probs)
    return out, backprop(out, [z])[0]


def composed_softmax(z):
    e = K.exp(z)
    return e / K.sum(e, axis=-1, keepdims=True)


def composed_sigmoid(z):
    return 1.0 / (1.0 + K.exp(-z))


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2 ** 16), st.sampled_from(["cce", "scce", "bce"]),
       st.sampled_from([None, "sw"]))
def test_fused_gradient_equals_composed_where_clipping_inactive(seed, kind, weights):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(5, 4))
    sw = rng.random(5) if weights else None
    if kind == "bce":
        y = (rng.random((5, 4)) > .5).astype(float)
        loss, fused_act, plain_act = L.BinaryCrossentropy(dtype="float64"), K.sigmoid, \
            composed_sigmoid
    else:
        labels = rng.integers(0, 4, 5)
        y = labels if kind == "scce" else np.eye(4)[labels]
        cls = L.SparseCategoricalCrossentropy if kind == "scce" else L.CategoricalCrossentropy
        loss, fused_act, plain_act = cls(dtype="float64"), K.softmax, composed_softmax

    def call(yv, pv):
        return loss(yv, pv, sample_weight=sw)
    fused_out, fused = loss_and_logit_grad(call, y, logits, fused_act)
    plain_out, plain = loss_and_logit_grad(call, y, logits, plain_act)
    assert value(fused_out) == pytest.approx(value(plain_out), rel=1e-12)
    np.testing.assert_allclose(fused, plain, rtol=1e-9, atol=1e-12)


def test_fused_loss_is_one_node_on_the_logits():
    z = Tensor(np.zeros((2, 3), np.float32))
    with GradientTape() as tape:
        tape.watch(z)
        out = L.CategoricalCrossentropy()(np.eye(3)[:2], K.softmax(z))
        out_b = L.BinaryCrossentropy()(np.ones((2, 3)), K.sigmoid(z))
    assert out.parents[0] is z
    assert out_b.parents[0] is z


def test_fused_gradient_stays_finite_where_composed_overflows():
    logits = np.array([[800.0, 0.0, -800.0]])
    y = np.array([[0.0, 0.0, 1.0]])
    loss = L.CategoricalCrossentropy(dtype="float64")
    with np.errstate(over="ignore", invalid="ignore"):
        _, composed = loss_and_logit_grad(loss, y, logits, composed_softmax)
    assert np.all(np.isnan(composed))
    out, fused = loss_and_logit_grad(loss, y, logits, K.softmax)
    np.testing.assert_allclose(fused, special.softmax(logits, -1) - y, atol=1e-15)
    assert value(out) == pytest.approx(-np.log(1e-7), rel=1e-9)  # forward keeps Keras's clip

    bce = L.BinaryCrossentropy(dtype="float64")
    zb = np.array([[-900.0, 900.0]])
    yb = np.array([[1.0, 0.0]])
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        _, composed_b = loss_and_logit_grad(bce, yb, zb, composed_sigmoid)
    assert np.isnan(composed_b[0, 0])
    _, fused_b = loss_and_logit_grad(bce, yb, zb, K.sigmoid)
    np.testing.assert_allclose(fused_b, (special.expit(zb) - yb) / 2, atol=1e-15)


# -- ids, configs, errors -----------------------------------------------------------------------

def test_identifiers():
    for name in ("mse", "MSE", "mean_squared_error"):
        assert L.get(name) is L.mean_squared_error
    for name in ("mae", "MAE", "mean_absolute_error"):
        assert L.get(name) is L.mean_absolute_error
    for name in ("binary_crossentropy", "bce", "BCE"):
        assert L.get(name) is L.binary_crossentropy
    assert L.get("categorical_crossentropy") is L.categorical_crossentropy
    assert L.get("sparse_categorical_crossentropy") is L.sparse_categorical_crossentropy
    assert isinstance(L.get("CategoricalCrossentropy"), L.CategoricalCrossentropy)
    assert isinstance(L.get(L.Huber), L.Huber)
    custom = L.MeanAbsoluteError()
    assert L.get(custom) is custom and L.get(None) is None
    got = L.get({"class_name": "BinaryCrossentropy", "config": {"from_logits": True}})
    assert got.from_logits is True
    with pytest.raises(ValueError, match=r"^Could not interpret loss identifier: cce\. Valid names: \["):
        L.get("cce")
    with pytest.raises(ValueError, match=r"^Could not interpret loss identifier: 3\. Valid names: \["):
        L.get(3)


def test_configs():
    assert L.BinaryCrossentropy().get_config() == {
        "name": "binary_crossentropy", "reduction": "sum_over_batch_size",
        "from_logits": False, "label_smoothing": 0.0, "axis": -1}
    assert L.SparseCategoricalCrossentropy().get_config() == {
        "name": "sparse_categorical_crossentropy", "reduction": "sum_over_batch_size",
        "from_logits": False, "ignore_class": None}
    assert L.MeanSquaredError().get_config() == {
        "name": "mean_squared_error", "reduction": "sum_over_batch_size"}
    cce = L.CategoricalCrossentropy(from_logits=True, label_smoothing=.1, reduction="sum")
    again = L.deserialize(L.serialize(cce))
    assert type(again) is L.CategoricalCrossentropy and again.get_config() == cce.get_config()
    wrapper = L.LossFunctionWrapper(L.huber, name="h", delta=2.0)
    assert wrapper.get_config() == {"name": "h", "reduction": "sum_over_batch_size",
                                    "fn": "huber", "delta": 2.0}
    back = L.LossFunctionWrapper.from_config(wrapper.get_config())
    assert back.fn is L.huber and back._fn_kwargs == {"delta": 2.0}
    assert L.serialize(L.mse) == "mean_squared_error"


def test_custom_loss_subclass():
    class Quartic(L.Loss):
        def call(self, y_true, y_pred):
            return K.mean((y_pred - y_true) ** 4, axis=-1)

    loss = Quartic(dtype="float64")
    assert loss.name.startswith("quartic")
    grad, out = tape_grad(lambda p: loss(T, p), PR)
    assert out == pytest.approx(np.mean((PR - T) ** 4), rel=1e-12)
    np.testing.assert_allclose(grad, 4 * (PR - T) ** 3 / PR.size, rtol=1e-9)

    class Incomplete(L.Loss):
        pass

    with pytest.raises(NotImplementedError, match="must implement `call"):
        Incomplete()(T, PR)


def test_errors():
    with pytest.raises(ValueError, match="Invalid value for argument `reduction`"):
        L.MeanSquaredError(reduction="avg")
    with pytest.raises(ValueError, match="Arguments `target` and `output` must have the same "
                                         r"shape. Received: target.shape=\(2, 3\)"):
        L.categorical_crossentropy(Y3, P2)
    with pytest.raises(ValueError, match="must have the same shape"):
        L.binary_crossentropy(Y3, P2)
    with pytest.warns(SyntaxWarning, match="expected y_pred.shape to be"):
        L.categorical_crossentropy([[1.0]], [[1.0]])
    with pytest.raises(ValueError, match="outside the valid range"):
        L.sparse_categorical_crossentropy([1, 3], P3)
    with pytest.raises(ValueError, match="outside the valid range"):
        L.SparseCategoricalCrossentropy()([-1, 0], P3)
    with pytest.raises(ValueError, match="non-finite class labels"):
        L.sparse_categorical_crossentropy([np.nan, 0], P3)
    with pytest.raises(ValueError, match="`label_smoothing` must be a float in"):
        L.BinaryCrossentropy(label_smoothing=1.5)
    with pytest.raises(ValueError, match="`axis` must be of type `int`"):
        L.categorical_crossentropy(Y3, P3, axis=True)
    with pytest.raises(TypeError, match="`y_pred` must be numeric"):
        L.mean_squared_error(Y2, np.array([["a", "b"], ["c", "d"]]))
    with pytest.raises(TypeError, match="`y_true` must be numeric"):
        L.mean_squared_error(np.array([["a", "b"], ["c", "d"]]), P2)
    with pytest.raises(ValueError, match="cannot be broadcast together"):
        L.mean_squared_error(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="The loss values and `sample_weight`"):
        L.MeanSquaredError()(Y2, P2, sample_weight=[1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="`sample_weight` must be numeric"):
        L.MeanSquaredError()(Y2, P2, sample_weight=["a", "b"])
    with pytest.raises(TypeError, match="`fn` must be callable"):
        L.LossFunctionWrapper("mse")
    with pytest.raises(ValueError, match="at least one axis"):
        L.mean_squared_error(1.0, 2.0)


def test_inputs_are_not_mutated():
    y, p = Y2.copy(), P2.copy()
    L.BinaryCrossentropy(label_smoothing=.3)(y, p, sample_weight=np.array([1.0, 2.0]))
    np.testing.assert_array_equal(y, Y2)
    np.testing.assert_array_equal(p, P2)


def test_unknown_loss_identifier_lists_the_valid_names_sorted():
    with pytest.raises(ValueError) as err:
        L.get("mean_sqared_error")
    listed = str(err.value).split("Valid names: ", 1)[1]
    names = [n.strip(" '") for n in listed.strip("[]").split(",")]
    assert "mean_squared_error" in names and "mse" in names and "Huber" in names
    assert names == sorted(names) and "Loss" not in names
    assert all(callable(L.get(n)) for n in names)
