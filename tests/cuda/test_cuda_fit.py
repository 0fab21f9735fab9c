"""``compile(device='cuda')``: the device-resident fit/evaluate/predict against the CPU engine.

Each test trains the same model (same starting weights, same Dropout seed, same global numpy
seed for the shuffles) on the CPU and on the device and compares weights, optimizer state,
History and callbacks' observations. Sizes are tiny: the simulator runs every GPU thread as a
Python thread.
"""

import logging

import numpy as np
import pytest

from fastkeras import optimizers
from fastkeras.callbacks import Callback
from fastkeras.layers import Activation, Dense, Dropout, Flatten, Input, Lambda
from fastkeras.models import Model, Sequential

RTOL, ATOL = 1e-5, 2e-6


class WeightsSeen(Callback):
    """Records ``get_weights()`` at every epoch end."""

    def __init__(self):
        super().__init__()
        self.epochs, self.batches = [], []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(self.model.get_weights())


class BatchWeightsSeen(WeightsSeen):
    """A callback with a batch hook: the device path syncs weights around every batch."""

    def on_train_batch_end(self, batch, logs=None):
        self.batches.append((self.model.get_weights(), dict(logs)))


def data(n=8, features=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    labels = rng.integers(0, classes, n)
    return x, labels, np.eye(classes, dtype=np.float32)[labels]


def starting_weights(model, seed=1):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.uniform(-0.8, 0.8, w.shape).astype(w.dtype)
                       for w in model.get_weights()])


def twins(build, optimizer, seed=1, **compile_args):
    """The model built twice with the same starting weights: compiled for the CPU and CUDA,
    each with its own copy of ``optimizer``."""
    models = {}
    for device in ("cpu", "cuda"):
        model = build()
        starting_weights(model, seed)
        model.compile(optimizer=optimizers.get(optimizer).from_config(
            optimizers.get(optimizer).get_config()), device=device, **compile_args)
        models[device] = model
    return models


def run_both(models, *args, numpy_seed=7, **kwargs):
    out = {}
    for device, model in models.items():
        np.random.seed(numpy_seed)
        out[device] = model.fit(*args, verbose=0, **kwargs).history
    return out


