"""Device-resident ``fit``, ``evaluate`` and ``predict`` on CUDA for chain models.

A model runs here when it is one chain (a Sequential, or a functional model whose graph is a
single path from one input to one output) of ``InputLayer``, ``Dense`` (any built-in activation,
with or without bias), ``Activation`` (built-in), ``Dropout`` (no ``noise_shape``) and
``Flatten`` (channels-last) layers, without regularizers or constraints; compiled with one of
``categorical_crossentropy``, ``sparse_categorical_crossentropy`` (the model ending in a softmax),
``binary_crossentropy`` (ending in a sigmoid) or ``mean_squared_error``, reduced over the batch
as Keras does; an ``SGD``, ``Adam``, ``RMSprop`` or ``Adagrad`` optimizer (learning-rate
schedules, Keras 2 ``decay``, ``weight_decay``, ``clipvalue`` and ``loss_scale_factor``
included; not ``clipnorm``, ``global_clipnorm``, EMA or gradient accumulation); and accuracy
metrics (``'accuracy'``/``'acc'``, categorical, sparse categorical, binary). The data are numpy
arrays (one input, one target). :func:`unsupported` names the first thing outside this.

Where things live during ``fit``:

- ``x``, ``y`` and sample weights are copied to the device once; each epoch that shuffles copies
  its permutation over and gathers a shuffled copy on the device (the permutation is drawn from
  numpy's global generator exactly as the CPU engine draws it, so the batches are the same).
- Weights and optimizer slots are device arrays for the whole ``fit``; activations, gradients and
  the loss and metric accumulators too. Per step only scalars go over (the learning rate, Adam's
  step factor), as kernel arguments.
- The accumulators are read back at the end of every epoch; per batch only when a callback other
  than History and the progress bar has batch hooks, or for the progress bar (``verbose=1``)
  at most once per refresh interval of the bar.
- Weights and slots are written back to the host ``Variable`` s at the end of ``fit``, and around
  the callbacks that may read or set them (any but History, the progress bar, CSVLogger and
  TerminateOnNaN, which read only their logs): before each epoch's validation and end hooks and
  copied over again after them, and likewise around every batch of a fit whose callbacks have
  batch hooks (a ``ModelCheckpoint`` saving per epoch has none).

Dropout draws its masks from the layer's own ``(seed, counter)`` stream with the CPU's
counter-based generator, so masks are bit-identical to a CPU ``fit`` of the same model.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fastkeras.backend.tensor import Tensor
from fastkeras.kernels import dense as kd
from fastkeras.kernels import masks as cpu_masks

_CROSSENTROPY_OUTPUT = {"categorical_crossentropy": kd.SOFTMAX,
                        "sparse_categorical_crossentropy": kd.SOFTMAX,
                        "binary_crossentropy": kd.SIGMOID}
_LOSSES = ("categorical_crossentropy", "sparse_categorical_crossentropy", "binary_crossentropy",
           "mean_squared_error")
_LOSS_DEFAULTS = {"from_logits": False, "label_smoothing": 0.0, "axis": -1,
                  "ignore_class": None}
_EMPTY = {np.dtype(np.float32): np.zeros(0, np.float32),
          np.dtype(np.float64): np.zeros(0, np.float64)}


class Unsupported(ValueError):
    """The resident GPU path cannot run this model or data; the message names what."""


# -- what the path supports ------------------------------------------------------------------------

@dataclass
class _Step:
    """One layer of the chain: ``kind`` is 'dense', 'activation', 'dropout' or 'flatten'."""

    kind: str
    layer: Any
    code: int = kd.LINEAR
    params: np.ndarray = field(default_factory=lambda: kd.NO_PARAMS)


def _chain_layers(model: Any) -> list:
    from fastkeras.engine.functional import Functional

    if not isinstance(model, Functional):
        raise Unsupported(f"the subclassed model '{model.name}' (only Sequential and functional "
                          "models run on the GPU path)")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise Unsupported(f"model '{model.name}' has {len(model.inputs)} inputs and "
                          f"{len(model.outputs)} outputs (the GPU path runs one of each)")
    previous = model.inputs[0]
    layers = []
    for node in model._nodes:
        if node.is_input:
            continue
        single = (len(node.call_args) == 1 and not node.call_kwargs
                  and node.call_args[0] is previous and len(node.output_tensors) == 1)
        if not single:
            raise Unsupported(f"the graph of model '{model.name}' is not a single chain at "
                              f"layer '{node.layer.name}'")
        layers.append(node.layer)
        previous = node.output_tensors[0]
    if previous is not model.outputs[0]:
        raise Unsupported(f"the graph of model '{model.name}' is not a single chain")
    return layers


def _check_weights(layer: Any) -> None:
    for attr in ("activity_regularizer", "kernel_regularizer", "bias_regularizer",
                 "kernel_constraint", "bias_constraint"):
        if getattr(layer, attr, None) is not None:
            raise Unsupported(f"the {attr} of layer '{layer.name}'")
    for v in layer.weights:
        if v.constraint is not None or v.regularizer is not None:
            raise Unsupported(f"the constraint or regularizer of weight '{v.path}'")


def chain(model: Any) -> list:
    """The model as a list of :class:`_Step`; raises :class:`Unsupported` naming the first
    layer, activation or setting the GPU path does not run."""
    from fastkeras import activations
    from fastkeras.engine.input_layer import InputLayer
    from fastkeras.layers import Activation, Dense, Dropout, Flatten

    steps = []
    dtypes = set()
    for layer in _chain_layers(model):
        if isinstance(layer, InputLayer):
            continue
        kind = {Dense: "dense", Activation: "activation", Dropout: "dropout",
                Flatten: "flatten"}.get(type(layer))
        if kind is None:
            raise Unsupported(f"layer '{layer.name}' of type {type(layer).__name__}")
        if layer._losses:
            raise Unsupported(f"the losses added by layer '{layer.name}'")
        _check_weights(layer)
        step = _Step(kind, layer)
        if kind in ("dense", "activation"):
            fused = activations.kernel_code(layer.activation)
            if fused is None:
                raise Unsupported(f"the activation {layer.activation!r} of layer '{layer.name}'")
            step.code, step.params = int(fused[0]), fused[1]
        if kind == "dense":
            dtypes.add(np.dtype(layer.kernel.dtype))
        if kind == "dropout" and layer.noise_shape is not None:
            raise Unsupported(f"the noise_shape of Dropout layer '{layer.name}'")
        if kind == "flatten" and layer.data_format == "channels_first" \
                and len(layer.input_shape) > 2:
            raise Unsupported(f"channels_first Flatten layer '{layer.name}'")
        steps.append(step)
    if not any(s.kind == "dense" for s in steps):
        raise Unsupported(f"model '{model.name}' has no Dense layer")
    if len(dtypes) != 1 or next(iter(dtypes)) not in _EMPTY:
        raise Unsupported(f"the weight dtypes {sorted(str(d) for d in dtypes)} (the GPU path "
                          "runs float32 or float64 weights, all of one dtype)")
    for step in steps:
        if step.kind == "dense" and len(step.layer.input_shape) != 2:
            raise Unsupported(f"Dense layer '{step.layer.name}' on inputs of rank "
                              f"{len(step.layer.input_shape)} (put a Flatten before it)")
    return steps


def _loss_name(model: Any, steps: list) -> str:
    from fastkeras import losses

    compiled = model._compiled_loss
    fn = compiled.losses[0]
    if fn is None:
        raise Unsupported("a model compiled without a loss")
    name = getattr(getattr(fn, "fn", None), "__name__", None)
    if not isinstance(fn, losses.LossFunctionWrapper) or name not in _LOSSES \
            or getattr(losses, name) is not fn.fn:
        raise Unsupported(f"the loss {getattr(fn, 'name', fn)!r}")
    for key, value in fn._fn_kwargs.items():
        if _LOSS_DEFAULTS.get(key, object()) != value:
            raise Unsupported(f"the loss argument {key}={value!r}")
    if fn.reduction not in ("sum_over_batch_size", "mean"):
        raise Unsupported(f"the loss reduction {fn.reduction!r}")
    if compiled.weights[0] != 1.0:
        raise Unsupported("loss_weights other than 1")
    if np.dtype(fn.dtype) != _dtype(steps):
        raise Unsupported(f"the loss dtype {fn.dtype} differing from the weights' dtype")
    wanted = _CROSSENTROPY_OUTPUT.get(name)
    last = steps[-1]
    if wanted is not None and (last.kind not in ("dense", "activation") or last.code != wanted):
        activation = "softmax" if wanted == kd.SOFTMAX else "sigmoid"
        raise Unsupported(f"{name} on a model that does not end in a {activation} (the GPU "
                          f"path takes the crossentropy's gradient at the {activation}'s logits)")
    return name


def _dtype(steps: list) -> np.dtype:
    return next(np.dtype(s.layer.kernel.dtype) for s in steps if s.kind == "dense")


def _check_optimizer(optimizer: Any) -> None:
    from fastkeras import optimizers

    if type(optimizer) not in (optimizers.SGD, optimizers.Adam, optimizers.RMSprop,
                               optimizers.Adagrad):
        raise Unsupported(f"the optimizer {type(optimizer).__name__}")
    for attr in ("clipnorm", "global_clipnorm", "gradient_accumulation_steps"):
        if getattr(optimizer, attr):
            raise Unsupported(f"the optimizer setting {attr}={getattr(optimizer, attr)!r}")
    if optimizer.use_ema:
        raise Unsupported("the optimizer setting use_ema=True")


_ACCURACY_IDS = {"accuracy", "acc", "categorical_accuracy", "sparse_categorical_accuracy",
                 "binary_accuracy"}


def _check_metrics(model: Any) -> None:
    from fastkeras import metrics

    args = model._compile_args
    if any(m is not None for m in _flat(args["weighted_metrics"])):
        raise Unsupported("weighted_metrics")
    accuracy_classes = (metrics.CategoricalAccuracy, metrics.SparseCategoricalAccuracy,
                        metrics.BinaryAccuracy)
    for ident in _flat(args["metrics"]):
        if ident is None:
            continue
        if isinstance(ident, str) and ident.lower() in _ACCURACY_IDS:
            continue
        if type(ident) in accuracy_classes:
            continue
        raise Unsupported(f"the metric {ident!r} (the GPU path computes accuracy metrics)")


def _flat(value: Any) -> list:
    from fastkeras.engine import structure

    return structure.flatten(value) if value is not None else []


def _check_array(name: str, a: Any, optional: bool = False) -> None:
    if a is None and optional:
        return
    value = a.value if isinstance(a, Tensor) else a
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
        raise Unsupported(f"`{name}` of type {type(a).__name__} (the GPU path takes one numeric "
                          "numpy array)")


def unsupported(model: Any, training: bool, x: Any = None, y: Any = None,
                sample_weight: Any = None, validation_data: Any = None) -> str | None:
    """Why the resident GPU path cannot run this call, or None when it can.

    Parameters
    ----------
    model
        The model.
    training : bool
        Checks the loss, optimizer and metrics too (``fit``; ``evaluate`` checks the loss and
        metrics through ``y``).
    x, y, sample_weight, validation_data
        The call's data (arrays only).
    """
    try:
        if not model.built:
            raise Unsupported(f"model '{model.name}' is not built (give it an input shape)")
        steps = chain(model)
        _check_array("x", x, optional=True)
        if y is not None or training:
            if not model.compiled:
                raise Unsupported("an uncompiled model")
            loss = _loss_name(model, steps)
            _check_metrics(model)
            _check_array("y", y, optional=not training)
            _metric_kinds(_metric_objects(model, y), loss)
            _check_array("sample_weight", sample_weight, optional=True)
        if training:
            _check_optimizer(model.optimizer)
            if validation_data is not None:
                if not isinstance(validation_data, (tuple, list)) \
                        or len(validation_data) not in (2, 3):
                    raise Unsupported("`validation_data` that is not a tuple of arrays")
                for name, a in zip(("x_val", "y_val", "sample_weight_val"), validation_data):
                    _check_array(name, a, optional=name == "sample_weight_val")
    except Unsupported as exc:
        return str(exc)
    return None


# -- data on the device ----------------------------------------------------------------------------

def _host(a: Any) -> np.ndarray | None:
    return None if a is None else np.asarray(a.value if isinstance(a, Tensor) else a)


class _Data:
    """``x``, the targets and the sample weights of one data set, on the device.

    ``x`` is stored as ``(n, features)`` rows; targets as the output's shape in the model's
    dtype, or int32 labels for the sparse crossentropy; sample weights as ``(n,)``.
    """

    def __init__(self, x: Any, y: Any, sample_weight: Any, input_shape: tuple, units: int,
                 dtype: np.dtype, loss: str | None, class_weight: dict | None = None):
        from fastkeras.device import to_device
        from fastkeras.engine.data_adapter import class_weight_to_sample_weight, num_samples

        x, y, sw = _host(x), _host(y), _host(sample_weight)
        self.n = num_samples(x, y, sw)
        if tuple(x.shape[1:]) != tuple(input_shape):
            raise ValueError(f"Input 0 of the model expects shape {(None,) + tuple(input_shape)}; "
                             f"received x of shape {x.shape}")
        self.sample_shape = tuple(x.shape[1:])
        self.x = to_device(np.ascontiguousarray(x.reshape(self.n, -1), dtype=dtype))
        self.y = None if y is None or loss is None else to_device(_targets(y, units, dtype, loss))
        if class_weight is not None and y is not None:
            sw = class_weight_to_sample_weight(y, class_weight)
        if sw is not None:
            if sw.ndim == 2 and sw.shape[1] == 1:
                sw = sw[:, 0]
            if sw.ndim != 1:
                raise ValueError("`sample_weight` must have shape (samples,) on the GPU path; "
                                 f"received shape {sw.shape}")
            sw = to_device(np.ascontiguousarray(sw, dtype=dtype))
        self.sw = sw

    def arrays(self) -> list:
        """``[x, y, sample_weight]`` (None where absent)."""
        return [self.x, self.y, self.sw]


def _targets(y: np.ndarray, units: int, dtype: np.dtype, loss: str) -> np.ndarray:
    """The targets as the kernels read them, checked as the CPU losses check them."""
    n = y.shape[0]
    if loss == "sparse_categorical_crossentropy":
        labels = y[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y
        if labels.shape != (n,):
            raise ValueError("`target` must hold one class index per entry of `output` without "
                             f"its class axis: expected shape ({n},), received target.shape="
                             f"{y.shape} (output.shape=({n}, {units})).")
        if labels.dtype.kind == "f" and not np.all(np.isfinite(labels)):
            raise ValueError("`y_true` holds non-finite class labels.")
        labels = labels.astype(np.int64)
        if labels.size and (labels.min() < 0 or labels.max() >= units):
            bad = labels.min() if labels.min() < 0 else labels.max()
            raise ValueError(f"`target` holds the class index {bad}, outside the valid range "
                             f"[0, {units}) for an output with {units} classes.")
        return labels.astype(np.int32)
    if y.ndim == 1 and units == 1:
        y = y.reshape(n, 1)
    if y.shape != (n, units):
        raise ValueError("Arguments `target` and `output` must have the same shape. Received: "
                         f"target.shape={y.shape}, output.shape={(n, units)}")
    return np.ascontiguousarray(y, dtype=dtype)


def _rows(a: Any, start: int, stop: int) -> Any:
    return None if a is None else a[start:stop]


class _Batches:
    """Batch positions over a :class:`_Data`, in the CPU ``DataHandler``'s order.

    A new pass over the data starts when the previous one is used up (with ``steps`` per epoch,
    passes run across epochs); a shuffling pass draws ``np.random.permutation(n)`` at its start,
    as the CPU engine does, and gathers shuffled copies on the device.
    """

    def __init__(self, data: _Data, batch_size: int, steps: int | None, shuffle: bool):
        self.data = data
        self.batch_size = batch_size
        self.per_pass = max(1, math.ceil(data.n / batch_size))
        self.steps = int(steps) if steps is not None else self.per_pass
        self.shuffle = shuffle
        self.position = self.per_pass
        self.current = data.arrays()
        self._shuffled: list | None = None

    def _new_pass(self) -> None:
        from fastkeras.device import device_empty, to_device
        from fastkeras.kernels.cuda.losses import gather_rows

        self.position = 0
        if not self.shuffle:
            self.current = self.data.arrays()
            return
        order = to_device(np.random.permutation(self.data.n).astype(np.int64))
        if self._shuffled is None:
            self._shuffled = [None if a is None else device_empty(a.shape, a.dtype)
                              for a in self.data.arrays()]
        for src, out in zip(self.data.arrays(), self._shuffled):
            if src is not None:
                gather_rows(src.reshape(src.shape[0], -1), order, out.reshape(src.shape[0], -1))
        self.current = self._shuffled

    def epoch(self):
        """Yield ``(x, y, sample_weight, rows)`` device batches for one epoch."""
        for _ in range(self.steps):
            if self.position >= self.per_pass:
                self._new_pass()
            start = self.position * self.batch_size
            stop = min(start + self.batch_size, self.data.n)
            self.position += 1
            x, y, sw = (_rows(a, start, stop) for a in self.current)
            yield x.reshape((stop - start,) + self.data.sample_shape), y, sw, stop - start


# -- the resident model ----------------------------------------------------------------------------

def _pairs(optimizer: Any, variables: list) -> list:
    """Per variable, the optimizer slots its kernel updates (host Variables, in kernel order)."""
    from fastkeras import optimizers

    out = []
    for v in variables:
        i = optimizer._get_variable_index(v)
        if isinstance(optimizer, optimizers.SGD):
            slots = [optimizer.momentums[i]] if optimizer.momentum != 0 else []
        elif isinstance(optimizer, optimizers.Adam):
            slots = [optimizer._momentums[i], optimizer._velocities[i]]
            if optimizer.amsgrad:
                slots.append(optimizer._velocity_hats[i])
        elif isinstance(optimizer, optimizers.RMSprop):
            slots = [optimizer._velocities[i]]
            if optimizer.momentum > 0:
                slots.append(optimizer._momentums[i])
            if optimizer.centered:
                slots.append(optimizer._average_gradients[i])
        else:
            slots = [optimizer._accumulator_slots[i]]
        out.append(slots)
    return out


class _Resident:
    """A chain model's weights (and, for training, optimizer slots) on the device, with the
    buffers of one batch size, running forward and backward passes and optimizer steps."""

    def __init__(self, model: Any, steps: list, batch_size: int, train: bool):
        from fastkeras.device import device_empty, to_device

        self.model = model
        self.steps = steps
        self.dtype = _dtype(steps)
        self.variables = [v for s in steps if s.kind == "dense" for v in s.layer.weights]
        self.device = {id(v): to_device(np.ascontiguousarray(v.value)) for v in self.variables}
        self.empty_bias = to_device(_EMPTY[self.dtype])
        self.trainable = list(model.trainable_weights) if train else []
        self.slots: list = []
        self.d_slots: list = []
        if self.trainable:
            model.optimizer.build(self.trainable)
            self.slots = _pairs(model.optimizer, self.trainable)
            self.d_slots = [[to_device(np.ascontiguousarray(s.value)) for s in group]
                            for group in self.slots]
        self.grads = {id(v): device_empty(v.shape, self.dtype) for v in self.trainable}
        # Per step: its input and output and, for Dense, the pre-activation and gradients.
        self.buffers = []
        for step in steps:
            shape = (batch_size,) + tuple(step.layer.output_shape[1:])
            buf = {"out": device_empty(shape, self.dtype)}
            if step.kind == "dense":
                buf["z"] = (buf["out"] if step.code == kd.LINEAR
                            else device_empty(shape, self.dtype))
                buf["dz"] = device_empty(shape, self.dtype)
            if train and step.kind in ("activation", "dropout", "dense"):
                in_shape = (batch_size,) + tuple(step.layer.input_shape[1:])
                buf["din"] = device_empty(in_shape, self.dtype)
            self.buffers.append(buf)
        # The backward pass stops at the first layer with trainable weights.
        trained = {id(v) for v in self.trainable}
        self.first_trained = next((i for i, s in enumerate(steps) if s.kind == "dense"
                                   and any(id(v) in trained for v in s.layer.weights)), 0)
        self.saved: list = []
        self.keys: list = []

    # -- weights ---------------------------------------------------------------------------
    def _weight(self, v: Any) -> Any:
        return self.empty_bias if v is None else self.device[id(v)]

    def pull(self) -> None:
        """Write the device weights and optimizer slots into the host Variables."""
        from fastkeras.device import to_host

        for v in self.variables:
            v.assign(to_host(self.device[id(v)]))
        for group, d_group in zip(self.slots, self.d_slots):
            for s, d in zip(group, d_group):
                s.assign(to_host(d))

    def push(self) -> None:
        """Copy the host Variables (weights, slots) to the device (after callbacks set them)."""
        for v in self.variables:
            self.device[id(v)].copy_to_device(np.ascontiguousarray(v.value))
        for group, d_group in zip(self.slots, self.d_slots):
            for s, d in zip(group, d_group):
                d.copy_to_device(np.ascontiguousarray(s.value))

    # -- passes ----------------------------------------------------------------------------
    def forward(self, x: Any, rows: int, training: bool) -> Any:
        """Run the chain on a device batch of ``rows`` rows; returns the output (a view of a
        buffer, valid until the next call)."""
        from fastkeras.kernels.cuda import dense, masks

        self.saved = []
        self.keys = []
        h = x
        for step, buf in zip(self.steps, self.buffers):
            self.saved.append(h)
            layer = step.layer
            out = buf["out"][:rows]
            if step.kind == "flatten":
                out = h.reshape(out.shape)
            elif step.kind == "dense":
                z = buf["z"][:rows]
                dense.dense_forward(h, self._weight(layer.kernel), self._weight(layer.bias),
                                    step.code, step.params, z, out)
            elif step.kind == "activation":
                if step.code == kd.LINEAR:
                    out = h
                else:
                    dense.bias_activation(_matrix(h), self.empty_bias, step.code, step.params,
                                          _matrix(out))
            elif training and layer.rate != 0:  # dropout
                if layer._stream_seed is None:
                    layer._stream_seed = int(np.random.randint(0, 2**62, dtype=np.int64))
                key = cpu_masks.stream_key(layer._stream_seed, layer._counter)
                layer._counter += 1
                self.keys.append(key)
                masks.dropout_dense(h.reshape(h.size), out.reshape(out.size), key,
                                    cpu_masks.keep_threshold(layer.rate),
                                    self.dtype.type(1.0 - layer.rate))
            else:
                out = h
            h = out
        return h

    def backward(self, g: Any, rows: int, at_logits: bool) -> None:
        """Gradients of the trainable weights from ``g``, the loss gradient at the output (at
        the logits of the final softmax/sigmoid when ``at_logits``)."""
        from fastkeras.kernels.cuda import dense, masks

        keys = list(self.keys)
        trainable = {id(v) for v in self.trainable}
        last = len(self.steps) - 1
        for i in range(last, self.first_trained - 1, -1):
            step, buf, h = self.steps[i], self.buffers[i], self.saved[i]
            layer = step.layer
            fused_here = at_logits and i == last
            if step.kind == "flatten":
                g = g.reshape(h.shape)
            elif step.kind == "dense":
                code = kd.LINEAR if fused_here else step.code
                dx = buf["din"][:rows] if i > self.first_trained else None
                kernel, bias = layer.kernel, layer.bias
                dk = self.grads[id(kernel)] if id(kernel) in trainable else None
                db = self.grads[id(bias)] if bias is not None and id(bias) in trainable else None
                dense.dense_backward(g, h, self._weight(kernel), buf["z"][:rows],
                                     buf["out"][:rows], code, step.params, buf["dz"][:rows], dx,
                                     dk, db)
                g = dx
            elif step.kind == "activation":
                if step.code != kd.LINEAR and not fused_here:
                    din = buf["din"][:rows]
                    dense.activation_backward(_matrix(g), _matrix(h), _matrix(buf["out"][:rows]),
                                              step.code, step.params, _matrix(din))
                    g = din
            elif layer.rate != 0:  # dropout, in training
                din = buf["din"][:rows]
                masks.dropout_dense(g.reshape(g.size), din.reshape(din.size), keys.pop(),
                                    cpu_masks.keep_threshold(layer.rate),
                                    self.dtype.type(1.0 - layer.rate))
                g = din

    def apply_gradients(self) -> None:
        """One optimizer step on the device, with the scalars the CPU optimizer would use."""
        opt = self.model.optimizer
        lr = opt._step_learning_rate()
        unscale = 1.0 if opt.loss_scale_factor is None else 1.0 / opt.loss_scale_factor
        clip = opt.clipvalue if opt.clipvalue else math.inf
        for v, d_slots in zip(self.trainable, self.d_slots):
            dt = v.dtype.type
            decay = (dt(1) - dt(opt.weight_decay) * dt(lr) if opt._uses_weight_decay(v)
                     else dt(1))
            w = self.device[id(v)]
            flat = [w.reshape(w.size), self.grads[id(v)].reshape(w.size)] + \
                [s.reshape(s.size) for s in d_slots]
            _optimizer_step(opt, flat, dt(lr), dt(unscale), dt(clip), decay, dt)
        opt._iterations.value += 1


def _matrix(a: Any) -> Any:
    """``a`` as ``(rows, last axis)``: the elementwise and softmax kernels' layout."""
    last = a.shape[len(a.shape) - 1]  # the simulator's shapes take no negative index
    return a.reshape(a.size // last, last)


def _optimizer_step(opt: Any, flat: list, lr: Any, gscale: Any, clip: Any, decay: Any,
                    dt: Any) -> None:
    from fastkeras import optimizers
    from fastkeras.kernels.cuda import optim

    if isinstance(opt, optimizers.SGD):
        if opt.momentum != 0:
            optim.sgd_momentum_step(*flat, gscale, clip, decay, lr, dt(opt.momentum),
                                    opt.nesterov)
        else:
            optim.sgd_step(*flat, gscale, clip, decay, lr)
    elif isinstance(opt, optimizers.Adam):
        t = dt(opt._steps_done() + 1)
        alpha = lr * np.sqrt(dt(1) - dt(opt.beta_2) ** t) / (dt(1) - dt(opt.beta_1) ** t)
        w, g, m, v = flat[:4]
        v_hat = flat[4] if opt.amsgrad else v
        optim.adam_step(w, g, m, v, v_hat, gscale, clip, decay, alpha, dt(opt.beta_1),
                        dt(1 - opt.beta_1), dt(opt.beta_2), dt(1 - opt.beta_2),
                        dt(opt.epsilon), opt.amsgrad)
    elif isinstance(opt, optimizers.RMSprop):
        w, g, v = flat[:3]
        rest = flat[3:]
        mom = rest.pop(0) if opt.momentum > 0 else v
        avg = rest.pop(0) if opt.centered else v
        optim.rmsprop_step(w, g, v, avg, mom, gscale, clip, decay, lr, dt(opt.rho),
                           dt(1 - opt.rho), dt(opt.momentum), dt(opt.epsilon), opt.centered,
                           opt.momentum > 0)
    else:
        w, g, acc = flat
        optim.adagrad_step(w, g, acc, gscale, clip, decay, lr, dt(opt.epsilon))


# -- losses, metrics and logs on the device --------------------------------------------------------

def _metric_objects(model: Any, y: Any) -> list:
    """The compiled metric objects: the model's, or made from the targets' and the output's
    shapes as the CPU engine makes them on its first batch."""
    from fastkeras import metrics

    compiled = model._compiled_metrics
    if compiled._objects is not None:
        return compiled._objects
    like = np.empty((1, int(model.output_shape[-1])), np.float32)
    return [metrics.resolve_compile_metric(ident, _host(y), like)
            for _, _, ident, _ in compiled.entries]


def _metric_kinds(objects: list, loss: str | None) -> list:
    """Per metric object, ``(kind, threshold)`` for :func:`~fastkeras.kernels.cuda.losses.
    accuracy_batch`; raises :class:`Unsupported` for a kind the targets cannot feed."""
    from fastkeras import metrics
    from fastkeras.kernels.cuda import losses as kl

    kinds = []
    for obj in objects:
        if isinstance(obj, metrics.BinaryAccuracy):
            kind = kl.BINARY
        elif isinstance(obj, metrics.SparseCategoricalAccuracy):
            kind = kl.SPARSE_CATEGORICAL
        else:
            kind = kl.CATEGORICAL
        sparse_targets = loss == "sparse_categorical_crossentropy"
        if (kind == kl.SPARSE_CATEGORICAL) != sparse_targets:
            raise Unsupported(f"the metric '{obj.name}' with the loss {loss} (sparse accuracy "
                              "runs with the sparse crossentropy's labels only)")
        kinds.append((kind, float(obj._fn_kwargs.get("threshold", 0.5))))
    return kinds


class _Accumulators:
    """The loss sum and the metric sums of the batches since the last reset, on the device;
    :meth:`read` brings them back into the model's loss tracker and metric objects."""

    def __init__(self, model: Any, loss: str, kinds: list):
        from fastkeras.device import to_device

        self.model = model
        self.loss = loss
        self.kinds = kinds
        self.zeros = np.zeros(1 + len(kinds))
        self.acc = to_device(self.zeros)
        self.count = 0

    def reset(self) -> None:
        """Start new running means (the model's metrics are reset alongside)."""
        self.acc.copy_to_device(self.zeros)
        self.count = 0

    def add(self, out: Any, y: Any, sw: Any, rows: int, dz: Any, grad_scale: float) -> None:
        """Add one batch's loss and metrics; write the loss gradient into ``dz`` unless None."""
        from fastkeras.backend.config import epsilon
        from fastkeras.kernels.cuda import losses as kl

        kl.loss_batch(self.loss, out, y, sw, grad_scale, epsilon(), dz, self.acc, 0)
        for slot, (kind, threshold) in enumerate(self.kinds, 1):
            kl.accuracy_batch(kind, out, y, self.acc, slot, threshold)
        self.count += rows

    def read(self) -> dict:
        """Copy the sums back, set the model's tracker and metrics from them, return the logs."""
        from fastkeras.device import to_host

        values = to_host(self.acc)
        tracker = self.model._compiled_loss.trackers["loss"]
        tracker.total, tracker.count = float(values[0]), float(self.count)
        for obj, value in zip(self.model._compiled_metrics._objects or (), values[1:]):
            dt = np.dtype(obj.dtype).type
            obj.total, obj.count = dt(value), dt(self.count)
        return self.model._logs()


_TRAIN_BATCH_HOOKS = ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin",
                      "on_batch_end")
