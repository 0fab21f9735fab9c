"""Layers: the ``Layer`` base class, ``Input``/``InputLayer``, ``InputSpec`` and the core layers."""

from fastkeras.engine.base_layer import Layer
from fastkeras.engine.input_layer import Input, InputLayer
from fastkeras.engine.input_spec import InputSpec
from fastkeras.layers.core import (
    Activation, ActivityRegularization, Dense, Dropout, Flatten, Lambda, Masking, Permute,
    RepeatVector, Reshape, SpatialDropout1D, SpatialDropout2D, SpatialDropout3D,
)
from fastkeras.layers.pooling import GlobalAveragePooling1D, GlobalMaxPooling1D

__all__ = ["Activation", "ActivityRegularization", "Dense", "Dropout", "Flatten",
           "GlobalAveragePooling1D", "GlobalMaxPooling1D", "Input", "InputLayer", "InputSpec",
           "Lambda", "Layer", "Masking", "Permute", "RepeatVector", "Reshape",
           "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D"]
