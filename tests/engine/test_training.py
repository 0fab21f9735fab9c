"""The training surface: compile, fit (arrays, generators, Sequences), evaluate, predict,
*_on_batch, the K2 generator methods, prefetch, logs and errors."""

import random
import threading
import warnings

import numpy as np
import pytest

from fastkeras import backend as K
from fastkeras.engine.input_layer import Input
from fastkeras.engine.sequential import Sequential
from fastkeras.engine.training import Model

from engine_test_layers import ActivityL1, Linear, MaskZeros, Scale, TrainingProbe


@pytest.fixture(autouse=True)
def _fresh_state():
    K.clear_session()
    random.seed(0)  # unseeded initializers take their seeds from Python's random module


def blobs(n=1200, classes=3, dim=8, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(classes, dim))
    labels = rng.integers(0, classes, size=n)
    x = centers[labels] + rng.normal(size=(n, dim))
    return x.astype(np.float32), np.eye(classes, dtype=np.float32)[labels], labels


def linear_model(units=1, dim=3, use_bias=False, init="zeros"):
    x = Input((dim,))
    return Model(x, Linear(units, use_bias=use_bias, kernel_initializer=init, name="lin")(x))


def test_learnable_classification_reaches_95_percent_validation_accuracy():
    x, y, _ = blobs()
    inp = Input((8,))
    h = Linear(32, activation="relu")(inp)
    model = Model(inp, Linear(3, activation="softmax")(h))
    from fastkeras.optimizers import Adam
    model.compile(optimizer=Adam(0.01), loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=4, batch_size=64, validation_split=0.2, verbose=0)
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert history.history["val_accuracy"][-1] >= 0.95
    assert history.history["loss"][-1] < history.history["loss"][0]
    val_loss, val_acc = model.evaluate(x[960:], y[960:], verbose=0)
    np.testing.assert_allclose(val_loss, history.history["val_loss"][-1], rtol=1e-5)
    assert model.metrics_names == ["loss", "accuracy"]


def test_one_full_batch_sgd_epoch_matches_the_numpy_gradient_step():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 3)).astype(np.float32)
    y = rng.normal(size=(8, 1)).astype(np.float32)
    model = linear_model(init="ones")
    from fastkeras.optimizers import SGD
    model.compile(optimizer=SGD(learning_rate=0.1), loss="mse")
    w = np.ones((3, 1))
    grad = 2 * x.T.astype(np.float64) @ (x @ w - y) / len(x)
    history = model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(model.get_weights()[0], w - 0.1 * grad, rtol=1e-5)
    np.testing.assert_allclose(history.history["loss"][0], np.mean((x @ w - y) ** 2), rtol=1e-5)


def test_epoch_loss_is_the_batch_size_weighted_mean_and_steps_round_up():
    x = np.arange(10, dtype=np.float32).reshape(10, 1)
    y = np.zeros((10, 1), np.float32)
    probe = TrainingProbe()
    inp = Input((1,))
    model = Model(inp, probe(Linear(1, use_bias=False, kernel_initializer="ones")(inp)))
    from fastkeras.optimizers import SGD
    model.compile(optimizer=SGD(learning_rate=0.0), loss="mse")
    probe.flags.clear()  # forget the shape-inference calls made while building the graph
    history = model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    assert probe.flags == [True, True, True]  # ceil(10 / 4) steps
    batch_losses = [np.mean(x[s:s + 4] ** 2) for s in (0, 4, 8)]
    expected = np.average(batch_losses, weights=[4, 4, 2])
    np.testing.assert_allclose(history.history["loss"][0], expected, rtol=1e-6)
    assert history.params["steps"] == 3 and history.params["epochs"] == 1


