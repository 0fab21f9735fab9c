"""Keras 2 import path ``keras.layers.core``: the core layers, same objects as ``fastkeras.layers``."""

from fastkeras.layers.activation import Activation
from fastkeras.layers.dense import Dense
from fastkeras.layers.dropout import Dropout, SpatialDropout1D, SpatialDropout2D, SpatialDropout3D
from fastkeras.layers.lambda_layer import Lambda
from fastkeras.layers.masking import Masking
from fastkeras.layers.regularization import ActivityRegularization
from fastkeras.layers.reshaping import Flatten, Permute, RepeatVector, Reshape

__all__ = ["Activation", "ActivityRegularization", "Dense", "Dropout", "Flatten", "Lambda",
           "Masking", "Permute", "RepeatVector", "Reshape", "SpatialDropout1D",
           "SpatialDropout2D", "SpatialDropout3D"]
