"""Sequential: a plain stack of single-input, single-output layers (Keras 2 import path too)."""

from __future__ import annotations

from typing import Any

from fastkeras.engine import structure
from fastkeras.engine.base_layer import Layer
from fastkeras.engine.functional import Functional
from fastkeras.engine.input_layer import InputLayer
from fastkeras.engine.keras_tensor import KerasTensor
from fastkeras.engine.serialization import deserialize_keras_object, serialize_keras_object


class Sequential(Functional):
    """A model that applies its layers one after the other.

    With an ``Input``/``InputLayer`` first, or ``input_shape=``/``input_dim=``/
    ``batch_input_shape=`` on the first layer, the model is built at once and every ``add`` is
    shape-checked; otherwise it is built from the data on its first call (or ``fit``).

    Parameters
    ----------
    layers : list of Layer, optional
        The layers, in order (a leading ``Input(...)`` tensor is accepted).
    trainable : bool
        Whether the model's weights are trained.
    name : str, optional
        The model name (default ``'sequential'``, ``'sequential_1'``...).

    Examples
    --------
    >>> model = Sequential([Input((4,)), Dense(8, activation="relu"), Dense(1)])
    >>> model.output_shape
    (None, 1)
    """

    def __init__(self, layers: list | None = None, trainable: bool = True,
                 name: str | None = None, **kwargs):
        self._init_model(name=name, trainable=trainable, **kwargs)
        self._input_layer = None
        self._stack: list = []
        self._clear_graph()
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._rebuild()

    def _clear_graph(self) -> None:
        self._layers = ([self._input_layer] if self._input_layer is not None else []) + \
            list(self._stack)
        self.inputs, self.outputs = [], []
        self._nodes, self._plan = [], []
        self.built = False
        self._state_locked = False

    @property
    def layers(self) -> list:
        """The model's layers (a leading InputLayer is not listed)."""
        return list(self._stack)

    def add(self, layer: Any, rebuild: bool = True) -> None:
        """Append ``layer`` (or a leading ``Input`` tensor); shape-checked when the input shape
        is known."""
        if isinstance(layer, KerasTensor) and layer._keras_history is not None \
                and isinstance(layer._keras_history[0], InputLayer):
            layer = layer._keras_history[0]
        if not isinstance(layer, Layer):
            raise ValueError("Only instances of `keras.Layer` can be added to a Sequential "
                             f"model. Received: {layer} (of type {type(layer)})")
        if isinstance(layer, InputLayer):
            if self._input_layer is not None or self._stack:
                raise ValueError(
                    f"Sequential model '{self.name}' already has layers; an InputLayer can only "
                    "be its first layer.")
            self._input_layer = layer
        else:
            if any(existing.name == layer.name for existing in self._layers):
                raise ValueError(
                    "All layers added to a Sequential model should have unique names. Name "
                    f"'{layer.name}' is already the name of a layer in this model. Update the "
                    "`name` argument to pass a unique name.")
            if not self._stack and self._input_layer is None \
                    and layer._batch_input_shape is not None:
                self._input_layer = InputLayer(batch_shape=layer._batch_input_shape)
            self._stack.append(layer)
            if rebuild and self.outputs:
                self._extend_graph(layer)
                return
        if rebuild:
            self._rebuild()

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self._stack:
            raise TypeError("There are no layers in the model.")
        layer = self._stack.pop()
        self._rebuild()
        return layer

    def _rebuild(self) -> None:
        self._clear_graph()
        if self._input_layer is None:
            return
        x = self._input_layer._input_tensor
        for layer in self._stack:
            x = self._call_one(layer, x)
        self._init_graph(self._input_layer._input_tensor, x)

    def _extend_graph(self, layer: Layer) -> None:
        x = self._call_one(layer, self.outputs[0])
        self._init_graph(self._input_layer._input_tensor, x)

    @staticmethod
    def _call_one(layer: Layer, x: KerasTensor) -> KerasTensor:
        out = layer(x)
        if not isinstance(out, KerasTensor):
            raise ValueError("All layers in a Sequential model should have a single output "
                             f"tensor; layer '{layer.name}' returned "
                             f"{len(structure.flatten(out))}. For multi-output layers, use the "
                             "functional API.")
        return out

    def build(self, input_shape: Any = None) -> None:
        """Build the graph for inputs of ``input_shape`` (the batch size is left free)."""
        if self.outputs:
            return
        if input_shape is None:
            if self._input_layer is None:
                raise ValueError("You must provide an `input_shape` argument.")
        else:
            if isinstance(input_shape, list) and input_shape and \
                    isinstance(input_shape[0], (list, tuple)):
                raise ValueError("Sequential models take a single input; received the shapes "
                                 f"{input_shape}.")
            self._input_layer = InputLayer(batch_shape=(None,) + tuple(input_shape)[1:])
        self._rebuild()

    def _convert(self, x: Any) -> tuple:
        if not self.outputs:
            return Layer._convert(self, x)
        return super()._convert(x)

    @property
    def input_spec(self) -> Any:
        """The input spec once the input shape is known, else None."""
        return super().input_spec if self.outputs else None

    @property
    def input_shape(self) -> Any:
        """The input shape (with None batch)."""
        self._require_built("input_shape")
        return super().input_shape

    @property
    def output_shape(self) -> Any:
        """The output shape (with None batch)."""
        self._require_built("output_shape")
        return super().output_shape

    def _require_built(self, what: str) -> None:
        if not self.outputs:
            raise AttributeError(f"Sequential model '{self.name}' has not been built yet, so it "
                                 f"has no `{what}`. Call it on data, or start it with an "
                                 "`Input(shape)`.")

    def get_config(self) -> dict:
        """``{'name', 'trainable', 'dtype', 'layers', 'build_input_shape'}``."""
        layers = ([self._input_layer] if self._input_layer is not None else []) + self._stack
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype,
                  "layers": [serialize_keras_object(layer) for layer in layers]}
        if self._input_layer is not None:
            config["build_input_shape"] = self._input_layer.batch_shape
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> "Sequential":
        """Rebuild a Sequential model from :meth:`get_config`'s output."""
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for entry in config["layers"]:
            model.add(deserialize_keras_object(entry, custom_objects))
        shape = config.get("build_input_shape")
        if not model.built and shape is not None:
            model.build(tuple(shape))
        return model
