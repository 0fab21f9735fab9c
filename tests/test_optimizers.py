"""Optimizers: spec section 23 worked examples, a float64 numpy reference, state, config, errors."""

import math
import warnings

import numpy as np
import pytest

from fastkeras import optimizers
from fastkeras.backend.tensor import Variable
from fastkeras.optimizers import SGD, Adagrad, Adam, Optimizer, RMSprop


def two_steps(opt, steps=2):
    """Spec setting: w0 = (1, 1), g = (1, -2) at every step."""
    w = Variable(np.ones(2, np.float32))
    out = []
    for _ in range(steps):
        opt.apply([np.array([1.0, -2.0], np.float32)], [w])
        out.append(w.numpy().copy())
    return out


@pytest.mark.parametrize("make, expected", [
    (lambda: SGD(0.1), [(.9, 1.2), (.8, 1.4)]),
    (lambda: SGD(0.1, momentum=0.9), [(.9, 1.2), (.71, 1.58)]),
    (lambda: SGD(0.1, momentum=0.9, nesterov=True), [(.81, 1.38), (.539, 1.922)]),
    (lambda: Adam(0.1), [(.900001, 1.099999), (.800002, 1.199998)]),
    (lambda: RMSprop(0.1), [(.683772, 1.316228), (.454357, 1.545643)]),
    (lambda: RMSprop(0.1, centered=True), [(.666667, 1.333333)]),
    (lambda: Adagrad(0.1), [(.904654, 1.098773), (.835647, 1.169046)]),
    (lambda: SGD(0.1, weight_decay=0.5), [(.85, 1.15), (.7075, 1.2925)]),
    (lambda: SGD(0.1, clipnorm=1.0), [(.955279, 1.089443)]),
    (lambda: SGD(0.1, clipvalue=0.5), [(.95, 1.05)]),
])
def test_spec_two_step_examples(make, expected):
    got = two_steps(make(), len(expected))
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, atol=1.5e-6)


# -- float64 numpy reference of every formula ---------------------------------------------------

class Reference:
    """Textbook update rules (spec section 23) in float64, one step per call."""

    def __init__(self, kind, lr=0.01, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, decay=0.0, **hyper):
        self.kind, self.lr, self.wd, self.decay = kind, lr, weight_decay, decay
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.h = hyper
        self.t = 0
        self.slots = {}

    def step(self, ws, gs):
        lr = self.lr(self.t) if callable(self.lr) else self.lr
        lr = lr / (1 + self.decay * self.t)
        if self.clipnorm:
            gs = [g * self.clipnorm / max(np.linalg.norm(g), self.clipnorm) for g in gs]
        if self.global_clipnorm:
            n = math.sqrt(sum(np.sum(g * g) for g in gs))
            gs = [g * self.global_clipnorm / max(n, self.global_clipnorm) for g in gs]
        if self.clipvalue:
            gs = [np.clip(g, -self.clipvalue, self.clipvalue) for g in gs]
        for i, (w, g) in enumerate(zip(ws, gs)):
            if self.wd:
                w -= w * self.wd * lr
            s = self.slots.setdefault(i, {})
            getattr(self, self.kind)(w, g, s, lr)
        self.t += 1

    def sgd(self, w, g, s, lr):
        mu = self.h.get("momentum", 0.0)
        if not mu:
            w -= lr * g
            return
        v = s.setdefault("v", np.zeros_like(w))
        v[...] = mu * v - lr * g
        w += mu * v - lr * g if self.h.get("nesterov") else v

    def adam(self, w, g, s, lr):
        b1, b2, eps = self.h.get("beta_1", .9), self.h.get("beta_2", .999), 1e-7
        t = self.t + 1
        m = s.setdefault("m", np.zeros_like(w))
        v = s.setdefault("v", np.zeros_like(w))
        m += (g - m) * (1 - b1)
        v += (g * g - v) * (1 - b2)
        if self.h.get("amsgrad"):
            vh = s.setdefault("vh", np.zeros_like(w))
            vh[...] = np.maximum(vh, v)
            v = vh
        w -= lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m / (np.sqrt(v) + eps)

    def rmsprop(self, w, g, s, lr):
        rho, mu, eps = self.h.get("rho", .9), self.h.get("momentum", 0.0), 1e-7
        v = s.setdefault("v", np.zeros_like(w))
        v[...] = rho * v + (1 - rho) * g * g
        if self.h.get("centered"):
            a = s.setdefault("a", np.zeros_like(w))
            a[...] = rho * a + (1 - rho) * g
            denom = v - a * a + eps
        else:
            denom = v + eps
        delta = lr * g / np.sqrt(denom)
        if mu:
            mom = s.setdefault("mom", np.zeros_like(w))
            mom[...] = mu * mom + delta
            delta = mom
        w -= delta

    def adagrad(self, w, g, s, lr):
        acc = s.setdefault("acc", np.full_like(w, self.h.get("initial_accumulator_value", .1)))
        acc += g * g
        w -= lr * g / np.sqrt(acc + 1e-7)


