"""Keras 2 import path ``keras.engine.topology``: Layer, Input, InputLayer, InputSpec."""

from fastkeras.engine.base_layer import Layer
from fastkeras.engine.input_layer import Input, InputLayer
from fastkeras.engine.input_spec import InputSpec

__all__ = ["Input", "InputLayer", "InputSpec", "Layer"]
