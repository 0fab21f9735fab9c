"""Layer: the base class of every fastkeras layer and model (Keras's ``keras.layers.Layer``).

A layer owns variables (``add_weight``), is built once from its first input shape (``build``),
and computes ``call`` on :class:`~fastkeras.backend.Tensor` values. ``Layer.__call__`` is the
single entry point that

* converts array inputs to float Tensors of the layer dtype (Tensors pass through, cast if needed),
* checks ``input_spec``, builds the layer on the first call and locks its state,
* resolves the ``training`` flag (explicit argument > enclosing call > ``call``'s default >
  False) and fills the ``mask`` argument from the inputs' masks,
* runs ``call`` and records activity-regularizer losses and output masks,
* returns numpy arrays when the outermost inputs were arrays, Tensors when they were Tensors
  (or when a GradientTape is recording, so that custom training loops can differentiate),
* and, on symbolic :class:`~fastkeras.engine.keras_tensor.KerasTensor` inputs, infers the output
  shape instead (``compute_output_shape`` when the layer defines one, otherwise by running
  ``call`` on a small concrete batch) and records a graph node.
"""

from __future__ import annotations

import copy
import functools
import inspect
import re
import threading
import weakref
from typing import Any, Callable

import numpy as np

from fastkeras import backend as K
from fastkeras.backend.tensor import Tensor, Variable, is_recording, make
from fastkeras.engine import structure
from fastkeras.engine.input_spec import (
    InputSpec, assert_input_compatibility, standardize_dtype, standardize_shape,
)
from fastkeras.engine.keras_tensor import KerasTensor
from fastkeras.engine.node import Node

__all__ = ["Layer", "InputSpec", "current_training", "mask_source", "note_mask_source"]


# -- naming --------------------------------------------------------------------------------------
def to_snake_case(name: str) -> str:
    """``'SpatialDropout1D'`` -> ``'spatial_dropout1d'``, as Keras names layers."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(prefix: str) -> str:
    """Return ``prefix``, then ``prefix_1``, ``prefix_2``... (reset by ``K.clear_session()``)."""
    uid = K.get_uid(prefix)
    return prefix if uid == 1 else f"{prefix}_{uid - 1}"


# -- the call context: state shared by nested layer calls on one thread ---------------------------
class _CallContext(threading.local):
    def __init__(self):
        self.depth = 0          # how many Layer.__call__ frames are open
        self.training = None    # the training value of the innermost open call
        self.symbolic = False   # True while a shape-inference run is under way


_CTX = _CallContext()


def current_training() -> Any:
    """The training flag of the innermost open layer call on this thread (True inside ``fit``'s
    forward pass, False inside ``predict``), or None outside layer calls or when unresolved."""
    return _CTX.training


class _CallInfo:
    """What a layer class's ``call`` signature accepts (inspected once per class)."""

    __slots__ = ("has_training", "has_mask", "training_default")

    def __init__(self, fn: Callable):
        params = inspect.signature(fn).parameters
        self.has_training = "training" in params
        self.has_mask = "mask" in params
        default = params["training"].default if self.has_training else None
        self.training_default = None if default is inspect.Parameter.empty else default


_CALL_INFO: dict[type, _CallInfo] = {}


def _call_info(cls: type) -> _CallInfo:
    info = _CALL_INFO.get(cls)
    if info is None:
        info = _CALL_INFO[cls] = _CallInfo(cls.call)
    return info


# Attributes the engine itself keeps on layers; they never hold sublayers.
_ENGINE_ATTRS = frozenset({
    "_layers", "_own_trainable", "_own_non_trainable", "_losses", "_inbound_nodes",
    "_outbound_nodes", "_build_shapes", "_call_shapes", "_batch_input_shape",
    "_initial_weights", "_auto_config", "_tracked_attrs", "inputs", "outputs", "_nodes",
    "_plan", "_input_refs", "_input_keys", "_inputs_struct", "_outputs_struct",
    "_train_variables", "_stack", "_compile_args"})


# -- which layer produced a mask (for the error raised when a mask meets a layer without support)
_MASK_SOURCES: dict[int, tuple] = {}


def note_mask_source(mask: Any, layer_name: str) -> None:
    """Record that layer ``layer_name`` produced ``mask`` (kept as long as the mask lives).

    Parameters
    ----------
    mask : array or KerasTensor
        The mask object; objects that cannot be weakly referenced are not recorded.
    layer_name : str
        The producing layer, named in the error raised when the mask meets a layer without
        mask support. A mask that already has a source keeps it.
    """
    key = id(mask)
    entry = _MASK_SOURCES.get(key)
    if entry is not None and entry[0]() is mask:
        return
    try:
        ref = weakref.ref(mask, lambda _r, k=key: _MASK_SOURCES.pop(k, None))
    except TypeError:
        return
    _MASK_SOURCES[key] = (ref, layer_name)


def mask_source(mask: Any) -> str | None:
    """The name of the layer that produced ``mask``, or None when it was not recorded."""
    entry = _MASK_SOURCES.get(id(mask))
    if entry is not None and entry[0]() is mask:
        return entry[1]
    return None


def _mask_of(x: Any) -> Any:
    return getattr(x, "_keras_mask", None) if isinstance(x, (Tensor, KerasTensor)) else None