def assert_close_lists(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        np.testing.assert_allclose(v, u, rtol=RTOL, atol=ATOL)


def assert_same_history(h_cpu, h_gpu):
    assert sorted(h_cpu) == sorted(h_gpu)
    for key in h_cpu:
        np.testing.assert_allclose(h_gpu[key], h_cpu[key], rtol=RTOL, atol=ATOL, err_msg=key)


def mlp_with_dropout():
    return Sequential([Input((6,)), Dense(5, activation="relu"), Dropout(0.4, seed=11),
                       Dense(3, activation="softmax")])


def test_adam_dropout_fit_matches_cpu_with_validation_and_batch_callbacks():
    x, _, y = data()
    vx, _, vy = data(n=4, seed=5)
    models = twins(mlp_with_dropout, optimizer=optimizers.Adam(0.05),
                   loss="categorical_crossentropy", metrics=["accuracy"])
    seen = {d: BatchWeightsSeen() for d in models}
    start = models["cuda"].get_weights()
    histories = {}
    for device, model in models.items():
        np.random.seed(3)
        histories[device] = model.fit(x, y, batch_size=4, epochs=2, verbose=0,
                                      validation_data=(vx, vy), callbacks=[seen[device]]).history
    assert_same_history(histories["cpu"], histories["cuda"])
    assert set(histories["cuda"]) == {"accuracy", "loss", "val_accuracy", "val_loss"}
    cpu, gpu = models["cpu"], models["cuda"]
    assert_close_lists(cpu.get_weights(), gpu.get_weights())
    assert not any(np.allclose(a, b) for a, b in zip(start, gpu.get_weights()))
    assert int(gpu.optimizer.iterations.value) == int(cpu.optimizer.iterations.value) == 4
    assert_close_lists(cpu.optimizer.get_weights(), gpu.optimizer.get_weights())
    # the same masks: the dropout layers drew the same number of calls from the same stream
    assert gpu.layers[1]._counter == cpu.layers[1]._counter == 4
    # the batch hook saw each step's updated weights and running logs
    assert len(seen["cuda"].batches) == len(seen["cpu"].batches) == 4
    for (w_cpu, logs_cpu), (w_gpu, logs_gpu) in zip(seen["cpu"].batches, seen["cuda"].batches):
        assert_close_lists(w_cpu, w_gpu)
        assert_same_history(logs_cpu, logs_gpu)


def test_sgd_momentum_shuffled_sparse_fit_with_sample_weights_matches_cpu():
    x, labels, _ = data(n=8)
    weights = np.linspace(0.5, 2.0, 8).astype(np.float32)

    def build():
        inputs = Input((2, 3))
        frozen = Dense(5, activation="softsign", trainable=False)
        hidden = Dense(4, activation="tanh")(frozen(Flatten()(inputs)))
        outputs = Activation("softmax")(Dense(3, use_bias=False)(hidden))
        return Model(inputs, outputs)

    models = twins(build, optimizer=optimizers.SGD(0.1, momentum=0.9, nesterov=True),
                   loss="sparse_categorical_crossentropy",
                   metrics=["acc", "sparse_categorical_accuracy"])
    seen = {d: WeightsSeen() for d in models}
    histories = {}
    for device, model in models.items():
        np.random.seed(4)
        histories[device] = model.fit(x.reshape(8, 2, 3), labels, batch_size=4, epochs=2,
                                      shuffle=True, sample_weight=weights, verbose=0,
                                      validation_split=0.25, callbacks=[seen[device]]).history
    assert_same_history(histories["cpu"], histories["cuda"])
    assert "val_sparse_categorical_accuracy" in histories["cuda"]
    assert_close_lists(models["cpu"].get_weights(), models["cuda"].get_weights())
    assert_close_lists(models["cpu"].optimizer.get_weights(),
                       models["cuda"].optimizer.get_weights())
    # an epoch-end callback sees the epoch's weights (written back before it runs)
    for w_cpu, w_gpu in zip(seen["cpu"].epochs, seen["cuda"].epochs):
        assert_close_lists(w_cpu, w_gpu)
    first, second = seen["cuda"].epochs
    assert not np.allclose(first[2], second[2])
    np.testing.assert_array_equal(first[0], second[0])  # the frozen layer's kernel


@pytest.mark.parametrize("loss, optimizer, activation, class_weight", [
    ("binary_crossentropy", optimizers.RMSprop(0.05, momentum=0.5, centered=True), "sigmoid",
     {0: 0.5, 1: 3.0}),
    ("mse", optimizers.Adagrad(0.2, clipvalue=0.05, weight_decay=0.01), "elu", None),
])
def test_other_losses_and_optimizers_match_cpu(loss, optimizer, activation, class_weight):
    x, labels, _ = data(n=5)
    y = np.stack([labels % 2, labels // 2], axis=1).astype(np.float32)

    def build():
        return Sequential([Input((6,)), Dense(2, activation=activation)])

    models = twins(build, optimizer=optimizer, loss=loss, metrics=["binary_accuracy"])
    histories = run_both(models, x, y, batch_size=5, epochs=1, class_weight=class_weight)
    assert_same_history(histories["cpu"], histories["cuda"])
    assert_close_lists(models["cpu"].get_weights(), models["cuda"].get_weights())


def test_evaluate_and_predict_equal_cpu():
    x, labels, y = data(n=7)
    models = twins(mlp_with_dropout, optimizer="sgd", loss="categorical_crossentropy",
                   metrics=["accuracy"])
    weights = np.arange(1, 8, dtype=np.float32)
    got = {d: m.evaluate(x, y, batch_size=4, sample_weight=weights, verbose=0, return_dict=True)
           for d, m in models.items()}
    assert_same_history(got["cpu"], got["cuda"])
    pred = {d: m.predict(x, batch_size=4, verbose=0) for d, m in models.items()}
    assert isinstance(pred["cuda"], np.ndarray) and pred["cuda"].dtype == np.float32
    np.testing.assert_allclose(pred["cuda"], pred["cpu"], rtol=RTOL, atol=ATOL)
    accuracy = np.mean(pred["cpu"].argmax(axis=1) == labels)
    assert got["cuda"]["accuracy"] == pytest.approx(accuracy)


def test_unsupported_layer_raises_naming_it():
    model = Sequential([Input((6,)), Lambda(lambda t: t * 2, name="doubling"), Dense(2)])
    model.compile(optimizer="sgd", loss="mse", device="cuda")
    x, _, _ = data()
    with pytest.raises(ValueError, match=r"layer 'doubling' of type Lambda.*device='cpu'"):
        model.fit(x, np.zeros((8, 2), np.float32), verbose=0)
    with pytest.raises(ValueError, match="layer 'doubling'"):
        model.predict(x, verbose=0)


def test_unsupported_loss_and_optimizer_setting_raise():
    x, _, y = data()
    model = Sequential([Input((6,)), Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="kl_divergence", device="cuda")
    with pytest.raises(ValueError, match="the loss 'kl_divergence'"):
        model.fit(x, y, verbose=0)
    model.compile(optimizer=optimizers.SGD(clipnorm=1.0), loss="mse", device="cuda")
    with pytest.raises(ValueError, match="clipnorm=1.0"):
        model.fit(x, y, verbose=0)
    linear = Sequential([Input((6,)), Dense(3)])
    linear.compile(optimizer="sgd", loss="categorical_crossentropy", device="cuda")
    with pytest.raises(ValueError, match="does not end in a softmax"):
        linear.fit(x, y, verbose=0)


def test_auto_falls_back_to_the_cpu_with_one_info_line(caplog):
    x, _, _ = data()
    y = np.zeros((8, 2), np.float32)
    model = Sequential([Input((6,)), Lambda(lambda t: t * 2), Dense(2)])
    starting_weights(model)
    model.compile(optimizer="sgd", loss="mse", device="auto")
    reference = Sequential([Input((6,)), Lambda(lambda t: t * 2), Dense(2)])
    starting_weights(reference)
    reference.compile(optimizer="sgd", loss="mse", device="cpu")
    with caplog.at_level(logging.INFO, logger="fastkeras.engine.training"):
        history = model.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    lines = [r for r in caplog.records if r.name == "fastkeras.engine.training"]
    assert len(lines) == 1 and lines[0].levelno == logging.INFO
    assert "runs model" in lines[0].getMessage() and "Lambda" in lines[0].getMessage()
    expected = reference.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    assert history.history == expected.history


def test_bad_data_raises_before_training():
    x, labels, y = data()
    model = Sequential([Input((6,)), Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy", device="cuda")
    start = model.get_weights()
    with pytest.raises(ValueError, match=r"expects shape \(None, 6\); received x of shape "
                                         r"\(8, 5\)"):
        model.fit(x[:, :5], y, verbose=0)
    with pytest.raises(ValueError, match=r"`sample_weight` must have shape \(samples,\)"):
        model.fit(x, y, sample_weight=np.ones((8, 2), np.float32), verbose=0)
    with pytest.raises(ValueError, match=r"target.shape=\(8,\), output.shape=\(8, 3\)"):
        model.fit(x, labels, verbose=0)
    with pytest.raises(ValueError, match="`y` \\(the targets\\) must be provided"):
        model.evaluate(x, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(start, model.get_weights()))
