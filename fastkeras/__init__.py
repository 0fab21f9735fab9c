"""fastkeras: the Keras layer API and Keras's ImageDataGenerator on Numba kernels.

Keras code runs after replacing ``keras`` with ``fastkeras`` in its imports::

    from fastkeras import backend as K
    from fastkeras.layers import Dense, Input
    from fastkeras.models import Model, Sequential  # noqa: E402
    from fastkeras.preprocessing.image import ImageDataGenerator
"""

import os

# Numba's OpenMP worker threads otherwise busy-wait after each parallel kernel and starve
# OpenBLAS's threads (the GEMMs between kernels), making a Dense step 5-100x slower on a
# loaded machine. Must be set before numba loads libgomp; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from fastkeras import (  # noqa: E402
    activations, backend, callbacks, constraints, initializers, layers, losses, metrics, models,
    optimizers, preprocessing, regularizers, utils,
)
from fastkeras.engine.base_layer import Layer  # noqa: E402
from fastkeras.engine.input_layer import Input, InputLayer  # noqa: E402
from fastkeras.models import Model, Sequential  # noqa: E402

__version__ = "0.1.0"

__all__ = ["Input", "InputLayer", "Layer", "Model", "Sequential", "activations", "backend",
           "callbacks", "constraints", "initializers", "layers", "losses", "metrics", "models",
           "optimizers", "preprocessing", "regularizers", "utils"]