def _masks_of(inputs: Any) -> Any:
    """The inputs' masks in the inputs' structure, or None when no input carries one."""
    if not structure.is_nested(inputs):
        return _mask_of(inputs)
    masks = structure.map_structure(_mask_of, inputs)
    return masks if any(m is not None for m in structure.flatten(masks)) else None


def _shape_of(x: Any) -> Any:
    return None if x is None else tuple(x.shape)


def _is_shape(x: Any) -> bool:
    return isinstance(x, (tuple, list)) and all(d is None or isinstance(d, (int, np.integer))
                                                for d in x)


# -- auto-captured constructor arguments (get_config for layers that do not override it) --------
_INIT_SIGNATURES: dict[type, inspect.Signature] = {}
_AUTO_CONFIG_TYPES = (str, int, float, bool, type(None))
_VARIADIC = "variadic"


def _capture_init_args(cls: type, args: tuple, kwargs: dict) -> Any:
    sig = _INIT_SIGNATURES.get(cls)
    if sig is None:
        sig = _INIT_SIGNATURES[cls] = inspect.signature(cls.__init__)
    params = list(sig.parameters.values())
    try:
        bound = sig.bind(None, *args, **kwargs)
    except TypeError:
        return None
    if any(p.kind is p.POSITIONAL_ONLY for p in params[1:]):
        return _VARIADIC
    bound.apply_defaults()
    values = dict(bound.arguments)
    values.pop(params[0].name)
    for p in params:
        if p.kind is p.VAR_KEYWORD:
            values.update(values.pop(p.name, {}))
        elif p.kind is p.VAR_POSITIONAL and values.pop(p.name, ()):
            return _VARIADIC
    values.pop("name", None)
    if not all(isinstance(v, _AUTO_CONFIG_TYPES) for v in structure.flatten(values)):
        return None
    return copy.deepcopy(values)


