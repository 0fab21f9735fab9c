"""Callbacks: spec section 24 examples and messages, driven on a small fake model."""

import csv
import math
import os

import numpy as np
import pytest

from fastkeras import callbacks as C
from fastkeras.metrics import BinaryAccuracy, MeanAbsoluteError
from fastkeras.optimizers import SGD
from fastkeras.utils import progbar as progbar_module


class FakeModel:
    """What callbacks use of a model."""

    def __init__(self, learning_rate=0.01, metrics=()):
        self.stop_training = False
        self.optimizer = SGD(learning_rate)
        self.metrics = list(metrics)
        self.weights = [np.zeros(2)]
        self.saved = []

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [w.copy() for w in weights]

    def save(self, path, overwrite=True):
        self.saved.append(("model", path))
        with open(path, "w") as f:
            f.write("model")

    def save_weights(self, path, overwrite=True):
        self.saved.append(("weights", path))
        with open(path, "w") as f:
            f.write("weights")


def fit(callbacks, epoch_logs, model=None, steps=1, batch_logs=None, verbose=0):
    """Drive the hooks as fit does; weights after epoch e are all e. Returns (model, history)."""
    model = model or FakeModel()
    cbl = C.CallbackList(callbacks, add_history=True, add_progbar=verbose > 0, model=model,
                         verbose=verbose, epochs=len(epoch_logs), steps=steps)
    cbl.on_train_begin()
    for epoch, logs in enumerate(epoch_logs):
        cbl.on_epoch_begin(epoch)
        for batch in range(steps):
            cbl.on_train_batch_begin(batch)
            cbl.on_train_batch_end(batch, (batch_logs or {}).get((epoch, batch), logs))
            if model.stop_training:
                break
        model.weights = [np.full(2, float(epoch))]
        cbl.on_epoch_end(epoch, dict(logs))
        if model.stop_training:
            break
    cbl.on_train_end()
    return model, model.history


# -- History, CallbackList ----------------------------------------------------------------------

def test_history_sorted_keys_and_epochs():
    model, history = fit([], [{"zzz": 1, "loss": 2.0, "val_zzz": 3, "mae": 4, "val_loss": 5,
                               "val_mae": 6}, {"zzz": 0, "loss": 1.0, "val_zzz": 0, "mae": 0,
                                               "val_loss": 0, "val_mae": 0}])
    assert list(history.history) == ["loss", "mae", "val_loss", "val_mae", "val_zzz", "zzz"]
    assert history.history["loss"] == [2.0, 1.0] and history.epoch == [0, 1]
    assert history.params == {"verbose": 0, "epochs": 2, "steps": 1}
    assert isinstance(history.history["zzz"][0], float)


def test_callback_list_flattens_and_keeps_given_history():
    own = C.History()
    seen = []
    lam = C.LambdaCallback(on_train_begin=lambda logs: seen.append("begin"))
    cbl = C.CallbackList([[own], lam], add_history=True, add_progbar=True, model=FakeModel(),
                         verbose=0, epochs=1, steps=1)
    assert cbl.callbacks[0] is own and isinstance(cbl.callbacks[-1], C.ProgbarLogger)
    assert sum(isinstance(c, C.History) for c in cbl.callbacks) == 1
    assert cbl.model.history is own and lam.model is cbl.model
    cbl.on_train_begin()
    assert seen == ["begin"]
    with pytest.raises(TypeError, match="`callbacks` must be a Callback"):
        C.CallbackList(["not a callback"])


def test_keras2_batch_hooks_and_logs_conversion():
    seen = []

    class K2Style(C.Callback):
        def on_batch_end(self, batch, logs=None):
            seen.append((batch, logs))

    fit([K2Style()], [{"loss": np.float32(0.5)}], steps=2)
    assert seen == [(0, {"loss": 0.5}), (1, {"loss": 0.5})]
    assert type(seen[0][1]["loss"]) is float
    assert C.pythonify_logs({"b": 1, "a": {"c": np.float64(2)}, "s": "x"}) == {
        "c": 2.0, "b": 1.0, "s": "x"}


