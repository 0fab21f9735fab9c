"""The engine: Layer and InputSpec, KerasTensor/Input, functional Model, Sequential, training.

Keras 2 import paths live here too: ``engine.topology``, ``engine.base_layer``,
``engine.input_layer``, ``engine.training`` and ``engine.sequential``.
"""
