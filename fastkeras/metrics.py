"""Metrics: stateful running means on numpy arrays, with Keras 3's semantics (spec section 22).

A metric object accumulates batches with ``update_state(y_true, y_pred, sample_weight=None)``
and reports ``result()`` (a float) until ``reset_state()``. Most metrics are a
:class:`MeanMetricWrapper` around a per-sample function: the accuracy functions below or the
loss functions of :mod:`fastkeras.losses` (re-exported here under their Keras names).

In ``compile``, ``'accuracy'``/``'acc'`` pick Binary, Sparse or Categorical accuracy from the
shapes (:func:`resolve_compile_metric`); outside compile, ``get('accuracy')`` is the
exact-match :class:`Accuracy`.
"""

from __future__ import annotations

import re
from typing import Any, Callable

import numpy as np

from fastkeras import backend as K
from fastkeras import losses as _losses
from fastkeras.backend.config import floatx
from fastkeras.backend.tensor import Tensor, value_of
from fastkeras.losses import (
    apply_mask, binary_crossentropy, categorical_crossentropy, categorical_hinge,
    cosine_similarity, hinge, huber, kl_divergence, log_cosh, mean_absolute_error,
    mean_absolute_percentage_error, mean_squared_error, mean_squared_logarithmic_error, poisson,
    sparse_categorical_crossentropy, squared_hinge, squeeze_or_expand_to_same_rank,
)

mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kl_divergence
logcosh = log_cosh


def _snake_case(name: str) -> str:
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _array(x: Any, what: str) -> np.ndarray:
    arr = np.asarray(value_of(x))
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"`{what}` must be numeric; received an array of dtype {arr.dtype}.")
    return arr


# -- per-sample accuracy functions --------------------------------------------------------------

def accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """1.0 where ``y_true == y_pred`` (after the rank fix-up), else 0.0."""
    p = _array(y_pred, "y_pred")
    t = _array(y_true, "y_true").astype(p.dtype, copy=False)
    t, p = squeeze_or_expand_to_same_rank(t, p)
    return np.equal(t, p).astype(floatx())


def binary_accuracy(y_true: Any, y_pred: Any, threshold: float = 0.5) -> np.ndarray:
    """1.0 where ``y_true == (y_pred > threshold)`` (strictly greater), else 0.0."""
    p = _array(y_pred, "y_pred")
    t = _array(y_true, "y_true")
    t, p = squeeze_or_expand_to_same_rank(t, p)
    return np.equal(t, (p > threshold).astype(t.dtype)).astype(floatx())


def categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """1.0 where ``argmax(y_true) == argmax(y_pred)`` (ties go to the first index)."""
    p = _array(y_pred, "y_pred")
    t = np.argmax(_array(y_true, "y_true"), axis=-1)
    shape = t.shape
    squeezed = t.ndim == p.ndim
    if squeezed:
        t = np.squeeze(t, -1)
    matches = np.equal(t, np.argmax(p, axis=-1)).astype(floatx())
    return matches.reshape(shape) if squeezed else matches


def sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """1.0 where the integer label ``y_true`` (``(n,)`` or ``(n, 1)``) is ``argmax(y_pred)``."""
    p = _array(y_pred, "y_pred")
    t = _array(y_true, "y_true")
    if t.ndim == p.ndim and t.shape[-1] == 1:
        t = np.squeeze(t, -1)
    matches = np.equal(t, np.argmax(p, axis=-1)).astype(floatx())
    if matches.ndim > 1 and matches.shape[-1] == 1:
        matches = np.squeeze(matches, -1)
    return matches


def _in_top_k(targets: np.ndarray, predictions: np.ndarray, k: int) -> np.ndarray:
    """Whether each target's score is at least the k-th largest score of its row."""
    n_classes = predictions.shape[-1]
    if np.any((targets < 0) | (targets >= n_classes)):
        raise ValueError(f"Class labels must be in [0, {n_classes}); received labels outside "
                         "that range.")
    if k >= n_classes:
        return np.ones(targets.shape, bool)
    kth = np.partition(predictions, n_classes - k, axis=-1)[:, n_classes - k]
    scores = np.take_along_axis(predictions, targets[:, None], axis=-1)[:, 0]
    return scores >= kth


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"Argument `k` must be a positive integer. Received: k={k!r}")
    return int(k)


