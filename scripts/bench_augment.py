"""Benchmark: augmented images per second, fastkeras against every installed reference.

Configs (batches of 32):

- ``basic``: rotation 20, width/height shift 0.2, shear 10, zoom 0.2, horizontal flip, fill nearest;
- ``full``: basic + channel shift 20, brightness (0.8, 1.2), rescale 1/255 and featurewise
  centring / std normalisation (fitted on the data first).

Each runs on 32x32x3 and 224x224x3 images stored as float32 and as uint8. References, when
installed: keras_preprocessing's ``ImageDataGenerator``, Keras 3's legacy one
(``keras.src.legacy.preprocessing.image``, torch backend), albumentations ``Affine + HorizontalFlip``
and one ``cv2.warpAffine`` (+ flip) per image; the last two only do the basic config's geometry.

Usage::

    python scripts/bench_augment.py [--json results.json] [--min-time 0.4] [--repeats 3] [--cold]

Each cell is the best of ``--repeats`` measurements taken in turn across the libraries.

``--cold`` also measures the kernels' first call with an empty Numba cache (compilation) in a
subprocess; the warm first call (cache already filled) is always printed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings

os.environ.setdefault("KERAS_BACKEND", "torch")  # Keras 3 needs a backend before it is imported

import numba  # noqa: E402
import numpy as np  # noqa: E402

from fastkeras.preprocessing.image import ImageDataGenerator  # noqa: E402

BATCH = 32
BASIC = dict(rotation_range=20, width_shift_range=0.2, height_shift_range=0.2, shear_range=10, zoom_range=0.2,
             horizontal_flip=True, fill_mode="nearest")
FULL = dict(BASIC, channel_shift_range=20.0, brightness_range=(0.8, 1.2), rescale=1 / 255,
            featurewise_center=True, featurewise_std_normalization=True)
CONFIGS = {"basic": BASIC, "full": FULL}
SIZES = (32, 224)
DTYPES = ("float32", "uint8")


def make_data(size: int, dtype: str) -> np.ndarray:
    n = 1024 if size == 32 else 96
    rng = np.random.default_rng(0)
    return rng.uniform(0, 255, (n, size, size, 3)).astype(dtype)


def generator_runner(cls):
    """A batch function for an ImageDataGenerator class (fastkeras, KP or K3)."""

    def build(config, x):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gen = cls(**config)
            if config.get("featurewise_center"):
                gen.fit(x[:256].astype(np.float32))
        it = gen.flow(x, batch_size=BATCH, seed=0)
        return lambda: next(it)

    return build


def albumentations_runner():
    import albumentations as A
    import cv2

    def build(config, x):
        if config is not BASIC:
            return None
        aug = A.Compose([
            A.Affine(rotate=(-20, 20), translate_percent=(-0.2, 0.2), shear=(-10, 10), scale=(0.8, 1.2),
                     border_mode=cv2.BORDER_REPLICATE, p=1.0),
            A.HorizontalFlip(p=0.5),
        ])
        state = {"i": 0}

        def batch():
            start = state["i"]
            state["i"] = (start + BATCH) % (len(x) - BATCH)
            out = np.empty((BATCH,) + x.shape[1:], np.float32)
            for k in range(BATCH):
                out[k] = aug(image=x[start + k])["image"]
            return out

        return batch

    return build


def cv2_runner():
    import cv2

    def build(config, x):
        if config is not BASIC:
            return None
        rng = np.random.default_rng(0)
        h, w = x.shape[1:3]
        state = {"i": 0}

        def batch():
            start = state["i"]
            state["i"] = (start + BATCH) % (len(x) - BATCH)
            out = np.empty((BATCH,) + x.shape[1:], np.float32)
            for k in range(BATCH):
                angle, shear = rng.uniform(-20, 20), np.deg2rad(rng.uniform(-10, 10))
                scale, (tx, ty) = rng.uniform(0.8, 1.2), rng.uniform(-0.2, 0.2, 2) * (w, h)
                m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
                m[0, 1] += np.tan(shear)
                m[:, 2] += (tx, ty)
                img = cv2.warpAffine(x[start + k], m, (w, h), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_REPLICATE)
                out[k] = img[:, ::-1] if rng.random() < 0.5 else img
            return out

        return batch

    return build


def references() -> dict:
    """Name -> runner builder, for every reference that imports here."""
    found = {}
    try:
        from keras_preprocessing.image import ImageDataGenerator as KP

        found["keras_preprocessing"] = generator_runner(KP)
    except ImportError:
        pass
    try:
        from keras.src.legacy.preprocessing.image import ImageDataGenerator as K3

        found["keras3_legacy"] = generator_runner(K3)
    except Exception:  # keras absent, or no usable backend
        pass
    try:
        found["albumentations"] = albumentations_runner()
    except ImportError:
        pass
    try:
        found["cv2_warpAffine"] = cv2_runner()
    except ImportError:
        pass
    return found


def measure(batch, min_time: float) -> float:
    """Images per second over at least ``min_time`` seconds and 2 batches (after one warm-up)."""
    batch()
    count, start = 0, time.perf_counter()
    while True:
        batch()
        count += 1
        elapsed = time.perf_counter() - start
        if count >= 2 and elapsed >= min_time:
            return count * BATCH / elapsed


def warm_first_call() -> float:
    x = make_data(32, "float32")[:BATCH]
    gen = ImageDataGenerator(**BASIC)
    start = time.perf_counter()
    gen.flow(x, batch_size=BATCH, seed=0).next()
    return time.perf_counter() - start


COLD_SCRIPT = """
import time, numpy as np
t0 = time.perf_counter()
from fastkeras.preprocessing.image import ImageDataGenerator
t1 = time.perf_counter()
x = np.random.default_rng(0).uniform(0, 255, (32, 32, 32, 3)).astype("float32")
ImageDataGenerator(rotation_range=20, horizontal_flip=True).flow(x, seed=0).next()
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def cold_first_call() -> tuple[float, float]:
    """(import seconds, first batch seconds) in a fresh process with an empty Numba cache."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        out = subprocess.run([sys.executable, "-c", COLD_SCRIPT], env=env, capture_output=True, text=True,
                             check=True)
    imp, first = (float(v) for v in out.stdout.split())
    return imp, first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON")
    parser.add_argument("--min-time", type=float, default=0.4, help="seconds per measurement (default 0.4)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="measurements per cell, interleaved across libraries; the best is kept "
                             "(default 3: a shared machine's slow moments hit one library, not all)")
    parser.add_argument("--cold", action="store_true", help="also time the first call with an empty Numba cache")
    args = parser.parse_args()

    refs = references()
    results = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "numba_threads": numba.get_num_threads(), "numpy": np.__version__},
        "batch_size": BATCH,
        "repeats": args.repeats,
        "first_call_warm_s": warm_first_call(),
        "rows": [],
    }
    if args.cold:
        results["import_cold_s"], results["first_call_cold_s"] = cold_first_call()
    print(f"fastkeras first batch (warm Numba cache): {results['first_call_warm_s'] * 1e3:.1f} ms")
    if args.cold:
        print(f"fastkeras import {results['import_cold_s']:.2f} s, first batch with an empty Numba cache "
              f"(compilation): {results['first_call_cold_s']:.2f} s")
    print(f"numba threads: {numba.get_num_threads()}; references: {', '.join(refs) or 'none'}\n")

    names = ["fastkeras"] + list(refs)
    header = f"{'config':<6} {'size':>9} {'dtype':<8}" + "".join(f"{n:>20}" for n in names)
    print(header + "   (images/s; x = fastkeras / reference)")
    print("-" * len(header))
    builders = {"fastkeras": generator_runner(ImageDataGenerator), **refs}
    for cname, config in CONFIGS.items():
        for size in SIZES:
            for dtype in DTYPES:
                x = make_data(size, dtype)
                row = {"config": cname, "size": f"{size}x{size}x3", "dtype": dtype, "images_per_s": {}}
                runners = {name: builders[name](config, x) for name in names}
                rates = row["images_per_s"]
                for _ in range(args.repeats):
                    for name, batch in runners.items():
                        if batch is not None:
                            rates[name] = max(rates.get(name, 0.0), measure(batch, args.min_time))
                ours = row["images_per_s"]["fastkeras"]
                cells = []
                for name in names:
                    rate = row["images_per_s"].get(name)
                    if rate is None:
                        cells.append(f"{'-':>20}")
                    elif name == "fastkeras":
                        cells.append(f"{rate:>20,.0f}")
                    else:
                        cells.append(f"{rate:>11,.0f} ({ours / rate:>5.1f}x)")
                print(f"{cname:<6} {row['size']:>9} {dtype:<8}" + "".join(cells))
                results["rows"].append(row)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
