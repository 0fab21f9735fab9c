"""Utilities: to_categorical, Progbar, Sequence and image I/O helpers (``keras.utils`` names)."""

from fastkeras.engine.serialization import (
    CustomObjectScope, custom_object_scope, get_custom_objects, register_keras_serializable,
)
from fastkeras.utils.data_utils import PyDataset, Sequence
from fastkeras.utils.image_utils import array_to_img, img_to_array, load_img, save_img
from fastkeras.utils.np_utils import to_categorical
from fastkeras.utils.progbar import Progbar

__all__ = ["CustomObjectScope", "PyDataset", "Progbar", "Sequence", "array_to_img",
           "custom_object_scope", "get_custom_objects", "img_to_array", "load_img",
           "register_keras_serializable", "save_img", "to_categorical"]
