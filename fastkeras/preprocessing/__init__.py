"""Keras image preprocessing: ImageDataGenerator, its iterators and helper functions."""
