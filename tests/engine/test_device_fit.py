"""``compile(device=...)`` and what the device-resident CUDA path accepts, checked without a GPU.

Training on the device itself is tested under the simulator (``tests/cuda/test_cuda_fit.py``);
here: the device argument's errors, the CPU path staying the default, and the reasons
:func:`fastkeras.engine.device_training.unsupported` gives (pure Python, no CUDA touched).
"""

import logging
import re

import numpy as np
import pytest

from fastkeras import config, device, optimizers, regularizers
from fastkeras.callbacks import Callback, CSVLogger, ModelCheckpoint, TerminateOnNaN
from fastkeras.device import CudaUnavailableError, status_from
from fastkeras.engine import device_training
from fastkeras.layers import Dense, Dropout, Flatten, Input, Lambda
from fastkeras.models import Model, Sequential

NO_DRIVER = status_from(False, "CUDA driver library cannot be found.", [], "Built-in", False)


@pytest.fixture(autouse=True)
def no_cuda(monkeypatch):
    """No usable CUDA, whatever this machine has; no process-wide device chosen yet."""
    monkeypatch.setattr(device, "cuda_status", lambda: NO_DRIVER)
    monkeypatch.setattr(config, "_device", None)
    monkeypatch.setattr(config, "_told_fallback", False)
    monkeypatch.delenv("FASTKERAS_DEVICE", raising=False)


def mlp(**dense_args):
    return Sequential([Input((4,)), Dense(3, activation="relu", **dense_args),
                       Dense(2, activation="softmax")])


def xy(n=6):
    rng = np.random.default_rng(0)
    return (rng.normal(size=(n, 4)).astype(np.float32),
            np.eye(2, dtype=np.float32)[rng.integers(0, 2, n)])


def test_cuda_without_a_gpu_raises_the_require_cuda_error():
    with pytest.raises(CudaUnavailableError, match="CUDA is not usable, missing driver"):
        mlp().compile(optimizer="sgd", loss="mse", device="cuda")


@pytest.mark.parametrize("bad", ["tpu", "", 0, "gpu"])
def test_unknown_device_raises_naming_the_argument(bad):
    with pytest.raises(ValueError, match=r"`device` must be one of 'cpu', 'cuda', 'auto'; got"):
        mlp().compile(optimizer="sgd", loss="mse", device=bad)


def test_cpu_and_auto_without_a_gpu_train_as_the_default(capsys):
    x, y = xy()
    histories, weights = [], []
    for device_name in (None, "cpu", "AUTO"):
        model = mlp()
        rng = np.random.default_rng(1)
        model.set_weights([rng.uniform(-1, 1, w.shape) for w in model.get_weights()])
        model.compile(optimizer=optimizers.Adam(0.1), loss="categorical_crossentropy",
                      metrics=["accuracy"], device=device_name)
        histories.append(model.fit(x, y, epochs=2, batch_size=4, shuffle=False,
                                   verbose=0).history)
        weights.append(model.get_weights())
    assert histories[0] == histories[1] == histories[2]
    for w in weights[1:]:
        for a, b in zip(weights[0], w):
            np.testing.assert_array_equal(a, b)
    assert "device 'auto' runs on the CPU" in capsys.readouterr().err


@pytest.mark.parametrize("how", ["set_device", "environment"])
def test_process_wide_auto_falls_back_for_models_the_gpu_path_cannot_run(monkeypatch, caplog,
                                                                         how):
    # A GPU is usable, so 'auto' resolves to 'cuda'; a model compiled without a device of its
    # own must still fall back (as compile(device='auto') does), and a process-wide 'cuda'
    # must still raise.
    monkeypatch.setattr(device, "cuda_status", lambda: status_from(True, None, ["sim"],
                                                                    "Built-in", True))
    if how == "set_device":
        assert config.set_device("auto") == "cuda"
    else:
        monkeypatch.setenv("FASTKERAS_DEVICE", "Auto")
    assert config.get_device() == "cuda" and config.get_device_request() == "auto"
    x, y = xy()
    model = mlp(kernel_regularizer=regularizers.l2(0.1))
    model.compile(optimizer="sgd", loss="mse")
    with caplog.at_level(logging.INFO):
        model.fit(x, y, epochs=1, verbose=0)
    assert "device 'auto' runs model" in caplog.text and "kernel_regularizer" in caplog.text
    config.set_device("cuda")
    assert config.get_device_request() == "cuda"
    with pytest.raises(ValueError, match="does not support .*kernel_regularizer"):
        model.fit(x, y, epochs=1, verbose=0)


