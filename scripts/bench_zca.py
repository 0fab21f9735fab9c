"""Benchmark: ``ImageDataGenerator.fit`` with featurewise centring + ZCA whitening, and ``flow``.

Cases:

* ``fit 10000x32x32x3``: fastkeras against keras_preprocessing and Keras 3's legacy generator
  (``keras.src.legacy.preprocessing.image``, torch backend), each when installed. Also reports
  how far fastkeras's whitening matrix is from Keras 3's (same formula, spec image.md §6).
* ``fit 1000x224x224x3``: fastkeras only; Keras cannot (its D x D matrix alone needs 90-181 GB),
  so the script prints that memory instead of running it.
* ``flow 224x224x3``: images/s of ``flow`` with ZCA on, after that fit.
* the floor of ``fit 10000x32x32x3``: the two calls any exact float32 ZCA of that data needs,
  timed alone on the centred data: the Gram product ``X.T @ X`` and the symmetric
  eigendecomposition of the result (``scipy.linalg.eigh``, LAPACK's ``syevd``).

Every case runs in its own subprocess, so the peak resident memory (``ru_maxrss``, including
the data set) of one case does not mix with another's. fastkeras runs a tiny fit first so that
Numba's compilation is not timed. Prints seconds side by side with the ratio reference /
fastkeras; ``--json PATH`` also writes the results.

    python scripts/bench_zca.py [--flow-batches 8] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

SMALL = (10000, 32, 32, 3)
LARGE = (1000, 224, 224, 3)
LIBRARIES = ("fastkeras", "keras_preprocessing", "keras3")


def peak_rss_gb() -> float:
    """Peak resident memory of this process so far, in GB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def images(shape: tuple[int, ...]) -> np.ndarray:
    """Deterministic float32 images on 0-255: smooth structure plus noise, like photos."""
    rng = np.random.default_rng(0)
    n, h, w, c = shape
    rows = np.linspace(0, np.pi, h, dtype=np.float32)[:, None, None]
    cols = np.linspace(0, np.pi, w, dtype=np.float32)[None, :, None]
    x = np.empty(shape, dtype=np.float32)
    for i in range(n):
        phase = rng.uniform(0, 2 * np.pi, (1, 1, c)).astype(np.float32)
        x[i] = 127.5 + 60 * np.sin(rows * (1 + i % 5) + cols * (1 + i % 3) + phase)
        x[i] += rng.uniform(-60, 60, (h, w, c)).astype(np.float32)
    return x


def generator_class(library: str):
    if library == "fastkeras":
        from fastkeras.preprocessing.image import ImageDataGenerator
    elif library == "keras_preprocessing":
        from keras_preprocessing.image import ImageDataGenerator
    else:
        os.environ["KERAS_BACKEND"] = "torch"
        from keras.src.legacy.preprocessing.image import ImageDataGenerator
    return ImageDataGenerator


def floor() -> dict:
    """Seconds of the Gram product and of its eigendecomposition on the centred small data."""
    import scipy.linalg

    x = images(SMALL)
    x -= x.mean(axis=(0, 1, 2), dtype=np.float64).astype(np.float32)
    flat = x.reshape(len(x), -1)
    flat[:2].T @ flat[:2]  # load BLAS before timing
    t0 = time.perf_counter()
    gram = flat.T @ flat
    t1 = time.perf_counter()
    scipy.linalg.eigh(gram, driver="evd")
    t2 = time.perf_counter()
    return {"gram_s": t1 - t0, "eigh_s": t2 - t1}


def child(library: str, case: str, matrix_path: str | None, flow_batches: int) -> dict:
    """Run one case in this process and return its measurements."""
    warnings.simplefilter("ignore")
    if library == "floor":
        return floor()
    cls = generator_class(library)
    if library == "fastkeras":
        cls(featurewise_center=True, zca_whitening=True).fit(images((4, 4, 4, 3)))
    x = images(SMALL if case == "small" else LARGE)
    result = {"rss_before_fit_gb": peak_rss_gb()}
    gen = cls(featurewise_center=True, zca_whitening=True)
    t0 = time.perf_counter()
    gen.fit(x)
    result["fit_s"] = time.perf_counter() - t0
    result["peak_rss_fit_gb"] = peak_rss_gb()
    if matrix_path and library != "keras_preprocessing":
        # keras_preprocessing's principal_components is a different formula; not compared.
        np.savez(matrix_path, mean=gen.mean, matrix=gen.zca_whitening_matrix)
    if case == "large":
        it = gen.flow(x, batch_size=32, shuffle=False)
        it[0]
        t0 = time.perf_counter()
        for i in range(1, flow_batches + 1):
            it[i]
        seconds = time.perf_counter() - t0
        result["flow_images_per_s"] = 32 * flow_batches / seconds
        result["peak_rss_flow_gb"] = peak_rss_gb()
    return result


