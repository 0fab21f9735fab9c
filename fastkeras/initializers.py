"""Weight initializers with Keras 3's classes, formulas, defaults, names and configs.

An initializer is called as ``init(shape, dtype=None)`` and returns a numpy array (dtype defaults
to floatx). Random initializers draw from ``numpy.random.default_rng(seed)`` afresh on every
call, so an instance repeats its values; an unseeded instance picks its seed from Python's
``random`` module when it is created, as Keras does.

This module also holds the identifier lookup that :mod:`fastkeras.regularizers`,
:mod:`fastkeras.constraints` and :mod:`fastkeras.activations` share: :func:`deserialize_object`,
:func:`get_object` and :func:`unknown_identifier`.
"""

from __future__ import annotations

import math
import random
from typing import Any, Callable

import numpy as np

from fastkeras.backend.config import floatx
from fastkeras.backend.tensor import Tensor
from fastkeras.engine.base_layer import to_snake_case
from fastkeras.engine.serialization import (
    deserialize_keras_object, get_custom_objects, serialize_keras_object,
)

_MODULE = "fastkeras.initializers"


# -- shared lookup helpers -------------------------------------------------------------------

def unknown_identifier(kind: str, identifier: Any, names: dict) -> ValueError:
    """The "Could not interpret {kind} identifier" error, listing the lowercase names."""
    valid = ", ".join(sorted(n for n in names if n[:1].islower()))
    classes = " (or its class name)" if any(n[:1].isupper() for n in names) else ""
    return ValueError(f"Could not interpret {kind} identifier: {identifier}. Expected a "
                      f"callable, a config dict or one of: {valid}{classes}")


def deserialize_object(config: Any, module: str, builtins: dict, kind: str,
                       custom_objects: dict | None = None) -> Any:
    """Rebuild an object from a name or a ``{'module', 'class_name', 'config', ...}`` dict.

    A name is looked up in ``custom_objects``, then among registered custom objects, then in
    ``builtins``; a class found by name is built with no arguments. A dict goes through the
    engine's :func:`~fastkeras.engine.serialization.deserialize_keras_object`, with Keras's own
    module names (``'keras.initializers'``) read as ``module``.
    """
    if isinstance(config, str):
        obj = {**builtins, **get_custom_objects(), **(custom_objects or {})}.get(config)
        if obj is None:
            raise unknown_identifier(kind, config, builtins)
        return obj() if isinstance(obj, type) else obj
    if isinstance(config, dict) and isinstance(config.get("class_name"), str):
        source = config.get("module")
        if source is None or source == "keras" or str(source).startswith("keras."):
            config = {**config, "module": module}
        return deserialize_keras_object(config, custom_objects)
    raise unknown_identifier(kind, config, builtins)


def get_object(identifier: Any, module: str, builtins: dict, kind: str) -> Any:
    """Keras's ``get``: None, a name, a config dict, a class (instantiated) or a callable."""
    if identifier is None:
        return None
    if isinstance(identifier, (str, dict)):
        return deserialize_object(identifier, module, builtins, kind)
    if isinstance(identifier, type):
        return identifier()
    if callable(identifier):
        return identifier
    raise unknown_identifier(kind, identifier, builtins)


# -- helpers -----------------------------------------------------------------------------------

def _shape(shape: Any) -> tuple:
    try:
        dims = tuple(shape)
    except TypeError:
        dims = (shape,)
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 0:
            raise ValueError(f"Invalid shape {shape!r}: expected a tuple of non-negative integers.")
    return tuple(int(d) for d in dims)


def _float_dtype(dtype: Any, who: str) -> np.dtype:
    dt = np.dtype(floatx() if dtype is None else dtype)
    if dt.kind != "f":
        raise ValueError(f"{who} only supports floating point dtypes; received dtype={dt.name}.")
    return dt


def compute_fans(shape: tuple, input_axes: Any = None, output_axes: Any = None) -> tuple:
    """(fan_in, fan_out) of a weight shape, as Keras computes them.

    Rank 0 -> (1, 1); rank 1 ``(n,)`` -> (n, n); ``(a, b)`` -> (a, b); rank >= 3 (convolution
    kernels ``(..., in, out)``) -> ``(in * R, out * R)`` with R the product of the leading axes.
    ``input_axes``/``output_axes``, when both given, name the axes whose product is each fan.
    """
    shape = tuple(shape)
    if input_axes is not None and output_axes is not None:
        return (int(np.prod([shape[a] for a in input_axes])),
                int(np.prod([shape[a] for a in output_axes])))
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


