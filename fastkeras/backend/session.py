"""Process-wide backend state: layer-name counters and Keras 2's learning phase."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

_UIDS: defaultdict[str, int] = defaultdict(int)
_LEARNING_PHASE: int | None = None


def get_uid(prefix: str = "") -> int:
    """Return 1, 2, 3, ... on successive calls with the same ``prefix`` (reset by
    :func:`clear_session`); the engine names layers ``dense``, ``dense_1``, ... from it."""
    _UIDS[prefix] += 1
    return _UIDS[prefix]


def reset_uids() -> None:
    """Restart every :func:`get_uid` counter."""
    _UIDS.clear()


def clear_session() -> None:
    """Reset the backend's global state: the name counters and a learning phase set with
    :func:`set_learning_phase`."""
    global _LEARNING_PHASE
    reset_uids()
    _LEARNING_PHASE = None


def backend() -> str:
    """Return the name of the backend, ``'fastkeras'``."""
    return "fastkeras"


def learning_phase() -> int:
    """Return the learning phase: inside a layer call, the engine's training flag (1 in
    ``fit``, 0 in ``predict``/``evaluate``); otherwise the value set by
    :func:`set_learning_phase`, or 0 (test) when unset."""
    from fastkeras.engine.base_layer import current_training  # the engine imports the backend
    training = current_training()
    if training is not None:
        return int(bool(training))
    return 0 if _LEARNING_PHASE is None else _LEARNING_PHASE


def set_learning_phase(value: int) -> None:
    """Set the learning phase: 0 (test) or 1 (train).

    Raises
    ------
    ValueError
        If ``value`` is not 0 or 1.
    """
    global _LEARNING_PHASE
    if value not in (0, 1) or isinstance(value, float):
        raise ValueError(f"Expected learning phase to be 0 or 1. Received: value={value!r}")
    _LEARNING_PHASE = int(value)


def in_train_phase(x: Any, alt: Any, training: Any = None) -> Any:
    """Return ``x`` in the training phase and ``alt`` otherwise (callables are called).

    ``training`` (bool or 0/1) overrides :func:`learning_phase`.
    """
    if training is None:
        training = learning_phase()
    chosen = x if bool(training) else alt
    return chosen() if callable(chosen) else chosen


def in_test_phase(x: Any, alt: Any, training: Any = None) -> Any:
    """Return ``x`` in the test phase and ``alt`` otherwise (callables are called)."""
    return in_train_phase(alt, x, training=training)