REFERENCE_CASES = [
    ("sgd", SGD, dict(learning_rate=0.05)),
    ("sgd", SGD, dict(learning_rate=0.05, momentum=0.8)),
    ("sgd", SGD, dict(learning_rate=0.05, momentum=0.8, nesterov=True)),
    ("adam", Adam, dict(learning_rate=0.02)),
    ("adam", Adam, dict(learning_rate=0.02, beta_1=0.5, beta_2=0.9, amsgrad=True)),
    ("rmsprop", RMSprop, dict(learning_rate=0.01)),
    ("rmsprop", RMSprop, dict(learning_rate=0.01, rho=0.8, momentum=0.5, centered=True)),
    ("adagrad", Adagrad, dict(learning_rate=0.1, initial_accumulator_value=0.5)),
    ("adam", Adam, dict(learning_rate=0.02, clipnorm=0.7)),
    ("rmsprop", RMSprop, dict(learning_rate=0.01, global_clipnorm=0.9)),
    ("adagrad", Adagrad, dict(learning_rate=0.1, clipvalue=0.3)),
    ("sgd", SGD, dict(learning_rate=0.05, momentum=0.5, weight_decay=0.2)),
    ("adam", Adam, dict(learning_rate=0.02, weight_decay=0.1, clipvalue=1.0)),
    ("sgd", SGD, dict(learning_rate=0.05, decay=0.5)),
    ("adam", Adam, dict(learning_rate=lambda t: 0.1 * 0.5 ** t)),
]


@pytest.mark.parametrize("kind, cls, kwargs", REFERENCE_CASES)
def test_matches_float64_numpy_reference(kind, cls, kwargs):
    rng = np.random.default_rng(3)
    shapes = [(4, 3), (3,), ()]
    w0 = [rng.normal(size=s) for s in shapes]
    grads = [[rng.normal(size=s) * 2 for s in shapes] for _ in range(4)]
    ref_kwargs = {("lr" if k == "learning_rate" else k): v for k, v in kwargs.items()}
    if not callable(ref_kwargs["lr"]):  # a float learning rate is stored as float32
        ref_kwargs["lr"] = float(np.float32(ref_kwargs["lr"]))
    ref = Reference(kind, **ref_kwargs)
    ref_w = [w.copy() for w in w0]
    opt = cls(**kwargs)
    variables = [Variable(w, dtype="float64") for w in w0]
    for gs in grads:
        ref.step(ref_w, [g.copy() for g in gs])
        opt.apply(gs, variables)
    for v, r in zip(variables, ref_w):
        np.testing.assert_allclose(v.numpy(), r, rtol=1e-12, atol=1e-14)
    assert int(opt.iterations.value) == len(grads)


def test_float32_variables_updated_in_float32():
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(20, 5)).astype(np.float32)
    g = rng.normal(size=(20, 5)).astype(np.float32)
    v = Variable(w0)
    Adam(0.01).apply([g], [v])
    assert v.dtype == np.float32
    ref = [w0.astype(np.float64)]
    Reference("adam", lr=0.01).step(ref, [g.astype(np.float64)])
    np.testing.assert_allclose(v.numpy(), ref[0], rtol=2e-6, atol=1e-7)


