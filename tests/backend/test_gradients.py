"""Finite-difference gradient checks (float64) for every differentiable backend op.

Each case is ``(name, f, make_inputs)``: ``f`` takes the inputs as tensors and returns a tensor;
``make_inputs(rng)`` draws float64 arrays, kept away from kinks where the op has one.
"""

import numpy as np
import pytest
from scipy import special

from fastkeras import backend as K
from backend_gradcheck import check_gradients


def normal(*shape):
    return lambda rng: rng.standard_normal(shape)


def positive(*shape):
    return lambda rng: rng.uniform(0.5, 2.0, shape)


def away(*shape, points=(0.0,), margin=0.1):
    """Normal draws kept at least ``margin`` from each kink in ``points``."""
    def draw(rng):
        x = rng.standard_normal(shape) * 2
        for p in points:
            close = np.abs(x - p) < margin
            x[close] = p + margin * np.sign(x[close] - p + 1e-12) * 2
        return x
    return draw


def unit(*shape):
    return lambda rng: rng.uniform(0.05, 0.95, shape)


def many(*draws):
    return lambda rng: [d(rng) for d in draws]


CASES = [
    # -- arithmetic with broadcasting
    ("add", lambda a, b: K.add(a, b), many(normal(3, 4), normal(4))),
    ("add_operator_scalar", lambda a: 2.5 + a, many(normal(2, 3))),
    ("subtract", lambda a, b: a - b, many(normal(2, 1, 3), normal(4, 3))),
    ("rsubtract_array", lambda a: np.ones((2, 3)) - a, many(normal(3))),
    ("multiply", lambda a, b: a * b, many(normal(2, 3), normal(2, 1))),
    ("divide", lambda a, b: a / b, many(normal(3, 2), positive(2))),
    ("rdivide", lambda a: 1.5 / a, many(positive(4))),
    ("power", lambda a, b: a ** b, many(positive(3, 2), normal(3, 2))),
    ("pow_scalar", lambda a: K.pow(a, 3), many(normal(4))),
    ("remainder", lambda a, b: a % b,
     many(lambda r: r.uniform(2.2, 2.4, (3,)), lambda r: r.uniform(1.5, 1.6, (3,)))),
    ("maximum", lambda a, b: K.maximum(a, b), many(normal(3, 4), normal(4))),
    ("minimum", lambda a, b: K.minimum(a, b), many(normal(3, 4), normal(3, 1))),
    ("np_maximum_scalar", lambda a: np.maximum(a, 0.3), many(away(5, points=(0.3,)))),
    ("negative", lambda a: -a, many(normal(3))),
    ("abs", lambda a: K.abs(a), many(away(2, 3))),
    ("np_abs", lambda a: np.abs(a), many(away(4))),
    ("square", lambda a: K.square(a), many(normal(2, 3))),
    ("sqrt", lambda a: K.sqrt(a), many(positive(2, 3))),
    ("np_sqrt", lambda a: np.sqrt(a), many(positive(4))),
    ("exp", lambda a: K.exp(a), many(normal(2, 3))),
    ("expm1", lambda a: np.expm1(a), many(normal(3))),
    ("log", lambda a: K.log(a), many(positive(2, 3))),
    ("log1p", lambda a: K.log1p(a), many(positive(3))),
    ("log2", lambda a: np.log2(a), many(positive(3))),
    ("log10", lambda a: np.log10(a), many(positive(3))),
    ("reciprocal", lambda a: np.reciprocal(a), many(positive(3))),
    ("sin", lambda a: K.sin(a), many(normal(3))),
    ("cos", lambda a: K.cos(a), many(normal(3))),
    ("tan", lambda a: K.tan(a), many(lambda r: r.uniform(-1, 1, (3,)))),
    ("tanh", lambda a: K.tanh(a), many(normal(2, 3))),
    ("erf", lambda a: K.erf(a), many(normal(4))),
    ("scipy_erf", lambda a: special.erf(a), many(normal(4))),
    ("clip", lambda a: K.clip(a, -0.5, 0.7), many(away(3, 4, points=(-0.5, 0.7)))),
    ("np_clip", lambda a: np.clip(a, -0.5, None), many(away(6, points=(-0.5,)))),
    ("identity", lambda a: K.identity(a) * 2, many(normal(3))),
    ("cast", lambda a: K.cast(a, "float64") * a, many(normal(3))),
    ("where", lambda a, b: K.where(np.array([True, False, True]), a, b),
     many(normal(2, 3), normal(3))),
    ("np_where_scalar", lambda a: np.where(np.array([[True], [False]]), a, 0.0),
     many(normal(2, 3))),
    ("switch_rows", lambda a, b: K.switch(np.array([True, False]), a, b),
     many(normal(2, 3), normal(2, 3))),
    ("getitem_basic", lambda a: a[1:, ::2], many(normal(3, 4))),
    ("getitem_int_array", lambda a: a[[0, 0, 2]], many(normal(3, 2))),
    ("getitem_bool", lambda a: a[np.array([True, False, True])], many(normal(3, 2))),
    ("getitem_tuple_mixed", lambda a: a[:, [1, 1, 0], 0], many(normal(2, 3, 2))),
    # -- reductions
    ("sum_all", lambda a: K.sum(a), many(normal(2, 3))),
    ("sum_axis", lambda a: K.sum(a, axis=1), many(normal(2, 3, 2))),
    ("sum_axes_keepdims", lambda a: K.sum(a, axis=[0, -1], keepdims=True), many(normal(2, 3, 2))),
    ("np_sum", lambda a: np.sum(a, axis=-1), many(normal(3, 2))),
    ("mean", lambda a: K.mean(a, axis=0), many(normal(3, 2))),
    ("np_mean_keepdims", lambda a: np.mean(a, axis=1, keepdims=True), many(normal(2, 3))),
    ("var", lambda a: K.var(a, axis=-1), many(normal(2, 4))),
    ("var_all", lambda a: np.var(a), many(normal(2, 3))),
    ("std", lambda a: K.std(a, axis=0, keepdims=True), many(normal(4, 2))),
    ("max", lambda a: K.max(a, axis=1), many(normal(3, 4))),
    ("np_max_all", lambda a: np.max(a), many(normal(2, 3))),
    ("min", lambda a: K.min(a, axis=(0, 2)), many(normal(2, 2, 3))),
    ("prod", lambda a: K.prod(a, axis=1), many(normal(2, 4))),
    ("prod_with_zero", lambda a: K.prod(a * np.array([1.0, 0.0, 1.0])), many(normal(3))),
    ("prod_axes", lambda a: np.prod(a, axis=(0, 2), keepdims=True), many(normal(2, 2, 3))),
    ("logsumexp", lambda a: K.logsumexp(a, axis=1), many(normal(3, 4))),
    ("logsumexp_all", lambda a: K.logsumexp(a * 30), many(normal(2, 3))),
    ("cumsum", lambda a: K.cumsum(a, axis=1), many(normal(2, 4))),
    ("np_cumsum_flat", lambda a: np.cumsum(a), many(normal(2, 3))),
    ("cumprod", lambda a: K.cumprod(a, axis=0), many(positive(3, 2))),
    # -- products
    ("dot_2d", lambda a, b: K.dot(a, b), many(normal(3, 4), normal(4, 2))),
    ("dot_3d_2d", lambda a, b: K.dot(a, b), many(normal(2, 3, 4), normal(4, 2))),
    ("dot_2d_3d", lambda a, b: K.dot(a, b), many(normal(2, 3), normal(4, 3, 2))),
    ("dot_1d_2d", lambda a, b: K.dot(a, b), many(normal(3), normal(3, 2))),
    ("dot_2d_1d", lambda a, b: K.dot(a, b), many(normal(2, 3), normal(3))),
    ("dot_1d_1d", lambda a, b: K.dot(a, b), many(normal(3), normal(3))),
    ("np_dot", lambda a, b: np.dot(a, b), many(normal(2, 3), normal(3, 2))),
    ("matmul_broadcast", lambda a, b: a @ b, many(normal(2, 3, 4), normal(4, 2))),
    ("matmul_stacks", lambda a, b: K.matmul(a, b), many(normal(2, 1, 2, 3), normal(3, 3, 2))),
    ("matmul_1d", lambda a, b: a @ b, many(normal(3), normal(2, 3, 2))),
    ("batch_dot_default", lambda a, b: K.batch_dot(a, b), many(normal(2, 3, 4), normal(2, 4, 2))),
    ("batch_dot_axes", lambda a, b: K.batch_dot(a, b, axes=(1, 2)),
     many(normal(2, 4, 1), normal(2, 3, 4))),
    ("batch_dot_2d", lambda a, b: K.batch_dot(a, b), many(normal(3, 4), normal(3, 4))),
    ("batch_dot_int_axes", lambda a, b: K.batch_dot(a, b, axes=1),
     many(normal(2, 3, 2), normal(2, 3))),
    ("bias_add", lambda a, b: K.bias_add(a, b), many(normal(2, 3, 4), normal(4))),
    ("bias_add_channels_first", lambda a, b: K.bias_add(a, b, "channels_first"),
     many(normal(2, 3, 2, 2), normal(3))),
    ("bias_add_full_bias", lambda a, b: K.bias_add(a, b, "channels_first"),
     many(normal(2, 3, 2), normal(2, 3))),
    ("l2_normalize", lambda a: K.l2_normalize(a, axis=-1), many(normal(3, 4))),
    ("l2_normalize_all", lambda a: K.l2_normalize(a), many(normal(2, 3))),
    # -- activations
    ("relu", lambda a: K.relu(a), many(away(3, 4))),
    ("relu_alpha", lambda a: K.relu(a, alpha=0.3), many(away(3, 4))),
    ("relu_max_value", lambda a: K.relu(a, max_value=1.5), many(away(3, 4, points=(0, 1.5)))),
    ("relu_threshold", lambda a: K.relu(a, alpha=0.1, max_value=3.0, threshold=1.0),
     many(away(4, 4, points=(0, 1, 3)))),
    ("elu", lambda a: K.elu(a), many(away(3, 4))),
    ("elu_alpha", lambda a: K.elu(a, alpha=0.5), many(away(3, 4))),
    ("selu", lambda a: K.selu(a), many(away(3, 4))),
    ("sigmoid", lambda a: K.sigmoid(a), many(normal(3, 4))),
    ("hard_sigmoid", lambda a: K.hard_sigmoid(a), many(away(3, 4, points=(-2.5, 2.5)))),
    ("softplus", lambda a: K.softplus(a), many(normal(3, 4))),
    ("softsign", lambda a: K.softsign(a), many(away(3, 4))),
    ("silu", lambda a: K.silu(a), many(normal(3, 4))),
    ("gelu", lambda a: K.gelu(a), many(normal(3, 4))),
    ("gelu_approximate", lambda a: K.gelu(a, approximate=True), many(normal(3, 4))),
    ("softmax", lambda a: K.softmax(a), many(normal(3, 4))),
    ("softmax_axis0", lambda a: K.softmax(a, axis=0), many(normal(3, 4))),
    ("log_softmax", lambda a: K.log_softmax(a), many(normal(3, 4))),
    # -- shape and structure
    ("reshape", lambda a: K.reshape(a, (3, -1)), many(normal(2, 3, 2))),
    ("np_reshape", lambda a: np.reshape(a, (-1,)) * np.arange(6), many(normal(2, 3))),
    ("method_reshape", lambda a: a.reshape(3, 2), many(normal(2, 3))),
    ("flatten", lambda a: K.flatten(a), many(normal(2, 3))),
    ("batch_flatten", lambda a: K.batch_flatten(a), many(normal(2, 3, 2))),
    ("transpose", lambda a: K.transpose(a), many(normal(2, 3, 4))),
    ("T", lambda a: a.T, many(normal(2, 3))),
    ("permute_dimensions", lambda a: K.permute_dimensions(a, (0, 2, 1)), many(normal(2, 3, 4))),
    ("np_moveaxis", lambda a: np.moveaxis(a, 0, -1), many(normal(2, 3, 4))),
    ("np_swapaxes", lambda a: np.swapaxes(a, 0, 2), many(normal(2, 3, 4))),
    ("expand_dims", lambda a: K.expand_dims(a, 1), many(normal(2, 3))),
    ("squeeze", lambda a: K.squeeze(a, 1), many(normal(2, 1, 3))),
    ("np_squeeze_all", lambda a: np.squeeze(a), many(normal(1, 3, 1))),
    ("concatenate", lambda a, b, c: K.concatenate([a, b, c]),
     many(normal(2, 1), normal(2, 3), normal(2, 2))),
    ("np_concatenate", lambda a, b: np.concatenate([a, b]), many(normal(1, 3), normal(2, 3))),
    ("stack", lambda a, b: K.stack([a, b], axis=1), many(normal(2, 3), normal(2, 3))),
    ("unstack", lambda a: K.unstack(a, axis=1)[0] * 2 + K.unstack(a, axis=1)[2],
     many(normal(2, 3))),
    ("tile", lambda a: K.tile(a, (2, 3)), many(normal(2, 2))),
    ("tile_promote", lambda a: K.tile(a, (2, 1, 2)), many(normal(3,))),
    ("repeat", lambda a: K.repeat(a, 3), many(normal(2, 3))),
    ("repeat_elements", lambda a: K.repeat_elements(a, 2, axis=1), many(normal(2, 3))),
    ("np_repeat_counts", lambda a: np.repeat(a, [1, 0, 3], axis=0), many(normal(3, 2))),
    ("gather", lambda a: K.gather(a, [2, 0, 2]), many(normal(3, 2))),
    ("take_axis1", lambda a: np.take(a, np.array([[1, 1], [0, 2]]), axis=1), many(normal(2, 3))),
    ("reverse", lambda a: K.reverse(a, [0, 1]), many(normal(2, 3))),
    ("broadcast_to", lambda a: K.broadcast_to(a, (2, 3, 4)), many(normal(3, 1))),
    # -- crossentropies (target and output both differentiable where Keras's are)
    ("binary_crossentropy", lambda y, p: K.binary_crossentropy(y, p),
     many(unit(3, 2), unit(3, 2))),
    ("binary_crossentropy_broadcast", lambda y, p: K.binary_crossentropy(y, p),
     many(unit(2), unit(3, 2))),
    ("binary_crossentropy_logits", lambda y, z: K.binary_crossentropy(y, z, from_logits=True),
     many(unit(3, 2), normal(3, 2))),
    ("binary_crossentropy_fused_sigmoid", lambda y, z: K.binary_crossentropy(y, K.sigmoid(z)),
     many(unit(3, 2), normal(3, 2))),
    ("categorical_crossentropy", lambda y, p: K.categorical_crossentropy(y, p),
     many(unit(3, 4), unit(3, 4))),
    ("categorical_crossentropy_axis0", lambda y, p: K.categorical_crossentropy(y, p, axis=0),
     many(unit(3, 2), unit(3, 2))),
    ("categorical_crossentropy_logits",
     lambda y, z: K.categorical_crossentropy(y, z, from_logits=True),
     many(unit(3, 4), normal(3, 4))),
    ("categorical_crossentropy_fused_softmax",
     lambda y, z: K.categorical_crossentropy(y, K.softmax(z)), many(unit(3, 4), normal(3, 4))),
    ("sparse_categorical_crossentropy",
     lambda p: K.sparse_categorical_crossentropy(np.array([0, 3, 1]), p), many(unit(3, 4))),
    ("sparse_categorical_crossentropy_logits",
     lambda z: K.sparse_categorical_crossentropy(np.array([[2], [0]]), z, from_logits=True),
     many(normal(2, 3))),
    ("sparse_categorical_crossentropy_fused_softmax",
     lambda z: K.sparse_categorical_crossentropy(np.array([2.0, 1.0]), K.softmax(z)),
     many(normal(2, 3))),
    ("sparse_categorical_crossentropy_axis1",
     lambda p: K.sparse_categorical_crossentropy(np.array([[0, 2], [1, 1]]), p, axis=1),
     many(unit(2, 3, 2))),
    # -- dropout: a fixed seed gives the same mask on every evaluation
    ("dropout", lambda a: K.dropout(a, 0.4, seed=3), many(normal(4, 5))),
    ("dropout_noise_shape", lambda a: K.dropout(a, 0.5, noise_shape=(None, 1, 3), seed=1),
     many(normal(2, 3, 3))),
    # -- compositions: the tape accumulates gradients over shared inputs
    ("shared_input", lambda a: K.sum(a * a, axis=1) + K.mean(K.exp(a), axis=1),
     many(normal(2, 3))),
    ("dense_layer", lambda x, w, b: K.softmax(K.bias_add(K.dot(x, w), b)),
     many(normal(4, 3), normal(3, 2), normal(2))),
]


@pytest.mark.parametrize("name,f,make_inputs", CASES, ids=[c[0] for c in CASES])
def test_gradient_matches_finite_differences(name, f, make_inputs):
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    check_gradients(f, make_inputs(rng))