def _truncated_standard_normal(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Standard normal draws, each redrawn until it lies strictly inside (-2, 2)."""
    out = rng.standard_normal(shape)
    bad = np.flatnonzero(np.abs(out) >= 2.0)
    flat = out.reshape(-1)
    while bad.size:
        flat[bad] = rng.standard_normal(bad.size)
        bad = bad[np.abs(flat[bad]) >= 2.0]
    return out


# -- base classes ------------------------------------------------------------------------------

class Initializer:
    """Base class: subclasses implement ``__call__(shape, dtype=None)`` and ``get_config``."""

    def __call__(self, shape: Any, dtype: Any = None) -> np.ndarray:
        raise NotImplementedError("Initializer subclasses must implement the `__call__()` method.")

    def get_config(self) -> dict:
        """Return the constructor arguments as a JSON-serializable dict."""
        return {}

    @classmethod
    def from_config(cls, config: dict) -> "Initializer":
        """Rebuild an initializer from :meth:`get_config`'s output."""
        return cls(**config)

    def clone(self) -> "Initializer":
        """Return a new initializer with the same configuration."""
        return self.__class__.from_config(self.get_config())

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.get_config()}>"


class RandomInitializer(Initializer):
    """Base of the random initializers: holds the seed.

    Parameters
    ----------
    seed : int, optional
        Seeds every call identically; None picks a random seed once, at construction.
    """

    def __init__(self, seed: int | None = None):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(f"`seed` argument should be an integer. Received: seed={seed}")
        self._init_seed = None if seed is None else int(seed)
        self.seed = random.randint(1, int(1e9)) if seed is None else int(seed)

    def _rng(self) -> np.random.Generator:
        return np.random.default_rng(self.seed)

    def get_config(self) -> dict:
        return {"seed": self._init_seed}


# -- constant initializers ---------------------------------------------------------------------

class Zeros(Initializer):
    """All zeros (any dtype)."""

    def __call__(self, shape: Any, dtype: Any = None) -> np.ndarray:
        return np.zeros(_shape(shape), dtype=floatx() if dtype is None else dtype)


class Ones(Initializer):
    """All ones (any dtype)."""

    def __call__(self, shape: Any, dtype: Any = None) -> np.ndarray:
        return np.ones(_shape(shape), dtype=floatx() if dtype is None else dtype)


class Constant(Initializer):
    """Every entry equal to ``value`` (a scalar, or an array broadcastable to the shape).

    Parameters
    ----------
    value : float or array_like
    """

    def __init__(self, value: Any = 0.0):
        self.value = value

    def __call__(self, shape: Any, dtype: Any = None) -> np.ndarray:
        shape = _shape(shape)
        value = np.asarray(self.value)
        try:
            out = np.broadcast_to(value, shape)
        except ValueError:
            raise ValueError(f"Constant initializer value of shape {value.shape} cannot be "
                             f"broadcast to the requested shape {shape}.") from None
        return np.array(out, dtype=floatx() if dtype is None else dtype)

    def get_config(self) -> dict:
        return {"value": serialize_keras_object(self.value)}

    @classmethod
    def from_config(cls, config: dict) -> "Constant":
        return cls(deserialize_keras_object(config.get("value", 0.0)))


class Identity(Initializer):
    """``gain * eye(rows, cols)``; 2-D shapes only.

    Parameters
    ----------
    gain : float
    """

    def __init__(self, gain: float = 1.0):
        self.gain = gain

    def __call__(self, shape: Any, dtype: Any = None) -> np.ndarray:
        shape = _shape(shape)
        if len(shape) != 2:
            raise ValueError("Identity matrix initializer can only be used for 2D matrices. "
                             f"Received: shape={shape} of rank {len(shape)}.")
        dt = np.dtype(floatx() if dtype is None else dtype)
        return (self.gain * np.eye(*shape)).astype(dt)

    def get_config(self) -> dict:
        return {"gain": self.gain}


# -- random initializers -----------------------------------------------------------------------

class RandomUniform(RandomInitializer):
    """Uniform on ``[minval, maxval)``.

    Parameters
    ----------
    minval, maxval : float
    seed : int, optional
    """

    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None):
        self.minval = minval
        self.maxval = maxval
        super().__init__(seed=seed)

    def __call__(self, shape: Any, dtype: Any = None) -> np.ndarray:
        dt = _float_dtype(dtype, "RandomUniform")
        return self._rng().uniform(self.minval, self.maxval, _shape(shape)).astype(dt)

    def get_config(self) -> dict:
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