# -- gradient accumulation, EMA, loss scaling -------------------------------------------------

def test_gradient_accumulation_updates_with_mean_every_n_steps():
    w = Variable(np.zeros(2), dtype="float64")
    opt = SGD(0.5, gradient_accumulation_steps=3)
    grads = [np.array([1.0, 2.0]), np.array([3.0, 0.0]), np.array([2.0, 1.0])]
    for g in grads[:2]:
        opt.apply([g], [w])
        np.testing.assert_array_equal(w.numpy(), [0.0, 0.0])
    opt.apply([grads[2]], [w])
    np.testing.assert_allclose(w.numpy(), -0.5 * np.mean(grads, axis=0), rtol=1e-15)
    assert int(opt.iterations.value) == 1
    assert int(opt._iterations.value) == 3


def test_loss_scale_factor_scales_loss_and_unscales_gradients():
    opt = SGD(0.5, loss_scale_factor=8.0)
    assert opt.scale_loss(2.0) == 16.0
    w = Variable(np.ones(2), dtype="float64")
    opt.apply([np.array([8.0, -16.0])], [w])
    np.testing.assert_array_equal(w.numpy(), [0.5, 2.0])


def test_ema_tracks_average_and_finalize_overwrites():
    w = Variable(np.zeros(1), dtype="float64")
    opt = SGD(1.0, use_ema=True, ema_momentum=0.5)
    values = []
    for _ in range(3):
        opt.apply([np.array([-1.0])], [w])
        values.append(w.numpy()[0])
    # first step copies the variable, later steps average with momentum 0.5
    expected = values[0]
    for x in values[1:]:
        expected = 0.5 * expected + 0.5 * x
    assert w.numpy()[0] == 3.0
    opt.finalize_variable_values([w])
    assert w.numpy()[0] == pytest.approx(expected, rel=1e-15)


def test_ema_overwrite_frequency():
    w = Variable(np.zeros(1), dtype="float64")
    opt = SGD(1.0, use_ema=True, ema_momentum=0.5, ema_overwrite_frequency=2)
    opt.apply([np.array([-1.0])], [w])      # w=1, avg=1
    assert w.numpy()[0] == 1.0
    opt.apply([np.array([-1.0])], [w])      # w=2, avg=1.5, overwritten at step 2
    assert w.numpy()[0] == 1.5


# -- step order, state, learning rate ----------------------------------------------------------

def test_constraint_applied_after_update_and_iterations_increment():
    seen = []

    def constraint(value):
        seen.append(value.copy())
        return np.clip(value, 0.0, 0.95)

    w = Variable(np.ones(2, np.float32), constraint=constraint)
    opt = SGD(0.1)
    opt.apply([np.array([1.0, -2.0], np.float32)], [w])
    np.testing.assert_allclose(seen[0], [0.9, 1.2], rtol=1e-6)
    np.testing.assert_allclose(w.numpy(), [0.9, 0.95], rtol=1e-6)
    assert int(opt.iterations.value) == 1


def test_learning_rate_is_an_assignable_float32_variable():
    opt = SGD(0.1)
    lr = opt.learning_rate
    assert isinstance(lr, Variable) and lr.dtype == np.float32
    assert opt.lr is lr
    assert opt.get_config()["learning_rate"] == float(np.float32(0.1))
    opt.learning_rate = 0.5
    assert float(opt.learning_rate) == 0.5
    lr.assign(0.25)            # K2 `K.set_value(opt.lr, 0.25)`
    assert two_steps(opt, 1)[0][0] == np.float32(1 - 0.25)
    opt.lr = 0.125
    assert float(opt.learning_rate) == 0.125


