"""Utilities: to_categorical, Progbar, Sequence and image I/O helpers."""