# -- EarlyStopping ------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, losses, stop", [
    (dict(patience=0), [1, .9, .95], 2),
    (dict(patience=0), [1, 1.1], 1),
    (dict(patience=2), [1, 1.1, 1.2], 2),
    (dict(patience=1, min_delta=.1), [1, .95], 1),
    (dict(patience=2, baseline=.5), [1, .9, .8, .7], None),
    (dict(start_from_epoch=2), [1, 2, 3, 4], 3),
])
def test_early_stopping_spec_examples(kwargs, losses, stop):
    es = C.EarlyStopping(monitor="loss", **kwargs)
    _, history = fit([es], [{"loss": v} for v in losses])
    if stop is None:
        assert es.stopped_epoch == 0 and len(history.epoch) == len(losses)
    else:
        assert es.stopped_epoch == stop and history.epoch[-1] == stop


def test_early_stopping_messages_and_restore(capsys):
    es = C.EarlyStopping(monitor="loss", patience=1, verbose=1, restore_best_weights=True)
    model, _ = fit([es], [{"loss": v} for v in [3, 1, 2, 2.5, 0]])
    assert capsys.readouterr().out == ("Epoch 3: early stopping\n"
                                       "Restoring model weights from the end of the best epoch: "
                                       "2.\n")
    np.testing.assert_array_equal(model.weights[0], [1.0, 1.0])
    # restored even without an early stop
    es = C.EarlyStopping(monitor="loss", patience=5, restore_best_weights=True)
    model, _ = fit([es], [{"loss": v} for v in [3, 1, 2]])
    np.testing.assert_array_equal(model.weights[0], [1.0, 1.0])


def test_early_stopping_best_reset_each_fit():
    es = C.EarlyStopping(monitor="loss", patience=0)
    fit([es], [{"loss": 0.1}])
    _, history = fit([es], [{"loss": 1.0}, {"loss": 0.9}])
    assert es.stopped_epoch == 0 and len(history.epoch) == 2


def test_monitor_direction():
    metrics = [BinaryAccuracy(name="acc"), MeanAbsoluteError(name="mae")]
    es = C.EarlyStopping(monitor="val_acc", patience=0)
    _, history = fit([es], [{"val_acc": .5}, {"val_acc": .6}, {"val_acc": .55}],
                     model=FakeModel(metrics=metrics))
    assert es.stopped_epoch == 2

    class Container:
        def __init__(self, inner):
            self.metrics = inner

    es = C.EarlyStopping(monitor="mae", patience=0)
    fit([es], [{"mae": .5}, {"mae": .6}], model=FakeModel(metrics=[Container(metrics)]))
    assert es.stopped_epoch == 1
    es = C.EarlyStopping(monitor="val_out1_loss", patience=0)
    fit([es], [{"val_out1_loss": .5}, {"val_out1_loss": .6}])
    assert es.stopped_epoch == 1
    es = C.EarlyStopping(monitor="val_acc", mode="max", patience=0)
    fit([es], [{"val_acc": .5}, {"val_acc": .4}])
    assert es.stopped_epoch == 1
    with pytest.raises(ValueError, match="EarlyStopping callback received monitor=val_foo, but "
                                         "Keras isn't able to automatically determine"):
        fit([C.EarlyStopping(monitor="val_foo")], [{"val_foo": 1.0}])
    with pytest.warns(UserWarning, match="EarlyStopping mode 'maximum' is unknown, fallback to "
                                         "auto mode."):
        assert C.EarlyStopping(mode="maximum").mode == "auto"


def test_early_stopping_missing_monitor_warns():
    with pytest.warns(UserWarning, match="Early stopping conditioned on metric `val_loss` which "
                                         "is not available. Available metrics are: "
                                         "accuracy,loss"):
        _, history = fit([C.EarlyStopping()], [{"loss": 1.0, "accuracy": .5}] * 2)
    assert len(history.epoch) == 2


# -- ModelCheckpoint ----------------------------------------------------------------------------

def test_checkpoint_template_every_epoch(tmp_path):
    template = str(tmp_path / "sub" / "ck_{epoch:02d}_{loss:.3f}")
    model, _ = fit([C.ModelCheckpoint(template)], [{"loss": .123}, {"loss": .0456}])
    expected = [str(tmp_path / "sub" / "ck_01_0.123"), str(tmp_path / "sub" / "ck_02_0.046")]
    assert model.saved == [("model", p) for p in expected]
    assert all(os.path.exists(p) for p in expected)


