"""Finite-difference check of the tape's gradients through a function of Tensors (float64)."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from fastkeras.backend.tensor import GradientTape, Tensor, backprop


def _value(out) -> np.ndarray:
    return np.asarray(out.value if isinstance(out, Tensor) else out, dtype=np.float64)


def check_gradient(f: Callable, inputs: Sequence[np.ndarray], seed: int = 0, eps: float = 1e-6,
                   rtol: float = 1e-6, atol: float = 1e-9) -> list:
    """Assert that d sum(W * f(*inputs)) / d inputs from the tape matches central differences.

    ``f`` takes and returns float64 Tensors; ``W`` is a fixed random weighting, so every output
    element counts with its own weight. Returns the analytic gradients.
    """
    arrays = [np.array(a, dtype=np.float64) for a in inputs]
    tensors = [Tensor(a.copy()) for a in arrays]
    with GradientTape() as tape:
        for t in tensors:
            tape.watch(t)
        out = f(*tensors)
        weights = np.random.default_rng(seed).standard_normal(np.shape(_value(out)))
        loss = np.sum(out * weights)
    analytic = backprop(loss, tensors)
    for i, a in enumerate(arrays):
        numeric = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            orig = a[idx]
            a[idx] = orig + eps
            up = np.sum(weights * _value(f(*[Tensor(b.copy()) for b in arrays])))
            a[idx] = orig - eps
            down = np.sum(weights * _value(f(*[Tensor(b.copy()) for b in arrays])))
            a[idx] = orig
            numeric[idx] = (up - down) / (2 * eps)
        assert analytic[i] is not None, f"no gradient for input {i}"
        np.testing.assert_allclose(analytic[i], numeric, rtol=rtol, atol=atol,
                                   err_msg=f"gradient of input {i}")
    return analytic