def supported(model, **compile_args):
    args = dict(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    args.update(compile_args)
    model.compile(**args)
    x, y = xy()
    return device_training.unsupported(model, True, x, y)


def test_a_dense_chain_is_supported():
    model = Sequential([Input((2, 2)), Flatten(), Dense(3, activation="gelu"), Dropout(0.5),
                        Dense(2, activation="softmax", use_bias=False)])
    assert supported(model) is None
    assert supported(mlp(), optimizer=optimizers.SGD(momentum=0.9, clipvalue=1.0),
                     loss="mse", metrics=["binary_accuracy"]) is None
    assert device_training.unsupported(mlp(), False, xy()[0]) is None  # predict, uncompiled


@pytest.mark.parametrize("build, compile_args, reason", [
    (lambda: Sequential([Input((4,)), Lambda(lambda t: t), Dense(2, activation="softmax")]),
     {}, "layer 'lambda.*' of type Lambda"),
    (lambda: mlp(kernel_regularizer=regularizers.l2(0.1)), {}, "kernel_regularizer"),
    (lambda: mlp(bias_constraint="non_neg"), {}, "bias_constraint"),
    (lambda: Sequential([Input((4,)), Dense(2, activation=lambda t: t * 2)]), {},
     "the activation"),
    (lambda: Sequential([Input((4,)), Dropout(0.5, noise_shape=(None, 1)),
                         Dense(2, activation="softmax")]), {}, "noise_shape"),
    (lambda: Sequential([Input((2, 2)), Dense(2, activation="softmax")]), {},
     "on inputs of rank 3"),
    (mlp, {"loss": "categorical_hinge"}, "the loss 'categorical_hinge'"),
    (mlp, {"loss": "kld"}, "the loss 'kld'"),
    (mlp, {"optimizer": optimizers.Adam(use_ema=True)}, "use_ema=True"),
    (mlp, {"optimizer": optimizers.SGD(global_clipnorm=1.0)}, "global_clipnorm=1.0"),
    (mlp, {"optimizer": optimizers.Adam(gradient_accumulation_steps=2)},
     "gradient_accumulation_steps=2"),
    (mlp, {"metrics": ["mae"]}, "the metric 'mae'"),
    (mlp, {"weighted_metrics": ["accuracy"]}, "weighted_metrics"),
    (mlp, {"metrics": ["sparse_categorical_accuracy"]}, "sparse accuracy runs with the sparse"),
])
def test_unsupported_names_the_first_thing(build, compile_args, reason):
    found = supported(build(), **compile_args)
    assert found is not None and re.search(reason, found), found


def test_unsupported_loss_arguments_and_models():
    from fastkeras.losses import CategoricalCrossentropy, MeanSquaredError

    assert "from_logits=True" in supported(
        mlp(), loss=CategoricalCrossentropy(from_logits=True))
    assert "reduction 'sum'" in supported(mlp(), loss=MeanSquaredError(reduction="sum"))
    a, b = Input((4,)), Input((4,))
    two_inputs = Model([a, b], Dense(2, activation="softmax")(a))
    two_inputs.compile(optimizer="sgd", loss="mse")
    assert "2 inputs and 1 outputs" in device_training.unsupported(two_inputs, False)
    inputs = Input((4,))
    branched = Model(inputs, Dense(2, activation="softmax")(Dense(3)(inputs) + Dense(3)(inputs)))
    branched.compile(optimizer="sgd", loss="mse")
    assert "not a single chain" in device_training.unsupported(branched, False)
    x, y = xy()
    model = mlp()
    model.compile(optimizer="sgd", loss="mse")

    def batches():
        yield x, y
    assert "`x` of type generator" in device_training.unsupported(model, True, batches(), None)
    assert "`validation_data` that is not a tuple" in device_training.unsupported(
        model, True, x, y, validation_data=batches())


def test_sparse_labels_are_checked_as_the_cpu_loss_checks_them():
    with pytest.raises(ValueError, match=r"class index 3, outside the valid range \[0, 3\)"):
        device_training._targets(np.array([0, 3]), 3, np.dtype(np.float32),
                                 "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="non-finite class labels"):
        device_training._targets(np.array([0.0, np.nan]), 3, np.dtype(np.float32),
                                 "sparse_categorical_crossentropy")
    labels = device_training._targets(np.array([[2.0], [0.0]]), 3, np.dtype(np.float32),
                                      "sparse_categorical_crossentropy")
    assert labels.dtype == np.int32 and labels.tolist() == [2, 0]
    with pytest.raises(ValueError, match=r"target.shape=\(2, 3\), output.shape=\(2, 2\)"):
        device_training._targets(np.zeros((2, 3)), 2, np.dtype(np.float32), "mean_squared_error")


class CountingReads:
    """Stands in for the device accumulators: counts read-backs."""

    def __init__(self):
        self.reads = 0

    def read(self):
        self.reads += 1
        return {"loss": float(self.reads)}


class BatchLogger(Callback):
    def on_batch_end(self, batch, logs=None):
        pass


def sync_for(callbacks, verbose):
    from fastkeras.callbacks import CallbackList

    cbs = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, verbose=verbose,
                       epochs=1, steps=3)
    return device_training._Sync(cbs, verbose)


def test_read_back_and_weight_sync_policy(tmp_path):
    live = sync_for([], verbose=1)
    acc = CountingReads()
    seen = [live.batch_logs(acc, live.train_hooks, True)["loss"]]
    live.last_read = float("inf")  # just read: the bar is not due
    seen.append(live.batch_logs(acc, live.train_hooks, True)["loss"])
    live.last_read = -float("inf")  # the bar's refresh interval has passed
    seen.append(live.batch_logs(acc, live.train_hooks, True)["loss"])
    assert seen == [1.0, 1.0, 2.0]
    live.last_read = -float("inf")
    assert live.batch_logs(acc, live.test_hooks, False)["loss"] == 2.0  # no bar in fit's eval
    assert not (live.epoch_weights or live.train_hooks or live.test_hooks)

    quiet = sync_for([], verbose=2)
    acc = CountingReads()
    assert [quiet.batch_logs(acc, quiet.train_hooks, True) for _ in range(3)] == [{}] * 3
    assert acc.reads == 0

    hooked = sync_for([BatchLogger()], verbose=0)
    acc = CountingReads()
    assert [hooked.batch_logs(acc, hooked.train_hooks, True)["loss"] for _ in range(3)] == \
        [1.0, 2.0, 3.0]
    assert hooked.epoch_weights and hooked.train_hooks and hooked.train_weights
    assert not hooked.test_hooks
    logs_only = sync_for([TerminateOnNaN(), CSVLogger(str(tmp_path / "log.csv"))], verbose=0)
    assert logs_only.train_hooks and not logs_only.train_weights
    assert not logs_only.epoch_weights

    per_epoch = sync_for([ModelCheckpoint(str(tmp_path / "m.keras"))], verbose=0)
    assert per_epoch.epoch_weights and not per_epoch.train_hooks
    per_batch = sync_for([ModelCheckpoint(str(tmp_path / "m.keras"), save_freq=2)], verbose=0)
    assert per_batch.train_hooks


def test_generators_are_refused_on_cuda(monkeypatch):
    monkeypatch.setattr(config, "resolve_device", lambda requested, argument: "cuda")
    x, y = xy()
    model = mlp()
    model.compile(optimizer="sgd", loss="mse")

    def batches():
        while True:
            yield x, y
    with pytest.raises(ValueError, match="`x` of type generator.*device='cpu'"):
        model.fit(batches(), steps_per_epoch=1, verbose=0)
    with pytest.warns(DeprecationWarning), \
            pytest.raises(ValueError, match="`x` of type generator"):
        model.fit_generator(batches(), steps_per_epoch=1, verbose=0)
    with pytest.warns(DeprecationWarning), \
            pytest.raises(ValueError, match="`x` of type generator"):
        model.predict_generator(batches(), steps=1)
