"""InputSpec: the rank, shape and dtype a layer accepts, and the check that enforces it."""

from __future__ import annotations

from typing import Any

import numpy as np

from fastkeras.engine import structure


def standardize_dtype(dtype: Any) -> str | None:
    """Return a dtype as its numpy name (``np.float32`` -> ``'float32'``); None stays None."""
    return None if dtype is None else np.dtype(dtype).name


def standardize_shape(shape: Any) -> tuple:
    """Return ``shape`` as a tuple of non-negative ints and None.

    Raises
    ------
    ValueError
        When ``shape`` is not iterable, or holds a negative, float or string dimension.
    """
    if isinstance(shape, (int, np.integer)) or not hasattr(shape, "__iter__") \
            or isinstance(shape, str):
        raise ValueError(f"Cannot convert '{shape}' to a shape.")
    shape = tuple(shape)
    out = []
    for d in shape:
        if d is None:
            out.append(None)
            continue
        if isinstance(d, (str, float, np.floating)) or not isinstance(d, (int, np.integer)):
            raise ValueError(f"Cannot convert '{shape}' to a shape. Found invalid dimension "
                             f"'{d}' of type '{type(d)}'.")
        if d < 0:
            raise ValueError(f"Cannot convert '{shape}' to a shape. Negative dimensions are "
                             "not allowed.")
        out.append(int(d))
    return tuple(out)


class InputSpec:
    """Specifies the rank, dtype and shape of every input to a layer.

    Parameters
    ----------
    dtype : str, optional
        Expected dtype of the input.
    shape : tuple, optional
        Expected shape including the batch axis; ``None`` entries match any size.
    ndim, max_ndim, min_ndim : int, optional
        Expected, maximum and minimum rank.
    axes : dict, optional
        ``{axis: size}`` for axes whose size is fixed, e.g. ``{-1: 4}``.
    allow_last_axis_squeeze : bool
        Accept a rank one higher with a trailing axis of 1 (or one lower when the spec ends in 1).
    name : str, optional
        The input's key when inputs are passed as a dict.
    optional : bool
        Whether the input may be None.
    """

    def __init__(self, dtype: Any = None, shape: Any = None, ndim: int | None = None,
                 max_ndim: int | None = None, min_ndim: int | None = None,
                 axes: dict | None = None, allow_last_axis_squeeze: bool = False,
                 name: str | None = None, optional: bool = False):
        self.dtype = standardize_dtype(dtype) if dtype is not None else None
        if shape is not None:
            self.shape = standardize_shape(shape)
            self.ndim = len(self.shape)
        else:
            self.shape = None
            self.ndim = ndim
        self.max_ndim = max_ndim
        self.min_ndim = min_ndim
        self.name = name
        self.optional = optional
        self.allow_last_axis_squeeze = allow_last_axis_squeeze
        axes = axes or {}
        try:
            self.axes = {int(k): axes[k] for k in axes}
        except (ValueError, TypeError):
            raise TypeError(
                f"Argument `axes` must be a dict with integer keys. Received: axes={axes}"
            ) from None
        if self.axes and (self.ndim is not None or self.max_ndim is not None):
            max_dim = (self.ndim if self.ndim else self.max_ndim) - 1
            if max(self.axes) > max_dim:
                raise ValueError(
                    f"Axis {max(self.axes)} is greater than the maximum allowed value: {max_dim}")

    def __repr__(self) -> str:
        parts = [f"{k}={getattr(self, k)}" for k in ("dtype", "shape", "ndim", "max_ndim",
                                                     "min_ndim", "axes") if getattr(self, k)]
        return f"InputSpec({', '.join(parts)})"

    def get_config(self) -> dict:
        """Return the spec's constructor arguments."""
        return {"dtype": self.dtype, "shape": self.shape, "ndim": self.ndim,
                "max_ndim": self.max_ndim, "min_ndim": self.min_ndim, "axes": self.axes,
                "optional": self.optional}

    @classmethod
    def from_config(cls, config: dict) -> "InputSpec":
        """Rebuild a spec from :meth:`get_config`'s output."""
        return cls(**config)


