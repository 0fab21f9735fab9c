"""Models: ``Model`` (functional or subclassed), ``Sequential``, and saving/loading them."""

from __future__ import annotations

import json

from fastkeras.engine.functional import Functional
from fastkeras.engine.saving import load_model, save_model
from fastkeras.engine.sequential import Sequential
from fastkeras.engine.serialization import (
    custom_object_scope, deserialize_keras_object, serialize_keras_object,
)
from fastkeras.engine.training import Model

__all__ = ["Functional", "Model", "Sequential", "clone_model", "load_model",
           "model_from_config", "model_from_json", "save_model"]


def model_from_config(config: dict, custom_objects: dict | None = None) -> Model:
    """Rebuild a model from ``{'class_name', 'config', ...}`` (as ``to_json`` writes it)."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError("`model_from_config` expects a dict with 'class_name' and 'config' "
                         f"keys. Received: {type(config)}")
    with custom_object_scope(custom_objects):
        return deserialize_keras_object(config)


def model_from_json(json_string: str, custom_objects: dict | None = None) -> Model:
    """Rebuild a model's architecture from :meth:`Model.to_json` output (fresh weights)."""
    try:
        config = json.loads(json_string)
    except json.JSONDecodeError as e:
        raise ValueError(f"`model_from_json` received invalid JSON: {e}") from None
    return model_from_config(config, custom_objects)


def clone_model(model: Model, custom_objects: dict | None = None) -> Model:
    """A new model with ``model``'s architecture and freshly initialised weights."""
    with custom_object_scope(custom_objects):
        return deserialize_keras_object(serialize_keras_object(model))
