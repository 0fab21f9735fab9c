"""Keras's image iterators: the ``Iterator`` base class and ``NumpyArrayIterator`` (spec §7).

Batches, shuffling and augmentation follow Keras draw for draw. The one difference is where the
randomness lives: a seeded Keras iterator calls ``np.random.seed(seed + total_batches_seen)``
before every batch, clobbering numpy's global RNG; here each batch draws the same numbers from a
private legacy ``RandomState(seed + total_batches_seen)`` (permutation, then every image's
parameters, then save-name ints), so numpy's global RNG is never reseeded or advanced. An
unseeded iterator draws from numpy's global RNG, as Keras does.

When Keras 3 is importable, ``keras.utils.PyDataset`` is an extra base class, so iterators can be
passed to ``keras.Model.fit``.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import warnings
from typing import Any

import numpy as np

from fastkeras.backend import config
from fastkeras.device import to_host
from fastkeras.utils.image_utils import array_to_img

__all__ = ["Iterator", "NumpyArrayIterator"]

# Arrays of these dtypes are kept as given: the augmentation kernel reads them directly.
KEPT_DTYPES = (np.dtype(np.uint8), np.dtype(np.float32), np.dtype(np.float64))

_PYDATASET_OPTIONS = {"workers": 1, "use_multiprocessing": False, "max_queue_size": 10}


def _pydataset_bases() -> tuple:
    """``(keras.utils.PyDataset,)`` when Keras 3 imports here, else ``()``."""
    if importlib.util.find_spec("keras") is None:
        return ()
    try:
        from keras.utils import PyDataset
    except Exception:  # keras present but unusable here (no backend installed, old version, ...)
        return ()
    return (PyDataset,)


class Iterator(*_pydataset_bases()):
    """Base class of the image iterators: index bookkeeping, shuffling and per-batch randomness.

    Subclasses implement ``_get_batches_of_transformed_samples(index_array, rng)``, drawing all
    of the batch's random numbers from ``rng``.

    Parameters
    ----------
    n : int
        Number of samples.
    batch_size : int
        Samples per batch; an epoch's last batch may be shorter.
    shuffle : bool
        Visit samples in a new random order every epoch.
    seed : int, optional
        Makes shuffling and augmentation reproducible without touching numpy's global RNG.
    **kwargs
        ``workers``, ``use_multiprocessing``, ``max_queue_size`` for ``keras.utils.PyDataset``.
    """

    white_list_formats = ("png", "jpg", "jpeg", "bmp", "ppm", "tif", "tiff")

    def __init__(self, n: int, batch_size: int, shuffle: bool, seed: int | None, **kwargs: Any):
        unknown = sorted(set(kwargs) - set(_PYDATASET_OPTIONS))
        if unknown:
            raise TypeError(f"Unexpected keyword argument(s) for {type(self).__name__}: {unknown}")
        for name, default in _PYDATASET_OPTIONS.items():
            if name in kwargs or not hasattr(self, "_" + name):
                setattr(self, "_" + name, kwargs.get(name, default))
        self.n = n
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.batch_index = 0
        self.total_batches_seen = 0
        self.lock = threading.Lock()
        self.index_array = None
        self._rngs = threading.local()

    def _batch_rng(self) -> Any:
        """The random source of the next batch (call under the lock, before counting it).

        Seeded: this thread's private ``RandomState`` reseeded with ``seed + total_batches_seen``
        (what Keras passes to ``np.random.seed``). Unseeded: the ``numpy.random`` module.
        """
        if self.seed is None:
            return np.random
        rng = getattr(self._rngs, "state", None)
        if rng is None:
            rng = self._rngs.state = np.random.RandomState()
        rng.seed(self.seed + self.total_batches_seen)
        return rng

    def _set_index_array(self, rng: Any) -> None:
        self.index_array = np.arange(self.n)
        if self.shuffle:
            self.index_array = rng.permutation(self.n)

    def __getitem__(self, idx: int) -> Any:
        """Batch ``idx`` of the current epoch's order (augmented anew on every call)."""
        if idx >= len(self):
            raise ValueError(
                f"Asked to retrieve element {idx}, but the Sequence has length {len(self)}"
            )
        with self.lock:
            rng = self._batch_rng()
            self.total_batches_seen += 1
            if self.index_array is None:
                self._set_index_array(rng)
            index_array = self.index_array[self.batch_size * idx : self.batch_size * (idx + 1)]
        return self._get_batches_of_transformed_samples(index_array, rng)

    def __len__(self) -> int:
        return (self.n + self.batch_size - 1) // self.batch_size

    def on_epoch_end(self) -> None:
        """Draw a new sample order (used by ``fit`` with ``__getitem__`` access).

        A seeded iterator continues the random stream of the last batch built in this thread,
        as Keras's global stream would be; before any batch it starts from
        ``seed + total_batches_seen``.
        """
        with self.lock:
            if self.seed is None:
                rng = np.random
            else:
                rng = getattr(self._rngs, "state", None) or self._batch_rng()
            self._set_index_array(rng)

    def reset(self) -> None:
        """Start a new epoch (and a new order) at the next ``next()``."""
        self.batch_index = 0

    def _next_index_array(self) -> tuple[np.ndarray, Any]:
        with self.lock:
            rng = self._batch_rng()
            if self.batch_index == 0:
                self._set_index_array(rng)
            if self.n == 0:
                current_index = 0
            else:
                current_index = (self.batch_index * self.batch_size) % self.n
            if self.n > current_index + self.batch_size:
                self.batch_index += 1
            else:
                self.batch_index = 0
            self.total_batches_seen += 1
            return self.index_array[current_index : current_index + self.batch_size], rng

    def __iter__(self) -> "Iterator":
        return self

    def __next__(self) -> Any:
        index_array, rng = self._next_index_array()
        # Built outside the lock so several threads can build batches at once.
        return self._get_batches_of_transformed_samples(index_array, rng)

    def next(self) -> Any:
        """The next batch (keras_preprocessing's spelling of ``next(iterator)``)."""
        return self.__next__()

    def _get_batches_of_transformed_samples(self, index_array: np.ndarray, rng: Any) -> Any:
        """Build the batch of samples ``index_array``, drawing random numbers from ``rng``."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement `_get_batches_of_transformed_samples`."
        )


class NumpyArrayIterator(Iterator):
    """Iterator over images held in a numpy array (what ``ImageDataGenerator.flow`` returns).

    Parameters
    ----------
    x : ndarray or tuple
        Images ``(N, H, W, C)`` / ``(N, C, H, W)``, or ``(images, misc)`` where ``misc`` is an
        array or a list of arrays of length N returned alongside each batch. uint8, float32 and
        float64 images are kept as given (no float32 copy of a uint8 dataset); other dtypes are
        converted to ``dtype``.
    y : array-like, optional
        Labels.
    image_data_generator : ImageDataGenerator or None
        Augmentation and standardisation; None returns the images unchanged.
    batch_size : int
    shuffle : bool
    sample_weight : array-like, optional
        Returned as a third element when ``y`` is given.
    seed : int, optional
    data_format : {'channels_last', 'channels_first'}, optional
    save_to_dir : str, optional
        Folder where every augmented image is saved (for debugging).
    save_prefix, save_format : str
    subset : {'training', 'validation'}, optional
        Split by the generator's ``validation_split``: validation is the first fraction.
    ignore_class_split : bool
        Skip the check that both subsets hold the same classes.
    dtype : str, optional
        dtype of the batches (``None``: ``floatx()``).
    """

    def __init__(
        self,
        x: Any,
        y: Any,
        image_data_generator: Any,
        batch_size: int = 32,
        shuffle: bool = False,
        sample_weight: Any = None,
        seed: int | None = None,
        data_format: str | None = None,
        save_to_dir: str | None = None,
        save_prefix: str = "",
        save_format: str = "png",
        subset: str | None = None,
        ignore_class_split: bool = False,
        dtype: Any = None,
    ):
        if data_format is None:
            data_format = config.image_data_format()
        if dtype is None:
            dtype = config.floatx()
        self.dtype = dtype
        if isinstance(x, (tuple, list)):
            if not isinstance(x[1], list):
                x_misc = [np.asarray(x[1])]
            else:
                x_misc = [np.asarray(xx) for xx in x[1]]
            x = x[0]
            for xx in x_misc:
                if len(x) != len(xx):
                    raise ValueError(
                        "All of the arrays in `x` should have the same length. "
                        f"Found a pair with: len(x[0]) = {len(x)}, len(x[?]) = {len(xx)}"
                    )
        else:
            x_misc = []

        if y is not None and len(x) != len(y):
            raise ValueError(
                "`x` (images tensor) and `y` (labels) should have the same length. "
                f"Found: x.shape = {np.asarray(x).shape}, y.shape = {np.asarray(y).shape}"
            )
        if sample_weight is not None and len(x) != len(sample_weight):
            raise ValueError(
                "`x` (images tensor) and `sample_weight` should have the same length. "
                f"Found: x.shape = {np.asarray(x).shape}, "
                f"sample_weight.shape = {np.asarray(sample_weight).shape}"
            )
        if subset is not None:
            if subset not in {"training", "validation"}:
                raise ValueError(
                    f'Invalid subset name: {subset}; expected "training" or "validation".'
                )
            split_idx = int(len(x) * image_data_generator._validation_split)
            if (
                y is not None
                and not ignore_class_split
                and not np.array_equal(np.unique(y[:split_idx]), np.unique(y[split_idx:]))
            ):
                raise ValueError(
                    "Training and validation subsets have different number of classes after "
                    "the split. If your numpy arrays are sorted by the label, you might want "
                    "to shuffle them."
                )
            if subset == "validation":
                x = x[:split_idx]
                x_misc = [np.asarray(xx[:split_idx]) for xx in x_misc]
                if y is not None:
                    y = y[:split_idx]
            else:
                x = x[split_idx:]
                x_misc = [np.asarray(xx[split_idx:]) for xx in x_misc]
                if y is not None:
                    y = y[split_idx:]

        x = np.asarray(x)
        if x.dtype not in KEPT_DTYPES:
            x = x.astype(self.dtype)
        self.x = x
        self.x_misc = x_misc
        if self.x.ndim != 4:
            raise ValueError(
                "Input data in `NumpyArrayIterator` should have rank 4. You passed an array "
                f"with shape {self.x.shape}"
            )
        channels_axis = 3 if data_format == "channels_last" else 1
        if self.x.shape[channels_axis] not in {1, 3, 4}:
            warnings.warn(
                "NumpyArrayIterator is set to use the data format convention "
                f'"{data_format}" (channels on axis {channels_axis}), i.e. expected either 1, '
                f"3, or 4 channels on axis {channels_axis}. However, it was passed an array "
                f"with shape {self.x.shape} ({self.x.shape[channels_axis]} channels)."
            )
        self.y = np.asarray(y) if y is not None else None
        self.sample_weight = np.asarray(sample_weight) if sample_weight is not None else None
        self.image_data_generator = image_data_generator
        self.data_format = data_format
        self.save_to_dir = save_to_dir
        self.save_prefix = save_prefix
        self.save_format = save_format
        super().__init__(self.x.shape[0], batch_size, shuffle, seed)

    def _get_batches_of_transformed_samples(self, index_array: np.ndarray, rng: Any) -> Any:
        """Augment, optionally save, and pair with labels the samples ``index_array``."""
        if self.image_data_generator is None:
            batch_x = self.x[index_array].astype(self.dtype, copy=False)
        else:
            batch_x = self.image_data_generator._augment_batch(self.x, rng, index=index_array)
            if batch_x.dtype != np.dtype(self.dtype):
                batch_x = to_host(batch_x).astype(self.dtype)
        if self.save_to_dir:
            saved = to_host(batch_x)
            for i, j in enumerate(index_array):
                img = array_to_img(saved[i], self.data_format, scale=True)
                fname = f"{self.save_prefix}_{j}_{rng.randint(1e4)}.{self.save_format}"
                img.save(os.path.join(self.save_to_dir, fname))
        batch_x_miscs = [xx[index_array] for xx in self.x_misc]
        output = (batch_x if not batch_x_miscs else [batch_x] + batch_x_miscs,)
        if self.y is None:
            return output[0]
        output += (self.y[index_array],)
        if self.sample_weight is not None:
            output += (self.sample_weight[index_array],)
        return output