def test_checkpoint_best_only_messages(tmp_path, capsys):
    path = str(tmp_path / "best.weights")
    cb = C.ModelCheckpoint(path, monitor="loss", verbose=1, save_best_only=True,
                           save_weights_only=True)
    model, _ = fit([cb], [{"loss": .123}, {"loss": .2}, {"loss": .1}])
    assert model.saved == [("weights", path), ("weights", path)]
    assert capsys.readouterr().out == (
        f"\nEpoch 1: loss improved from None to 0.12300, saving model to {path}\n"
        f"\nEpoch 1: finished saving model to {path}\n"
        "\nEpoch 2: loss did not improve from 0.12300\n"
        f"\nEpoch 3: loss improved from 0.12300 to 0.10000, saving model to {path}\n"
        f"\nEpoch 3: finished saving model to {path}\n")


def test_checkpoint_initial_threshold_and_missing_monitor(tmp_path):
    path = str(tmp_path / "m")
    cb = C.ModelCheckpoint(path, monitor="loss", save_best_only=True,
                           initial_value_threshold=.15)
    model, _ = fit([cb], [{"loss": .2}, {"loss": .1}])
    assert len(model.saved) == 1
    cb = C.ModelCheckpoint(path, save_best_only=True)
    with pytest.warns(UserWarning, match="Can save best model only with val_loss available."):
        model, _ = fit([cb], [{"loss": .2}])
    assert len(model.saved) == 1


def test_checkpoint_save_freq_batches(tmp_path, capsys):
    template = str(tmp_path / "e{epoch}_b{batch}")
    model, _ = fit([C.ModelCheckpoint(template, save_freq=3, verbose=1)],
                   [{"loss": 1.0}, {"loss": 1.0}], steps=4)
    # 8 batches: saves after the 3rd (epoch 1 batch 3) and 6th (epoch 2 batch 2)
    assert [p for _, p in model.saved] == [str(tmp_path / "e1_b3"), str(tmp_path / "e2_b2")]
    assert f"\nEpoch 1: saving model to {tmp_path / 'e1_b3'}\n" in capsys.readouterr().out


def test_checkpoint_errors(tmp_path):
    with pytest.raises(KeyError, match="Failed to format this callback filepath"):
        fit([C.ModelCheckpoint(str(tmp_path / "{val_acc}"))], [{"loss": 1.0}])
    with pytest.raises(ValueError, match="Unrecognized save_freq: often"):
        C.ModelCheckpoint("x", save_freq="often")
    with pytest.raises(ValueError, match="Unrecognized save_freq: 0"):
        C.ModelCheckpoint("x", save_freq=0)
    with pytest.raises(IsADirectoryError, match="non-directory filepath"):
        fit([C.ModelCheckpoint(str(tmp_path))], [{"loss": 1.0}])


# -- learning-rate callbacks --------------------------------------------------------------------

def test_learning_rate_scheduler(capsys):
    sched = C.LearningRateScheduler(lambda epoch, lr: lr * 0.5, verbose=1)
    model, history = fit([sched], [{"loss": 1.0}, {"loss": 1.0}])
    lr1 = float(np.float32(0.01)) * 0.5
    lr2 = float(np.float32(lr1)) * 0.5
    assert capsys.readouterr().out == (
        f"\nEpoch 1: LearningRateScheduler setting learning rate to {lr1}.\n"
        f"\nEpoch 2: LearningRateScheduler setting learning rate to {lr2}.\n")
    assert "0.004999999888241291" in str(lr1)
    assert history.history["learning_rate"] == [float(np.float32(lr1)), float(np.float32(lr2))]
    assert float(model.optimizer.learning_rate) == np.float32(lr2)


def test_learning_rate_scheduler_one_argument_and_errors():
    model, _ = fit([C.LearningRateScheduler(lambda epoch: 0.1 * (epoch + 1))],
                   [{"loss": 1.0}] * 2)
    assert float(model.optimizer.learning_rate) == np.float32(0.2)
    with pytest.raises(ValueError, match="The output of the `schedule` function should be a "
                                         "float. Got: 1"):
        fit([C.LearningRateScheduler(lambda epoch, lr: 1)], [{"loss": 1.0}])
    with pytest.raises(TypeError, match="`schedule` must be callable"):
        C.LearningRateScheduler(0.1)


