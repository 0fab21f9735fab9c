"""Layer base class: build/call protocol, weights, losses, masks, training flag, config, errors."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fastkeras import backend as K
from fastkeras.backend.tensor import GradientTape, Tensor, backprop
from fastkeras.engine.base_layer import Layer
from fastkeras.engine.input_layer import Input
from fastkeras.engine.input_spec import InputSpec


@pytest.fixture(autouse=True)
def _fresh_names():
    K.clear_session()


class MyLayer(Layer):
    """The classic Keras 2 custom-layer tutorial (spec §0), verbatim apart from the import."""

    def __init__(self, output_dim, **kwargs):
        self.output_dim = output_dim
        super(MyLayer, self).__init__(**kwargs)

    def build(self, input_shape):
        self.kernel = self.add_weight(name="kernel", shape=(input_shape[1], self.output_dim),
                                      initializer="uniform", trainable=True)
        super(MyLayer, self).build(input_shape)

    def call(self, x):
        return K.dot(x, self.kernel)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)


class Probe(Layer):
    """Records the training flag and mask it is called with."""

    def __init__(self, default=None, **kwargs):
        super().__init__(**kwargs)
        self.default = default
        self.seen = []

    def call(self, inputs, training=None, mask=None):
        self.seen.append((training, None if mask is None else np.asarray(mask).copy()))
        return inputs


class MaskMaker(Layer):
    """Masks timesteps whose features are all zero (a small Masking)."""

    supports_masking = True

    def call(self, inputs):
        return inputs

    def compute_mask(self, inputs, mask=None):
        return np.any(np.asarray(inputs) != 0, axis=-1)


class NoMask(Layer):
    def call(self, inputs):
        return inputs * 2.0


def test_tutorial_layer_computes_x_dot_kernel_and_shapes():
    layer = MyLayer(32, input_shape=(16,))
    x = np.random.default_rng(0).normal(size=(5, 16)).astype(np.float32)
    out = layer(x)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    np.testing.assert_allclose(out, x @ layer.kernel.numpy(), rtol=1e-5, atol=1e-6)
    k = layer.kernel.numpy()
    assert k.shape == (16, 32) and np.all(np.abs(k) <= 0.05)  # 'uniform' is U[-0.05, 0.05]
    assert layer._batch_input_shape == (None, 16)
    assert layer(Input((16,))).shape == (None, 32)
    cfg = layer.get_config()
    assert cfg["output_dim"] == 32 and cfg["name"] == "my_layer" and cfg["trainable"] is True


def test_tutorial_layer_gradient_matches_finite_differences():
    layer = MyLayer(3)
    x = np.random.default_rng(1).normal(size=(4, 5)).astype(np.float64)
    layer(x)
    w = layer.kernel
    with GradientTape():
        loss = K.sum(K.square(layer(Tensor(x))))
    (grad,) = backprop(loss, [w])
    kernel = w.numpy().astype(np.float64)
    numeric = np.zeros_like(kernel)
    eps = 1e-3
    for i in np.ndindex(kernel.shape):
        for sign in (1, -1):
            k = kernel.copy()
            k[i] += sign * eps
            numeric[i] += sign * np.sum((x @ k) ** 2) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=1e-3, atol=1e-3)


def test_build_gets_plain_tuple_once_and_locks_state():
    shapes = []

    class B(Layer):
        def build(self, input_shape):
            shapes.append(input_shape)
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")

        def call(self, x):
            return x * self.w

    eager, symbolic = B(), B()
    eager(np.ones((3, 4)))
    eager(np.ones((3, 4)))
    symbolic(Input((4,)))
    assert shapes == [(3, 4), (None, 4)]
    assert eager.built and symbolic.built
    with pytest.raises(ValueError, match="You cannot add new elements of state"):
        eager.add_weight(shape=(1,))


def test_layers_without_build_are_built_at_construction():
    assert NoMask().built is True
    assert MyLayer(2).built is False


def test_add_weight_before_super_init_raises_and_plain_attributes_work():
    class Early(Layer):
        def __init__(self):
            self.units = 3
            self.add_weight(shape=(1,))

    with pytest.raises(RuntimeError, match="In layer 'Early', you forgot to call "
                                           "`super\\(\\).__init__\\(\\)`"):
        Early()
    assert MyLayer(7).output_dim == 7


def test_add_weight_keras2_positional_order_and_defaults():
    layer = NoMask(name="lay")
    k = layer.add_weight("kernel", (3, 4))
    assert k.name == "kernel" and k.path == "lay/kernel" and k.shape == (3, 4)
    limit = np.sqrt(6 / (3 + 4))  # glorot_uniform default for floats
    assert np.all(np.abs(k.numpy()) <= limit) and np.std(k.numpy()) > 0
    counts = layer.add_weight(shape=(2,), dtype="int32", name="counts")
    assert counts.dtype == np.int32 and np.all(counts.numpy() == 0)  # zeros for non-floats
    with pytest.raises(ValueError, match="fully-defined"):
        layer.add_weight(shape=(None, 2))


def test_weights_order_and_trainable_switch():
    layer = NoMask()
    a = layer.add_weight(shape=(1,), name="a", trainable=False)
    b = layer.add_weight(shape=(2,), name="b")
    assert [w.name for w in layer.weights] == ["b", "a"]
    assert [w.name for w in layer.trainable_weights] == ["b"]
    layer.trainable = False
    assert layer.trainable_weights == [] and [w.name for w in layer.weights] == ["b", "a"]
    assert b.trainable is False and a.trainable is False
    layer.trainable = True
    assert [w.name for w in layer.trainable_weights] == ["b"] and b.trainable


def test_set_weights_errors_and_roundtrip():
    layer = NoMask(name="dense_4")
    layer.add_weight(shape=(2, 2), name="kernel")
    layer.add_weight(shape=(2,), name="bias")
    with pytest.raises(ValueError, match=r"You called `set_weights\(weights\)` on layer "
                                         r"'dense_4' with a weight list of length 1, but the "
                                         r"layer was expecting 2 weights."):
        layer.set_weights([np.zeros((2, 2))])
    before = layer.get_weights()
    with pytest.raises(ValueError, match=r"Layer dense_4 weight shape \(2, 2\) is not compatible"
                                         r" with provided weight shape \(3, 2\)."):
        layer.set_weights([np.zeros((3, 2)), np.zeros(2)])
    np.testing.assert_array_equal(layer.get_weights()[0], before[0])  # nothing half-assigned
    new = [np.arange(4.0).reshape(2, 2), np.array([5.0, 6.0])]
    layer.set_weights(new)
    got = layer.get_weights()
    np.testing.assert_array_equal(got[0], new[0])
    got[0][0, 0] = 99  # get_weights returns copies
    assert layer.get_weights()[0][0, 0] == 0


def test_count_params():
    layer = MyLayer(3)
    with pytest.raises(ValueError, match="You tried to call `count_params` on layer 'my_layer', "
                                         "but the layer isn't built"):
        layer.count_params()
    layer(np.ones((1, 5)))
    assert layer.count_params() == 15


def test_constructor_argument_errors():
    with pytest.raises(ValueError, match=r"Unrecognized keyword arguments passed to NoMask: "
                                         r"\{'foo': 1\}"):
        NoMask(foo=1)
    with pytest.raises(ValueError, match="Expected `trainable` to be a boolean"):
        NoMask(trainable=1)
    with pytest.raises(ValueError, match="cannot contain character `/`"):
        NoMask(name="a/b")


def test_automatic_names_follow_keras():
    class SpatialThing2D(Layer):
        def call(self, x):
            return x

    names = [NoMask().name, NoMask().name, SpatialThing2D().name, NoMask(name="x").name]
    assert names == ["no_mask", "no_mask_1", "spatial_thing2d", "x"]
    K.clear_session()
    assert NoMask().name == "no_mask"


def test_keras2_shape_kwargs_and_initial_weights():
    assert NoMask(input_shape=(3, 2), batch_size=8)._batch_input_shape == (8, 3, 2)
    assert NoMask(input_dim=5)._batch_input_shape == (None, 5)
    assert NoMask(batch_input_shape=(4, 6))._batch_input_shape == (4, 6)
    kernel = np.arange(6.0).reshape(3, 2)
    layer = MyLayer(2, weights=[kernel])
    x = np.ones((1, 3))
    np.testing.assert_allclose(layer(x), x @ kernel)


def test_keras2_input_and_output_shape_attributes():
    layer = MyLayer(4)
    with pytest.raises(AttributeError, match="never been called"):
        layer.input_shape
    layer(np.ones((2, 3)))
    assert layer.input_shape == (2, 3) and layer.output_shape == (2, 4)
    sym = MyLayer(4)
    sym(Input((3,)))
    assert sym.input_shape == (None, 3) and sym.output_shape == (None, 4)
    assert repr(sym) == "<MyLayer name=my_layer_1, built=True>"


def test_eager_conversion_rules():
    layer = NoMask()
    out = layer(np.arange(3, dtype=np.int64).reshape(1, 3))
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    np.testing.assert_array_equal(out, [[0, 2, 4]])
    t = layer(Tensor(np.ones((1, 2), np.float64)))
    assert isinstance(t, Tensor) and t.dtype == np.float32
    assert NoMask(dtype="float64")(np.ones((1, 2), np.float32)).dtype == np.float64
    with pytest.raises(ValueError, match="Only input tensors may be passed as positional"):
        layer([[1, 2], [3, 4]])
    x = np.ones((2, 2), np.float32)
    layer(x)
    np.testing.assert_array_equal(x, np.ones((2, 2)))  # input untouched


def test_training_flag_precedence():
    class Outer(Layer):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.inner = Probe()

        def call(self, x, training=None):
            return self.inner(x)

    class DefaultTrue(Layer):
        def __init__(self):
            super().__init__()
            self.inner = Probe()

        def call(self, x, training=True):
            return self.inner(x)

    x = np.ones((1, 2))
    probe = Probe()
    probe(x)
    probe(x, training=True)
    outer = Outer()
    outer(x, training=True)
    outer(x)
    outer(x, training=False)
    d = DefaultTrue()
    d(x)
    d(x, training=False)
    assert [s[0] for s in probe.seen] == [None, True]  # no context, default None
    assert [s[0] for s in outer.inner.seen] == [True, None, False]
    assert [s[0] for s in d.inner.seen] == [True, False]

    class Explicit(Layer):
        def __init__(self):
            super().__init__()
            self.inner = Probe()

        def call(self, x, training=None):
            return self.inner(x, training=False)

    e = Explicit()
    e(x, training=True)
    assert e.inner.seen[0][0] is False  # an explicit argument beats the enclosing call


def test_mask_flows_to_mask_argument_and_through_supporting_layers():
    x = np.array([[[1.0, 2.0], [0.0, 0.0], [3.0, 0.0]]], np.float32)

    class Chain(Layer):
        def __init__(self):
            super().__init__()
            self.maker, self.pass_through, self.probe = MaskMaker(), _PassThrough(), Probe()

        def call(self, x):
            return self.probe(self.pass_through(self.maker(x)))

    chain = Chain()
    chain(x)
    np.testing.assert_array_equal(chain.probe.seen[0][1], [[True, False, True]])


class _PassThrough(Layer):
    supports_masking = True

    def call(self, x):
        return x + 0.0


def test_mask_reaching_a_layer_without_support_raises_type_error():
    class Bad(Layer):
        def __init__(self):
            super().__init__()
            self.maker, self.dense_like, self.flat = MaskMaker(name="masking"), \
                _PassThrough(), NoMask(name="flatten")

        def call(self, x):
            return self.flat(self.dense_like(self.maker(x)))

    with pytest.raises(TypeError, match="Layer 'flatten' \\(of type NoMask\\) does not support "
                                        "masking.*produced by layer 'masking'"):
        Bad()(np.ones((1, 3, 2)))
    inp = Input((3, 2))
    masked = MaskMaker(name="m2")(inp)
    assert masked._keras_mask is not None and masked._keras_mask.shape == (None, 3)
    carried = _PassThrough()(masked)
    assert carried._keras_mask.shape == (None, 3)
    with pytest.raises(TypeError, match="produced by layer 'm2'"):
        NoMask(name="flat2")(carried)


def test_losses_add_loss_activity_and_weight_regularizers():
    class WithLoss(Layer):
        def __init__(self, **kw):
            super().__init__(**kw)

        def build(self, input_shape):
            self.w = self.add_weight(shape=(2,), initializer="ones", name="w",
                                     regularizer=lambda w: 0.1 * K.sum(K.square(w)))
            self.frozen = self.add_weight(shape=(2,), initializer="ones", name="f",
                                          trainable=False, regularizer=lambda w: K.sum(w))

        def call(self, x):
            self.add_loss(K.sum(x))
            return x * self.w

    layer = WithLoss(activity_regularizer=lambda y: 0.5 * K.sum(K.abs(y)))
    x = np.array([[1.0, -2.0], [3.0, 0.5]], np.float32)
    layer(x)
    # add_loss 2.5; activity 0.5 * 6.5 / batch 2 = 1.625; weight penalty 0.1 * 2 = 0.2;
    # the non-trainable weight's regularizer is ignored.
    np.testing.assert_allclose([float(v) for v in layer.losses], [2.5, 1.625, 0.2], rtol=1e-6)
    layer(x[:1])  # add_loss -1; activity 0.5 * 3 / batch 1
    np.testing.assert_allclose([float(v) for v in layer.losses], [-1.0, 1.5, 0.2], rtol=1e-6)
    layer.trainable = False
    assert len(layer.losses) == 2


def test_input_spec_messages():
    class Spec(Layer):
        def __init__(self, spec):
            super().__init__(name="dense")
            self.input_spec = spec

        def call(self, x):
            return x

    with pytest.raises(ValueError, match=r"Input 0 with name 'None' of layer 'dense' is "
                                         r"incompatible with the layer: expected ndim=3, found "
                                         r"ndim=2. Full shape received: \(None, 4\)"):
        Spec(InputSpec(ndim=3))(Input((4,)))
    with pytest.raises(ValueError, match=r"expected min_ndim=2, found ndim=1. Full shape "
                                         r"received: \(4,\)"):
        Spec(InputSpec(min_ndim=2))(np.ones(4))
    with pytest.raises(ValueError, match=r"expected axis -1 of input shape to have value 4, but "
                                         r"received input with shape \(2, 5\)"):
        Spec(InputSpec(axes={-1: 4}))(np.ones((2, 5)))


def test_symbolic_shape_trusts_compute_output_shape_and_infers_otherwise():
    class Liar(Layer):
        def call(self, x):
            return x

        def compute_output_shape(self, s):
            return (s[0], 99)

    class Pairs(Layer):
        def call(self, x):
            return K.reshape(x, (x.shape[0], -1, 2))

    assert Liar()(Input((3,))).shape == (None, 99)
    out = Pairs()(Input((None, 4)))
    assert out.shape == (None, None, 2) and out.dtype == "float32"
    assert Pairs()(Input((3, 4))).shape == (None, 6, 2)
    assert Pairs()(Input(batch_shape=(8, 3, 4))).shape == (8, 6, 2)


def test_symbolic_inference_does_not_leave_losses_or_change_state():
    class Counter(Layer):
        def build(self, s):
            self.n = self.add_weight(shape=(), initializer="zeros", trainable=False)

        def call(self, x):
            self.n.assign(self.n.value + 1)
            self.add_loss(K.sum(x))
            return x

    c = Counter()
    c(Input((2,)))
    assert float(c.n.numpy()) == 0.0 and c.losses == []


def test_get_config_auto_capture_and_from_config():
    class Sub(Layer):
        def __init__(self, units, scale=2.0, **kwargs):
            super().__init__(**kwargs)
            self.units, self.scale = units, scale

        def call(self, x):
            return x * self.scale

    cfg = Sub(3, name="s").get_config()
    assert cfg == {"name": "s", "units": 3, "scale": 2.0, "trainable": True,
                   "dtype": "float32"}
    clone = Sub.from_config(cfg)
    assert (clone.units, clone.scale, clone.name) == (3, 2.0, "s")

    class Opaque(Layer):
        def __init__(self, fn, **kwargs):
            super().__init__(**kwargs)
            self.fn = fn

    with pytest.raises(NotImplementedError, match="Override `get_config\\(\\)`"):
        Opaque(np.sin).get_config()


def test_call_base_and_compute_output_shape_base_raise():
    with pytest.raises(NotImplementedError, match="Layer Layer does not have a `call` method"):
        Layer()(np.ones((1, 1)))
    with pytest.raises(NotImplementedError, match="Layer NoMask does not have a "
                                                  "`compute_output_shape` method"):
        NoMask().compute_output_shape((None, 2))


@settings(max_examples=20, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(1, 5)), min_size=1, max_size=3),
       st.integers(1, 4))
def test_inferred_shapes_match_eager_shapes(dims, units):
    """A symbolic call's inferred shape agrees with the eager output on a concrete batch."""
    layer = MyLayer(units)

    class Tile(Layer):
        def call(self, x):
            return K.concatenate([x, x], axis=-1)

    sym = Tile()(Input(tuple(dims) + (2,)))
    concrete = tuple(3 if d is None else d for d in [None] + dims) + (2,)
    eager = Tile()(np.ones(concrete))
    assert len(sym.shape) == eager.ndim
    for s, e in zip(sym.shape, eager.shape):
        assert s is None or s == e
    assert sym.shape[-1] == 4 and sym.shape[0] is None
    assert layer(Input((3,))).shape == (None, units)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer(np.ones((2, 3)))


