"""Turning layers, models and their arguments into JSON-able configs and back.

A serialized object is ``{'module', 'class_name', 'config', 'registered_name'}`` (layers add
``'build_config'``), as in Keras 3. Classes are found, in order, in the ``custom_objects``
passed in, in the scopes opened with :class:`custom_object_scope`, among classes registered with
:func:`register_keras_serializable`, and finally in fastkeras itself. Modules outside fastkeras
are never imported while loading, so a config cannot make fastkeras run foreign code; Python
lambdas are rebuilt only when ``safe_mode`` is off (see :func:`in_safe_mode`).
"""

from __future__ import annotations

import importlib
import inspect
import threading
import types
from typing import Any, Callable

import numpy as np

from fastkeras.engine.keras_tensor import KerasTensor

_REGISTERED: dict[str, Any] = {}
_REGISTERED_NAMES: dict[Any, str] = {}
_state = threading.local()

# Where fastkeras looks up a built-in class when a config's module is Keras's public module.
_PUBLIC_MODULES = ("fastkeras.layers", "fastkeras.models", "fastkeras.engine.input_layer",
                   "fastkeras.engine.functional", "fastkeras.engine.sequential",
                   "fastkeras.engine.training", "fastkeras.engine.tensor_op")


def register_keras_serializable(package: str = "Custom", name: str | None = None) -> Callable:
    """Class decorator registering a custom object as ``'<package>>Name'`` for loading.

    Examples
    --------
    >>> @register_keras_serializable(package="demo")
    ... class Twice(Layer):
    ...     def call(self, x):
    ...         return 2 * x
    >>> get_registered_name(Twice)
    'demo>Twice'
    """
    def decorator(obj: Any) -> Any:
        registered = f"{package}>{name or obj.__name__}"
        if not hasattr(obj, "get_config") and not isinstance(obj, types.FunctionType):
            raise ValueError("Cannot register a class that does not have a get_config() "
                             f"method: {obj}")
        _REGISTERED[registered] = obj
        _REGISTERED_NAMES[obj] = registered
        return obj
    return decorator


def get_custom_objects() -> dict:
    """The global dict of custom objects (``name -> class or function``), editable in place."""
    return _REGISTERED


def get_registered_name(obj: Any) -> str:
    """The name ``obj`` is registered under, else its ``__name__``."""
    return _REGISTERED_NAMES.get(obj, getattr(obj, "__name__", type(obj).__name__))


class custom_object_scope:  # noqa: N801 - Keras name
    """Context manager making ``custom_objects`` visible to deserialization in its block.

    Examples
    --------
    >>> class Halve(Layer):
    ...     def call(self, x):
    ...         return x / 2
    >>> config = {"class_name": "Halve", "config": {"name": "halve"}}
    >>> with custom_object_scope({"Halve": Halve}):
    ...     layer = deserialize_keras_object(config)
    >>> type(layer).__name__, layer.name
    ('Halve', 'halve')
    """

    def __init__(self, custom_objects: dict | None):
        self.custom_objects = dict(custom_objects or {})

    def __enter__(self) -> "custom_object_scope":
        _scopes().append(self.custom_objects)
        return self

    def __exit__(self, *exc) -> None:
        _scopes().pop()


CustomObjectScope = custom_object_scope


class safe_mode_scope:  # noqa: N801 - context manager used like a function
    """Context manager setting :func:`in_safe_mode` for the block (used by ``load_model``)."""

    def __init__(self, safe_mode: bool = True):
        self.safe_mode = bool(safe_mode)

    def __enter__(self) -> "safe_mode_scope":
        self._previous = getattr(_state, "safe_mode", None)
        _state.safe_mode = self.safe_mode
        return self

    def __exit__(self, *exc) -> None:
        _state.safe_mode = self._previous


def in_safe_mode() -> bool | None:
    """True/False inside a :class:`safe_mode_scope`, None outside any.

    Layers that would execute code from a config (``Lambda`` with a Python lambda) refuse to
    load unless this is False.
    """
    return getattr(_state, "safe_mode", None)


def _scopes() -> list:
    if not hasattr(_state, "scopes"):
        _state.scopes = []
    return _state.scopes