def top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> np.ndarray:
    """1.0 where the one-hot target's class is among the ``k`` highest scores (ties count)."""
    k = _check_k(k)
    p = _array(y_pred, "y_pred")
    t = np.argmax(_array(y_true, "y_true"), axis=-1)
    matches = _in_top_k(t.reshape(-1), p.reshape(-1, p.shape[-1]), k)
    return matches.astype(floatx()).reshape(t.shape)


def sparse_top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5,
                                      from_sorted_ids: bool = False) -> np.ndarray:
    """Top-k accuracy for integer labels; with ``from_sorted_ids`` ``y_pred`` holds the class
    ids sorted by score and the first ``k`` are compared."""
    k = _check_k(k)
    p = _array(y_pred, "y_pred")
    t = _array(y_true, "y_true")
    shape = t.shape
    flat_t = t.reshape(-1)
    flat_p = p.reshape(-1, p.shape[-1])
    if from_sorted_ids:
        matches = np.any(flat_p[:, :k] == flat_t[:, None], axis=1)
    else:
        matches = _in_top_k(flat_t.astype(np.int64), flat_p, k)
    return matches.astype(floatx()).reshape(shape)


# -- base classes -------------------------------------------------------------------------------

class Metric:
    """Base class of metrics: subclasses implement ``update_state``, ``result``, ``reset_state``.

    Parameters
    ----------
    dtype : str, optional
        The accumulation dtype (default :func:`~fastkeras.backend.floatx`).
    name : str, optional
        Defaults to the snake-case class name made unique.
    """

    def __init__(self, dtype: Any = None, name: str | None = None):
        if name is None:
            prefix = _snake_case(type(self).__name__)
            uid = K.get_uid(prefix)
            name = prefix if uid == 1 else f"{prefix}_{uid - 1}"
        self.name = name
        self._dtype = np.dtype(dtype or floatx()).name

    @property
    def dtype(self) -> str:
        """The accumulation dtype."""
        return self._dtype

    def update_state(self, *args: Any, **kwargs: Any) -> None:
        """Accumulate a batch."""
        raise NotImplementedError(f"{type(self).__name__} must implement `update_state`.")

    def result(self) -> float:
        """The metric's current value."""
        raise NotImplementedError(f"{type(self).__name__} must implement `result`.")

    def reset_state(self) -> None:
        """Forget everything accumulated."""
        raise NotImplementedError(f"{type(self).__name__} must implement `reset_state`.")

    def __call__(self, *args: Any, **kwargs: Any) -> float:
        """``update_state(...)`` then ``result()``."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict:
        """``{'name', 'dtype'}``."""
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict) -> "Metric":
        """Rebuild the metric from :meth:`get_config`'s output."""
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


def reduce_to_samplewise_values(values: Any, sample_weight: Any, reduce_fn: Callable,
                                dtype: Any) -> tuple:
    """Weight ``values`` and reduce them to one value per sample (Keras 3's rule).

    Values with more axes than the weights are first reduced over the extra axes; the weights
    are broadcast to the values; finally everything is reduced to shape ``(n,)``.
    """
    mask = values._keras_mask if isinstance(values, Tensor) else None
    values = np.asarray(value_of(values), dtype=dtype)
    if sample_weight is not None:
        sample_weight = _array(sample_weight, "sample_weight").astype(dtype, copy=False)
        if mask is not None:
            sample_weight = apply_mask(sample_weight, mask, dtype, "sum")
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        w_ndim = sample_weight.ndim
        if values.ndim > w_ndim:
            values = reduce_fn(values, axis=tuple(range(w_ndim, values.ndim)))
        try:
            sample_weight = np.broadcast_to(sample_weight, values.shape)
        except ValueError:
            raise ValueError(f"`sample_weight` of shape {sample_weight.shape} cannot be "
                             f"broadcast to the metric values of shape {values.shape}.") from None
        values = values * sample_weight
        if w_ndim > 1:
            sample_weight = reduce_fn(sample_weight, axis=tuple(range(1, w_ndim)))
    if values.ndim > 1:
        values = reduce_fn(values, axis=tuple(range(1, values.ndim)))
    return values, sample_weight


