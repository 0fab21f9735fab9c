"""``DirectoryIterator``: batches of images read from one sub-folder per class.

Listing, labels and batch contents follow Keras (spec ``image.md`` §8). Loading is faster: the
images of a batch are decoded and resized by a small thread pool straight into one preallocated
uint8 batch, which the generator then augments as a whole. Colour JPEGs loaded as ``rgb`` go
through :mod:`fastkeras.utils.image_loading` (Pillow's pixels, little time under the GIL, so the
threads overlap); other files through Pillow, as in Keras. :class:`BatchFromFilesMixin` holds
what ``DataFrameIterator`` shares.
"""

from __future__ import annotations

import io
import os
import threading
import warnings
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable, Sequence

import numpy as np
from PIL import Image

from fastkeras.backend import config
from fastkeras.device import device_empty, is_device_array, to_host
from fastkeras.preprocessing.iterator import Iterator
from fastkeras.preprocessing.transforms import draw_batch
from fastkeras.utils.image_utils import (
    array_to_img,
    check_image_file,
    crop_box,
    fit_image,
    open_image,
    standardize_data_format,
    validate_target_size,
)
from fastkeras.utils.image_loading import decode_rgb, resize_nearest

__all__ = ["BatchFromFilesMixin", "DirectoryIterator", "list_class_files"]

WHITE_LIST_FORMATS = ("png", "jpg", "jpeg", "bmp", "ppm", "tif", "tiff")
INVALID_IMAGE_POLICIES = ("raise", "skip")
_CHANNELS = {"rgb": 3, "rgba": 4, "grayscale": 1}


def _default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _walk(top: str, follow_links: bool) -> list[tuple[str, list[str]]]:
    """``os.walk`` as Keras lists it: ``(root, files)`` sorted by root's full path.

    With ``follow_links``, a symlinked folder that points back to one of its own ancestors is not
    entered again (Keras would descend until the OS refuses the path).
    """
    found = []
    ancestors = {top: (os.path.realpath(top),)}
    for root, dirs, files in os.walk(top, followlinks=follow_links):
        found.append((root, files))
        if follow_links:
            chain = ancestors.pop(root, ())
            kept = []
            for d in dirs:
                sub = os.path.join(root, d)
                real = os.path.realpath(sub)
                if real not in chain:
                    kept.append(d)
                    ancestors[sub] = chain + (real,)
            dirs[:] = kept
    found.sort(key=lambda entry: entry[0])
    return found


def list_class_files(class_dir: str, follow_links: bool = False) -> list[str]:
    """Image files under ``class_dir`` in Keras's order, as paths relative to ``class_dir``.

    Folders are visited sorted by full path (a folder's own files before its sub-folders'),
    files sorted by name; a name is kept when, lower-cased, it ends with one of ``png, jpg,
    jpeg, bmp, ppm, tif, tiff`` (Keras checks no dot, so ``xpng`` is kept too). A missing
    ``class_dir`` gives an empty list.

    Warns
    -----
    UserWarning
        For each ``.tiff`` file, as Keras does.
    """
    listed = []
    for root, files in _walk(class_dir, follow_links):
        for fname in sorted(files):
            lower = fname.lower()
            if lower.endswith(".tiff"):
                warnings.warn(
                    'Using ".tiff" files with multiple bands will cause distortion. '
                    "Please verify your output.",
                    stacklevel=3,
                )
            if lower.endswith(WHITE_LIST_FORMATS):
                listed.append(os.path.relpath(os.path.join(root, fname), class_dir))
    return listed