def test_regularization_losses_join_the_step_loss():
    from fastkeras.regularizers import l2
    inp = Input((2,))
    dense = Linear(1, use_bias=False, kernel_initializer="ones", kernel_regularizer=l2(0.1))
    model = Model(inp, ActivityL1(0.01)(dense(inp)))
    model.compile(optimizer="sgd", loss="mse")
    x = np.array([[1, -2], [3, 0.5]], np.float32)
    y = np.zeros((2, 1), np.float32)
    # mse((-1, 3.5)) = 6.625, kernel penalty 0.1 * 2 = 0.2, activity 0.01 * 4.5 / 2 = 0.0225
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), 6.8475, rtol=1e-6)
    np.testing.assert_allclose(model.train_on_batch(x, y), 6.8475, rtol=1e-6)


def test_train_on_batch_returns_pre_update_values_and_updates_weights():
    x = np.array([[1.0, 2.0, 3.0]], np.float32)
    y = np.array([[1.0]], np.float32)
    model = linear_model(init="ones")
    from fastkeras.optimizers import SGD
    model.compile(optimizer=SGD(learning_rate=0.01), loss="mse", metrics=["mae"])
    loss, mae = model.train_on_batch(x, y)
    assert (loss, mae) == pytest.approx((25.0, 5.0))
    np.testing.assert_allclose(model.get_weights()[0][:, 0], 1 - 0.01 * 2 * 5 * x[0],
                               rtol=1e-6)
    assert model.test_on_batch(x, y, return_dict=True) == pytest.approx(
        {"loss": (6 - 0.01 * 10 * 14 - 1) ** 2, "mae": abs(6 - 0.01 * 10 * 14 - 1)})
    np.testing.assert_allclose(model.predict_on_batch(x), [[6 - 1.4]], rtol=1e-6)


def two_output_model():
    inp = Input((4,), name="inp")
    h = Linear(8, activation="relu", name="hidden")(inp)
    out1 = Linear(2, name="out1")(h)
    out2 = Linear(1, activation="sigmoid", name="out2")(h)
    return Model(inp, [out1, out2])


def test_two_output_model_trains_with_named_logs_and_loss_weights():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(256, 4)).astype(np.float32)
    y1 = np.stack([x[:, 0] + x[:, 1], x[:, 2]], 1).astype(np.float32)
    y2 = (x[:, 3] > 0).astype(np.float32)[:, None]
    model = two_output_model()
    from fastkeras.optimizers import Adam
    model.compile(optimizer=Adam(0.02), loss=["mse", "binary_crossentropy"],
                  loss_weights=[1.0, 0.5], metrics={"out1": "mae", "out2": "accuracy"})
    assert model.metrics_names == ["loss", "out1_loss", "out2_loss", "out1_mae",
                                   "out2_accuracy"]
    history = model.fit(x, {"out1": y1, "out2": y2}, epochs=10, batch_size=32, verbose=0)
    assert list(history.history) == ["loss", "out1_loss", "out1_mae", "out2_accuracy",
                                     "out2_loss"]
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert history.history["out2_accuracy"][-1] > 0.85
    values = model.evaluate(x, [y1, y2], verbose=0)
    loss, l1, l2, mae, acc = values
    np.testing.assert_allclose(loss, l1 + 0.5 * l2, rtol=1e-5)  # logged unweighted
    p1, p2 = model.predict(x, verbose=0)
    np.testing.assert_allclose(l1, np.mean((p1 - y1) ** 2), rtol=1e-4)
    bce = -np.mean(y2 * np.log(np.clip(p2, 1e-7, 1 - 1e-7))
                   + (1 - y2) * np.log(np.clip(1 - p2, 1e-7, 1 - 1e-7)))
    np.testing.assert_allclose(l2, bce, rtol=1e-4)
    np.testing.assert_allclose(acc, np.mean((p2 > 0.5) == y2), rtol=1e-6)
    as_dict = model.evaluate(x, [y1, y2], verbose=0, return_dict=True)
    assert list(as_dict) == sorted(as_dict) and as_dict["out1_mae"] == pytest.approx(mae)


