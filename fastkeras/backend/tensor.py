"""Tensor, Variable and the reverse-mode tape behind fastkeras's differentiable backend.

A :class:`Tensor` wraps a numpy array. While a :class:`GradientTape` is recording, every op whose
inputs include a *tracked* tensor (a trainable :class:`Variable`, a watched tensor, or the result of
such an op) returns a tensor that remembers its parents and its vector-Jacobian product (VJP).
:func:`backprop` walks those records backwards from a scalar. Outside a tape nothing is recorded,
so inference pays only for the numpy work.

Ops are plain functions built on :func:`make`; numpy ufuncs and array functions applied to tensors
(``np.exp(t)``, ``np.sum(t)``) dispatch to the ops registered with :func:`register_ufunc` and
:func:`register_function`.
"""

from __future__ import annotations

import inspect
import threading
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from fastkeras.backend.config import floatx

_local = threading.local()

VJP = Callable[[np.ndarray], Sequence["np.ndarray | None"]]

_NO_VALUE = inspect.signature(np.sum).parameters["keepdims"].default  # numpy's "not given"

_UFUNCS: dict[np.ufunc, Callable[..., "Tensor"]] = {}
_FUNCTIONS: dict[Callable, Callable[..., Any]] = {}


def is_recording() -> bool:
    """Return True while a :class:`GradientTape` is recording on this thread."""
    return getattr(_local, "depth", 0) > 0


def register_ufunc(ufunc: np.ufunc, impl: Callable[..., "Tensor"]) -> None:
    """Make ``ufunc(tensor, ...)`` call ``impl`` (a differentiable op) instead of numpy."""
    _UFUNCS[ufunc] = impl


def register_function(func: Callable, impl: Callable[..., Any],
                      params: dict[str, str] | None = None) -> None:
    """Make the numpy array function ``func`` (e.g. ``np.sum``) call ``impl`` on tensors.

    Parameters
    ----------
    func : callable
        The numpy function.
    impl : callable
        The differentiable op.
    params : dict, optional
        Maps the numpy parameter names that ``impl`` understands to ``impl``'s keyword names.
        When given, a call that sets any other numpy parameter to a non-default value runs numpy
        on the plain values instead (see :func:`numpy_fallback`). When omitted, ``impl`` receives
        the call's arguments unchanged.
    """
    if params is None:
        _FUNCTIONS[func] = impl
        return
    sig = inspect.signature(func)

    def adapter(*args, **kwargs):
        bound = sig.bind(*args, **kwargs)
        for name, value in bound.arguments.items():
            if name not in params and value is not sig.parameters[name].default:
                return numpy_fallback(func, args, kwargs)
        bound.apply_defaults()
        mapped = {params[name]: value for name, value in bound.arguments.items()
                  if name in params and value is not _NO_VALUE}
        return impl(**mapped)
    _FUNCTIONS[func] = adapter


def numpy_fallback(func: Callable, args: tuple, kwargs: dict, name: str | None = None) -> Any:
    """Run the numpy callable ``func`` on the plain values of tensor arguments.

    The result is wrapped in untracked tensors. While a tape records, a tracked argument makes this
    a ``TypeError`` (naming ``name``, default ``func.__name__``): the result could not carry a
    gradient.
    """
    if is_recording() and _any_tracked((args, kwargs)):
        raise TypeError(
            f"numpy.{name or func.__name__} with these arguments is not differentiable in "
            "fastkeras; use the fastkeras.backend equivalent or call it outside training.")
    return _wrap_plain(func(*_unwrap(args), **_unwrap(kwargs)))


def value_of(x: Any) -> Any:
    """Return the numpy value of a tensor, or ``x`` itself for anything else."""
    return x.value if isinstance(x, Tensor) else x


def make(value: Any, parents: Sequence["Tensor"] = (), vjp: VJP | None = None,
         op: str | None = None) -> "Tensor":
    """Wrap an op's result, recording ``parents`` and ``vjp`` when a tape needs them.

    Parameters
    ----------
    value : array_like
        The op's forward result.
    parents : sequence of Tensor
        The tensor inputs the VJP returns gradients for, in order.
    vjp : callable, optional
        ``vjp(g) -> tuple`` of gradients (or None) for each parent, given the output gradient ``g``.
    op : str, optional
        A name for the op, shown in reprs and used by fused consumers (e.g. softmax + crossentropy).
    """
    if vjp is not None and is_recording():
        for p in parents:
            if p.tracked:
                return Tensor(value, parents=tuple(parents), vjp=vjp, op=op)
    return Tensor(value, op=op)


