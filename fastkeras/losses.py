"""Losses with Keras 3's semantics (spec ``layers.md`` section 21).

Loss *functions* (``mean_squared_error``, ``binary_crossentropy``, ...) return one value per sample
(the mean or sum over the last axis) as a :class:`~fastkeras.backend.tensor.Tensor` that is
differentiable with respect to ``y_pred``. Loss *classes* call a function and reduce its values
with sample weights and masks: ``'sum_over_batch_size'`` (the default: ``sum(loss * w)`` divided
by the number of values; weights are not normalised), ``'mean'`` (the same), ``'sum'``,
``'mean_with_sample_weight'`` (divided by ``sum(w)``) or ``'none'``/``None``.

The regression losses are single fused ops. The crossentropies use the backend's crossentropy
ops, which send the gradient of a recorded softmax/sigmoid output straight to its logits as
``p - y`` (stable, while the forward numbers stay Keras's clipped ones); the reduction is folded
into the loss's own node, so the whole loss adds one node on top of its input.

A mask on ``y_pred`` (``_keras_mask``) weights the valid entries by ``total/valid`` and the
masked ones by 0, so the loss is the mean over the valid entries.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np

from fastkeras import backend as K
from fastkeras.backend import loss_ops
from fastkeras.backend.config import epsilon, floatx
from fastkeras.backend.tensor import Tensor, make, unbroadcast, value_of

_REDUCTIONS = ("sum_over_batch_size", "sum", None, "none", "mean", "mean_with_sample_weight")


# -- conversions and shape rules ----------------------------------------------------------------

def _prediction(y_pred: Any, dtype: Any = None) -> Tensor:
    """``y_pred`` as a float Tensor; a Tensor is cast differentiably when its dtype differs."""
    if isinstance(y_pred, Tensor):
        target = dtype or (y_pred.dtype if y_pred.dtype.kind == "f" else floatx())
        return y_pred if y_pred.dtype == np.dtype(target) else K.cast(y_pred, target)
    arr = np.asarray(y_pred)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"`y_pred` must be numeric; received an array of dtype {arr.dtype}.")
    target = dtype or (arr.dtype if arr.dtype.kind == "f" else floatx())
    return Tensor(arr.astype(target, copy=False))


def _target(y_true: Any, dtype: Any) -> np.ndarray:
    """``y_true`` as a numpy array of ``dtype`` (targets are data: no gradient flows to them)."""
    arr = np.asarray(value_of(y_true))
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"`y_true` must be numeric; received an array of dtype {arr.dtype}.")
    return arr.astype(dtype, copy=False)


def squeeze_or_expand_to_same_rank(x1: Any, x2: Any, expand_rank_1: bool = True) -> tuple:
    """Make ranks equal when they differ by one and the extra axis has size 1.

    The longer one's trailing size-1 axis is squeezed, except that a rank-1 partner is expanded
    instead (``(n,)`` with ``(n, 1)`` gives two ``(n, 1)``) when ``expand_rank_1``. Works on
    arrays and Tensors.
    """
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = np.expand_dims(x2, -1)
        else:
            x1 = np.squeeze(x1, -1)
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = np.expand_dims(x1, -1)
        else:
            x2 = np.squeeze(x2, -1)
    return x1, x2


def _broadcast_shape(a: tuple, b: tuple, what: str) -> tuple:
    try:
        return np.broadcast_shapes(a, b)
    except ValueError:
        raise ValueError(f"{what}: shapes {a} and {b} cannot be broadcast together.") from None


def _fold(value: Any, inner: Tensor, to_inner: Callable[[np.ndarray], np.ndarray],
          op: str) -> Tensor:
    """Record ``value = f(inner)`` as part of ``inner``'s own node.

    ``to_inner(g)`` maps the output gradient to ``inner``'s gradient. When ``inner`` was recorded
    the new node takes its parents and composes the two VJPs, so a loss stays one node deep.
    """
    if inner.vjp is not None:
        inner_vjp = inner.vjp
        return make(value, inner.parents, lambda g: inner_vjp(to_inner(g)), op)
    return make(value, (inner,), lambda g: (to_inner(g),), op)


def _check_axis(axis: Any) -> None:
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"`axis` must be of type `int`. Received: axis={axis} of type "
                         f"{type(axis)}")


# -- fused regression losses --------------------------------------------------------------------

def _elementwise_mean(name: str, y_true: Any, y_pred: Any,
                      value: Callable[[np.ndarray, np.ndarray], np.ndarray],
                      grad: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Tensor:
    """``mean(value(t, p), axis=-1)`` as one op; ``grad(t, p)`` is d value / d p elementwise."""
    pred = _prediction(y_pred)
    p_in = pred.value
    t, p = squeeze_or_expand_to_same_rank(_target(y_true, p_in.dtype), p_in)
    if p.ndim == 0:
        raise ValueError(f"`{name}` needs `y_pred` with at least one axis; received a scalar.")
    shape = _broadcast_shape(t.shape, p.shape, f"`{name}`: `y_true` and `y_pred`")
    elem = value(t, p)
    out = np.mean(elem, axis=-1)

    def vjp(g):
        d = grad(t, p) * (np.expand_dims(g, -1) / p.dtype.type(shape[-1]))
        return (unbroadcast(np.broadcast_to(d, shape), p.shape).reshape(p_in.shape),)
    return make(out, (pred,), vjp, name)


def mean_squared_error(y_true: Any, y_pred: Any) -> Tensor:
    """``mean((y_true - y_pred)**2, axis=-1)``."""
    return _elementwise_mean("mean_squared_error", y_true, y_pred,
                             lambda t, p: np.square(t - p), lambda t, p: 2 * (p - t))


def mean_absolute_error(y_true: Any, y_pred: Any) -> Tensor:
    """``mean(|y_true - y_pred|, axis=-1)``."""
    return _elementwise_mean("mean_absolute_error", y_true, y_pred,
                             lambda t, p: np.abs(t - p), lambda t, p: np.sign(p - t))


def mean_absolute_percentage_error(y_true: Any, y_pred: Any) -> Tensor:
    """``100 * mean(|y_true - y_pred| / max(|y_true|, epsilon), axis=-1)``."""
    def scale(t):
        return np.maximum(np.abs(t), t.dtype.type(epsilon()))
    return _elementwise_mean("mean_absolute_percentage_error", y_true, y_pred,
                             lambda t, p: 100 * np.abs((t - p) / scale(t)),
                             lambda t, p: 100 * np.sign(p - t) / scale(t))


def mean_squared_logarithmic_error(y_true: Any, y_pred: Any) -> Tensor:
    """``mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))**2, axis=-1)``."""
    def logs(t, p):
        eps = p.dtype.type(epsilon())
        return np.log(np.maximum(p, eps) + 1), np.log(np.maximum(t, eps) + 1)

    def value(t, p):
        a, b = logs(t, p)
        return np.square(a - b)

    def grad(t, p):
        a, b = logs(t, p)
        return 2 * (a - b) * (p > epsilon()) / (np.maximum(p, p.dtype.type(epsilon())) + 1)
    return _elementwise_mean("mean_squared_logarithmic_error", y_true, y_pred, value, grad)


def huber(y_true: Any, y_pred: Any, delta: float = 1.0) -> Tensor:
    """``mean(0.5 e**2 if |e| <= delta else delta |e| - 0.5 delta**2)``, ``e = y_pred - y_true``."""
    def value(t, p):
        e = p - t
        d = p.dtype.type(delta)
        return np.where(np.abs(e) <= d, 0.5 * np.square(e), d * np.abs(e) - 0.5 * d * d)

    def grad(t, p):
        e = p - t
        return np.clip(e, -delta, delta)
    return _elementwise_mean("huber", y_true, y_pred, value, grad)


def log_cosh(y_true: Any, y_pred: Any) -> Tensor:
    """``mean(log(cosh(y_pred - y_true)), axis=-1)``, computed without overflow."""
    def value(t, p):
        x = p - t
        return x + np.logaddexp(0, -2 * x) - np.log(p.dtype.type(2))
    return _elementwise_mean("log_cosh", y_true, y_pred, value, lambda t, p: np.tanh(p - t))


def _hinge_labels(t: np.ndarray) -> np.ndarray:
    """Binary 0/1 labels become -1/1; other labels are used as given."""
    return 2 * t - 1 if np.all((t == 0) | (t == 1)) else t


def hinge(y_true: Any, y_pred: Any) -> Tensor:
    """``mean(max(1 - y_true * y_pred, 0), axis=-1)`` with 0/1 labels mapped to -1/1."""
    return _elementwise_mean(
        "hinge", y_true, y_pred,
        lambda t, p: np.maximum(1 - _hinge_labels(t) * p, 0),
        lambda t, p: -_hinge_labels(t) * (1 - _hinge_labels(t) * p > 0))


def squared_hinge(y_true: Any, y_pred: Any) -> Tensor:
    """``mean(max(1 - y_true * y_pred, 0)**2, axis=-1)`` with 0/1 labels mapped to -1/1."""
    return _elementwise_mean(
        "squared_hinge", y_true, y_pred,
        lambda t, p: np.square(np.maximum(1 - _hinge_labels(t) * p, 0)),
        lambda t, p: -2 * _hinge_labels(t) * np.maximum(1 - _hinge_labels(t) * p, 0))


def poisson(y_true: Any, y_pred: Any) -> Tensor:
    """``mean(y_pred - y_true * log(y_pred + epsilon), axis=-1)``."""
    def eps(p):
        return p.dtype.type(epsilon())
    return _elementwise_mean("poisson", y_true, y_pred,
                             lambda t, p: p - t * np.log(p + eps(p)),
                             lambda t, p: 1 - t / (p + eps(p)))


def _reduced_loss(name: str, y_true: Any, y_pred: Any, rank_fix: bool,
                  value: Callable, grad: Callable) -> Tensor:
    """One op: ``value(t, p)`` reduces an axis itself; ``grad(t, p, g)`` returns g * d/dp."""
    pred = _prediction(y_pred)
    p = pred.value
    t = _target(y_true, p.dtype)
    if rank_fix:
        t, p2 = squeeze_or_expand_to_same_rank(t, p)
        if p2.shape != p.shape:
            raise ValueError(f"`{name}`: `y_pred` of shape {p.shape} needs a class axis "
                             f"matching `y_true` of shape {np.shape(y_true)}.")
    if t.shape != p.shape:
        raise ValueError(f"`{name}`: `y_true` and `y_pred` must have the same shape. "
                         f"Received: y_true.shape={t.shape}, y_pred.shape={p.shape}")
    if p.ndim == 0:
        raise ValueError(f"`{name}` needs `y_pred` with at least one axis; received a scalar.")
    return make(value(t, p), (pred,), lambda g: (grad(t, p, g),), name)


def categorical_hinge(y_true: Any, y_pred: Any) -> Tensor:
    """``max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)`` over the last axis."""
    def margin(t, p):
        return np.max((1 - t) * p, axis=-1) - np.sum(t * p, axis=-1) + 1

    def grad(t, p, g):
        neg = (1 - t) * p
        pick = np.zeros_like(p)
        np.put_along_axis(pick, np.argmax(neg, axis=-1)[..., None], 1, axis=-1)
        active = np.expand_dims(margin(t, p) > 0, -1)
        return np.expand_dims(g, -1) * active * (pick * (1 - t) - t)
    return _reduced_loss("categorical_hinge", y_true, y_pred, False,
                          lambda t, p: np.maximum(margin(t, p), 0), grad)


def kl_divergence(y_true: Any, y_pred: Any) -> Tensor:
    """``sum(y_true * log(y_true / y_pred))`` over the last axis, both clipped to [eps, 1]."""
    def clipped(x):
        return np.clip(x, x.dtype.type(epsilon()), 1)

    def grad(t, p, g):
        inside = (p >= epsilon()) & (p <= 1)
        return np.expand_dims(g, -1) * inside * (-clipped(t) / clipped(p))
    return _reduced_loss(
        "kl_divergence", y_true, y_pred, False,
        lambda t, p: np.sum(clipped(t) * np.log(clipped(t) / clipped(p)), axis=-1), grad)


def cosine_similarity(y_true: Any, y_pred: Any, axis: int = -1) -> Tensor:
    """``-sum(l2_normalize(y_true) * l2_normalize(y_pred))`` along ``axis``."""
    _check_axis(axis)

    def inv_norm(x):
        with np.errstate(divide="ignore"):
            inv = 1 / np.sqrt(np.sum(np.square(x), axis=axis, keepdims=True))
        return np.minimum(inv, x.dtype.type(1 / epsilon()))

    def value(t, p):
        return -np.sum((t * inv_norm(t)) * (p * inv_norm(p)), axis=axis)

    def grad(t, p, g):
        g = np.expand_dims(g, axis)
        tn, r = t * inv_norm(t), inv_norm(p)
        pn = p * r
        capped = r >= 1 / epsilon()
        along = np.sum(tn * pn, axis=axis, keepdims=True)
        return -g * np.where(capped, tn * r, (tn - along * pn) * r)
    return _reduced_loss("cosine_similarity", y_true, y_pred, True, value, grad)


# -- crossentropies -----------------------------------------------------------------------------

def binary_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                        label_smoothing: float = 0.0, axis: int = -1) -> Tensor:
    """Mean binary crossentropy along ``axis``.

    ``y_pred`` is clipped to ``[epsilon, 1 - epsilon]``; with ``from_logits`` it holds logits.
    Label smoothing maps ``y`` to ``y * (1 - s) + 0.5 * s``.

    Raises
    ------
    ValueError
        If ``y_true`` and ``y_pred`` have different shapes.
    """
    _check_axis(axis)
    pred = _prediction(y_pred)
    t = _target(y_true, pred.dtype)
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + 0.5 * label_smoothing
        t = t.astype(pred.dtype, copy=False)
    if t.shape != pred.shape:
        raise ValueError("Arguments `target` and `output` must have the same shape. Received: "
                         f"target.shape={t.shape}, output.shape={pred.shape}")
    elem = loss_ops.binary_crossentropy(t, pred, from_logits=from_logits)
    ax = axis % elem.ndim
    count = elem.dtype.type(elem.shape[ax])
    return _fold(np.mean(elem.value, axis=ax), elem,
                 lambda g: np.broadcast_to(np.expand_dims(g, ax) / count, elem.shape),
                 "binary_crossentropy")


def categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                             label_smoothing: float = 0.0, axis: int = -1) -> Tensor:
    """Categorical crossentropy ``-sum(y * log(p))`` along ``axis``.

    Probabilities are renormalised to sum to 1 and clipped to ``[epsilon, 1 - epsilon]``;
    with ``from_logits`` it is ``-sum(y * log_softmax(z))``. Label smoothing maps ``y`` to
    ``y * (1 - s) + s / num_classes``.

    Raises
    ------
    ValueError
        If the shapes differ.
    """
    _check_axis(axis)
    pred = _prediction(y_pred)
    t = _target(y_true, pred.dtype)
    if pred.ndim and pred.shape[-1] == 1:
        warnings.warn(
            "In loss categorical_crossentropy, expected y_pred.shape to be (batch_size, "
            f"num_classes) with num_classes > 1. Received: y_pred.shape={pred.shape}. Consider "
            "using 'binary_crossentropy' if you only have 2 classes.", SyntaxWarning, stacklevel=2)
    if label_smoothing:
        t = (t * (1.0 - label_smoothing) + label_smoothing / t.shape[-1]).astype(pred.dtype)
    if pred.ndim == 0:
        raise ValueError("Arguments `target` and `output` must be at least rank 1. Received: "
                         f"target.shape={t.shape}, output.shape={pred.shape}")
    return loss_ops.categorical_crossentropy(t, pred, from_logits=from_logits, axis=axis)


def sparse_categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                                    ignore_class: int | None = None, axis: int = -1) -> Tensor:
    """Categorical crossentropy with integer labels (``(n,)`` or ``(n, 1)``).

    Entries whose label equals ``ignore_class`` get loss 0 and are masked out of the mean
    (the result carries a ``_keras_mask``).

    Raises
    ------
    ValueError
        If the label shape does not match ``y_pred``, or a label is outside ``[0, classes)``.
    """
    _check_axis(axis)
    pred = _prediction(y_pred)
    labels = np.asarray(value_of(y_true))
    if labels.dtype.kind not in "biuf":
        raise TypeError(f"`y_true` must be numeric; received an array of dtype {labels.dtype}.")
    if labels.dtype.kind == "f" and not np.all(np.isfinite(labels)):
        raise ValueError("`y_true` holds non-finite class labels.")
    if labels.ndim == pred.ndim and pred.ndim and labels.shape[axis] == 1:
        labels = np.squeeze(labels, axis)
    valid = None
    if ignore_class is not None:
        valid = labels != ignore_class
        labels = np.where(valid, labels, 0)
    res = loss_ops.sparse_categorical_crossentropy(labels, pred, from_logits=from_logits,
                                                   axis=axis)
    if valid is not None:
        keep = valid.astype(res.dtype)
        res = _fold(res.value * keep, res, lambda g: g * keep, "sparse_categorical_crossentropy")
        res._keras_mask = valid
    return res


# -- reduction ----------------------------------------------------------------------------------

def standardize_reduction(reduction: Any) -> Any:
    """Validate a reduction name."""
    if reduction not in _REDUCTIONS:
        raise ValueError(
            "Invalid value for argument `reduction`. Expected one of "
            f"{set(_REDUCTIONS)}. Received: reduction={reduction}")
    return reduction


def apply_mask(sample_weight: np.ndarray | None, mask: np.ndarray | None, dtype: Any,
               reduction: Any) -> np.ndarray | None:
    """Merge a boolean mask into the sample weights (``total/valid`` for mean reductions)."""
    if mask is None:
        return sample_weight
    mask = np.asarray(mask, dtype=bool)
    dt = np.dtype(dtype).type
    if reduction in ("mean", "sum_over_batch_size"):
        valid = np.count_nonzero(mask)
        weight = dt(mask.size) / dt(valid) if valid else dt(0)
        float_mask = np.where(mask, weight, dt(0))
    else:
        float_mask = mask.astype(dtype)
    if sample_weight is None:
        return float_mask
    float_mask, sample_weight = squeeze_or_expand_to_same_rank(float_mask, sample_weight)
    _broadcast_shape(float_mask.shape, sample_weight.shape, "The mask and `sample_weight`")
    return sample_weight * float_mask


def reduce_weighted_values(values: Any, sample_weight: Any = None, mask: Any = None,
                           reduction: Any = "sum_over_batch_size", dtype: Any = None) -> Tensor:
    """Weight per-sample ``values`` by ``sample_weight`` and ``mask``, then reduce.

    The reduction is folded into the node that produced ``values`` (one node per loss).
    """
    reduction = standardize_reduction(reduction)
    values = _prediction(values, dtype)
    v = values.value
    sw = None
    if sample_weight is not None:
        sw = np.asarray(value_of(sample_weight))
        if sw.dtype.kind not in "biuf":
            raise TypeError(f"`sample_weight` must be numeric; received dtype {sw.dtype}.")
        sw = sw.astype(v.dtype, copy=False)
    sw = apply_mask(sw, mask, v.dtype, reduction)
    v2, weighted = v, v
    if sw is not None:
        v2, sw = squeeze_or_expand_to_same_rank(v, sw)
        _broadcast_shape(v2.shape, sw.shape, "The loss values and `sample_weight`")
        weighted = v2 * sw
    if reduction in (None, "none") or weighted.shape in ((), (0,)):
        out, divisor = weighted, None
    else:
        out = np.sum(weighted)
        divisor = None
        if reduction != "sum":
            if reduction == "mean_with_sample_weight" and sw is not None:
                divisor = np.sum(sw)
            else:
                divisor = v.dtype.type(weighted.size)
            out = out / divisor if divisor != 0 else v.dtype.type(0)

    def reduce_vjp(g):
        if divisor is not None:
            g = g / divisor if divisor != 0 else np.zeros_like(g)
        g = np.broadcast_to(g, weighted.shape)
        if sw is not None:
            g = g * sw
        return unbroadcast(g, v2.shape).reshape(v.shape)

    return _fold(out, values, reduce_vjp, "loss")


# -- classes ------------------------------------------------------------------------------------

class Loss:
    """Base class of losses: subclasses implement ``call(y_true, y_pred)``.

    Parameters
    ----------
    name : str, optional
        Defaults to the snake-case class name.
    reduction : str or None
        ``'sum_over_batch_size'`` (default), ``'sum'``, ``'mean'``,
        ``'mean_with_sample_weight'``, ``'none'`` or None.
    dtype : str, optional
        The computation dtype; defaults to :func:`~fastkeras.backend.floatx`.
    """

    def __init__(self, name: str | None = None, reduction: Any = "sum_over_batch_size",
                 dtype: Any = None):
        if name is None:
            prefix = _snake_case(type(self).__name__)
            uid = K.get_uid(prefix)
            name = prefix if uid == 1 else f"{prefix}_{uid - 1}"
        self.name = name
        self.reduction = standardize_reduction(reduction)
        self._dtype = np.dtype(dtype or floatx()).name

    @property
    def dtype(self) -> str:
        """The computation dtype."""
        return self._dtype

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Tensor:
        """The reduced loss, differentiable with respect to ``y_pred``."""
        in_mask = y_pred._keras_mask if isinstance(y_pred, Tensor) else None
        pred = _prediction(y_pred, self.dtype)
        losses = self.call(_target(y_true, self.dtype), pred)
        out_mask = getattr(losses, "_keras_mask", None)
        if in_mask is not None and out_mask is not None:
            mask = np.logical_and(in_mask, out_mask)
        else:
            mask = in_mask if in_mask is not None else out_mask
        return reduce_weighted_values(losses, sample_weight, mask, self.reduction, self.dtype)

    def call(self, y_true: np.ndarray, y_pred: Tensor) -> Tensor:
        """Per-sample loss values; subclasses must implement it."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement `call(y_true, y_pred)` to be used as a loss.")

    def get_config(self) -> dict:
        """``{'name', 'reduction'}``."""
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict) -> "Loss":
        """Rebuild the loss from :meth:`get_config`'s output."""
        return cls(**config)


