"""Model: a Layer that trains (compile, fit, evaluate, predict) and saves itself.

``Model(inputs, outputs)`` makes a functional model (:class:`~fastkeras.engine.functional.
Functional`); subclassing ``Model`` and writing ``call`` makes a subclassed model. Keras 2's
``engine.training.Model`` import path is this class.

One training step: the batch becomes Tensors -> the model runs with ``training=True`` under a
:class:`~fastkeras.backend.GradientTape` -> the compiled per-output losses, weighted, plus
``model.losses`` give the step loss -> :func:`~fastkeras.backend.backprop` gives the gradients
of the trainable weights -> the optimizer's fused kernels update them in place. Logged values
come from that forward pass (before the update).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import warnings
from typing import Any

import numpy as np

from fastkeras.backend.tensor import GradientTape, Tensor, backprop
from fastkeras.engine import structure
from fastkeras.engine.base_layer import Layer, _map_shapes
from fastkeras.engine.compile_utils import (
    CompiledLoss, CompiledMetrics, _loss_object, metric_name, output_masks,
)
from fastkeras.engine.data_adapter import (
    DataHandler, class_weight_to_sample_weight, is_generator, is_sequence, num_samples,
    split_validation, standardize_arrays, warn_ran_out,
)
from fastkeras.engine.keras_tensor import KerasTensor
from fastkeras.engine.serialization import serialize_keras_object

_FUNCTIONAL_SUBCLASSES: dict[type, type] = {}
_LOG = logging.getLogger(__name__)


def _functional_arguments(args: tuple, kwargs: dict) -> bool:
    keys = ("inputs", "outputs", "input", "output")
    return len(args) == 2 or (len(args) == 1 and any(k in kwargs for k in keys)) or \
        any(k in kwargs for k in keys)


def _functional_class(cls: type) -> type:
    """``Functional`` for ``Model``; for a subclass initialised with inputs and outputs (the
    Keras 2 pattern), a class deriving from both."""
    from fastkeras.engine.functional import Functional
    if cls is Model:
        return Functional
    if cls not in _FUNCTIONAL_SUBCLASSES:
        _FUNCTIONAL_SUBCLASSES[cls] = type(cls.__name__, (cls, Functional),
                                           {"__module__": cls.__module__,
                                            "__qualname__": cls.__qualname__})
    return _FUNCTIONAL_SUBCLASSES[cls]


def _verbosity(verbose: Any) -> int:
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(f"`verbose` must be 'auto', 0, 1 or 2. Received: verbose={verbose!r}")
    return int(verbose)


def _to_tensors(x: Any) -> Any:
    return structure.map_structure(
        lambda a: Tensor(a) if isinstance(a, np.ndarray) else a, x)


def _batch_size(x: Any) -> int:
    for leaf in structure.flatten(x):
        if leaf is not None and hasattr(leaf, "shape"):
            return int(leaf.shape[0])
    return 0


def _pop_prefetch_kwargs(kwargs: dict, method: str) -> tuple:
    """Keras 2 / tf.keras arguments accepted by fit/evaluate/predict: the prefetch settings
    (None: a PyDataset's own settings, else one thread and ten batches ahead)."""
    workers = kwargs.pop("workers", None)
    max_queue_size = kwargs.pop("max_queue_size", None)
    _check_multiprocessing(kwargs.pop("use_multiprocessing", False))
    if kwargs:
        raise TypeError(f"{method}() got an unexpected keyword argument "
                        f"'{next(iter(kwargs))}'")
    return (None if workers is None else int(workers),
            None if max_queue_size is None else int(max_queue_size))


def _check_multiprocessing(use_multiprocessing: bool) -> None:
    if use_multiprocessing:
        warnings.warn("fastkeras prefetches batches with threads; `use_multiprocessing=True` "
                      "runs them in threads too.", stacklevel=4)


class Model(Layer):
    """A layer with a training and saving API.

    ``Model(inputs, outputs, name=None, trainable=True)`` builds a functional model (Keras 2's
    ``Model(input=..., output=...)`` too). Subclasses create layers in ``__init__`` and compute in
    ``call``.

    Examples
    --------
    >>> inputs = Input((4,))
    >>> outputs = Dense(1)(inputs)
    >>> model = Model(inputs, outputs)
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> x = np.random.default_rng(0).random((32, 4), dtype=np.float32)
    >>> history = model.fit(x, x.sum(axis=1), epochs=2, verbose=0)
    >>> sorted(history.history), len(history.history["loss"])
    (['loss'], 2)
    """

    def __init__(self, *args, **kwargs):
        if _functional_arguments(args, kwargs):
            from fastkeras.engine.functional import Functional
            if not isinstance(self, Functional):
                self.__class__ = _functional_class(type(self))
            Functional.__init__(self, *args, **kwargs)
            return
        if args:
            raise TypeError("Model() takes only `inputs` and `outputs` as positional arguments.")
        self._init_model(**kwargs)

    def _init_model(self, name: str | None = None, trainable: bool = True, dtype: Any = None,
                    **kwargs) -> None:
        Layer.__init__(self, name=name, trainable=trainable, dtype=dtype, **kwargs)
        self.optimizer = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._compile_args = None
        self._compiled_loss = None
        self._compiled_metrics = None
        self._train_variables = None
        self._device = None

    # -- structure -----------------------------------------------------------------------------
    @property
    def layers(self) -> list:
        """The model's direct sublayers."""
        return self._flatten_layers(include_self=False, recursive=False)

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """Return a layer by ``name`` or by position ``index`` in ``layers``."""
        if index is not None and name is not None:
            raise ValueError("Provide only a layer name or a layer index. Received: "
                             f"index={index}, name={name}.")
        layers = self.layers
        if index is not None:
            if len(layers) <= index:
                raise ValueError(f"Was asked to retrieve layer at index {index} but model only "
                                 f"has {len(layers)} layers.")
            return layers[index]
        if name is not None:
            for layer in layers:
                if layer.name == name:
                    return layer
            raise ValueError(f"No such layer: {name}. Existing layers are: "
                             f"{[layer.name for layer in layers]}.")
        raise ValueError("Provide either a layer name or layer index at `get_layer`.")

    def _weights_by_layer(self) -> list:
        """``[(name, variables)]``: the model's own weights, then each layer's, in ``layers``
        order (nested models flattened into their layer), each variable once."""
        groups, seen = [], set()
        own = [v for v in self._own_trainable + self._own_non_trainable]
        candidates = [(self.name, own)] + [
            (layer.name, layer._weight_list() if isinstance(layer, Model) else layer.weights)
            for layer in self.layers]
        for name, variables in candidates:
            kept = [v for v in variables if id(v) not in seen]
            seen.update(id(v) for v in kept)
            if kept:
                groups.append((name, kept))
        return groups

    def _weight_list(self) -> list:
        return [v for _, group in self._weights_by_layer() for v in group]

    def get_weights(self) -> list:
        """The weights of every layer, concatenated in ``layers`` order, as numpy arrays."""
        return [v.numpy() for v in self._weight_list()]

    def set_weights(self, weights: list) -> None:
        """Set the weights from a list ordered as :meth:`get_weights` returns them."""
        self._assign_weights(self._weight_list(), weights)

    def build(self, input_shape: Any = None) -> None:
        """Create the weights of a subclassed model by running it once on a dummy batch of
        ``input_shape`` (a shape tuple, or a list/dict of them; None entries become small
        sizes)."""
        if input_shape is None:
            raise ValueError("You must provide an `input_shape` argument.")
        try:
            symbolic = _map_shapes(lambda s: KerasTensor(s, dtype=self.dtype), input_shape)
        except (TypeError, ValueError):
            raise ValueError("`input_shape` must be a shape tuple, or a list or dict of them. "
                             f"Received: input_shape={input_shape!r}") from None
        self.built = True  # the dummy call below must not try to build again
        self._outputs_from_running((symbolic,), {})

    def summary(self, line_length: int | None = None, positions: list | None = None,
                print_fn: Any = None, expand_nested: bool = False,
                show_trainable: bool = False) -> None:
        """Print a table of the layers, their output shapes and parameter counts."""
        from fastkeras.engine.summary import print_summary
        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn,
                      expand_nested=expand_nested, show_trainable=show_trainable)

    def to_json(self, **kwargs) -> str:
        """The model's architecture as a JSON string (``json.dumps`` keyword arguments apply)."""
        return json.dumps(serialize_keras_object(self), **kwargs)

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> "Model":
        """Rebuild a model from :meth:`get_config`'s output."""
        from fastkeras.engine.functional import Functional
        if "layers" in config and "input_layers" in config:
            target = cls if issubclass(cls, Functional) else _functional_class(cls)
            return Functional.from_config.__func__(target, config, custom_objects)
        return super().from_config(config)

    # -- saving --------------------------------------------------------------------------------
    def save(self, filepath: str, overwrite: bool = True, include_optimizer: bool = True) -> None:
        """Save architecture, weights and (unless ``include_optimizer`` is False) the compile
        state with the optimizer's, in one archive at any path."""
        from fastkeras.engine.saving import save_model
        save_model(self, filepath, overwrite=overwrite, include_optimizer=include_optimizer)

    def save_weights(self, filepath: str, overwrite: bool = True) -> None:
        """Save the weights as NumPy ``.npz`` (keys ``'<layer>/<weight>'``) at ``filepath``."""
        from fastkeras.engine.saving import save_weights
        save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath: str, skip_mismatch: bool = False,
                     by_name: bool = False) -> None:
        """Load weights saved by :meth:`save_weights` (or :meth:`save`), by order or name."""
        from fastkeras.engine.saving import load_weights
        load_weights(self, filepath, skip_mismatch=skip_mismatch, by_name=by_name)

    # -- compile -------------------------------------------------------------------------------
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, loss_weights: Any = None,
                metrics: Any = None, weighted_metrics: Any = None,
                run_eagerly: bool = False, device: str | None = None) -> None:
        """Configure training: optimizer, loss(es) per output, loss weights and metrics.

        ``run_eagerly`` is accepted for Keras compatibility; fastkeras always runs eagerly.
        ``device`` picks where ``fit``/``evaluate``/``predict`` run: ``'cpu'``, ``'cuda'``
        (the device-resident path of :mod:`fastkeras.engine.device_training`; a model it
        cannot run raises ``ValueError``), ``'auto'`` (CUDA when usable and the model runs
        there, else the CPU) or None, the process-wide device of
        :func:`fastkeras.config.get_device`.

        Raises
        ------
        ValueError
            For a ``device`` outside ``'cpu'``, ``'cuda'``, ``'auto'``.
        CudaUnavailableError
            For ``device='cuda'`` where CUDA is not usable.
        """
        from fastkeras import config
        from fastkeras import metrics as metrics_module
        from fastkeras import optimizers
        if device is not None:
            config.resolve_device(device, "device")
            device = device.lower()
        self.optimizer = optimizers.get(optimizer)
        for identifier in structure.flatten(loss):
            if identifier is not None:
                _loss_object(identifier)
        for identifier in structure.flatten([metrics, weighted_metrics]):
            if identifier is None:
                continue
            if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
                continue
            metrics_module.get(identifier)
            metric_name(identifier)
        self._compile_args = {"optimizer": optimizer, "loss": loss,
                              "loss_weights": loss_weights, "metrics": metrics,
                              "weighted_metrics": weighted_metrics}
        self._device = device
        self._compiled_loss = self._compiled_metrics = None
        names = self._known_output_names()
        if names is not None:
            self._build_compiled(names)
        self.compiled = True
        self.stop_training = False

    def _known_output_names(self) -> list | None:
        outputs = getattr(self, "outputs", None)
        return self.output_names if outputs else None

    def _build_compiled(self, output_names: list) -> None:
        args = self._compile_args
        self._compiled_loss = CompiledLoss(args["loss"], args["loss_weights"], output_names)
        self._compiled_metrics = CompiledMetrics(args["metrics"], args["weighted_metrics"],
                                                 output_names)

    def _ensure_compiled(self, y_pred: Any) -> None:
        if self._compiled_loss is None:
            if isinstance(y_pred, dict):
                names = list(y_pred)
            else:
                count = len(structure.flatten(y_pred))
                names = ([f"output_{i + 1}" for i in range(count)] if count > 1
                         else [self.name])
            self._build_compiled(names)

    def _assert_compiled(self) -> None:
        if not self.compiled:
            raise ValueError("You must call `compile()` before using the model.")

    @property
    def metrics_names(self) -> list:
        """Names of the values ``evaluate`` returns, in order: loss, output losses, metrics."""
        if self._compiled_loss is None:
            return ["loss"] if self.compiled else []
        return ["loss"] + self._compiled_loss.names + self._compiled_metrics.names

    @property
    def metrics(self) -> list:
        """The compiled metric objects, each named as it is logged (e.g. ``'out1_mae'``); empty
        until the first batch has created them."""
        compiled = self._compiled_metrics
        if compiled is None or compiled._objects is None:
            return []
        for obj, name in zip(compiled._objects, compiled.names):
            obj.name = name
        return list(compiled._objects)

    def reset_metrics(self) -> None:
        """Reset the loss trackers and metrics (done at each epoch and evaluation start)."""
        if self._compiled_loss is not None:
            self._compiled_loss.reset()
            self._compiled_metrics.reset()

    # -- targets and outputs -----------------------------------------------------------------------
    def _targets(self, y: Any) -> list | None:
        """Align targets (or per-output sample weights) with the outputs."""
        if y is None:
            return None
        if isinstance(y, dict):
            names = self._known_output_names() or list(y)
            unknown = [k for k in y if k not in names]
            if unknown:
                raise ValueError(f"Unknown entries in the target dictionary: {unknown}. "
                                 f"Expected the model's output names: {names}")
            return [y.get(name) for name in names]
        if isinstance(y, (list, tuple)):
            return list(y)
        return [y]

    def _flatten_outputs(self, y_pred: Any) -> list:
        return structure.flatten(y_pred)

    # -- steps ---------------------------------------------------------------------------------
    def _step_loss(self, ys: list | None, preds: list, sws: list | None) -> tuple:
        total, parts = self._compiled_loss(ys, preds, sws)
        for extra in self.losses:
            total = extra if total is None else total + extra
        if total is None:
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")
        return total, parts

    def _train_batch(self, x: Any, ys: list | None, sws: list | None) -> dict:
        inputs = _to_tensors(x)
        with GradientTape():
            y_pred = self(inputs, training=True)
            self._ensure_compiled(y_pred)
            preds = self._flatten_outputs(y_pred)
            total, parts = self._step_loss(ys, preds, sws)
            scaled = self.optimizer.scale_loss(total)
        variables = self._train_variables
        if variables is None:
            variables = self._train_variables = self.trainable_weights
        if variables:
            grads = backprop(scaled, variables)
            self.optimizer.apply(grads, variables)
        return self._record(x, ys, preds, sws, total, parts)

    def _test_batch(self, x: Any, ys: list | None, sws: list | None) -> dict:
        y_pred = self(_to_tensors(x), training=False)
        self._ensure_compiled(y_pred)
        preds = self._flatten_outputs(y_pred)
        total, parts = self._step_loss(ys, preds, sws)
        return self._record(x, ys, preds, sws, total, parts)

    def _record(self, x: Any, ys: Any, preds: list, sws: Any, total: Any, parts: dict) -> dict:
        size = _batch_size(x)
        self._compiled_loss.update_trackers(float(np.asarray(total)), parts, size)
        if self._compiled_metrics.entries:
            values = [p.value if isinstance(p, Tensor) else np.asarray(p) for p in preds]
            self._compiled_metrics.update(ys, values, sws, output_masks(preds))
        return self._logs()

    def _logs(self) -> dict:
        logs = {name: t.result() for name, t in self._compiled_loss.trackers.items()}
        logs.update(self._compiled_metrics.results())
        return dict(sorted(logs.items()))

    def _results(self, logs: dict, return_dict: bool) -> Any:
        if return_dict:
            return dict(sorted(logs.items()))
        values = [logs[name] for name in self.metrics_names]
        return values[0] if len(values) == 1 else values

    # -- fit -----------------------------------------------------------------------------------
    def fit(self, x: Any = None, y: Any = None, batch_size: int | None = None, epochs: int = 1,
            verbose: Any = "auto", callbacks: list | None = None,
            validation_split: float = 0.0, validation_data: Any = None, shuffle: Any = True,
            class_weight: dict | None = None, sample_weight: Any = None,
            initial_epoch: int = 0, steps_per_epoch: int | None = None,
            validation_steps: int | None = None, validation_batch_size: int | None = None,
            validation_freq: Any = 1, **kwargs) -> Any:
        """Train the model; return its :class:`~fastkeras.callbacks.History`.

        ``x`` is arrays (single, list, or dict by input name), a Python generator, or a
        ``Sequence`` (ImageDataGenerator iterators included) yielding ``(x,)``, ``(x, y)`` or
        ``(x, y, sample_weight)`` tuples. Keras 2 arguments: ``nb_epoch`` (= ``epochs``) and
        ``workers``/``max_queue_size``/``use_multiprocessing``, which set the prefetch threads
        that prepare generator and Sequence batches while the model trains (default: one
        thread, ten batches ahead).
        """
        if "nb_epoch" in kwargs:
            epochs = kwargs.pop("nb_epoch")
        workers, max_queue_size = _pop_prefetch_kwargs(kwargs, "fit")
        self._assert_compiled()
        if self._on_device(True, x, y, sample_weight, validation_data):
            from fastkeras.engine import device_training
            if class_weight is not None and sample_weight is not None:
                raise ValueError("You cannot `class_weight` and `sample_weight` at the same "
                                 "time.")
            return device_training.fit(
                self, x, y, batch_size, epochs, _verbosity(verbose), callbacks,
                validation_split, validation_data, shuffle, class_weight, sample_weight,
                initial_epoch, steps_per_epoch, validation_steps, validation_batch_size,
                validation_freq)
        return self._fit(x, y, batch_size, epochs, verbose, callbacks, validation_split,
                         validation_data, shuffle, class_weight, sample_weight, initial_epoch,
                         steps_per_epoch, validation_steps, validation_batch_size,
                         validation_freq, workers, max_queue_size, shuffle_sequence=False)

    def _fit(self, x: Any, y: Any, batch_size: Any, epochs: int, verbose: Any, callbacks: Any,
             validation_split: float, validation_data: Any, shuffle: Any, class_weight: Any,
             sample_weight: Any, initial_epoch: int, steps_per_epoch: Any,
             validation_steps: Any, validation_batch_size: Any, validation_freq: Any,
             workers: int | None, max_queue_size: int | None,
             shuffle_sequence: bool) -> Any:
        self._assert_compiled()
        verbose = _verbosity(verbose)
        if class_weight is not None and sample_weight is not None:
            raise ValueError("You cannot `class_weight` and `sample_weight` at the same time.")
        streamed = is_generator(x) or is_sequence(x)
        if validation_split and validation_data is None:
            if streamed:
                raise ValueError("Argument `validation_split` is only supported for tensors or "
                                 f"NumPy arrays. Found: x={type(x)}")
            (x, y, sample_weight), validation_data = split_validation(
                [standardize_arrays(x, "x"), standardize_arrays(y, "y"),
                 standardize_arrays(sample_weight, "sample_weight")], validation_split)
        if is_generator(x) and shuffle is True and not shuffle_sequence:
            warnings.warn("`shuffle=True` was passed, but will be ignored since the data `x` "
                          "was provided as a generator. The generator is expected to yield "
                          "already-shuffled data.", stacklevel=2)
        train = DataHandler(x, y, sample_weight, targets=self._targets, batch_size=batch_size,
                            steps=steps_per_epoch, shuffle=shuffle, class_weight=class_weight,
                            workers=workers, max_queue_size=max_queue_size,
                            shuffle_sequence=shuffle_sequence)
        val = self._validation_handler(validation_data, validation_batch_size or batch_size,
                                       validation_steps, workers, max_queue_size)
        cbs = self._callback_list(callbacks, True, verbose, epochs, train.steps)
        self.stop_training = False
        self._train_variables = None
        logs: dict = {}
        batches = None
        cbs.on_train_begin()
        try:
            for epoch in range(initial_epoch, epochs):
                batches = train.epoch()
                first = next(batches, None)
                if first is None:
                    warn_ran_out()
                    break
                self.reset_metrics()
                cbs.on_epoch_begin(epoch)
                for step, batch in enumerate(itertools.chain([first], batches)):
                    cbs.on_train_batch_begin(step)
                    logs = self._train_batch(*batch)
                    cbs.on_train_batch_end(step, logs)
                    if self.stop_training:
                        break
                batches.close()
                logs = self._logs()
                if val is not None and _validates(epoch, validation_freq):
                    val_logs = self._evaluate_handler(val, cbs)
                    logs.update({f"val_{k}": v for k, v in val_logs.items()})
                logs = dict(sorted(logs.items()))
                cbs.on_epoch_end(epoch, logs)
                train.on_epoch_end()
                if train.exhausted:
                    warn_ran_out()
                    break
                if self.stop_training:
                    break
        finally:
            if batches is not None:
                batches.close()  # stops a generator's prefetch thread after an error
            train.close()
            if val is not None:
                val.close()
        if self.optimizer.built:
            self.optimizer.finalize_variable_values(self.trainable_variables)
        cbs.on_train_end(logs)
        return self.history

    def _validation_handler(self, data: Any, batch_size: Any, steps: Any, workers: Any,
                            max_queue_size: Any) -> DataHandler | None:
        if data is None:
            return None
        if is_generator(data) or is_sequence(data):
            return DataHandler(data, targets=self._targets, steps=steps, workers=workers,
                               max_queue_size=max_queue_size)
        if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
            raise ValueError("`validation_data` must be a tuple (x_val, y_val) or (x_val, y_val,"
                             f" val_sample_weights), a generator or a Sequence. Received: "
                             f"{type(data)}")
        vx, vy, vsw = (tuple(data) + (None,))[:3]
        return DataHandler(vx, vy, vsw, targets=self._targets, batch_size=batch_size,
                           steps=steps)

    def _callback_list(self, callbacks: Any, fitting: bool, verbose: int, epochs: int,
                       steps: Any) -> Any:
        from fastkeras.callbacks import CallbackList, History
        cbs = CallbackList(callbacks, add_history=fitting, add_progbar=verbose != 0,
                           model=self, verbose=verbose, epochs=epochs, steps=steps)
        if fitting:
            self.history = next(cb for cb in cbs.callbacks if isinstance(cb, History))
        return cbs

    def _evaluate_handler(self, handler: DataHandler, cbs: Any) -> dict:
        self.reset_metrics()
        cbs.on_test_begin()
        logs: dict = {}
        ran = False
        with contextlib.closing(handler.epoch()) as batches:
            for step, batch in enumerate(batches):
                cbs.on_test_batch_begin(step)
                logs = self._test_batch(*batch)
                cbs.on_test_batch_end(step, logs)
                ran = True
        handler.on_epoch_end()
        if not ran:
            hint = (" A Python generator is used up after one pass: give `steps` (or "
                    "`validation_steps`) and make it loop, or pass a Sequence."
                    if handler.source == "generator" else "")
            raise ValueError(f"The evaluation data provided no batches.{hint}")
        logs = self._logs()
        cbs.on_test_end(logs)
        return logs

    def _on_device(self, training: bool, x: Any, y: Any = None, sample_weight: Any = None,
                   validation_data: Any = None) -> bool:
        """Whether this call runs on the device-resident CUDA path.

        The device is the one given to ``compile`` (None: the process-wide one). On ``'cuda'``
        a call the path cannot run raises; on ``'auto'`` (given to ``compile`` or set process-
        wide) it runs on the CPU, logged once per call at INFO level.
        """
        from fastkeras import config
        requested = self._device if self.compiled else None
        if requested is None:
            requested = config.get_device_request()
        if config.resolve_device(requested, "device") != "cuda":
            return False
        from fastkeras.engine import device_training
        reason = device_training.unsupported(self, training, x, y, sample_weight,
                                             validation_data)
        if reason is None:
            return True
        if requested == "auto":
            _LOG.info("fastkeras: device 'auto' runs model '%s' on the CPU; the CUDA path does "
                      "not support %s.", self.name, reason)
            return False
        raise ValueError(f"The CUDA training path does not support {reason}; compile the model "
                         "with device='cpu' to run it on the CPU.")

    # -- evaluate / predict --------------------------------------------------------------------
    def evaluate(self, x: Any = None, y: Any = None, batch_size: int | None = None,
                 verbose: Any = "auto", sample_weight: Any = None, steps: int | None = None,
                 callbacks: list | None = None, return_dict: bool = False, **kwargs) -> Any:
        """Return the loss (a float) or ``[loss, output losses..., metrics...]`` on the data
        (``return_dict=True``: an alphabetically ordered dict)."""
        workers, max_queue_size = _pop_prefetch_kwargs(kwargs, "evaluate")
        self._assert_compiled()
        verbose = _verbosity(verbose)
        if self._on_device(False, x, y, sample_weight):
            from fastkeras.engine import device_training
            logs = device_training.evaluate(self, x, y, batch_size, verbose, sample_weight,
                                            steps, callbacks)
            return self._results(logs, return_dict)
        handler = DataHandler(x, y, sample_weight, targets=self._targets,
                              batch_size=batch_size, steps=steps, workers=workers,
                              max_queue_size=max_queue_size)
        cbs = self._callback_list(callbacks, False, verbose, 1, handler.steps)
        try:
            logs = self._evaluate_handler(handler, cbs)
        finally:
            handler.close()
        return self._results(logs, return_dict)

    def predict(self, x: Any, batch_size: int | None = None, verbose: Any = "auto",
                steps: int | None = None, callbacks: list | None = None, **kwargs) -> Any:
        """Return the model outputs on ``x`` as float arrays (batched; no compile needed)."""
        workers, max_queue_size = _pop_prefetch_kwargs(kwargs, "predict")
        verbose = _verbosity(verbose)
        if self._on_device(False, x):
            from fastkeras.engine import device_training
            return device_training.predict(self, x, batch_size, verbose, steps, callbacks)
        handler = DataHandler(x, batch_size=batch_size, steps=steps, workers=workers,
                              max_queue_size=max_queue_size)
        cbs = self._callback_list(callbacks, False, verbose, 1, handler.steps)
        outputs = []
        cbs.on_predict_begin()
        try:
            with contextlib.closing(handler.epoch()) as batches:
                for step, (xb, _, _) in enumerate(batches):
                    cbs.on_predict_batch_begin(step)
                    out = self._predict_batch(xb)
                    outputs.append(out)
                    cbs.on_predict_batch_end(step, {"outputs": out})
        finally:
            handler.close()
        cbs.on_predict_end()
        if not outputs:
            raise ValueError("`predict` received no data: the input provided no batches.")
        flat = [structure.flatten(o) for o in outputs]
        merged = [np.concatenate([f[i] for f in flat], axis=0) for i in range(len(flat[0]))]
        return structure.pack_like(outputs[0], merged)

    def _predict_batch(self, x: Any) -> Any:
        out = self(x, training=False)
        return structure.map_structure(
            lambda t: t.value if isinstance(t, Tensor) else np.asarray(t), out)

    # -- single batches ------------------------------------------------------------------------
    def _batch_arguments(self, x: Any, y: Any, sample_weight: Any,
                         class_weight: dict | None = None) -> tuple:
        x = standardize_arrays(x, "x")
        y = standardize_arrays(y, "y")
        sample_weight = standardize_arrays(sample_weight, "sample_weight")
        num_samples(x, y, sample_weight)
        ys = self._targets(y)
        if class_weight is not None:
            if sample_weight is not None:
                raise ValueError(
                    "You cannot `class_weight` and `sample_weight` at the same time.")
            return x, ys, [class_weight_to_sample_weight(ys[0], class_weight)]
        if sample_weight is None:
            return x, ys, None
        if structure.is_nested(sample_weight):
            return x, ys, self._targets(sample_weight)
        return x, ys, [sample_weight] * (len(ys) if ys else 1)

    def train_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None,
                       class_weight: dict | None = None, return_dict: bool = False) -> Any:
        """One training step on one batch; returns the loss/metrics of that step's forward
        pass (metrics reset first)."""
        self._assert_compiled()
        batch = self._batch_arguments(x, y, sample_weight, class_weight)
        self.reset_metrics()
        self._train_variables = None
        return self._results(self._train_batch(*batch), return_dict)

    def test_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None,
                      return_dict: bool = False) -> Any:
        """Loss and metrics on one batch (metrics reset first)."""
        self._assert_compiled()
        batch = self._batch_arguments(x, y, sample_weight)
        self.reset_metrics()
        return self._results(self._test_batch(*batch), return_dict)

    def predict_on_batch(self, x: Any) -> Any:
        """The model outputs on one batch, as numpy arrays."""
        return self._predict_batch(standardize_arrays(x, "x"))

    # -- Keras 2 generator methods -------------------------------------------------------------
    def fit_generator(self, generator: Any, steps_per_epoch: int | None = None,
                      epochs: int = 1, verbose: Any = 1, callbacks: list | None = None,
                      validation_data: Any = None, validation_steps: int | None = None,
                      validation_freq: Any = 1, class_weight: dict | None = None,
                      max_queue_size: int = 10, workers: int = 1,
                      use_multiprocessing: bool = False, shuffle: bool = True,
                      initial_epoch: int = 0) -> Any:
        """Keras 2: ``fit`` on a generator or Sequence. ``workers`` threads prepare batches
        while the model trains (``workers=0``: in the training thread); with a Sequence,
        ``shuffle`` shuffles the batch order each epoch."""
        warnings.warn("`Model.fit_generator` is deprecated; use `Model.fit`, which supports "
                      "generators.", DeprecationWarning, stacklevel=2)
        _check_multiprocessing(use_multiprocessing)
        self._assert_compiled()
        # Generators never run on the CUDA path: with device 'cuda' this raises, with 'auto' it
        # logs the fallback, as fit does.
        self._on_device(True, generator)
        return self._fit(generator, None, None, epochs, verbose, callbacks, 0.0,
                         validation_data, shuffle, class_weight, None, initial_epoch,
                         steps_per_epoch, validation_steps, None, validation_freq,
                         int(workers), int(max_queue_size), shuffle_sequence=True)

    def evaluate_generator(self, generator: Any, steps: int | None = None,
                           callbacks: list | None = None, max_queue_size: int = 10,
                           workers: int = 1, use_multiprocessing: bool = False,
                           verbose: Any = 0) -> Any:
        """Keras 2: ``evaluate`` on a generator or Sequence, with prefetch threads."""
        warnings.warn("`Model.evaluate_generator` is deprecated; use `Model.evaluate`, which "
                      "supports generators.", DeprecationWarning, stacklevel=2)
        return self.evaluate(generator, steps=steps, callbacks=callbacks, verbose=verbose,
                             max_queue_size=max_queue_size, workers=workers,
                             use_multiprocessing=use_multiprocessing)

    def predict_generator(self, generator: Any, steps: int | None = None,
                          callbacks: list | None = None, max_queue_size: int = 10,
                          workers: int = 1, use_multiprocessing: bool = False,
                          verbose: Any = 0) -> Any:
        """Keras 2: ``predict`` on a generator or Sequence, with prefetch threads."""
        warnings.warn("`Model.predict_generator` is deprecated; use `Model.predict`, which "
                      "supports generators.", DeprecationWarning, stacklevel=2)
        return self.predict(generator, steps=steps, callbacks=callbacks, verbose=verbose,
                            max_queue_size=max_queue_size, workers=workers,
                            use_multiprocessing=use_multiprocessing)


def _validates(epoch: int, freq: Any) -> bool:
    if isinstance(freq, int):
        if freq < 1:
            raise ValueError(f"`validation_freq` must be a positive integer; received {freq}.")
        return (epoch + 1) % freq == 0
    return (epoch + 1) in freq
