"""Callbacks: hooks into ``fit``/``evaluate``/``predict`` with Keras 3's behaviour (section 24).

A :class:`CallbackList` drives the callbacks of one run: it hands each hook a copy of the logs
with the keys sorted alphabetically and the values made Python floats (so History, the progress
bar and CSVLogger all see one order), adds :class:`History` and :class:`ProgbarLogger` when asked,
and sets ``model.history``. Callbacks may add keys to the logs they receive (the learning-rate
callbacks add ``learning_rate``); callbacks later in the list see them.

The model a callback sees needs only what the callback uses: ``stop_training``,
``optimizer.learning_rate``, ``get_weights``/``set_weights``, ``save``/``save_weights`` and
``metrics`` (for the direction of a monitored metric).
"""

from __future__ import annotations

import collections.abc
import csv
import math
import operator
import os
import sys
import warnings
from typing import Any, Callable

import numpy as np

from fastkeras.utils.progbar import Progbar


def _print(message: str) -> None:
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


def pythonify_logs(logs: dict | None) -> dict:
    """A copy of ``logs`` sorted by key, nested dicts flattened, values made Python floats
    where they convert; the ``outputs`` of predict hooks (model outputs) are left as they are."""
    result: dict = {}
    for key, value in sorted((logs or {}).items()):
        if isinstance(value, dict):
            result.update(pythonify_logs(value))
            continue
        if key != "outputs":
            try:
                value = float(value)
            except (TypeError, ValueError):
                pass
        result[key] = value
    return result


class Callback:
    """Base class of callbacks; every hook does nothing until overridden.

    Attributes
    ----------
    model
        The model being trained, evaluated or used for prediction.
    params : dict
        The run's parameters: ``verbose``, ``epochs``, ``steps``.
    """

    def __init__(self) -> None:
        self.params: dict | None = None
        self._model: Any = None

    def set_params(self, params: dict) -> None:
        """Store the run's parameters."""
        self.params = params

    def set_model(self, model: Any) -> None:
        """Store the model."""
        self._model = model

    @property
    def model(self) -> Any:
        """The model this callback is attached to."""
        return self._model

    def on_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Keras 2 name of :meth:`on_train_batch_begin`."""

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Keras 2 name of :meth:`on_train_batch_end`."""

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        """Called at the start of every training epoch."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Called at the end of every training epoch with the epoch's logs (incl. ``val_*``)."""

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Called before every training batch (calls :meth:`on_batch_begin`)."""
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Called after every training batch with running results (calls :meth:`on_batch_end`)."""
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Called before every evaluation batch."""

    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Called after every evaluation batch."""

    def on_predict_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Called before every prediction batch."""

    def on_predict_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Called after every prediction batch."""

    def on_train_begin(self, logs: dict | None = None) -> None:
        """Called at the start of ``fit``."""

    def on_train_end(self, logs: dict | None = None) -> None:
        """Called at the end of ``fit``."""

    def on_test_begin(self, logs: dict | None = None) -> None:
        """Called at the start of an evaluation."""

    def on_test_end(self, logs: dict | None = None) -> None:
        """Called at the end of an evaluation."""

    def on_predict_begin(self, logs: dict | None = None) -> None:
        """Called at the start of ``predict``."""

    def on_predict_end(self, logs: dict | None = None) -> None:
        """Called at the end of ``predict``."""


def _flatten(callbacks: Any) -> list:
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        return [callbacks]
    if isinstance(callbacks, (list, tuple)):
        return [c for item in callbacks for c in _flatten(item)]
    raise TypeError("`callbacks` must be a Callback or a list of Callbacks. "
                    f"Received: {type(callbacks).__name__}")


