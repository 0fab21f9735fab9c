"""Benchmark: one optimizer step (all variables updated in place) against Keras 3 and torch.

Two parameter sets:

* ``mlp``: the variables of a 784-512-512-10 MLP (~0.67 M parameters, 6 variables) -- the
  per-variable overhead of a small model.
* ``large``: one 4096x4096 kernel plus a bias (~16.8 M parameters) -- memory bandwidth.

For each of SGD, SGD with Nesterov momentum, Adam, RMSprop (centered, momentum) and Adagrad the
script times ``optimizer.apply(grads, variables)`` in fastkeras (fused Numba kernels), Keras 3
on the torch backend (``keras.optimizers.*``) and ``torch.optim`` (foreach implementation), each
when installed, and prints milliseconds per step with the ratio reference / fastkeras.
``--json PATH`` also writes the results. Thread counts change the figures; for comparable runs:

    OMP_NUM_THREADS=2 NUMBA_NUM_THREADS=2 python scripts/bench_optimizers.py [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402

SETS = {
    "mlp": [(784, 512), (512,), (512, 512), (512,), (512, 10), (10,)],
    "large": [(4096, 4096), (4096,)],
}
REPEATS = {"mlp": 60, "large": 8}

# name -> (fastkeras / keras class name and kwargs, torch.optim class name and kwargs)
CONFIGS = {
    "sgd": (("SGD", dict(learning_rate=0.01)), ("SGD", dict(lr=0.01))),
    "sgd_nesterov": (("SGD", dict(learning_rate=0.01, momentum=0.9, nesterov=True)),
                     ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True))),
    "adam": (("Adam", dict(learning_rate=0.001)), ("Adam", dict(lr=0.001, eps=1e-7))),
    "rmsprop_centered_mom": (("RMSprop", dict(learning_rate=0.001, momentum=0.9,
                                              centered=True)),
                             ("RMSprop", dict(lr=0.001, alpha=0.9, momentum=0.9, centered=True,
                                              eps=1e-7))),
    "adagrad": (("Adagrad", dict(learning_rate=0.01)),
                ("Adagrad", dict(lr=0.01, initial_accumulator_value=0.1, eps=1e-7))),
}


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


def arrays(shapes, seed):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(np.float32) for s in shapes]


def fastkeras_ms(config, shapes, repeats):
    from fastkeras import optimizers
    from fastkeras.backend.tensor import Variable

    name, kwargs = config
    variables = [Variable(w) for w in arrays(shapes, 0)]
    grads = arrays(shapes, 1)
    opt = getattr(optimizers, name)(**kwargs)
    return best_ms(lambda: opt.apply(grads, variables), repeats)


def keras_ms(config, shapes, repeats):
    import keras
    import torch

    name, kwargs = config
    variables = [keras.Variable(w) for w in arrays(shapes, 0)]
    grads = [torch.from_numpy(g) for g in arrays(shapes, 1)]
    opt = getattr(keras.optimizers, name)(**kwargs)
    return best_ms(lambda: opt.apply(grads, variables), repeats)


def torch_ms(config, shapes, repeats):
    import torch

    name, kwargs = config
    params = [torch.nn.Parameter(torch.from_numpy(w)) for w in arrays(shapes, 0)]
    for p, g in zip(params, arrays(shapes, 1)):
        p.grad = torch.from_numpy(g)
    opt = getattr(torch.optim, name)(params, foreach=True, **kwargs)
    return best_ms(opt.step, repeats)


def available(module: str) -> bool:
    try:
        __import__(module)
        return True
    except Exception:  # a broken install counts as absent
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--sets", nargs="*", default=list(SETS), choices=list(SETS))
    args = parser.parse_args()

    refs = {"keras": keras_ms if available("keras") and available("torch") else None,
            "torch": torch_ms if available("torch") else None}
    results = []
    print(f"{'set':6s} {'optimizer':22s} {'fastkeras ms':>12s}"
          + "".join(f" {r + ' ms':>10s} {'x':>6s}" for r, f in refs.items() if f))
    for set_name in args.sets:
        shapes, repeats = SETS[set_name], REPEATS[set_name]
        for opt_name, (fk_cfg, torch_cfg) in CONFIGS.items():
            row = {"set": set_name, "optimizer": opt_name,
                   "params": int(sum(np.prod(s) for s in shapes)),
                   "fastkeras_ms": fastkeras_ms(fk_cfg, shapes, repeats)}
            line = f"{set_name:6s} {opt_name:22s} {row['fastkeras_ms']:12.3f}"
            for ref, fn in refs.items():
                if fn is None:
                    continue
                ms = fn(fk_cfg if ref == "keras" else torch_cfg, shapes, repeats)
                row[f"{ref}_ms"] = ms
                row[f"{ref}_ratio"] = ms / row["fastkeras_ms"]
                line += f" {ms:10.3f} {ms / row['fastkeras_ms']:6.2f}"
            print(line, flush=True)
            results.append(row)
    if args.json:
        meta = {"machine": platform.machine(), "python": platform.python_version(),
                "cpus": os.cpu_count(), "references": [r for r, f in refs.items() if f]}
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
