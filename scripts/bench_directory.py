"""Benchmark: ``flow_from_directory`` throughput, fastkeras against the installed Keras versions.

Generates (once, cached in ``--data``) a folder of JPEGs of about 256x256 in 10 classes, then
times batches of 32 at ``target_size=(224, 224)`` without augmentation and with
(rotation 20, width/height shift 0.2, shear 10, zoom 0.2, horizontal flip, fill 'nearest'),
for fastkeras, keras_preprocessing and Keras 3's legacy ``ImageDataGenerator`` when installed.
Prints images/s side by side with fastkeras's speed-up over each reference (and, without
augmentation, fastkeras's loader alone: ``DirectoryIterator(..., image_data_generator=None)``,
which returns the same batches); ``--json PATH`` also writes the results.

    python scripts/bench_directory.py [--data DIR] [--images 2000] [--batches 20] [--repeats 2]
                                      [--json out.json]
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


def read_all(root: str) -> None:
    """Read every file once, so that each library decodes from the page cache: the first case
    timed would otherwise also pay for the disk."""
    for folder, _, names in os.walk(root):
        for name in names:
            with open(os.path.join(folder, name), "rb") as f:
                f.read()


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


def loader_only(root: str) -> object:
    """fastkeras's DirectoryIterator without a generator: the same float32 batches as
    ``ImageDataGenerator().flow_from_directory``, loading alone (no kernel pass)."""
    from fastkeras.preprocessing.directory import DirectoryIterator

    return DirectoryIterator(root, None, target_size=TARGET_SIZE, batch_size=BATCH_SIZE, seed=0)


def images_per_second(generator_cls, root: str, augment: bool, batches: int) -> float:
    """Time ``batches`` batches (after one warm-up batch, which compiles fastkeras's kernels)."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if generator_cls is None:
            it = loader_only(root)
        else:
            generator = generator_cls(**(AUGMENTATION if augment else {}))
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
    parser.add_argument("--repeats", type=int, default=2,
                        help="time each case this many times, interleaved; keep the best")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()

    root = make_dataset(args.data, args.images)
    read_all(root)
    libs = references()
    results = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                    "platform": platform.platform()},
        "settings": {"images": args.images, "batch_size": BATCH_SIZE, "target_size": TARGET_SIZE,
                     "batches": args.batches, "repeats": args.repeats,
                     "augmentation": AUGMENTATION},
        "cases": {},
    }
    print(f"flow_from_directory, {args.images} JPEGs ~256x256 -> {TARGET_SIZE}, "
          f"batch {BATCH_SIZE}, {args.batches} batches, {os.cpu_count()} CPUs")
    references_only = [name for name in libs if name != "fastkeras"]
    header = "".join(f"{'x ' + name:>24}" for name in references_only)
    print(f"{'case':<12}{'library':<24}{'images/s':>10}{header}")
    for case, augment in [("no_augment", False), ("augment", True)]:
        runs = {"fastkeras": libs["fastkeras"]}
        if not augment:
            runs["fastkeras_loader_only"] = None
        runs.update({name: libs[name] for name in references_only})
        rates = dict.fromkeys(runs, 0.0)
        for _ in range(args.repeats):
            for name, cls in runs.items():
                rates[name] = max(rates[name], images_per_second(cls, root, augment, args.batches))
        results["cases"][case] = {}
        for name, rate in rates.items():
            entry = {"images_per_s": rate}
            shown = ""
            if name.startswith("fastkeras"):
                for ref in references_only:
                    entry[f"speedup_vs_{ref}"] = rate / rates[ref]
                    shown += f"{rate / rates[ref]:>24.2f}"
            results["cases"][case][name] = entry
            print(f"{case:<12}{name:<24}{rate:>10.0f}{shown}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