class Sum(Metric):
    """The running (weighted) sum of values."""

    def __init__(self, name: str = "sum", dtype: Any = None):
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        """Add the (weighted) values."""
        values, _ = reduce_to_samplewise_values(values, sample_weight, np.sum, self.dtype)
        self.total = self.total + np.sum(values, dtype=self.dtype)

    def result(self) -> float:
        """The sum so far."""
        return float(self.total)

    def reset_state(self) -> None:
        """Set the sum to 0."""
        self.total = np.dtype(self.dtype).type(0)


class Mean(Metric):
    """The running (weighted) mean of values: ``sum(values * w) / sum(w)``."""

    _direction: str | None = None

    def __init__(self, name: str = "mean", dtype: Any = None):
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        """Accumulate the (weighted) per-sample values."""
        values, sample_weight = reduce_to_samplewise_values(values, sample_weight, np.mean,
                                                            self.dtype)
        dt = np.dtype(self.dtype).type
        self.total = self.total + np.sum(values, dtype=self.dtype)
        if sample_weight is not None:
            count = np.sum(sample_weight, dtype=self.dtype)
        else:
            count = values.shape[0] if values.ndim >= 1 else 1
        self.count = self.count + dt(count)

    def result(self) -> float:
        """The mean so far (0 before any sample)."""
        return float(self.total / self.count) if self.count != 0 else 0.0

    def reset_state(self) -> None:
        """Set the total and the count to 0."""
        dt = np.dtype(self.dtype).type
        self.total, self.count = dt(0), dt(0)


