"""Benchmark: the counter-based mask kernels against numpy, torch and Keras 3 (torch backend).

Workloads, each timed as forward + backward (the input gradient for a given output gradient):

* ``dropout``: Dropout(0.5) in training on a 256x4096 float32 batch. The numpy side is the
  textbook equivalent: ``keep = rng.random(shape) >= rate``, ``x * keep / (1 - rate)``, and the
  stored mask reused backwards.
* ``spatial_dropout2d``: SpatialDropout2D(0.5) on a 64x32x32x64 channels-last batch (one mask
  entry per sample and channel); numpy draws a ``(64, 1, 1, 64)`` mask and broadcasts it.
* ``masking``: Masking(0.0) on a 256x100x64 padded batch (a quarter of the steps masked);
  numpy computes ``any(x != 0, -1)`` and ``where``.

fastkeras runs the layer under a GradientTape and backpropagates through the recorded op (the
backward pass regenerates the dropout mask from its counter). References, each when installed:
torch (``torch.nn.functional.dropout`` / ``dropout2d`` / the masking expression, autograd) and
Keras 3's layers on the torch backend (autograd). Prints milliseconds per step side by side with
the ratio reference / fastkeras; ``--json PATH`` also writes the results. The kernels run on
``NUMBA_NUM_THREADS`` threads; on a busy machine parallel launches wait for descheduled
threads, so also try ``NUMBA_NUM_THREADS=1``:

    python scripts/bench_masks.py [--repeats 20] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

RATE = 0.5
SHAPES = {"dropout": (256, 4096), "spatial_dropout2d": (64, 32, 32, 64),
          "masking": (256, 100, 64)}


def best_ms(step, repeats: int) -> float:
    """Best wall time of ``step()`` over ``repeats`` runs after two warm-ups, in ms."""
    step()
    step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return 1000 * min(times)


def inputs(name: str) -> tuple:
    """The workload's input and output gradient (float32; masking input with padded steps)."""
    rng = np.random.default_rng(0)
    shape = SHAPES[name]
    x = rng.standard_normal(shape).astype(np.float32)
    if name == "masking":
        x[:, 75:] = 0.0
    return x, rng.standard_normal(shape).astype(np.float32)


# -- fastkeras ------------------------------------------------------------------------------------

def fastkeras_steps() -> dict:
    from fastkeras.backend.tensor import GradientTape, Tensor, backprop
    from fastkeras.layers.dropout import Dropout, SpatialDropout2D
    from fastkeras.layers.masking import Masking

    def step(layer, name, **call_kwargs):
        x, g = inputs(name)

        def run():
            t = Tensor(x)
            with GradientTape() as tape:
                tape.watch(t)
                out = layer(t, **call_kwargs)
            backprop(out, [t], seed=g)
        return run

    return {"dropout": step(Dropout(RATE, seed=1), "dropout", training=True),
            "spatial_dropout2d": step(SpatialDropout2D(RATE, seed=1), "spatial_dropout2d",
                                      training=True),
            "masking": step(Masking(0.0), "masking")}


# -- numpy ----------------------------------------------------------------------------------------

def numpy_steps() -> dict:
    rng = np.random.default_rng(1)
    scale = np.float32(1 / (1 - RATE))

    def dropout_step(name, mask_shape):
        x, g = inputs(name)

        def run():
            keep = rng.random(mask_shape or x.shape) >= RATE
            out = x * keep * scale
            grad = g * keep * scale
            return out, grad
        return run

    x_m, g_m = inputs("masking")

    def masking():
        mask = np.any(x_m != 0.0, axis=-1, keepdims=True)
        out = np.where(mask, x_m, np.float32(0))
        grad = np.where(mask, g_m, np.float32(0))
        return out, grad

    b, _, _, c = SHAPES["spatial_dropout2d"]
    return {"dropout": dropout_step("dropout", None),
            "spatial_dropout2d": dropout_step("spatial_dropout2d", (b, 1, 1, c)),
            "masking": masking}


# -- torch ----------------------------------------------------------------------------------------

def torch_steps() -> dict | None:
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return None

    def step(name, forward):
        x_np, g_np = inputs(name)
        x, g = torch.tensor(x_np, requires_grad=True), torch.from_numpy(g_np)
        return lambda: torch.autograd.grad(forward(x), [x], g)

    def spatial(x):  # channels-last input: dropout2d wants (N, C, H, W)
        return F.dropout2d(x.permute(0, 3, 1, 2), RATE, training=True).permute(0, 2, 3, 1)

    def masking(x):
        return torch.where(torch.any(x != 0.0, dim=-1, keepdim=True), x, 0.0)

    return {"dropout": step("dropout", lambda x: F.dropout(x, RATE, training=True)),
            "spatial_dropout2d": step("spatial_dropout2d", spatial),
            "masking": step("masking", masking)}


# -- Keras 3 layers on torch ----------------------------------------------------------------------

def keras3_steps() -> dict | None:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        import keras
        import torch
    except ImportError:
        return None
    if keras.backend.backend() != "torch":
        return None

    def step(layer, name, **call_kwargs):
        x_np, g_np = inputs(name)
        x, g = torch.tensor(x_np, requires_grad=True), torch.from_numpy(g_np)
        return lambda: torch.autograd.grad(layer(x, **call_kwargs), [x], g)

    return {"dropout": step(keras.layers.Dropout(RATE, seed=1), "dropout", training=True),
            "spatial_dropout2d": step(keras.layers.SpatialDropout2D(RATE, seed=1),
                                      "spatial_dropout2d", training=True),
            "masking": step(keras.layers.Masking(0.0), "masking")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()

    import numba
    sides = {"fastkeras": fastkeras_steps(), "numpy": numpy_steps()}
    for name, maker in [("torch", torch_steps), ("keras3-torch", keras3_steps)]:
        steps = maker()
        if steps is None:
            print(f"{name}: not installed, skipped")
        else:
            sides[name] = steps

    results = {name: {w: best_ms(step, args.repeats) for w, step in steps.items()}
               for name, steps in sides.items()}
    header = f"{'workload':<19}" + "".join(f"{n + ' ms':>20}" for n in results)
    print(header)
    for w in SHAPES:
        row = f"{w:<19}"
        for name, r in results.items():
            ratio = "" if name == "fastkeras" else f" ({r[w] / results['fastkeras'][w]:.2f}x)"
            row += f"{r[w]:>11.3f}{ratio:>9}"
        print(row)
    print("ratio = reference time / fastkeras time (>1: fastkeras faster)")
    threads = {"numba": numba.get_num_threads(), "threading_layer": numba.threading_layer(),
               "torch": _torch_threads()}
    print(f"threads: {threads}; cpus: {os.cpu_count()}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": platform.platform(), "cpus": os.cpu_count(),
                       "threads": threads, "repeats": args.repeats,
                       "shapes": {k: list(v) for k, v in SHAPES.items()},
                       "ms_per_step": results}, f, indent=2)


def _torch_threads() -> int | None:
    try:
        import torch
    except ImportError:
        return None
    return torch.get_num_threads()


if __name__ == "__main__":
    main()