def test_reduce_lr_on_plateau(capsys):
    cb = C.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, cooldown=1, min_lr=0.003,
                             verbose=1)
    model, history = fit([cb], [{"loss": v} for v in [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]])
    # epoch index 1 reduces (wait 1); at 2 the cooldown ends first, so it reduces again, to
    # the floor; later epochs cannot go lower
    lr1 = float(np.float32(0.01)) * 0.5
    assert capsys.readouterr().out == (
        f"\nEpoch 2: ReduceLROnPlateau reducing learning rate to {lr1}.\n"
        "\nEpoch 3: ReduceLROnPlateau reducing learning rate to 0.003.\n")
    assert float(model.optimizer.learning_rate) == np.float32(0.003)
    # logged at each epoch end before that epoch's reduction
    assert history.history["learning_rate"][:3] == [float(np.float32(0.01))] * 2 + [
        float(np.float32(lr1))]
    with pytest.raises(ValueError, match="does not support a factor >= 1.0"):
        C.ReduceLROnPlateau(factor=1.0)
    with pytest.warns(DeprecationWarning, match="`epsilon` argument is deprecated"):
        assert C.ReduceLROnPlateau(epsilon=0.5).min_delta == 0.5
    with pytest.raises(ValueError, match="Unrecognized keyword arguments"):
        C.ReduceLROnPlateau(foo=1)


def test_reduce_lr_respects_improvement_and_min_delta():
    cb = C.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=0.1)
    model, _ = fit([cb], [{"loss": 1.0}, {"loss": 0.85}, {"loss": 0.8}])
    # 0.85 improves by more than 0.1; 0.8 does not, so one reduction
    assert float(model.optimizer.learning_rate) == np.float32(float(np.float32(0.01)) * 0.5)


# -- CSVLogger ----------------------------------------------------------------------------------

def test_csv_logger_spec_output(tmp_path):
    path = tmp_path / "log.csv"
    fit([C.CSVLogger(path)], [{"loss": 0.10709051787853241, "accuracy": 0.0},
                              {"loss": 0.5, "accuracy": [1, 2]}])
    assert path.read_bytes() == (b"epoch,accuracy,loss,val_accuracy,val_loss\r\n"
                                 b"0,0.0,0.10709051787853241,NA,NA\r\n"
                                 b'1,"""[1, 2]""",0.5,NA,NA\r\n')


def test_csv_logger_append_and_separator(tmp_path):
    path = tmp_path / "log.tsv"
    fit([C.CSVLogger(path, separator="\t", append=True)], [{"loss": 1.0, "val_loss": 2.0}])
    fit([C.CSVLogger(path, separator="\t", append=True)], [{"loss": 3.0, "val_loss": 4.0}])
    with open(path, newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    assert rows == [["epoch", "loss", "val_loss"], ["0", "1.0", "2.0"], ["0", "3.0", "4.0"]]
    fit([C.CSVLogger(path)], [{"loss": 5.0}])     # not appending: truncates
    assert path.read_text().splitlines() == ["epoch,loss,val_loss", "0,5.0,NA"]


# -- TerminateOnNaN, LambdaCallback ---------------------------------------------------------------

def test_terminate_on_nan(capsys):
    batch_logs = {(0, b): {"loss": v} for b, v in enumerate([1.0, 2.0, 3.0, math.nan, 1.0])}
    model, history = fit([C.TerminateOnNaN()], [{"loss": math.nan}], steps=5,
                         batch_logs=batch_logs)
    assert capsys.readouterr().out == "Batch 3: Invalid loss, terminating training\n"
    assert model.stop_training and math.isnan(history.history["loss"][0])
    batch_logs = {(0, 0): {"loss": math.inf}}
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 0"):
        fit([C.TerminateOnNaN(raise_error=True)], [{"loss": 1.0}], batch_logs=batch_logs)


def test_lambda_callback():
    calls = []
    cb = C.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: calls.append(("eb", epoch)),
        on_epoch_end=lambda epoch, logs: calls.append(("ee", epoch, logs["loss"])),
        on_train_begin=lambda logs: calls.append("tb"),
        on_train_end=lambda logs: calls.append("te"),
        on_train_batch_end=lambda batch, logs: calls.append(("be", batch)),
        on_batch_begin=lambda batch, logs: calls.append(("k2", batch)),
        tag="x")
    fit([cb], [{"loss": 1.0}], steps=2)
    assert calls == ["tb", ("eb", 0), ("k2", 0), ("be", 0), ("k2", 1), ("be", 1),
                     ("ee", 0, 1.0), "te"]
    assert cb.tag == "x"
    with pytest.raises(TypeError, match="`on_epoch_end` must be callable"):
        C.LambdaCallback(on_epoch_end=3)


