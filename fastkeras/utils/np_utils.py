"""``to_categorical`` (the Keras 2 ``np_utils`` path; also ``fastkeras.utils.to_categorical``)."""

from __future__ import annotations

from typing import Any

import numpy as np


def to_categorical(y: Any, num_classes: int | None = None, dtype: Any = "float32") -> np.ndarray:
    """One-hot encode class indices on a new last axis.

    A trailing axis of size 1 is squeezed first (``(n, 1)`` -> ``(n, C)``); float labels are
    truncated toward zero (1.7 -> 1), as ``int64`` casting does.

    Parameters
    ----------
    y : array_like
        Class indices, any shape.
    num_classes : int, optional
        Number of classes; ``max(y) + 1`` when None.
    dtype : str or dtype
        Output dtype (Keras 2 signature; default float32).

    Returns
    -------
    ndarray
        Shape ``y.shape + (num_classes,)`` (after the squeeze).

    Raises
    ------
    ValueError
        Negative, non-finite or non-numeric labels (Keras 3 silently wraps negatives), a
        ``num_classes`` that is not a positive integer, or an empty ``y`` without ``num_classes``.
    IndexError
        A label ``>= num_classes``.

    Examples
    --------
    >>> to_categorical([0, 2, 1])
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 1., 0.]], dtype=float32)
    """
    values = np.asarray(y)
    labels = None
    if values.dtype.kind != "f" or np.all(np.isfinite(values)):
        try:
            labels = values.astype(np.int64)
        except (TypeError, ValueError):
            pass
    if labels is None:
        raise ValueError(f"`y` must hold finite numeric class indices; received {y!r}.")
    shape = labels.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    labels = labels.reshape(-1)
    if labels.size and labels.min() < 0:
        raise ValueError(f"`y` must hold non-negative class indices; received the label "
                         f"{labels.min()}.")
    if num_classes is None:
        if not labels.size:
            raise ValueError("Cannot infer `num_classes` from an empty `y`; pass `num_classes`.")
        num_classes = int(labels.max()) + 1
    elif isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) \
            or num_classes <= 0:
        raise ValueError("`num_classes` must be a positive integer; received "
                         f"num_classes={num_classes!r}.")
    if labels.size and labels.max() >= num_classes:
        raise IndexError(f"Label {labels.max()} is out of range for num_classes={num_classes} "
                         f"(valid labels are 0 to {num_classes - 1}).")
    out = np.zeros((labels.size, int(num_classes)), dtype=dtype)
    out[np.arange(labels.size), labels] = 1
    return out.reshape(shape + (int(num_classes),))