class BatchFromFilesMixin:
    """Turns image files into batches: parallel loading, augmentation, labels, saving.

    The class using it sets ``filepaths``, ``classes``/``labels``, ``class_indices``,
    ``class_mode`` and ``sample_weight``, then calls ``Iterator.__init__``.
    """

    white_list_formats = WHITE_LIST_FORMATS

    def set_processing_attrs(
        self,
        image_data_generator: Any,
        target_size: Sequence[int],
        color_mode: str,
        data_format: str | None,
        save_to_dir: str | None,
        save_prefix: str,
        save_format: str,
        subset: str | None,
        interpolation: str,
        keep_aspect_ratio: bool,
        dtype: Any = None,
        workers: int | None = None,
        invalid_images: str = "raise",
    ) -> None:
        """Validate and store the settings that turn files into a batch."""
        self.image_data_generator = image_data_generator
        self.target_size = validate_target_size(target_size)
        self.keep_aspect_ratio = bool(keep_aspect_ratio)
        if color_mode not in _CHANNELS:
            raise ValueError(
                f'Invalid color mode: {color_mode}; expected "rgb", "rgba", or "grayscale".'
            )
        self.color_mode = color_mode
        self.data_format = standardize_data_format(data_format)
        self.dtype = config.floatx() if dtype is None else dtype
        try:
            np.dtype(self.dtype)
        except TypeError:
            raise TypeError(
                f"`dtype` must be a numpy dtype name. Received: dtype={dtype!r}"
            ) from None
        channels = _CHANNELS[color_mode]
        if self.data_format == "channels_last":
            self.image_shape = self.target_size + (channels,)
        else:
            self.image_shape = (channels,) + self.target_size
        self.save_to_dir = save_to_dir
        self.save_prefix = save_prefix
        self.save_format = save_format
        self.interpolation = interpolation
        if subset is None:
            split = None
        elif subset not in ("training", "validation"):
            raise ValueError(f'Invalid subset name: {subset};expected "training" or "validation"')
        elif image_data_generator is None:
            raise ValueError(
                f"subset={subset!r} needs an `image_data_generator` with a `validation_split`; "
                "got image_data_generator=None."
            )
        else:
            validation_split = image_data_generator._validation_split
            split = (0, validation_split) if subset == "validation" else (validation_split, 1)
        self.split = split
        self.subset = subset
        if workers is None:
            workers = _default_workers()
        if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
            raise ValueError(
                f"`workers` must be a positive integer or None. Received: workers={workers!r}"
            )
        self.workers = int(workers)
        if invalid_images not in INVALID_IMAGE_POLICIES:
            raise ValueError(
                "`invalid_images` must be 'raise' or 'skip'. "
                f"Received: invalid_images={invalid_images!r}"
            )
        self.invalid_images = invalid_images
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    # ----------------------------------------------------------------- threads

    def _map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        """``[fn(x) for x in items]`` on ``workers`` threads; the first failure, in order, raises.

        The items are dealt round-robin into one share per worker; the calling thread works
        through the first share itself, so a batch costs one hand-off per extra worker rather
        than one per image (which matters on a busy machine).
        """
        items = list(items)
        shares = min(self.workers, len(items))
        if shares < 2:
            return [fn(x) for x in items]
        results: list[Any] = [None] * len(items)
        errors: dict[int, BaseException] = {}

        def run(first: int) -> None:
            for i in range(first, len(items), shares):
                try:
                    results[i] = fn(items[i])
                except Exception as e:  # re-raised below, in item order
                    errors[i] = e

        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    self.workers - 1, thread_name_prefix="fastkeras-load"
                )
                weakref.finalize(self, self._pool.shutdown, wait=False)
        futures = [self._pool.submit(run, first) for first in range(1, shares)]
        run(0)
        for future in futures:
            future.result()
        if errors:
            raise errors[min(errors)]
        return results

    def _drop_invalid_files(self, paths: Sequence[str], names: Sequence[str]) -> list[bool]:
        """Check every file's header and data stream once; warn once about the bad ones.

        Returns a keep-mask aligned with ``paths``; ``names`` are what the warning shows.
        """
        reasons = self._map(check_image_file, paths)
        bad = [f"  {name}: {why}" for name, why in zip(names, reasons) if why is not None]
        self.invalid_filenames = [name for name, why in zip(names, reasons) if why is not None]
        if bad:
            warnings.warn(
                f"Skipped {len(bad)} invalid image file(s) (invalid_images='skip'):\n"
                + "\n".join(bad),
                stacklevel=3,
            )
        return [why is None for why in reasons]

    def _found_suffix(self) -> str:
        skipped = len(getattr(self, "invalid_filenames", ()))
        if not skipped:
            return ""
        return f" ({skipped} invalid file{'s' if skipped != 1 else ''} skipped)"

    # ----------------------------------------------------------------- batches

    def _load_one(self, path: str) -> np.ndarray:
        """``load_img``'s pixels for one file, read once. Colour JPEGs loaded as ``rgb`` are
        decoded (and, for ``nearest``, resized) outside Pillow, with the same pixels."""
        with open(path, "rb") as f:
            data = f.read()
        colour_jpeg = self.color_mode == "rgb" and path.lower().endswith((".jpg", ".jpeg"))
        arr = decode_rgb(data) if colour_jpeg else None
        if arr is not None and self.interpolation == "nearest":
            width_height = self.target_size[::-1]
            if arr.shape[1::-1] != width_height:
                box = crop_box(arr.shape[1::-1], width_height) if self.keep_aspect_ratio else None
                arr = resize_nearest(arr, width_height, box)
        else:
            img = Image.fromarray(arr) if arr is not None else open_image(io.BytesIO(data), path)
            img = fit_image(img, self.color_mode, self.target_size, self.interpolation,
                            self.keep_aspect_ratio)
            try:
                arr = np.asarray(img)
            finally:
                img.close()
        if arr.ndim == 2:
            arr = arr[:, :, None]
        if self.data_format == "channels_first":
            arr = arr.transpose(2, 0, 1)
        return arr

    def _load_batch(self, index_array: np.ndarray, dtype: Any = None) -> np.ndarray:
        """Decode the batch's files into one array in the iterator's layout.

        With ``dtype`` the threads cast each image into a batch of that type as they copy it.
        Without, the batch is uint8 when every image is 8-bit (always so for ``rgb``/``rgba``)
        and float32 when a ``grayscale`` file is 16- or 32-bit, so no value is clipped. Wider
        images pass through float32 either way, as Keras's ``img_to_array`` does.
        """
        paths = [self.filepaths[j] for j in index_array]
        batch = np.empty((len(paths),) + self.image_shape, np.uint8 if dtype is None else dtype)

        def fill(i: int) -> np.ndarray | None:
            arr = self._load_one(paths[i])
            if arr.dtype != np.uint8:
                arr = arr.astype(np.float32)
                if dtype is None:
                    return arr
            batch[i] = arr
            return None

        wide = self._map(fill, range(len(paths)))
        if any(arr is not None for arr in wide):
            batch = batch.astype(np.float32)
            for i, arr in enumerate(wide):
                if arr is not None:
                    batch[i] = arr
        return batch

    def _get_batches_of_transformed_samples(self, index_array: np.ndarray, rng: Any) -> Any:
        """Load, augment, optionally save, and label the samples ``index_array``.

        Parameters
        ----------
        index_array : numpy.ndarray
            Sample indices of the batch.
        rng : numpy.random.RandomState or the numpy.random module
            The batch's random source: augmentation parameters, then save-name ints.
        """
        if self.n == 0:
            raise ValueError(
                f"{type(self).__name__} has no images to load (it found 0 files); "
                "check the directory and the file extensions."
            )
        generator = self.image_data_generator
        params = None
        if generator is not None:
            # Keras draws each image's parameters even where they change nothing.
            params = draw_batch(generator, self.image_shape, len(index_array), rng)
        if generator is None or generator._leaves_unchanged(params):
            # Only a cast to dtype: the loading threads do it as they copy each image.
            batch_x = self._load_batch(index_array, self.dtype)
        else:
            batch_x = generator._augment_batch(self._load_batch(index_array), rng, params)
            if batch_x.dtype != np.dtype(self.dtype):
                batch_x = to_host(batch_x).astype(self.dtype)
        if self.save_to_dir:
            saved = to_host(batch_x)
            for i, j in enumerate(index_array):
                img = array_to_img(saved[i], self.data_format, scale=True)
                fname = f"{self.save_prefix}_{j}_{rng.randint(1e7)}.{self.save_format}"
                img.save(os.path.join(self.save_to_dir, fname))
        batch_y = self._batch_labels(index_array, batch_x)
        if batch_y is None:
            return batch_x
        if self.sample_weight is None:
            return batch_x, batch_y
        return batch_x, batch_y, self.sample_weight[index_array]

    def _batch_labels(self, index_array: np.ndarray, batch_x: np.ndarray) -> Any:
        mode = self.class_mode
        if mode == "input":
            if is_device_array(batch_x):
                target = device_empty(batch_x.shape, batch_x.dtype)
                target.copy_to_device(batch_x)
                return target
            return batch_x.copy()
        if mode in ("binary", "sparse"):
            batch_y = np.empty(len(index_array), dtype=self.dtype)
            for i, j in enumerate(index_array):
                batch_y[i] = self.classes[j]
            return batch_y
        if mode == "categorical":
            batch_y = np.zeros((len(index_array), len(self.class_indices)), dtype=self.dtype)
            for i, j in enumerate(index_array):
                batch_y[i, self.classes[j]] = 1.0
            return batch_y
        if mode == "multi_output":
            return [output[index_array] for output in self.labels]
        if mode == "raw":
            return self.labels[index_array]
        return None