def test_mask_attached_inside_call_is_recorded_as_coming_from_that_layer():
    from fastkeras.engine.base_layer import mask_source

    class AttachInCall(Layer):
        """Keras 3's pattern: ``call`` sets the output's ``_keras_mask`` itself."""

        supports_masking = True

        def call(self, x):
            out = x * 1.0
            out._keras_mask = np.ones(x.shape[:-1], dtype=bool)
            return out

    out = AttachInCall(name="attacher")(Tensor(np.ones((2, 3, 2), np.float32)))
    assert mask_source(out._keras_mask) == "attacher"
    with pytest.raises(TypeError, match="NoMask.*produced by layer 'attacher'"):
        NoMask()(out)


def test_overridden_compute_mask_returning_none_drops_a_passed_through_mask():
    from fastkeras.layers import Dense, Flatten, Masking
    from fastkeras.models import Model

    class DropMask(Layer):
        supports_masking = True

        def call(self, x):
            return x

        def compute_mask(self, inputs, mask=None):
            return None

    x = np.array([[[1., 2.], [0., 0.], [3., 0.]]], np.float32)
    np.testing.assert_array_equal(Flatten()(DropMask()(Masking()(x))), [[1, 2, 0, 0, 3, 0]])
    inputs = Input((3, 2))
    dense = Dense(1, kernel_initializer="ones")
    model = Model(inputs, dense(Flatten()(DropMask()(Masking()(inputs)))))
    model.compile("sgd", "mse")
    before = dense.kernel.numpy()
    model.fit(x, np.zeros((1, 1)), verbose=0)
    # The gradient reached the kernel through the pass-through: 2 * (6 - 0) * x, lr 0.01.
    np.testing.assert_allclose(dense.kernel.numpy(), before - 0.01 * 12 * x.reshape(6, 1), rtol=1e-6)
