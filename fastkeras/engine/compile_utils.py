"""What ``compile`` sets up: per-output losses with their weights, metrics, and running means.

Log names follow Keras: ``loss``; with several outputs also ``<output>_loss``; metrics under the
name they were given (``'accuracy'``, ``'acc'``, ``'mae'``), a function's ``__name__`` or a metric
object's ``name``, prefixed ``<output>_`` when the model has several outputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastkeras.backend.tensor import Tensor


class RunningMean:
    """A weighted running mean of Python floats (loss trackers)."""

    __slots__ = ("total", "count")

    def __init__(self):
        self.total = 0.0
        self.count = 0.0

    def update(self, value: float, weight: float) -> None:
        """Add ``value`` with ``weight`` (the batch size)."""
        self.total += value * weight
        self.count += weight

    def result(self) -> float:
        """The mean so far (0.0 before any update)."""
        return self.total / self.count if self.count else 0.0

    def reset(self) -> None:
        """Forget every update."""
        self.total = 0.0
        self.count = 0.0


def _per_output(value: Any, output_names: list, what: str) -> list:
    """Align a compile argument with the outputs: a dict by output name, a list by position,
    anything else shared by every output."""
    n = len(output_names)
    if isinstance(value, dict):
        unknown = [k for k in value if k not in output_names]
        if unknown:
            raise ValueError(f"Unknown entries in {what} dictionary: {unknown}. Only expected "
                             f"the following keys: {output_names}")
        return [value.get(name) for name in output_names]
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"When passing a list as `{what}`, it should have one entry per "
                             f"model output. The model has {n} output(s), but you passed "
                             f"{what}={value}")
        return list(value)
    return [value] * n


def _loss_object(identifier: Any) -> Any:
    from fastkeras import losses
    obj = losses.get(identifier)
    if isinstance(obj, losses.Loss):
        return obj
    name = identifier if isinstance(identifier, str) else getattr(obj, "__name__", None)
    return losses.LossFunctionWrapper(obj, name=name)


class CompiledLoss:
    """The model's losses: one (optional) loss and weight per output.

    Parameters
    ----------
    loss : str, callable, Loss, or list/dict of them
        A single loss applies to every output.
    loss_weights : list or dict of float, optional
        Scales for the per-output losses (default 1.0).
    output_names : list of str
        The model's output names (dict keys).
    """

    def __init__(self, loss: Any, loss_weights: Any, output_names: list):
        self.output_names = list(output_names)
        specs = _per_output(loss, self.output_names, "loss")
        self.losses = [None if s is None else _loss_object(s) for s in specs]
        weights = [1.0] * len(self.output_names) if loss_weights is None else \
            _per_output(loss_weights, self.output_names, "loss_weights")
        self.weights = [1.0 if w is None else float(w) for w in weights]
        multi = len(self.output_names) > 1
        self.names = [f"{name}_loss" for name, fn in zip(self.output_names, self.losses)
                      if fn is not None and multi]
        self.trackers = {"loss": RunningMean(), **{name: RunningMean() for name in self.names}}

    @property
    def has_loss(self) -> bool:
        """Whether any output has a loss."""
        return any(fn is not None for fn in self.losses)

    def __call__(self, ys: list | None, preds: list, sws: list | None) -> tuple:
        """Return ``(total, parts)``: the weighted sum (a Tensor, or None when no output has a
        loss) and, with several outputs, each output's unweighted loss keyed by log name (as
        Keras logs them)."""
        total, parts = None, {}
        if ys is None:
            if self.has_loss:
                raise ValueError("The model has a compiled loss, so `y` (the targets) must be "
                                 "provided.")
            return None, parts
        if len(ys) != len(preds):
            raise ValueError(f"The model has {len(preds)} output(s), but the data provides "
                             f"{len(ys)} target(s).")
        multi = len(preds) > 1
        for i, (fn, weight, y, p) in enumerate(zip(self.losses, self.weights, ys, preds)):
            if fn is None:
                continue
            sw = None if sws is None else sws[i]
            value = fn(y, p, sample_weight=sw)
            if multi:
                parts[f"{self.output_names[i]}_loss"] = value
            if weight != 1.0:
                value = value * weight
            total = value if total is None else total + value
        return total, parts

    def update_trackers(self, total: float, parts: dict, batch_size: int) -> None:
        """Record this batch's losses (weighted by batch size) in the running means."""
        self.trackers["loss"].update(total, batch_size)
        for name, value in parts.items():
            self.trackers[name].update(float(value), batch_size)

    def reset(self) -> None:
        """Reset the running means."""
        for tracker in self.trackers.values():
            tracker.reset()


