"""Keras image preprocessing: ImageDataGenerator, its iterators and helper functions.

Import as Keras code does: ``from fastkeras.preprocessing.image import ImageDataGenerator``.
"""

from fastkeras.preprocessing import image

__all__ = ["image"]
