"""Lambda: wrap a function of a tensor (or a list of tensors) as a layer.

Inside the function, numpy ufuncs, operators and ``K`` ops on the Tensors are differentiable, so a
Lambda trains like any layer. Serialization stores an importable function (module-level, by
name) as ``{'module', 'class_name': 'function', 'config': name, 'registered_name'}`` and anything
else (a lambda, a nested function) as Python bytecode
``{'class_name': '__lambda__', 'config': {'code', 'defaults', 'closure', 'module'}}``. Loading
bytecode executes code from the config, so it is refused unless ``safe_mode=False``; in safe mode
a named function is looked up only among custom objects, registered objects and fastkeras itself
(no module is imported on a config's say-so).
"""

from __future__ import annotations

import base64
import binascii
import builtins
import importlib
import inspect
import marshal
import sys
import types
from typing import Any, Callable

import numpy as np

from fastkeras.backend.tensor import Tensor
from fastkeras.engine import structure
from fastkeras.engine.base_layer import Layer, mask_source
from fastkeras.engine.serialization import (
    deserialize_keras_object, in_safe_mode, locate, serialize_keras_object,
)

__all__ = ["Lambda"]

_UNSAFE_MESSAGE = (
    "Requested the deserialization of a `Lambda` layer whose `function` is a Python lambda. "
    "This carries a potential risk of arbitrary code execution and thus it is disallowed by "
    "default. If you trust the source of the artifact, you can override this error by passing "
    "`safe_mode=False` to the loading function.")


def _parameters(fn: Callable) -> set:
    try:
        return set(inspect.signature(fn).parameters)
    except (TypeError, ValueError):  # builtins and ufuncs without a signature
        return set()


