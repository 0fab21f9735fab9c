"""Benchmark: ``fastkeras-augment`` against a plain Keras loop doing the same job.

The job: 2,000 JPEGs of 256x256 in 10 class folders, 5 augmented copies of each written as JPEG
(quality 90), with rotation 20, width/height shift 0.2, shear 10, zoom 0.2, horizontal flip and
fill 'nearest'. fastkeras runs the real command (``python -m fastkeras.cli ... --workers 2``,
after a small warm-up run that loads the compiled kernels) and its images/s is taken from its
``--report`` (the job itself, without the interpreter start, which is also shown). Each installed
reference runs the loop a Keras user would write: ``load_img`` + ``img_to_array`` per source, then
per copy ``random_transform`` and ``save_img(..., scale=False, quality=90)``, on one thread. The
references do the first ``--ref-images`` sources only (their speed per image does not depend on
how many they do) to keep the run short. Prints images written per second side by side with
fastkeras's speed-up, and the CPU time each used (a steadier figure on a busy machine);
``--json PATH`` also writes the results.

    python scripts/bench_cli.py [--data DIR] [--images 2000] [--ref-images 100]
                                [--workers 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import resource
import shutil
import subprocess
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
FLAGS = ["--rotation-range", "20", "--width-shift-range", "0.2", "--height-shift-range", "0.2",
         "--shear-range", "10", "--zoom-range", "0.2", "--horizontal-flip",
         "--fill-mode", "nearest"]
CLASSES = 10
SIZE = 256
COPIES = 5
QUALITY = 90


def make_dataset(root: str, images: int) -> str:
    """Write ``images`` 256x256 JPEGs of smooth random content into 10 class folders.

    They go to ``root/<images>/`` and are reused when that folder is complete; returns it.
    """
    root = os.path.join(root, f"{images}x{SIZE}")
    marker = os.path.join(root, ".complete")
    if os.path.exists(marker):
        return root
    rng = np.random.default_rng(0)
    for i in range(images):
        folder = os.path.join(root, f"class_{i % CLASSES:02d}")
        os.makedirs(folder, exist_ok=True)
        coarse = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
        img = Image.fromarray(coarse).resize((SIZE, SIZE), Image.Resampling.BICUBIC)
        img.save(os.path.join(folder, f"{i:05d}.jpg"), quality=QUALITY)
    open(marker, "w").close()
    return root


def references() -> dict:
    """Name -> (ImageDataGenerator class, load_img, img_to_array, save_img) for each installed."""
    found = {}
    try:
        from keras_preprocessing import image as kp
    except ImportError:
        pass
    else:
        found["keras_preprocessing"] = (kp.ImageDataGenerator, kp.load_img, kp.img_to_array,
                                        kp.save_img)
    os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            from keras.src.legacy.preprocessing.image import ImageDataGenerator as K3
            from keras.utils import img_to_array, load_img, save_img
    except Exception:  # keras missing, or no usable backend
        pass
    else:
        found["keras3 (legacy)"] = (K3, load_img, img_to_array, save_img)
    return found


def keras_loop(tools: tuple, sources: list[str], src: str, dst: str) -> tuple[float, float]:
    """Augment ``sources`` as a plain Keras loop does; return the seconds and CPU seconds."""
    generator_cls, load_img, img_to_array, save_img = tools
    gen = generator_cls(**AUGMENTATION)
    np.random.seed(0)
    start, cpu = time.perf_counter(), time.process_time()
    for rel in sources:
        x = img_to_array(load_img(os.path.join(src, rel)))
        folder = os.path.join(dst, os.path.dirname(rel))
        os.makedirs(folder, exist_ok=True)
        stem = os.path.splitext(os.path.basename(rel))[0]
        for k in range(COPIES):
            y = gen.random_transform(x)
            save_img(os.path.join(folder, f"{stem}_aug{k}.jpg"), y, scale=False, quality=QUALITY)
    return time.perf_counter() - start, time.process_time() - cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_cli(src: str, dst: str, workers: int, report: str) -> tuple[dict, float, float]:
    """Run the command; return its report, and the wall and CPU seconds of the whole process
    (interpreter start and imports included)."""
    command = [sys.executable, "-m", "fastkeras.cli", src, dst, "--copies", str(COPIES),
               "--format", "jpg", "--quality", str(QUALITY), "--seed", "0",
               "--workers", str(workers), "--report", report, "--quiet", *FLAGS]
    start, cpu = time.perf_counter(), _children_cpu()
    subprocess.run(command, check=True)
    wall, cpu = time.perf_counter() - start, _children_cpu() - cpu
    with open(report) as f:
        return json.load(f), wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "fastkeras_bench"),
                        help="folder caching the generated JPEGs")
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--ref-images", type=int, default=100,
                        help="sources the reference loops augment")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON")
    args = parser.parse_args()

    src = make_dataset(args.data, args.images)
    from fastkeras.augment_job import list_sources

    sources = list_sources(src)
    print(f"{len(sources)} JPEGs {SIZE}x{SIZE}, {COPIES} copies each (JPEG quality {QUALITY}); "
          f"python {platform.python_version()}, {os.cpu_count()} CPUs")
    rows = []
    with tempfile.TemporaryDirectory() as out:
        warm_src = os.path.join(out, "warm_src", "c")
        os.makedirs(warm_src)
        for rel in sources[:4]:
            shutil.copy(os.path.join(src, rel), warm_src)
        run_cli(os.path.dirname(warm_src), os.path.join(out, "warm_dst"), args.workers,
                os.path.join(out, "warm.json"))
        report, wall, cpu = run_cli(src, os.path.join(out, "fastkeras"), args.workers,
                               os.path.join(out, "report.json"))
        if report["written"] != len(sources) * COPIES or report["failed"]:
            raise RuntimeError(f"fastkeras-augment did not write the whole job: {report}")
        fast = report["images_per_s"]
        rows.append({"name": f"fastkeras-augment --workers {args.workers}",
                     "images": report["written"], "seconds": report["elapsed_s"],
                     "images_per_s": fast, "wall_s_with_startup": wall,
                     "cpu_s_with_startup": cpu})
        subset = sources[:args.ref_images]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name, tools in references().items():
                seconds, cpu = keras_loop(tools, subset, src, os.path.join(out, name))
                rows.append({"name": f"{name} loop", "images": len(subset) * COPIES,
                             "seconds": seconds, "images_per_s": len(subset) * COPIES / seconds,
                             "cpu_s": cpu})

    print(f"{'':38s} {'images':>7s} {'seconds':>8s} {'images/s':>9s} {'fastkeras x':>12s}")
    for row in rows:
        speedup = fast / row["images_per_s"]
        row["fastkeras_speedup"] = speedup
        print(f"{row['name']:38s} {row['images']:7d} {row['seconds']:8.2f} "
              f"{row['images_per_s']:9.1f} {speedup:12.2f}")
    print(f"fastkeras's whole process, interpreter start and imports included: "
          f"{rows[0]['wall_s_with_startup']:.2f}s, {rows[0]['cpu_s_with_startup']:.2f} CPU s "
          f"({rows[0]['images'] / rows[0]['cpu_s_with_startup']:.1f} images per CPU s)")
    for row in rows[1:]:
        print(f"{row['name']}: {row['cpu_s']:.2f} CPU s "
              f"({row['images'] / row['cpu_s']:.1f} images per CPU s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"job": {"sources": len(sources), "size": SIZE, "copies": COPIES,
                               "quality": QUALITY, "augmentation": AUGMENTATION,
                               "workers": args.workers},
                       "python": platform.python_version(), "cpus": os.cpu_count(),
                       "results": rows}, f, indent=2)


if __name__ == "__main__":
    main()