def run_child(library: str, case: str, flow_batches: int, matrix_path: str | None) -> dict | None:
    """The measurements of one case from a fresh interpreter, or None if it failed."""
    cmd = [sys.executable, __file__, "--child", library, case, "--flow-batches", str(flow_batches)]
    if matrix_path:
        cmd += ["--matrix", matrix_path]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"  {library} {case}: failed\n{proc.stderr[-2000:]}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def installed(library: str) -> bool:
    module = {"fastkeras": "fastkeras", "keras_preprocessing": "keras_preprocessing",
              "keras3": "keras"}[library]
    probe = f"import os; os.environ['KERAS_BACKEND'] = 'torch'; import {module}"
    return subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flow-batches", type=int, default=8, help="timed batches of 32 in flow")
    parser.add_argument("--json", metavar="PATH", help="also write the results here")
    parser.add_argument("--child", nargs=2, metavar=("LIBRARY", "CASE"), help=argparse.SUPPRESS)
    parser.add_argument("--matrix", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not 1 <= args.flow_batches < LARGE[0] // 32:
        parser.error(f"--flow-batches must be between 1 and {LARGE[0] // 32 - 1}")
    if args.child:
        print(json.dumps(child(*args.child, args.matrix, args.flow_batches)))
        return

    results = {"machine": platform.platform(), "cpus": os.cpu_count(), "cases": {}}
    with tempfile.TemporaryDirectory() as tmp:
        print(f"fit, featurewise_center + zca_whitening, {'x'.join(map(str, SMALL))} float32")
        small = {}
        for library in LIBRARIES:
            if not installed(library):
                print(f"  {library:20s} not installed")
                continue
            small[library] = run_child(library, "small", args.flow_batches,
                                       os.path.join(tmp, f"{library}.npz"))
        fk = small.get("fastkeras")
        for library, r in small.items():
            if r is None:
                continue
            line = f"  {library:20s} {r['fit_s']:8.2f} s   peak {r['peak_rss_fit_gb']:5.2f} GB"
            if fk and library != "fastkeras":
                r["ratio_vs_fastkeras"] = r["fit_s"] / fk["fit_s"]
                line += f"   {r['ratio_vs_fastkeras']:6.2f}x fastkeras's time"
            print(line)
        k3_path, fk_path = (os.path.join(tmp, f"{lib}.npz") for lib in ("keras3", "fastkeras"))
        if os.path.exists(k3_path) and os.path.exists(fk_path):
            k3, ours = np.load(k3_path), np.load(fk_path)
            mean_gap = float(np.abs(ours["mean"] - k3["mean"]).max())
            gap = float(np.abs(ours["matrix"] - k3["matrix"]).max() / np.abs(k3["matrix"]).max())
            small["mean_gap_vs_keras3"] = mean_gap
            small["matrix_gap_vs_keras3"] = gap
            print(f"  vs keras3: max |mean gap| = {mean_gap:.1e} (keras3 sums in float32), "
                  f"max |W gap| / max |W| = {gap:.1e}")
        f = run_child("floor", "small", args.flow_batches, None)
        if f is not None:
            small["floor_gram_s"], small["floor_eigh_s"] = f["gram_s"], f["eigh_s"]
            line = (f"  floor (X.T @ X + eigh alone) {f['gram_s'] + f['eigh_s']:6.2f} s "
                    f"(Gram product {f['gram_s']:.2f} s + eigh {f['eigh_s']:.2f} s)")
            kp = small.get("keras_preprocessing")
            if kp:
                line += f"   {(f['gram_s'] + f['eigh_s']) / kp['fit_s']:.2f}x keras_preprocessing's time"
            print(line)
        results["cases"]["fit_10000x32x32x3"] = small

        d = LARGE[1] * LARGE[2] * LARGE[3]
        print(f"\nfit + flow, featurewise_center + zca_whitening, {'x'.join(map(str, LARGE))}")
        print(f"  keras3 / keras_preprocessing: not run, the D x D matrix (D={d}) alone needs "
              f"{d * d * 8 / 1e9:.1f} GB (float64, keras3) / {d * d * 4 / 1e9:.1f} GB "
              "(float32, keras_preprocessing, which holds about 4 such matrices)")
        r = run_child("fastkeras", "large", args.flow_batches, None)
        if r is not None:
            print(f"  fastkeras fit        {r['fit_s']:8.2f} s   peak {r['peak_rss_fit_gb']:5.2f} GB"
                  f" (data alone {r['rss_before_fit_gb']:.2f} GB)   target < 60 s, < 4 GB")
            print(f"  fastkeras flow       {r['flow_images_per_s']:8.1f} images/s (batch 32, "
                  f"no augmentation)   peak {r['peak_rss_flow_gb']:5.2f} GB")
        results["cases"]["fit_flow_1000x224x224x3"] = {
            "fastkeras": r, "keras_matrix_bytes_float64": d * d * 8}

    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