def _is_importable(fn: Callable) -> bool:
    """Whether ``fn`` can be found again as ``getattr(import_module(module), qualname)``."""
    module = getattr(fn, "__module__", None) or ("numpy" if isinstance(fn, np.ufunc) else None)
    qualname = getattr(fn, "__qualname__", getattr(fn, "__name__", ""))
    if not module or not qualname or "<" in qualname:
        return False
    obj = sys.modules.get(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    return obj is fn


def serialize_function(fn: Callable) -> dict:
    """Serialize a Lambda's callable: by name when importable, else as bytecode.

    Raises
    ------
    ValueError
        If ``fn`` is neither importable nor a Python function.
    """
    if _is_importable(fn):
        if isinstance(fn, (types.FunctionType, types.BuiltinFunctionType)):
            return serialize_keras_object(fn)
        return {"module": getattr(fn, "__module__", None) or "numpy", "class_name": "function",
                "config": fn.__name__, "registered_name": None}
    if not isinstance(fn, types.FunctionType):
        raise ValueError(f"Cannot serialize the Lambda function {fn!r} of type {type(fn)}: it is "
                         "neither an importable function nor a Python function.")
    closure = None
    if fn.__closure__:
        closure = [serialize_keras_object(c.cell_contents) for c in fn.__closure__]
    defaults = None if fn.__defaults__ is None else serialize_keras_object(list(fn.__defaults__))
    return {"class_name": "__lambda__",
            "config": {"code": base64.b64encode(marshal.dumps(fn.__code__)).decode("ascii"),
                       "defaults": defaults, "closure": closure, "module": fn.__module__}}


def deserialize_function(config: Any, custom_objects: dict | None, safe_mode: bool) -> Any:
    """Rebuild a callable stored by :func:`serialize_function` (other values pass through).

    Raises
    ------
    ValueError
        For bytecode in safe mode, bytecode this Python cannot read, or a named function that
        cannot be found.
    """
    if not isinstance(config, dict) or config.get("class_name") not in ("__lambda__", "function"):
        return config
    inner = config["config"]
    if config["class_name"] == "function":
        try:
            return locate(inner, config.get("module"), config.get("registered_name"),
                          custom_objects, config)
        except ValueError:
            if safe_mode or not config.get("module"):
                raise
            return _import_function(config["module"], inner)
    if safe_mode:
        raise ValueError(_UNSAFE_MESSAGE)
    try:
        code = marshal.loads(base64.b64decode(inner["code"].encode("ascii")))
    except (ValueError, EOFError, TypeError, binascii.Error) as e:
        raise ValueError(f"Cannot load the Lambda function's bytecode (it was saved by another "
                         f"Python version, or is corrupt): {e}") from None
    module = inner.get("module")
    namespace = vars(importlib.import_module(module)) if module else {"__builtins__": builtins}
    defaults = inner.get("defaults")
    closure = inner.get("closure")
    return types.FunctionType(
        code, namespace, code.co_name,
        None if defaults is None else tuple(deserialize_keras_object(defaults, custom_objects)),
        None if closure is None else tuple(
            types.CellType(deserialize_keras_object(c, custom_objects)) for c in closure))


def _import_function(module: str, qualname: str) -> Callable:
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _masks_of(inputs: Any) -> Any:
    masks = [getattr(t, "_keras_mask", None) for t in structure.flatten(inputs)]
    if all(m is None for m in masks):
        return None
    return masks[0] if not structure.is_nested(inputs) else structure.pack_like(inputs, masks)


class Lambda(Layer):
    """Wrap ``function(inputs, **arguments)`` as a layer.

    Parameters
    ----------
    function : callable
        Takes the input tensor (or list of tensors) first; it also receives ``mask`` and
        ``training`` when it has parameters of those names.
    output_shape : tuple or callable, optional
        None: inferred by running the function. A tuple: the output shape without the batch
        axis (trusted as given). A callable: maps the full input shape to the full output shape.
    mask : callable or array, optional
        None: the layer does not support masking (a masked input raises ``TypeError``). A
        callable ``mask(inputs, mask)`` computes the output mask; anything else is the output
        mask itself.
    arguments : dict, optional
        Extra keyword arguments for ``function``.
    **kwargs
        Base layer arguments.

    Raises
    ------
    TypeError
        If ``function`` is not callable, or ``arguments`` is not a dict.

    Examples
    --------
    >>> Lambda(lambda t, k: t * k, arguments={"k": 10})(np.array([[1., 2.]]))
    array([[10., 20.]], dtype=float32)
    """

    def __init__(self, function: Callable, output_shape: Any = None, mask: Any = None,
                 arguments: dict | None = None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Argument `function` of Lambda must be callable. Received: "
                            f"function={function!r} (of type {type(function).__name__})")
        if arguments is not None and not isinstance(arguments, dict):
            raise TypeError(f"Argument `arguments` of Lambda must be a dict of keyword "
                            f"arguments. Received: arguments={arguments!r}")
        if output_shape is not None and not callable(output_shape):
            output_shape = _shape_structure(output_shape)
        self.function = function
        self.arguments = dict(arguments or {})
        self.mask = mask
        self.supports_masking = mask is not None
        self._output_shape = output_shape
        self._trust_compute_output_shape = output_shape is not None
        params = _parameters(function)
        self._fn_expects_mask = "mask" in params
        self._fn_expects_training = "training" in params

    def call(self, inputs: Any, training: Any = None) -> Any:
        """Return ``function(inputs, **arguments)`` (plus ``mask``/``training`` when wanted)."""
        incoming = _masks_of(inputs)
        self._check_mask(incoming)
        kwargs = dict(self.arguments)
        if self._fn_expects_mask:
            kwargs["mask"] = incoming
        if self._fn_expects_training:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def _check_mask(self, mask: Any) -> None:
        """Raise the Keras 2 ``TypeError`` when a mask reaches a Lambda built without ``mask``."""
        if self.mask is not None or mask is None:
            return
        sources = [mask_source(m) for m in structure.flatten(mask) if m is not None]
        source = next((s for s in sources if s is not None), None)
        origin = f"layer '{source}'" if source is not None else "an input of unknown origin"
        raise TypeError(
            f"Layer '{self.name}' (of type Lambda) does not support masking, but was passed an "
            f"input with a mask attached to it (the mask was produced by {origin}). Pass "
            "`mask=` to the Lambda (a callable `mask(inputs, mask)` or a constant) or remove the "
            f"masking before '{self.name}'.")

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """``mask(inputs, mask)`` for a callable ``mask``, the constant ``mask`` otherwise."""
        self._check_mask(mask)
        if callable(self.mask):
            return self.mask(inputs, mask)
        return self.mask

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The output shape from ``output_shape``, or by running the function when it is None."""
        if callable(self._output_shape):
            return self._output_shape(input_shape)
        if self._output_shape is not None:
            batch = structure.flatten(input_shape)[0]
            return _map_shapes(lambda s: (batch,) + s, self._output_shape)
        # Run the function on ones, unknown sizes filled two ways: sizes that differ are unknown.
        runs = []
        for fill in (2, 3):
            dummies = _map_shapes(lambda s: Tensor(np.ones(
                tuple(fill if d is None else d for d in s), dtype=self.dtype)), input_shape)
            runs.append(structure.map_structure(lambda t: tuple(t.shape), self.call(dummies)))
        return _merge(runs[0], runs[1])

    def get_config(self) -> dict:
        """Base config plus ``function``, ``output_shape`` and ``mask`` (when given) and
        ``arguments``."""
        config = super().get_config()
        config["function"] = serialize_function(self.function)
        if self._output_shape is not None:
            config["output_shape"] = serialize_function(self._output_shape) \
                if callable(self._output_shape) else self._output_shape
        if self.mask is not None:
            config["mask"] = serialize_function(self.mask) if callable(self.mask) \
                else serialize_keras_object(self.mask)
        config["arguments"] = serialize_keras_object(self.arguments)
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None,
                    safe_mode: bool | None = None) -> "Lambda":
        """Rebuild a Lambda; bytecode is loaded only when ``safe_mode`` is False (explicitly,
        or through the enclosing ``safe_mode_scope``, e.g. ``load_model(safe_mode=False)``).

        Raises
        ------
        ValueError
            For a bytecode function in safe mode, or a named function that cannot be found.
        """
        if safe_mode is None:
            safe_mode = in_safe_mode()
        safe = safe_mode is not False
        config = dict(config)
        config["function"] = deserialize_function(config["function"], custom_objects, safe)
        if "output_shape" in config:
            config["output_shape"] = deserialize_function(config["output_shape"], custom_objects,
                                                          safe)
        if "mask" in config:
            mask = deserialize_function(config["mask"], custom_objects, safe)
            config["mask"] = mask if callable(mask) else deserialize_keras_object(mask,
                                                                                   custom_objects)
        if "arguments" in config:
            config["arguments"] = deserialize_keras_object(config["arguments"], custom_objects)
        return cls(**config)


def _is_shape(x: Any) -> bool:
    return isinstance(x, (tuple, list)) and all(
        d is None or (isinstance(d, (int, np.integer)) and not isinstance(d, bool)) for d in x)


def _shape_structure(shape: Any) -> Any:
    """A tuple ``output_shape`` (or a list/dict of them) with every shape as a tuple."""
    if _is_shape(shape):
        return tuple(None if d is None else int(d) for d in shape)
    if isinstance(shape, dict):
        return {k: _shape_structure(v) for k, v in shape.items()}
    if isinstance(shape, (list, tuple)):
        return [_shape_structure(s) for s in shape]
    raise TypeError(f"Argument `output_shape` of Lambda must be a shape tuple (without the batch "
                    f"axis), a list of them, or a callable. Received: output_shape={shape!r}")


def _merge(a: Any, b: Any) -> Any:
    """Merge two runs' output shapes: sizes that differ become None."""
    if _is_shape(a):
        return tuple(x if x == y else None for x, y in zip(a, b))
    if isinstance(a, dict):
        return {k: _merge(a[k], b[k]) for k in a}
    return [_merge(x, y) for x, y in zip(a, b)]


def _map_shapes(fn: Callable, shapes: Any) -> Any:
    if _is_shape(shapes):
        return fn(tuple(shapes))
    if isinstance(shapes, dict):
        return {k: _map_shapes(fn, v) for k, v in shapes.items()}
    return [_map_shapes(fn, s) for s in shapes]