class Tensor:
    """An ndarray that takes part in automatic differentiation.

    Parameters
    ----------
    value : array_like
        The data; kept as a numpy array (not copied when it already is one).
    parents, vjp, op
        Set by ops through :func:`make`; users create tensors with :func:`convert_to_tensor`.
    """

    __slots__ = ("value", "parents", "vjp", "op", "tracked", "_keras_mask", "__weakref__")
    __array_priority__ = 100.0
    __hash__ = object.__hash__

    def __init__(self, value: Any, parents: tuple = (), vjp: VJP | None = None,
                 op: str | None = None):
        self.value = value if isinstance(value, np.ndarray) else np.asarray(value)
        self.parents = parents
        self.vjp = vjp
        self.op = op
        self.tracked = vjp is not None
        self._keras_mask = None

    # -- array protocol -------------------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        """The shape as a tuple of ints."""
        return self.value.shape

    @property
    def ndim(self) -> int:
        """The number of axes."""
        return self.value.ndim

    @property
    def dtype(self) -> np.dtype:
        """The numpy dtype of the value."""
        return self.value.dtype

    @property
    def size(self) -> int:
        """The number of elements."""
        return self.value.size

    def numpy(self) -> np.ndarray:
        """Return the value as a numpy array."""
        return self.value

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        if dtype is not None and dtype != self.value.dtype:
            return self.value.astype(dtype)
        return self.value.copy() if copy else self.value

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        impl = _UFUNCS.get(ufunc)
        if method == "__call__" and impl is not None and not kwargs:
            return impl(*inputs)
        name = ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}"
        return numpy_fallback(getattr(ufunc, method), inputs, kwargs, name)

    def __array_function__(self, func, types, args, kwargs):
        impl = _FUNCTIONS.get(func)
        if impl is not None:
            return impl(*args, **kwargs)
        return numpy_fallback(func, args, kwargs)

    # -- python protocol ------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.value)

    def __iter__(self):
        for i in range(len(self.value)):
            yield self[i]

    def __bool__(self) -> bool:
        return bool(self.value)

    def __float__(self) -> float:
        return float(self.value)

    def __int__(self) -> int:
        return int(self.value)

    def __index__(self) -> int:
        return self.value.__index__()

    def __repr__(self) -> str:
        return f"<Tensor shape={self.shape}, dtype={self.dtype}>\n{self.value!r}"

    # -- operators: each dispatches to the registered differentiable op -------------------------
    def __add__(self, o): return np.add(self, o)
    def __radd__(self, o): return np.add(o, self)
    def __sub__(self, o): return np.subtract(self, o)
    def __rsub__(self, o): return np.subtract(o, self)
    def __mul__(self, o): return np.multiply(self, o)
    def __rmul__(self, o): return np.multiply(o, self)
    def __truediv__(self, o): return np.true_divide(self, o)
    def __rtruediv__(self, o): return np.true_divide(o, self)
    def __pow__(self, o): return np.power(self, o)
    def __rpow__(self, o): return np.power(o, self)
    def __matmul__(self, o): return np.matmul(self, o)
    def __rmatmul__(self, o): return np.matmul(o, self)
    def __floordiv__(self, o): return np.floor_divide(self, o)
    def __rfloordiv__(self, o): return np.floor_divide(o, self)
    def __mod__(self, o): return np.remainder(self, o)
    def __rmod__(self, o): return np.remainder(o, self)
    def __and__(self, o): return np.bitwise_and(self, o)
    def __rand__(self, o): return np.bitwise_and(o, self)
    def __or__(self, o): return np.bitwise_or(self, o)
    def __ror__(self, o): return np.bitwise_or(o, self)
    def __xor__(self, o): return np.bitwise_xor(self, o)
    def __rxor__(self, o): return np.bitwise_xor(o, self)
    def __invert__(self): return np.invert(self)
    def __neg__(self): return np.negative(self)
    def __pos__(self): return self
    def __abs__(self): return np.absolute(self)
    def __lt__(self, o): return np.less(self, o)
    def __le__(self, o): return np.less_equal(self, o)
    def __gt__(self, o): return np.greater(self, o)
    def __ge__(self, o): return np.greater_equal(self, o)
    def __eq__(self, o): return np.equal(self, o)
    def __ne__(self, o): return np.not_equal(self, o)

    def __getitem__(self, key):
        return _FUNCTIONS[Tensor.__getitem__](self, key)

    @property
    def T(self) -> "Tensor":
        """The transpose (all axes reversed)."""
        return np.transpose(self)

    def reshape(self, *shape) -> "Tensor":
        """Return the tensor reshaped (numpy semantics)."""
        return np.reshape(self, shape[0] if len(shape) == 1 else shape)

    def astype(self, dtype) -> "Tensor":
        """Return the tensor cast to ``dtype`` (differentiable between float types)."""
        return _FUNCTIONS[Tensor.astype](self, dtype)


