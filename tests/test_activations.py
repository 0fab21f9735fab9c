"""fastkeras.activations: Keras 3 formulas and signatures on Tensors and arrays (spec §15)."""

import math

import numpy as np
import pytest
import scipy.special

from fastkeras import activations as A
from fastkeras.backend.tensor import GradientTape, Tensor, Variable, backprop
from fastkeras.kernels import dense as kd

X = np.array([-4, -1, 0, 0.5, 2, 4], np.float32)

# Values the spec ran on Keras 3 at X.
SPEC = {
    "sigmoid": [0.01799, 0.26894, 0.5, 0.62246, 0.8808, 0.98201],
    "elu": [-0.98168, -0.63212, 0, 0.5, 2, 4],
    "selu": [-1.7259, -1.11133, 0, 0.52535, 2.1014, 4.2028],
    "softplus": [0.01815, 0.31326, 0.69315, 0.97408, 2.12693, 4.01815],
    "hard_sigmoid": [0, 0.33333, 0.5, 0.58333, 0.83333, 1],
    "gelu": [-0.00013, -0.15866, 0, 0.34573, 1.9545, 3.99987],
    "swish": [-0.07194, -0.26894, 0, 0.31123, 1.76159, 3.92806],
    "softmax": [0.00028, 0.00566, 0.01538, 0.02536, 0.11364, 0.83969],
}


@pytest.mark.parametrize("name", sorted(SPEC))
def test_spec_values(name):
    out = A.get(name)(X)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    np.testing.assert_allclose(out, SPEC[name], atol=6e-6)


def test_spec_relu_example_and_keras_doc_examples():
    np.testing.assert_allclose(A.relu(X, negative_slope=0.1, max_value=3, threshold=1),
                               [-0.5, -0.2, -0.1, -0.05, 2, 3], rtol=1e-6)
    x = [-10, -5, 0.0, 5, 10]
    np.testing.assert_array_equal(A.relu(x), [0, 0, 0, 5, 10])
    np.testing.assert_array_equal(A.relu(x, negative_slope=0.5), [-5, -2.5, 0, 5, 10])
    np.testing.assert_array_equal(A.relu(x, max_value=5.0), [0, 0, 0, 5, 5])
    np.testing.assert_array_equal(A.relu(x, threshold=5.0), [0, 0, 0, 0, 10])


def test_relu_keras2_alpha_alias():
    np.testing.assert_array_equal(A.relu(X, alpha=0.5), A.relu(X, negative_slope=0.5))
    with pytest.raises(ValueError, match="not both"):
        A.relu(X, negative_slope=0.1, alpha=0.2)


def test_other_formulas_against_numpy():
    x = np.linspace(-7, 7, 141)
    sig = scipy.special.expit(x)
    cases = {
        A.leaky_relu: np.where(x >= 0, x, 0.2 * x),
        A.relu6: np.clip(x, 0, 6),
        A.tanh: np.tanh(x),
        A.softsign: x / (1 + np.abs(x)),
        A.exponential: np.exp(x),
        A.linear: x,
        A.hard_silu: x * np.clip(x / 6 + 0.5, 0, 1),
        A.hard_swish: x * np.clip(x / 6 + 0.5, 0, 1),
        A.mish: x * np.tanh(np.logaddexp(0, x)),
        A.silu: x * sig,
    }
    for fn, expected in cases.items():
        np.testing.assert_allclose(fn(x), expected, rtol=1e-13, atol=1e-13, err_msg=fn.__name__)
    c = math.sqrt(2 / math.pi)
    np.testing.assert_allclose(A.gelu(x, approximate=True),
                               0.5 * x * (1 + np.tanh(c * (x + 0.044715 * x ** 3))), rtol=1e-13,
                               atol=1e-13)  # 1 + tanh cancels in both for x << 0
    np.testing.assert_allclose(A.elu(x, alpha=0.5), np.where(x > 0, x, 0.5 * np.expm1(x)),
                               rtol=1e-13)
    np.testing.assert_allclose(A.leaky_relu(x, negative_slope=0.3), np.where(x >= 0, x, 0.3 * x))


