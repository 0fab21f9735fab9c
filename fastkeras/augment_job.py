"""Augmentation jobs: write ``copies`` augmented versions of every image of a folder tree.

This is the engine of the ``fastkeras-augment`` command (:mod:`fastkeras.cli`) and of
:func:`fastkeras.distributed.augment_directory`. A job has three steps:

1. :func:`make_options` validates the settings (``ImageDataGenerator`` augmentation arguments and
   the output settings) and names the setting at fault in every error.
2. :func:`plan_job` lists the source tree, names every output, picks this shard's share and
   skips finished outputs. It reads the file system and writes nothing.
3. :func:`run_job` decodes the sources on a thread pool, augments all same-shaped images of a
   chunk in one call of the generator's fused kernel, and encodes and writes the results on the
   pool again, each to a temporary name that is renamed when complete.

Determinism: the parameters of output ``k`` of the source at relative path ``rel`` are drawn by
the generator's Keras sequence of draws from ``RandomState(image_seed(seed, rel, k))``, so each
output depends on (seed, relative path, k) only, and a tree is written byte for byte the same
whatever the number of workers, shards or machines, and however a run is interrupted and
resumed.

Outputs hold the augmented pixel values rounded to the nearest integer and clipped to 0-255 (not
min-max stretched as Keras's ``save_img`` does by default, which would undo brightness shifts).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import math
import os
import secrets
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

import numba
import numpy as np
from PIL import Image

from fastkeras.kernels.resample import MODES
from fastkeras.preprocessing.directory import WHITE_LIST_FORMATS, list_class_files
from fastkeras.preprocessing.image import ImageDataGenerator
from fastkeras.preprocessing.transforms import CONVENTIONS, BatchTransforms, draw_transform
from fastkeras.utils.image_utils import (
    PIL_INTERPOLATION_METHODS,
    InvalidImageError,
    load_img,
)

__all__ = [
    "AUGMENTATION_KEYS",
    "DEFAULT_AUGMENTATION",
    "OUTPUT_KEYS",
    "FORMATS",
    "UsageError",
    "AugmentOptions",
    "JobPlan",
    "SourcePlan",
    "make_options",
    "check_paths",
    "check_shard",
    "check_workers",
    "list_sources",
    "output_name",
    "image_seed",
    "plan_job",
    "run_job",
    "merge_reports",
    "preview_format",
    "write_preview",
]

AUGMENTATION_KEYS = (
    "rotation_range", "width_shift_range", "height_shift_range", "brightness_range",
    "shear_range", "zoom_range", "channel_shift_range", "fill_mode", "cval", "horizontal_flip",
    "vertical_flip", "interpolation_order", "affine_convention",
)
"""The ``ImageDataGenerator`` arguments a job applies (the rest normalise tensors for training)."""

DEFAULT_AUGMENTATION = {
    "rotation_range": 20,
    "width_shift_range": 0.1,
    "height_shift_range": 0.1,
    "shear_range": 10.0,
    "zoom_range": 0.15,
    "horizontal_flip": True,
    "fill_mode": "reflect",
}
"""The augmentation of a job given no augmentation setting at all (a job of copies equal to
their sources would be pointless); give any one setting to start from Keras's defaults."""

OUTPUT_KEYS = (
    "copies", "target_size", "interpolation", "color_mode", "format", "quality", "seed",
    "overwrite",
)
"""The other settings of a job: what is written, and how it is named and seeded."""

FORMATS = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP", "bmp": "BMP", "tiff": "TIFF"}
"""Output formats: file extension -> Pillow format name."""

DEFAULT_QUALITY = 95
"""JPEG and WebP quality when none is given."""

_LOSSY = ("jpg", "webp")
_NO_ALPHA = ("jpg", "bmp")  # formats that cannot store (or read back) an alpha channel
_COLOR_MODES = ("rgb", "rgba", "grayscale")

# Images per chunk of sources decoded together, and the cap on one kernel call's size (values).
_CHUNK_OUTPUTS = 64
_BATCH_VALUES = 1 << 24

# Kernel calls from several threads of one process (Dask workers running shards side by side)
# take turns: Numba's fallback threading layer (workqueue, used when neither OpenMP nor TBB is
# available) aborts on concurrent parallel launches.
_KERNEL_LOCK = threading.Lock()