def test_masked_output_weights_the_loss():
    inp = Input((3, 1))
    model = Model(inp, Scale(1.0)(MaskZeros()(inp)))
    model.compile(optimizer="sgd", loss="mse")
    preds = np.array([[[3.0], [0.0], [3.0]]], np.float32)
    assert model.evaluate(preds, np.zeros((1, 3, 1)), verbose=0) == pytest.approx(9.0)


def test_validation_freq_initial_epoch_and_class_weight():
    x = np.random.default_rng(4).normal(size=(40, 3)).astype(np.float32)
    y = (x[:, :1] > 0).astype(np.float32)
    model = linear_model()
    model.compile(optimizer="sgd", loss="mse")
    h = model.fit(x, y, epochs=3, validation_data=(x, y), validation_freq=2, verbose=0)
    assert len(h.history["loss"]) == 3 and len(h.history["val_loss"]) == 1
    h = model.fit(x, y, epochs=3, initial_epoch=1, verbose=0)
    assert h.epoch == [1, 2]
    assert model.fit(x, y, epochs=2, initial_epoch=2, verbose=0).history == {}
    weighted = linear_model(init="ones")
    explicit = linear_model(init="ones")
    for m in (weighted, explicit):
        m.compile(optimizer="sgd", loss="mse")
    a = weighted.fit(x, y, class_weight={0: 0.5, 1: 3.0}, shuffle=False, verbose=0)
    b = explicit.fit(x, y, sample_weight=np.where(y[:, 0] > 0, 3.0, 0.5), shuffle=False,
                     verbose=0)
    assert a.history["loss"] == pytest.approx(b.history["loss"])
    np.testing.assert_array_equal(weighted.get_weights()[0], explicit.get_weights()[0])


def test_validation_split_uses_the_last_samples():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.ones((10, 1), np.float32)
    model = linear_model(dim=2, init="ones")
    from fastkeras.optimizers import SGD
    model.compile(optimizer=SGD(learning_rate=0.0), loss="mse")
    h = model.fit(x, y, validation_split=0.3, verbose=0)
    np.testing.assert_allclose(h.history["val_loss"][0],
                               np.mean((x[7:].sum(1) - 1) ** 2), rtol=1e-6)
    with pytest.raises(ValueError, match="Training data contains 3 samples, which is not "
                                         "sufficient to split it"):
        model.fit(x[:3], y[:3], validation_split=0.7, verbose=0)  # floor(3 * 0.3) == 0