_TEST_BATCH_HOOKS = ("on_test_batch_begin", "on_test_batch_end")
_BAR_INTERVAL = 0.05  # seconds: the progress bar's refresh interval


def _overrides(callback: Any, hooks: tuple) -> bool:
    from fastkeras.callbacks import Callback, ModelCheckpoint

    if isinstance(callback, ModelCheckpoint) and callback.save_freq == "epoch":
        return False  # its batch hook only counts batches for integer save frequencies
    return any(getattr(type(callback), h) is not getattr(Callback, h) for h in hooks)


class _Sync:
    """When the accumulators are read back and the weights written back around callbacks."""

    def __init__(self, cbs: Any, verbose: int):
        from fastkeras.callbacks import CSVLogger, History, ProgbarLogger, TerminateOnNaN

        custom = [cb for cb in cbs.callbacks if not isinstance(cb, (History, ProgbarLogger))]
        # callbacks that may touch the model (the built-in loggers read only their logs)
        touching = [cb for cb in custom if not isinstance(cb, (CSVLogger, TerminateOnNaN))]
        self.epoch_weights = bool(touching)
        self.train_hooks = any(_overrides(cb, _TRAIN_BATCH_HOOKS) for cb in custom)
        self.train_weights = any(_overrides(cb, _TRAIN_BATCH_HOOKS) for cb in touching)
        self.test_hooks = any(_overrides(cb, _TEST_BATCH_HOOKS) for cb in custom)
        self.live_bar = verbose == 1
        self.last_read = -math.inf
        self.logs: dict = {}

    def batch_logs(self, acc: _Accumulators, hooks: bool, bar: bool) -> dict:
        """The logs for a batch hook: read now when a callback's hook wants them, or when the
        live progress bar (``bar``) is due to refresh; else the latest read."""
        now = time.monotonic()
        if hooks or (bar and self.live_bar and now - self.last_read >= _BAR_INTERVAL):
            self.last_read = now
            self.logs = acc.read()
        return self.logs


