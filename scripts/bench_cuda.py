"""Benchmark: fastkeras's CUDA kernels on a GPU, with the CPU kernels (and references) beside them.

Three measurements, each printed as a table with the ratio to the CPU kernels:

- augmentation: one ``affine_batch`` call per batch at 224x224x3 (uint8 in, float32 out; rotation,
  shifts, zoom, flips, channel shift, rescale and featurewise standardisation), in images/s: the
  CPU kernel; the CUDA kernel on a batch already on the device; the CUDA kernel including the
  host-to-device copy of the uint8 batch; and the same plus the copy of the result back;
- matrix products: the tiled shared-memory numba GEMM against cuBLAS (through CuPy, when
  installed), torch on the GPU (when available) and numpy's BLAS on the CPU, in GFLOP/s;
- one training epoch of the 784-512-512-10 MLP of ``bench_mlp.py`` (relu, relu, softmax, Adam,
  categorical crossentropy, batch 128): fastkeras's ``fit`` on the CPU, and ``fit`` of the model
  compiled with ``device='cuda'`` (data, weights and optimizer state resident on the GPU; the data
  is copied over once per ``fit`` call, which the time includes); torch on the GPU when it has
  CUDA.

Without a usable GPU it says what is missing and exits with status 0. ``--simulator`` runs it
under numba's CUDA simulator at toy sizes, to check the script itself (its timings mean nothing).

    python scripts/bench_cuda.py [--batch 32] [--samples 60000] [--repeats 3] [--json out.json]
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
    parser.add_argument("--batch", type=int, default=32, help="images per augmentation batch")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--samples", type=int, default=60000, help="MLP training samples")
    parser.add_argument("--gemm", type=int, nargs=3, default=[1024, 1024, 1024],
                        metavar=("M", "K", "N"), help="shape of the large GEMM")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs (best kept)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--simulator", action="store_true",
                        help="run under numba's CUDA simulator at toy sizes (checks the script)")
    return parser.parse_args()


ARGS = parse_args()
MLP_BATCH = 128
SIZES = (784, 512, 512, 10)
if ARGS.simulator:
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"  # before numba is imported
    ARGS.batch, ARGS.image_size, ARGS.samples, ARGS.gemm = 2, 6, 24, [8, 8, 8]
    ARGS.repeats = 1
    MLP_BATCH, SIZES = 8, (12, 8, 8, 3)

import numpy as np  # noqa: E402

from fastkeras import device  # noqa: E402


def best_time(fn, repeats: int, sync) -> float:
    """Best wall time of ``repeats`` calls of ``fn`` after one warm-up call."""
    fn()
    sync()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - start)
    return best


def table(title: str, unit: str, rows: list, base: str) -> None:
    """Print rows of (name, value) with each value's ratio to row ``base``."""
    print(f"\n{title}")
    ref = dict(rows).get(base)
    for name, value in rows:
        ratio = f"{value / ref:8.2f}x" if ref else ""
        print(f"  {name:<42} {value:14.1f} {unit:<10} {ratio}")


# -- augmentation -------------------------------------------------------------------------------