def test_input_errors():
    model = linear_model()
    with pytest.raises(ValueError, match=r"You must call `compile\(\)` before using the model."):
        model.fit(np.ones((2, 3)), np.ones((2, 1)), verbose=0)
    model.predict(np.ones((2, 3)), verbose=0)  # predict works uncompiled
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=r"Data cardinality is ambiguous.*'x' sizes: 64 \| "
                                         r"'y' sizes: 10"):
        model.fit(np.ones((64, 3)), np.ones((10, 1)), verbose=0)
    with pytest.raises(ValueError, match="Unrecognized data type"):
        model.fit([[1, 2, 3]], np.ones((1, 1)), verbose=0)
    with pytest.raises(ValueError, match="expected shape=\\(None, 3\\), found shape=\\(4, 5\\)"):
        model.fit(np.ones((4, 5)), np.ones((4, 1)), verbose=0)
    with pytest.raises(ValueError, match="You cannot `class_weight` and `sample_weight`"):
        model.fit(np.ones((2, 3)), np.ones((2, 1)), class_weight={0: 1},
                  sample_weight=np.ones(2), verbose=0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'foo'"):
        model.fit(np.ones((2, 3)), np.ones((2, 1)), foo=1)
    with pytest.raises(ValueError, match="Could not interpret loss identifier: cce"):
        model.compile(loss="cce")
    with pytest.raises(ValueError, match="Could not interpret optimizer identifier: foo"):
        model.compile(optimizer="foo", loss="mse")
    with pytest.raises(ValueError, match="foo"):
        model.compile(optimizer="sgd", loss="mse", metrics=["foo"])


def counting_generator(x, y, batch, log):
    i = 0
    while True:
        log.append(threading.get_ident())
        s = (i * batch) % len(x)
        yield x[s:s + batch], y[s:s + batch]
        i += 1


def test_generator_steps_per_epoch_pulls_exactly_and_runs_in_a_thread():
    x = np.random.default_rng(5).normal(size=(32, 3)).astype(np.float32)
    y = x[:, :1].copy()
    model = linear_model()
    model.compile(optimizer="sgd", loss="mse")
    pulls = []
    with pytest.warns(UserWarning, match="`shuffle=True` was passed, but will be ignored"):
        h = model.fit(counting_generator(x, y, 8, pulls), steps_per_epoch=3, epochs=2,
                      verbose=0)
    assert len(pulls) == 6 and len(h.history["loss"]) == 2
    assert threading.get_ident() not in pulls  # prepared by the prefetch thread
    pulls.clear()
    model.fit(counting_generator(x, y, 8, pulls), steps_per_epoch=2, workers=0,
              shuffle=False, verbose=0)
    assert set(pulls) == {threading.get_ident()}


def test_prefetch_overlaps_the_next_batch_with_the_training_step():
    pulled_second = threading.Event()
    overlapped = []

    def gen():
        yield np.ones((2, 3), np.float32), np.ones((2, 1), np.float32)
        pulled_second.set()
        yield np.ones((2, 3), np.float32), np.ones((2, 1), np.float32)

    class WaitsForSecondPull(Scale):
        def call(self, x, training=None):
            if training and not overlapped:
                # The first step only finishes once the worker has pulled batch 2.
                overlapped.append(pulled_second.wait(timeout=20))
            return x

    inp = Input((3,))
    model = Model(inp, Linear(1)(WaitsForSecondPull()(inp)))
    model.compile(optimizer="sgd", loss="mse")
    model.fit(gen(), steps_per_epoch=2, shuffle=False, verbose=0)
    assert overlapped == [True]


def test_finite_generator_runs_out_with_a_warning():
    def gen():
        for _ in range(3):
            yield np.ones((2, 3), np.float32), np.ones((2, 1), np.float32)

    model = linear_model()
    model.compile(optimizer="sgd", loss="mse")
    with pytest.warns(UserWarning, match="Your input ran out of data; interrupting training"):
        h = model.fit(gen(), epochs=3, shuffle=False, verbose=0)
    assert len(h.history["loss"]) == 1 and h.params["steps"] is None


def test_generator_errors():
    model = linear_model()
    model.compile(optimizer="sgd", loss="mse")

    def bare():
        while True:
            yield np.ones((2, 3), np.float32)

    with pytest.raises(ValueError, match="must return a tuple"):
        model.fit(bare(), steps_per_epoch=1, shuffle=False, verbose=0)
    with pytest.raises(ValueError, match="must return a tuple"):
        model.predict(bare(), steps=1, verbose=0)
    with pytest.raises(ValueError, match="`y` should not be passed"):
        model.fit(bare(), np.ones((2, 1)), shuffle=False, verbose=0)
    with pytest.raises(ValueError, match="`validation_split` is only supported"):
        model.fit(bare(), validation_split=0.5, verbose=0)

    def shape_changes():
        yield np.ones((2, 3), np.float32), np.ones((2, 1), np.float32)
        yield np.ones((2, 4), np.float32), np.ones((2, 1), np.float32)

    with pytest.raises(ValueError, match="expected shape=\\(None, 3\\), found shape=\\(2, 4\\)"):
        model.fit(shape_changes(), steps_per_epoch=2, shuffle=False, verbose=0)


class Batches:
    """A Keras Sequence: ``__len__`` batches, ``__getitem__``, ``on_epoch_end``."""

    def __init__(self, x, y, batch):
        self.x, self.y, self.batch = x, y, batch
        self.epochs_ended = 0
        self.requested = []

    def __len__(self):
        return int(np.ceil(len(self.x) / self.batch))

    def __getitem__(self, i):
        self.requested.append(i)
        s = slice(i * self.batch, (i + 1) * self.batch)
        return self.x[s], self.y[s]

    def on_epoch_end(self):
        self.epochs_ended += 1


def test_sequence_with_worker_threads_matches_serial_training():
    x = np.random.default_rng(6).normal(size=(50, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]])).astype(np.float32)
    results = []
    for workers in (0, 3):
        model = linear_model(init="ones")
        model.compile(optimizer="sgd", loss="mse")
        seq = Batches(x, y, 8)
        h = model.fit(seq, epochs=2, workers=workers, verbose=0)
        assert seq.epochs_ended == 2 and sorted(seq.requested) == sorted(list(range(7)) * 2)
        assert h.params["steps"] == 7
        results.append((h.history["loss"], model.get_weights()[0]))
    assert results[0][0] == pytest.approx(results[1][0], rel=1e-6)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-6)


