"""Nested structures of tensors: flatten a list/tuple/dict tree and pack values back into it.

Layer and model inputs may be a single tensor, a list or tuple of them, or a dict keyed by input
name, nested arbitrarily. Dicts are walked in their insertion order; anything that is not a list,
tuple or dict is a leaf (``None`` included).
"""

from __future__ import annotations

from typing import Any, Callable, Iterator


def is_nested(x: Any) -> bool:
    """Return True for the containers a structure is made of (list, tuple, dict)."""
    return isinstance(x, (list, tuple, dict))


def _iter_leaves(x: Any) -> Iterator[Any]:
    if isinstance(x, dict):
        for v in x.values():
            yield from _iter_leaves(v)
    elif isinstance(x, (list, tuple)):
        for v in x:
            yield from _iter_leaves(v)
    else:
        yield x


def flatten(x: Any) -> list:
    """Return the leaves of ``x`` in order as a flat list."""
    if not isinstance(x, (list, tuple, dict)):
        return [x]
    return list(_iter_leaves(x))


def map_structure(fn: Callable[[Any], Any], x: Any) -> Any:
    """Apply ``fn`` to every leaf of ``x``, keeping the structure."""
    if isinstance(x, dict):
        return {k: map_structure(fn, v) for k, v in x.items()}
    if isinstance(x, list):
        return [map_structure(fn, v) for v in x]
    if isinstance(x, tuple):
        mapped = [map_structure(fn, v) for v in x]
        return type(x)(*mapped) if hasattr(x, "_fields") else tuple(mapped)
    return fn(x)


def pack_like(structure: Any, flat: list) -> Any:
    """Fill ``structure``'s leaves, in order, with the values of ``flat``."""
    it = iter(flat)
    return map_structure(lambda _: next(it), structure)
