"""``Sequence`` (Keras 3's ``PyDataset``): a dataset of batches indexed by position.

Subclasses implement ``__len__`` (the number of batches) and ``__getitem__(index)`` (one whole
batch: ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``); ``fit`` calls ``on_epoch_begin`` and
``on_epoch_end`` around every epoch, so a subclass can reshuffle there. The constructor arguments
tell ``fit`` how many threads may prepare batches ahead and how many batches may wait.
"""

from __future__ import annotations

import itertools
import numbers
import warnings
from typing import Any, Iterator


def _check_count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"`{name}` must be a non-negative integer. Received: {name}={value!r}")
    return int(value)


class Sequence:
    """Base class of batch datasets for ``fit``, ``evaluate`` and ``predict``.

    Parameters
    ----------
    workers : int
        Number of threads (or processes) ``fit`` may use to prepare batches.
    use_multiprocessing : bool
        Whether those workers are processes (the dataset must then be picklable).
    max_queue_size : int
        Maximum number of prepared batches waiting to be consumed.

    Examples
    --------
    >>> class Batches(Sequence):
    ...     def __init__(self, x, y, batch_size, **kwargs):
    ...         super().__init__(**kwargs)
    ...         self.x, self.y, self.batch_size = x, y, batch_size
    ...     def __len__(self):
    ...         return -(-len(self.x) // self.batch_size)
    ...     def __getitem__(self, index):
    ...         s = slice(index * self.batch_size, (index + 1) * self.batch_size)
    ...         return self.x[s], self.y[s]
    """

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False,
                 max_queue_size: int = 10):
        self._workers = _check_count("workers", workers)
        if not isinstance(use_multiprocessing, bool):
            raise ValueError("`use_multiprocessing` must be a bool. Received: "
                             f"use_multiprocessing={use_multiprocessing!r}")
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = _check_count("max_queue_size", max_queue_size)

    def _warn_if_super_not_called(self) -> None:
        missing = [name for name in ("_workers", "_use_multiprocessing", "_max_queue_size")
                   if not hasattr(self, name)]
        if missing:
            self._workers = getattr(self, "_workers", 1)
            self._use_multiprocessing = getattr(self, "_use_multiprocessing", False)
            self._max_queue_size = getattr(self, "_max_queue_size", 10)
            warnings.warn(
                "Your `PyDataset` class should call `super().__init__(**kwargs)` in its "
                "constructor. `**kwargs` can include `workers`, `use_multiprocessing`, "
                "`max_queue_size`. Do not pass these arguments to `fit()`, as they will be "
                "ignored.", stacklevel=3)

    @property
    def workers(self) -> int:
        """Number of workers ``fit`` may use."""
        self._warn_if_super_not_called()
        return self._workers

    @workers.setter
    def workers(self, value: int) -> None:
        self._workers = _check_count("workers", value)

    @property
    def use_multiprocessing(self) -> bool:
        """Whether the workers are processes."""
        self._warn_if_super_not_called()
        return self._use_multiprocessing

    @use_multiprocessing.setter
    def use_multiprocessing(self, value: bool) -> None:
        self._use_multiprocessing = bool(value)

    @property
    def max_queue_size(self) -> int:
        """Maximum number of prepared batches waiting."""
        self._warn_if_super_not_called()
        return self._max_queue_size

    @max_queue_size.setter
    def max_queue_size(self, value: int) -> None:
        self._max_queue_size = _check_count("max_queue_size", value)

    def __getitem__(self, index: int) -> Any:
        """The batch at position ``index``; subclasses must implement it."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement `__getitem__(index)` returning one batch.")

    @property
    def num_batches(self) -> int | None:
        """The number of batches (``len(self)``); None means an endless dataset."""
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError(
            f"{type(self).__name__} must implement `__len__` (or a `num_batches` property "
            "returning None for an endless dataset).")

    def __iter__(self) -> Iterator[Any]:
        """Yield the batches in order (forever when ``num_batches`` is None)."""
        count = self.num_batches
        indices = itertools.count() if count is None else range(count)
        for index in indices:
            yield self[index]

    def on_epoch_begin(self) -> None:
        """Called by ``fit`` before every epoch; override to prepare the epoch."""

    def on_epoch_end(self) -> None:
        """Called by ``fit`` after every epoch; override to reshuffle, for example."""


PyDataset = Sequence