def test_keras2_generator_methods():
    x = np.random.default_rng(7).normal(size=(24, 3)).astype(np.float32)
    y = x[:, :1].copy()
    model = linear_model()
    model.compile(optimizer="sgd", loss="mse")
    seq = Batches(x, y, 8)
    with pytest.warns(DeprecationWarning, match="fit_generator"):
        h = model.fit_generator(seq, epochs=2, workers=2, max_queue_size=2, verbose=0)
    assert len(h.history["loss"]) == 2 and sorted(seq.requested) == [0, 0, 1, 1, 2, 2]
    with pytest.warns(DeprecationWarning):
        loss = model.evaluate_generator(seq)
    np.testing.assert_allclose(loss, model.evaluate(x, y, batch_size=8, verbose=0), rtol=1e-6)
    with pytest.warns(DeprecationWarning):
        pred = model.predict_generator(seq, steps=3)
    np.testing.assert_allclose(pred, model.predict(x, verbose=0), rtol=1e-6)


def test_nb_epoch_and_sequential_fit_builds_lazily():
    model = Sequential([Linear(4, activation="relu"), Linear(1)])
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(8).normal(size=(30, 5)).astype(np.float32)
    h = model.fit(x, x[:, :1], nb_epoch=3, verbose=0)
    assert len(h.history["loss"]) == 3 and model.input_shape == (None, 5)


def test_evaluate_returns_a_float_for_loss_only_and_predict_structures():
    model = two_output_model()
    x = np.ones((5, 4), np.float32)
    out = model.predict(x, batch_size=2, verbose=0)
    assert isinstance(out, list) and out[0].shape == (5, 2) and out[1].shape == (5, 1)
    single = linear_model()
    single.compile(optimizer="sgd", loss="mse")
    assert isinstance(single.evaluate(np.ones((3, 3)), np.ones((3, 1)), verbose=0), float)


def test_no_warnings_in_plain_training():
    model = linear_model()
    model.compile(optimizer="sgd", loss="mse")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(np.ones((4, 3)), np.ones((4, 1)), verbose=0)


def test_pydataset_settings_epoch_hooks_and_endless_datasets():
    from fastkeras.utils.data_utils import PyDataset

    class Data(PyDataset):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.threads, self.hooks = set(), []

        def __len__(self):
            return 4

        def __getitem__(self, i):
            self.threads.add(threading.get_ident())
            return np.full((2, 3), i, np.float32), np.zeros((2, 1), np.float32)

        def on_epoch_begin(self):
            self.hooks.append("begin")

        def on_epoch_end(self):
            self.hooks.append("end")

    model = linear_model()
    model.compile(optimizer="sgd", loss="mse")
    data = Data(workers=0)
    model.fit(data, epochs=2, verbose=0)
    assert data.hooks == ["begin", "end", "begin", "end"]
    assert data.threads == {threading.get_ident()}  # workers=0: fetched in the training thread
    pooled = Data(workers=2)
    model.fit(pooled, epochs=1, verbose=0)
    assert threading.get_ident() not in pooled.threads

    class Endless(Data):
        num_batches = None

    with pytest.raises(ValueError, match="is endless"):
        model.fit(Endless(), verbose=0)
    h = model.fit(Endless(), steps_per_epoch=3, epochs=2, verbose=0)
    assert h.params["steps"] == 3 and len(h.history["loss"]) == 2