# -- fit / evaluate / predict ----------------------------------------------------------------------

def _batch_size(value: Any) -> int:
    size = 32 if value is None else value
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"`batch_size` must be a positive integer; received {value}.")
    return int(size)


def _data(model: Any, steps: list, x: Any, y: Any, sw: Any, loss: str | None,
          class_weight: dict | None = None) -> _Data:
    return _Data(x, y, sw, tuple(model.input_shape[1:]), int(model.output_shape[-1]),
                 _dtype(steps), loss, class_weight)


def _evaluate_batches(model: Any, resident: _Resident, batches: _Batches,
                      acc: _Accumulators, cbs: Any, sync: _Sync, standalone: bool) -> dict:
    """The CPU engine's evaluation loop on the device: reset, hooks, the batches, the logs."""
    model.reset_metrics()
    acc.reset()
    cbs.on_test_begin()
    for step, (xb, yb, swb, rows) in enumerate(batches.epoch()):
        cbs.on_test_batch_begin(step)
        out = resident.forward(xb, rows, training=False)
        acc.add(out, yb, swb, rows, None, 0.0)
        cbs.on_test_batch_end(step, sync.batch_logs(acc, sync.test_hooks, standalone))
    logs = acc.read()
    cbs.on_test_end(logs)
    return logs