def test_softmax_axis_and_ranks():
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    np.testing.assert_allclose(A.softmax(x, axis=1), scipy.special.softmax(x, axis=1), rtol=1e-13)
    np.testing.assert_allclose(A.softmax(x), scipy.special.softmax(x, axis=-1), rtol=1e-13)
    np.testing.assert_allclose(A.softmax(np.array([1.0, 1.0])), [0.5, 0.5])
    with pytest.raises(ValueError, match="argument axis: expected an integer"):
        A.softmax(x, axis=1.0)


def test_input_types():
    assert A.relu([[-1, 2]]).dtype == np.float32  # integers are computed in floatx
    assert A.tanh(np.zeros(2, np.float64)).dtype == np.float64
    assert A.linear([1, 2]) == [1, 2]
    t = Tensor(np.array([-1.0, 1.0], np.float32))
    out = A.relu(t)
    assert isinstance(out, Tensor)
    np.testing.assert_array_equal(out.value, [0, 1])


def _fd_check(fn, x):
    v = Variable(x, dtype="float64")
    w = np.random.default_rng(1).standard_normal(x.shape)
    with GradientTape():
        loss = np.sum(fn(v) * w)
    (g,) = backprop(loss, [v])
    num = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = 1e-6
        num[i] = (np.sum(fn(x + e) * w) - np.sum(fn(x - e) * w)) / 2e-6
    np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("fn", [
    A.relu, A.leaky_relu, A.relu6, A.sigmoid, A.tanh, A.softmax, A.elu, A.selu, A.softplus,
    A.softsign, A.hard_sigmoid, A.silu, A.gelu, A.exponential, A.hard_silu, A.mish,
    lambda t: A.relu(t, 0.1, 3.0, 1.0), lambda t: A.elu(t, 0.4), lambda t: A.softmax(t, axis=0),
    lambda t: A.gelu(t, approximate=True), lambda t: A.leaky_relu(t, 0.05)])
def test_gradients_on_tensors_match_finite_differences(fn):
    x = np.array([[-4.3, -2.1, -0.7, 0.4], [1.3, 2.6, 4.1, 6.6]])
    _fd_check(fn, x)


def test_sigmoid_and_softmax_record_on_their_logits():
    x = Variable(np.zeros((2, 3)))
    with GradientTape():
        s, p = A.softmax(x), A.sigmoid(x)
    assert s.op == "softmax" and s.parents[0] is x
    assert p.op == "sigmoid" and p.parents[0] is x


def test_get_and_canonical_names():
    assert A.get(None) is A.linear
    assert A.get("swish") is A.silu and A.get("hard_swish") is A.hard_silu
    assert A.get("relu") is A.relu
    fn = lambda t: t  # noqa: E731
    assert A.get(fn) is fn
    assert A.serialize(A.get("swish")) == "silu"
    assert A.serialize(None) == "linear" and A.serialize(A.linear) == "linear"
    for name in A.ALL_OBJECTS:
        assert A.get(A.serialize(A.get(name))) is A.get(name)


def test_custom_function_round_trip():
    def twice(t):
        return 2 * t
    cfg = A.serialize(twice)
    assert cfg["class_name"] == "function" and cfg["config"] == "twice"
    assert A.deserialize(cfg, custom_objects={"twice": twice}) is twice
    keras_cfg = {"module": "keras.activations", "class_name": "function", "config": "relu",
                 "registered_name": "relu"}
    assert A.deserialize(keras_cfg) is A.relu


def test_kernel_code_only_for_builtins():
    assert A.kernel_code(A.relu)[0] == kd.RELU
    assert A.kernel_code(A.swish)[0] == kd.SILU
    code, params = A.kernel_code(A.leaky_relu)
    assert code == kd.RELU and params[0] == 0.2
    assert A.kernel_code(lambda t: t) is None


@pytest.mark.parametrize("bad", ["foo", 3, {"config": {}}])
def test_unknown_identifier(bad):
    with pytest.raises(ValueError, match="Could not interpret activation function identifier"):
        A.get(bad)


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match=r"^Could not interpret activation function "
                                         r"identifier: foo\. .*relu"):
        A.get("foo")


def test_bad_parameters():
    with pytest.raises(ValueError, match="argument negative_slope: expected a float"):
        A.relu(X, negative_slope="a")
    with pytest.raises(ValueError, match="argument alpha: expected a float"):
        A.elu(X, alpha=None)
