"""Central finite-difference gradient checking for backend ops (float64)."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from fastkeras.backend.math_ops import multiply
from fastkeras.backend.reduction_ops import sum as k_sum
from fastkeras.backend.tensor import GradientTape, Variable, backprop


def _value(out) -> np.ndarray:
    return np.asarray(out.value if hasattr(out, "value") else out, dtype=np.float64)


def numeric_gradient(f: Callable, arrays: list, i: int, weights: np.ndarray,
                     eps: float = 1e-6) -> np.ndarray:
    """d/d arrays[i] of sum(weights * f(*arrays)) by central differences."""
    x = arrays[i]
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        orig = x[idx]
        x[idx] = orig + eps
        up = np.sum(weights * _value(f(*arrays)))
        x[idx] = orig - eps
        down = np.sum(weights * _value(f(*arrays)))
        x[idx] = orig
        grad[idx] = (up - down) / (2 * eps)
    return grad


def check_gradients(f: Callable, inputs: Sequence[np.ndarray], seed: int = 0,
                    rtol: float = 1e-5, atol: float = 1e-7) -> None:
    """Assert that the tape's gradients of ``f`` match central differences for every input.

    The scalar differentiated is ``sum(W * f(*inputs))`` with a random ``W``, so every output
    element contributes with its own weight.
    """
    arrays = [np.array(a, dtype=np.float64) for a in inputs]
    variables = [Variable(a, dtype="float64") for a in arrays]
    with GradientTape():
        out = f(*variables)
    weights = np.random.default_rng(seed).standard_normal(np.shape(_value(out)))
    with GradientTape():
        out = f(*variables)
        loss = k_sum(multiply(out, weights))
    analytic = backprop(loss, variables)
    for i, g in enumerate(analytic):
        numeric = numeric_gradient(f, [a.copy() for a in arrays], i, weights)
        assert g is not None, f"no gradient for input {i}"
        assert g.shape == arrays[i].shape
        np.testing.assert_allclose(g, numeric, rtol=rtol, atol=atol,
                                   err_msg=f"gradient of input {i}")
