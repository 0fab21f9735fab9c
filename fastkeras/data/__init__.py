"""Data files bundled with fastkeras: the sample images of ``fastkeras-augment``.

``samples/<class>/*.png`` are three classes of four small pictures drawn by
``scripts/make_samples.py``; ``fastkeras-augment`` with no source folder augments them.
"""

from __future__ import annotations

import os

__all__ = ["samples_dir"]


def samples_dir() -> str:
    """Path of the bundled sample images folder (one sub-folder per class)."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "samples")