class UsageError(ValueError):
    """A setting, path or combination of them that a job cannot run with."""


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------

def _is_real(value: Any) -> bool:
    return (isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, (bool, np.bool_)))


def _real(value: Any, name: str, minimum: float | None = None) -> int | float:
    """``value`` as a Python int or float (Keras reads integer shift ranges apart), checked."""
    if not _is_real(value) or not math.isfinite(value):
        raise UsageError(f"{name} must be a finite number; got {value!r}")
    if minimum is not None and value < minimum:
        raise UsageError(f"{name} must be >= {minimum}; got {value!r}")
    return int(value) if isinstance(value, (int, np.integer)) else float(value)


def _integer(value: Any, name: str, low: int, high: int | None = None) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise UsageError(f"{name} must be an integer; got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"between {low} and {high}"
        raise UsageError(f"{name} must be {bound}; got {value!r}")
    return int(value)


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise UsageError(f"{name} must be true or false; got {value!r}")
    return bool(value)


def _choice(value: Any, name: str, choices: Any) -> str:
    if not isinstance(value, str) or value not in choices:
        raise UsageError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


def _pair(value: Any, name: str) -> list:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise UsageError(f"{name} must be two numbers; got {value!r}")
    return list(value)


def _shift(value: Any, name: str) -> Any:
    # Keras's meanings: a float < 1 is a fraction of the size, a float >= 1 pixels, an integer
    # n >= 1 a whole number of pixels in [0, n), a list the values to pick from.
    if isinstance(value, (list, tuple)):
        if not value:
            raise UsageError(f"{name} must be a number or a non-empty list of numbers; got []")
        return [_real(v, name) for v in value]
    return _real(value, name, minimum=0)


def _zoom(value: Any, name: str) -> Any:
    if isinstance(value, (list, tuple)):
        low, high = (_real(v, name) for v in _pair(value, name))
        if not 0 < low <= high:
            raise UsageError(f"{name} as [low, high] needs 0 < low <= high; got {list(value)!r}")
        return [float(low), float(high)]
    z = _real(value, name, minimum=0)
    if z >= 1:
        raise UsageError(
            f"{name} as one number z zooms in [1 - z, 1 + z] and must be in [0, 1); got {z!r}"
        )
    return z


def _brightness(value: Any, name: str) -> list | None:
    if value is None:
        return None
    low, high = (_real(v, name) for v in _pair(value, name))
    if not 0 <= low <= high:
        raise UsageError(f"{name} needs 0 <= low <= high; got {list(value)!r}")
    return [float(low), float(high)]


def _target_size(value: Any, name: str) -> tuple[int, int] | None:
    if value is None:
        return None
    height, width = _pair(value, name)
    return _integer(height, name, 1), _integer(width, name, 1)


def _quality(value: Any, name: str) -> int | None:
    return None if value is None else _integer(value, name, 1, 100)


# key -> (default, check(value, name) -> normalised value)
_SETTINGS: dict[str, tuple[Any, Callable[[Any, str], Any]]] = {
    "rotation_range": (0, lambda v, n: _real(v, n, minimum=0)),
    "width_shift_range": (0.0, _shift),
    "height_shift_range": (0.0, _shift),
    "brightness_range": (None, _brightness),
    "shear_range": (0.0, lambda v, n: _real(v, n, minimum=0)),
    "zoom_range": (0.0, _zoom),
    "channel_shift_range": (0.0, lambda v, n: _real(v, n, minimum=0)),
    "fill_mode": ("nearest", lambda v, n: _choice(v, n, tuple(MODES))),
    "cval": (0.0, _real),
    "horizontal_flip": (False, _flag),
    "vertical_flip": (False, _flag),
    "interpolation_order": (1, lambda v, n: _integer(v, n, 0, 5)),
    "affine_convention": ("keras_preprocessing", lambda v, n: _choice(v, n, CONVENTIONS)),
    "copies": (5, lambda v, n: _integer(v, n, 1)),
    "target_size": (None, _target_size),
    "interpolation": ("nearest", lambda v, n: _choice(v, n, tuple(PIL_INTERPOLATION_METHODS))),
    "color_mode": ("rgb", lambda v, n: _choice(v, n, _COLOR_MODES)),
    "format": ("png", lambda v, n: _choice(v, n, tuple(FORMATS))),
    "quality": (None, _quality),
    "seed": (0, lambda v, n: _integer(v, n, 0)),
    "overwrite": (False, _flag),
}


@dataclass(frozen=True)
class AugmentOptions:
    """Validated settings of a job (build with :func:`make_options`).

    Attributes
    ----------
    augmentation : dict
        ``ImageDataGenerator`` keyword arguments (:data:`AUGMENTATION_KEYS`).
    copies : int
        Augmented versions written per source image, numbered ``k = 0 .. copies - 1``.
    target_size : (int, int) or None
        ``(height, width)`` sources are resized to on loading; ``None`` keeps their size.
    interpolation : str
        Resize filter (see :func:`fastkeras.utils.image_utils.load_img`).
    color_mode : {'rgb', 'rgba', 'grayscale'}
        Mode sources are converted to, and outputs written in.
    format : {'png', 'jpg', 'webp', 'bmp', 'tiff'}
        Output format, and the outputs' extension.
    quality : int or None
        JPEG / WebP quality (``None``: :data:`DEFAULT_QUALITY`).
    seed : int
        Seed of the whole job (see :func:`image_seed`).
    overwrite : bool
        Write outputs that exist already (by default they are kept and counted as skipped).
    """

    augmentation: dict
    copies: int = 5
    target_size: tuple[int, int] | None = None
    interpolation: str = "nearest"
    color_mode: str = "rgb"
    format: str = "png"
    quality: int | None = None
    seed: int = 0
    overwrite: bool = False

    def generator(self) -> ImageDataGenerator:
        """A float32, channels-last ``ImageDataGenerator`` with :attr:`augmentation`."""
        return ImageDataGenerator(
            **self.augmentation, data_format="channels_last", dtype="float32"
        )

    def save_kwargs(self) -> dict:
        """Keyword arguments of ``PIL.Image.Image.save`` for one output."""
        kwargs: dict[str, Any] = {"format": FORMATS[self.format]}
        if self.format in _LOSSY:
            kwargs["quality"] = DEFAULT_QUALITY if self.quality is None else self.quality
        return kwargs

    def settings(self) -> dict:
        """Every setting by its key, as JSON-ready values (what reports record)."""
        out = dict(self.augmentation)
        for key in OUTPUT_KEYS:
            value = getattr(self, key)
            out[key] = list(value) if isinstance(value, tuple) else value
        return out


def make_options(settings: dict | None = None, names: dict | None = None) -> AugmentOptions:
    """Validate job settings and return them as :class:`AugmentOptions`.

    Parameters
    ----------
    settings : dict, optional
        Keys from :data:`AUGMENTATION_KEYS` and :data:`OUTPUT_KEYS`; missing keys take their
        defaults (those of ``ImageDataGenerator``, and 5 copies, PNG, seed 0). With no
        augmentation key at all, :data:`DEFAULT_AUGMENTATION` is used.
    names : dict, optional
        How to call each key in error messages (the command line passes its flag names);
        by default ``key=``.

    Raises
    ------
    UsageError
        Unknown keys, invalid values, or settings that contradict each other, naming them.
    """
    settings = dict(settings or {})
    names = names or {}
    unknown = sorted(set(settings) - set(_SETTINGS))
    if unknown:
        raise UsageError(
            f"unknown setting(s) {', '.join(unknown)}; valid settings: {', '.join(_SETTINGS)}"
        )

    def name(key: str) -> str:
        return names.get(key, f"{key}=")

    if not any(key in settings for key in AUGMENTATION_KEYS):
        settings.update(DEFAULT_AUGMENTATION)

    values = {}
    for key, (default, check) in _SETTINGS.items():
        values[key] = check(settings[key], name(key)) if key in settings else default
    fmt = values["format"]
    if values["quality"] is not None and fmt not in _LOSSY:
        raise UsageError(
            f"{name('quality')} applies to the jpg and webp formats only; the format is {fmt!r}"
        )
    if values["color_mode"] == "rgba" and fmt in _NO_ALPHA:
        raise UsageError(
            f"{name('format')} {fmt!r} cannot store the alpha channel of "
            f"{name('color_mode')} 'rgba'; choose png, webp or tiff, or color mode 'rgb'"
        )
    return AugmentOptions(
        augmentation={key: values[key] for key in AUGMENTATION_KEYS},
        **{key: values[key] for key in OUTPUT_KEYS},
    )


# --------------------------------------------------------------------------------------------
# Paths, names and seeds
# --------------------------------------------------------------------------------------------

def _inside(path: str, folder: str) -> bool:
    return os.path.commonpath([path, folder]) == folder


def check_paths(src: str, dst: str) -> None:
    """Refuse a source that is not a folder, a destination that is a file, and overlapping trees.

    Both paths are compared after resolving symbolic links.

    Raises
    ------
    UsageError
        ``src`` is not a folder; ``dst`` exists and is not a folder; ``dst`` equals ``src`` or
        lies inside it (the outputs would become sources); ``src`` lies inside ``dst``.
    """
    if not os.path.isdir(src):
        raise UsageError(f"SRC {src!r} is not a folder")
    if os.path.exists(dst) and not os.path.isdir(dst):
        raise UsageError(f"DST {dst!r} exists and is not a folder")
    src_real, dst_real = os.path.realpath(src), os.path.realpath(dst)
    if src_real == dst_real:
        raise UsageError(f"DST {dst!r} is the source folder SRC {src!r}; choose another folder")
    if _inside(dst_real, src_real):
        raise UsageError(
            f"DST {dst!r} is inside SRC {src!r}: its outputs would be read as sources; "
            "choose a folder outside SRC"
        )
    if _inside(src_real, dst_real):
        raise UsageError(
            f"SRC {src!r} is inside DST {dst!r}; choose a DST that does not contain SRC"
        )


def list_sources(src: str) -> list[str]:
    """The images of ``src``, as relative paths with ``/`` separators, in a fixed order.

    Images directly in ``src`` come first (sorted by name), then each sub-folder in sorted order
    with its images listed as ``flow_from_directory`` lists a class folder (recursively, folders
    sorted by path, files by name, extensions ``png jpg jpeg bmp ppm tif tiff`` in any case).
    """
    top, folders = [], []
    for entry in sorted(os.listdir(src)):
        path = os.path.join(src, entry)
        if os.path.isdir(path):
            folders.append(entry)
        elif entry.lower().endswith(WHITE_LIST_FORMATS) and os.path.isfile(path):
            top.append(entry)
    listed = list(top)
    for folder in folders:
        for rel in list_class_files(os.path.join(src, folder)):
            listed.append(folder + "/" + rel.replace(os.sep, "/"))
    return listed


def output_name(relpath: str, k: int, fmt: str) -> str:
    """The output path of copy ``k`` of ``relpath``: ``<folder>/<stem>_aug<k>.<fmt>``."""
    folder, _, fname = relpath.rpartition("/")
    stem = os.path.splitext(fname)[0]
    name = f"{stem}_aug{k}.{fmt}"
    return f"{folder}/{name}" if folder else name


def image_seed(seed: int, relpath: str, k: int) -> np.ndarray:
    """The ``RandomState`` seed of copy ``k`` of the source at ``relpath`` in a job seeded ``seed``.

    The SHA-256 digest of the UTF-8 text ``f"{seed}/{k}/{relpath}"`` (``relpath`` relative to
    the source folder, ``/`` separated), read as eight little-endian uint32 words.
    """
    digest = hashlib.sha256(f"{seed}/{k}/{relpath}".encode("utf-8")).digest()
    return np.frombuffer(digest, dtype="<u4").astype(np.uint32)


_TEMP_PREFIX = secrets.token_hex(4)  # this process's, so that names never clash between runs
_temp_counter = itertools.count()


def _temp_path(path: str) -> str:
    """A fresh hidden name beside ``path``: ``.<name>.<16 hex digits>.part``."""
    folder, name = os.path.split(path)
    return os.path.join(folder, f".{name}.{_TEMP_PREFIX}{next(_temp_counter) % 16**8:08x}.part")


def _temp_target(entry: str) -> str | None:
    """The output name a temporary file of :func:`_temp_path` stands for, if it is one."""
    if not (entry.startswith(".") and entry.endswith(".part")):
        return None
    name, dot, token = entry[1:-len(".part")].rpartition(".")
    return name if dot and len(token) == 16 else None


def _native(relpath: str) -> str:
    return relpath.replace("/", os.sep)


# --------------------------------------------------------------------------------------------
# Planning
# --------------------------------------------------------------------------------------------

@dataclass
class SourcePlan:
    """One source image and its outputs still to write.

    Attributes
    ----------
    relpath : str
        Path relative to the source folder, ``/`` separated.
    path : str
        The file.
    outputs : list of (int, str)
        ``(k, output file)`` for every copy to write.
    """

    relpath: str
    path: str
    outputs: list[tuple[int, str]]


@dataclass
class JobPlan:
    """What one run (one shard) of a job will do; built by :func:`plan_job`.

    Attributes
    ----------
    src, dst : str
        Source and destination folders.
    options : AugmentOptions
        The settings.
    shard : (int, int) or None
        ``(index, count)`` when this run is one shard of the job.
    listed : list of str
        This shard's sources (relative paths), finished or not.
    sources : list of SourcePlan
        This shard's sources with outputs to write, in listing order.
    planned : int
        Outputs this shard is responsible for (``copies`` per listed source).
    skipped : int
        Outputs that exist already and are kept.
    failures : list of dict
        Sources that cannot be written (``source``, ``error``, ``outputs``).
    stale : list of str
        Temporary files left by an interrupted run, for outputs of this shard.
    """

    src: str
    dst: str
    options: AugmentOptions
    shard: tuple[int, int] | None
    listed: list[str]
    sources: list[SourcePlan]
    planned: int
    skipped: int
    failures: list[dict] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)

    @property
    def pending(self) -> int:
        """Number of outputs to write."""
        return sum(len(s.outputs) for s in self.sources)


