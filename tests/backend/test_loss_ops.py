"""Crossentropies: the spec's worked values (layers.md section 21), fused gradients, errors."""

import numpy as np
import pytest

from fastkeras import backend as K

Y2 = np.array([[0.0, 1.0], [1.0, 1.0]])
P2 = np.array([[0.2, 0.6], [0.9, 0.0]])
Y3 = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
P3 = np.array([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]])


def test_binary_crossentropy_spec_values():
    out = K.binary_crossentropy(Y2, P2)
    assert out.shape == (2, 2)
    np.testing.assert_allclose(out.value.mean(axis=-1), [0.36698, 8.11173], atol=1e-5)
    np.testing.assert_allclose(out.value[1, 1], -np.log(1e-7), rtol=1e-6)  # p=0 -> 16.118
    logits = np.array([[-2.0, 30.0], [50.0, -50.0]])
    np.testing.assert_allclose(
        K.binary_crossentropy(Y2, logits, from_logits=True).value.mean(axis=-1),
        [0.06346, 25.0], atol=1e-5)


def test_categorical_crossentropy_spec_values():
    np.testing.assert_allclose(K.categorical_crossentropy(Y3, P3).value, [0.05129, 2.30259],
                               atol=1e-5)
    np.testing.assert_allclose(K.categorical_crossentropy(Y3, 2 * P3).value,
                               [0.05129, 2.30259], atol=1e-5)  # renormalised
    logits = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    np.testing.assert_allclose(K.categorical_crossentropy(Y3, logits, from_logits=True).value,
                               [1.40761, 0.40761], atol=1e-5)


@pytest.mark.parametrize("labels", [np.array([1, 2]), np.array([[1], [2]]),
                                    np.array([1.0, 2.0])])
def test_sparse_categorical_crossentropy_spec_values(labels):
    np.testing.assert_allclose(K.sparse_categorical_crossentropy(labels, P3).value,
                               [0.05129, 2.30259], atol=1e-5)
    logits = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    np.testing.assert_allclose(
        K.sparse_categorical_crossentropy(labels, logits, from_logits=True).value,
        [1.40761, 0.40761], atol=1e-5)


def test_sparse_matches_one_hot_categorical_on_a_class_axis_not_last():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.1, 1.0, (2, 4, 3))
    labels = rng.integers(0, 4, (2, 3))
    one_hot = np.moveaxis(np.eye(4)[labels], -1, 1)
    np.testing.assert_allclose(
        K.sparse_categorical_crossentropy(labels, p, axis=1).value,
        K.categorical_crossentropy(one_hot, p, axis=1).value, rtol=1e-12)


def test_float32_in_float32_out():
    out = K.categorical_crossentropy(Y3.astype(np.float32), P3.astype(np.float32))
    assert out.dtype == np.float32
    assert K.binary_crossentropy(Y2, P2.astype(np.float32)).dtype == np.float32


def test_fused_sigmoid_gradient_is_probabilities_minus_target_even_when_clipped():
    z = K.Variable(np.array([[40.0, -3.0, 0.5]]), dtype="float64")
    y = np.array([[0.0, 1.0, 1.0]])
    with K.GradientTape():
        loss = K.sum(K.binary_crossentropy(y, K.sigmoid(z)))
    np.testing.assert_allclose(loss.value, -np.log(1e-7) - np.log(1 / (1 + np.exp(3.0)))
                               - np.log(1 / (1 + np.exp(-0.5))), rtol=1e-9)
    np.testing.assert_allclose(K.gradients(loss, [z])[0].value, 1 / (1 + np.exp(-z.value)) - y,
                               rtol=1e-12)


def test_fused_softmax_gradient_is_probabilities_minus_target():
    z = K.Variable(np.array([[30.0, 0.0, -30.0], [1.0, 2.0, 3.0]]), dtype="float64")
    y = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    softmax = np.exp(z.value) / np.exp(z.value).sum(axis=1, keepdims=True)
    with K.GradientTape():
        dense = K.sum(K.categorical_crossentropy(y, K.softmax(z)))
        sparse = K.sum(K.sparse_categorical_crossentropy(np.array([2, 1]), K.softmax(z)))
    for loss in (dense, sparse):
        np.testing.assert_allclose(K.gradients(loss, [z])[0].value, softmax - y, atol=1e-15)
    np.testing.assert_allclose(dense.value, -np.log(1e-7) + 1.40761, atol=1e-5)


def test_clipped_probabilities_get_no_gradient_without_fusion():
    p = K.Variable(np.array([0.0, 0.5]), dtype="float64")
    with K.GradientTape():
        loss = K.sum(K.binary_crossentropy(np.array([1.0, 1.0]), p))
    np.testing.assert_allclose(K.gradients(loss, [p])[0].value, [0.0, -2.0])


def test_errors():
    with pytest.raises(ValueError, match=r"must have the same shape.*\(2, 3\).*\(2, 2\)"):
        K.categorical_crossentropy(Y3, P2)
    with pytest.raises(ValueError, match=r"class index 3.*\[0, 3\)"):
        K.sparse_categorical_crossentropy(np.array([0, 3]), P3)
    with pytest.raises(ValueError, match=r"class index -1"):
        K.sparse_categorical_crossentropy(np.array([0, -1]), P3)
    with pytest.raises(ValueError, match=r"expected shape \(2,\)"):
        K.sparse_categorical_crossentropy(np.array([0, 1, 2]), P3)
    with pytest.raises(ValueError, match="do not broadcast"):
        K.binary_crossentropy(np.zeros(3), np.zeros((2, 2)))
