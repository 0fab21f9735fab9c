"""Saving and loading: weights as NumPy ``.npz``, whole models as one zip archive.

Weights file: one array per weight keyed ``'<layer>/<weight path>'``, plus ``'__keys__'`` (the
keys in model order) and ``'__layers__'`` (each key's layer), so weights load by order (default)
or by layer name (``by_name=True``, Keras 2). Values round-trip bit for bit.

Model archive (``model.save(path)``, any file name): a zip holding ``metadata.json``,
``config.json`` (the architecture plus the compile arguments) and ``model.weights.npz``, and
``optimizer.weights.npz`` when the optimizer has state. ``load_model`` rebuilds, reloads and,
when the model was compiled, recompiles it with its optimizer state.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import tempfile
import warnings
import zipfile
from typing import Any

import numpy as np

from fastkeras.engine.serialization import (
    custom_object_scope, deserialize_keras_object, locate, safe_mode_scope,
    serialize_keras_object,
)

_FORMAT = "fastkeras.model"
_FORMAT_VERSION = 1


# -- weights --------------------------------------------------------------------------------------
def _weight_entries(model: Any) -> list:
    """``[(key, layer_name, variable)]`` in the order ``get_weights`` uses."""
    entries, used = [], set()
    for layer_name, variables in model._weights_by_layer():
        for v in variables:
            base = f"{layer_name}/{v.path}"
            key, n = base, 1
            while key in used:
                key, n = f"{base}_{n}", n + 1
            used.add(key)
            entries.append((key, layer_name, v))
    return entries


def _weights_payload(model: Any) -> dict:
    entries = _weight_entries(model)
    payload = {key: v.value for key, _, v in entries}
    payload["__keys__"] = np.array([key for key, _, _ in entries], dtype=str)
    payload["__layers__"] = np.array([name for _, name, _ in entries], dtype=str)
    return payload


def _confirm_overwrite(filepath: str, overwrite: bool) -> bool:
    if overwrite or not os.path.exists(filepath):
        return True
    answer = input(f"[WARNING] {filepath} already exists - overwrite? [y/n] ").strip().lower()
    return answer in ("y", "yes")


def _write_atomic(filepath: str, data: bytes) -> None:
    folder = os.path.dirname(os.path.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".fastkeras-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, filepath)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _npz_bytes(payload: dict) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **payload)
    return buffer.getvalue()


def save_weights(model: Any, filepath: str, overwrite: bool = True) -> None:
    """Write ``model``'s weights to ``filepath`` (NumPy ``.npz`` format, any file name)."""
    filepath = os.fspath(filepath)
    if _confirm_overwrite(filepath, overwrite):
        _write_atomic(filepath, _npz_bytes(_weights_payload(model)))


def _read_npz(source: Any, label: str) -> dict:
    try:
        with np.load(source, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise ValueError(f"{label} is not a readable fastkeras weights file "
                         f"(NumPy .npz): {e}") from None
    if "__keys__" not in arrays or "__layers__" not in arrays:
        raise ValueError(f"{label} is not a fastkeras weights file: it has no weight index.")
    keys = [str(k) for k in arrays["__keys__"]]
    missing = [k for k in keys if k not in arrays]
    if missing:
        raise ValueError(f"{label} is incomplete: weight '{missing[0]}' is listed but missing.")
    return {"keys": keys, "layers": [str(n) for n in arrays["__layers__"]],
            "arrays": arrays}


def load_weights(model: Any, filepath: str, skip_mismatch: bool = False,
                 by_name: bool = False) -> None:
    """Load weights written by :func:`save_weights` (or inside a model archive) into ``model``.

    By default weights are matched layer by layer in order; with ``by_name=True`` to the
    layers of the same name (layers absent from the file are left as they are). A layer whose
    weights do not fit raises ``ValueError`` naming it, or is skipped with a warning when
    ``skip_mismatch`` is True. Nothing is assigned unless every checked layer fits.
    """
    filepath = os.fspath(filepath)
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"No such weights file: '{filepath}'")
    if zipfile.is_zipfile(filepath) and _is_model_archive(filepath):
        with zipfile.ZipFile(filepath) as archive:
            stored = _read_npz(io.BytesIO(_member(archive, "model.weights.npz", filepath)),
                               f"'{filepath}'")
    else:
        stored = _read_npz(filepath, f"'{filepath}'")
    _assign_stored(model, stored, skip_mismatch, by_name, filepath)