def test_learning_rate_schedule_called_with_iterations():
    calls = []

    def schedule(step):
        calls.append(step)
        return 0.1 / (step + 1)

    opt = SGD(schedule)
    w = Variable(np.zeros(1), dtype="float64")
    for _ in range(3):
        opt.apply([np.array([1.0])], [w])
    assert calls == [0, 1, 2]
    np.testing.assert_allclose(w.numpy(), [-(0.1 + 0.05 + 0.1 / 3)], rtol=1e-15)
    assert opt.learning_rate == pytest.approx(0.025)
    with pytest.raises(TypeError, match="not settable"):
        opt.learning_rate = 0.3
    assert all(v.name != "learning_rate" for v in opt.variables)


def test_keras2_lr_and_decay():
    with pytest.warns(DeprecationWarning, match="`lr` argument is deprecated"):
        opt = SGD(lr=0.2, decay=1.0)
    w = Variable(np.zeros(1), dtype="float64")
    for _ in range(3):
        opt.apply([np.array([1.0])], [w])
    np.testing.assert_allclose(w.numpy(), [-(0.2 + 0.1 + 0.2 / 3)], rtol=1e-7)
    assert opt.get_config()["decay"] == 1.0
    assert "decay" not in SGD().get_config()
    assert optimizers.sgd is SGD and optimizers.adam is Adam


def test_slots_created_lazily_named_and_ordered():
    opt = Adam(name="opt", amsgrad=True)
    assert [v.path for v in opt.variables] == ["opt/iteration", "opt/learning_rate"]
    a = Variable(np.zeros((2, 3)), name="kernel")
    a.path = "dense/kernel"
    b = Variable(np.zeros(3), name="bias")
    b.path = "dense/bias"
    opt.apply([np.ones((2, 3)), np.ones(3)], [a, b])
    assert [v.path for v in opt.variables] == [
        "opt/iteration", "opt/learning_rate",
        "opt/dense_kernel_momentum", "opt/dense_kernel_velocity",
        "opt/dense_bias_momentum", "opt/dense_bias_velocity",
        "opt/dense_kernel_velocity_hat", "opt/dense_bias_velocity_hat"]
    # a variable first seen later gets its slots then
    c = Variable(np.zeros(1), name="extra")
    opt.apply([np.ones(1)], [c])
    assert opt.variables[-1].path == "opt/extra_velocity_hat"


def test_sgd_without_momentum_has_no_slots_and_adagrad_starts_at_initial_value():
    opt = SGD()
    opt.apply([np.ones(2, np.float32)], [Variable(np.zeros(2))])
    assert len(opt.variables) == 2
    ada = Adagrad(initial_accumulator_value=0.3)
    ada.build([Variable(np.zeros(2))])
    np.testing.assert_allclose(ada.variables[-1].numpy(), [0.3, 0.3], rtol=1e-7)


def test_get_and_set_weights_round_trip():
    w = Variable(np.ones(3, np.float32))
    opt = Adam(0.1)
    opt.apply([np.ones(3, np.float32)], [w])
    weights = opt.get_weights()
    other = Adam(0.1)
    w2 = Variable(np.ones(3, np.float32))
    other.build([w2])
    other.set_weights(weights)
    w.assign(np.ones(3))
    opt.apply([np.ones(3, np.float32)], [w])
    other.apply([np.ones(3, np.float32)], [w2])
    np.testing.assert_array_equal(w.numpy(), w2.numpy())
    with pytest.raises(ValueError, match="not yet been built"):
        Adam().set_weights(weights)
    with pytest.raises(ValueError, match="not compatible"):
        other.set_weights([np.zeros(2)] * len(weights))


def test_apply_gradients_zip_and_none_gradients():
    a, b = Variable(np.ones(2, np.float32)), Variable(np.ones(2, np.float32))
    opt = SGD(0.5)
    with pytest.warns(UserWarning, match="Gradients do not exist for variables"):
        it = opt.apply_gradients(zip([np.ones(2, np.float32), None], [a, b]))
    assert it is opt.iterations and int(it.value) == 1
    np.testing.assert_array_equal(a.numpy(), [0.5, 0.5])
    np.testing.assert_array_equal(b.numpy(), [1.0, 1.0])
    with pytest.raises(ValueError, match="No gradients provided"):
        opt.apply([None], [a])
    opt.apply([np.ones(2, np.float32), np.ones(2, np.float32)])  # built variables
    np.testing.assert_array_equal(b.numpy(), [0.5, 0.5])


