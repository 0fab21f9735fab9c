"""Node: one recorded call of a layer on symbolic tensors, the edges of the functional graph."""

from __future__ import annotations

from typing import Any

from fastkeras.engine import structure
from fastkeras.engine.keras_tensor import KerasTensor


class Node:
    """The record of ``layer(*args, **kwargs)`` on KerasTensors.

    Creating a node appends it to ``layer._inbound_nodes`` and to the ``_outbound_nodes`` of the
    layers that produced its inputs, and stamps each output KerasTensor with its history
    ``(layer, node_index, tensor_index)``.

    Parameters
    ----------
    layer : Layer
        The called layer.
    call_args, call_kwargs
        The call's arguments: structures holding KerasTensors and constants.
    outputs
        The call's output KerasTensors (a structure). An InputLayer's own node has outputs and
        no arguments: ``is_input`` is then True.
    """

    def __init__(self, layer: Any, call_args: tuple = (), call_kwargs: dict | None = None,
                 outputs: Any = ()):
        self.layer = layer
        self.call_args = tuple(call_args)
        self.call_kwargs = dict(call_kwargs or {})
        self.input_tensors = [x for x in structure.flatten([self.call_args, self.call_kwargs])
                              if isinstance(x, KerasTensor)]
        self.outputs = outputs
        self.output_tensors = structure.flatten(outputs)
        self.is_input = not self.input_tensors and not self.call_args
        index = len(layer._inbound_nodes)
        layer._inbound_nodes.append(self)
        for i, t in enumerate(self.output_tensors):
            t._keras_history = (layer, index, i)
        for t in self.input_tensors:
            if t._keras_history is not None:
                t._keras_history[0]._outbound_nodes.append(self)

    @property
    def parent_nodes(self) -> list:
        """The nodes that produced this node's input tensors."""
        return [t._keras_history[0]._inbound_nodes[t._keras_history[1]]
                for t in self.input_tensors if t._keras_history is not None]

    def fill_in(self, values: dict) -> tuple:
        """Return ``(args, kwargs)`` with each KerasTensor replaced by ``values[id(tensor)]``."""
        def sub(x):
            return values[id(x)] if isinstance(x, KerasTensor) else x
        return (structure.map_structure(sub, self.call_args),
                structure.map_structure(sub, self.call_kwargs))