class CallbackList(Callback):
    """Run hooks on a list of callbacks.

    Parameters
    ----------
    callbacks : Callback or list, optional
        The user's callbacks (nested lists are flattened).
    add_history : bool
        Append a :class:`History` unless one is present.
    add_progbar : bool
        Append a :class:`ProgbarLogger` unless one is present.
    model
        The model, given to every callback; ``model.history`` is set to the History.
    **params
        The run's parameters (``verbose``, ``epochs``, ``steps``), given to every callback.
    """

    def __init__(self, callbacks: Any = None, add_history: bool = False,
                 add_progbar: bool = False, model: Any = None, **params: Any):
        super().__init__()
        self.callbacks = _flatten(callbacks)
        self._history = next((c for c in self.callbacks if isinstance(c, History)), None)
        self._progbar = next((c for c in self.callbacks if isinstance(c, ProgbarLogger)), None)
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        if self._progbar is None and add_progbar:
            self._progbar = ProgbarLogger()
            self.callbacks.append(self._progbar)
        self.set_model(model)
        self.set_params(params)

    def set_params(self, params: dict) -> None:
        """Give ``params`` to every callback (when not empty)."""
        self.params = params
        if params:
            for callback in self.callbacks:
                callback.set_params(params)

    def set_model(self, model: Any) -> None:
        """Give ``model`` to every callback and set ``model.history``."""
        if model is None:
            return
        super().set_model(model)
        if self._history is not None:
            model.history = self._history
        for callback in self.callbacks:
            callback.set_model(model)

    def _call(self, hook: str, *args: Any, logs: dict | None = None) -> None:
        logs = pythonify_logs(logs)
        for callback in self.callbacks:
            getattr(callback, hook)(*args, logs)

    def on_batch_begin(self, batch, logs=None):
        """Run every callback's ``on_batch_begin``."""
        self._call("on_batch_begin", batch, logs=logs)

    def on_batch_end(self, batch, logs=None):
        """Run every callback's ``on_batch_end``."""
        self._call("on_batch_end", batch, logs=logs)

    def on_epoch_begin(self, epoch, logs=None):
        """Run every callback's ``on_epoch_begin``."""
        self._call("on_epoch_begin", epoch, logs=logs)

    def on_epoch_end(self, epoch, logs=None):
        """Run every callback's ``on_epoch_end``."""
        self._call("on_epoch_end", epoch, logs=logs)

    def on_train_batch_begin(self, batch, logs=None):
        """Run every callback's ``on_train_batch_begin``."""
        self._call("on_train_batch_begin", batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        """Run every callback's ``on_train_batch_end``."""
        self._call("on_train_batch_end", batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        """Run every callback's ``on_test_batch_begin``."""
        self._call("on_test_batch_begin", batch, logs=logs)

    def on_test_batch_end(self, batch, logs=None):
        """Run every callback's ``on_test_batch_end``."""
        self._call("on_test_batch_end", batch, logs=logs)

    def on_predict_batch_begin(self, batch, logs=None):
        """Run every callback's ``on_predict_batch_begin``."""
        self._call("on_predict_batch_begin", batch, logs=logs)

    def on_predict_batch_end(self, batch, logs=None):
        """Run every callback's ``on_predict_batch_end``."""
        self._call("on_predict_batch_end", batch, logs=logs)

    def on_train_begin(self, logs=None):
        """Run every callback's ``on_train_begin``."""
        self._call("on_train_begin", logs=logs)

    def on_train_end(self, logs=None):
        """Run every callback's ``on_train_end``."""
        self._call("on_train_end", logs=logs)

    def on_test_begin(self, logs=None):
        """Run every callback's ``on_test_begin``."""
        self._call("on_test_begin", logs=logs)

    def on_test_end(self, logs=None):
        """Run every callback's ``on_test_end``."""
        self._call("on_test_end", logs=logs)

    def on_predict_begin(self, logs=None):
        """Run every callback's ``on_predict_begin``."""
        self._call("on_predict_begin", logs=logs)

    def on_predict_end(self, logs=None):
        """Run every callback's ``on_predict_end``."""
        self._call("on_predict_end", logs=logs)


class History(Callback):
    """Record every epoch's logs: ``history[name]`` is a list with one value per epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        """Start a new list of epoch indices."""
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        """Append the epoch's values and set ``model.history``."""
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        self.model.history = self


class ProgbarLogger(Callback):
    """Print progress with :class:`~fastkeras.utils.progbar.Progbar` (``Epoch i/N`` headers
    only when there is more than one epoch)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0
        self.progbar: Progbar | None = None
        self.target: int | None = None
        self.verbose = 1
        self.epochs = 1
        self._called_in_fit = False

    def set_params(self, params):
        """Read ``verbose`` (``'auto'`` is 1), ``epochs`` and ``steps``."""
        verbose = params["verbose"]
        self.verbose = 1 if verbose == "auto" else verbose
        self.epochs = params["epochs"]
        self.target = params["steps"]

    def on_train_begin(self, logs=None):
        """Remember that evaluation batches belong to ``fit`` (no bar of their own)."""
        self._called_in_fit = True

    def on_test_begin(self, logs=None):
        """Start a bar for a stand-alone evaluation."""
        if not self._called_in_fit:
            self._reset_progbar()
            self._maybe_init_progbar()

    def on_predict_begin(self, logs=None):
        """Start a bar for ``predict``."""
        self._reset_progbar()
        self._maybe_init_progbar()

    def on_epoch_begin(self, epoch, logs=None):
        """Start the epoch's bar, printing ``Epoch i/N`` when ``epochs > 1``."""
        self._reset_progbar()
        self._maybe_init_progbar()
        if self.verbose and self.epochs > 1:
            _print(f"Epoch {epoch + 1}/{self.epochs}")

    def on_train_batch_end(self, batch, logs=None):
        """Advance the bar."""
        self._update_progbar(batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        """Advance a stand-alone evaluation's bar."""
        if not self._called_in_fit:
            self._update_progbar(batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        """Advance the prediction bar (no values)."""
        self._update_progbar(batch, None)

    def on_epoch_end(self, epoch, logs=None):
        """Finish the epoch's line with all logs."""
        self._finalize_progbar(logs)

    def on_test_end(self, logs=None):
        """Finish a stand-alone evaluation's line."""
        if not self._called_in_fit:
            self._finalize_progbar(logs)

    def on_predict_end(self, logs=None):
        """Finish the prediction line."""
        self._finalize_progbar(logs)

    def _reset_progbar(self) -> None:
        self.seen = 0
        self.progbar = None

    def _maybe_init_progbar(self) -> None:
        if self.progbar is None:
            self.progbar = Progbar(target=self.target, verbose=self.verbose, unit_name="step",
                                   stateless_metrics=set())

    def _update_progbar(self, batch: int, logs: dict | None) -> None:
        self._maybe_init_progbar()
        self.seen = batch + 1
        if self.verbose == 1:
            self.progbar.update(self.seen, list((logs or {}).items()), finalize=False)

    def _finalize_progbar(self, logs: dict | None) -> None:
        self._maybe_init_progbar()
        if self.target is None:
            self.target = self.seen
            self.progbar.target = self.target
        self.progbar.update(self.target, list((logs or {}).items()), finalize=True)


def _all_metrics(model: Any) -> list:
    """The model's metric objects, with metric containers (``.metrics``) flattened."""
    found = []
    for m in getattr(model, "metrics", None) or ():
        inner = getattr(m, "metrics", None)
        found.extend(inner if isinstance(inner, (list, tuple)) else [m])
    return found


class _MonitorCallback(Callback):
    """Shared improvement test of EarlyStopping, ModelCheckpoint and ReduceLROnPlateau."""

    def __init__(self, monitor: str = "val_loss", mode: str = "auto", baseline: Any = None,
                 min_delta: float = 0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{type(self).__name__} mode '{mode}' is unknown, fallback to auto "
                          "mode.", stacklevel=3)
            mode = "auto"
        if not isinstance(min_delta, (int, float)) or isinstance(min_delta, bool):
            raise ValueError(f"`min_delta` must be a number. Received: min_delta={min_delta!r}")
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op: Callable | None = None

    def _set_monitor_op(self) -> None:
        if self.mode == "min":
            self.monitor_op = operator.lt
        elif self.mode == "max":
            self.monitor_op = operator.gt
        else:
            name = self.monitor.removeprefix("val_")
            if name == "loss" or name.endswith("_loss"):
                self.monitor_op = operator.lt
            for m in _all_metrics(self.model):
                if getattr(m, "name", None) == name and getattr(m, "_direction", None):
                    self.monitor_op = operator.gt if m._direction == "up" else operator.lt
            if self.monitor_op is None:
                raise ValueError(
                    f"{type(self).__name__} callback received monitor={self.monitor}, but "
                    "Keras isn't able to automatically determine whether that metric should be "
                    "maximized or minimized. Pass `mode='max'` in order to monitor based on the "
                    "highest metric value, or pass `mode='min'` in order to use the lowest value.")
        if self.monitor_op is operator.lt:
            self.min_delta = -abs(self.min_delta)

    def _is_improvement(self, value: float, reference: float | None) -> bool:
        if reference is None:
            return True
        return bool(self.monitor_op(value - self.min_delta, reference))


class EarlyStopping(_MonitorCallback):
    """Stop training when a monitored value stops improving.

    Parameters
    ----------
    monitor : str
        The log key to watch.
    min_delta : float
        Smallest change that counts as an improvement.
    patience : int
        Epochs without improvement before stopping.
    verbose : int
        1 prints the stop epoch and weight restoration.
    mode : {'auto', 'min', 'max'}
        Direction; ``'auto'`` is min for losses and the metric's own direction otherwise.
    baseline : float, optional
        ``wait`` only resets when the value also beats the baseline.
    restore_best_weights : bool
        At the end of training restore the weights of the best epoch (even without a stop).
    start_from_epoch : int
        Epochs to ignore before monitoring starts.
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0, patience: int = 0,
                 verbose: int = 0, mode: str = "auto", baseline: float | None = None,
                 restore_best_weights: bool = False, start_from_epoch: int = 0):
        super().__init__(monitor, mode, min_delta=min_delta)
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights = None
        self.best_epoch = 0

    def on_train_begin(self, logs=None):
        """Reset the state (``best`` starts at None)."""
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        """Update ``best``/``wait`` and stop the model when patience runs out."""
        if self.monitor_op is None:
            self._set_monitor_op()
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        """Report the stop and restore the best weights when asked."""
        if self.stopped_epoch > 0 and self.verbose > 0:
            _print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                _print("Restoring model weights from the end of the best epoch: "
                       f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)

    def get_monitor_value(self, logs: dict | None) -> Any:
        """The monitored value, or None (with a warning) when the logs lack it."""
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(f"Early stopping conditioned on metric `{self.monitor}` which is not "
                          f"available. Available metrics are: {','.join(logs)}", stacklevel=3)
        return value


class ModelCheckpoint(_MonitorCallback):
    """Save the model (or its weights) every epoch or every ``save_freq`` batches.

    Parameters
    ----------
    filepath : str or PathLike
        A template formatted with ``epoch`` (1-based), ``batch`` and the log values, e.g.
        ``'ck_{epoch:02d}_{val_loss:.3f}.keras'``. Any suffix is accepted; parent folders are
        created.
    monitor : str
        The log key compared when ``save_best_only``.
    verbose : int
        1 prints a line per save decision.
    save_best_only : bool
        Save only when the monitored value improves.
    save_weights_only : bool
        Call ``model.save_weights`` instead of ``model.save``.
    mode : {'auto', 'min', 'max'}
        Direction, as in :class:`EarlyStopping`.
    save_freq : 'epoch' or int
        Save at every epoch end, or after every this many batches.
    initial_value_threshold : float, optional
        The value an improvement must beat at first.
    """

    def __init__(self, filepath: Any, monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, save_weights_only: bool = False,
                 mode: str = "auto", save_freq: Any = "epoch",
                 initial_value_threshold: float | None = None):
        super().__init__(monitor, mode, initial_value_threshold)
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(
                save_freq, int) or save_freq < 1):
            raise ValueError(f"Unrecognized save_freq: {save_freq}. Expected save_freq are "
                             "'epoch' or integer values")
        self.filepath = os.fspath(filepath)
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen: int | None = None
        self._current_epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        """Remember the epoch for batch-frequency saves."""
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        """Save every ``save_freq`` batches."""
        if self._should_save_on_batch(batch):
            self._save_model(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        """Save at the epoch end (``save_freq='epoch'``)."""
        if self.monitor_op is None:
            self._set_monitor_op()
        if self.save_freq == "epoch":
            self._save_model(epoch, None, logs)

    def _should_save_on_batch(self, batch: int) -> bool:
        if self.save_freq == "epoch":
            return False
        if self._last_batch_seen is None or batch <= self._last_batch_seen:
            added = batch + 1
        else:
            added = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += added
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _should_save_model(self, epoch: int, logs: dict, filepath: str) -> bool:
        if not self.save_best_only:
            if self.verbose > 0:
                _print(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.",
                          stacklevel=4)
            return True
        if self.monitor_op is None:
            self._set_monitor_op()
        best = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                _print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                       f"{current:.5f}, saving model to {filepath}")
            self.best = current
            return True
        if self.verbose > 0:
            _print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
        return False

    def _save_model(self, epoch: int, batch: int | None, logs: dict | None) -> None:
        logs = logs or {}
        filepath = self._get_file_path(epoch, batch, logs)
        if not self._should_save_model(epoch, logs, filepath):
            return
        if os.path.isdir(filepath):
            raise IsADirectoryError(
                "Please specify a non-directory filepath for ModelCheckpoint. Filepath used is "
                f"an existing directory: {filepath}")
        dirname = os.path.dirname(filepath)
        if dirname:
            os.makedirs(dirname, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(filepath, overwrite=True)
        else:
            self.model.save(filepath, overwrite=True)
        if self.verbose > 0:
            _print(f"\nEpoch {epoch + 1}: finished saving model to {filepath}")

    def _get_file_path(self, epoch: int, batch: int | None, logs: dict) -> str:
        try:
            if batch is None or "batch" in logs:
                return self.filepath.format(epoch=epoch + 1, **logs)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except KeyError as e:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". '
                           f"Reason: {e}") from None


def _learning_rate(model: Any) -> float:
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not hasattr(optimizer, "learning_rate"):
        raise ValueError('Optimizer must have a "learning_rate" attribute.')
    return float(np.asarray(optimizer.learning_rate))


class LearningRateScheduler(Callback):
    """Set the learning rate at every epoch start to ``schedule(epoch, lr)``.

    ``schedule(epoch)`` (one argument, Keras 2) is used when the two-argument call raises
    ``TypeError``. The epoch's learning rate is added to the logs as ``learning_rate``.
    """

    def __init__(self, schedule: Callable, verbose: int = 0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"`schedule` must be callable. Received: schedule={schedule!r}")
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        """Compute and set the epoch's learning rate."""
        lr = _learning_rate(self.model)
        try:
            lr = self.schedule(epoch, lr)
        except TypeError:
            lr = self.schedule(epoch)
        if not isinstance(lr, (float, np.float32, np.float64)):
            raise ValueError(f"The output of the `schedule` function should be a float. Got: {lr}")
        self.model.optimizer.learning_rate = lr
        if self.verbose > 0:
            _print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch, logs=None):
        """Log the learning rate."""
        if logs is not None:
            logs["learning_rate"] = _learning_rate(self.model)


class ReduceLROnPlateau(_MonitorCallback):
    """Multiply the learning rate by ``factor`` when the monitored value stops improving.

    Parameters
    ----------
    monitor : str
        The log key to watch.
    factor : float
        Multiplier, below 1.
    patience : int
        Epochs without improvement before a reduction.
    verbose : int
        1 prints each reduction.
    mode : {'auto', 'min', 'max'}
        Direction, as in :class:`EarlyStopping`.
    min_delta : float
        Smallest change that counts as an improvement (Keras 2 alias ``epsilon``).
    cooldown : int
        Epochs to wait after a reduction before counting again.
    min_lr : float
        Lower bound of the learning rate.
    """

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10,
                 verbose: int = 0, mode: str = "auto", min_delta: float = 1e-4,
                 cooldown: int = 0, min_lr: float = 0.0, **kwargs: Any):
        if "epsilon" in kwargs:
            warnings.warn("`epsilon` argument is deprecated and will be removed, use "
                          "`min_delta` instead.", DeprecationWarning, stacklevel=2)
            min_delta = kwargs.pop("epsilon")
        if kwargs:
            raise ValueError(f"Unrecognized keyword arguments passed to ReduceLROnPlateau: "
                             f"{kwargs}")
        super().__init__(monitor, mode, min_delta=min_delta)
        if factor >= 1.0:
            raise ValueError("ReduceLROnPlateau does not support a factor >= 1.0. Received "
                             f"factor={factor}")
        self.factor = factor
        self.min_lr = min_lr
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs=None):
        """Reset ``best``, ``wait`` and the cooldown."""
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def in_cooldown(self) -> bool:
        """Whether a recent reduction is still cooling down."""
        return self.cooldown_counter > 0

    def on_epoch_end(self, epoch, logs=None):
        """Log the learning rate; reduce it after ``patience`` epochs without improvement."""
        if self.monitor_op is None:
            self._set_monitor_op()
        logs = logs if logs is not None else {}
        logs["learning_rate"] = _learning_rate(self.model)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Learning rate reduction is conditioned on metric `{self.monitor}` "
                          f"which is not available. Available metrics are: {','.join(logs)}.",
                          stacklevel=3)
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience and self._reduce(epoch):
                self.cooldown_counter = self.cooldown
                self.wait = 0

    def _reduce(self, epoch: int) -> bool:
        old = _learning_rate(self.model)
        if old <= np.float32(self.min_lr):
            return False
        new = max(old * self.factor, self.min_lr)
        self.model.optimizer.learning_rate = new
        if self.verbose > 0:
            _print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
        return True


