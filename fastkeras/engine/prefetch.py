"""Background batch preparation: worker threads fill a bounded queue while the model trains.

Python generators are not thread-safe, so one thread pulls from a generator; a ``Sequence``
(anything indexable by batch) is fetched by a pool of ``workers`` threads, in order. Numpy,
Numba kernels and image decoding release the GIL, so the data work really overlaps the training
step. Producers pull only the batches the epoch needs, so a generator is advanced exactly as
often as without prefetching.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterator

_END = object()


class _Failure:
    def __init__(self, error: BaseException):
        self.error = error


def generator_batches(generator: Iterator, count: int | None, workers: int,
                      max_queue_size: int) -> Iterator:
    """Yield up to ``count`` items of ``generator`` (all when None), pulled ahead of time.

    With ``workers <= 0`` items are pulled in the calling thread. Exceptions raised by the
    generator are re-raised here, in the consumer.
    """
    if workers <= 0:
        pulled = 0
        while count is None or pulled < count:
            try:
                item = next(generator)
            except StopIteration:
                return
            pulled += 1
            yield item
        return
    items: queue.Queue = queue.Queue(maxsize=max(1, max_queue_size))
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        pulled = 0
        try:
            while (count is None or pulled < count) and not stop.is_set():
                try:
                    item = next(generator)
                except StopIteration:
                    break
                pulled += 1
                if not put(item):
                    return
        except BaseException as e:  # noqa: BLE001 - handed to the consumer
            put(_Failure(e))
            return
        put(_END)

    thread = threading.Thread(target=produce, name="fastkeras-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()


class SequenceFetcher:
    """Fetch ``fetch(i)`` for a run of indices with a thread pool, yielding results in order.

    Parameters
    ----------
    fetch : callable
        ``fetch(index) -> batch`` (e.g. ``sequence.__getitem__``).
    workers : int
        Threads fetching in parallel; 0 fetches in the calling thread.
    max_queue_size : int
        How many batches may be requested ahead of the one being consumed.
    """

    def __init__(self, fetch: Callable[[int], Any], workers: int, max_queue_size: int):
        self.fetch = fetch
        self.ahead = max(1, max_queue_size)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fastkeras") \
            if workers > 0 else None

    def run(self, indices: list) -> Iterator:
        """Yield ``fetch(i)`` for each of ``indices`` in order."""
        if self._pool is None:
            for i in indices:
                yield self.fetch(i)
            return
        pending: deque = deque()
        upcoming = iter(indices)
        try:
            for i in upcoming:
                pending.append(self._pool.submit(self.fetch, i))
                if len(pending) >= self.ahead:
                    break
            while pending:
                result = pending.popleft().result()
                for i in upcoming:
                    pending.append(self._pool.submit(self.fetch, i))
                    break
                yield result
        finally:
            for future in pending:
                future.cancel()
            for future in pending:
                if not future.cancelled():
                    future.exception()

    def close(self) -> None:
        """Stop the worker threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
