"""``fastkeras.layers.input_layer``: Input and InputLayer (they live in the engine)."""

from fastkeras.engine.input_layer import Input, InputLayer

__all__ = ["Input", "InputLayer"]
