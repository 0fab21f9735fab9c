"""Layers that only move values: Flatten, Reshape, Permute, RepeatVector.

Each is one backend op (reshape, transpose, repeat), so gradients come from the tape. None of them
supports masking: a masked input raises ``TypeError`` (the Keras 2 rule; Keras 3 warns and drops
the mask).
"""

from __future__ import annotations

import math
from numbers import Integral
from typing import Any, Sequence

from fastkeras import backend as K
from fastkeras.backend.tensor import Tensor
from fastkeras.engine.base_layer import Layer
from fastkeras.engine.input_spec import InputSpec

__all__ = ["Flatten", "Permute", "RepeatVector", "Reshape", "standardize_data_format"]


def standardize_data_format(data_format: str | None) -> str:
    """Return ``data_format`` lower-cased, or ``K.image_data_format()`` when None.

    Raises
    ------
    ValueError
        Unless it is ``'channels_first'`` or ``'channels_last'`` (any case).
    """
    if data_format is None:
        return K.image_data_format()
    data_format = str(data_format).lower()
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError("The `data_format` argument must be one of {'channels_first', "
                         f"'channels_last'}}. Received: data_format={data_format}")
    return data_format


def _is_int(x: Any) -> bool:
    return isinstance(x, Integral) and not isinstance(x, bool)