class CSVLogger(Callback):
    """Write one CSV row per epoch: ``epoch`` then the log keys in sorted order.

    The columns are fixed at the first epoch end; when no ``val_`` key is present then,
    ``val_<key>`` columns are added and filled with ``NA``. With ``append=True`` rows are added
    to an existing file and the header is written only if the file is empty.
    """

    def __init__(self, filename: Any, separator: str = ",", append: bool = False):
        super().__init__()
        self.sep = separator
        self.filename = os.fspath(filename)
        self.append = append
        self.writer: csv.DictWriter | None = None
        self.keys: list[str] | None = None
        self.append_header = True
        self.csv_file = None

    def on_train_begin(self, logs=None):
        """Open the file (truncating it unless appending)."""
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename) as f:
                    self.append_header = not f.readline()
            mode = "a"
        else:
            mode = "w"
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, mode)
        self.writer = None
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        """Write the epoch's row."""
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys += [f"val_{k}" for k in self.keys]
        if self.writer is None:
            dialect = type("Dialect", (csv.excel,), {"delimiter": self.sep})
            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + self.keys,
                                         dialect=dialect)
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((key, _csv_value(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        """Close the file."""
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


def _csv_value(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, collections.abc.Iterable) and not (
            isinstance(value, np.ndarray) and value.ndim == 0):
        return f'"[{", ".join(map(str, value))}]"'
    return value


class TerminateOnNaN(Callback):
    """Stop training (or raise) when a batch's ``loss`` is NaN or infinite."""

    def __init__(self, raise_error: bool = False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        """Check the batch's loss."""
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(float(loss)):
            return
        if self.raise_error:
            raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}."
                               " Terminating training immediately.")
        _print(f"Batch {batch}: Invalid loss, terminating training")
        self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback built from functions: ``on_epoch_begin(epoch, logs)``,
    ``on_epoch_end(epoch, logs)``, ``on_train_begin(logs)``, ``on_train_end(logs)``,
    ``on_train_batch_begin(batch, logs)``, ``on_train_batch_end(batch, logs)`` (K2 also
    ``on_batch_begin``/``on_batch_end``); other keyword arguments become attributes."""

    _HOOKS = ("on_epoch_begin", "on_epoch_end", "on_train_begin", "on_train_end",
              "on_train_batch_begin", "on_train_batch_end")

    def __init__(self, on_epoch_begin: Callable | None = None,
                 on_epoch_end: Callable | None = None, on_train_begin: Callable | None = None,
                 on_train_end: Callable | None = None,
                 on_train_batch_begin: Callable | None = None,
                 on_train_batch_end: Callable | None = None, **kwargs: Any):
        super().__init__()
        self.__dict__.update(kwargs)
        given = dict(zip(self._HOOKS, (on_epoch_begin, on_epoch_end, on_train_begin,
                                       on_train_end, on_train_batch_begin, on_train_batch_end)))
        for hook, fn in given.items():
            if fn is None:
                continue
            if not callable(fn):
                raise TypeError(f"`{hook}` must be callable. Received: {fn!r}")
            setattr(self, hook, fn)

