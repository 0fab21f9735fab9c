"""fastkeras: the Keras layer API and Keras's ImageDataGenerator on Numba kernels.

Keras code runs after replacing ``keras`` with ``fastkeras`` in its imports::

    from fastkeras import backend as K
    from fastkeras.layers import Dense, Input
    from fastkeras.models import Model, Sequential
    from fastkeras.preprocessing.image import ImageDataGenerator
"""

from fastkeras import (
    activations, backend, callbacks, constraints, initializers, layers, losses, metrics, models,
    optimizers, preprocessing, regularizers, utils,
)
from fastkeras.engine.base_layer import Layer
from fastkeras.engine.input_layer import Input, InputLayer
from fastkeras.models import Model, Sequential

__version__ = "0.1.0"

__all__ = ["Input", "InputLayer", "Layer", "Model", "Sequential", "activations", "backend",
           "callbacks", "constraints", "initializers", "layers", "losses", "metrics", "models",
           "optimizers", "preprocessing", "regularizers", "utils"]