def _snake_case(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and (not name[i - 1].isupper() or
                                   (i + 1 < len(name) and name[i + 1].islower())):
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


class LossFunctionWrapper(Loss):
    """A loss function ``fn(y_true, y_pred, **kwargs)`` as a :class:`Loss`.

    Ranks of ``y_true`` and ``y_pred`` are first made equal when they differ by a trailing
    size-1 axis (see :func:`squeeze_or_expand_to_same_rank`).
    """

    def __init__(self, fn: Callable, reduction: Any = "sum_over_batch_size",
                 name: str | None = None, dtype: Any = None, **kwargs: Any):
        if not callable(fn):
            raise TypeError(f"`fn` must be callable. Received: fn={fn!r}")
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true: np.ndarray, y_pred: Tensor) -> Tensor:
        """Rank fix-up, then ``fn``."""
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self) -> dict:
        """Base config plus ``fn`` (its name when built in) and its keyword arguments."""
        fn = self.fn.__name__ if _FUNCTIONS.get(getattr(self.fn, "__name__", None)) is self.fn \
            else self.fn
        return {**super().get_config(), "fn": fn, **self._fn_kwargs}

    @classmethod
    def from_config(cls, config: dict) -> "LossFunctionWrapper":
        """Rebuild the wrapper; a string ``fn`` names a built-in loss function."""
        config = dict(config)
        if isinstance(config.get("fn"), str):
            config["fn"] = get(config["fn"])
        return cls(**config)

    def __repr__(self) -> str:
        return f"<LossFunctionWrapper({self.fn}, kwargs={self._fn_kwargs})>"