# -- build wrapping: every build marks the layer built and locks its state ------------------------
def _locking_build(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def build(self, *args, **kwargs):
        d = self.__dict__
        depth = d.get("_build_depth", 0)
        d["_build_depth"] = depth + 1
        try:
            fn(self, *args, **kwargs)
        finally:
            d["_build_depth"] = depth
        if depth == 0:
            self.built = True
            if d.get("_build_shapes") is None:
                shape = args[0] if args else kwargs.get("input_shape")
                d["_build_shapes"] = _standard_shapes(shape)
            d["_state_locked"] = True
    build._locks_state = True
    return build


def _standard_shapes(shape: Any) -> Any:
    if shape is None:
        return None
    if _is_shape(shape):
        return standardize_shape(shape)
    if isinstance(shape, dict):
        return {k: _standard_shapes(v) for k, v in shape.items()}
    if isinstance(shape, (list, tuple)):
        return [_standard_shapes(s) for s in shape]
    return standardize_shape(shape)


def _layer_dtype(dtype: Any) -> str:
    if dtype is None:
        return K.floatx()
    name = dtype
    if isinstance(dtype, dict):  # a serialized Keras 3 DTypePolicy
        name = dtype.get("config", {}).get("name")
    elif hasattr(dtype, "name") and type(dtype).__name__.endswith("DTypePolicy"):
        name = dtype.name
    if isinstance(name, str) and name.startswith("mixed_"):
        raise ValueError(f"fastkeras has no mixed-precision policies; received dtype={name!r}. "
                         "Use a float dtype such as 'float32'.")
    try:
        return np.dtype(name).name
    except TypeError:
        raise ValueError(f"Invalid dtype argument: {dtype!r}. Expected a dtype name such as "
                         "'float32'.") from None


def _resolve(module: str, identifier: Any) -> Any:
    """``fastkeras.<module>.get(identifier)``; imported on use because those modules (and the
    regularizers' serialize, below) import the engine themselves."""
    if identifier is None:
        return None
    import importlib
    return importlib.import_module(f"fastkeras.{module}").get(identifier)


class Layer:
    """Base class of layers: state (weights) plus computation (``call``).

    Parameters
    ----------
    activity_regularizer : str or callable, optional
        Penalty on the layer's outputs, divided by the batch size, added to ``losses``.
    trainable : bool
        Whether the layer's weights are updated by training.
    dtype : str, optional
        Dtype of the weights and computations; defaults to ``K.floatx()``.
    autocast : bool
        Cast inputs to the layer dtype (default True).
    name : str, optional
        Unique name; defaults to the snake_case class name with a counter.
    **kwargs
        Keras 2 arguments: ``input_shape``, ``input_dim``, ``batch_input_shape``, ``batch_size``
        (the model input shape when this is the first layer of a ``Sequential``) and ``weights``
        (a list of arrays set right after the layer is built).

    Examples
    --------
    >>> class Scale(Layer):
    ...     def build(self, input_shape):
    ...         self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")
    ...     def call(self, x):
    ...         return x * self.w
    >>> Scale()(np.ones((2, 3)))
    array([[1., 1., 1.],
           [1., 1., 1.]], dtype=float32)
    """

    supports_masking = False
    input_spec = None
    # Symbolic calls trust an overridden compute_output_shape unless a class sets this False.
    _trust_compute_output_shape = True
    # Layers that accept scipy.sparse inputs set this; others receive the inputs densified.
    _supports_sparse_inputs = False

    def __new__(cls, *args, **kwargs):
        obj = super().__new__(cls)
        obj.__dict__["_auto_config"] = _capture_init_args(cls, args, kwargs)
        return obj

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        build = cls.__dict__.get("build")
        if build is not None and not getattr(build, "_locks_state", False):
            cls.build = _locking_build(build)

    def __init__(self, *, activity_regularizer: Any = None, trainable: bool = True,
                 dtype: Any = None, autocast: bool = True, name: str | None = None, **kwargs):
        batch_size = kwargs.pop("batch_size", None)
        input_shape = kwargs.pop("input_shape", None)
        input_dim = kwargs.pop("input_dim", None)
        batch_input_shape = kwargs.pop("batch_input_shape", None)
        initial_weights = kwargs.pop("weights", None)
        if kwargs:
            raise ValueError(
                f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}")
        if not isinstance(trainable, (bool, np.bool_)):
            raise ValueError(f"Expected `trainable` to be a boolean. Received: "
                             f"trainable={trainable} (of type {type(trainable)})")
        if name is None:
            name = unique_name(to_snake_case(type(self).__name__))
        elif not isinstance(name, str) or "/" in name:
            raise ValueError("Argument `name` must be a string and cannot contain character "
                             f"`/`. Received: name={name} (of type {type(name)})")
        self.name = name
        self._dtype = _layer_dtype(dtype)
        self.autocast = bool(autocast)
        self._trainable = bool(trainable)
        self._own_trainable: list[Variable] = []
        self._own_non_trainable: list[Variable] = []
        self._losses: list[Tensor] = []
        self._inbound_nodes: list[Node] = []
        self._outbound_nodes: list[Node] = []
        self._build_shapes = None
        self._call_shapes = None
        self._state_locked = False
        self.activity_regularizer = _resolve("regularizers", activity_regularizer)
        self._batch_input_shape = None
        if batch_input_shape is not None:
            self._batch_input_shape = standardize_shape(batch_input_shape)
        elif input_shape is not None:
            self._batch_input_shape = (batch_size,) + standardize_shape(input_shape)
        elif input_dim is not None:
            self._batch_input_shape = (batch_size, int(input_dim))
        self._initial_weights = initial_weights
        self.built = type(self).build is Layer.build
        self._initialized = True

    # -- properties -----------------------------------------------------------------------------
    @property
    def dtype(self) -> str:
        """The dtype of the layer's weights and computations, e.g. ``'float32'``."""
        return self._dtype

    @property
    def compute_dtype(self) -> str:
        """The dtype inputs are cast to (same as ``dtype``)."""
        return self._dtype

    @property
    def variable_dtype(self) -> str:
        """The dtype of the layer's weights (same as ``dtype``)."""
        return self._dtype

    @property
    def trainable(self) -> bool:
        """Whether the layer's weights are updated in training; setting it applies to sublayers."""
        return self.__dict__.get("_trainable", True)

    @trainable.setter
    def trainable(self, value: bool) -> None:
        value = bool(value)
        self.__dict__["_trainable"] = value
        for v in self.__dict__.get("_own_trainable", ()):
            v.trainable = value
        for layer in self._flatten_layers(include_self=False, recursive=False):
            layer.trainable = value

    @property
    def trainable_weights(self) -> list:
        """Weights updated by training (this layer's, then its sublayers')."""
        if not self.trainable:
            return []
        return self._collect_weights(trainable=True)

    @property
    def non_trainable_weights(self) -> list:
        """Weights not updated by training; all weights when ``trainable`` is False."""
        return self._collect_weights(trainable=False)

    @property
    def weights(self) -> list:
        """``trainable_weights + non_trainable_weights``."""
        return self.trainable_weights + self.non_trainable_weights

    @property
    def variables(self) -> list:
        """Same as ``weights`` (Keras 3 name)."""
        return self.weights

    @property
    def trainable_variables(self) -> list:
        """Same as ``trainable_weights`` (Keras 3 name)."""
        return self.trainable_weights

    @property
    def non_trainable_variables(self) -> list:
        """Same as ``non_trainable_weights`` (Keras 3 name)."""
        return self.non_trainable_weights

    def _collect_weights(self, trainable: bool) -> list:
        """This layer's then its sublayers' trainable (or non-trainable) variables, each once.

        All variables of a frozen layer are non-trainable, in creation-list order (the variables
        created trainable first, as when the layer is not frozen).
        """
        out, seen = [], set()
        for layer in self._flatten_layers():
            if not layer.trainable:
                own = [] if trainable else layer._own_trainable + layer._own_non_trainable
            elif trainable:
                own = [v for v in layer._own_trainable if v.trainable]
            else:
                own = [v for v in layer._own_trainable if not v.trainable] + \
                    layer._own_non_trainable
            for v in own:
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        return out

    @property
    def losses(self) -> list:
        """Losses of the latest outermost call (``add_loss``, activity regularizers, sublayers),
        then one penalty per trainable weight that has a regularizer."""
        out, regularized, seen = [], [], set()
        trainable = self.trainable
        for layer in self._flatten_layers():
            out.extend(layer._losses)
            if trainable and layer.trainable:
                for v in layer._own_trainable:
                    if v.regularizer is not None and v.trainable and id(v) not in seen:
                        seen.add(id(v))
                        regularized.append(v)
        for v in regularized:
            penalty = v.regularizer(v)
            out.append(penalty if isinstance(penalty, Tensor) else Tensor(np.asarray(
                penalty, dtype=v.dtype)))
        return out

    @property
    def input(self) -> Any:
        """The symbolic input of the layer's first call on KerasTensors."""
        return self._node_attribute("input_tensors", "input")

    @property
    def output(self) -> Any:
        """The symbolic output of the layer's first call on KerasTensors."""
        return self._node_attribute("output_tensors", "output")

    def _node_attribute(self, attr: str, label: str) -> Any:
        if not self._inbound_nodes:
            raise AttributeError(
                f"The layer {self.name} has never been called and thus has no defined {label}.")
        values = getattr(self._inbound_nodes[0], attr)
        return values[0] if len(values) == 1 else values

    @property
    def input_shape(self) -> Any:
        """Keras 2: the input shape of the layer's calls (all calls must agree)."""
        return self._shape_attribute(0, "input")

    @property
    def output_shape(self) -> Any:
        """Keras 2: the output shape of the layer's calls (all calls must agree)."""
        return self._shape_attribute(1, "output")

    def _shape_attribute(self, which: int, label: str) -> Any:
        shapes = []
        for node in self._inbound_nodes:
            tensors = node.input_tensors if which == 0 else node.output_tensors
            s = [t.shape for t in tensors]
            shapes.append(s[0] if len(s) == 1 else s)
        if not shapes and self._call_shapes is not None:
            shapes.append(self._call_shapes[which])
        if not shapes:
            raise AttributeError(f"The layer {self.name} has never been called and thus has no "
                                 f"defined {label} shape.")
        if any(s != shapes[0] for s in shapes[1:]):
            raise AttributeError(
                f'The layer "{self.name}" has multiple inbound nodes, with different {label} '
                f'shapes. Hence the notion of "{label} shape" is ill-defined for the layer.')
        return shapes[0]

    def _flatten_layers(self, include_self: bool = True, recursive: bool = True) -> list:
        """This layer (optionally) and its sublayers, each once, parents first."""
        out, seen = ([self] if include_self else []), {id(self)}
        queue = list(self._direct_sublayers())
        while queue:
            layer = queue.pop(0)
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            out.append(layer)
            if recursive:
                queue.extend(layer._direct_sublayers())
        return out

    def _direct_sublayers(self) -> list:
        """Sublayers: an explicit ``_layers`` list, then layers held in attributes (or in
        lists, tuples and dicts held in attributes), in the order the attributes were set."""
        d = self.__dict__
        found = list(d.get("_layers", ()))
        for name in d.get("_tracked_attrs", ()):
            value = d.get(name)
            if isinstance(value, Layer):
                found.append(value)
            elif isinstance(value, (list, tuple)):
                found.extend(v for v in value if isinstance(v, Layer))
            elif isinstance(value, dict):
                found.extend(v for v in value.values() if isinstance(v, Layer))
        return found

    def __setattr__(self, name: str, value: Any) -> None:
        # Remember which attributes may hold sublayers, so that finding sublayers (done for
        # weights and losses at every training step) never scans every attribute.
        object.__setattr__(self, name, value)
        d = self.__dict__
        if isinstance(value, (Layer, list, tuple, dict)) and name not in _ENGINE_ATTRS:
            tracked = d.get("_tracked_attrs")
            if tracked is None:
                tracked = d["_tracked_attrs"] = {}
            tracked[name] = None
        elif name in d.get("_tracked_attrs", ()):
            del d["_tracked_attrs"][name]

    def __delattr__(self, name: str) -> None:
        object.__delattr__(self, name)
        self.__dict__.get("_tracked_attrs", {}).pop(name, None)

    # -- the methods subclasses implement ------------------------------------------------------
    @_locking_build
    def build(self, input_shape: Any) -> None:
        """Create the layer's weights for ``input_shape`` (a tuple; None for unknown sizes)."""

    def call(self, inputs: Any, *args, **kwargs) -> Any:
        """The layer's computation on Tensors; subclasses implement it."""
        raise NotImplementedError(
            f"Layer {type(self).__name__} does not have a `call` method implemented.")

    def compute_output_shape(self, input_shape: Any) -> Any:
        """Return the output shape for ``input_shape``; subclasses may implement it."""
        raise NotImplementedError(
            f"Layer {type(self).__name__} does not have a `compute_output_shape` method "
            "implemented. fastkeras infers output shapes by running `call` on a small batch, "
            "so symbolic calls work without it.")

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """Return the output mask: the input mask when ``supports_masking``, else None."""
        return mask if self.supports_masking else None

    # -- state ---------------------------------------------------------------------------------
    def add_weight(self, *args, **kwargs) -> Variable:
        """Create a weight of this layer and return it as a :class:`Variable`.

        Keras 3 order: ``add_weight(shape=None, initializer=None, dtype=None, trainable=True,
        autocast=True, regularizer=None, constraint=None, aggregation='none', name=None)``;
        when the first positional argument is a string, the Keras 2 order
        ``add_weight(name, shape, dtype=None, initializer=None, regularizer=None,
        trainable=True, constraint=None)`` applies. ``initializer`` defaults to
        ``'glorot_uniform'`` for float dtypes and ``'zeros'`` otherwise. ``autocast`` and
        ``aggregation`` are accepted for Keras 3 code and have no effect (fastkeras has neither
        mixed precision nor distribution strategies).
        """
        if "_initialized" not in self.__dict__:
            raise RuntimeError(
                f"In layer '{type(self).__name__}', you forgot to call `super().__init__()` as "
                "the first statement in the `__init__()` method. Go add it!")
        signature = _K2_ADD_WEIGHT if args and isinstance(args[0], str) else _K3_ADD_WEIGHT
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"add_weight(): {e}") from None
        bound.apply_defaults()
        a = bound.arguments
        if self._state_locked:
            raise ValueError(
                "You cannot add new elements of state (variables or sub-layers) to a layer that "
                "is already built. All state must be created in the `__init__()` method or in "
                "the `build()` method.")
        name = a["name"] or "variable"
        shape = () if a["shape"] is None else a["shape"]
        shape = (shape,) if isinstance(shape, (int, np.integer)) else standardize_shape(shape)
        path = f"{self.name}/{name}"
        if None in shape:
            raise ValueError("Shapes used to initialize variables must be fully-defined (no "
                             f"`None` dimensions). Received: shape={shape} for variable "
                             f"path='{path}'")
        dtype = standardize_dtype(a["dtype"]) or self._dtype
        initializer = a["initializer"]
        if initializer is None:
            initializer = "glorot_uniform" if np.dtype(dtype).kind == "f" else "zeros"
        init = _resolve("initializers", initializer)
        value = init(shape, dtype=dtype)
        trainable = bool(a["trainable"])
        variable = Variable(value, dtype=dtype, name=name, trainable=trainable and self.trainable,
                            constraint=_resolve("constraints", a["constraint"]))
        if variable.shape != shape:
            raise ValueError(f"The initializer of weight '{path}' returned shape "
                             f"{variable.shape}; expected {shape}.")
        variable.path = path
        variable.regularizer = _resolve("regularizers", a["regularizer"])
        (self._own_trainable if trainable else self._own_non_trainable).append(variable)
        return variable

    def add_loss(self, loss: Any) -> None:
        """Add a scalar loss (or a list of them) for the current call; see ``losses``."""
        if _CTX.symbolic:
            return
        for value in structure.flatten(loss):
            self._losses.append(value if isinstance(value, Tensor) else Tensor(
                np.asarray(value, dtype=self._dtype)))

    def _clear_losses(self) -> None:
        for layer in self._flatten_layers():
            layer._losses.clear()

    def get_weights(self) -> list:
        """Return the weights' values as a list of numpy arrays, in ``weights`` order."""
        return [v.numpy() for v in self.weights]

    def set_weights(self, weights: list) -> None:
        """Set the weights from a list of arrays in ``weights`` order (shapes must match)."""
        self._assign_weights(self.weights, weights)

    def _assign_weights(self, variables: list, weights: list) -> None:
        weights = list(weights)
        if len(weights) != len(variables):
            raise ValueError(
                f"You called `set_weights(weights)` on layer '{self.name}' with a weight list of "
                f"length {len(weights)}, but the layer was expecting {len(variables)} weights.")
        arrays = []
        for v, w in zip(variables, weights):
            w = np.asarray(w)
            if w.shape != v.shape:
                raise ValueError(f"Layer {self.name} weight shape {v.shape} is not compatible "
                                 f"with provided weight shape {w.shape}.")
            arrays.append(w)
        for v, w in zip(variables, arrays):
            v.assign(w)

    def count_params(self) -> int:
        """Return the number of scalars in the layer's weights."""
        if not self.built:
            raise ValueError(
                f"You tried to call `count_params` on layer '{self.name}', but the layer isn't "
                "built. You can build it manually via: `layer.build(input_shape)`.")
        return int(sum(int(np.prod(v.shape)) for v in self.weights))

    # -- config --------------------------------------------------------------------------------
    def get_config(self) -> dict:
        """Return the layer's constructor arguments as a serializable dict.

        Layers that do not override this get their constructor arguments captured
        automatically when those are plain Python values.
        """
        config = {"name": self.name, "trainable": self.trainable, "dtype": self._dtype}
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = _serialize(self.activity_regularizer)
        if type(self).get_config is not Layer.get_config:
            return config
        auto = self.__dict__.get("_auto_config")
        if auto is None or auto is _VARIADIC:
            why = ("positional-only or variadic positional arguments" if auto is _VARIADIC
                   else "non-serializable argument values")
            raise NotImplementedError(
                f"Layer {type(self).__name__} was created by passing {why} to `__init__()`, so "
                "its config cannot be generated automatically. Override `get_config()` to "
                "return the constructor arguments (and `from_config()` if needed).")
        params = _INIT_SIGNATURES[type(self)].parameters
        merged = {"name": self.name, **auto, "trainable": self.trainable,
                  "dtype": self._dtype}
        if self.activity_regularizer is not None:
            merged["activity_regularizer"] = config["activity_regularizer"]
        accepts_kwargs = any(p.kind is p.VAR_KEYWORD for p in params.values())
        if "name" not in params and not accepts_kwargs:
            merged.pop("name")
        return merged

    @classmethod
    def from_config(cls, config: dict) -> "Layer":
        """Create a layer from :meth:`get_config`'s output."""
        try:
            return cls(**config)
        except Exception as e:
            raise TypeError(f"Error when deserializing class '{cls.__name__}' using "
                            f"config={config}.\n\nException encountered: {e}") from e

    def get_build_config(self) -> dict | None:
        """Return ``{'input_shape': ...}`` recorded at build time (None if never built)."""
        if self._build_shapes is None:
            return None
        return {"input_shape": self._build_shapes}

    def build_from_config(self, config: dict | None) -> None:
        """Build the layer from :meth:`get_build_config`'s output."""
        if config and config.get("input_shape") is not None and not self.built:
            self.build(config["input_shape"])
        if config:
            self._state_locked = True

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"

    # -- calling -------------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if "_initialized" not in self.__dict__:
            raise RuntimeError(
                f"In layer '{type(self).__name__}', you forgot to call `super().__init__()` as "
                "the first statement in the `__init__()` method. Go add it!")
        if not args:
            if "inputs" not in kwargs:
                raise TypeError(f"Layer '{self.name}' was called without inputs.")
            args = (kwargs.pop("inputs"),)
        first = args[0]
        if not (len(args) == 1 and type(first) is Tensor) and _any_symbolic(args, kwargs):
            return self._symbolic_call(args, kwargs)
        return self._eager_call(args, kwargs)

    def _convert(self, x: Any) -> tuple:
        """Return ``(converted, all_leaves_were_arrays)`` for a call argument."""
        leaves = structure.flatten(x)
        as_arrays = any(leaf is not None for leaf in leaves) and all(
            leaf is None or not isinstance(leaf, Tensor) for leaf in leaves)
        if not structure.is_nested(x):
            return self._convert_leaf(x), as_arrays
        return structure.map_structure(self._convert_leaf, x), as_arrays

    def _convert_leaf(self, x: Any, dtype: str | None = None, keep_sparse: bool = False) -> Any:
        """One call argument as a Tensor: cast to ``dtype`` when given, else by the layer's
        autocast rule; scipy.sparse input kept when ``keep_sparse`` or the layer takes it."""
        if x is None:
            return None
        if _is_sparse(x):
            if keep_sparse or self._supports_sparse_inputs:
                return x
            x = x.toarray()
        if isinstance(x, Tensor):
            target = self._cast_target(x.dtype) if dtype is None else (
                None if x.dtype == dtype else dtype)
            if target is None:
                return x
            mask = x._keras_mask
            out = x.astype(target)
            out._keras_mask = mask
            return out
        if isinstance(x, (np.ndarray, np.generic)):
            arr = np.asarray(x)
            if arr.dtype.kind not in "biuf":
                raise TypeError(f"Layer '{self.name}' expects numeric inputs; received an array "
                                f"of dtype {arr.dtype}.")
            target = self._cast_target(arr.dtype) if dtype is None else dtype
            return Tensor(arr if target is None or arr.dtype == target else arr.astype(target))
        raise ValueError(
            "Only input tensors may be passed as positional arguments. The following argument "
            f"value should be passed as a keyword argument: {x} (of type {type(x)})")

    def _cast_target(self, dtype: np.dtype) -> str | None:
        if not self.autocast or np.dtype(self._dtype).kind != "f" or dtype == self._dtype:
            return None
        return self._dtype

    def _maybe_build(self, inputs: Any) -> None:
        shapes = structure.map_structure(_shape_of, inputs)
        if self._build_shapes is None:
            self._build_shapes = _standard_shapes(shapes)
        if not self.built:
            self.build(shapes)
        self.built = True
        self._state_locked = True
        if self._initial_weights is not None:
            weights, self._initial_weights = self._initial_weights, None
            self.set_weights(weights)

    def _resolve_training(self, kwargs: dict, info: _CallInfo) -> Any:
        """Apply the training-flag precedence; put the value into kwargs when ``call`` takes it."""
        value = kwargs.get("training") if info.has_training else kwargs.pop("training", None)
        if value is None:
            value = _CTX.training
        if value is None:
            value = info.training_default
        if info.has_training and value is not None:
            kwargs["training"] = value
        return value

    def _accepts_masks(self, info: _CallInfo) -> bool:
        return (self.supports_masking or info.has_mask
                or type(self).compute_mask is not Layer.compute_mask)

    def _check_mask_support(self, previous_mask: Any, info: _CallInfo) -> None:
        if previous_mask is None or self._accepts_masks(info):
            return
        sources = [mask_source(m) for m in structure.flatten(previous_mask) if m is not None]
        source = next((s for s in sources if s is not None), None)
        origin = f"layer '{source}'" if source is not None else "an input of unknown origin"
        raise TypeError(
            f"Layer '{self.name}' (of type {type(self).__name__}) does not support masking, but "
            f"was passed an input with a mask attached to it (the mask was produced by {origin})."
            f" Either remove the masking before '{self.name}', or make {type(self).__name__} "
            "support masks (set `supports_masking = True`, accept a `mask` argument in `call`, "
            "or override `compute_mask`).")

    def _eager_call(self, args: tuple, kwargs: dict) -> Any:
        inputs, as_arrays = self._convert(args[0])
        rest = tuple(self._convert(a)[0] for a in args[1:])
        ctx = _CTX
        if ctx.depth == 0 and not ctx.symbolic:
            self._clear_losses()
        spec = self.input_spec
        if spec is not None:
            assert_input_compatibility(spec, inputs, self.name)
        if not self._state_locked:
            self._maybe_build(inputs)
            if self.input_spec is not None and self.input_spec is not spec:
                assert_input_compatibility(self.input_spec, inputs, self.name)
        info = _call_info(type(self))
        training = self._resolve_training(kwargs, info)
        if info.has_mask and kwargs.get("mask") is None:
            mask = _masks_of(inputs)
            if mask is not None:
                kwargs["mask"] = mask
        previous_mask = kwargs.get("mask") if info.has_mask else None
        if previous_mask is None:
            previous_mask = _masks_of(inputs)
        self._check_mask_support(previous_mask, info)

        outer_training = ctx.training
        ctx.depth += 1
        ctx.training = training
        try:
            outputs = self.call(inputs, *rest, **kwargs)
        finally:
            ctx.depth -= 1
            ctx.training = outer_training
        if type(self).compute_mask is not Layer.compute_mask:
            # An overridden compute_mask decides the output mask, None included: an input that
            # ``call`` passes straight through must not carry its own mask past this layer.
            passed = {id(t) for t in structure.flatten(inputs) if isinstance(t, Tensor)}
            if passed:
                outputs = structure.map_structure(
                    lambda t: _pass_through(t) if id(t) in passed else t, outputs)
        for out in structure.flatten(outputs):
            # Masks that ``call`` attached itself (Keras 3's pattern) come from this layer.
            mask = out._keras_mask if isinstance(out, Tensor) else None
            if mask is not None and mask_source(mask) is None:
                note_mask_source(mask, self.name)

        if self.activity_regularizer is not None and not ctx.symbolic:
            for out in structure.flatten(outputs):
                if isinstance(out, Tensor):
                    penalty = self.activity_regularizer(out)
                    if out.ndim > 0 and out.shape[0] > 0:
                        penalty = penalty / out.shape[0]
                    self.add_loss(penalty)
        if (self.supports_masking and previous_mask is not None) or \
                type(self).compute_mask is not Layer.compute_mask:
            self._set_output_masks(inputs, outputs, previous_mask)
        if self._call_shapes is None and not ctx.symbolic:
            self._call_shapes = (_single(structure.map_structure(_shape_of, inputs)),
                                 _single(structure.map_structure(_shape_of, outputs)))
        if as_arrays and not is_recording():
            return structure.map_structure(_to_numpy, outputs)
        return outputs

    def _set_output_masks(self, inputs: Any, outputs: Any, previous_mask: Any) -> None:
        flat = structure.flatten(outputs)
        if all(isinstance(t, Tensor) and t._keras_mask is not None for t in flat):
            return
        masks = self.compute_mask(inputs, previous_mask)
        if masks is None:
            return
        masks = structure.flatten(masks) if structure.is_nested(outputs) else [masks]
        for tensor, mask in zip(flat, masks):
            if isinstance(tensor, Tensor) and tensor._keras_mask is None and mask is not None:
                if not (isinstance(mask, np.ndarray) and mask.dtype == bool):
                    mask = np.asarray(getattr(mask, "value", mask), dtype=bool)
                note_mask_source(mask, self.name)
                tensor._keras_mask = mask

    # -- symbolic calls ------------------------------------------------------------------------
    def _symbolic_call(self, args: tuple, kwargs: dict) -> Any:
        inputs = args[0]
        spec = self.input_spec
        if spec is not None:
            assert_input_compatibility(spec, inputs, self.name)
        info = _call_info(type(self))
        previous_mask = kwargs.get("mask") if info.has_mask else None
        if previous_mask is None:
            previous_mask = _masks_of(inputs)
        self._check_mask_support(previous_mask, info)
        if not self._state_locked:
            self._maybe_build(inputs)
            if self.input_spec is not None and self.input_spec is not spec:
                assert_input_compatibility(self.input_spec, inputs, self.name)
        trust = (self._trust_compute_output_shape
                 and type(self).compute_output_shape is not Layer.compute_output_shape)
        if trust:
            outputs = self._outputs_from_compute_output_shape(inputs)
        else:
            outputs = self._outputs_from_running(args, kwargs)
        Node(self, args, kwargs, outputs)
        return outputs

    def _outputs_from_compute_output_shape(self, inputs: Any) -> Any:
        shapes = self.compute_output_shape(structure.map_structure(_shape_of, inputs))
        outputs = _map_shapes(lambda s: _new_keras_tensor(s, self._dtype), shapes)
        has_masks = _masks_of(inputs) is not None
        if (self.supports_masking and has_masks) or \
                type(self).compute_mask is not Layer.compute_mask:
            # The output masks' shapes come from compute_mask on small concrete batches (two
            # sizes when some input size is unknown, to tell which mask axes are unknown).
            variants = (0, 1) if _has_unknown_dims(inputs) else (0,)
            runs = []
            for variant in variants:
                dummies = _dummy_structure(inputs, variant)
                masks = self.compute_mask(dummies, _masks_of(dummies))
                runs.append(structure.flatten(masks) if structure.is_nested(outputs)
                            else [masks])
            for i, kt in enumerate(structure.flatten(outputs)):
                first = runs[0][i] if i < len(runs[0]) else None
                if first is not None:
                    _attach_symbolic_mask(kt, [_value_shape(run[i]) for run in runs],
                                          self.name, mask_source(first))
        return outputs

    def _outputs_from_running(self, args: tuple, kwargs: dict) -> Any:
        runs = []
        variants = (0, 1) if _has_unknown_dims([args, kwargs]) else (0,)
        saved = [(v, v.value.copy()) for v in self.non_trainable_weights]
        ctx = _CTX
        was_symbolic, ctx.symbolic = ctx.symbolic, True
        try:
            for variant in variants:
                d_args = _dummy_structure(args, variant)
                d_kwargs = _dummy_structure(kwargs, variant)
                runs.append(self._eager_call(tuple(d_args), dict(d_kwargs)))
        finally:
            ctx.symbolic = was_symbolic
            for v, value in saved:
                v.value[...] = value
        flat_runs = [structure.flatten(r) for r in runs]
        outs = []
        for i, leaf in enumerate(flat_runs[0]):
            if leaf is None:
                outs.append(None)
                continue
            shapes = [_value_shape(run[i]) for run in flat_runs]
            kt = _new_keras_tensor(_merge_shapes(shapes), standardize_dtype(_dtype_of(leaf)))
            mask = getattr(leaf, "_keras_mask", None)
            if mask is not None:
                mask_shapes = [_value_shape(run[i]._keras_mask) for run in flat_runs]
                _attach_symbolic_mask(kt, mask_shapes, self.name, mask_source(mask))
            outs.append(kt)
        return structure.pack_like(runs[0], outs)


