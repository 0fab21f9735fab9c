"""Keras's ``ImageDataGenerator`` on a fused Numba kernel, with the helpers Keras users import.

``ImageDataGenerator`` has Keras 3's constructor, methods, errors and numbers (spec
``image.md``), with keras_preprocessing's geometry by default (``affine_convention``). A batch is
augmented in three steps: every image's parameters are drawn in Keras's order
(:mod:`.transforms`), their matrices composed, and one ``affine_batch`` kernel call writes the
whole batch — resampling, fill mode, channel shift, flips, brightness, rescale and
standardisation. A ``preprocessing_function`` splits that chain (it runs per image in Python
between the transform and the standardisation); ZCA whitening runs on the whole batch after the
kernel as two thin matrix products.

Documented differences from Keras:

- seeds never touch numpy's global RNG (``get_random_transform(seed=...)``, ``fit(seed=...)``
  and seeded iterators draw the same numbers from a private ``RandomState``);
- ``flow`` keeps uint8/float32/float64 arrays as given instead of copying them to float32;
- brightness on channels-first images uses the channel axis (Keras crashes or mixes axes);
- ZCA keeps the thin factors; the D x D ``zca_whitening_matrix`` is built only when read.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable

import numpy as np

from fastkeras.backend import config
from fastkeras.config import resolve_device
from fastkeras.device import DeviceCopies, augment_batch
from fastkeras.kernels.resample import (
    AFFINE, BRIGHTNESS, CHANNEL_SHIFT, FEATURE_CENTER, FEATURE_STD, FLIP_H, FLIP_V, MODES,
    RESCALE, SAMPLE_CENTER, SAMPLE_STD, affine_batch, resample,
)
from fastkeras.kernels.whiten import featurewise_moments, zca_apply, zca_fit, zca_matrix
from fastkeras.preprocessing.affine import (
    apply_affine_transform, flip_axis, random_rotation, random_shear, random_shift, random_zoom,
    transform_matrix_offset_center,
)
from fastkeras.preprocessing.intensity import (
    apply_brightness_shift, apply_channel_shift, brightness_shift, random_brightness,
    random_channel_shift,
)
from fastkeras.preprocessing.iterator import Iterator, NumpyArrayIterator
from fastkeras.preprocessing.transforms import (
    BatchTransforms, batch_matrices, check_convention, draw_batch, draw_transform,
)
from fastkeras.utils.image_utils import array_to_img, img_to_array, load_img, save_img

__all__ = [
    "ImageDataGenerator",
    "Iterator",
    "NumpyArrayIterator",
    "DirectoryIterator",
    "DataFrameIterator",
    "apply_affine_transform",
    "transform_matrix_offset_center",
    "random_rotation",
    "random_shift",
    "random_shear",
    "random_zoom",
    "apply_channel_shift",
    "random_channel_shift",
    "apply_brightness_shift",
    "random_brightness",
    "flip_axis",
    "array_to_img",
    "img_to_array",
    "load_img",
    "save_img",
]

_KERNEL_INPUTS = (np.dtype(np.uint8), np.dtype(np.float32), np.dtype(np.float64))
_KERNEL_OUTPUTS = (np.dtype(np.float32), np.dtype(np.float64))
_NO_STATS = np.zeros((1, 1, 1), np.float32)


def __getattr__(name: str) -> Any:
    # The file iterators live in their own modules; import them on first use.
    if name == "DirectoryIterator":
        from fastkeras.preprocessing.directory import DirectoryIterator

        return DirectoryIterator
    if name == "DataFrameIterator":
        from fastkeras.preprocessing.dataframe import DataFrameIterator

        return DataFrameIterator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating))


class ImageDataGenerator:
    """Generate batches of augmented, standardised images (Keras's ``ImageDataGenerator``).

    Parameters
    ----------
    featurewise_center : bool
        Subtract the per-channel dataset mean learnt by :meth:`fit`.
    samplewise_center : bool
        Subtract each image's mean.
    featurewise_std_normalization : bool
        Divide by the per-channel dataset std learnt by :meth:`fit` (turns on
        ``featurewise_center``, with a warning).
    samplewise_std_normalization : bool
        Divide each image by its std (turns on ``samplewise_center``, with a warning).
    zca_whitening : bool
        Apply ZCA whitening learnt by :meth:`fit` (turns on ``featurewise_center`` and off
        ``featurewise_std_normalization``, with warnings).
    zca_epsilon : float
        Added to the singular values in ZCA.
    rotation_range : float
        Degrees; rotation drawn from ``uniform(-r, r)``.
    width_shift_range, height_shift_range : float, int or list
        Fractions of the size (< 1), pixels (float >= 1), integers ``[0, r)`` with a random sign,
        or a list of values to choose from with a random sign.
    brightness_range : tuple or list of two floats, optional
        Brightness factor range.
    shear_range : float
        Degrees.
    zoom_range : float or [lower, upper]
        A float ``z`` means ``[1 - z, 1 + z]``.
    channel_shift_range : float
        One offset for all channels, from ``uniform(-c, c)``.
    fill_mode : str
        ``'constant'``, ``'nearest'``, ``'reflect'``, ``'wrap'`` (or another scipy mode).
    cval : float
        Fill value for ``'constant'``.
    horizontal_flip, vertical_flip : bool
        Flip half of the images.
    rescale : float, optional
        Multiply by this factor before the other standardisation steps.
    preprocessing_function : callable, optional
        Called on each augmented image (3-D array) before the standardisation steps.
    data_format : {'channels_last', 'channels_first'}, optional
        ``None`` means ``image_data_format()``.
    validation_split : float
        Fraction reserved for ``subset='validation'``, strictly between 0 and 1 (0 disables).
    interpolation_order : int
        Spline order 0-5 (0 and 1 run the native kernel; 2-5 use scipy).
    dtype : str, optional
        dtype of the batches; ``None`` means ``floatx()``.
    affine_convention : {'keras_preprocessing', 'keras3', 'exact'}
        Geometry of the affine transforms: keras_preprocessing's (documented axis meanings,
        default), Keras 3's bit for bit (``height_shift_range`` moves images horizontally,
        centre mirrored on non-square images), or keras_preprocessing's about the true centre.
    device : {'cpu', 'cuda', 'auto'}, optional
        Where batches are augmented; ``None`` means the process-wide device
        (:func:`fastkeras.config.get_device`, ``'cpu'`` unless set). ``'auto'`` takes the GPU
        when CUDA is usable, else the CPU. With ``'cuda'`` the iterators yield numba device
        arrays (:func:`fastkeras.device.to_host` gives numpy); these batches stay on the CPU
        path and come back as numpy: a ``preprocessing_function``, a non-scalar ``rescale``,
        ZCA with a ``zca_whitening_matrix`` set by hand (no fitted factors), or a ``dtype``
        other than float32/float64. :meth:`fit`, :meth:`standardize`, :meth:`apply_transform`
        and :meth:`random_transform` always run on the CPU.
    """

    def __init__(
        self,
        featurewise_center: bool = False,
        samplewise_center: bool = False,
        featurewise_std_normalization: bool = False,
        samplewise_std_normalization: bool = False,
        zca_whitening: bool = False,
        zca_epsilon: float = 1e-6,
        rotation_range: float = 0,
        width_shift_range: Any = 0.0,
        height_shift_range: Any = 0.0,
        brightness_range: Any = None,
        shear_range: float = 0.0,
        zoom_range: Any = 0.0,
        channel_shift_range: float = 0.0,
        fill_mode: str = "nearest",
        cval: float = 0.0,
        horizontal_flip: bool = False,
        vertical_flip: bool = False,
        rescale: float | None = None,
        preprocessing_function: Callable | None = None,
        data_format: str | None = None,
        validation_split: float = 0.0,
        interpolation_order: int = 1,
        dtype: Any = None,
        affine_convention: str = "keras_preprocessing",
        device: str | None = None,
    ):
        if data_format is None:
            data_format = config.image_data_format()
        if dtype is None:
            dtype = config.floatx()
        self.featurewise_center = featurewise_center
        self.samplewise_center = samplewise_center
        self.featurewise_std_normalization = featurewise_std_normalization
        self.samplewise_std_normalization = samplewise_std_normalization
        self.zca_whitening = zca_whitening
        self.zca_epsilon = zca_epsilon
        self.rotation_range = rotation_range
        self.width_shift_range = width_shift_range
        self.height_shift_range = height_shift_range
        self.shear_range = shear_range
        self.zoom_range = zoom_range
        self.channel_shift_range = channel_shift_range
        self.fill_mode = fill_mode
        self.cval = cval
        self.horizontal_flip = horizontal_flip
        self.vertical_flip = vertical_flip
        self.rescale = rescale
        self.preprocessing_function = preprocessing_function
        self.dtype = dtype
        self.interpolation_order = interpolation_order
        self.device = resolve_device(device)
        self._device_copies = DeviceCopies() if self.device == "cuda" else None
        if data_format not in {"channels_last", "channels_first"}:
            raise ValueError(
                '`data_format` should be `"channels_last"` (channel after row and column) or '
                '`"channels_first"` (channel before row and column). '
                f"Received: {data_format}"
            )
        self.data_format = data_format
        if data_format == "channels_first":
            self.channel_axis, self.row_axis, self.col_axis = 1, 2, 3
        else:
            self.channel_axis, self.row_axis, self.col_axis = 3, 1, 2
        if validation_split and not 0 < validation_split < 1:
            raise ValueError(
                f"`validation_split` must be strictly between 0 and 1.  Received: {validation_split}"
            )
        self._validation_split = validation_split
        self._stats_cache: dict[str, tuple] = {}
        self.mean = None
        self.std = None
        self._zca_factors: tuple[np.ndarray, np.ndarray] | None = None
        self._zca_matrix: np.ndarray | None = None

        if isinstance(zoom_range, (float, int)):
            self.zoom_range = [1 - zoom_range, 1 + zoom_range]
        elif len(zoom_range) == 2 and all(isinstance(val, (float, int)) for val in zoom_range):
            self.zoom_range = [zoom_range[0], zoom_range[1]]
        else:
            raise ValueError(
                "`zoom_range` should be a float or a tuple or list of two floats. "
                f"Received: {zoom_range}"
            )
        if zca_whitening:
            if not featurewise_center:
                self.featurewise_center = True
                warnings.warn(
                    "This ImageDataGenerator specifies `zca_whitening`, which overrides "
                    "setting of `featurewise_center`."
                )
            if featurewise_std_normalization:
                self.featurewise_std_normalization = False
                warnings.warn(
                    "This ImageDataGenerator specifies `zca_whitening` which overrides "
                    "setting of `featurewise_std_normalization`."
                )
        if featurewise_std_normalization and not featurewise_center:
            self.featurewise_center = True
            warnings.warn(
                "This ImageDataGenerator specifies `featurewise_std_normalization`, which "
                "overrides setting of `featurewise_center`."
            )
        if samplewise_std_normalization and not samplewise_center:
            self.samplewise_center = True
            warnings.warn(
                "This ImageDataGenerator specifies `samplewise_std_normalization`, which "
                "overrides setting of `samplewise_center`."
            )
        if brightness_range is not None:
            if not isinstance(brightness_range, (tuple, list)) or len(brightness_range) != 2:
                raise ValueError(
                    "`brightness_range should be tuple or list of two floats. "
                    f"Received: {brightness_range}"
                )
        self.brightness_range = brightness_range
        self.affine_convention = check_convention(affine_convention)

    # ------------------------------------------------------------------ fitted statistics

    @property
    def mean(self) -> np.ndarray | None:
        """Per-channel dataset mean from :meth:`fit`, shaped ``(1, 1, C)`` / ``(C, 1, 1)``."""
        return self._mean

    @mean.setter
    def mean(self, value: np.ndarray | None) -> None:
        self._mean = value
        self._stats_cache.pop("mean", None)

    @property
    def std(self) -> np.ndarray | None:
        """Per-channel dataset std from :meth:`fit`, shaped like :attr:`mean`."""
        return self._std

    @std.setter
    def std(self, value: np.ndarray | None) -> None:
        self._std = value
        self._stats_cache.pop("std", None)

    @property
    def zca_whitening_matrix(self) -> np.ndarray | None:
        """Keras 3's ``D x D`` float64 ZCA matrix, built from the fitted factors on first read.

        Whitening never needs it (it applies the thin factors); reading it for large images
        raises ``MemoryError`` when it cannot fit. Assigning a matrix makes whitening use it.
        """
        if self._zca_matrix is None and self._zca_factors is not None:
            self._zca_matrix = zca_matrix(*self._zca_factors)
        return self._zca_matrix

    @zca_whitening_matrix.setter
    def zca_whitening_matrix(self, value: np.ndarray | None) -> None:
        self._zca_matrix = None if value is None else np.asarray(value)
        self._zca_factors = None

    principal_components = zca_whitening_matrix
    """keras_preprocessing's name of :attr:`zca_whitening_matrix`."""

    def _image_stat(self, name: str, img_shape: tuple) -> np.ndarray:
        """``mean`` or ``std`` broadcast to one image as float32 (the kernel's operand).

        Computed once per assignment and image shape; the key includes the values, so arrays
        modified in place are picked up too.
        """
        value = np.asarray(getattr(self, name))
        key = (img_shape, value.shape, value.dtype.str, value.tobytes())
        cached = self._stats_cache.get(name)
        if cached is None or cached[0] != key:
            full = np.broadcast_to(value.astype(np.float32, copy=False), img_shape)
            cached = self._stats_cache[name] = (key, np.ascontiguousarray(full))
        return cached[1]

    # ------------------------------------------------------------------ iterators

    def flow(
        self,
        x: Any,
        y: Any = None,
        batch_size: int = 32,
        shuffle: bool = True,
        sample_weight: Any = None,
        seed: int | None = None,
        save_to_dir: str | None = None,
        save_prefix: str = "",
        save_format: str = "png",
        ignore_class_split: bool = False,
        subset: str | None = None,
    ) -> NumpyArrayIterator:
        """Iterate over augmented batches of the array ``x`` (and labels ``y``).

        See :class:`~fastkeras.preprocessing.iterator.NumpyArrayIterator` for the arguments.
        Batches are ``x`` alone, ``(x, y)`` or ``(x, y, sample_weight)``; with misc inputs
        ``x = (images, misc)`` the images part is the list ``[batch, *misc]``.
        """
        return NumpyArrayIterator(
            x,
            y,
            self,
            batch_size=batch_size,
            shuffle=shuffle,
            sample_weight=sample_weight,
            seed=seed,
            data_format=self.data_format,
            save_to_dir=save_to_dir,
            save_prefix=save_prefix,
            save_format=save_format,
            ignore_class_split=ignore_class_split,
            subset=subset,
            dtype=self.dtype,
        )

    def flow_from_directory(
        self,
        directory: str,
        target_size: tuple[int, int] = (256, 256),
        color_mode: str = "rgb",
        classes: list[str] | None = None,
        class_mode: str | None = "categorical",
        batch_size: int = 32,
        shuffle: bool = True,
        seed: int | None = None,
        save_to_dir: str | None = None,
        save_prefix: str = "",
        save_format: str = "png",
        follow_links: bool = False,
        subset: str | None = None,
        interpolation: str = "nearest",
        keep_aspect_ratio: bool = False,
        workers: int | None = None,
        invalid_images: str = "raise",
    ) -> Iterator:
        """Iterate over augmented batches of the images in ``directory/<class>/``.

        Returns a :class:`fastkeras.preprocessing.directory.DirectoryIterator`; see it for the
        arguments. ``workers`` (decoding threads, one per core by default) and
        ``invalid_images`` (``'raise'`` or ``'skip'``) are fastkeras additions.
        """
        from fastkeras.preprocessing.directory import DirectoryIterator

        return DirectoryIterator(
            directory,
            self,
            target_size=target_size,
            color_mode=color_mode,
            keep_aspect_ratio=keep_aspect_ratio,
            classes=classes,
            class_mode=class_mode,
            data_format=self.data_format,
            batch_size=batch_size,
            shuffle=shuffle,
            seed=seed,
            save_to_dir=save_to_dir,
            save_prefix=save_prefix,
            save_format=save_format,
            follow_links=follow_links,
            subset=subset,
            interpolation=interpolation,
            dtype=self.dtype,
            workers=workers,
            invalid_images=invalid_images,
        )

    def flow_from_dataframe(
        self,
        dataframe: Any,
        directory: str | None = None,
        x_col: str = "filename",
        y_col: Any = "class",
        weight_col: str | None = None,
        target_size: tuple[int, int] = (256, 256),
        color_mode: str = "rgb",
        classes: list[str] | None = None,
        class_mode: str | None = "categorical",
        batch_size: int = 32,
        shuffle: bool = True,
        seed: int | None = None,
        save_to_dir: str | None = None,
        save_prefix: str = "",
        save_format: str = "png",
        subset: str | None = None,
        interpolation: str = "nearest",
        validate_filenames: bool = True,
        workers: int | None = None,
        invalid_images: str = "raise",
        **kwargs: Any,
    ) -> Iterator:
        """Iterate over augmented batches of the image files listed in a pandas DataFrame.

        Returns a :class:`fastkeras.preprocessing.dataframe.DataFrameIterator`; see it for the
        arguments. As in Keras, ``has_ext``, ``sort`` and ``drop_duplicates`` only warn
        (DeprecationWarning), ``class_mode='other'`` becomes ``'raw'`` with a warning, and other
        keyword arguments are ignored. ``workers`` and ``invalid_images`` are as in
        :meth:`flow_from_directory`.
        """
        from fastkeras.preprocessing.dataframe import DataFrameIterator

        if "has_ext" in kwargs:
            warnings.warn(
                "has_ext is deprecated, filenames in the dataframe have to match the exact "
                "filenames in disk.",
                DeprecationWarning,
            )
        if "sort" in kwargs:
            warnings.warn(
                "sort is deprecated, batches will be created in the same order than the "
                "filenames provided if `shuffle` is set to `False`.",
                DeprecationWarning,
            )
        if class_mode == "other":
            warnings.warn(
                '`class_mode="other"` is deprecated, please use `class_mode="raw"`.',
                DeprecationWarning,
            )
            class_mode = "raw"
        if "drop_duplicates" in kwargs:
            warnings.warn(
                "drop_duplicates is deprecated, you can drop duplicates by using the "
                "pandas.DataFrame.drop_duplicates method.",
                DeprecationWarning,
            )
        return DataFrameIterator(
            dataframe,
            directory,
            self,
            x_col=x_col,
            y_col=y_col,
            weight_col=weight_col,
            target_size=target_size,
            color_mode=color_mode,
            classes=classes,
            class_mode=class_mode,
            data_format=self.data_format,
            batch_size=batch_size,
            shuffle=shuffle,
            seed=seed,
            save_to_dir=save_to_dir,
            save_prefix=save_prefix,
            save_format=save_format,
            subset=subset,
            interpolation=interpolation,
            validate_filenames=validate_filenames,
            dtype=self.dtype,
            workers=workers,
            invalid_images=invalid_images,
        )

    # ------------------------------------------------------------------ one image

    def standardize(self, x: np.ndarray) -> np.ndarray:
        """Apply the normalisation steps to an image or a batch, **in place** (as Keras).

        Order: ``preprocessing_function``, ``rescale``, samplewise centre / std (statistics of
        all of ``x``), featurewise centre / std, ZCA. Unfitted featurewise steps warn and are
        skipped. Pass ``np.copy(x)`` to keep ``x``.

        Returns
        -------
        ndarray
            ``x`` (or what ``preprocessing_function`` returned), normalised; a new float64
            array when ZCA whitening applies (as in Keras 3).
        """
        return self._standardize(x, whiten=True)

    def _standardize(self, x: np.ndarray, whiten: bool) -> np.ndarray:
        if self.preprocessing_function:
            x = self.preprocessing_function(x)
        if self.rescale:
            x *= self.rescale
        if self.samplewise_center:
            x -= np.mean(x, keepdims=True)
        if self.samplewise_std_normalization:
            x /= np.std(x, keepdims=True) + 1e-6
        if self.featurewise_center:
            if self.mean is not None:
                x -= self.mean
            else:
                _warn_unfitted("featurewise_center")
        if self.featurewise_std_normalization:
            if self.std is not None:
                x /= self.std + 1e-6
            else:
                _warn_unfitted("featurewise_std_normalization")
        if whiten and self.zca_whitening:
            if self._zca_factors is not None:
                flat = x.reshape(-1, math.prod(x.shape[-3:]))
                white = np.empty(flat.shape, np.float64)
                zca_apply(flat, *self._zca_factors, white)
                x = white.reshape(x.shape)
            elif self._zca_matrix is not None:
                flat = x.reshape(-1, math.prod(x.shape[-3:]))
                x = np.reshape(flat @ self._zca_matrix, x.shape)
            else:
                _warn_unfitted("zca_whitening")
        return x

    def get_random_transform(self, img_shape: tuple, seed: int | None = None) -> dict:
        """Draw random transform parameters for one image of shape ``img_shape``.

        Keras's draws in Keras's order (spec §2). With ``seed`` they come from a private
        ``RandomState(seed)`` — Keras's numbers without reseeding numpy's global RNG; without,
        from the global RNG as in Keras.

        Returns
        -------
        dict
            ``theta, tx, ty, shear, zx, zy, flip_horizontal, flip_vertical,
            channel_shift_intensity, brightness``.
        """
        rng = np.random if seed is None else np.random.RandomState(seed)
        return draw_transform(self, img_shape, rng)

    def apply_transform(self, x: np.ndarray, transform_parameters: dict) -> np.ndarray:
        """Transform one image with the given parameters (missing keys mean identity).

        Steps (spec §3): affine transform, channel shift, horizontal flip, vertical flip,
        brightness. With nothing to do, ``x`` itself is returned; flips return views; the affine
        step keeps ``x``'s dtype; brightness returns ``floatx()``.
        """
        img_row_axis = self.row_axis - 1
        img_col_axis = self.col_axis - 1
        img_channel_axis = self.channel_axis - 1
        params = transform_parameters
        x = apply_affine_transform(
            x,
            params.get("theta", 0),
            params.get("tx", 0),
            params.get("ty", 0),
            params.get("shear", 0),
            params.get("zx", 1),
            params.get("zy", 1),
            row_axis=img_row_axis,
            col_axis=img_col_axis,
            channel_axis=img_channel_axis,
            fill_mode=self.fill_mode,
            cval=self.cval,
            order=self.interpolation_order,
            affine_convention=self.affine_convention,
        )
        if params.get("channel_shift_intensity") is not None:
            x = apply_channel_shift(x, params["channel_shift_intensity"], img_channel_axis)
        if params.get("flip_horizontal", False):
            x = flip_axis(x, img_col_axis)
        if params.get("flip_vertical", False):
            x = flip_axis(x, img_row_axis)
        if params.get("brightness") is not None:
            x = brightness_shift(x, params["brightness"], False, img_channel_axis)
        return x

    def random_transform(self, x: np.ndarray, seed: int | None = None) -> np.ndarray:
        """``apply_transform(x, get_random_transform(x.shape, seed))``."""
        params = self.get_random_transform(x.shape, seed)
        return self.apply_transform(x, params)

    # ------------------------------------------------------------------ fit

    def fit(self, x: Any, augment: bool = False, rounds: int = 1, seed: int | None = None) -> None:
        """Learn the featurewise statistics (mean, std, ZCA) from sample images.

        As in Keras: ``rescale`` is applied first, then (with ``augment``) ``rounds`` random
        transforms of every image; ``preprocessing_function`` and the samplewise steps do not
        run. ``x`` is never modified. ``seed`` seeds a private ``RandomState``.

        Parameters
        ----------
        x : array-like
            Rank-4 images in the generator's ``data_format``.
        augment : bool
            Fit on randomly augmented copies.
        rounds : int
            Augmentation passes over the data.
        seed : int, optional
            Random seed for the augmentation.

        Raises
        ------
        ValueError
            If ``x`` is not rank 4.
        """
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim != 4:
            raise ValueError(
                f"Input to `.fit()` should have rank 4. Got array with shape: {x.shape}"
            )
        if x.shape[self.channel_axis] not in {1, 3, 4}:
            warnings.warn(
                "Expected input to be images (as Numpy array) following the data format "
                f'convention "{self.data_format}" (channels on axis {self.channel_axis}), i.e. '
                f"expected either 1, 3 or 4 channels on axis {self.channel_axis}. However, it "
                f"was passed an array with shape {x.shape} ({x.shape[self.channel_axis]} "
                "channels)."
            )
        rng = np.random if seed is None else np.random.RandomState(seed)
        x = np.copy(x)
        if self.rescale:
            x *= self.rescale
        if augment:
            n = x.shape[0]
            ax = np.empty((rounds * n,) + x.shape[1:], dtype=self.dtype)
            for r in range(rounds):
                params = draw_batch(self, x.shape[1:], n, rng)
                ax[r * n : (r + 1) * n] = self._apply_batch(x, params, standardize=False)
            x = ax
        if not (self.featurewise_center or self.featurewise_std_normalization
                or self.zca_whitening):
            return
        work = x if x.dtype in _KERNEL_INPUTS else x.astype(np.float32)
        mean, std = featurewise_moments(work, self.data_format == "channels_first")
        broadcast_shape = [1, 1, 1]
        broadcast_shape[self.channel_axis - 1] = x.shape[self.channel_axis]
        if self.featurewise_center:
            self.mean = mean.reshape(broadcast_shape)
        if self.featurewise_std_normalization:
            self.std = std.reshape(broadcast_shape)
        if self.zca_whitening:
            if self.featurewise_center:
                x -= self.mean
            if self.featurewise_std_normalization:
                x /= self.std + 1e-6
            flat = x.reshape(len(x), -1)
            if flat.dtype not in _KERNEL_OUTPUTS:
                flat = flat.astype(np.float32)
            self._zca_factors = zca_fit(flat, self.zca_epsilon)
            self._zca_matrix = None

    # ------------------------------------------------------------------ batches

    def _augment_batch(self, batch_x: np.ndarray, rng: Any,
                       params: BatchTransforms | None = None,
                       index: np.ndarray | None = None) -> Any:
        """Augment and standardise a batch of raw images (what iterators call per batch).

        Parameters
        ----------
        batch_x : ndarray
            ``(N, H, W, C)`` / ``(N, C, H, W)`` images in the generator's layout, any real dtype
            (uint8, float32 and float64 are read directly); never modified.
        rng : numpy.random.RandomState or the ``numpy.random`` module
            Source of the batch's random parameters, drawn image after image as Keras does.
        params : BatchTransforms, optional
            The batch's parameters, where the caller has drawn them from ``rng`` already.
        index : ndarray, optional
            Positions in ``batch_x`` of the batch's images: the batch is ``batch_x[index]``,
            read in place by the kernel where it can (no copy of the images).

        Returns
        -------
        ndarray or device array
            A new batch of dtype ``self.dtype``: for each image, ``standardize(apply_transform(
            image, get_random_transform(image.shape)))`` as Keras computes it; a numba device
            array where ``device='cuda'`` runs the whole chain on the GPU.
        """
        batch_x = np.asarray(batch_x)
        if batch_x.ndim != 4:
            raise ValueError(
                f"`batch_x` must be a rank-4 batch of images; got shape {batch_x.shape}"
            )
        n = len(batch_x) if index is None else len(index)
        if params is None:
            params = draw_batch(self, batch_x.shape[1:], n, rng)
        return self._apply_batch(batch_x, params, standardize=True,
                                 on_device=self.device == "cuda", index=index)

    def _leaves_unchanged(self, params: BatchTransforms) -> bool:
        """True when a batch drawn as ``params`` comes out as it went in, but for the cast to
        ``dtype``: no transform, flip or intensity change, no standardize step, on the CPU."""
        if (self.device != "cpu" or self.preprocessing_function or self.rescale
                or self.samplewise_center or self.samplewise_std_normalization
                or self.featurewise_center or self.featurewise_std_normalization
                or self.zca_whitening):
            return False
        if params.channel_shift is not None or params.brightness is not None:
            return False
        return not (params.flip_h.any() or params.flip_v.any() or params.theta.any()
                    or params.tx.any() or params.ty.any() or params.shear.any()
                    or (params.zx != 1).any() or (params.zy != 1).any())

    def _apply_batch(
        self, x: np.ndarray, params: BatchTransforms, standardize: bool,
        on_device: bool = False, index: np.ndarray | None = None,
    ) -> Any:
        """Transform (and optionally standardise) the batch ``x`` (or ``x[index]``) with drawn
        ``params``; with ``on_device`` the result is a device array where the whole chain can
        run on the GPU."""
        out_dtype = np.dtype(self.dtype)
        work_dtype = out_dtype if out_dtype in _KERNEL_OUTPUTS else np.dtype(np.float32)
        n = len(x) if index is None else len(index)
        channels_first = self.data_format == "channels_first"
        img_shape = x.shape[1:]
        h, w = img_shape[self.row_axis - 1], img_shape[self.col_axis - 1]

        matrices, affine = batch_matrices(params, h, w, check_convention(self.affine_convention))
        flags = affine.astype(np.uint8) * AFFINE
        flags |= params.flip_h.astype(np.uint8) * FLIP_H
        flags |= params.flip_v.astype(np.uint8) * FLIP_V
        shift = bright = np.zeros(n)
        if params.channel_shift is not None:
            flags |= CHANNEL_SHIFT
            shift = params.channel_shift
        if params.brightness is not None:
            flags |= BRIGHTNESS
            bright = params.brightness

        mode = MODES.get(self.fill_mode) if isinstance(self.fill_mode, str) else None
        order = self.interpolation_order
        # Orders 2-5 go through scipy (which also raises Keras's errors for bad modes and
        # orders); the kernel then does the rest with AFFINE off.
        with_scipy = affine.any() and (order not in (0, 1) or mode is None)
        # Keras casts each image to the generator dtype first: a float64 batch is rounded to
        # float32 before resampling, so the kernel must read it rounded too.
        cast = x.dtype not in _KERNEL_INPUTS or (x.dtype == np.float64 and work_dtype != x.dtype)
        # Only the CPU kernel reads the batch's images in place; every other path picks them.
        if index is not None and (cast or on_device or with_scipy or not x.flags.c_contiguous):
            x, index = x[index], None
        if cast:
            x = x.astype(work_dtype)
        x = np.ascontiguousarray(x)
        if affine.any():
            cval = _check_cval(self.cval)
            if with_scipy:
                x = self._resample_each(x, matrices, affine, cval, work_dtype, channels_first)
                flags &= ~np.uint8(AFFINE)
                mode, order = MODES["nearest"], 1
            order = int(order)
        else:
            cval, mode, order = 0.0, MODES["nearest"], 1

        split = self.preprocessing_function or (self.rescale and not _is_scalar(self.rescale))
        post, rescale, mean, std = 0, 1.0, _NO_STATS, _NO_STATS
        if standardize and not split:
            post, rescale, mean, std = self._post_steps(img_shape)
        whiten_host = standardize and self.zca_whitening and self._zca_factors is None
        if on_device and not split and not whiten_host and work_dtype == out_dtype:
            # The whole chain on the GPU; the batch stays there (fastkeras.device.to_host).
            zca = self._zca_factors if standardize and self.zca_whitening else None
            return augment_batch(x, matrices, flags, shift, bright, mode, cval, order, post,
                                 rescale, mean, std, channels_first, work_dtype, zca,
                                 self._device_copies)
        out = np.empty((n,) + img_shape, dtype=work_dtype)
        affine_batch(x, out, matrices, flags, shift, bright, mode, cval, order, post, rescale,
                     mean, std, channels_first, index)
        if not standardize:
            return out if out.dtype == out_dtype else out.astype(out_dtype)
        if split:
            for i in range(n):
                out[i] = self._standardize(out[i], whiten=False)
        if self.zca_whitening:
            flat = out.reshape(n, -1)
            if self._zca_factors is not None:
                zca_apply(flat, *self._zca_factors, flat)
            elif self._zca_matrix is not None:
                flat[...] = flat @ self._zca_matrix
            else:
                _warn_unfitted("zca_whitening")
        return out if out.dtype == out_dtype else out.astype(out_dtype)

    def _resample_each(self, x, matrices, affine, cval, work_dtype, channels_first):
        """The geometric step per image with scipy (orders other than 0/1)."""
        geo = x.astype(work_dtype)
        for i in np.flatnonzero(affine):
            geo[i] = resample(geo[i], matrices[i], self.fill_mode, cval,
                              self.interpolation_order, channels_first)
        return geo

    def _post_steps(self, img_shape: tuple) -> tuple[int, float, np.ndarray, np.ndarray]:
        """The kernel's standardize bits, rescale factor and featurewise arrays."""
        post = 0
        rescale = 1.0
        if self.rescale:
            post |= RESCALE
            rescale = float(self.rescale)
        if self.samplewise_center:
            post |= SAMPLE_CENTER
        if self.samplewise_std_normalization:
            post |= SAMPLE_STD
        mean = std = _NO_STATS
        if self.featurewise_center:
            if self.mean is not None:
                post |= FEATURE_CENTER
                mean = self._image_stat("mean", img_shape)
            else:
                _warn_unfitted("featurewise_center")
        if self.featurewise_std_normalization:
            if self.std is not None:
                post |= FEATURE_STD
                std = self._image_stat("std", img_shape)
            else:
                _warn_unfitted("featurewise_std_normalization")
        return post, rescale, mean, std


def _check_cval(cval: Any) -> float:
    try:
        return float(cval)
    except (TypeError, ValueError):
        raise TypeError(f"`cval` should be a number. Received: {cval!r}") from None


def _warn_unfitted(option: str) -> None:
    warnings.warn(
        f"This ImageDataGenerator specifies `{option}`, but it hasn't been fit on any "
        "training data. Fit it first by calling `.fit(numpy_data)`.",
        stacklevel=3,
    )
