"""Dropout and SpatialDropout1D/2D/3D on the counter-based mask kernel.

A layer's masks come from ``(seed, call counter, element index)`` (see
:mod:`fastkeras.kernels.masks`): a layer built with ``seed=`` draws the same sequence of masks in
every run, whatever the thread count; an unseeded layer draws its seed once from numpy's global
generator (so ``np.random.seed`` makes it reproducible too). Each training call advances the
counter, so every call draws a fresh mask; the backward pass regenerates the call's mask from the
same key instead of storing it.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, Sequence

import numpy as np

from fastkeras.backend.tensor import Tensor, make
from fastkeras.engine.base_layer import Layer
from fastkeras.engine.input_spec import InputSpec
from fastkeras.kernels import masks
from fastkeras.layers.reshaping import standardize_data_format

__all__ = ["Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "dropout"]

_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def dropout(x: Tensor, rate: float, noise_shape: Sequence[int], seed: int,
            counter: int) -> Tensor:
    """Inverted dropout of ``x`` with the mask of ``(seed, counter)``, as one recorded op.

    Parameters
    ----------
    x : Tensor
        Float input.
    rate : float
        Fraction dropped, in ``[0, 1]``.
    noise_shape : sequence of int
        The concrete mask shape, broadcastable to ``x`` (entries 1 or the axis size).
    seed, counter : int
        Select the mask (see :mod:`fastkeras.kernels.masks`).

    Returns
    -------
    Tensor
        ``x / (1 - rate)`` where kept, 0 where dropped; its gradient regenerates the mask.
    """
    value = x.value
    dtype = value.dtype
    work = dtype if dtype in _KERNEL_DTYPES else np.dtype(np.float32)
    dims, strides, _ = masks.broadcast_layout(value.shape, noise_shape)
    key = masks.stream_key(seed, counter)
    threshold = masks.keep_threshold(rate)
    keep_prob = work.type(1.0 - rate)

    dense = dims.size == 1 and strides[0] == 1

    def apply(src: np.ndarray) -> np.ndarray:
        src = np.ascontiguousarray(src, dtype=work)
        out = np.empty(src.shape, dtype=work)
        if dense:
            masks.dropout_dense(src.reshape(-1), out.reshape(-1), key, threshold, keep_prob)
        elif src.size:
            rows = (-1, int(dims[-1]))
            masks.dropout_broadcast(src.reshape(rows), out.reshape(rows), dims, strides, key,
                                    threshold, keep_prob)
        return out if work == dtype else out.astype(dtype)

    return make(apply(value), (x,), lambda g: (apply(g),), "dropout")


def _validate_rate(rate: Any) -> float:
    if isinstance(rate, bool) or not isinstance(rate, Real):
        raise TypeError("Invalid value received for argument `rate`. Expected a float value "
                        f"between 0 and 1. Received: rate={rate!r} (of type {type(rate).__name__})")
    if not 0 <= rate <= 1:
        raise ValueError("Invalid value received for argument `rate`. Expected a float value "
                         f"between 0 and 1. Received: rate={rate}")
    return rate.item() if isinstance(rate, np.generic) else rate


def _validate_seed(seed: Any) -> int | None:
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, Integral):
        raise ValueError(f"Argument `seed` must be an integer. Received: seed={seed!r}")
    return int(seed)


def _validate_noise_shape(noise_shape: Any) -> tuple | None:
    if noise_shape is None:
        return None
    if isinstance(noise_shape, str):
        raise ValueError("Invalid value received for argument `noise_shape`. Expected a tuple "
                         f"or list of integers. Received: noise_shape={noise_shape}")
    try:
        noise_shape = tuple(noise_shape)
    except TypeError:
        raise ValueError("Invalid value received for argument `noise_shape`. Expected an "
                         "iterable of integers (e.g., a tuple or list). Received: "
                         f"noise_shape={noise_shape}") from None
    out = []
    for i, dim in enumerate(noise_shape):
        if dim is not None:
            if isinstance(dim, bool) or not isinstance(dim, Integral):
                raise ValueError("Invalid value received for argument `noise_shape`. Expected "
                                 "all elements to be integers or None. Received element at "
                                 f"index {i}: {dim} (type: {type(dim).__name__})")
            if dim <= 0:
                raise ValueError("Invalid value received for argument `noise_shape`. Expected "
                                 "all dimensions to be positive integers or None. Received "
                                 f"negative or zero value at index {i}: {dim}")
            dim = int(dim)
        out.append(dim)
    return tuple(out)


class Dropout(Layer):
    """Randomly zero a fraction ``rate`` of the inputs in training; scale the rest by
    ``1 / (1 - rate)``. The identity at inference.

    Parameters
    ----------
    rate : float
        Fraction of the inputs to drop, in ``[0, 1]`` (1 drops everything).
    noise_shape : tuple of int or None, optional
        Shape of the keep-mask, broadcast over the input (e.g. ``(None, 1, features)`` shares
        one mask over all timesteps); None entries take the input's size on that axis.
    seed : int, optional
        Makes the sequence of masks reproducible.
    **kwargs
        Base :class:`~fastkeras.engine.base_layer.Layer` arguments.

    Raises
    ------
    TypeError
        If ``rate`` is not a number.
    ValueError
        If ``rate`` is outside ``[0, 1]``, ``noise_shape`` is not a sequence of positive ints
        and None, or ``seed`` is not an int; at call, if ``noise_shape`` does not broadcast to
        the input.

    Examples
    --------
    >>> out = Dropout(0.5, seed=1)(np.ones((2, 4)), training=True)
    >>> sorted(set(out.ravel().tolist()))   # dropped, or kept and scaled by 1 / (1 - 0.5)
    [0.0, 2.0]
    >>> Dropout(0.5)(np.ones((1, 3)))        # inference: the identity
    array([[1., 1., 1.]], dtype=float32)
    """

    supports_masking = True

    def __init__(self, rate: float, noise_shape: Sequence[int | None] | None = None,
                 seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _validate_rate(rate)
        self.noise_shape = _validate_noise_shape(noise_shape)
        self.seed = _validate_seed(seed)
        self._stream_seed = self.seed
        self._counter = 0

    def call(self, inputs: Tensor, training: bool = False) -> Tensor:
        """Apply dropout when ``training`` is true and ``rate > 0``; otherwise return inputs."""
        if not training or self.rate == 0:
            return inputs
        noise_shape = self._concrete_noise_shape(inputs.shape)
        if self._stream_seed is None:
            self._stream_seed = int(np.random.randint(0, 2**62, dtype=np.int64))
        counter = self._counter
        self._counter += 1
        return dropout(inputs, self.rate, noise_shape, self._stream_seed, counter)

    def _concrete_noise_shape(self, shape: tuple) -> tuple:
        """The mask shape for an input of ``shape``: None entries take the input's size on that
        axis (counted from the left, as Keras does), checked to broadcast to ``shape``."""
        if self.noise_shape is None:
            return shape
        noise = tuple(shape[i] if d is None and i < len(shape) else d
                      for i, d in enumerate(self.noise_shape))
        if None in noise or len(noise) > len(shape) or any(
                n not in (1, s) for n, s in zip(noise[::-1], shape[::-1])):
            raise ValueError(
                f"Layer '{self.name}': `noise_shape` {self.noise_shape} does not broadcast to the "
                f"input shape {tuple(shape)}; each entry must be None, 1 or the input's size on "
                "that axis.")
        return noise

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        """Dropout keeps the shape."""
        return input_shape

    def get_config(self) -> dict:
        """Base config plus ``rate``, ``seed`` and ``noise_shape``."""
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed, "noise_shape": self.noise_shape})
        return config


class _SpatialDropout(Dropout):
    """Dropout of whole feature maps: one mask entry per (sample, channel)."""

    _rank = 0  # the input rank, set by each subclass

    def __init__(self, rate: float, data_format: str | None = None, seed: int | None = None,
                 name: str | None = None, dtype: Any = None, **kwargs):
        if "noise_shape" in kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got an unexpected keyword "
                            "argument 'noise_shape' (the mask shape is fixed: one entry per "
                            "sample and channel)")
        super().__init__(rate, seed=seed, name=name, dtype=dtype, **kwargs)
        self.data_format = standardize_data_format(data_format)
        self.input_spec = InputSpec(ndim=self._rank)

    def _concrete_noise_shape(self, shape: tuple) -> tuple:
        spatial = (1,) * (len(shape) - 2)
        if self.data_format == "channels_first":
            return (shape[0], shape[1]) + spatial
        return (shape[0],) + spatial + (shape[-1],)

    def get_config(self) -> dict:
        """``rate``, ``seed``, ``name``, ``dtype`` and ``data_format`` (Keras 3's keys)."""
        return {"rate": self.rate, "seed": self.seed, "name": self.name, "dtype": self.dtype,
                "data_format": self.data_format}


class SpatialDropout1D(_SpatialDropout):
    """Dropout of whole 1D feature maps (channels) of a ``(batch, steps, channels)`` input.

    Parameters
    ----------
    rate : float
        Fraction of the channels to drop, in ``[0, 1]``.
    seed : int, optional
        Makes the sequence of masks reproducible.
    name, dtype : optional
        Base layer arguments (``trainable`` and the Keras 2 shape arguments are accepted too).
    """

    _rank = 3

    def __init__(self, rate: float, seed: int | None = None, name: str | None = None,
                 dtype: Any = None, **kwargs):
        super().__init__(rate, data_format="channels_last", seed=seed, name=name, dtype=dtype,
                         **kwargs)

    def get_config(self) -> dict:
        """``rate``, ``seed``, ``name`` and ``dtype`` (Keras 3's keys)."""
        config = super().get_config()
        del config["data_format"]
        return config


class SpatialDropout2D(_SpatialDropout):
    """Dropout of whole 2D feature maps (channels) of a 4D input.

    Parameters
    ----------
    rate : float
        Fraction of the channels to drop, in ``[0, 1]``.
    data_format : str, optional
        ``'channels_last'`` (``(b, h, w, c)``) or ``'channels_first'`` (``(b, c, h, w)``);
        defaults to ``K.image_data_format()``.
    seed : int, optional
        Makes the sequence of masks reproducible.
    name, dtype : optional
        Base layer arguments.
    """

    _rank = 4


class SpatialDropout3D(_SpatialDropout):
    """Dropout of whole 3D feature maps (channels) of a 5D input.

    Parameters
    ----------
    rate : float
        Fraction of the channels to drop, in ``[0, 1]``.
    data_format : str, optional
        ``'channels_last'`` (``(b, d1, d2, d3, c)``) or ``'channels_first'``
        (``(b, c, d1, d2, d3)``); defaults to ``K.image_data_format()``.
    seed : int, optional
        Makes the sequence of masks reproducible.
    name, dtype : optional
        Base layer arguments.
    """

    _rank = 5