def fit(model: Any, x: Any, y: Any, batch_size: Any, epochs: int, verbose: int, callbacks: Any,
        validation_split: float, validation_data: Any, shuffle: Any, class_weight: Any,
        sample_weight: Any, initial_epoch: int, steps_per_epoch: Any, validation_steps: Any,
        validation_batch_size: Any, validation_freq: Any) -> Any:
    """``Model.fit`` on the device (arguments as there, already checked by
    :func:`unsupported`); returns the History."""
    from fastkeras.device import device_empty
    from fastkeras.engine.data_adapter import split_validation, standardize_arrays
    from fastkeras.engine.training import _validates

    steps = chain(model)
    loss = _loss_name(model, steps)
    if validation_split and validation_data is None:
        (x, y, sample_weight), validation_data = split_validation(
            [standardize_arrays(x, "x"), standardize_arrays(y, "y"),
             standardize_arrays(sample_weight, "sample_weight")], validation_split)
    size = _batch_size(batch_size)
    units = int(model.output_shape[-1])
    model._compiled_metrics._objects = _metric_objects(model, y)
    kinds = _metric_kinds(model._compiled_metrics._objects, loss)
    train = _Batches(_data(model, steps, x, y, sample_weight, loss, class_weight), size,
                     steps_per_epoch, bool(shuffle))
    val = None
    if validation_data is not None:
        vx, vy, vsw = (tuple(validation_data) + (None,))[:3]
        val_size = _batch_size(validation_batch_size or size)
        val = _Batches(_data(model, steps, vx, vy, vsw, loss), val_size, validation_steps, False)
        size = max(size, val_size)
    resident = _Resident(model, steps, size, train=True)
    loss_grad = device_empty((size, units), resident.dtype)
    at_logits = loss in _CROSSENTROPY_OUTPUT
    factor = model.optimizer.loss_scale_factor or 1.0
    acc = _Accumulators(model, loss, kinds)
    val_acc = _Accumulators(model, loss, kinds) if val is not None else None
    cbs = model._callback_list(callbacks, True, verbose, epochs, train.steps)
    sync = _Sync(cbs, verbose)
    model.stop_training = False
    model._train_variables = None
    logs: dict = {}
    cbs.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        model.reset_metrics()
        acc.reset()
        cbs.on_epoch_begin(epoch)
        for step, (xb, yb, swb, rows) in enumerate(train.epoch()):
            cbs.on_train_batch_begin(step)
            if sync.train_weights:
                resident.push()
            out = resident.forward(xb, rows, training=True)
            dz = loss_grad[:rows]
            acc.add(out, yb, swb, rows, dz, factor / rows)
            if resident.trainable:  # as on the CPU: no variables, no optimizer step
                resident.backward(dz, rows, at_logits)
                resident.apply_gradients()
            if sync.train_weights:
                resident.pull()
            cbs.on_train_batch_end(step, sync.batch_logs(acc, sync.train_hooks, True))
            if model.stop_training:
                break
        if sync.epoch_weights:
            resident.pull()
        logs = acc.read()
        if val is not None and _validates(epoch, validation_freq):
            val_logs = _evaluate_batches(model, resident, val, val_acc, cbs, sync, False)
            logs.update({f"val_{k}": v for k, v in val_logs.items()})
        logs = dict(sorted(logs.items()))
        cbs.on_epoch_end(epoch, logs)
        if sync.epoch_weights:
            resident.push()
        if model.stop_training:
            break
    resident.pull()
    cbs.on_train_end(logs)
    return model.history