# -- serialize ------------------------------------------------------------------------------------
def serialize_keras_object(obj: Any) -> Any:
    """Return a JSON-able form of ``obj`` (layers, models, configurable objects, functions,
    arrays, KerasTensors, and containers of them)."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return {"class_name": "__numpy__", "config": {"value": obj.tolist(),
                                                      "dtype": obj.dtype.name}}
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(x) for x in obj]
    if isinstance(obj, dict):
        return {str(k): serialize_keras_object(v) for k, v in obj.items()}
    if isinstance(obj, KerasTensor):
        layer, node_index, tensor_index = obj._keras_history
        return {"class_name": "__keras_tensor__",
                "config": {"shape": list(obj.shape), "dtype": obj.dtype,
                           "keras_history": [layer.name, node_index, tensor_index]}}
    if isinstance(obj, np.dtype):
        return obj.name
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
        return {"module": obj.__module__, "class_name": "function", "config": obj.__name__,
                "registered_name": _REGISTERED_NAMES.get(obj)}
    if hasattr(obj, "get_config"):
        cls = type(obj)
        out = {"module": _public_module(cls), "class_name": cls.__name__,
               "config": serialize_keras_object(obj.get_config()),
               "registered_name": _registered_or_none(cls)}
        if hasattr(obj, "get_build_config"):
            build_config = obj.get_build_config()
            if build_config is not None:
                out["build_config"] = serialize_keras_object(build_config)
        return out
    raise TypeError(f"Cannot serialize object {obj!r} of type {type(obj)}: it has no "
                    "`get_config()` method.")


def _public_module(cls: type) -> str:
    module = cls.__module__
    if module.startswith("fastkeras."):
        for public in ("fastkeras.layers", "fastkeras.models"):
            try:
                if getattr(importlib.import_module(public), cls.__name__, None) is cls:
                    return public
            except ImportError:
                continue
    return module


def _registered_or_none(cls: type) -> str | None:
    if cls in _REGISTERED_NAMES:
        return _REGISTERED_NAMES[cls]
    return None if cls.__module__.startswith("fastkeras.") else cls.__name__


# -- deserialize ----------------------------------------------------------------------------------
def deserialize_keras_object(config: Any, custom_objects: dict | None = None) -> Any:
    """Rebuild an object from :func:`serialize_keras_object`'s output.

    Raises
    ------
    ValueError
        When a class cannot be located (a custom class neither passed in ``custom_objects``
        nor registered).
    """
    if config is None or isinstance(config, (bool, int, float)):
        return config
    if isinstance(config, str):
        return config
    if isinstance(config, list):
        return [deserialize_keras_object(x, custom_objects) for x in config]
    if not isinstance(config, dict):
        raise ValueError(f"Could not deserialize {config!r}: expected a dict config.")
    class_name = config.get("class_name")
    if class_name is None or "config" not in config:
        return {k: deserialize_keras_object(v, custom_objects) for k, v in config.items()}
    inner = config["config"]
    if class_name == "__numpy__":
        return np.asarray(inner["value"], dtype=inner["dtype"])
    if class_name == "__tuple__":
        return tuple(deserialize_keras_object(inner["value"], custom_objects))
    if class_name == "__keras_tensor__":
        raise ValueError("A serialized KerasTensor can only be rebuilt inside a model config.")
    if class_name == "function":
        return locate(inner, config.get("module"), config.get("registered_name"),
                      custom_objects, config)
    cls = locate(class_name, config.get("module"), config.get("registered_name"),
                 custom_objects, config)
    if "custom_objects" in inspect.signature(cls.from_config).parameters:
        obj = cls.from_config(inner, custom_objects=custom_objects)
    else:
        obj = cls.from_config(inner)
    build_config = config.get("build_config")
    if build_config and hasattr(obj, "build_from_config") and not getattr(obj, "built", True):
        obj.build_from_config(deserialize_keras_object(build_config, custom_objects))
    return obj


def locate(name: str, module: str | None, registered_name: str | None,
           custom_objects: dict | None, full_config: Any = None) -> Any:
    """Find the class or function called ``name`` (see the module docstring for the order)."""
    tables = [custom_objects or {}] + list(reversed(_scopes())) + [_REGISTERED]
    for key in (registered_name, name):
        if key is None:
            continue
        for table in tables:
            if key in table:
                return table[key]
    candidates = []
    if module and module.startswith("fastkeras"):
        candidates.append(module)
    candidates.extend(_PUBLIC_MODULES)
    for mod_name in candidates:
        try:
            mod = importlib.import_module(mod_name)
        except ImportError:
            continue
        obj = getattr(mod, name, None)
        if obj is not None:
            return obj
    raise ValueError(
        f"Could not locate class '{name}'. Make sure custom classes and functions are passed in "
        "`custom_objects` or decorated with `@register_keras_serializable()`. Full object "
        f"config: {full_config}")