def metric_name(identifier: Any) -> str:
    """The log name of a compile metric: strings as given, functions by ``__name__``, metric
    objects by ``name``."""
    if isinstance(identifier, str):
        return identifier
    name = getattr(identifier, "name", None)
    if isinstance(name, str):
        return name
    name = getattr(identifier, "__name__", None)
    if isinstance(name, str):
        return name
    raise ValueError(f"Could not interpret metric identifier: {identifier!r}")


def _metric_lists(metrics: Any, output_names: list, what: str) -> list:
    if metrics is None:
        return [[] for _ in output_names]
    if isinstance(metrics, dict):
        per = _per_output(metrics, output_names, what)
    elif isinstance(metrics, (list, tuple)) and any(isinstance(m, (list, tuple))
                                                    for m in metrics):
        per = _per_output(list(metrics), output_names, what)
    elif isinstance(metrics, (list, tuple)):
        per = [list(metrics)] * len(output_names)
    else:
        raise ValueError(f"Expected `{what}` argument to be a list, tuple, or dict. Received "
                         f"instead: {what}={metrics} of type {type(metrics)}")
    return [[] if m is None else (list(m) if isinstance(m, (list, tuple)) else [m])
            for m in per]


class CompiledMetrics:
    """Compile metrics per output; built lazily from the first batch (``'accuracy'`` picks its
    class from the target and prediction shapes).

    Parameters
    ----------
    metrics : list, list of lists, or dict
        A flat list applies to every output; a list of lists or a dict gives each output its own.
    weighted_metrics : same forms
        Metrics that also use the sample weights.
    output_names : list of str
        The model's output names.
    """

    def __init__(self, metrics: Any, weighted_metrics: Any, output_names: list):
        self.output_names = list(output_names)
        multi = len(self.output_names) > 1
        plain = _metric_lists(metrics, self.output_names, "metrics")
        weighted = _metric_lists(weighted_metrics, self.output_names, "weighted_metrics")
        self.entries = []  # (log name, output index, identifier, weighted)
        used: dict[str, int] = {}
        for is_weighted, lists in ((False, plain), (True, weighted)):
            for index, identifiers in enumerate(lists):
                for identifier in identifiers:
                    base = metric_name(identifier)
                    name = f"{self.output_names[index]}_{base}" if multi else base
                    if name in used and is_weighted:
                        base = f"weighted_{base}"
                        name = f"{self.output_names[index]}_{base}" if multi else base
                    if name in used:
                        used[name] += 1
                        name = f"{name}_{used[name] - 1}"
                    else:
                        used[name] = 1
                    self.entries.append((name, index, identifier, is_weighted))
        self.names = [entry[0] for entry in self.entries]
        self._objects = None

    def update(self, ys: list | None, preds: list, sws: list | None, masks: list) -> None:
        """Update every metric with this batch (numpy predictions; masks act as weights)."""
        if not self.entries or ys is None:
            return
        if self._objects is None:
            from fastkeras import metrics
            self._objects = [metrics.resolve_compile_metric(ident, ys[i], preds[i])
                             for _, i, ident, _ in self.entries]
        for obj, (_, i, _, weighted) in zip(self._objects, self.entries):
            weight = sws[i] if (weighted and sws is not None) else None
            mask = masks[i]
            if mask is not None:
                weight = mask.astype(np.float32) if weight is None else \
                    np.asarray(weight, np.float32).reshape(
                        weight.shape + (1,) * (mask.ndim - np.ndim(weight))) * mask
            obj.update_state(ys[i], preds[i], sample_weight=weight)

    def results(self) -> dict:
        """``{name: float}`` of the current metric values (0.0 before the first update)."""
        if self._objects is None:
            return {name: 0.0 for name in self.names}
        return {name: float(obj.result()) for name, obj in zip(self.names, self._objects)}

    def reset(self) -> None:
        """Reset every metric's state."""
        for obj in self._objects or ():
            obj.reset_state()


def output_masks(preds: list) -> list:
    """The boolean masks carried by the output tensors (None where absent)."""
    return [p._keras_mask if isinstance(p, Tensor) else None for p in preds]