class MeanMetricWrapper(Mean):
    """The running mean of ``fn(y_true, y_pred, **kwargs)`` (one value per sample).

    A mask on ``y_pred`` (``_keras_mask``) weights the values by 0/1.
    """

    def __init__(self, fn: Callable, name: str | None = None, dtype: Any = None,
                 **kwargs: Any):
        if not callable(fn):
            raise TypeError(f"`fn` must be callable. Received: fn={fn!r}")
        super().__init__(name=name, dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs
        if _losses._FUNCTIONS.get(getattr(fn, "__name__", None)) is fn:
            self._direction = "down"

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Accumulate ``fn``'s values for one batch."""
        mask = y_pred._keras_mask if isinstance(y_pred, Tensor) else None
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        if mask is not None:
            sample_weight = apply_mask(
                None if sample_weight is None else
                _array(sample_weight, "sample_weight").astype(self.dtype, copy=False),
                mask, self.dtype, "sum")
        super().update_state(values, sample_weight=sample_weight)

    def get_config(self) -> dict:
        """Base config plus ``fn`` (its name when built in) and its keyword arguments."""
        name = getattr(self._fn, "__name__", None)
        fn = name if _FUNCTIONS.get(name) is self._fn else self._fn
        return {**super().get_config(), "fn": fn, **self._fn_kwargs}

    @classmethod
    def from_config(cls, config: dict) -> "MeanMetricWrapper":
        """Rebuild the wrapper; a string ``fn`` names a built-in metric function."""
        config = dict(config)
        if isinstance(config.get("fn"), str):
            config["fn"] = _FUNCTIONS[config["fn"]]
        return cls(**config)


class _BuiltinMean(MeanMetricWrapper):
    """A built-in wrapper class: config is ``{'name', 'dtype'}`` plus its own arguments."""

    _fn_static: Callable
    _params: tuple = ()

    def __init__(self, name: str, dtype: Any = None, **kwargs: Any):
        super().__init__(type(self)._fn_static, name=name, dtype=dtype, **kwargs)
        for key, value in kwargs.items():
            setattr(self, key, value)

    def get_config(self) -> dict:
        """``{'name', 'dtype'}`` plus the metric's own arguments."""
        return {**Metric.get_config(self), **{k: getattr(self, k) for k in self._params}}

    @classmethod
    def from_config(cls, config: dict) -> "Metric":
        """Rebuild the metric from :meth:`get_config`'s output."""
        return cls(**config)


def _builtin(class_name: str, fn: Callable, default_name: str, direction: str | None,
             doc: str) -> type:
    """A wrapper class whose only arguments are ``name`` and ``dtype``."""
    def __init__(self, name: str = default_name, dtype: Any = None):
        _BuiltinMean.__init__(self, name=name, dtype=dtype)
    return type(class_name, (_BuiltinMean,), {
        "__init__": __init__, "__doc__": doc, "_fn_static": staticmethod(fn),
        "_direction": direction, "__module__": __name__})


Accuracy = _builtin("Accuracy", accuracy, "accuracy", "up",
                    "How often ``y_pred`` equals ``y_true`` exactly.")
CategoricalAccuracy = _builtin("CategoricalAccuracy", categorical_accuracy,
                               "categorical_accuracy", "up",
                               "How often ``argmax(y_pred)`` matches a one-hot ``y_true``.")
SparseCategoricalAccuracy = _builtin(
    "SparseCategoricalAccuracy", sparse_categorical_accuracy, "sparse_categorical_accuracy", "up",
    "How often ``argmax(y_pred)`` matches an integer ``y_true``.")
MeanSquaredError = _builtin("MeanSquaredError", mean_squared_error, "mean_squared_error",
                            "down", "The mean of :func:`mean_squared_error`.")
MeanAbsoluteError = _builtin("MeanAbsoluteError", mean_absolute_error, "mean_absolute_error",
                             "down", "The mean of :func:`mean_absolute_error`.")
MeanAbsolutePercentageError = _builtin(
    "MeanAbsolutePercentageError", mean_absolute_percentage_error,
    "mean_absolute_percentage_error", "down", "The mean of :func:`mean_absolute_percentage_error`.")
MeanSquaredLogarithmicError = _builtin(
    "MeanSquaredLogarithmicError", mean_squared_logarithmic_error,
    "mean_squared_logarithmic_error", "down", "The mean of :func:`mean_squared_logarithmic_error`.")
LogCoshError = _builtin("LogCoshError", log_cosh, "logcosh", "down",
                        "The mean of :func:`log_cosh`.")
KLDivergence = _builtin("KLDivergence", kl_divergence, "kl_divergence", "down",
                        "The mean of :func:`kl_divergence`.")
Poisson = _builtin("Poisson", poisson, "poisson", "down", "The mean of :func:`poisson`.")
Hinge = _builtin("Hinge", hinge, "hinge", "down", "The mean of :func:`hinge`.")
SquaredHinge = _builtin("SquaredHinge", squared_hinge, "squared_hinge", "down",
                        "The mean of :func:`squared_hinge`.")
CategoricalHinge = _builtin("CategoricalHinge", categorical_hinge, "categorical_hinge", "down",
                            "The mean of :func:`categorical_hinge`.")


class BinaryAccuracy(_BuiltinMean):
    """How often ``y_true == (y_pred > threshold)``."""

    _fn_static = staticmethod(binary_accuracy)
    _params = ("threshold",)
    _direction = "up"

    def __init__(self, name: str = "binary_accuracy", dtype: Any = None,
                 threshold: float = 0.5):
        super().__init__(name=name, dtype=dtype, threshold=threshold)


class TopKCategoricalAccuracy(_BuiltinMean):
    """How often a one-hot target is among the ``k`` highest-scored classes."""

    _fn_static = staticmethod(top_k_categorical_accuracy)
    _params = ("k",)
    _direction = "up"

    def __init__(self, k: int = 5, name: str = "top_k_categorical_accuracy", dtype: Any = None):
        super().__init__(name=name, dtype=dtype, k=_check_k(k))


class SparseTopKCategoricalAccuracy(_BuiltinMean):
    """How often an integer target is among the ``k`` highest-scored classes."""

    _fn_static = staticmethod(sparse_top_k_categorical_accuracy)
    _params = ("k",)
    _direction = "up"

    def __init__(self, k: int = 5, name: str = "sparse_top_k_categorical_accuracy",
                 dtype: Any = None, from_sorted_ids: bool = False):
        super().__init__(name=name, dtype=dtype, k=_check_k(k), from_sorted_ids=from_sorted_ids)

    def get_config(self) -> dict:
        """Base config plus ``k`` (and ``from_sorted_ids`` when set)."""
        config = super().get_config()
        if self.from_sorted_ids:
            config["from_sorted_ids"] = True
        return config


def _cosine_similarity(y_true: Any, y_pred: Any, axis: int = -1) -> np.ndarray:
    """The cosine similarity (not its negative, as the loss) along ``axis``."""
    return -cosine_similarity(y_true, y_pred, axis=axis).value


class CosineSimilarity(_BuiltinMean):
    """The mean cosine similarity between ``y_true`` and ``y_pred`` along ``axis``."""

    _fn_static = staticmethod(_cosine_similarity)
    _params = ("axis",)
    _direction = "up"

    def __init__(self, name: str = "cosine_similarity", dtype: Any = None, axis: int = -1):
        super().__init__(name=name, dtype=dtype, axis=axis)


class RootMeanSquaredError(Mean):
    """``sqrt`` of the running mean of squared errors."""

    _direction = "down"

    def __init__(self, name: str = "root_mean_squared_error", dtype: Any = None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Accumulate the squared errors of one batch."""
        t = _array(y_true, "y_true").astype(self.dtype, copy=False)
        p = _array(y_pred, "y_pred").astype(self.dtype, copy=False)
        t, p = squeeze_or_expand_to_same_rank(t, p)
        super().update_state(np.square(p - t), sample_weight=sample_weight)

    def result(self) -> float:
        """The root of the mean squared error so far."""
        return float(np.sqrt(super().result()))


class BinaryCrossentropy(_BuiltinMean):
    """The mean of :func:`binary_crossentropy`."""

    _fn_static = staticmethod(binary_crossentropy)
    _params = ("from_logits", "label_smoothing")
    _direction = "down"

    def __init__(self, name: str = "binary_crossentropy", dtype: Any = None,
                 from_logits: bool = False, label_smoothing: float = 0):
        super().__init__(name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)


class CategoricalCrossentropy(_BuiltinMean):
    """The mean of :func:`categorical_crossentropy`."""

    _fn_static = staticmethod(categorical_crossentropy)
    _params = ("from_logits", "label_smoothing", "axis")
    _direction = "down"

    def __init__(self, name: str = "categorical_crossentropy", dtype: Any = None,
                 from_logits: bool = False, label_smoothing: float = 0, axis: int = -1):
        super().__init__(name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(_BuiltinMean):
    """The mean of :func:`sparse_categorical_crossentropy`."""

    _fn_static = staticmethod(sparse_categorical_crossentropy)
    _params = ("from_logits", "ignore_class", "axis")
    _direction = "down"

    def __init__(self, name: str = "sparse_categorical_crossentropy", dtype: Any = None,
                 from_logits: bool = False, ignore_class: int | None = None, axis: int = -1):
        super().__init__(name=name, dtype=dtype, from_logits=from_logits,
                         ignore_class=ignore_class, axis=axis)


# -- lookup -------------------------------------------------------------------------------------

_FUNCTIONS = {f.__name__: f for f in (
    accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
    top_k_categorical_accuracy, sparse_top_k_categorical_accuracy)}
_FUNCTIONS.update(_losses._FUNCTIONS)

_CLASSES = [Metric, Mean, Sum, MeanMetricWrapper, Accuracy, BinaryAccuracy, CategoricalAccuracy,
            SparseCategoricalAccuracy, TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy,
            MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
            MeanSquaredLogarithmicError, RootMeanSquaredError, CosineSimilarity, LogCoshError,
            KLDivergence, Poisson, Hinge, SquaredHinge, CategoricalHinge, BinaryCrossentropy,
            CategoricalCrossentropy, SparseCategoricalCrossentropy]
_OBJECTS: dict[str, Any] = {c.__name__: c for c in _CLASSES}
_OBJECTS.update({_snake_case(c.__name__): c for c in _CLASSES})
_OBJECTS.update({"bce": BinaryCrossentropy, "BCE": BinaryCrossentropy,
                 "mse": MeanSquaredError, "MSE": MeanSquaredError,
                 "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
                 "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
                 "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError})
# The string ids an error lists (the abstract bases are not usable metrics).
_VALID_NAMES = sorted(set(_OBJECTS) - {"Metric", "metric", "MeanMetricWrapper",
                                       "mean_metric_wrapper"})


def serialize(metric: Metric) -> dict:
    """``{'module', 'class_name', 'config', 'registered_name'}`` for a metric object."""
    if not isinstance(metric, Metric):
        raise ValueError(f"Cannot serialize {metric!r}: it is not a fastkeras metric.")
    return {"module": "keras.metrics", "class_name": type(metric).__name__,
            "config": metric.get_config(), "registered_name": None}


def deserialize(config: dict, custom_objects: dict | None = None) -> Metric:
    """Rebuild a metric from :func:`serialize`'s output."""
    objects = {**_OBJECTS, **(custom_objects or {})}
    if isinstance(config, dict) and config.get("class_name") in objects:
        return objects[config["class_name"]].from_config(config.get("config") or {})
    raise ValueError(f"Could not interpret metric identifier: {config}. "
                     f"Valid names: {_VALID_NAMES}")


def get(identifier: Any) -> Any:
    """A metric object for a name (``'accuracy'``, ``'mse'``, ``'BinaryAccuracy'``), a config
    dict or a class; callables and metric objects are returned unchanged."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = _OBJECTS.get(identifier)
    else:
        obj = identifier
    if isinstance(obj, type):
        obj = obj()
    if callable(obj):
        return obj
    raise ValueError(f"Could not interpret metric identifier: {identifier}. "
                     f"Valid names: {_VALID_NAMES}")


def _shape(x: Any) -> tuple:
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def resolve_compile_metric(identifier: Any, y_true: Any, y_pred: Any) -> Metric:
    """The metric object ``compile(metrics=[identifier])`` uses for one output.

    ``'accuracy'``/``'acc'`` (any case) pick by shapes: ``y_pred`` with last axis 1 gives
    :class:`BinaryAccuracy`; a lower-rank ``y_true``, or a ``y_true`` with last axis 1 against a
    multi-class ``y_pred``, gives :class:`SparseCategoricalAccuracy`; otherwise
    :class:`CategoricalAccuracy`. Names stay as given (``'acc'`` logs as ``acc``); a function is
    wrapped in :class:`MeanMetricWrapper` and named after it. ``y_true``/``y_pred`` may be
    arrays, tensors or anything with a ``shape``.
    """
    if identifier is None:
        raise ValueError("Expected metric, received `None`")
    if str(identifier).lower() in ("accuracy", "acc"):
        t_shape, p_shape = _shape(y_true), _shape(y_pred)
        is_binary = p_shape[-1] == 1
        is_sparse = len(t_shape) < len(p_shape) or (t_shape[-1] == 1 and p_shape[-1] > 1)
        cls = (BinaryAccuracy if is_binary else
               SparseCategoricalAccuracy if is_sparse else CategoricalAccuracy)
        metric = cls(name=str(identifier))
    else:
        metric = get(identifier)
    if isinstance(identifier, str):
        name = identifier
    elif isinstance(metric, Metric):
        name = metric.name
    else:
        name = _snake_case(getattr(metric, "__name__", type(metric).__name__))
    if not isinstance(metric, Metric):
        metric = MeanMetricWrapper(metric, name=name)
    metric.name = name
    return metric