# -- helpers of symbolic calls -------------------------------------------------------------------
_K3_ADD_WEIGHT = inspect.Signature([
    inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=d) for n, d in (
        ("shape", None), ("initializer", None), ("dtype", None), ("trainable", True),
        ("autocast", True), ("regularizer", None), ("constraint", None),
        ("aggregation", "none"), ("name", None))])
_K2_ADD_WEIGHT = inspect.Signature([
    inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=d) for n, d in (
        ("name", None), ("shape", None), ("dtype", None), ("initializer", None),
        ("regularizer", None), ("trainable", True), ("constraint", None))])


def _any_symbolic(args: tuple, kwargs: dict) -> bool:
    return any(isinstance(x, KerasTensor) for x in structure.flatten([args, kwargs]))


def _is_sparse(x: Any) -> bool:
    return type(x).__module__.startswith("scipy.sparse")


def _single(x: Any) -> Any:
    return x[0] if isinstance(x, list) and len(x) == 1 else x


def _to_numpy(x: Any) -> Any:
    return x.value if isinstance(x, Tensor) else x


def _value_shape(x: Any) -> tuple:
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def _dtype_of(x: Any) -> Any:
    return x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype


def _map_shapes(fn: Callable, shapes: Any) -> Any:
    """Apply ``fn`` to each shape tuple of a (list/dict) structure of shapes."""
    if _is_shape(shapes):
        return fn(shapes)
    if isinstance(shapes, dict):
        return {k: _map_shapes(fn, v) for k, v in shapes.items()}
    return [_map_shapes(fn, s) for s in shapes]


