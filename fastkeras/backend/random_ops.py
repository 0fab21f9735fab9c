"""Random tensors and dropout.

A given ``seed`` always gives the same numbers. Without one, a seed is drawn from numpy's global
generator, as Keras 2 did, so ``np.random.seed(...)`` makes unseeded calls reproducible too.
"""

from __future__ import annotations

from numbers import Real
from typing import Any, Sequence

import numpy as np

from fastkeras.backend.config import floatx
from fastkeras.backend.tensor import Tensor, Variable, convert_to_tensor, make


def _generator(seed: int | None) -> np.random.Generator:
    if seed is None:
        seed = np.random.randint(10_000_000)
    return np.random.default_rng(seed)


def _shape(shape: Any) -> tuple:
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(s) for s in np.asarray(shape.value if isinstance(shape, Tensor) else shape,
                                            dtype=np.int64).reshape(-1))


def random_uniform(shape: Sequence[int], minval: float = 0.0, maxval: float = 1.0,
                   dtype: str | None = None, seed: int | None = None) -> Tensor:
    """Uniform draws from ``[minval, maxval)``."""
    values = _generator(seed).uniform(minval, maxval, _shape(shape))
    return Tensor(values.astype(dtype or floatx()))


def random_normal(shape: Sequence[int], mean: float = 0.0, stddev: float = 1.0,
                  dtype: str | None = None, seed: int | None = None) -> Tensor:
    """Normal draws with the given ``mean`` and ``stddev``."""
    values = _generator(seed).normal(mean, stddev, _shape(shape))
    return Tensor(values.astype(dtype or floatx()))


def truncated_normal(shape: Sequence[int], mean: float = 0.0, stddev: float = 1.0,
                     dtype: str | None = None, seed: int | None = None) -> Tensor:
    """Normal draws, with any draw more than two ``stddev`` from ``mean`` drawn again."""
    rng = _generator(seed)
    values = rng.standard_normal(_shape(shape))
    outside = np.abs(values) > 2
    while outside.any():
        values[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(values) > 2
    return Tensor((values * stddev + mean).astype(dtype or floatx()))


def random_binomial(shape: Sequence[int], p: float = 0.0, dtype: str | None = None,
                    seed: int | None = None) -> Tensor:
    """Bernoulli draws: 1 with probability ``p``, else 0."""
    values = _generator(seed).random(_shape(shape)) < p
    return Tensor(values.astype(dtype or floatx()))


def random_uniform_variable(shape: Sequence[int], low: float, high: float,
                            dtype: str | None = None, name: str | None = None,
                            seed: int | None = None) -> Variable:
    """A :class:`Variable` holding :func:`random_uniform` draws from ``[low, high)``."""
    return Variable(random_uniform(shape, low, high, dtype, seed).value, dtype=dtype, name=name)


def random_normal_variable(shape: Sequence[int], mean: float, scale: float,
                           dtype: str | None = None, name: str | None = None,
                           seed: int | None = None) -> Variable:
    """A :class:`Variable` holding :func:`random_normal` draws."""
    return Variable(random_normal(shape, mean, scale, dtype, seed).value, dtype=dtype, name=name)


def dropout(x: Any, level: float, noise_shape: Sequence[int | None] | None = None,
            seed: int | None = None) -> Tensor:
    """Zero entries of ``x`` with probability ``level`` and scale the rest by ``1 / (1 - level)``.

    ``noise_shape`` (one entry per axis of ``x``, each the axis size or 1; None means the axis
    size) shapes the keep-mask, which is broadcast over ``x``. ``level == 1`` gives zeros,
    ``level == 0`` returns ``x`` unchanged.

    Raises
    ------
    TypeError
        If ``level`` is not a number.
    ValueError
        If ``level`` is outside ``[0, 1]`` or ``noise_shape`` does not broadcast to ``x``.
    """
    if isinstance(level, bool) or not isinstance(level, Real):
        raise TypeError(f"Invalid value received for argument `level`. Expected a float value "
                        f"between 0 and 1. Received: level={level!r}")
    if not 0 <= level <= 1:
        raise ValueError(f"Invalid value received for argument `level`. Expected a float value "
                         f"between 0 and 1. Received: level={level}")
    x = convert_to_tensor(x)
    if noise_shape is None:
        mask_shape = x.shape
    else:
        mask_shape = tuple(x.shape[i] if (i < x.ndim and s is None) else s
                           for i, s in enumerate(noise_shape))
        if len(mask_shape) != x.ndim or any(
                s not in (1, n) for s, n in zip(mask_shape, x.shape)):
            raise ValueError(
                f"`noise_shape` {tuple(noise_shape)} does not broadcast to the input shape "
                f"{x.shape}: it needs one entry per axis, each 1, None or the axis size.")
    if level == 0:
        return x
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(floatx())
    if level == 1:
        scale = np.zeros(mask_shape, dtype=dtype)
    else:
        keep = _generator(seed).random(mask_shape) >= level
        scale = keep.astype(dtype) * (1 / (1 - level))
    return make(x.value * scale, (x,), lambda g: (g * scale,), "dropout")
