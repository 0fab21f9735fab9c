"""Benchmark: the fused Dense op, forward + backward, against numpy, bare GEMMs, torch and Keras 3.

Workload: ``Dense(512, activation='relu')`` on float32 batches of 128x784 and 1024x1024, one
training step each: the forward pass, then the gradients of the kernel, the bias and the input
for a given upstream gradient. Rows:

* ``fastkeras op``: ``fastkeras.backend.nn.dense`` recorded on a tape, then ``backprop``;
* ``fastkeras Dense``: the same through the ``Dense`` layer (adds the layer-call overhead);
* ``numpy``: the plain-numpy step (``x @ W + b``, ``maximum``, mask, three products, ``sum``);
* ``bare GEMM``: only the three matrix products (``np.dot`` into preallocated outputs), the
  ceiling for any Dense step on this BLAS;
* ``torch`` and ``keras 3 (torch)``: autograd steps, when installed (run last, so their thread
  pools cannot disturb the fastkeras timings).

GFLOP/s counts the three products (``3 * 2 * n * d * units``). ``vs fk`` is the row's time over
the fastkeras op's (above 1: fastkeras is faster); ``of GEMM`` is bare-GEMM time over the row's
(the fraction of the BLAS ceiling reached). A second table times the fused activation op alone
(forward + backward on 1024x512) against numpy/scipy formulas.

Numbers are best-of-N wall times; on a shared machine they are noisy. Numba's OpenMP threads
busy-wait after each kernel by default and then steal the cores OpenBLAS needs; the header shows
``OMP_WAIT_POLICY`` (``PASSIVE`` avoids that).

    python scripts/bench_dense.py [--repeats 20] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
import scipy.special

CASES = [(128, 784, 512), (1024, 1024, 512)]
ACT_SHAPE = (1024, 512)


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


def case_data(n: int, d: int, units: int) -> dict:
    rng = np.random.default_rng(0)
    return {"x": rng.standard_normal((n, d)).astype(np.float32),
            "w": (rng.standard_normal((d, units)) * 0.05).astype(np.float32),
            "b": (rng.standard_normal(units) * 0.1).astype(np.float32),
            "g": rng.standard_normal((n, units)).astype(np.float32)}


# -- fastkeras, numpy, bare GEMM ----------------------------------------------------------------

def fastkeras_steps(data: dict) -> dict:
    from fastkeras.backend import nn
    from fastkeras.backend.tensor import GradientTape, Variable, backprop
    from fastkeras.kernels import dense as kd
    from fastkeras.layers.dense import Dense

    x, w, b = Variable(data["x"]), Variable(data["w"]), Variable(data["b"])
    code, params = kd.ACTIVATIONS["relu"]
    g = data["g"]

    def op_step():
        with GradientTape():
            out = nn.dense(x, w, b, code, params)
        return backprop(out, [x, w, b], seed=g)

    layer = Dense(w.shape[1], activation="relu")
    layer.build(data["x"].shape)
    layer.kernel.assign(data["w"])
    layer.bias.assign(data["b"])

    def layer_step():
        with GradientTape():
            out = layer(x)
        return backprop(out, [x, layer.kernel, layer.bias], seed=g)

    return {"fastkeras op": op_step, "fastkeras Dense": layer_step}


def numpy_step(data: dict):
    x, w, b, g = data["x"], data["w"], data["b"], data["g"]

    def step():
        z = x @ w + b
        np.maximum(z, 0)
        dz = g * (z > 0)
        return x.T @ dz, dz.sum(axis=0), dz @ w.T
    return step


def gemm_step(data: dict):
    x, w, g = data["x"], data["w"], data["g"]
    z, dw, dx = np.empty_like(g), np.empty_like(w), np.empty_like(x)

    def step():
        np.dot(x, w, out=z)
        np.dot(x.T, g, out=dw)
        np.dot(g, w.T, out=dx)
    return step


# -- references --------------------------------------------------------------------------------

def torch_steps(data: dict) -> dict:
    try:
        import torch
    except ImportError:
        return {}
    x = torch.from_numpy(data["x"]).requires_grad_(True)
    w = torch.from_numpy(data["w"]).requires_grad_(True)
    b = torch.from_numpy(data["b"]).requires_grad_(True)
    g = torch.from_numpy(data["g"])

    def torch_step():
        for t in (x, w, b):
            t.grad = None
        torch.relu(x @ w + b).backward(g)

    steps = {"torch": torch_step}
    try:
        os.environ.setdefault("KERAS_BACKEND", "torch")
        import keras
    except Exception:  # keras missing, or installed for another backend
        return steps
    if keras.backend.backend() != "torch":
        return steps
    layer = keras.layers.Dense(data["w"].shape[1], activation="relu")
    layer.build(data["x"].shape)
    layer.set_weights([data["w"], data["b"]])

    def keras_step():
        x.grad = None
        for v in layer.trainable_variables:
            v.value.grad = None
        layer(x).backward(g)

    steps["keras 3 (torch)"] = keras_step
    return steps


# -- activation table --------------------------------------------------------------------------

def activation_rows(repeats: int) -> list:
    from fastkeras.backend import nn
    from fastkeras.backend.tensor import GradientTape, Variable, backprop
    from fastkeras.kernels import dense as kd

    rng = np.random.default_rng(1)
    zv = rng.standard_normal(ACT_SHAPE).astype(np.float32)
    g = rng.standard_normal(ACT_SHAPE).astype(np.float32)
    z = Variable(zv)
    sig = scipy.special.expit

    def np_softmax():
        e = np.exp(zv - zv.max(axis=-1, keepdims=True))
        y = e / e.sum(axis=-1, keepdims=True)
        return y * (g - np.sum(g * y, axis=-1, keepdims=True))

    def np_gelu():
        cdf = 0.5 * (1 + scipy.special.erf(zv / np.float32(np.sqrt(2))))
        return zv * cdf, g * (cdf + zv * np.exp(-0.5 * zv * zv) / np.float32(np.sqrt(2 * np.pi)))

    references = {
        "relu": lambda: (np.maximum(zv, 0), g * (zv > 0)),
        "sigmoid": lambda: (lambda y: (y, g * y * (1 - y)))(sig(zv)),
        "tanh": lambda: (lambda y: (y, g * (1 - y * y)))(np.tanh(zv)),
        "softmax": np_softmax,
        "gelu": np_gelu,
        "silu": lambda: (lambda s: (zv * s, g * s * (1 + zv * (1 - s))))(sig(zv)),
        "elu": lambda: (np.where(zv > 0, zv, np.expm1(zv)), g * np.where(zv > 0, 1, np.exp(zv))),
    }
    rows = []
    for name, reference in references.items():
        code, params = kd.ACTIVATIONS[name]

        def fused(code=code, params=params):
            with GradientTape():
                out = nn.activation(z, code, params)
            return backprop(out, [z], seed=g)
        fk, ref = best_ms(fused, repeats), best_ms(reference, repeats)
        rows.append({"activation": name, "fastkeras_ms": fk, "numpy_ms": ref,
                     "speedup": ref / fk})
    return rows


# -- driver ------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=20, help="timed runs per row (best kept)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args()

    import numba

    import fastkeras  # noqa: F401 - first, so the header shows the threading settings it applies
    header = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
              "numpy": np.__version__, "numba": numba.__version__,
              "numba_threads": numba.config.NUMBA_NUM_THREADS,
              "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "(unset)")}
    print(" ".join(f"{k}={v}" for k, v in header.items()))

    results = []
    for n, d, units in CASES:  # fastkeras, numpy and GEMM first: no foreign thread pools yet
        data = case_data(n, d, units)
        steps = {**fastkeras_steps(data), "numpy": numpy_step(data), "bare GEMM": gemm_step(data)}
        results.append({"batch": n, "input_dim": d, "units": units,
                        "ms": {name: best_ms(step, args.repeats) for name, step in steps.items()}})
    header["numba_threading_layer"] = numba.threading_layer()  # known once a kernel has run
    for res in results:
        data = case_data(res["batch"], res["input_dim"], res["units"])
        for name, step in torch_steps(data).items():
            res["ms"][name] = best_ms(step, args.repeats)

    for res in results:
        flops = 3 * 2 * res["batch"] * res["input_dim"] * res["units"]
        fk, gemm = res["ms"]["fastkeras op"], res["ms"]["bare GEMM"]
        print(f"\nDense({res['units']}, relu) forward+backward, batch {res['batch']}x"
              f"{res['input_dim']} (float32)")
        print(f"  {'':18s} {'ms':>8s} {'GFLOP/s':>8s} {'vs fk':>7s} {'of GEMM':>8s}")
        res["gflops"], res["vs_fastkeras"], res["of_gemm"] = {}, {}, {}
        for name, ms in res["ms"].items():
            res["gflops"][name] = flops / ms / 1e6
            res["vs_fastkeras"][name] = ms / fk
            res["of_gemm"][name] = gemm / ms
            print(f"  {name:18s} {ms:8.3f} {res['gflops'][name]:8.1f} "
                  f"{res['vs_fastkeras'][name]:6.2f}x {100 * res['of_gemm'][name]:7.1f}%")

    acts = activation_rows(args.repeats)
    print(f"\nFused activation op, forward+backward on {ACT_SHAPE[0]}x{ACT_SHAPE[1]} float32")
    print(f"  {'':10s} {'fastkeras ms':>12s} {'numpy ms':>9s} {'speedup':>8s}")
    for row in acts:
        print(f"  {row['activation']:10s} {row['fastkeras_ms']:12.3f} {row['numpy_ms']:9.3f} "
              f"{row['speedup']:7.2f}x")

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"header": header, "dense": results, "activations": acts}, f, indent=2)


if __name__ == "__main__":
    main()
