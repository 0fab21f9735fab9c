"""Feeding fit/evaluate/predict: arrays, Python generators and Sequences, batch by batch.

Every source is turned into epochs of ``(x, ys, sample_weights)`` batches: ``x`` in the
structure the user gave (a model maps dicts by input name), ``ys`` a list aligned with the
model outputs (or None), ``sample_weights`` likewise (or None).
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Iterator

import numpy as np

from fastkeras.backend.tensor import Tensor
from fastkeras.engine import structure
from fastkeras.engine.prefetch import SequenceFetcher, generator_batches


def is_array(x: Any) -> bool:
    """True for what fastkeras slices as data: ndarrays, Tensors and scipy.sparse matrices."""
    return isinstance(x, (np.ndarray, Tensor)) or type(x).__module__.startswith("scipy.sparse")


def _as_array(x: Any) -> Any:
    if isinstance(x, Tensor):
        return x.value
    if isinstance(x, np.ndarray) or x is None or type(x).__module__.startswith("scipy.sparse"):
        return x
    if hasattr(x, "__array__") and not isinstance(x, (list, tuple, dict)):
        return np.asarray(x)  # pandas objects and other array-likes
    return x


def is_sequence(x: Any) -> bool:
    """True for Keras ``Sequence``/``PyDataset``-like objects: batches indexed by position with
    a length (ImageDataGenerator iterators included) or a ``num_batches`` (endless when None),
    excluding arrays and Python containers."""
    return (hasattr(x, "__getitem__") and (hasattr(x, "__len__") or hasattr(x, "num_batches"))
            and not isinstance(x, (np.ndarray, Tensor, list, tuple, dict, str))
            and not is_array(x))


def _sequence_length(x: Any) -> int | None:
    """Batches per epoch of a Sequence; None for an endless PyDataset."""
    if hasattr(x, "num_batches"):
        return x.num_batches
    return len(x)


def is_generator(x: Any) -> bool:
    """True for iterators that are not Sequences (Python generators and the like)."""
    return hasattr(x, "__next__") and not is_sequence(x)


def standardize_arrays(x: Any, label: str) -> Any:
    """Convert array-likes in ``x`` to arrays; reject Python lists of numbers and the like."""
    if x is None:
        return None
    converted = structure.map_structure(_as_array, x)
    for leaf in structure.flatten(converted):
        if leaf is not None and not is_array(leaf):
            raise ValueError(f"Unrecognized data type: {label}={_short(x)} (of type {type(x)})")
    return converted


def _short(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 200 else text[:200] + "..."


def num_samples(*datasets: Any) -> int:
    """The common first-axis length of every array in ``datasets`` (x, y, sample_weight)."""
    sizes = [[leaf.shape[0] for leaf in structure.flatten(d) if leaf is not None]
             for d in datasets]
    flat = [s for group in sizes for s in group]
    if not flat:
        raise ValueError("No data: `x` holds no arrays.")
    if any(s != flat[0] for s in flat):
        lines = [f"'{label}' sizes: {', '.join(str(s) for s in group)}"
                 for label, group in zip(("x", "y", "sample_weight"), sizes) if group]
        raise ValueError("Data cardinality is ambiguous. Make sure all arrays contain the same "
                         "number of samples. " + " | ".join(lines))
    return int(flat[0])


def class_weight_to_sample_weight(y: np.ndarray, class_weight: dict) -> np.ndarray:
    """Per-sample weights ``class_weight.get(c, 1.0)``, ``c`` the argmax of one-hot rows or the
    rounded label."""
    y = np.asarray(y)
    if y.ndim > 1:
        y = np.argmax(y, axis=-1) if y.shape[-1] != 1 else np.squeeze(y, axis=-1)
    labels = np.round(y).astype(np.int64).reshape(-1)
    weights = np.ones(labels.shape[0], dtype=np.float32)
    for cls, w in class_weight.items():
        weights[labels == int(cls)] = w
    return weights


def split_validation(arrays: list, validation_split: float) -> tuple:
    """Split each of ``arrays`` (structures) into its first and last ``validation_split`` part."""
    flat = [leaf for a in arrays for leaf in structure.flatten(a) if leaf is not None]
    for leaf in flat:
        if not is_array(leaf):
            raise ValueError("Argument `validation_split` is only supported for tensors or NumPy"
                             f" arrays. Found incompatible type in the input: {type(leaf)}")
    n = flat[0].shape[0]
    split_at = int(math.floor(n * (1.0 - validation_split)))
    if split_at == 0 or split_at == n:
        raise ValueError(
            f"Training data contains {n} samples, which is not sufficient to split it into a "
            f"validation and training set as specified by `validation_split={validation_split}`"
            ". Either provide more data, or a different value for the `validation_split` "
            "argument.")

    def part(a: Any, start: int, stop: int) -> Any:
        return None if a is None else structure.map_structure(
            lambda leaf: None if leaf is None else leaf[start:stop], a)
    return ([part(a, 0, split_at) for a in arrays], [part(a, split_at, n) for a in arrays])


def unpack_batch(batch: Any, source: str) -> tuple:
    """Split a generator/Sequence batch tuple into ``(x, y, sample_weight)``."""
    if isinstance(batch, list) and len(batch) in (2, 3):
        batch = tuple(batch)
    if not isinstance(batch, tuple) or not 1 <= len(batch) <= 3:
        raise ValueError(
            f"When passing a {source} to a fastkeras model, the {source} must return a tuple, "
            "either (input,) or (inputs, targets) or (inputs, targets, sample_weights). "
            f"Received: {_short(batch)}")
    x, y, sw = (tuple(batch) + (None, None))[:3]
    return x, y, sw


class DataHandler:
    """Epochs of batches from one data source.

    Parameters
    ----------
    x, y, sample_weight
        Arrays (single, list or dict), or ``x`` a Python generator / Sequence yielding batch
        tuples (then ``y`` and ``sample_weight`` must be None).
    targets : callable
        ``targets(y) -> list`` aligning targets (or weights) with the model outputs.
    batch_size : int, optional
        Batch size for arrays (default 32).
    steps : int, optional
        Batches per epoch; default: all of the data (arrays, Sequence) or until the
        generator is exhausted.
    shuffle : bool
        Shuffle arrays each epoch.
    class_weight : dict, optional
        Class weights turned into per-sample weights for the (single) output.
    workers, max_queue_size
        Prefetch threads and queue bound for generators and Sequences. None takes a
        ``PyDataset``'s own ``workers``/``max_queue_size`` (Keras 3), else 1 and 10.
    shuffle_sequence : bool
        With ``shuffle``, visit a Sequence's batches in a new random order each epoch
        (``fit_generator``'s Keras 2 meaning of ``shuffle``).
    """

    def __init__(self, x: Any, y: Any = None, sample_weight: Any = None, *,
                 targets: Any = None, batch_size: int | None = None,
                 steps: int | None = None, shuffle: Any = False,
                 class_weight: dict | None = None, workers: int | None = None,
                 max_queue_size: int | None = None,
                 shuffle_sequence: bool = False):
        self.targets = targets or (lambda v: None if v is None else structure.flatten(v))
        self.class_weight = class_weight
        if steps is not None and (not isinstance(steps, (int, np.integer)) or steps < 1):
            raise ValueError(f"The number of steps must be a positive integer; received {steps}.")
        self._generator = self._sequence = None
        self.exhausted = False  # set when a generator stops before giving `steps` batches
        if is_sequence(x) or is_generator(x):
            kind = "Sequence" if is_sequence(x) else "generator"
            if y is not None:
                raise ValueError(f"When providing `x` as a {kind}, `y` should not be passed. "
                                 f"Instead, the targets should be included as part of the "
                                 f"{kind}.")
            if sample_weight is not None:
                raise ValueError(f"When providing `x` as a {kind}, `sample_weight` should not "
                                 "be passed. Instead, the sample weights should be included as "
                                 f"part of the {kind}.")
            self.source = kind
            if workers is None:
                workers = int(getattr(x, "workers", 1))
            if max_queue_size is None:
                max_queue_size = int(getattr(x, "max_queue_size", 10))
            if kind == "Sequence":
                self._sequence = x
                self._length = _sequence_length(x)
                if self._length is None and steps is None:
                    raise ValueError("The dataset passed as `x` is endless (its `num_batches` is "
                                     "None); pass `steps_per_epoch` (or `steps`) to say how "
                                     "many batches make an epoch.")
                self._fetcher = SequenceFetcher(x.__getitem__, workers, max_queue_size)
                self._shuffle_sequence = bool(shuffle_sequence and shuffle)
                self.steps = int(steps) if steps is not None else self._length
                self._next_index = 0
            else:
                self._generator = x
                self._workers, self._queue = workers, max_queue_size
                self.steps = None if steps is None else int(steps)
            return
        self.source = "arrays"
        self._x = standardize_arrays(x, "x")
        self._y = standardize_arrays(y, "y")
        self._sw = standardize_arrays(sample_weight, "sample_weight")
        self.num_samples = num_samples(self._x, self._y, self._sw)
        self.batch_size = int(batch_size or 32)
        if self.batch_size < 1:
            raise ValueError(f"`batch_size` must be a positive integer; received {batch_size}.")
        self._shuffle = bool(shuffle)
        self._batches_per_pass = max(1, math.ceil(self.num_samples / self.batch_size))
        self.steps = int(steps) if steps is not None else self._batches_per_pass
        self._order = None
        self._position = self._batches_per_pass  # start a fresh pass at the first epoch
        if self._sw is not None and not structure.is_nested(self._sw):
            self._sw_per_output = None
        else:
            self._sw_per_output = self.targets(self._sw)
        self._y_list = self.targets(self._y)
        self._class_sw = None
        if class_weight is not None and self._y_list is not None:
            if len(self._y_list) != 1:
                raise ValueError("`class_weight` is only supported for models with a single "
                                 "output.")
            self._class_sw = class_weight_to_sample_weight(self._y_list[0], class_weight)

    # -- arrays --------------------------------------------------------------------------------
    def _array_batches(self) -> Iterator:
        for _ in range(self.steps):
            if self._position >= self._batches_per_pass:
                self._position = 0
                self._order = (np.random.permutation(self.num_samples) if self._shuffle
                               else None)
            start = self._position * self.batch_size
            stop = min(start + self.batch_size, self.num_samples)
            self._position += 1
            index = slice(start, stop) if self._order is None else self._order[start:stop]
            yield self._slice(index)

    def _slice(self, index: Any) -> tuple:
        def take(a: Any) -> Any:
            return None if a is None else structure.map_structure(
                lambda leaf: None if leaf is None else leaf[index], a)
        x = take(self._x)
        ys = None if self._y_list is None else [take(a) for a in self._y_list]
        if self._class_sw is not None:
            sws = [self._class_sw[index]]
        elif self._sw is None:
            sws = None
        elif self._sw_per_output is None:
            sws = [self._sw[index]] * (len(ys) if ys else 1)
        else:
            sws = [take(a) for a in self._sw_per_output]
        return x, ys, sws

    # -- generators and sequences ----------------------------------------------------------------
    def _standardize_batch(self, batch: Any) -> tuple:
        x, y, sw = unpack_batch(batch, self.source)
        x = standardize_arrays(x, "x")
        y = standardize_arrays(y, "y")
        sw = standardize_arrays(sw, "sample_weight")
        num_samples(x, y, sw)
        ys = self.targets(y) if y is not None else None
        if sw is None:
            sws = None
        elif structure.is_nested(sw):
            sws = self.targets(sw)
        else:
            sws = [sw] * (len(ys) if ys else 1)
        if self.class_weight is not None and ys is not None:
            if sws is not None:
                raise ValueError(
                    "You cannot `class_weight` and `sample_weight` at the same time.")
            if len(ys) != 1:
                raise ValueError("`class_weight` is only supported for models with a single "
                                 "output.")
            sws = [class_weight_to_sample_weight(ys[0], self.class_weight)]
        return x, ys, sws

    def epoch(self) -> Iterator:
        """Yield the batches of one epoch as ``(x, ys, sample_weights)``."""
        if self.source == "arrays":
            yield from self._array_batches()
            return
        if self._sequence is not None:
            yield from self._sequence_epoch()
            return
        count = 0
        batches = generator_batches(self._generator, self.steps, self._workers, self._queue)
        try:
            for batch in batches:
                count += 1
                yield self._standardize_batch(batch)
        finally:
            batches.close()
        if self.steps is not None and count < self.steps:
            self.exhausted = True

    def _sequence_epoch(self) -> Iterator:
        n = self._length
        if n == 0:
            raise ValueError("The Sequence passed as `x` is empty (its `__len__` is 0).")
        if hasattr(self._sequence, "on_epoch_begin"):
            self._sequence.on_epoch_begin()
        if n is None:
            indices = list(range(self._next_index, self._next_index + self.steps))
            self._next_index += self.steps
        elif self._shuffle_sequence:
            indices = [int(i) for i in np.random.permutation(n)[:self.steps]]
        else:
            indices = [(self._next_index + i) % n for i in range(self.steps)]
            self._next_index = (self._next_index + self.steps) % n
        for batch in self._fetcher.run(indices):
            yield self._standardize_batch(batch)

    def on_epoch_end(self) -> None:
        """Forward the end of an epoch to a Sequence (it may reshuffle)."""
        if self._sequence is not None and hasattr(self._sequence, "on_epoch_end"):
            self._sequence.on_epoch_end()

    def close(self) -> None:
        """Release prefetch threads."""
        if self._sequence is not None:
            self._fetcher.close()


def warn_ran_out() -> None:
    """The warning given when a generator cannot supply the batches training asks for."""
    warnings.warn(
        "Your input ran out of data; interrupting training. Make sure that your dataset or "
        "generator can generate at least `steps_per_epoch * epochs` batches. You may need to "
        "make your generator loop forever (e.g. `while True:`).", stacklevel=3)
