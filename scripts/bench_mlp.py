"""Benchmark: one training epoch of an MLP, fastkeras against PyTorch and Keras 3 (torch).

The model is 784-512-512-10 (relu, relu, softmax), trained with Adam (lr 1e-3, eps 1e-7) on
categorical crossentropy, batch 128, shuffled, over generated data (60,000 samples whose labels
come from a random two-layer teacher, so the problem is learnable). Each library first runs a
short warm-up fit (JIT compilation, allocator); then timed epochs and ``predict`` passes (batch
1024) alternate between the libraries ``--repeats`` times and the best time of each is kept, so
that load from other processes hits every library alike. The libraries run side by side in one
process with the same thread count; the script prints seconds per epoch, samples/s, and each
library's epoch time relative to fastkeras's. ``--json PATH`` writes the results.

    python scripts/bench_mlp.py [--samples 60000] [--threads 2] [--repeats 2] [--json out.json]

Keras and PyTorch are optional: whichever is installed is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=60000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="threads for every library (default: all cores)")
    parser.add_argument("--repeats", type=int, default=2,
                        help="timed epochs per library (best kept)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    return parser.parse_args()


ARGS = parse_args()
# Thread counts must be fixed before numba, BLAS or torch start their pools.
for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)
os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402

WARMUP_SAMPLES = 1280
PREDICT_BATCH = 1024


def make_data(n: int, seed: int = 0) -> tuple:
    """Inputs in [0, 1) and one-hot labels from a random relu teacher."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 784), dtype=np.float32)
    w1 = rng.normal(size=(784, 64)).astype(np.float32) / 28.0
    w2 = rng.normal(size=(64, 10)).astype(np.float32)
    hidden = np.maximum(x @ w1 - 0.5, 0)
    labels = np.argmax(hidden @ w2, axis=1)
    return x, np.eye(10, dtype=np.float32)[labels], labels


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def fastkeras_runner(x, y, batch_size: int) -> tuple:
    """Warm up a fastkeras MLP; return ``(epoch, predict, last_loss)`` callables."""
    from fastkeras.engine.input_layer import Input
    from fastkeras.engine.sequential import Sequential
    from fastkeras.layers.dense import Dense
    from fastkeras.optimizers import Adam

    model = Sequential([Input((784,)), Dense(512, activation="relu"),
                        Dense(512, activation="relu"), Dense(10, activation="softmax")])
    model.compile(optimizer=Adam(learning_rate=1e-3), loss="categorical_crossentropy")
    model.fit(x[:WARMUP_SAMPLES], y[:WARMUP_SAMPLES], batch_size=batch_size, verbose=0)
    model.predict(x[:PREDICT_BATCH], batch_size=PREDICT_BATCH, verbose=0)
    history = {}

    def epoch():
        history.update(model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0).history)

    return (epoch, lambda: model.predict(x, batch_size=PREDICT_BATCH, verbose=0),
            lambda: history["loss"][-1])


def torch_runner(x, labels, batch_size: int, threads: int) -> tuple:
    """Warm up the same MLP in PyTorch (a plain training loop)."""
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(),
                                torch.nn.Linear(512, 512), torch.nn.ReLU(),
                                torch.nn.Linear(512, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()  # softmax + crossentropy on the logits
    xt, yt = torch.from_numpy(x), torch.from_numpy(labels.astype(np.int64))
    last = {}

    def run(n: int) -> None:
        order = torch.randperm(n)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            optimizer.step()
        last["loss"] = float(loss.detach())

    def predict() -> None:
        with torch.no_grad():
            for start in range(0, len(xt), PREDICT_BATCH):
                torch.softmax(model(xt[start:start + PREDICT_BATCH]), dim=1)

    run(WARMUP_SAMPLES)
    return lambda: run(len(xt)), predict, lambda: last["loss"]


def keras_runner(x, y, batch_size: int) -> tuple:
    """Warm up the same MLP in Keras 3 (torch backend)."""
    import keras

    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(512, activation="relu"),
                              keras.layers.Dense(512, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3),
                  loss="categorical_crossentropy")
    model.fit(x[:WARMUP_SAMPLES], y[:WARMUP_SAMPLES], batch_size=batch_size, verbose=0)
    model.predict(x[:PREDICT_BATCH], batch_size=PREDICT_BATCH, verbose=0)
    history = {}

    def epoch():
        history.update(model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0).history)

    return (epoch, lambda: model.predict(x, batch_size=PREDICT_BATCH, verbose=0),
            lambda: history["loss"][-1])


def installed(module: str) -> bool:
    import importlib.util
    return importlib.util.find_spec(module) is not None


def main() -> None:
    x, y, labels = make_data(ARGS.samples)
    n = len(x)
    runners = {"fastkeras": fastkeras_runner(x, y, ARGS.batch_size)}
    if installed("torch"):
        runners["pytorch"] = torch_runner(x, labels, ARGS.batch_size, ARGS.threads)
    if installed("keras") and installed("torch"):
        runners["keras3_torch"] = keras_runner(x, y, ARGS.batch_size)
    times = {name: {"epoch_s": [], "predict_s": []} for name in runners}
    for _ in range(ARGS.repeats):
        for name, (epoch, predict, _) in runners.items():
            times[name]["epoch_s"].append(timed(epoch))
            times[name]["predict_s"].append(timed(predict))
    results = {name: {"epoch_s": min(t["epoch_s"]), "predict_s": min(t["predict_s"]),
                      "all_epoch_s": t["epoch_s"], "loss": runners[name][2]()}
               for name, t in times.items()}

    fk = results["fastkeras"]
    print(f"MLP 784-512-512-10, Adam, batch {ARGS.batch_size}, {n} samples, "
          f"{ARGS.threads} thread(s), best of {ARGS.repeats}")
    print(f"{'library':<14}{'epoch s':>10}{'train samples/s':>18}{'predict samples/s':>20}"
          f"{'epoch time / fastkeras':>24}{'last loss':>11}")
    for name, r in results.items():
        r["train_samples_per_s"] = n / r["epoch_s"]
        r["predict_samples_per_s"] = n / r["predict_s"]
        r["epoch_time_vs_fastkeras"] = r["epoch_s"] / fk["epoch_s"]
        print(f"{name:<14}{r['epoch_s']:>10.2f}{r['train_samples_per_s']:>18,.0f}"
              f"{r['predict_samples_per_s']:>20,.0f}{r['epoch_time_vs_fastkeras']:>23.2f}x"
              f"{r['loss']:>11.4f}")
    if "pytorch" in results:
        share = fk["epoch_s"] / results["pytorch"]["epoch_s"]
        print(f"fastkeras epoch = {share:.2f} x PyTorch's (target <= 0.60)")
    if ARGS.json:
        payload = {"benchmark": "mlp_epoch", "samples": n, "batch_size": ARGS.batch_size,
                   "threads": ARGS.threads, "repeats": ARGS.repeats,
                   "python": sys.version.split()[0], "machine": platform.machine(),
                   "results": results}
        with open(ARGS.json, "w") as f:
            json.dump(payload, f, indent=2)


if __name__ == "__main__":
    main()