def _assign_stored(model: Any, stored: dict, skip_mismatch: bool, by_name: bool,
                   filepath: str) -> None:
    groups: dict[str, list] = {}
    order: list[str] = []
    for key, layer_name in zip(stored["keys"], stored["layers"]):
        if layer_name not in groups:
            groups[layer_name] = []
            order.append(layer_name)
        groups[layer_name].append(stored["arrays"][key])
    targets = model._weights_by_layer()
    if by_name:
        pairs = [(name, variables, groups[name]) for name, variables in targets
                 if name in groups]
    else:
        if len(order) != len(targets):
            raise ValueError(
                f"Weight file '{filepath}' holds weights for {len(order)} layer(s) but the model "
                f"has {len(targets)} layer(s) with weights.")
        pairs = [(name, variables, groups[saved])
                 for (name, variables), saved in zip(targets, order)]
    plan = []
    for index, (name, variables, arrays) in enumerate(pairs):
        problem = None
        if len(arrays) != len(variables):
            problem = (f"Layer #{index} (named \"{name}\") expects {len(variables)} weight(s), "
                       f"but the saved weights have {len(arrays)} element(s).")
        else:
            for v, a in zip(variables, arrays):
                if v.shape != a.shape:
                    problem = (f"Layer #{index} (named \"{name}\", weight {v.path}) expects "
                               f"shape {v.shape}, but the saved weight has shape {a.shape}.")
                    break
        if problem is None:
            plan.append((variables, arrays))
        elif skip_mismatch:
            warnings.warn(f"Skipping loading weights for layer '{name}': {problem}",
                          stacklevel=4)
        else:
            raise ValueError(problem)
    for variables, arrays in plan:
        for v, a in zip(variables, arrays):
            v.assign(a)


# -- whole models ---------------------------------------------------------------------------------
def _compile_config(model: Any) -> dict | None:
    if not getattr(model, "compiled", False) or model._compile_args is None:
        return None
    from fastkeras import optimizers
    args = dict(model._compile_args)
    args["optimizer"] = optimizers.serialize(model.optimizer)
    args["loss"] = _serialize_identifiers(args["loss"], "losses")
    args["metrics"] = _serialize_identifiers(args["metrics"], "metrics")
    args["weighted_metrics"] = _serialize_identifiers(args["weighted_metrics"], "metrics")
    return args


def _serialize_identifiers(value: Any, module_name: str) -> Any:
    import importlib
    module = importlib.import_module(f"fastkeras.{module_name}")

    def one(identifier: Any) -> Any:
        if identifier is None or isinstance(identifier, str):
            return identifier
        serialize = getattr(module, "serialize", None)
        if serialize is not None:
            try:
                return serialize(identifier)
            except ValueError:
                pass
        return serialize_keras_object(identifier)

    if isinstance(value, dict):
        return {k: _serialize_identifiers(v, module_name) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_serialize_identifiers(v, module_name) for v in value]
    return one(value)


def _deserialize_identifiers(value: Any, module_name: str, custom_objects: dict | None) -> Any:
    import importlib
    module = importlib.import_module(f"fastkeras.{module_name}")
    if isinstance(value, list):
        return [_deserialize_identifiers(v, module_name, custom_objects) for v in value]
    if value is None:
        return None
    if isinstance(value, dict) and not ("class_name" in value and "config" in value):
        return {k: _deserialize_identifiers(v, module_name, custom_objects)
                for k, v in value.items()}
    if isinstance(value, str):
        if value.lower() in ("accuracy", "acc"):
            return value
        try:
            module.get(value)
            return value
        except ValueError:
            return locate(value, None, None, custom_objects, value)
    if value.get("class_name") == "function":
        return deserialize_keras_object(value, custom_objects)
    try:
        return module.deserialize(value, custom_objects)
    except ValueError:
        return deserialize_keras_object(value, custom_objects)