def augmentation(sync) -> list:
    from numba import cuda

    from fastkeras.kernels import resample as cpu
    from fastkeras.kernels.cuda import resample as gpu

    n, s = ARGS.batch, ARGS.image_size
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (n, s, s, 3), dtype=np.uint8)
    theta = np.deg2rad(rng.uniform(-20, 20, n))
    zoom = rng.uniform(0.9, 1.1, n)
    c = (s - 1) / 2
    matrices = np.zeros((n, 2, 3))
    matrices[:, 0, 0] = np.cos(theta) * zoom
    matrices[:, 0, 1] = -np.sin(theta) * zoom
    matrices[:, 1, 0] = np.sin(theta) * zoom
    matrices[:, 1, 1] = np.cos(theta) * zoom
    matrices[:, :, 2] = c - matrices[:, :, :2].sum(axis=2) * c + rng.uniform(-10, 10, (n, 2))
    flags = (cpu.AFFINE | cpu.CHANNEL_SHIFT
             | rng.integers(0, 2, n).astype(np.uint8) * cpu.FLIP_H).astype(np.uint8)
    shift, bright = rng.uniform(-20, 20, n), np.ones(n)
    mean = rng.uniform(100, 150, (s, s, 3)).astype(np.float32)
    std = rng.uniform(40, 80, (s, s, 3)).astype(np.float32)
    post = cpu.RESCALE | cpu.FEATURE_CENTER | cpu.FEATURE_STD
    args = (matrices, flags, shift, bright, cpu.MODES["nearest"], 0.0, 1, post, 1 / 255)

    out = np.empty(x.shape, np.float32)
    t_cpu = best_time(lambda: cpu.affine_batch(x, out, *args, mean, std, False), ARGS.repeats,
                      lambda: None)
    d_x = cuda.to_device(x)
    d_out = cuda.device_array(x.shape, np.float32)
    d_mean, d_std = cuda.to_device(mean), cuda.to_device(std)
    t_dev = best_time(lambda: gpu.affine_batch(d_x, d_out, *args, d_mean, d_std, False),
                      ARGS.repeats, sync)
    pinned = cuda.pinned_array(x.shape, np.uint8)
    pinned[...] = x
    t_h2d = best_time(lambda: gpu.affine_batch(cuda.to_device(pinned), d_out, *args, d_mean,
                                               d_std, False), ARGS.repeats, sync)
    result = cuda.pinned_array(x.shape, np.float32)

    def round_trip():
        gpu.affine_batch(cuda.to_device(pinned), d_out, *args, d_mean, d_std, False)
        d_out.copy_to_host(result)

    t_both = best_time(round_trip, ARGS.repeats, sync)
    np.testing.assert_allclose(d_out.copy_to_host(), out, rtol=1e-5, atol=1e-4)
    return [("fastkeras CPU kernel", n / t_cpu),
            ("fastkeras CUDA, batch on the device", n / t_dev),
            ("fastkeras CUDA + host-to-device copy", n / t_h2d),
            ("fastkeras CUDA + copies both ways", n / t_both)]


# -- matrix products ----------------------------------------------------------------------------

def matrix_products(sync) -> list:
    from numba import cuda

    from fastkeras.kernels.cuda import gemm

    rows = []
    for m, k, n in ((MLP_BATCH, SIZES[0], SIZES[1]), tuple(ARGS.gemm)):
        rng = np.random.default_rng(1)
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        flops = 2.0 * m * k * n
        label = f"{m}x{k} @ {k}x{n} float32"
        out = np.empty((m, n), np.float32)
        rows.append((f"numpy BLAS (CPU), {label}",
                     flops / best_time(lambda: np.dot(a, b, out=out), ARGS.repeats,
                                       lambda: None) / 1e9))
        da, db = cuda.to_device(a), cuda.to_device(b)
        dout = cuda.device_array((m, n), np.float32)
        rows.append((f"tiled numba GEMM, {label}",
                     flops / best_time(lambda: gemm.tiled_matmul(da, db, dout), ARGS.repeats,
                                       sync) / 1e9))
        np.testing.assert_allclose(dout.copy_to_host(), a @ b, rtol=1e-3, atol=1e-3)
        if gemm.cupy_available():
            rows.append((f"cuBLAS via CuPy, {label}",
                         flops / best_time(lambda: gemm.cublas_matmul(da, db, dout),
                                           ARGS.repeats, sync) / 1e9))
        torch = torch_cuda()
        if torch is not None:
            ta, tb = torch.from_numpy(a).cuda(), torch.from_numpy(b).cuda()
            rows.append((f"torch.matmul (GPU), {label}",
                         flops / best_time(lambda: torch.matmul(ta, tb), ARGS.repeats,
                                           torch.cuda.synchronize) / 1e9))
    return rows


def torch_cuda():
    """torch, when it is installed with a usable GPU (never under the simulator)."""
    if ARGS.simulator:
        return None
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


# -- the MLP epoch ------------------------------------------------------------------------------

def mlp_data(n: int) -> tuple:
    """The data of bench_mlp.py: inputs in [0, 1), labels from a random relu teacher."""
    rng = np.random.default_rng(0)
    d, classes = SIZES[0], SIZES[-1]
    x = rng.random((n, d), dtype=np.float32)
    w1 = rng.normal(size=(d, 64)).astype(np.float32) / np.sqrt(d)
    w2 = rng.normal(size=(64, classes)).astype(np.float32)
    labels = np.argmax(np.maximum(x @ w1 - 0.5, 0) @ w2, axis=1)
    return x, np.eye(classes, dtype=np.float32)[labels]