def _has_unknown_dims(x: Any) -> bool:
    return any(isinstance(t, KerasTensor) and None in t.shape for t in structure.flatten(x))


# Sizes substituted for unknown dimensions in the two shape-inference runs: small batches for
# axis 0, and sizes large enough for windowed layers elsewhere. Axes whose output size differs
# between the runs are unknown in the output.
_FILLS = ((2, 83), (3, 89))


def _concrete_shape(shape: tuple, variant: int) -> tuple:
    batch_fill, other_fill = _FILLS[variant]
    return tuple((batch_fill if axis == 0 else other_fill) if d is None else d
                 for axis, d in enumerate(shape))


def _dummy_value(kt: KerasTensor, variant: int) -> Any:
    shape = _concrete_shape(kt.shape, variant)
    kind = np.dtype(kt.dtype).kind
    value = np.ones(shape, kt.dtype) if kind in "fc" else np.zeros(shape, kt.dtype)
    if kt.sparse:
        import scipy.sparse
        return scipy.sparse.csr_matrix(value)
    t = Tensor(value)
    if kt._keras_mask is not None:
        mask = np.ones(_concrete_shape(kt._keras_mask.shape, variant), dtype=bool)
        source = mask_source(kt._keras_mask)
        if source is not None:
            note_mask_source(mask, source)
        t._keras_mask = mask
    return t