def evaluate(model: Any, x: Any, y: Any, batch_size: Any, verbose: int, sample_weight: Any,
             steps: Any, callbacks: Any) -> dict:
    """``Model.evaluate`` on the device; returns the logs."""
    if y is None:
        raise ValueError("The model has a compiled loss, so `y` (the targets) must be provided.")
    chain_steps = chain(model)
    loss = _loss_name(model, chain_steps)
    size = _batch_size(batch_size)
    model._compiled_metrics._objects = _metric_objects(model, y)
    kinds = _metric_kinds(model._compiled_metrics._objects, loss)
    batches = _Batches(_data(model, chain_steps, x, y, sample_weight, loss), size, steps, False)
    resident = _Resident(model, chain_steps, size, train=False)
    cbs = model._callback_list(callbacks, False, verbose, 1, batches.steps)
    return _evaluate_batches(model, resident, batches, _Accumulators(model, loss, kinds), cbs,
                             _Sync(cbs, verbose), True)


def predict(model: Any, x: Any, batch_size: Any, verbose: int, steps: Any,
            callbacks: Any) -> np.ndarray:
    """``Model.predict`` on the device: the outputs gather on the device and come back once,
    as one numpy array. ``on_predict_batch_end`` receives each batch's outputs as a device
    array (``fastkeras.device.to_host`` copies one back)."""
    from fastkeras.device import device_empty, to_host

    chain_steps = chain(model)
    size = _batch_size(batch_size)
    batches = _Batches(_data(model, chain_steps, x, None, None, None), size, steps, False)
    units = int(model.output_shape[-1])
    sizes = [min(size, batches.data.n - (k % batches.per_pass) * size)
             for k in range(batches.steps)]
    out = device_empty((sum(sizes), units), _dtype(chain_steps))
    resident = _Resident(model, chain_steps, size, train=False)
    cbs = model._callback_list(callbacks, False, verbose, 1, batches.steps)
    cbs.on_predict_begin()
    start = 0
    for step, (xb, _, _, rows) in enumerate(batches.epoch()):
        cbs.on_predict_batch_begin(step)
        result = resident.forward(xb, rows, training=False)
        out[start:start + rows].copy_to_device(result)
        start += rows
        cbs.on_predict_batch_end(step, {"outputs": out[start - rows:start]})
    cbs.on_predict_end()
    return to_host(out)