def test_fit_and_predict_on_an_image_data_generator_iterator():
    from fastkeras.optimizers import SGD
    from fastkeras.preprocessing.image import ImageDataGenerator

    rng = np.random.default_rng(9)
    images = rng.random((24, 4, 4, 1)).astype(np.float32)
    labels = (images.mean(axis=(1, 2, 3)) > 0.5).astype(np.float32)[:, None]
    flow = ImageDataGenerator(horizontal_flip=True, vertical_flip=True).flow(
        images, labels, batch_size=5, shuffle=False, seed=1)

    class Flat(Scale):
        def call(self, x):
            return K.reshape(x, (x.shape[0], -1))

    # A model computing each image's mean, which flips do not change.
    inp = Input((4, 4, 1))
    mean = Linear(1, use_bias=False, kernel_initializer="ones")(Flat()(inp))
    model = Model(inp, Scale(1 / 16)(mean))
    model.compile(optimizer=SGD(learning_rate=0.0), loss="mse")
    flow[0]  # compile the augmentation kernels in this thread before the workers use them
    h = model.fit(flow, epochs=2, workers=2, verbose=0)
    assert h.params["steps"] == 5 and len(h.history["loss"]) == 2
    predicted = model.predict(flow, workers=2, verbose=0)
    np.testing.assert_allclose(predicted[:, 0], images.mean(axis=(1, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(model.evaluate(flow, verbose=0),
                               np.mean((images.mean(axis=(1, 2, 3)) - labels[:, 0]) ** 2),
                               rtol=1e-5)


def test_frozen_layers_are_not_trained_and_counted_as_non_trainable():
    inp = Input((3,))
    first = Linear(4, name="first")
    head = Linear(1, name="head")
    model = Model(inp, head(first(inp)))
    head.trainable = False
    assert [w.path for w in model.trainable_weights] == ["first/kernel", "first/bias"]
    assert [w.path for w in model.non_trainable_weights] == ["head/kernel", "head/bias"]
    lines = []
    model.summary(print_fn=lines.append)
    assert " Trainable params: 16 (64.00 B)" in lines
    assert " Non-trainable params: 5 (20.00 B)" in lines
    frozen = [w.copy() for w in head.get_weights()]
    before = first.get_weights()[0].copy()
    model.compile(optimizer="sgd", loss="mse")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "gradients do not exist" warning for frozen weights
        model.fit(np.ones((8, 3)), np.zeros((8, 1)), verbose=0)
    for got, want in zip(head.get_weights(), frozen):
        np.testing.assert_array_equal(got, want)
    assert not np.array_equal(first.get_weights()[0], before)
    model.trainable = False
    assert model.trainable_weights == [] and len(model.non_trainable_weights) == 4


def test_exhausted_validation_generator_is_a_clear_error():
    def once():
        yield np.ones((2, 3), np.float32), np.ones((2, 1), np.float32)

    model = linear_model()
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((4, 3), np.float32), np.ones((4, 1), np.float32)
    with pytest.raises(ValueError, match="evaluation data provided no batches. A Python "
                                         "generator is used up after one pass"):
        model.fit(x, y, epochs=2, validation_data=once(), verbose=0)


def test_custom_training_loop_with_a_gradient_tape_matches_fit():
    from fastkeras.backend.tensor import GradientTape
    from fastkeras.losses import MeanSquaredError
    from fastkeras.optimizers import SGD

    rng = np.random.default_rng(10)
    x = rng.normal(size=(6, 3)).astype(np.float32)
    y = rng.normal(size=(6, 1)).astype(np.float32)
    looped, fitted = linear_model(init="ones"), linear_model(init="ones")
    optimizer, loss_fn = SGD(learning_rate=0.1), MeanSquaredError()
    with GradientTape() as tape:
        loss = loss_fn(y, looped(x, training=True))  # arrays in: a Tensor out while recording
    grads = tape.gradient(loss, looped.trainable_weights)
    optimizer.apply(grads, looped.trainable_weights)
    fitted.compile(optimizer=SGD(learning_rate=0.1), loss="mse")
    fitted.fit(x, y, batch_size=6, shuffle=False, verbose=0)
    np.testing.assert_allclose(looped.get_weights()[0], fitted.get_weights()[0], rtol=1e-6)
    assert isinstance(looped(x), np.ndarray)  # outside a tape, arrays in give arrays out


def test_metrics_property_names_objects_as_logged_and_early_stopping_auto_picks_max():
    import operator
    from fastkeras.callbacks import EarlyStopping
    from fastkeras.metrics import Metric
    x, y, _ = blobs(n=240)
    inp = Input((8,))
    model = Model(inp, Linear(3, activation="softmax")(inp))
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    stopper = EarlyStopping(monitor="val_accuracy", mode="auto", patience=5)
    history = model.fit(x, y, epochs=2, batch_size=60, validation_split=0.25, verbose=0,
                        callbacks=[stopper])
    assert stopper.monitor_op is operator.gt
    assert [m.name for m in model.metrics] == ["accuracy"]
    assert all(isinstance(m, Metric) for m in model.metrics)
    assert float(model.metrics[0].result()) == pytest.approx(history.history["val_accuracy"][-1])

    rng = np.random.default_rng(3)
    x2 = rng.normal(size=(32, 4)).astype(np.float32)
    two = two_output_model()
    two.compile(optimizer="sgd", loss=["mse", "binary_crossentropy"],
                metrics={"out1": "mae", "out2": "accuracy"})
    two.fit(x2, [x2[:, :2], (x2[:, 3:] > 0).astype(np.float32)], epochs=1, verbose=0)
    assert [m.name for m in two.metrics] == ["out1_mae", "out2_accuracy"]


def test_loss_scale_factor_leaves_the_sgd_step_unchanged():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 3)).astype(np.float32)
    y = rng.normal(size=(8, 1)).astype(np.float32)
    model = linear_model(init="ones")
    from fastkeras.optimizers import SGD
    model.compile(optimizer=SGD(learning_rate=0.1, loss_scale_factor=4.0), loss="mse")
    w = np.ones((3, 1))
    grad = 2 * x.T.astype(np.float64) @ (x @ w - y) / len(x)
    history = model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(model.get_weights()[0], w - 0.1 * grad, rtol=1e-5)
    np.testing.assert_allclose(history.history["loss"][0], np.mean((x @ w - y) ** 2), rtol=1e-5)


def test_use_ema_puts_the_moving_averages_into_the_weights_at_the_end_of_fit():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(8, 3))
    y = rng.normal(size=(8, 1))
    model = linear_model(init="ones")
    from fastkeras.optimizers import SGD
    model.compile(optimizer=SGD(learning_rate=0.1, use_ema=True, ema_momentum=0.5), loss="mse")
    w = [np.ones((3, 1))]
    for _ in range(2):
        w.append(w[-1] - 0.1 * 2 * x.T @ (x @ w[-1] - y) / len(x))
    model.fit(x.astype(np.float32), y.astype(np.float32), batch_size=8, epochs=2,
              shuffle=False, verbose=0)
    # The first step copies the weights into the average; the second mixes 0.5 / 0.5.
    np.testing.assert_allclose(model.get_weights()[0], 0.5 * w[1] + 0.5 * w[2], rtol=1e-5)