# -- ProgbarLogger --------------------------------------------------------------------------------

class FakeClock:
    def __init__(self):
        self.now = 0.0

    def time(self):
        self.now += 0.1
        return self.now


def test_progbar_logger_epoch_headers_and_final_line(monkeypatch, capsys):
    monkeypatch.setattr(progbar_module, "time", FakeClock())
    logs = {"accuracy": 0.4625, "loss": 0.8241, "val_accuracy": 0.55, "val_loss": 0.6797}
    fit([], [logs, logs], steps=3, verbose=1,
        batch_logs={(e, b): {"accuracy": 0.4625, "loss": 0.8241} for e in range(2)
                    for b in range(3)})
    out = capsys.readouterr().out
    assert out.count("Epoch 1/2\n") == 1 and out.count("Epoch 2/2\n") == 1
    final = out.split("\r")[-1]
    assert final.startswith("\x1b[1m3/3\x1b[0m \x1b[32m" + "━" * 20 + "\x1b[0m\x1b[37m\x1b[0m ")
    assert final.endswith("ms/step - accuracy: 0.4625 - loss: 0.8241 - val_accuracy: 0.5500 - "
                          "val_loss: 0.6797\n")


def test_progbar_logger_single_epoch_verbose2(monkeypatch, capsys):
    monkeypatch.setattr(progbar_module, "time", FakeClock())
    cbl = C.CallbackList(add_progbar=True, model=FakeModel(), verbose=2, epochs=1, steps=4)
    cbl.on_train_begin()
    cbl.on_epoch_begin(0)
    for b in range(4):
        cbl.on_train_batch_end(b, {"loss": 1.0})
    cbl.on_epoch_end(0, {"loss": 0.7796, "accuracy": 0.48, "val_loss": -0.45609})
    cbl.on_train_end()
    out = capsys.readouterr().out
    assert "Epoch" not in out
    assert out == "4/4 - 0s - 25ms/step - accuracy: 0.4800 - loss: 0.7796 - val_loss: -4.5609e-01\n"


def test_progbar_logger_evaluate_unknown_steps(monkeypatch, capsys):
    monkeypatch.setattr(progbar_module, "time", FakeClock())
    cbl = C.CallbackList(add_progbar=True, model=FakeModel(), verbose="auto", epochs=1,
                         steps=None)
    cbl.on_test_begin()
    for b in range(2):
        cbl.on_test_batch_end(b, {"loss": 2.0})
    cbl.on_test_end({"loss": 1.5})
    final = capsys.readouterr().out.split("\r")[-1]
    assert final.startswith("\x1b[1m2/2\x1b[0m ") and final.endswith(" - loss: 1.5000\n")


def test_predict_batch_outputs_reach_callbacks_unchanged():
    got = []

    class Collect(C.Callback):
        def on_predict_batch_end(self, batch, logs=None):
            got.append(logs["outputs"])

    cbl = C.CallbackList([Collect()], model=FakeModel())
    one_sample = np.array([[0.25]], np.float32)  # float() of it warns (numpy < 2.4) or raises
    scalar = np.array(0.5, np.float32)           # float() of it would succeed
    pair = [np.ones((1, 2)), np.zeros((1, 1))]
    for step, out in enumerate((one_sample, scalar, pair)):
        cbl.on_predict_batch_end(step, {"outputs": out})
    assert got[0] is one_sample and got[1] is scalar and got[2] is pair