class Flatten(Layer):
    """Flatten every axis but the batch axis: ``(batch, ...) -> (batch, prod(...))``.

    Parameters
    ----------
    data_format : str, optional
        ``'channels_first'`` moves axis 1 last before flattening (so the result matches a
        channels-last model); defaults to ``K.image_data_format()``.
    **kwargs
        Base layer arguments.

    Notes
    -----
    A rank-1 input ``(n,)`` becomes ``(n, 1)``.
    """

    def __init__(self, data_format: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        self.input_spec = InputSpec(min_ndim=1)

    def call(self, inputs: Tensor) -> Tensor:
        """Flatten ``inputs`` to ``(batch, features)``."""
        rank = inputs.ndim
        if self.data_format == "channels_first" and rank > 2:
            inputs = K.transpose(inputs, (0, *range(2, rank), 1))
        return K.reshape(inputs, (inputs.shape[0], math.prod(inputs.shape[1:])))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        """``(batch, prod(rest))``; None when any of ``rest`` is unknown."""
        rest = tuple(input_shape[1:])
        return (input_shape[0], None if None in rest else math.prod(rest))

    def get_config(self) -> dict:
        """Base config plus ``data_format``."""
        config = super().get_config()
        config["data_format"] = self.data_format
        return config


class Reshape(Layer):
    """Reshape the non-batch axes to ``target_shape`` (C order).

    Parameters
    ----------
    target_shape : tuple of int
        The new shape without the batch axis; one entry may be ``-1`` (inferred).
    **kwargs
        Base layer arguments.

    Raises
    ------
    TypeError
        If ``target_shape`` is not a sequence.
    ValueError
        At construction, for entries that are not integers ``>= -1`` or more than one ``-1``;
        at call, when the input's size does not fit ``target_shape``.
    """

    def __init__(self, target_shape: Sequence[int], **kwargs):
        super().__init__(**kwargs)
        if isinstance(target_shape, str) or not hasattr(target_shape, "__iter__"):
            raise TypeError("Argument `target_shape` must be a tuple or list of integers. "
                            f"Received: target_shape={target_shape!r} (of type "
                            f"{type(target_shape).__name__})")
        target_shape = tuple(target_shape)
        for d in target_shape:
            if not _is_int(d) or d < -1:
                raise ValueError("Each dimension in `target_shape` must be a non-negative "
                                 "integer, or `-1` for a single unknown dimension. Received: "
                                 f"target_shape={target_shape}.")
        if target_shape.count(-1) > 1:
            raise ValueError("There must be at most one unknown dimension (-1) in "
                             f"`target_shape`. Received: target_shape={target_shape}.")
        self.target_shape = tuple(int(d) for d in target_shape)

    def _resolve(self, rest: tuple) -> tuple:
        """The output's non-batch shape for input non-batch shape ``rest``."""
        target = self.target_shape
        if None in rest:
            return tuple(None if d == -1 else d for d in target)
        size = math.prod(rest)
        if -1 not in target:
            if size != math.prod(target):
                raise ValueError("The total size of the tensor must be unchanged. Received: "
                                 f"input_shape={rest}, target_shape={target}")
            return target
        known = math.prod(d for d in target if d != -1)
        if known == 0 or size % known:
            raise ValueError("The total size of the tensor must be unchanged, however, the "
                             "input size cannot by divided by the specified dimensions in "
                             f"target_shape. Received: input_shape={rest}, "
                             f"target_shape={target}")
        return tuple(size // known if d == -1 else d for d in target)

    def call(self, inputs: Tensor) -> Tensor:
        """Reshape ``inputs`` to ``(batch,) + target_shape``."""
        return K.reshape(inputs, (inputs.shape[0],) + self._resolve(inputs.shape[1:]))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        """``(batch,) + target_shape`` with ``-1`` resolved (None when it cannot be)."""
        return (input_shape[0],) + self._resolve(tuple(input_shape[1:]))

    def get_config(self) -> dict:
        """Base config plus ``target_shape``."""
        config = super().get_config()
        config["target_shape"] = self.target_shape
        return config


class Permute(Layer):
    """Permute the non-batch axes: output axis ``i + 1`` is input axis ``dims[i]``.

    Parameters
    ----------
    dims : tuple of int
        A permutation of ``1..n`` (1-based; the batch axis never moves).
    **kwargs
        Base layer arguments.

    Raises
    ------
    ValueError
        If ``dims`` is not a permutation of ``1..len(dims)``.
    """

    def __init__(self, dims: Sequence[int], **kwargs):
        super().__init__(**kwargs)
        if isinstance(dims, str) or not hasattr(dims, "__iter__"):
            raise TypeError(f"Argument `dims` must be a tuple of integers. Received: "
                            f"dims={dims!r} (of type {type(dims).__name__})")
        given = tuple(dims)
        if not all(_is_int(d) for d in given) or \
                sorted(given) != list(range(1, len(given) + 1)):
            raise ValueError("Invalid permutation argument `dims` for Permute Layer. The set of "
                             "indices in `dims` must be consecutive and start from 1. Received "
                             f"dims={dims}")
        self.dims = tuple(int(d) for d in given)
        self.input_spec = InputSpec(ndim=len(self.dims) + 1)

    def call(self, inputs: Tensor) -> Tensor:
        """Transpose ``inputs`` to axes ``(0,) + dims``."""
        return K.transpose(inputs, (0,) + self.dims)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        """The input shape with its non-batch entries permuted."""
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def get_config(self) -> dict:
        """Base config plus ``dims``."""
        config = super().get_config()
        config["dims"] = self.dims
        return config


class RepeatVector(Layer):
    """Repeat a ``(batch, features)`` input ``n`` times: ``(batch, n, features)``.

    Parameters
    ----------
    n : int
        Number of repetitions, positive.
    **kwargs
        Base layer arguments.

    Raises
    ------
    TypeError
        If ``n`` is not an integer.
    ValueError
        If ``n <= 0``; at call, if the input is not 2-D.
    """

    def __init__(self, n: int, **kwargs):
        super().__init__(**kwargs)
        if not _is_int(n):
            raise TypeError(f"Expected an integer value for `n`, got {type(n)}.")
        if n <= 0:
            raise ValueError(f"Argument `n` should be a positive integer. Received: n={n}")
        self.n = int(n)
        self.input_spec = InputSpec(ndim=2)

    def call(self, inputs: Tensor) -> Tensor:
        """Repeat ``inputs`` along a new axis 1."""
        return K.repeat(inputs, self.n)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        """``(batch, n, features)``."""
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self) -> dict:
        """Base config plus ``n``."""
        config = super().get_config()
        config["n"] = self.n
        return config