class DirectoryIterator(BatchFromFilesMixin, Iterator):
    """Iterator over images stored as ``directory/<class>/<...>/<image>``.

    Parameters
    ----------
    directory : str or path-like
        Folder holding one sub-folder per class.
    image_data_generator : ImageDataGenerator or None
        Augments and standardises each batch; ``None`` returns the images as loaded.
    target_size : (int, int)
        ``(height, width)`` every image is resized to.
    color_mode : {'rgb', 'rgba', 'grayscale'}
    classes : list of str, optional
        Class sub-folders, in label order; by default every sub-folder, in sorted order.
    class_mode : {'categorical', 'binary', 'sparse', 'input', None}
        Labels returned: one-hot, class index (float), class index (float), the images
        themselves, or none. With ``'input'`` the labels are a copy of the batch, made where the
        batch lives: a device copy for device batches (``ImageDataGenerator(device='cuda')``).
    batch_size, shuffle, seed
        As for every iterator.
    data_format : {'channels_last', 'channels_first'}, optional
        ``None`` means ``image_data_format()``.
    save_to_dir, save_prefix, save_format
        Save each augmented image as ``{prefix}_{index}_{random int}.{format}`` for inspection.
    follow_links : bool
        Descend into symlinked sub-folders of the class folders.
    subset : {'training', 'validation'}, optional
        Per class, validation is the first ``validation_split`` fraction of the files.
    interpolation : str
        Resize filter (see :func:`fastkeras.utils.image_utils.load_img`).
    keep_aspect_ratio : bool
        Centre-crop to the target aspect ratio before resizing.
    dtype : str, optional
        Type of the returned batches; ``None`` means ``floatx()``.
    workers : int, optional
        Threads decoding each batch; ``None`` means one per CPU core. Results do not depend on it.
    invalid_images : {'raise', 'skip'}
        ``'raise'``: a file that cannot be decoded raises ``InvalidImageError`` naming it when
        its batch is loaded. ``'skip'``: every file is checked once at listing time and the bad
        ones are left out with one warning.

    Attributes
    ----------
    filenames : list of str
        Paths relative to ``directory``, class order then file order.
    filepaths : list of str
        The same joined to ``directory``.
    classes : numpy.ndarray of int32
        Class index of every file (also ``labels``).
    class_indices : dict
        Class name to index.
    samples, num_classes, image_shape
        Counts and the shape of one image.
    invalid_filenames : list of str
        Files left out by ``invalid_images='skip'``.
    """

    allowed_class_modes = {"categorical", "binary", "sparse", "input", None}

    def __init__(
        self,
        directory: str | os.PathLike,
        image_data_generator: Any,
        target_size: Sequence[int] = (256, 256),
        color_mode: str = "rgb",
        classes: Sequence[str] | None = None,
        class_mode: str | None = "categorical",
        batch_size: int = 32,
        shuffle: bool = True,
        seed: int | None = None,
        data_format: str | None = None,
        save_to_dir: str | None = None,
        save_prefix: str = "",
        save_format: str = "png",
        follow_links: bool = False,
        subset: str | None = None,
        interpolation: str = "nearest",
        keep_aspect_ratio: bool = False,
        dtype: Any = None,
        workers: int | None = None,
        invalid_images: str = "raise",
    ):
        self.set_processing_attrs(
            image_data_generator,
            target_size,
            color_mode,
            data_format,
            save_to_dir,
            save_prefix,
            save_format,
            subset,
            interpolation,
            keep_aspect_ratio,
            dtype,
            workers,
            invalid_images,
        )
        if class_mode not in self.allowed_class_modes:
            raise ValueError(
                f"Invalid class_mode: {class_mode}; expected one of: {self.allowed_class_modes}"
            )
        self.class_mode = class_mode
        self.directory = directory
        if not os.path.isdir(directory):
            if not os.path.exists(directory):
                raise FileNotFoundError(f"Image directory not found: directory={directory!r}")
            raise NotADirectoryError(f"`directory` is not a folder: directory={directory!r}")

        if classes is not None:
            classes = list(classes)
            if not all(isinstance(c, str) for c in classes):
                raise TypeError(
                    f"`classes` must be a list of folder names (str). Received: {classes!r}"
                )
            if len(set(classes)) != len(classes):
                raise ValueError(f"`classes` contains duplicate names: {classes!r}")
        if not classes:
            classes = [
                name for name in sorted(os.listdir(directory))
                if os.path.isdir(os.path.join(directory, name))
            ]
        self.num_classes = len(classes)
        self.class_indices = dict(zip(classes, range(len(classes))))

        per_class = [list_class_files(os.path.join(directory, c), follow_links) for c in classes]
        self.invalid_filenames = []
        if self.invalid_images == "skip":
            names = [os.path.join(c, f) for c, files in zip(classes, per_class) for f in files]
            paths = [os.path.join(directory, n) for n in names]
            keep = iter(self._drop_invalid_files(paths, names))
            per_class = [[f for f in files if next(keep)] for files in per_class]

        self.filenames = []
        labels = []
        for index, (name, files) in enumerate(zip(classes, per_class)):
            if self.split:
                m = len(files)
                files = files[int(self.split[0] * m) : int(self.split[1] * m)]
            self.filenames += [os.path.join(name, f) for f in files]
            labels += [index] * len(files)
        self.samples = len(self.filenames)
        self.classes = np.array(labels, dtype="int32")
        self._filepaths = [os.path.join(directory, f) for f in self.filenames]
        print(
            f"Found {self.samples} images belonging to {self.num_classes} classes"
            f"{self._found_suffix()}."
        )
        super().__init__(self.samples, batch_size, shuffle, seed)

    @property
    def filepaths(self) -> list[str]:
        """Paths of the listed images (``directory`` joined to each of ``filenames``)."""
        return self._filepaths

    @property
    def labels(self) -> np.ndarray:
        """Class index of every image (the same array as ``classes``)."""
        return self.classes

    @property
    def sample_weight(self) -> None:
        """Always ``None``: directory iterators have no sample weights."""
        return None
