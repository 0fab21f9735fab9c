"""Functional models: a graph of layer calls from ``Input`` tensors to outputs, replayed on data."""

from __future__ import annotations

import warnings
from typing import Any

from fastkeras.backend.tensor import Tensor
from fastkeras.engine import structure
from fastkeras.engine.base_layer import Layer
from fastkeras.engine.input_layer import InputLayer
from fastkeras.engine.input_spec import InputSpec
from fastkeras.engine.keras_tensor import KerasTensor
from fastkeras.engine.serialization import deserialize_keras_object, serialize_keras_object
from fastkeras.engine.training import Model


class Functional(Model):
    """A model defined by its input and output KerasTensors (``Model(inputs, outputs)``).

    Parameters
    ----------
    inputs : KerasTensor, list or dict of KerasTensor
        The model inputs (usually made with ``Input``). A one-element list is unwrapped, so the
        model accepts a bare array.
    outputs : KerasTensor, list or dict of KerasTensor
        The model outputs; a one-element list is unwrapped (``predict`` returns one array).
    name : str, optional
        The model name (default ``'functional'``, ``'functional_1'``...).
    trainable : bool
        Whether the model's weights are trained.
    **kwargs
        Keras 2 aliases ``input=`` and ``output=``.
    """

    _trust_compute_output_shape = False

    def __init__(self, inputs: Any = None, outputs: Any = None, name: str | None = None,
                 trainable: bool = True, **kwargs):
        if "input" in kwargs:
            if inputs is not None:
                raise ValueError("Pass only one of `inputs` and `input` (its Keras 2 alias).")
            inputs = kwargs.pop("input")
        if "output" in kwargs:
            if outputs is not None:
                raise ValueError("Pass only one of `outputs` and `output` (its Keras 2 alias).")
            outputs = kwargs.pop("output")
        if inputs is None or outputs is None:
            raise TypeError("A functional Model needs both `inputs` and `outputs`.")
        self._init_model(name=name, trainable=trainable, **kwargs)
        self._init_graph(inputs, outputs)

    # -- graph ---------------------------------------------------------------------------------
    def _init_graph(self, inputs: Any, outputs: Any) -> None:
        if isinstance(inputs, dict):
            for key, value in inputs.items():
                if isinstance(value, KerasTensor) and key != value.name:
                    warnings.warn(
                        "When providing `inputs` as a dict, all keys in the dict must match the "
                        "names of the corresponding tensors. Received key "
                        f"'{key}' mapping to value {value} which has name '{value.name}'. "
                        f"Change the tensor name to '{key}' (via `Input(..., name='{key}')`)",
                        stacklevel=3)
        for label, struct in (("inputs", inputs), ("outputs", outputs)):
            for x in structure.flatten(struct):
                if not isinstance(x, KerasTensor):
                    raise ValueError(
                        f"All `{label}` values must be KerasTensors. Received: {label}={struct} "
                        f"including invalid value {x} of type {type(x)}")
        self._inputs_struct = _unwrap_single(inputs)
        self._outputs_struct = _unwrap_single(outputs)
        self.inputs = structure.flatten(inputs)
        self.outputs = structure.flatten(outputs)
        nodes = _ordered_nodes(self.inputs, self.outputs, self._outputs_struct)
        layers = [t._keras_history[0] for t in self.inputs
                  if isinstance(t._keras_history[0], InputLayer)]
        for node in nodes:
            if all(node.layer is not seen for seen in layers):
                layers.append(node.layer)
        counts: dict[str, int] = {}
        for layer in layers:
            counts[layer.name] = counts.get(layer.name, 0) + 1
        for layer_name, count in counts.items():
            if count > 1:
                raise ValueError(f'The name "{layer_name}" is used {count} times in the model. '
                                 "All operation names should be unique.")
        self._layers = layers
        self._nodes = nodes
        self._plan = [_plan_step(node) for node in nodes]
        self._input_refs = [(t.dtype, t.shape, t.sparse) for t in self.inputs]
        self._input_keys = (list(self._inputs_struct) if isinstance(self._inputs_struct, dict)
                            else [t._keras_history[0].name for t in self.inputs])
        self.built = True
        self._state_locked = True
        self._build_shapes = _single([t.shape for t in self.inputs])

    @property
    def layers(self) -> list:
        """The model's layers in graph order, InputLayers first."""
        return list(self._layers)

    @property
    def input(self) -> Any:
        """The input KerasTensor(s) in the structure given at construction."""
        return self._inputs_struct

    @property
    def output(self) -> Any:
        """The output KerasTensor(s) in the structure given at construction."""
        return self._outputs_struct

    @property
    def input_shape(self) -> Any:
        """The input shape, or a list of shapes for several inputs."""
        return _single([t.shape for t in self.inputs])

    @property
    def output_shape(self) -> Any:
        """The output shape, or a list of shapes for several outputs."""
        return _single([t.shape for t in self.outputs])

    @property
    def input_names(self) -> list:
        """The names the inputs are keyed by in dict data."""
        return list(self._input_keys)

    @property
    def output_names(self) -> list:
        """The names outputs are keyed by: dict keys, else the producing layers' names."""
        if isinstance(self._outputs_struct, dict):
            return list(self._outputs_struct)
        return [t._keras_history[0].name for t in self.outputs]

    @property
    def input_spec(self) -> list:
        """One spec per input: its shape with any batch size, keyed by input name."""
        specs = []
        for key, t in zip(self._input_keys, self.inputs):
            origin = t._keras_history[0]
            specs.append(InputSpec(shape=(None,) + t.shape[1:], allow_last_axis_squeeze=True,
                                   name=key, optional=getattr(origin, "optional", False)))
        return specs

    # -- running -------------------------------------------------------------------------------
    def _convert(self, x: Any) -> tuple:
        if isinstance(x, dict):
            missing = [k for k in self._input_keys if k not in x]
            if missing:
                raise ValueError(
                    f'Missing data for input "{missing[0]}". You passed a data dictionary with '
                    f"keys {list(x)}. Expected the following keys: {self._input_keys}")
            flat = [x[k] for k in self._input_keys]
        else:
            flat = structure.flatten(x)
        leaves = [leaf for leaf in flat if leaf is not None]
        as_arrays = bool(leaves) and not any(isinstance(leaf, Tensor) for leaf in leaves)
        converted = []
        for i, leaf in enumerate(flat):
            if i >= len(self._input_refs):  # too many inputs: the input spec check reports it
                converted.append(self._convert_leaf(leaf))
                continue
            dtype, _, sparse = self._input_refs[i]
            converted.append(self._adjust_rank(
                self._convert_leaf(leaf, dtype=dtype, keep_sparse=sparse), i))
        return converted, as_arrays

    def _adjust_rank(self, x: Any, index: int) -> Any:
        """Squeeze a trailing size-1 axis or add one so ``x`` has the input's rank."""
        if x is None or not hasattr(x, "shape"):
            return x
        ref = self._input_refs[index][1]
        rank, ref_rank = len(x.shape), len(ref)
        if rank == ref_rank:
            return x
        if rank == ref_rank + 1 and x.shape[-1] == 1:
            return _with_mask(x.reshape(x.shape[:-1]), x)
        if rank == ref_rank - 1 and ref[-1] == 1:
            return _with_mask(x.reshape(tuple(x.shape) + (1,)), x)
        raise ValueError(
            f"Input {index} of model '{self.name}' (input '{self._input_keys[index]}') expects "
            f"shape {ref}, but the data has incompatible shape {tuple(x.shape)}.")

    def call(self, inputs: Any, training: Any = None, mask: Any = None) -> Any:
        """Replay the graph on ``inputs`` (a list aligned with ``self.inputs``).

        ``training`` reaches the layers through the call context; ``mask`` holds the inputs'
        masks, which already travel on the input tensors.
        """
        flat = inputs if isinstance(inputs, list) else structure.flatten(inputs)
        values = {id(ref): x for ref, x in zip(self.inputs, flat)}
        for layer, single, node, output_ids in self._plan:
            if single is not None:
                out = layer(values[single])
            else:
                args, kwargs = node.fill_in(values)
                out = layer(*args, **kwargs)
            if len(output_ids) == 1:
                values[output_ids[0]] = out
            else:
                for key, value in zip(output_ids, structure.flatten(out)):
                    values[key] = value
        return structure.pack_like(self._outputs_struct,
                                   [values[id(t)] for t in self.outputs])

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The output shape(s) for inputs of ``input_shape`` (batch size carried over)."""
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        batch = shapes[0][0] if shapes and shapes[0] else None
        out = [(batch,) + tuple(t.shape[1:]) for t in self.outputs]
        return out[0] if len(out) == 1 else out

    # -- config --------------------------------------------------------------------------------
    def get_config(self) -> dict:
        """The graph as Keras 3 configs: layers with their inbound nodes, input/output refs."""
        own = {id(node) for node in self._nodes}
        node_index = {}  # id(node) -> index among the layer's nodes that belong to this model
        for layer in self._layers:
            kept = 0
            for node in layer._inbound_nodes:
                if id(node) in own or (node.is_input and isinstance(layer, InputLayer)):
                    node_index[id(node)] = kept
                    kept += 1

        def tensor_ref(t: KerasTensor) -> list:
            layer, index, tensor_index = t._keras_history
            return [layer.name, node_index[id(layer._inbound_nodes[index])], tensor_index]

        def serialize_arg(x: Any) -> Any:
            if isinstance(x, KerasTensor):
                return {"class_name": "__keras_tensor__",
                        "config": {"shape": list(x.shape), "dtype": x.dtype,
                                   "keras_history": tensor_ref(x)}}
            return serialize_keras_object(x)

        layer_configs = []
        for layer in self._layers:
            entry = serialize_keras_object(layer)
            entry["name"] = layer.name
            entry["inbound_nodes"] = [
                {"args": structure.map_structure(serialize_arg, list(node.call_args)),
                 "kwargs": structure.map_structure(serialize_arg, node.call_kwargs)}
                for node in layer._inbound_nodes if id(node) in own]
            layer_configs.append(entry)
        return {"name": self.name, "trainable": self.trainable, "layers": layer_configs,
                "input_layers": _map_refs(tensor_ref, self._inputs_struct),
                "output_layers": _map_refs(tensor_ref, self._outputs_struct)}

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> "Functional":
        """Rebuild the graph described by :meth:`get_config` (new, unshared layers)."""
        layers, pending = {}, {}
        for entry in config["layers"]:
            layer = deserialize_keras_object(
                {k: v for k, v in entry.items() if k not in ("inbound_nodes", "name")},
                custom_objects)
            if not isinstance(layer, Layer):
                raise ValueError(f"Expected a layer config, got {entry.get('class_name')!r}.")
            layers[entry["name"]] = layer
            pending[entry["name"]] = list(entry.get("inbound_nodes", []))

        def tensor(ref: list) -> KerasTensor:
            name, index, tensor_index = ref
            layer = layers.get(name)
            if layer is None or index >= len(layer._inbound_nodes):
                raise LookupError(name)
            return layer._inbound_nodes[index].output_tensors[tensor_index]

        def rebuild_arg(x: Any) -> Any:
            if isinstance(x, dict) and x.get("class_name") == "__keras_tensor__":
                return tensor(x["config"]["keras_history"])
            if isinstance(x, dict):
                if "class_name" in x and "config" in x:
                    return deserialize_keras_object(x, custom_objects)
                return {k: rebuild_arg(v) for k, v in x.items()}
            if isinstance(x, list):
                return [rebuild_arg(v) for v in x]
            return x

        while any(pending.values()):
            progressed = False
            for name, nodes in pending.items():
                while nodes:
                    try:
                        args = rebuild_arg(nodes[0]["args"])
                        kwargs = rebuild_arg(nodes[0]["kwargs"])
                    except LookupError:
                        break
                    layers[name](*args, **kwargs)
                    nodes.pop(0)
                    progressed = True
            if not progressed:
                unresolved = [n for n, v in pending.items() if v]
                raise ValueError("Invalid Functional model configuration: the graph has loops or "
                                 f"disconnected nodes. Unresolved layers: {unresolved}")

        def refs_to_tensors(struct: Any) -> Any:
            if isinstance(struct, list) and len(struct) == 3 and isinstance(struct[0], str):
                return tensor(struct)
            if isinstance(struct, dict):
                return {k: refs_to_tensors(v) for k, v in struct.items()}
            return [refs_to_tensors(v) for v in struct]

        inputs = refs_to_tensors(config["input_layers"])
        outputs = refs_to_tensors(config["output_layers"])
        return cls(inputs=inputs, outputs=outputs, name=config.get("name"),
                   trainable=config.get("trainable", True))


def _unwrap_single(x: Any) -> Any:
    return x[0] if isinstance(x, (list, tuple)) and len(x) == 1 else x


def _single(shapes: list) -> Any:
    return shapes[0] if len(shapes) == 1 else shapes


def _with_mask(new: Any, old: Any) -> Any:
    if isinstance(new, Tensor) and isinstance(old, Tensor):
        new._keras_mask = old._keras_mask
    return new


def _map_refs(fn: Any, struct: Any) -> Any:
    if isinstance(struct, KerasTensor):
        return fn(struct)
    if isinstance(struct, dict):
        return {k: _map_refs(fn, v) for k, v in struct.items()}
    return [_map_refs(fn, v) for v in struct]


def _paths(struct: Any, prefix: str = "") -> list:
    """The path of each leaf of ``struct`` (``''`` for a bare tensor, ``'1'``, ``'a'``...)."""
    if isinstance(struct, dict):
        return [p for k, v in struct.items()
                for p in _paths(v, f"{prefix}.{k}" if prefix else str(k))]
    if isinstance(struct, (list, tuple)):
        return [p for i, v in enumerate(struct)
                for p in _paths(v, f"{prefix}.{i}" if prefix else str(i))]
    return [prefix]


def _ordered_nodes(inputs: list, outputs: list, outputs_struct: Any) -> list:
    """The nodes between ``inputs`` and ``outputs``, each after the nodes it depends on."""
    input_ids = {id(t) for t in inputs}
    order, done, on_stack = [], set(), set()
    for path, out in zip(_paths(outputs_struct), outputs):
        stack = [(out, False)]
        while stack:
            tensor, expanded = stack.pop()
            if id(tensor) in input_ids:
                continue
            history = tensor._keras_history
            if history is None:
                raise ValueError(f"Output with path `{path}` is not connected to `inputs`")
            layer, index, _ = history
            node = layer._inbound_nodes[index]
            if expanded:
                on_stack.discard(id(node))
                if id(node) not in done:
                    done.add(id(node))
                    order.append(node)
                continue
            if id(node) in done or id(node) in on_stack:
                continue
            if node.is_input:
                raise ValueError(f"Output with path `{path}` is not connected to `inputs`")
            on_stack.add(id(node))
            stack.append((tensor, True))
            for parent in reversed(node.input_tensors):
                stack.append((parent, False))
    return order


def _plan_step(node: Any) -> tuple:
    """``(layer, single_input_id, node, output_ids)``; ``single_input_id`` is set when the
    call is ``layer(tensor)`` so the replay can skip argument substitution."""
    single = None
    if len(node.call_args) == 1 and not node.call_kwargs \
            and isinstance(node.call_args[0], KerasTensor):
        single = id(node.call_args[0])
    return node.layer, single, node, [id(t) for t in node.output_tensors]