class _BuiltinLoss(LossFunctionWrapper):
    """A built-in loss class: its config is the base config plus its own arguments."""

    _fn: Callable
    _params: tuple = ()

    def __init__(self, reduction: Any = "sum_over_batch_size", name: str | None = None,
                 dtype: Any = None, **kwargs: Any):
        super().__init__(type(self)._fn, reduction=reduction, name=name, dtype=dtype, **kwargs)
        for key, value in kwargs.items():
            setattr(self, key, value)

    def get_config(self) -> dict:
        """``{'name', 'reduction'}`` plus the loss's own arguments."""
        return {**Loss.get_config(self), **{k: getattr(self, k) for k in self._params}}

    @classmethod
    def from_config(cls, config: dict) -> "Loss":
        """Rebuild the loss from :meth:`get_config`'s output."""
        return cls(**config)


class MeanSquaredError(_BuiltinLoss):
    """Mean of squares of errors: :func:`mean_squared_error`, then the reduction."""

    _fn = staticmethod(mean_squared_error)

    def __init__(self, reduction: Any = "sum_over_batch_size", name: str = "mean_squared_error",
                 dtype: Any = None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class MeanAbsoluteError(_BuiltinLoss):
    """Mean of absolute errors: :func:`mean_absolute_error`, then the reduction."""

    _fn = staticmethod(mean_absolute_error)

    def __init__(self, reduction: Any = "sum_over_batch_size", name: str = "mean_absolute_error",
                 dtype: Any = None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class MeanAbsolutePercentageError(_BuiltinLoss):
    """:func:`mean_absolute_percentage_error`, then the reduction."""

    _fn = staticmethod(mean_absolute_percentage_error)

    def __init__(self, reduction: Any = "sum_over_batch_size",
                 name: str = "mean_absolute_percentage_error", dtype: Any = None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class MeanSquaredLogarithmicError(_BuiltinLoss):
    """:func:`mean_squared_logarithmic_error`, then the reduction."""

    _fn = staticmethod(mean_squared_logarithmic_error)

    def __init__(self, reduction: Any = "sum_over_batch_size",
                 name: str = "mean_squared_logarithmic_error", dtype: Any = None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class Huber(_BuiltinLoss):
    """:func:`huber` with threshold ``delta``, then the reduction."""

    _fn = staticmethod(huber)
    _params = ("delta",)

    def __init__(self, delta: float = 1.0, reduction: Any = "sum_over_batch_size",
                 name: str = "huber_loss", dtype: Any = None):
        super().__init__(reduction=reduction, name=name, dtype=dtype, delta=delta)


class LogCosh(_BuiltinLoss):
    """:func:`log_cosh`, then the reduction."""

    _fn = staticmethod(log_cosh)

    def __init__(self, reduction: Any = "sum_over_batch_size", name: str = "log_cosh",
                 dtype: Any = None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class Hinge(_BuiltinLoss):
    """:func:`hinge`, then the reduction."""

    _fn = staticmethod(hinge)

    def __init__(self, reduction: Any = "sum_over_batch_size", name: str = "hinge",
                 dtype: Any = None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class SquaredHinge(_BuiltinLoss):
    """:func:`squared_hinge`, then the reduction."""

    _fn = staticmethod(squared_hinge)

    def __init__(self, reduction: Any = "sum_over_batch_size", name: str = "squared_hinge",
                 dtype: Any = None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class CategoricalHinge(_BuiltinLoss):
    """:func:`categorical_hinge`, then the reduction."""

    _fn = staticmethod(categorical_hinge)

    def __init__(self, reduction: Any = "sum_over_batch_size", name: str = "categorical_hinge",
                 dtype: Any = None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class KLDivergence(_BuiltinLoss):
    """:func:`kl_divergence`, then the reduction."""

    _fn = staticmethod(kl_divergence)

    def __init__(self, reduction: Any = "sum_over_batch_size", name: str = "kl_divergence",
                 dtype: Any = None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class Poisson(_BuiltinLoss):
    """:func:`poisson`, then the reduction."""

    _fn = staticmethod(poisson)

    def __init__(self, reduction: Any = "sum_over_batch_size", name: str = "poisson",
                 dtype: Any = None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class CosineSimilarity(_BuiltinLoss):
    """:func:`cosine_similarity` along ``axis``, then the reduction."""

    _fn = staticmethod(cosine_similarity)
    _params = ("axis",)

    def __init__(self, axis: int = -1, reduction: Any = "sum_over_batch_size",
                 name: str = "cosine_similarity", dtype: Any = None):
        super().__init__(reduction=reduction, name=name, dtype=dtype, axis=axis)


class BinaryCrossentropy(_BuiltinLoss):
    """:func:`binary_crossentropy`, then the reduction.

    Parameters
    ----------
    from_logits : bool
        Whether ``y_pred`` holds logits rather than probabilities.
    label_smoothing : float
        In [0, 1]: targets become ``y * (1 - s) + 0.5 * s``.
    axis : int
        The axis the mean is taken over.
    """

    _fn = staticmethod(binary_crossentropy)
    _params = ("from_logits", "label_smoothing", "axis")

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: Any = "sum_over_batch_size", name: str = "binary_crossentropy",
                 dtype: Any = None):
        _check_smoothing(label_smoothing)
        super().__init__(reduction=reduction, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


class CategoricalCrossentropy(_BuiltinLoss):
    """:func:`categorical_crossentropy`, then the reduction.

    Parameters
    ----------
    from_logits : bool
        Whether ``y_pred`` holds logits rather than probabilities.
    label_smoothing : float
        In [0, 1]: targets become ``y * (1 - s) + s / num_classes``.
    axis : int
        The class axis.
    """

    _fn = staticmethod(categorical_crossentropy)
    _params = ("from_logits", "label_smoothing", "axis")

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: Any = "sum_over_batch_size", name: str = "categorical_crossentropy",
                 dtype: Any = None):
        _check_smoothing(label_smoothing)
        super().__init__(reduction=reduction, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(_BuiltinLoss):
    """:func:`sparse_categorical_crossentropy`, then the reduction.

    Parameters
    ----------
    from_logits : bool
        Whether ``y_pred`` holds logits rather than probabilities.
    ignore_class : int, optional
        A label whose entries are left out of the loss.
    """

    _fn = staticmethod(sparse_categorical_crossentropy)
    _params = ("from_logits", "ignore_class")

    def __init__(self, from_logits: bool = False, ignore_class: int | None = None,
                 reduction: Any = "sum_over_batch_size", axis: int = -1,
                 name: str = "sparse_categorical_crossentropy", dtype: Any = None):
        super().__init__(reduction=reduction, name=name, dtype=dtype, from_logits=from_logits,
                         ignore_class=ignore_class, axis=axis)


def _check_smoothing(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError("Argument `label_smoothing` must be a float in [0, 1]. Received: "
                         f"label_smoothing={value!r}")


# Keras 2 names.
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kullback_leibler_divergence = kl_divergence
logcosh = log_cosh

_FUNCTIONS = {f.__name__: f for f in (
    mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
    mean_squared_logarithmic_error, huber, log_cosh, hinge, squared_hinge, categorical_hinge,
    kl_divergence, poisson, cosine_similarity, binary_crossentropy, categorical_crossentropy,
    sparse_categorical_crossentropy)}
_CLASSES = {c.__name__: c for c in (
    Loss, LossFunctionWrapper, MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError, Huber, LogCosh, Hinge, SquaredHinge, CategoricalHinge,
    KLDivergence, Poisson, CosineSimilarity, BinaryCrossentropy, CategoricalCrossentropy,
    SparseCategoricalCrossentropy)}
_ALIASES = {"mse": mse, "MSE": mse, "mae": mae, "MAE": mae, "mape": mape, "MAPE": mape,
            "msle": msle, "MSLE": msle, "kld": kld, "KLD": kld,
            "kullback_leibler_divergence": kld, "logcosh": log_cosh,
            "bce": binary_crossentropy, "BCE": binary_crossentropy}
_OBJECTS: dict[str, Any] = {**_FUNCTIONS, **_CLASSES, **_ALIASES}
# The string ids an error lists (the abstract bases are not usable losses).
_VALID_NAMES = sorted(set(_OBJECTS) - {"Loss", "LossFunctionWrapper"})


def serialize(loss: Any) -> Any:
    """A loss object as ``{'module', 'class_name', 'config', 'registered_name'}``; a built-in
    function as its name."""
    if isinstance(loss, Loss):
        return {"module": "keras.losses", "class_name": type(loss).__name__,
                "config": loss.get_config(), "registered_name": None}
    name = getattr(loss, "__name__", None)
    if _FUNCTIONS.get(name) is loss:
        return name
    raise ValueError(f"Cannot serialize {loss!r}: it is not a fastkeras loss.")


def deserialize(config: Any, custom_objects: dict | None = None) -> Any:
    """Rebuild a loss from :func:`serialize`'s output (a name or a class config dict)."""
    objects = {**_OBJECTS, **(custom_objects or {})}
    if isinstance(config, str):
        if config in objects:
            return objects[config]
    elif isinstance(config, dict) and config.get("class_name") in objects:
        cls = objects[config["class_name"]]
        return cls.from_config(config.get("config") or {})
    raise ValueError(f"Could not interpret loss identifier: {config}. "
                     f"Valid names: {_VALID_NAMES}")


def get(identifier: Any) -> Any:
    """A loss function or :class:`Loss` for a name (``'mse'``), a config dict, a class or a
    callable (returned unchanged)."""
    if identifier is None:
        return None
    if isinstance(identifier, (str, dict)):
        obj = deserialize(identifier)
    else:
        obj = identifier
    if isinstance(obj, type) and issubclass(obj, Loss):
        return obj()
    if callable(obj):
        return obj
    raise ValueError(f"Could not interpret loss identifier: {identifier}. "
                     f"Valid names: {_VALID_NAMES}")