class _Gaussian(RandomInitializer):
    """``mean + stddev * draws``, the standard draws coming from the subclass's
    ``_draws(rng, shape)``."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None):
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed=seed)

    def __call__(self, shape: Any, dtype: Any = None) -> np.ndarray:
        dt = _float_dtype(dtype, type(self).__name__)
        return (self.mean + self.stddev * self._draws(self._rng(), _shape(shape))).astype(dt)

    def get_config(self) -> dict:
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class RandomNormal(_Gaussian):
    """Normal with ``mean`` and ``stddev``.

    Parameters
    ----------
    mean, stddev : float
    seed : int, optional
    """

    @staticmethod
    def _draws(rng: np.random.Generator, shape: tuple) -> np.ndarray:
        return rng.standard_normal(shape)


class TruncatedNormal(_Gaussian):
    """Normal with ``mean`` and ``stddev``, each value redrawn until within 2 stddev of the mean.

    Parameters
    ----------
    mean, stddev : float
    seed : int, optional
    """

    _draws = staticmethod(_truncated_standard_normal)


class VarianceScaling(RandomInitializer):
    """Samples scaled to the weight's fans: ``s = scale / max(1, n)``.

    ``n`` is fan_in, fan_out or their mean (``mode``). ``distribution='truncated_normal'``
    (alias ``'normal'``) draws a normal of std ``sqrt(s) / 0.87962566103423978`` cut at 2 std;
    ``'untruncated_normal'`` a normal of std ``sqrt(s)``; ``'uniform'`` U[-sqrt(3 s), sqrt(3 s)].

    Parameters
    ----------
    scale : float
        Positive.
    mode : {'fan_in', 'fan_out', 'fan_avg'}
    distribution : {'truncated_normal', 'normal', 'untruncated_normal', 'uniform'}
    seed : int, optional
    input_axes, output_axes : sequence of int, optional
        Axes whose product is fan_in / fan_out (both must be given).
    """

    def __init__(self, scale: float = 1.0, mode: str = "fan_in",
                 distribution: str = "truncated_normal", seed: int | None = None,
                 input_axes: Any = None, output_axes: Any = None):
        if isinstance(scale, bool) or not isinstance(scale, (int, float, np.number)) \
                or not scale > 0.0:
            raise ValueError(f"Argument `scale` must be positive float. Received: scale={scale}")
        modes = {"fan_in", "fan_out", "fan_avg"}
        if mode not in modes:
            raise ValueError(f"Invalid `mode` argument: {mode}. Please use one of {modes}")
        dists = {"uniform", "truncated_normal", "untruncated_normal"}
        dist = distribution.lower() if isinstance(distribution, str) else distribution
        dist = "truncated_normal" if dist == "normal" else dist
        if dist not in dists:
            raise ValueError(f"Invalid `distribution` argument: {distribution}. "
                             f"Please use one of {dists}")
        self.scale = scale
        self.mode = mode
        self.distribution = dist
        self.input_axes = input_axes
        self.output_axes = output_axes
        super().__init__(seed=seed)

    def __call__(self, shape: Any, dtype: Any = None) -> np.ndarray:
        dt = _float_dtype(dtype, type(self).__name__)
        shape = _shape(shape)
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        s = self.scale / max(1.0, n)
        rng = self._rng()
        if self.distribution == "truncated_normal":
            out = math.sqrt(s) / 0.87962566103423978 * _truncated_standard_normal(rng, shape)
        elif self.distribution == "untruncated_normal":
            out = math.sqrt(s) * rng.standard_normal(shape)
        else:
            limit = math.sqrt(3.0 * s)
            out = rng.uniform(-limit, limit, shape)
        return out.astype(dt)

    def get_config(self) -> dict:
        return {**super().get_config(), "scale": self.scale, "mode": self.mode,
                "distribution": self.distribution, "input_axes": self.input_axes,
                "output_axes": self.output_axes}


class _FixedVarianceScaling(VarianceScaling):
    """A VarianceScaling preset: only ``seed`` and the fan axes are arguments."""

    _preset: tuple = ()

    def __init__(self, seed: int | None = None, input_axes: Any = None, output_axes: Any = None):
        scale, mode, distribution = self._preset
        super().__init__(scale=scale, mode=mode, distribution=distribution, seed=seed,
                         input_axes=input_axes, output_axes=output_axes)

    def get_config(self) -> dict:
        return {"seed": self._init_seed, "input_axes": self.input_axes,
                "output_axes": self.output_axes}


class GlorotUniform(_FixedVarianceScaling):
    """U[-limit, limit], ``limit = sqrt(6 / (fan_in + fan_out))`` (Keras's default kernel init)."""

    _preset = (1.0, "fan_avg", "uniform")


class GlorotNormal(_FixedVarianceScaling):
    """Truncated normal, std ``sqrt(2 / (fan_in + fan_out)) / 0.8796...``."""

    _preset = (1.0, "fan_avg", "truncated_normal")


class HeNormal(_FixedVarianceScaling):
    """Truncated normal, std ``sqrt(2 / fan_in) / 0.8796...``."""

    _preset = (2.0, "fan_in", "truncated_normal")


class HeUniform(_FixedVarianceScaling):
    """U[-limit, limit], ``limit = sqrt(6 / fan_in)``."""

    _preset = (2.0, "fan_in", "uniform")


class LecunNormal(_FixedVarianceScaling):
    """Truncated normal, std ``sqrt(1 / fan_in) / 0.8796...``."""

    _preset = (1.0, "fan_in", "truncated_normal")


class LecunUniform(_FixedVarianceScaling):
    """U[-limit, limit], ``limit = sqrt(3 / fan_in)``."""

    _preset = (1.0, "fan_in", "uniform")


class Orthogonal(RandomInitializer):
    """A (semi-)orthogonal matrix times ``gain``, from the QR decomposition of a normal matrix.

    Shapes of rank > 2 are treated as ``(prod(shape[:-1]), shape[-1])``.

    Parameters
    ----------
    gain : float
    seed : int, optional
    """

    def __init__(self, gain: float = 1.0, seed: int | None = None):
        self.gain = gain
        super().__init__(seed=seed)

    def __call__(self, shape: Any, dtype: Any = None) -> np.ndarray:
        dt = _float_dtype(dtype, "Orthogonal")
        shape = _shape(shape)
        if len(shape) < 2:
            raise ValueError("The tensor to initialize must be at least two-dimensional. "
                             f"Received: shape={shape} of rank {len(shape)}.")
        rows, cols = int(np.prod(shape[:-1])), shape[-1]
        a = self._rng().standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return (self.gain * q.reshape(shape)).astype(dt)

    def get_config(self) -> dict:
        return {**super().get_config(), "gain": self.gain}


# -- snake_case aliases and lookup -------------------------------------------------------------

zeros = Zeros
ones = Ones
constant = Constant
identity = Identity
random_uniform = RandomUniform
random_normal = RandomNormal
truncated_normal = TruncatedNormal
variance_scaling = VarianceScaling
glorot_uniform = GlorotUniform
glorot_normal = GlorotNormal
he_normal = HeNormal
he_uniform = HeUniform
lecun_normal = LecunNormal
lecun_uniform = LecunUniform
orthogonal = Orthogonal

_CLASSES = (Initializer, Zeros, Ones, Constant, Identity, RandomUniform, RandomNormal,
            TruncatedNormal, VarianceScaling, GlorotUniform, GlorotNormal, HeNormal, HeUniform,
            LecunNormal, LecunUniform, Orthogonal)
ALL_OBJECTS: dict[str, type] = {cls.__name__: cls for cls in _CLASSES}
ALL_OBJECTS.update({to_snake_case(cls.__name__): cls for cls in _CLASSES})
ALL_OBJECTS.update({"uniform": RandomUniform, "normal": RandomNormal, "zero": Zeros, "one": Ones,
                    "IdentityInitializer": Identity, "OrthogonalInitializer": Orthogonal})


def serialize(initializer: Initializer | None) -> dict | None:
    """Return ``{'module', 'class_name', 'config', 'registered_name'}`` (None for None)."""
    return serialize_keras_object(initializer)


def deserialize(config: Any, custom_objects: dict | None = None) -> Initializer:
    """Rebuild an initializer from :func:`serialize`'s output (or Keras's) or a name."""
    return deserialize_object(config, _MODULE, ALL_OBJECTS, "initializer", custom_objects)


def get(identifier: Any) -> Callable | None:
    """Resolve an initializer identifier.

    Accepts None, a name (``'glorot_uniform'``, ``'GlorotUniform'``, ``'uniform'``...), a config
    dict, a class (instantiated), a callable ``(shape, dtype=None)``, or an array / tensor whose
    value is used as is (the requested shape must equal the array's).
    """
    if isinstance(identifier, (np.ndarray, np.generic, Tensor)):
        value = np.asarray(identifier.value if isinstance(identifier, Tensor) else identifier)

        def initialize_fn(shape: Any, dtype: Any = None) -> np.ndarray:
            if _shape(shape) != value.shape:
                raise ValueError(f"Expected `shape` to be {value.shape} for direct tensor as "
                                 f"initializer. Received shape={tuple(shape)}")
            return value.astype(floatx() if dtype is None else dtype)
        return initialize_fn
    return get_object(identifier, _MODULE, ALL_OBJECTS, "initializer")