def mlp_model(device_name: str):
    """The benchmark MLP, compiled for ``device_name``, with glorot weights from one seed."""
    from fastkeras import layers, models, optimizers

    model = models.Sequential([layers.Input((SIZES[0],)),
                               layers.Dense(SIZES[1], activation="relu"),
                               layers.Dense(SIZES[2], activation="relu"),
                               layers.Dense(SIZES[3], activation="softmax")])
    rng = np.random.default_rng(2)
    weights = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        limit = np.sqrt(6 / (fan_in + fan_out))
        weights += [rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32),
                    np.zeros(fan_out, np.float32)]
    model.set_weights(weights)
    model.compile(optimizers.Adam(1e-3), "categorical_crossentropy", metrics=["accuracy"],
                  device=device_name)
    return model


def mlp_epoch(sync) -> list:
    """One ``fit`` epoch on the CPU and with ``device='cuda'`` (the resident path: the data goes
    over once per ``fit``, included in the time), and torch on the GPU when it has CUDA."""
    x, y = mlp_data(ARGS.samples)
    rows = []
    models = {}
    for name, device_name, repeats in (("fastkeras fit (CPU)", "cpu", max(1, ARGS.repeats - 1)),
                                       ("fastkeras fit, device='cuda'", "cuda", ARGS.repeats)):
        model = models[device_name] = mlp_model(device_name)
        seconds = best_time(lambda: model.fit(x, y, batch_size=MLP_BATCH, epochs=1, verbose=0),
                            repeats, sync if device_name == "cuda" else lambda: None)
        rows.append((name, seconds))
    gpu = models["cuda"]
    accuracy = gpu.evaluate(x, y, batch_size=MLP_BATCH, verbose=0)[1]
    print(f"  (device='cuda' training accuracy after {int(gpu.optimizer.iterations.value)} "
          f"steps: {accuracy:.3f})")
    torch = torch_cuda()
    if torch is not None:
        rows.append(("torch (GPU)", torch_epoch(torch, x, y)))
    return rows


def torch_epoch(torch, x: np.ndarray, y: np.ndarray) -> float:
    """Best epoch time of the same MLP in torch on the GPU, data resident there."""
    dev = torch.device("cuda")
    net = torch.nn.Sequential(torch.nn.Linear(SIZES[0], SIZES[1]), torch.nn.ReLU(),
                              torch.nn.Linear(SIZES[1], SIZES[2]), torch.nn.ReLU(),
                              torch.nn.Linear(SIZES[2], SIZES[3])).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    tx, ty = torch.from_numpy(x).to(dev), torch.from_numpy(y.argmax(axis=1)).to(dev)
    loss_fn = torch.nn.CrossEntropyLoss()
    batches = x.shape[0] // MLP_BATCH

    def epoch():
        for i in torch.randperm(batches).tolist():
            sl = slice(i * MLP_BATCH, (i + 1) * MLP_BATCH)
            opt.zero_grad(set_to_none=True)
            loss_fn(net(tx[sl]), ty[sl]).backward()
            opt.step()

    return best_time(epoch, ARGS.repeats, torch.cuda.synchronize)


# -- main ---------------------------------------------------------------------------------------

def main() -> None:
    status = device.cuda_status()
    if not status.available or (status.simulator and not ARGS.simulator):
        print(f"bench_cuda: no usable CUDA GPU here, missing {status.missing}: {status.detail}. "
              "Nothing to measure.")
        return
    from numba import cuda

    sync = cuda.synchronize
    print(f"device: {status.detail}; host: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs")
    if ARGS.simulator:
        print("(simulator: toy sizes, timings mean nothing)")
    results: dict = {"device": status.detail, "simulator": status.simulator}
    aug = augmentation(sync)
    table(f"Augmentation, batch {ARGS.batch} at {ARGS.image_size}x{ARGS.image_size}x3",
          "images/s", aug, "fastkeras CPU kernel")
    gemm_rows = matrix_products(sync)
    table("Matrix products", "GFLOP/s", gemm_rows, gemm_rows[0][0])
    mlp = mlp_epoch(sync)
    speed = [(name, ARGS.samples / t) for name, t in mlp]
    table(f"MLP {'-'.join(map(str, SIZES))} epoch, {ARGS.samples} samples, batch {MLP_BATCH}",
          "samples/s", speed, "fastkeras fit (CPU)")
    results.update(augmentation_images_per_s=dict(aug), gemm_gflops=dict(gemm_rows),
                   mlp_epoch_seconds=dict(mlp))
    if ARGS.json:
        with open(ARGS.json, "w") as f:
            json.dump(results, f, indent=2)
        print(f"\nwrote {ARGS.json}")


if __name__ == "__main__":
    sys.exit(main())
