"""The fastkeras backend, imported by Keras code as ``K``."""

from fastkeras.backend import math_ops as _math_ops  # registers numpy dispatch
from fastkeras.backend.config import (
    epsilon, floatx, image_data_format, set_epsilon, set_floatx, set_image_data_format,
)
from fastkeras.backend.tensor import (
    GradientTape, Tensor, Variable, backprop, convert_to_tensor, is_recording,
)