def test_exclude_from_weight_decay():
    kernel = Variable(np.ones(2), dtype="float64", name="kernel")
    bias = Variable(np.ones(2), dtype="float64", name="bias")
    opt = SGD(0.5, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_names=["bias"])
    opt.apply([np.zeros(2), np.zeros(2)], [kernel, bias])
    np.testing.assert_array_equal(kernel.numpy(), [0.75, 0.75])
    np.testing.assert_array_equal(bias.numpy(), [1.0, 1.0])
    with pytest.raises(ValueError, match="before the optimizer is built"):
        opt.exclude_from_weight_decay(var_list=[kernel])


def test_custom_subclass_with_update_step():
    class SignSGD(Optimizer):
        def __init__(self, learning_rate=0.1, **kwargs):
            super().__init__(learning_rate=learning_rate, **kwargs)

        def update_step(self, gradient, variable, learning_rate):
            self.assign_sub(variable, learning_rate * np.sign(gradient))

    w = Variable(np.zeros(3), dtype="float64")
    opt = SignSGD(0.5, clipvalue=0.1)
    opt.apply([np.array([3.0, -0.2, 0.0])], [w])
    np.testing.assert_array_equal(w.numpy(), [-0.5, 0.5, 0.0])

    class Incomplete(Optimizer):
        pass

    with pytest.raises(NotImplementedError, match="must implement `update_step"):
        Incomplete(0.1).apply([np.ones(1)], [Variable(np.zeros(1))])


# -- config, get, serialize ---------------------------------------------------------------------

def test_config_keys_and_round_trip():
    opt = Adam(0.01, beta_1=0.8, amsgrad=True, clipnorm=2.0, name="my_adam")
    cfg = opt.get_config()
    assert list(cfg) == ["name", "learning_rate", "weight_decay", "clipnorm", "global_clipnorm",
                         "clipvalue", "use_ema", "ema_momentum", "ema_overwrite_frequency",
                         "loss_scale_factor", "gradient_accumulation_steps", "beta_1", "beta_2",
                         "epsilon", "amsgrad"]
    assert cfg["learning_rate"] == float(np.float32(0.01))
    again = Adam.from_config(cfg)
    assert again.get_config() == cfg
    assert set(SGD().get_config()) >= {"momentum", "nesterov"}
    assert set(RMSprop().get_config()) >= {"rho", "momentum", "epsilon", "centered"}
    assert set(Adagrad().get_config()) >= {"initial_accumulator_value", "epsilon"}


def test_get_serialize_deserialize():
    assert isinstance(optimizers.get("sgd"), SGD)
    assert isinstance(optimizers.get("Adam"), Adam)
    assert isinstance(optimizers.get("rmsprop"), RMSprop)
    assert isinstance(optimizers.get("adagrad"), Adagrad)
    opt = RMSprop(0.05, centered=True)
    assert optimizers.get(opt) is opt
    assert optimizers.get(None) is None
    ser = optimizers.serialize(opt)
    assert ser["class_name"] == "RMSprop"
    back = optimizers.deserialize(ser)
    assert isinstance(back, RMSprop) and back.get_config() == opt.get_config()
    with pytest.warns(DeprecationWarning):
        k2 = optimizers.get({"class_name": "SGD", "config": {"lr": 0.3, "momentum": 0.9}})
    assert float(k2.learning_rate) == pytest.approx(0.3) and k2.momentum == 0.9
    with pytest.raises(ValueError, match=r"^Could not interpret optimizer identifier: foo\. Valid names: \["):
        optimizers.get("foo")
    with pytest.raises(ValueError, match=r"^Could not interpret optimizer identifier: 42\. Valid names: \["):
        optimizers.get(42)


def test_names_are_unique_per_class():
    first, second = SGD(), SGD()
    assert first.name.startswith("sgd") and second.name.startswith("sgd_")
    assert first.name != second.name


# -- errors -----------------------------------------------------------------------------------