def assert_input_compatibility(input_spec: Any, inputs: Any, layer_name: str) -> None:
    """Raise ``ValueError`` when ``inputs`` (tensors or anything with ``.shape``) break the spec.

    ``input_spec`` is an :class:`InputSpec`, a (nested) list of them, or None.
    """
    if not input_spec:
        return
    specs = structure.flatten(input_spec)
    if isinstance(inputs, dict):
        names = [s.name for s in specs if s is not None]
        if len(names) == len(specs) and all(names):
            missing = [n for n in names if n not in inputs]
            if missing:
                raise ValueError(
                    f'Missing data for input "{missing[0]}". You passed a data dictionary with '
                    f"keys {list(inputs)}. Expected the following keys: {names}")
            inputs = [inputs[n] for n in names]
    flat = structure.flatten(inputs)
    if len(flat) != len(specs):
        names = [s.name for s in specs if s is not None]
        if len(names) == len(specs) and all(names):
            keys = ", ".join(f"'{n}': ..." for n in names)
            raise ValueError(
                f'Layer "{layer_name}" expects {len(specs)} named input(s) with keys {names}, '
                f"but it received {len(flat)} input tensors. Pass inputs as a dict, e.g. "
                f"`layer({{{keys}}})`.")
        raise ValueError(
            f'Layer "{layer_name}" expects {len(specs)} input(s), but it received '
            f"{len(flat)} input tensors.")
    for index, (x, spec) in enumerate(zip(flat, specs)):
        if spec is None or (x is None and spec.optional):
            continue
        if not hasattr(x, "shape"):
            raise ValueError(
                f"Inputs to a layer should be tensors. Got '{x}' (of type {type(x)}) as input "
                f"for layer '{layer_name}'.")
        _check_one(spec, tuple(x.shape), getattr(x, "dtype", None), index,
                   layer_name)


def _check_one(spec: InputSpec, shape: tuple, dtype: Any, index: int, layer_name: str) -> None:
    head = (f"Input {index} with name '{spec.name}' of layer '{layer_name}' is incompatible "
            "with the layer: ")
    ndim = len(shape)
    if spec.ndim is not None and not spec.allow_last_axis_squeeze and ndim != spec.ndim:
        raise ValueError(head + f"expected ndim={spec.ndim}, found ndim={ndim}. "
                         f"Full shape received: {shape}")
    if spec.max_ndim is not None and ndim > spec.max_ndim:
        raise ValueError(head + f"expected max_ndim={spec.max_ndim}, found ndim={ndim}. "
                         f"Full shape received: {shape}")
    if spec.min_ndim is not None and ndim < spec.min_ndim:
        raise ValueError(head + f"expected min_ndim={spec.min_ndim}, found ndim={ndim}. "
                         f"Full shape received: {shape}")
    if spec.dtype is not None and dtype is not None:
        found = standardize_dtype(dtype)
        if found != spec.dtype:
            raise ValueError(head + f"expected dtype={spec.dtype}, found dtype={found}")
    for axis, value in spec.axes.items():
        if value is None:
            continue
        if not -ndim <= axis < ndim:
            raise ValueError(head + f"expected axis {axis} of input shape to have value "
                             f"{value}, but received input with shape {shape}")
        if shape[axis] not in (value, None):
            raise ValueError(head + f"expected axis {axis} of input shape to have value "
                             f"{value}, but received input with shape {shape}")
    if spec.shape is not None:
        spec_shape, got = spec.shape, shape
        if spec.allow_last_axis_squeeze:
            if got and got[-1] == 1:
                got = got[:-1]
            if spec_shape and spec_shape[-1] == 1:
                spec_shape = spec_shape[:-1]
        mismatch = len(spec_shape) != len(got) and not spec.allow_last_axis_squeeze
        mismatch = mismatch or any(s is not None and d is not None and s != d
                                   for s, d in zip(spec_shape, got))
        if mismatch:
            raise ValueError(head + f"expected shape={spec.shape}, found shape={shape}")
