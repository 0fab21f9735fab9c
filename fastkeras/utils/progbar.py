"""``Progbar``: Keras 3's progress bar, character for character (spec section 20).

verbose=1 rewrites one line in place (``\\b`` over the previous width, then ``\\r``): a bold
``step/total`` count, a 20-cell ``━`` bar (done part green, rest white), the ETA (or the elapsed
time on the final update), the time per step and `` - name: value`` for each value, in the order
the names were first seen; the final update ends the line. verbose=2 prints one line when
finalized. Values are averaged over steps unless their names are listed as stateful.
"""

from __future__ import annotations

import math
import os
import sys
import time
from typing import Any, Iterable

import numpy as np


class Progbar:
    """Display a progress bar.

    Parameters
    ----------
    target : int or None
        Total number of steps, or None when unknown.
    width : int
        Number of bar cells.
    verbose : int
        0 silent, 1 a line rewritten in place, 2 one line at the end.
    interval : float
        Minimum seconds between two verbose=1 refreshes (the final one always shows).
    stateful_metrics : iterable of str, optional
        Names whose values are shown as given rather than averaged over steps.
    unit_name : str
        Name of one step in the per-step time (``ms/step``).
    stateless_metrics : iterable of str, optional
        Keras 3's inverse option: only these names are averaged. At most one of the two may be
        given.
    """

    def __init__(self, target: int | None, width: int = 20, verbose: int = 1,
                 interval: float = 0.05, stateful_metrics: Iterable[str] | None = None,
                 unit_name: str = "step", stateless_metrics: Iterable[str] | None = None):
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError(
                "Only one of `stateful_metrics` or `stateless_metrics` can be provided. "
                "`stateful_metrics` is used to make metrics stateless by default (with an "
                "exclusion list), while `stateless_metrics` is used to make metrics stateful by "
                "default (with an exclusion list).")
        if target is not None and (isinstance(target, bool) or not isinstance(
                target, (int, np.integer)) or target < 0):
            raise ValueError(f"`target` must be a non-negative integer or None. "
                             f"Received: target={target!r}")
        if verbose not in (0, 1, 2):
            raise ValueError(f"`verbose` must be 0, 1 or 2. Received: verbose={verbose!r}")
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self.stateful_metrics = None if stateless_metrics is not None else set(
            stateful_metrics or ())
        self.stateless_metrics = None if stateless_metrics is None else set(stateless_metrics)
        self._dynamic_display = ((hasattr(sys.stdout, "isatty") and sys.stdout.isatty())
                                 or "ipykernel" in sys.modules or "posix" in sys.modules
                                 or "PYCHARM_HOSTED" in os.environ)
        self._seen_so_far = 0
        self._values: dict[str, list] = {}
        self._values_order: list[str] = []
        self._start = time.time()
        self._last_update = 0.0
        self._time_after_first_step: float | None = None
        self._prev_total_width = 0

    def _is_averaged(self, name: str) -> bool:
        if self.stateful_metrics is not None:
            return name not in self.stateful_metrics
        return name in self.stateless_metrics

    def update(self, current: int, values: Iterable[tuple[str, Any]] | None = None,
               finalize: bool | None = None) -> None:
        """Show progress at step ``current``.

        Parameters
        ----------
        current : int
            Index of the current step.
        values : list of (name, value), optional
            Values for the last step; averaged over steps unless stateful.
        finalize : bool, optional
            Whether this is the last update; defaults to ``current >= target``.
        """
        if finalize is None:
            finalize = False if self.target is None else current >= self.target
        for name, value in values or ():
            if name not in self._values_order:
                self._values_order.append(name)
            if not self._is_averaged(name) or finalize:
                self._values[name] = [value, 1]
            else:
                weight = max(current - self._seen_so_far, 1)
                if name in self._values:
                    self._values[name][0] += value * weight
                    self._values[name][1] += weight
                else:
                    self._values[name] = [value * weight, weight]
        self._seen_so_far = current

        now = time.time()
        time_per_unit = self._estimate_step_duration(current, now)
        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return
            self._write_line(current, now, time_per_unit, finalize)
        elif self.verbose == 2 and finalize and self.target:
            info = f"{_count(current, self.target)} - {now - self._start:.0f}s"
            info += f" -{self._format_time(time_per_unit)}"
            for name in self._values_order:
                avg = self._average(name)
                info += f" - {name}: {avg:.4f}" if avg > 1e-3 else f" - {name}: {avg:.4e}"
            _write(info + "\n")
        self._last_update = now

    def _write_line(self, current: int, now: float, time_per_unit: float,
                    finalize: bool) -> None:
        message = "\b" * self._prev_total_width + "\r" if self._dynamic_display else "\n"
        special = 0
        if self.target:
            bar = f"\x1b[1m{_count(current, self.target)}\x1b[0m "
            special += 8
            done = int(self.width * float(current) / self.target)
            if done > 0:
                bar += f"\x1b[32m{'━' * done}\x1b[0m"
                special += 9
            bar += f"\x1b[37m{'━' * (self.width - done)}\x1b[0m"
            special += 9
        else:
            bar = "%7d/Unknown" % current
        if self.target and not finalize:
            info = f" \x1b[1m{_eta(time_per_unit * (self.target - current))}\x1b[0m"
        else:
            info = f" \x1b[1m{now - self._start:.0f}s\x1b[0m"
        special += 8
        info += self._format_time(time_per_unit)
        for name in self._values_order:
            avg = self._average(name)
            info += f" - {name}: {avg:.4f}" if abs(avg) > 1e-3 else f" - {name}: {avg:.4e}"
        total_width = len(bar) + len(info) - special
        message += bar + info
        if self._prev_total_width > total_width:
            message += " " * (self._prev_total_width - total_width)
        if finalize:
            message += "\n"
        _write(message)
        self._prev_total_width = total_width

    def _average(self, name: str) -> Any:
        total, count = self._values[name]
        if not isinstance(total, float):
            total = np.mean(total)
        return total / max(1, count)

    def add(self, n: int, values: Iterable[tuple[str, Any]] | None = None) -> None:
        """Advance by ``n`` steps (see :meth:`update`)."""
        self.update(self._seen_so_far + n, values)

    def _format_time(self, seconds: float) -> str:
        if seconds >= 1 or seconds == 0:
            return f" {seconds:.0f}s/{self.unit_name}"
        if seconds >= 1e-3:
            return f" {seconds * 1e3:.0f}ms/{self.unit_name}"
        return f" {seconds * 1e6:.0f}us/{self.unit_name}"

    def _estimate_step_duration(self, current: int, now: float) -> float:
        """Seconds per step, leaving out the (slow, compiling) first step once past it."""
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            per_step = (now - self._time_after_first_step) / (current - 1)
        else:
            per_step = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per_step


def _count(current: int, target: int) -> str:
    """``current/target`` with ``current`` right-aligned to the width of ``target``."""
    digits = int(math.log10(target)) + 1
    return f"%{digits}d/%d" % (current, target)


def _eta(seconds: float) -> str:
    if seconds > 3600:
        return "%d:%02d:%02d" % (seconds // 3600, (seconds % 3600) // 60, seconds % 60)
    if seconds > 60:
        return "%d:%02d" % (seconds // 60, seconds % 60)
    return "%ds" % seconds


def _write(message: str) -> None:
    sys.stdout.write(message)
    sys.stdout.flush()
