"""Benchmark: ``flow_from_directory`` throughput, fastkeras against the installed Keras versions.

Generates (once, cached in ``--data``) a folder of JPEGs of about 256x256 in 10 classes, then
times batches of 32 at ``target_size=(224, 224)`` without augmentation and with
(rotation 20, width/height shift 0.2, shear 10, zoom 0.2, horizontal flip, fill 'nearest'),
for fastkeras, keras_preprocessing and Keras 3's legacy ``ImageDataGenerator`` when installed.
Prints images/s side by side with the ratio; ``--json PATH`` also writes the results.

    python scripts/bench_directory.py [--data DIR] [--images 2000] [--batches 20] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import sys
import tempfile
import time
import warnings

import numpy as np
from PIL import Image

AUGMENTATION = dict(
    rotation_range=20,
    width_shift_range=0.2,
    height_shift_range=0.2,
    shear_range=10,
    zoom_range=0.2,
    horizontal_flip=True,
    fill_mode="nearest",
)
CLASSES = 10
BATCH_SIZE = 32
TARGET_SIZE = (224, 224)


def make_dataset(root: str, images: int) -> str:
    """Write ``images`` JPEGs (smooth random content, 240-272 px a side) into 10 class folders.

    They go to ``root/<images>/`` and are reused when that folder is complete; returns it.
    """
    root = os.path.join(root, str(images))
    marker = os.path.join(root, ".complete")
    if os.path.exists(marker):
        return root
    rng = np.random.default_rng(0)
    for i in range(images):
        folder = os.path.join(root, f"class_{i % CLASSES:02d}")
        os.makedirs(folder, exist_ok=True)
        h, w = rng.integers(240, 273, size=2)
        coarse = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
        img = Image.fromarray(coarse).resize((int(w), int(h)), Image.Resampling.BICUBIC)
        img.save(os.path.join(folder, f"{i:05d}.jpg"), quality=90)
    open(marker, "w").close()
    return root


def references() -> dict:
    """Name -> ImageDataGenerator class, for fastkeras and each installed reference."""
    from fastkeras.preprocessing.image import ImageDataGenerator

    found = {"fastkeras": ImageDataGenerator}
    try:
        from keras_preprocessing.image import ImageDataGenerator as KP
    except ImportError:
        pass
    else:
        found["keras_preprocessing"] = KP
    os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            from keras.src.legacy.preprocessing.image import ImageDataGenerator as K3
    except Exception:  # keras missing, or no usable backend
        pass
    else:
        found["keras3_legacy"] = K3
    return found


def images_per_second(generator_cls, root: str, augment: bool, batches: int) -> float:
    """Time ``batches`` batches (after one warm-up batch, which compiles fastkeras's kernels)."""
    generator = generator_cls(**(AUGMENTATION if augment else {}))
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        it = generator.flow_from_directory(
            root, target_size=TARGET_SIZE, batch_size=BATCH_SIZE, seed=0
        )
    next(it)
    count = 0
    start = time.perf_counter()
    for _ in range(batches):
        x, _ = next(it)
        count += len(x)
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_data = os.path.join(tempfile.gettempdir(), "fastkeras_bench_dir")
    parser.add_argument("--data", default=default_data,
                        help="dataset cache folder (generated on first use, then reused)")
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--batches", type=int, default=20, help="timed batches per case")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()

    root = make_dataset(args.data, args.images)
    libs = references()
    results = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                    "platform": platform.platform()},
        "settings": {"images": args.images, "batch_size": BATCH_SIZE, "target_size": TARGET_SIZE,
                     "batches": args.batches, "augmentation": AUGMENTATION},
        "cases": {},
    }
    print(f"flow_from_directory, {args.images} JPEGs ~256x256 -> {TARGET_SIZE}, "
          f"batch {BATCH_SIZE}, {args.batches} batches, {os.cpu_count()} CPUs")
    print(f"{'case':<16}{'library':<22}{'images/s':>10}{'fastkeras x':>14}")
    for case, augment in [("no_augment", False), ("augment", True)]:
        rates = {name: images_per_second(cls, root, augment, args.batches)
                 for name, cls in libs.items()}
        results["cases"][case] = {}
        for name, rate in rates.items():
            ratio = rates["fastkeras"] / rate
            results["cases"][case][name] = {"images_per_s": rate, "fastkeras_speedup": ratio}
            shown = "" if name == "fastkeras" else f"{ratio:.2f}"
            print(f"{case:<16}{name:<22}{rate:>10.0f}{shown:>14}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
