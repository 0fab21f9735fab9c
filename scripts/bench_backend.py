"""Benchmark: the differentiable backend ``K`` against torch autograd and Keras 3 ops.

Three workloads, each timed as forward + backward (gradients of every weight) per step:

* ``mlp``: a 784-256-10 MLP written with backend ops (dot, bias_add, relu, softmax,
  categorical crossentropy), batch 256 -- what a custom layer gets from the tape.
* ``elementwise``: a chain of 12 elementwise ops (exp, tanh, sigmoid, square, ...) on a
  1024x512 tensor -- the tape's cost on memory-bound work.
* ``small_ops``: the same chain on an 8x8 tensor -- per-op Python overhead.

References, each when installed: torch (autograd), Keras 3's ``keras.ops`` on the torch backend
(backward through torch). Also reported: fastkeras forward outside a tape (inference cost).
Prints milliseconds per step side by side with the ratio reference / fastkeras; ``--json PATH``
also writes the results. On a shared or busy machine, multithreaded BLAS timings swing by 100x;
pin the thread counts for comparable numbers:

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python scripts/bench_backend.py [--repeats 20] \
        [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

BATCH, IN, HIDDEN, OUT = 256, 784, 256, 10


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


def data(shape_x, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape_x).astype(np.float32)
    return rng, x


# -- fastkeras ------------------------------------------------------------------------------------

def fastkeras_steps() -> dict:
    from fastkeras import backend as K

    rng, x = data((BATCH, IN))
    y = np.eye(OUT, dtype=np.float32)[rng.integers(0, OUT, BATCH)]
    w1 = K.variable(rng.standard_normal((IN, HIDDEN)) * 0.05)
    b1 = K.variable(np.zeros(HIDDEN))
    w2 = K.variable(rng.standard_normal((HIDDEN, OUT)) * 0.05)
    b2 = K.variable(np.zeros(OUT))
    weights = [w1, b1, w2, b2]

    def mlp_forward():
        h = K.relu(K.bias_add(K.dot(x, w1), b1))
        return K.mean(K.categorical_crossentropy(y, K.softmax(K.bias_add(K.dot(h, w2), b2))))

    def mlp():
        with K.GradientTape():
            loss = mlp_forward()
        K.gradients(loss, weights)

    def chain(t):
        t = K.exp(K.tanh(t) * 0.5)
        t = K.sigmoid(t - 1.0) + K.square(t)
        t = K.sqrt(t + 1.0) * K.softplus(t)
        t = K.maximum(t, 0.1) / (K.abs(t) + 1.0)
        return K.sum(t)

    _, big = data((1024, 512), seed=1)
    _, small = data((8, 8), seed=2)
    big_v, small_v = K.variable(big), K.variable(small)

    def elementwise():
        with K.GradientTape():
            loss = chain(big_v)
        K.gradients(loss, [big_v])

    def small_ops():
        with K.GradientTape():
            loss = chain(small_v)
        K.gradients(loss, [small_v])

    return {"mlp": mlp, "mlp_inference": mlp_forward, "elementwise": elementwise,
            "small_ops": small_ops}


# -- torch ----------------------------------------------------------------------------------------

def torch_steps() -> dict | None:
    try:
        import torch
    except ImportError:
        return None
    rng, x_np = data((BATCH, IN))
    y_np = np.eye(OUT, dtype=np.float32)[rng.integers(0, OUT, BATCH)]
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    w1 = torch.tensor(rng.standard_normal((IN, HIDDEN)).astype(np.float32) * 0.05,
                      requires_grad=True)
    b1 = torch.zeros(HIDDEN, requires_grad=True)
    w2 = torch.tensor(rng.standard_normal((HIDDEN, OUT)).astype(np.float32) * 0.05,
                      requires_grad=True)
    b2 = torch.zeros(OUT, requires_grad=True)
    weights = [w1, b1, w2, b2]

    def mlp_forward():
        h = torch.relu(x @ w1 + b1)
        p = torch.softmax(h @ w2 + b2, dim=-1)
        p = torch.clamp(p / p.sum(-1, keepdim=True), 1e-7, 1 - 1e-7)
        return -(y * torch.log(p)).sum(-1).mean()

    def mlp():
        torch.autograd.grad(mlp_forward(), weights)

    def mlp_inference():
        with torch.no_grad():
            mlp_forward()

    def chain(t):
        t = torch.exp(torch.tanh(t) * 0.5)
        t = torch.sigmoid(t - 1.0) + torch.square(t)
        t = torch.sqrt(t + 1.0) * torch.nn.functional.softplus(t)
        t = torch.clamp_min(t, 0.1) / (torch.abs(t) + 1.0)
        return t.sum()

    _, big = data((1024, 512), seed=1)
    _, small = data((8, 8), seed=2)
    big_t = torch.tensor(big, requires_grad=True)
    small_t = torch.tensor(small, requires_grad=True)
    return {"mlp": mlp, "mlp_inference": mlp_inference,
            "elementwise": lambda: torch.autograd.grad(chain(big_t), [big_t]),
            "small_ops": lambda: torch.autograd.grad(chain(small_t), [small_t])}


# -- Keras 3 ops on torch -------------------------------------------------------------------------

def keras3_steps() -> dict | None:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        import keras
        import torch
        from keras import ops
    except ImportError:
        return None
    if keras.backend.backend() != "torch":
        return None
    rng, x_np = data((BATCH, IN))
    y_np = np.eye(OUT, dtype=np.float32)[rng.integers(0, OUT, BATCH)]
    x, y = ops.convert_to_tensor(x_np), ops.convert_to_tensor(y_np)
    w1 = keras.Variable(rng.standard_normal((IN, HIDDEN)).astype(np.float32) * 0.05)
    b1 = keras.Variable(np.zeros(HIDDEN, np.float32))
    w2 = keras.Variable(rng.standard_normal((HIDDEN, OUT)).astype(np.float32) * 0.05)
    b2 = keras.Variable(np.zeros(OUT, np.float32))
    weights = [w1, b1, w2, b2]

    def mlp_forward():
        h = ops.relu(ops.matmul(x, w1) + b1)
        p = ops.softmax(ops.matmul(h, w2) + b2)
        return ops.mean(keras.losses.categorical_crossentropy(y, p))

    def mlp():
        torch.autograd.grad(mlp_forward(), [w.value for w in weights])

    def mlp_inference():
        with torch.no_grad():
            mlp_forward()

    def chain(t):
        t = ops.exp(ops.tanh(t) * 0.5)
        t = ops.sigmoid(t - 1.0) + ops.square(t)
        t = ops.sqrt(t + 1.0) * ops.softplus(t)
        t = ops.maximum(t, 0.1) / (ops.abs(t) + 1.0)
        return ops.sum(t)

    _, big = data((1024, 512), seed=1)
    _, small = data((8, 8), seed=2)
    big_v, small_v = keras.Variable(big), keras.Variable(small)
    return {"mlp": mlp, "mlp_inference": mlp_inference,
            "elementwise": lambda: torch.autograd.grad(chain(big_v), [big_v.value]),
            "small_ops": lambda: torch.autograd.grad(chain(small_v), [small_v.value])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()

    sides = {"fastkeras": fastkeras_steps()}
    for name, maker in [("torch", torch_steps), ("keras3-torch", keras3_steps)]:
        steps = maker()
        if steps is None:
            print(f"{name}: not installed, skipped")
        else:
            sides[name] = steps

    results = {name: {w: best_ms(step, args.repeats) for w, step in steps.items()}
               for name, steps in sides.items()}
    workloads = list(results["fastkeras"])
    header = f"{'workload':<15}" + "".join(f"{n + ' ms':>18}" for n in results)
    print(header)
    for w in workloads:
        row = f"{w:<15}"
        for name, r in results.items():
            ratio = "" if name == "fastkeras" else f" ({r[w] / results['fastkeras'][w]:.2f}x)"
            row += f"{r[w]:>10.3f}{ratio:>8}"
        print(row)
    print("ratio = reference time / fastkeras time (>1: fastkeras faster)")
    threads = {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    print(f"thread settings: {threads}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": platform.platform(), "cpus": os.cpu_count(),
                       "threads": threads, "repeats": args.repeats, "ms_per_step": results},
                      f, indent=2)


if __name__ == "__main__":
    main()