def save_model(model: Any, filepath: str, overwrite: bool = True,
               include_optimizer: bool = True) -> None:
    """Save ``model`` to one archive at ``filepath``: architecture and weights, and (unless
    ``include_optimizer`` is False, Keras 2's option) the compile arguments and optimizer
    state."""
    filepath = os.fspath(filepath)
    if not _confirm_overwrite(filepath, overwrite):
        return
    from fastkeras import __version__
    config = serialize_keras_object(model)
    config["compile_config"] = _compile_config(model) if include_optimizer else None
    metadata = {"format": _FORMAT, "format_version": _FORMAT_VERSION,
                "fastkeras_version": __version__,
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("metadata.json", json.dumps(metadata))
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("model.weights.npz", _npz_bytes(_weights_payload(model)))
        optimizer = getattr(model, "optimizer", None)
        if config["compile_config"] is not None and optimizer is not None and optimizer.built:
            payload = {f"{i:05d}": w for i, w in enumerate(optimizer.get_weights())}
            archive.writestr("optimizer.weights.npz", _npz_bytes(payload))
    _write_atomic(filepath, buffer.getvalue())


def _is_model_archive(filepath: str) -> bool:
    try:
        with zipfile.ZipFile(filepath) as archive:
            return "config.json" in archive.namelist()
    except zipfile.BadZipFile:
        return False


def _member(archive: zipfile.ZipFile, name: str, filepath: str) -> bytes:
    try:
        return archive.read(name)
    except KeyError:
        raise ValueError(f"'{filepath}' is not a complete fastkeras model file: it has no "
                         f"'{name}'.") from None
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise ValueError(f"'{filepath}' is corrupt: cannot read '{name}' ({e}).") from None


def load_model(filepath: str, custom_objects: dict | None = None, compile: bool = True,
               safe_mode: bool = True) -> Any:
    """Load a model saved with ``model.save``.

    Parameters
    ----------
    filepath : str
        The archive.
    custom_objects : dict, optional
        Custom layers, losses, metrics... by name, needed to rebuild the model.
    compile : bool
        Recompile with the saved optimizer (and its state), losses and metrics.
    safe_mode : bool
        Refuse to rebuild Python lambdas stored in the config (``Lambda`` layers).

    Raises
    ------
    FileNotFoundError
        When ``filepath`` does not exist.
    ValueError
        When the file is not a fastkeras model archive, or is truncated or corrupt.
    """
    filepath = os.fspath(filepath)
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"No such model file: '{filepath}'")
    with open(filepath, "rb") as f:
        head = f.read(8)
    if head.startswith(b"\x89HDF"):
        raise ValueError(f"'{filepath}' is a Keras HDF5 file; fastkeras reads the archives "
                         "written by fastkeras's `model.save()` (load HDF5 weights into a "
                         "rebuilt model with Keras, then save them with fastkeras).")
    if not zipfile.is_zipfile(filepath):
        raise ValueError(f"'{filepath}' is not a fastkeras model file (expected the zip archive "
                         "written by `model.save()`); it may be truncated or corrupt.")
    try:
        archive = zipfile.ZipFile(filepath)
    except (zipfile.BadZipFile, OSError) as e:
        raise ValueError(f"'{filepath}' is corrupt: {e}") from None
    with archive:
        try:
            config = json.loads(_member(archive, "config.json", filepath))
            metadata = json.loads(_member(archive, "metadata.json", filepath))
        except json.JSONDecodeError as e:
            raise ValueError(f"'{filepath}' is corrupt: invalid JSON ({e}).") from None
        if metadata.get("format") != _FORMAT:
            raise ValueError(f"'{filepath}' is not a fastkeras model file.")
        weights = _read_npz(io.BytesIO(_member(archive, "model.weights.npz", filepath)),
                            f"'{filepath}'")
        names = archive.namelist()
        optimizer_weights = None
        if "optimizer.weights.npz" in names:
            try:
                with np.load(io.BytesIO(_member(archive, "optimizer.weights.npz", filepath)),
                             allow_pickle=False) as data:
                    optimizer_weights = [data[k] for k in sorted(data.files)]
            except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
                raise ValueError(f"'{filepath}' is corrupt: unreadable optimizer state "
                                 f"({e}).") from None
    compile_config = config.pop("compile_config", None)
    with custom_object_scope(custom_objects), safe_mode_scope(safe_mode):
        model = deserialize_keras_object(config)
        _assign_stored(model, weights, skip_mismatch=False, by_name=False, filepath=filepath)
        if compile and compile_config is not None:
            _recompile(model, compile_config, custom_objects, optimizer_weights)
    return model


def _recompile(model: Any, config: dict, custom_objects: dict | None,
               optimizer_weights: list | None) -> None:
    from fastkeras import optimizers
    optimizer = optimizers.deserialize(config["optimizer"], custom_objects)
    model.compile(optimizer=optimizer,
                  loss=_deserialize_identifiers(config["loss"], "losses", custom_objects),
                  loss_weights=config.get("loss_weights"),
                  metrics=_deserialize_identifiers(config.get("metrics"), "metrics",
                                                   custom_objects),
                  weighted_metrics=_deserialize_identifiers(config.get("weighted_metrics"),
                                                            "metrics", custom_objects))
    if optimizer_weights is not None:
        optimizer.build(model.trainable_weights)
        optimizer.set_weights(optimizer_weights)