def _dummy_structure(x: Any, variant: int) -> Any:
    return structure.map_structure(
        lambda t: _dummy_value(t, variant) if isinstance(t, KerasTensor) else t, x)


def _merge_shapes(shapes: list) -> tuple:
    first = shapes[0]
    if any(len(s) != len(first) for s in shapes):
        raise ValueError(f"The output rank depends on the input size: {shapes}.")
    return tuple(d if all(s[i] == d for s in shapes) else None for i, d in enumerate(first))


def _new_keras_tensor(shape: tuple, dtype: str) -> KerasTensor:
    return KerasTensor(tuple(shape), dtype=dtype, name=unique_name("keras_tensor"))


def _attach_symbolic_mask(kt: KerasTensor, shapes: list, layer_name: str,
                          source: str | None) -> None:
    mask = KerasTensor(_merge_shapes(shapes), dtype="bool")
    note_mask_source(mask, source or layer_name)
    kt._keras_mask = mask


def _serialize(regularizer: Any) -> Any:
    import importlib
    return importlib.import_module("fastkeras.regularizers").serialize(regularizer)


def _pass_through(tensor: Tensor) -> Tensor:
    """A new tensor for ``tensor``'s value (no mask) whose gradient flows straight back."""
    return make(tensor.value, (tensor,), lambda g: (g,), "identity")
