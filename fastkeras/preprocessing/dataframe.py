"""``DataFrameIterator``: batches of images listed in a pandas DataFrame (``flow_from_dataframe``).

Follows Keras 3 (spec ``image.md`` §8.1); loading is shared with ``DirectoryIterator``. pandas is
an optional dependency, imported only when an iterator is built.
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Sequence

import numpy as np

from fastkeras.preprocessing.directory import WHITE_LIST_FORMATS, BatchFromFilesMixin
from fastkeras.preprocessing.iterator import Iterator

__all__ = ["DataFrameIterator"]

_LABEL_FREE_MODES = ("input", "multi_output", "raw", None)


def _require_pandas() -> Any:
    try:
        import pandas
    except ImportError as e:
        raise ImportError(
            "DataFrameIterator (flow_from_dataframe) needs pandas, which is not installed: "
            "pip install pandas"
        ) from e
    return pandas


def validate_filename(
    filename: str, white_list_formats: Sequence[str] = WHITE_LIST_FORMATS
) -> bool:
    """True when ``filename`` ends with an allowed image extension and is an existing file."""
    return filename.lower().endswith(tuple(white_list_formats)) and os.path.isfile(filename)


class DataFrameIterator(BatchFromFilesMixin, Iterator):
    """Iterator over image files named in a DataFrame column, with labels from other columns.

    Parameters
    ----------
    dataframe : pandas.DataFrame
        One row per image; it is copied, never modified.
    directory : str or path-like, optional
        Folder the ``x_col`` paths are relative to; ``None`` means they are usable as they are.
    image_data_generator : ImageDataGenerator or None
        Augments and standardises each batch; ``None`` returns the images as loaded.
    x_col : str
        Column of file names (every value a str).
    y_col : str or list of str
        Label column(s).
    weight_col : str, optional
        Numeric column returned as sample weights (third element of each batch).
    target_size, color_mode, batch_size, shuffle, seed, data_format, save_to_dir, save_prefix,
    save_format, interpolation, keep_aspect_ratio, dtype, workers, invalid_images
        As for :class:`~fastkeras.preprocessing.directory.DirectoryIterator`.
    classes : list of str, optional
        Classes to keep, in label order (rows with other labels are dropped); by default the
        sorted unique labels.
    class_mode : {'categorical', 'binary', 'sparse', 'input', 'multi_output', 'raw', None}
        ``categorical``: one-hot (a list or tuple label makes it multi-hot); ``binary`` (exactly
        two classes) and ``sparse``: class index; ``raw``: ``dataframe[y_col]`` values;
        ``multi_output``: one array per column of the list ``y_col``; ``input``: the images.
    subset : {'training', 'validation'}, optional
        Validation is the first ``validation_split`` fraction of the (filtered) rows.
    validate_filenames : bool
        Drop, with one warning, rows whose path lacks an image extension or is not a file.

    Attributes
    ----------
    filenames : list of str
        ``x_col`` values kept, in frame order.
    filepaths : list of str
        The same joined to ``directory``.
    classes : list
        Class index (or list of indices) per row, for the label modes; else ``None``.
    class_indices : dict
        Class name to index (empty for the label-free modes).
    labels, sample_weight, samples, image_shape, invalid_filenames
    """

    allowed_class_modes = {"binary", "categorical", "input", "multi_output", "raw", "sparse", None}

    def __init__(
        self,
        dataframe: Any,
        directory: str | os.PathLike | None = None,
        image_data_generator: Any = None,
        x_col: str = "filename",
        y_col: str | list[str] = "class",
        weight_col: str | None = None,
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
        subset: str | None = None,
        interpolation: str = "nearest",
        keep_aspect_ratio: bool = False,
        dtype: Any = None,
        validate_filenames: bool = True,
        workers: int | None = None,
        invalid_images: str = "raise",
    ):
        pandas = _require_pandas()
        if not isinstance(dataframe, pandas.DataFrame):
            raise TypeError(
                f"`dataframe` must be a pandas DataFrame. Received: {type(dataframe).__name__}"
            )
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
        df = dataframe.copy()
        self.directory = directory or ""
        self.class_mode = class_mode
        self._check_params(df, x_col, y_col, weight_col, classes)

        if validate_filenames:
            df = self._filter_valid_filepaths(df, x_col)
        self.invalid_filenames = []
        if self.invalid_images == "skip":
            names = df[x_col].tolist()
            paths = [os.path.join(self.directory, name) for name in names]
            df = df[np.array(self._drop_invalid_files(paths, names), dtype=bool)]

        self.class_indices = {}
        if class_mode not in _LABEL_FREE_MODES:
            df, classes = self._filter_classes(df, y_col, classes)
            self.class_indices = dict(zip(classes, range(len(classes))))
        if self.split:
            start, stop = int(self.split[0] * len(df)), int(self.split[1] * len(df))
            df = df.iloc[start:stop, :]
        self.classes = None
        if class_mode not in _LABEL_FREE_MODES:
            self.classes = self.get_classes(df, y_col)
        self.filenames = df[x_col].tolist()
        self._sample_weight = df[weight_col].values if weight_col else None
        if class_mode == "multi_output":
            self._targets = [np.array(df[col].tolist()) for col in y_col]
        elif class_mode == "raw":
            self._targets = df[y_col].values
        self.samples = len(self.filenames)

        validated = "validated" if validate_filenames else "non-validated"
        belonging = (
            "" if class_mode in _LABEL_FREE_MODES
            else f" belonging to {len(self.class_indices)} classes"
        )
        print(f"Found {self.samples} {validated} image filenames{belonging}{self._found_suffix()}.")
        self._filepaths = [os.path.join(self.directory, name) for name in self.filenames]
        super().__init__(self.samples, batch_size, shuffle, seed)

    def _check_params(
        self, df: Any, x_col: str, y_col: Any, weight_col: str | None, classes: Any
    ) -> None:
        mode = self.class_mode
        if mode not in self.allowed_class_modes:
            raise ValueError(
                f"Invalid class_mode: {mode}; expected one of: {self.allowed_class_modes}"
            )
        if mode == "multi_output" and not isinstance(y_col, list):
            raise TypeError(
                f'If class_mode="{mode}", y_col must be a list. Received {type(y_col).__name__}.'
            )
        if mode in ("binary", "categorical", "sparse") and not isinstance(y_col, str):
            raise TypeError(
                f'If class_mode="{mode}", y_col must be one column name (str). Received {y_col!r}.'
            )
        needed = {"x_col": [x_col]}
        if mode is not None and mode != "input":
            needed["y_col"] = y_col if isinstance(y_col, list) else [y_col]
        if weight_col:
            needed["weight_col"] = [weight_col]
        for argument, columns in needed.items():
            for column in columns:
                if column not in df.columns:
                    raise ValueError(
                        f"{argument}={column!r} is not a column of `dataframe` "
                        f"(its columns: {list(df.columns)})."
                    )
        if not all(isinstance(x, str) for x in df[x_col]):
            raise TypeError(f"All values in column x_col={x_col} must be strings.")
        if mode in ("binary", "sparse") and not all(isinstance(y, str) for y in df[y_col]):
            raise TypeError(
                f'If class_mode="{mode}", y_col="{y_col}" column values must be strings.'
            )
        if mode == "binary":
            if classes:
                if len(set(classes)) != 2:
                    raise ValueError(
                        'If class_mode="binary" there must be 2 classes. '
                        f"{len(set(classes))} class/es were given."
                    )
            elif df[y_col].nunique() != 2:
                raise ValueError(
                    'If class_mode="binary" there must be 2 classes. '
                    f"Found {df[y_col].nunique()} classes."
                )
        if mode == "categorical" and not all(isinstance(y, (str, list, tuple)) for y in df[y_col]):
            raise TypeError(
                f'If class_mode="{mode}", y_col="{y_col}" column values must be type string, '
                "list or tuple."
            )
        if classes and mode in _LABEL_FREE_MODES:
            warnings.warn(f'`classes` will be ignored given the class_mode="{mode}"', stacklevel=3)
        if weight_col and not issubclass(df[weight_col].dtype.type, np.number):
            raise TypeError(f"Column weight_col={weight_col} must be numeric.")

    def _filter_valid_filepaths(self, df: Any, x_col: str) -> Any:
        """Rows whose path has an image extension and is an existing file (one warning)."""
        mask = np.array(
            [validate_filename(os.path.join(self.directory, name)) for name in df[x_col]],
            dtype=bool,
        )
        n_invalid = int((~mask).sum())
        if n_invalid:
            warnings.warn(
                f'Found {n_invalid} invalid image filename(s) in x_col="{x_col}". '
                "These filename(s) will be ignored.",
                stacklevel=3,
            )
        return df[mask]

    @staticmethod
    def _filter_classes(df: Any, y_col: str, classes: Any) -> tuple[Any, list]:
        """Keep rows with a label in ``classes`` (deduplicated, order kept) or list all labels."""
        if classes:
            classes = list(dict.fromkeys(classes))
            wanted = set(classes)

            def keep(label: Any) -> Any:
                if isinstance(label, (list, tuple)):
                    return [c for c in label if c in wanted] or None
                return label if label in wanted else None

            df = df.copy()
            df[y_col] = df[y_col].apply(keep)
            return df.dropna(subset=[y_col]), classes
        found = set()
        for label in df[y_col]:
            if isinstance(label, (list, tuple)):
                found.update(label)
            else:
                found.add(label)
        return df, sorted(found)

    def get_classes(self, df: Any, y_col: str) -> list:
        """Class index of every row (a list of indices for list or tuple labels)."""
        return [
            [self.class_indices[c] for c in label]
            if isinstance(label, (list, tuple))
            else self.class_indices[label]
            for label in df[y_col]
        ]

    @property
    def filepaths(self) -> list[str]:
        """Paths of the listed images (``directory`` joined to each of ``filenames``)."""
        return self._filepaths

    @property
    def labels(self) -> Any:
        """The targets: ``raw`` values, the ``multi_output`` arrays, or ``classes``."""
        if self.class_mode in ("multi_output", "raw"):
            return self._targets
        return self.classes

    @property
    def sample_weight(self) -> np.ndarray | None:
        """Values of ``weight_col`` for the kept rows, or ``None``."""
        return self._sample_weight