def check_shard(shard: Any, name: str = "shard=") -> tuple[int, int] | None:
    """Validate ``(index, count)`` with ``0 <= index < count``; ``None`` passes through."""
    if shard is None:
        return None
    if not isinstance(shard, (tuple, list)) or len(shard) != 2:
        raise UsageError(f"{name} must be (index, count); got {shard!r}")
    count = _integer(shard[1], f"{name} count", 1)
    index = _integer(shard[0], f"{name} index", 0, count - 1)
    return index, count


def _cores() -> int:
    return len(os.sched_getaffinity(0))


def check_workers(workers: Any, name: str = "workers=") -> int:
    """Validate a number of decode/encode threads (``None``: half the CPU cores, at least 1)."""
    if workers is None:
        return max(1, _cores() // 2)
    return _integer(workers, name, 1)


@contextlib.contextmanager
def _kernel_threads(workers: int):
    """Run the augmentation kernel, in this thread, on the cores the workers leave free.

    The decode/encode threads keep ``workers`` cores busy; a kernel spread over cores they use
    too spends more CPU time waiting than it saves (measured on 2 cores: a one-thread kernel
    beside two workers writes faster and uses less CPU than a two-thread one).
    """
    previous = numba.get_num_threads()
    numba.set_num_threads(max(1, min(_cores() - workers, numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def plan_job(
    src: str, dst: str, options: AugmentOptions, shard: tuple[int, int] | None = None
) -> JobPlan:
    """List ``src``, name the outputs, take this shard's share and skip finished outputs.

    Source ``i`` of :func:`list_sources` belongs to shard ``i % count``. Two sources of one
    folder with the same stem (``a.png``, ``a.jpg``) would write the same outputs: the later
    one is reported as a failure. Nothing is written.

    Raises
    ------
    UsageError
        Bad paths (:func:`check_paths`), a bad shard, or no images in ``src``.
    """
    check_paths(src, dst)
    shard = check_shard(shard)
    listed = list_sources(src)
    if not listed:
        raise UsageError(
            f"SRC {src!r} holds no images (looked for {', '.join(WHITE_LIST_FORMATS)} files in "
            "it and in its sub-folders)"
        )
    owner: dict[str, str] = {}
    collided: dict[str, str] = {}
    for rel in listed:
        key = output_name(rel, 0, options.format)
        if key in owner:
            collided[rel] = owner[key]
        else:
            owner[key] = rel
    if shard is not None:
        listed = [rel for i, rel in enumerate(listed) if i % shard[1] == shard[0]]

    entries: dict[str, set[str]] = {}

    def folder_entries(folder: str) -> set[str]:
        if folder not in entries:
            entries[folder] = set(os.listdir(folder)) if os.path.isdir(folder) else set()
        return entries[folder]

    sources, failures = [], []
    skipped = 0
    mine: dict[str, set[str]] = {}  # output folder -> this shard's output names there
    for rel in listed:
        outputs = [(k, os.path.join(dst, _native(output_name(rel, k, options.format))))
                   for k in range(options.copies)]
        if rel in collided:
            failures.append({
                "source": rel,
                "error": f"its outputs would overwrite those of {collided[rel]} "
                         "(same folder and name stem); rename one of them",
                "outputs": options.copies,
            })
            continue
        folder = os.path.dirname(outputs[0][1])
        present = folder_entries(folder)
        mine.setdefault(folder, set()).update(os.path.basename(p) for _, p in outputs)
        todo = [(k, p) for k, p in outputs
                if options.overwrite or os.path.basename(p) not in present]
        skipped += len(outputs) - len(todo)
        if todo:
            sources.append(SourcePlan(rel, os.path.join(src, _native(rel)), todo))
    stale = [os.path.join(folder, e) for folder, names in mine.items()
             for e in sorted(folder_entries(folder)) if _temp_target(e) in names]
    return JobPlan(src, dst, options, shard, listed, sources, len(listed) * options.copies,
                   skipped, failures, stale)


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------

def _error_text(error: BaseException) -> str:
    if isinstance(error, InvalidImageError):
        return error.reason
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


def _load_source(path: str, options: AugmentOptions) -> np.ndarray:
    """Decode one source as an ``(H, W, C)`` uint8 array in the job's colour mode and size."""
    img = load_img(path, color_mode=options.color_mode, target_size=options.target_size,
                   interpolation=options.interpolation)
    try:
        arr = np.asarray(img)
    finally:
        img.close()
    if arr.dtype != np.uint8:
        # 16- and 32-bit grey: outputs have 8 bits, so map the 16-bit range onto them.
        arr = np.rint(np.clip(arr, 0, 65535) / 257.0).astype(np.uint8)
    return arr[:, :, None] if arr.ndim == 2 else arr


def _to_pixels(x: np.ndarray) -> np.ndarray:
    """Augmented float values as uint8 pixels: rounded to nearest, clipped to 0-255.

    ``x`` (one image of a batch the job owns) is overwritten on the way.
    """
    np.clip(x, 0, 255, out=x)
    np.rint(x, out=x)
    pixels = x.astype(np.uint8)
    return pixels[:, :, 0] if pixels.shape[2] == 1 else pixels


def _save_atomic(img: Image.Image, path: str, save_kwargs: dict) -> None:
    """Write ``img`` to a temporary name beside ``path`` and rename it into place."""
    temp = _temp_path(path)
    try:
        img.save(temp, **save_kwargs)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.remove(temp)
        raise


def _write_output(x: np.ndarray, path: str, save_kwargs: dict) -> None:
    _save_atomic(Image.fromarray(_to_pixels(x)), path, save_kwargs)


def _chunks(sources: list[SourcePlan]) -> list[list[SourcePlan]]:
    chunks: list[list[SourcePlan]] = [[]]
    count = 0
    for source in sources:
        if count >= _CHUNK_OUTPUTS:
            chunks.append([])
            count = 0
        chunks[-1].append(source)
        count += len(source.outputs)
    return chunks if chunks[0] else []


def _augment(gen: ImageDataGenerator, seed: int, images: list[np.ndarray],
             items: list[tuple]) -> list[tuple]:
    """Augment one chunk's ``items`` = ``(image index, relpath, k, output path)``.

    Same-shaped images go through the kernel together, at most :data:`_BATCH_VALUES` values
    per call. Returns ``(relpath, output path, float32 image)`` for every item.
    """
    groups: dict[tuple, list[tuple]] = {}
    for item in items:
        groups.setdefault(images[item[0]].shape, []).append(item)
    rng = np.random.RandomState(0)  # reseeded per image below
    results = []
    for shape, group in groups.items():
        per_batch = max(1, _BATCH_VALUES // math.prod(shape))
        for start in range(0, len(group), per_batch):
            batch_items = group[start:start + per_batch]
            batch = np.stack([images[i] for i, _, _, _ in batch_items])
            draws = []
            for _, rel, k, _ in batch_items:
                # Reseeding gives RandomState(image_seed(...))'s stream, ten times faster than
                # building a new RandomState.
                rng.seed(image_seed(seed, rel, k))
                draws.append(draw_transform(gen, shape, rng))
            params = BatchTransforms.from_dicts(draws)
            with _KERNEL_LOCK:
                out = gen._apply_batch(batch, params, standardize=False)
            results.extend((rel, path, out[j]) for j, (_, rel, _, path) in enumerate(batch_items))
    return results


def run_job(
    plan: JobPlan,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Write the outputs of ``plan``; return the run's report.

    Parameters
    ----------
    plan : JobPlan
        From :func:`plan_job`.
    workers : int, optional
        Threads decoding and encoding images (``None``: half the CPU cores); the augmentation
        kernel runs on the remaining cores (at least one). The outputs do not depend on it.
    progress : callable, optional
        Called with the number of outputs written or failed so far, as they finish.

    Returns
    -------
    dict
        ``src, dst, shard, settings, sources, planned, written, skipped, failed, failures,
        removed_partial, elapsed_s, images_per_s`` (see :func:`merge_reports`). A source that
        cannot be decoded, or an output that cannot be written, is a failure; the rest of the
        job goes on.
    """
    start = time.perf_counter()
    workers = check_workers(workers)
    options = plan.options
    gen = options.generator()
    save_kwargs = options.save_kwargs()
    removed = 0
    for temp in plan.stale:
        try:
            os.remove(temp)
            removed += 1
        except FileNotFoundError:
            pass
    failures = list(plan.failures)
    written = failed = 0
    for folder in sorted({os.path.dirname(p) for s in plan.sources for _, p in s.outputs}):
        os.makedirs(folder, exist_ok=True)

    chunks = _chunks(plan.sources)
    pending: deque[tuple[str, Future]] = deque()
    with ThreadPoolExecutor(workers, thread_name_prefix="fastkeras-augment") as pool, \
            _kernel_threads(workers):

        def submit_loads(chunk: list[SourcePlan]) -> list[Future]:
            return [pool.submit(_load_source, s.path, options) for s in chunk]

        reported = 0

        def drain(limit: int) -> None:
            """Collect finished writes (all but ``limit`` of them), then report progress."""
            nonlocal written, failed, reported
            while pending and (len(pending) > limit or pending[0][1].done()):
                rel, future = pending.popleft()
                try:
                    future.result()
                    written += 1
                except (OSError, ValueError) as e:
                    failed += 1
                    failures.append({"source": rel, "error": _error_text(e), "outputs": 1})
            if progress is not None and written + failed != reported:
                reported = written + failed
                progress(reported)

        try:
            loads = submit_loads(chunks[0]) if chunks else []
            for c, chunk in enumerate(chunks):
                next_loads = submit_loads(chunks[c + 1]) if c + 1 < len(chunks) else []
                images, items = [], []
                for source, future in zip(chunk, loads):
                    try:
                        images.append(future.result())
                    except (OSError, ValueError) as e:
                        failed += len(source.outputs)
                        failures.append({"source": source.relpath, "error": _error_text(e),
                                         "outputs": len(source.outputs)})
                        continue
                    items.extend((len(images) - 1, source.relpath, k, path)
                                 for k, path in source.outputs)
                for rel, path, x in _augment(gen, options.seed, images, items):
                    pending.append((rel, pool.submit(_write_output, x, path, save_kwargs)))
                drain(2 * _CHUNK_OUTPUTS)
                loads = next_loads
            drain(0)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    elapsed = time.perf_counter() - start
    failures.sort(key=lambda f: f["source"])
    return {
        "src": plan.src,
        "dst": plan.dst,
        "shard": None if plan.shard is None else f"{plan.shard[0]}/{plan.shard[1]}",
        "settings": options.settings(),
        "sources": len(plan.listed),
        "planned": plan.planned,
        "written": written,
        "skipped": plan.skipped,
        "failed": failed + sum(f["outputs"] for f in plan.failures),
        "failures": failures,
        "removed_partial": removed,
        "elapsed_s": elapsed,
        "images_per_s": written / elapsed if elapsed > 0 else 0.0,
    }


def merge_reports(reports: list[dict], elapsed: float) -> dict:
    """Combine the reports of a job's shards into the job's report.

    Counts add up, failures are concatenated (sorted by source); ``elapsed_s`` is the job's
    wall time and ``images_per_s`` is computed from it; ``shards`` holds the shard reports.
    """
    if not reports:
        raise ValueError("`reports` is empty: a job has at least one shard")
    merged = {
        "src": reports[0]["src"],
        "dst": reports[0]["dst"],
        "shard": None,
        "settings": reports[0]["settings"],
    }
    for key in ("sources", "planned", "written", "skipped", "failed", "removed_partial"):
        merged[key] = sum(r[key] for r in reports)
    merged["failures"] = sorted((f for r in reports for f in r["failures"]),
                                key=lambda f: f["source"])
    merged["elapsed_s"] = elapsed
    merged["images_per_s"] = merged["written"] / elapsed if elapsed > 0 else 0.0
    merged["shards"] = sorted(reports, key=lambda r: [int(v) for v in r["shard"].split("/")])
    return merged


# --------------------------------------------------------------------------------------------
# Preview
# --------------------------------------------------------------------------------------------

_CELL = 112
_GAP = 4
_BACKGROUND = (32, 32, 32)


def _cell(img: Image.Image) -> Image.Image:
    """``img`` shrunk to fit a square cell (never enlarged), centred on the background."""
    img = img.convert("RGBA")
    scale = min(1.0, _CELL / img.width, _CELL / img.height)
    if scale < 1:
        size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
        img = img.resize(size, Image.Resampling.BILINEAR)
    cell = Image.new("RGBA", (_CELL, _CELL), _BACKGROUND + (255,))
    cell.alpha_composite(img, ((_CELL - img.width) // 2, (_CELL - img.height) // 2))
    return cell.convert("RGB")


def _preview_order(listed: list[str]) -> list[str]:
    """``listed`` reordered to take one source from each top-level folder in turn."""
    by_folder: dict[str, list[str]] = {}
    for rel in listed:
        by_folder.setdefault(rel.split("/")[0] if "/" in rel else "", []).append(rel)
    columns = list(by_folder.values())
    return [files[depth] for depth in range(max(map(len, columns), default=0))
            for files in columns if depth < len(files)]


def preview_format(path: str) -> str:
    """Pillow's format for a preview named ``path`` (from its suffix), or raise UsageError."""
    fmt = Image.registered_extensions().get(os.path.splitext(path)[1].lower())
    if fmt is None or fmt not in Image.SAVE:
        raise UsageError(f"cannot write a preview image named {path!r}; use a .png or .jpg name")
    return fmt


def write_preview(
    path: str, src: str, dst: str, options: AugmentOptions, listed: list[str],
    rows: int = 6, columns: int = 4,
) -> int:
    """Write a grid of originals beside their augmented copies; return the number of rows.

    Each row shows one source (as the job loads it: colour mode and target size applied),
    then its first ``columns`` outputs read back from ``dst``. Rows are taken in turn from the
    top-level folders of ``listed``; sources without all those outputs on disk (failed ones)
    are left out. The image is written atomically; its format follows ``path``'s suffix.

    Raises
    ------
    UsageError
        Pillow cannot write ``path``'s format.
    """
    fmt = preview_format(path)
    shown = min(columns, options.copies)
    grid_rows = []
    for rel in _preview_order(listed):
        if len(grid_rows) == rows:
            break
        outputs = [os.path.join(dst, _native(output_name(rel, k, options.format)))
                   for k in range(shown)]
        if not all(os.path.isfile(p) for p in outputs):
            continue
        try:
            original = _load_source(os.path.join(src, _native(rel)), options)
            row = [Image.fromarray(original[:, :, 0] if original.shape[2] == 1 else original)]
            for p in outputs:
                with Image.open(p) as img:
                    row.append(img.copy())
        except (OSError, ValueError):
            continue
        grid_rows.append(row)
    width = _GAP + (1 + shown) * (_CELL + _GAP) + 2 * _GAP
    height = _GAP + max(1, len(grid_rows)) * (_CELL + _GAP)
    sheet = Image.new("RGB", (width, height), _BACKGROUND)
    for r, row in enumerate(grid_rows):
        y = _GAP + r * (_CELL + _GAP)
        for c, img in enumerate(row):
            x = _GAP + c * (_CELL + _GAP) + (2 * _GAP if c else 0)
            sheet.paste(_cell(img), (x, y))
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    _save_atomic(sheet, path, {"format": fmt})
    return len(grid_rows)