def test_constructor_errors():
    with pytest.raises(ValueError, match="Only one of `clipnorm`, `clipvalue` and "
                                         "`global_clipnorm` can be set"):
        SGD(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match=r"Argument\(s\) not recognized: \{'foo': 1\}"):
        Adam(foo=1)
    with pytest.raises(ValueError, match=r"`momentum` must be a float between \[0, 1\]"):
        SGD(momentum=1)
    with pytest.raises(ValueError, match=r"`momentum` must be a float between \[0, 1\]"):
        SGD(momentum=1.5)
    with pytest.raises(ValueError, match="Argument `learning_rate` should be float"):
        SGD(learning_rate="fast")
    with pytest.raises(ValueError, match="Argument `clipnorm` must be a number"):
        SGD(clipnorm=-1.0)
    with pytest.raises(ValueError, match="Argument `beta_1` must be a number"):
        Adam(beta_1=2.0)
    with pytest.raises(ValueError, match="Argument `epsilon` must be a number"):
        RMSprop(epsilon="x")
    with pytest.raises(ValueError, match="`gradient_accumulation_steps` must be an integer >= 2"):
        SGD(gradient_accumulation_steps=1)
    with pytest.raises(ValueError, match=r"`ema_momentum` must be a number in \[0.0, 1.0\]"):
        SGD(use_ema=True, ema_momentum=1.5)


def test_apply_errors_leave_variables_untouched():
    w = Variable(np.ones(2, np.float32))
    opt = SGD(0.1)
    with pytest.raises(ValueError, match=r"has shape \(3,\), but the variable has shape \(2,\)"):
        opt.apply([np.ones(3)], [w])
    with pytest.raises(TypeError, match="must be numeric"):
        opt.apply([np.array(["a", "b"])], [w])
    with pytest.raises(ValueError, match="Received 1 gradients for 2 variables"):
        opt.apply([np.ones(2)], [w, Variable(np.ones(2))])
    with pytest.raises(TypeError, match="float32 or float64"):
        opt.apply([np.ones(2)], [Variable(np.ones(2), dtype="int32")])
    with pytest.raises(TypeError, match="must be fastkeras Variables"):
        opt.apply([np.ones(2)], [np.ones(2)])
    with pytest.raises(ValueError, match="must already be built"):
        SGD().apply([np.ones(2)])
    np.testing.assert_array_equal(w.numpy(), [1.0, 1.0])


def test_weight_decay_before_update_is_decoupled():
    # Adam with zero gradient: only the decay moves the variable, by w*wd*lr.
    w = Variable(np.full(2, 2.0), dtype="float64")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Adam(0.5, weight_decay=0.25).apply([np.zeros(2)], [w])
    np.testing.assert_array_equal(w.numpy(), [2.0 - 2.0 * 0.25 * 0.5] * 2)


def test_add_variable_initializers():
    opt = SGD(name="o")
    ones = opt.add_variable((2,), "ones", name="a")
    const = opt.add_variable((2, 1), 0.25, dtype="float64", name="b")
    made = opt.add_variable((3,), lambda shape, dtype: np.arange(3, dtype=dtype), name="c")
    np.testing.assert_array_equal(ones.numpy(), [1, 1])
    assert const.dtype == np.float64 and np.all(const.numpy() == 0.25)
    np.testing.assert_array_equal(made.numpy(), [0, 1, 2])
    assert [v.path for v in opt.variables[-3:]] == ["o/a", "o/b", "o/c"]
    with pytest.raises(ValueError, match="`initializer` must be 'zeros', 'ones', a number"):
        opt.add_variable((2,), "glorot")


def test_unknown_optimizer_identifier_lists_the_valid_names():
    with pytest.raises(ValueError, match=r"adamw\. Valid names: \['adagrad', 'adam', "
                                         r"'rmsprop', 'sgd'\]$"):
        optimizers.get("adamw")
    with pytest.raises(ValueError, match=r"Nadam\. Valid names: \['adagrad'"):
        optimizers.get({"class_name": "Nadam", "config": {}})