class Variable(Tensor):
    """Trainable state: a tensor whose value is updated in place by optimizers.

    Parameters
    ----------
    value : array_like
        Initial value (copied).
    dtype : str, optional
        Defaults to :func:`floatx` for float or Python-number values.
    name : str, optional
        The variable's name, e.g. ``'kernel'``.
    trainable : bool
        Whether gradients are taken for it during training.
    constraint : callable, optional
        Applied to the value after each optimizer update.
    """

    __slots__ = ("name", "path", "constraint", "regularizer", "_trainable")

    def __init__(self, value: Any, dtype: Any = None, name: str | None = None,
                 trainable: bool = True, constraint: Callable | None = None):
        arr = np.asarray(value_of(value))
        if dtype is None:
            dtype = floatx() if arr.dtype.kind in "fiub" else arr.dtype
        super().__init__(np.array(arr, dtype=dtype, order="C", copy=True))
        self.name = name or "variable"
        self.path = self.name
        self.constraint = constraint
        self.regularizer = None
        self.trainable = trainable

    @property
    def trainable(self) -> bool:
        """Whether gradients are taken for this variable during training."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        self.tracked = self._trainable

    def numpy(self) -> np.ndarray:
        """Return a copy of the current value."""
        return self.value.copy()

    def assign(self, value: Any) -> "Variable":
        """Set the value in place; the shape must match."""
        new = np.asarray(value_of(value))
        if new.shape != self.value.shape:
            raise ValueError(
                f"Cannot assign a value of shape {new.shape} to variable '{self.path}' "
                f"of shape {self.value.shape}.")
        self.value[...] = new
        return self

    def assign_add(self, delta: Any) -> "Variable":
        """Add ``delta`` to the value in place."""
        return self.assign(self.value + value_of(delta))

    def assign_sub(self, delta: Any) -> "Variable":
        """Subtract ``delta`` from the value in place."""
        return self.assign(self.value - value_of(delta))

    def __repr__(self) -> str:
        return f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}>\n{self.value!r}"


class GradientTape:
    """Record differentiable ops while the block runs.

    Examples
    --------
    >>> w = Variable([1.0, 2.0])
    >>> with GradientTape() as tape:
    ...     loss = np.sum(w * w)
    >>> tape.gradient(loss, [w])[0]
    array([2., 4.], dtype=float32)
    """

    def __enter__(self) -> "GradientTape":
        _local.depth = getattr(_local, "depth", 0) + 1
        return self

    def __exit__(self, *exc) -> None:
        _local.depth -= 1

    @staticmethod
    def watch(tensor: Tensor) -> None:
        """Track ``tensor`` so gradients can be taken with respect to it."""
        tensor.tracked = True

    @staticmethod
    def gradient(target: Tensor, sources: Sequence[Tensor]) -> list:
        """Return d(sum of target)/d(source) for each source as numpy arrays (None if unconnected)."""
        return backprop(target, sources)


def convert_to_tensor(x: Any, dtype: Any = None) -> Tensor:
    """Return ``x`` as a :class:`Tensor` (tensors pass through; ``dtype`` casts).

    Arrays keep their dtype; Python floats (and lists of them) become :func:`floatx`, as Keras
    converts them.
    """
    if isinstance(x, Tensor):
        if dtype is None or x.dtype == np.dtype(dtype):
            return x
        return x.astype(dtype)
    arr = np.asarray(x, dtype=dtype)
    if dtype is None and arr.dtype.kind == "f" and not isinstance(x, (np.ndarray, np.generic)):
        arr = arr.astype(floatx())
    return Tensor(arr)


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched to reach it from ``shape``."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def backprop(target: Tensor, sources: Iterable[Tensor], seed: np.ndarray | None = None) -> list:
    """Reverse-mode differentiation of ``target`` with respect to ``sources``.

    Parameters
    ----------
    target : Tensor
        The result to differentiate; a non-scalar target is summed (as ``K.gradients`` does).
    sources : iterable of Tensor
        The tensors to differentiate with respect to.
    seed : ndarray, optional
        The output gradient; ones by default.

    Returns
    -------
    list
        One C-contiguous numpy array per source, of the source's dtype, or None where the source
        does not influence the target.
    """
    sources = list(sources)
    wanted = {id(s) for s in sources}
    result: dict[int, np.ndarray] = {}
    grads = {id(target): np.ones_like(target.value) if seed is None else seed}
    for node in _reverse_topological(target):
        g = grads.pop(id(node), None)
        if g is None:
            continue
        if id(node) in wanted:
            result[id(node)] = g
        if node.vjp is None:
            continue
        for parent, pg in zip(node.parents, node.vjp(g)):
            if pg is None or not parent.tracked:
                continue
            key = id(parent)
            grads[key] = pg if key not in grads else grads[key] + pg
    return [None if id(s) not in result else np.ascontiguousarray(result[id(s)], dtype=s.dtype)
            for s in sources]


def gradients(loss: Tensor, variables: Sequence[Tensor] | Tensor) -> list:
    """Return the gradients of ``loss`` with respect to ``variables`` (Keras 2's ``K.gradients``).

    ``loss`` must have been computed inside a recording :class:`GradientTape` from the variables
    (a non-scalar loss is summed). Each gradient is an untracked :class:`Tensor`, or None where
    the variable does not influence the loss.

    Raises
    ------
    ValueError
        If ``loss`` carries no record of how it was computed (it was computed outside a tape, or
        from nothing tracked), or if a variable is not a tensor.
    """
    if isinstance(variables, Tensor):
        variables = [variables]
    variables = list(variables)
    for i, v in enumerate(variables):
        if not isinstance(v, Tensor):
            raise ValueError(
                f"`variables` must hold fastkeras Variables or Tensors; element {i} is of type "
                f"{type(v).__name__}.")
    if not isinstance(loss, Tensor) or (loss.vjp is None and not any(v is loss for v in variables)):
        raise ValueError(
            "`loss` was not computed under a recording GradientTape from tracked tensors, so it "
            "has no gradient. Compute it inside `with GradientTape():` from trainable Variables "
            "(or tensors passed to `GradientTape.watch`).")
    return [None if g is None else Tensor(g) for g in backprop(loss, variables)]


def _reverse_topological(root: Tensor) -> list:
    """Nodes reachable from ``root``, each before all of its parents."""
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for p in node.parents:
            if id(p) not in seen:
                stack.append((p, False))
    order.reverse()
    return order


def _any_tracked(obj: Any) -> bool:
    if isinstance(obj, Tensor):
        return obj.tracked
    if isinstance(obj, (list, tuple)):
        return any(_any_tracked(o) for o in obj)
    if isinstance(obj, dict):
        return any(_any_tracked(o) for o in obj.values())
    return False


def _unwrap(obj: Any) -> Any:
    if isinstance(obj, Tensor):
        return obj.value
    if isinstance(obj, (list, tuple)):
        return type(obj)(_unwrap(o) for o in obj)
    if isinstance(obj, dict):
        return {k: _unwrap(v) for k, v in obj.items()}
    return obj


def _wrap_plain(raw: Any) -> Any:
    if isinstance(raw, (np.ndarray, np.generic)):
        return Tensor(np.asarray(raw))
    if isinstance(raw, tuple):
        return tuple(_wrap_plain(r) for r in raw)
    return raw
