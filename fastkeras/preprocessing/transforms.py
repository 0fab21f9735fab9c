"""Random transform parameters and the affine matrices built from them.

Parameters are drawn exactly as Keras's ``ImageDataGenerator.get_random_transform`` draws them
(spec ``image.md`` §2): the same legacy ``RandomState`` calls in the same order, so a seed gives
Keras's own numbers. Matrices are composed exactly as spec §3.2 says, one ``np.dot`` per factor,
in one of three conventions (``affine_convention``):

``'keras_preprocessing'`` (default)
    keras_preprocessing's geometry: ``tx``/``zx`` act on rows, clockwise rotation, centre
    ``n/2 + 0.5``.
``'keras3'``
    Keras 3's legacy geometry: the same matrix about ``n/2 - 0.5`` with rows and columns swapped
    afterwards (``tx`` acts on columns; the centre is mirrored on non-square images).
``'exact'``
    keras_preprocessing's axes and rotation sense about the true pixel centre ``(n - 1)/2``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

CONVENTIONS = ("keras_preprocessing", "keras3", "exact")

_REAL = (int, float, np.integer, np.floating)


def check_convention(affine_convention: Any) -> str:
    """Return ``affine_convention`` if it names a known convention, else raise ``ValueError``."""
    if not isinstance(affine_convention, str) or affine_convention not in CONVENTIONS:
        raise ValueError(
            "`affine_convention` should be one of 'keras_preprocessing', 'keras3' or 'exact'. "
            f"Received: {affine_convention!r}"
        )
    return affine_convention


# --------------------------------------------------------------------------------------------
# Parameter draws
# --------------------------------------------------------------------------------------------

def _draw_shift(shift_range: Any, size: int, rng: Any) -> Any:
    """One shift draw by Keras's rule: ``choice`` for ints >= 1 and lists, else ``uniform``."""
    try:
        value = rng.choice(shift_range)
        value *= rng.choice([-1, 1])
    except ValueError:
        value = rng.uniform(-shift_range, shift_range)
    if np.max(shift_range) < 1:
        value *= size
    return value


def draw_transform(gen: Any, img_shape: tuple, rng: Any) -> dict:
    """Draw one image's transform parameters, replaying Keras's sequence of calls on ``rng``.

    Parameters
    ----------
    gen : ImageDataGenerator
        Supplies the ranges (``rotation_range`` ... ``brightness_range``) and ``row_axis`` /
        ``col_axis`` (batch axes), read as they are now.
    img_shape : tuple of int
        Shape of one image in the generator's layout.
    rng : numpy.random.RandomState or the ``numpy.random`` module
        Legacy generator to draw from.

    Returns
    -------
    dict
        Keys ``theta, tx, ty, shear, zx, zy, flip_horizontal, flip_vertical,
        channel_shift_intensity, brightness`` with the values and Python/numpy types Keras
        returns.
    """
    if gen.rotation_range:
        theta = rng.uniform(-gen.rotation_range, gen.rotation_range)
    else:
        theta = 0
    if gen.height_shift_range:
        tx = _draw_shift(gen.height_shift_range, img_shape[gen.row_axis - 1], rng)
    else:
        tx = 0
    if gen.width_shift_range:
        ty = _draw_shift(gen.width_shift_range, img_shape[gen.col_axis - 1], rng)
    else:
        ty = 0
    if gen.shear_range:
        shear = rng.uniform(-gen.shear_range, gen.shear_range)
    else:
        shear = 0
    if gen.zoom_range[0] == 1 and gen.zoom_range[1] == 1:
        zx, zy = 1, 1
    else:
        zx, zy = rng.uniform(gen.zoom_range[0], gen.zoom_range[1], 2)
    flip_horizontal = (rng.random_sample() < 0.5) * gen.horizontal_flip
    flip_vertical = (rng.random_sample() < 0.5) * gen.vertical_flip
    channel_shift_intensity = None
    if gen.channel_shift_range != 0:
        channel_shift_intensity = rng.uniform(-gen.channel_shift_range, gen.channel_shift_range)
    brightness = None
    if gen.brightness_range is not None:
        brightness = rng.uniform(gen.brightness_range[0], gen.brightness_range[1])
    return {
        "theta": theta,
        "tx": tx,
        "ty": ty,
        "shear": shear,
        "zx": zx,
        "zy": zy,
        "flip_horizontal": flip_horizontal,
        "flip_vertical": flip_vertical,
        "channel_shift_intensity": channel_shift_intensity,
        "brightness": brightness,
    }


@dataclass
class BatchTransforms:
    """Transform parameters of a batch, one entry per image (float64 / bool arrays).

    ``channel_shift`` and ``brightness`` are ``None`` when the generator does not draw them.
    """

    theta: np.ndarray
    tx: np.ndarray
    ty: np.ndarray
    shear: np.ndarray
    zx: np.ndarray
    zy: np.ndarray
    flip_h: np.ndarray
    flip_v: np.ndarray
    channel_shift: np.ndarray | None
    brightness: np.ndarray | None

    def __len__(self) -> int:
        return len(self.theta)

    @classmethod
    def from_dicts(cls, params: list[dict]) -> "BatchTransforms":
        """Collect per-image parameter dicts (as ``get_random_transform`` returns them)."""

        def column(key: str, default: float) -> np.ndarray:
            return np.array([float(p.get(key, default)) for p in params], dtype=np.float64)

        def optional(key: str) -> np.ndarray | None:
            values = [p.get(key) for p in params]
            if all(v is None for v in values):
                return None
            if any(v is None for v in values):
                raise ValueError(f"`{key}` must be given for every image of a batch or for none.")
            return np.array([float(v) for v in values], dtype=np.float64)

        return cls(
            theta=column("theta", 0),
            tx=column("tx", 0),
            ty=column("ty", 0),
            shear=column("shear", 0),
            zx=column("zx", 1),
            zy=column("zy", 1),
            flip_h=np.array([bool(p.get("flip_horizontal", False)) for p in params], dtype=bool),
            flip_v=np.array([bool(p.get("flip_vertical", False)) for p in params], dtype=bool),
            channel_shift=optional("channel_shift_intensity"),
            brightness=optional("brightness"),
        )


def _uniform_column(low: Any, high: Any) -> tuple[float, float] | None:
    """``(low, high - low)`` as ``RandomState.uniform`` computes them, or None if it would not
    take its plain double path (non-scalar or non-finite bounds)."""
    if not (isinstance(low, _REAL) and isinstance(high, _REAL)):
        return None
    low_f, high_f = float(low), float(high)
    span = high_f - low_f
    if not math.isfinite(span):
        return None
    return low_f, span


def _shift_column(shift_range: Any, size: int) -> tuple[float, float, int] | None:
    """Column spec of a shift range that Keras draws with one ``uniform`` call, else None.

    ``choice`` fails (so Keras falls back to ``uniform``) for float scalars and for integers
    <= 0; those are scaled by the image size when below 1.
    """
    if isinstance(shift_range, (bool, np.bool_)):
        return None
    if isinstance(shift_range, (int, np.integer)):
        if shift_range > 0:
            return None
    elif not isinstance(shift_range, (float, np.floating)):
        return None
    column = _uniform_column(-shift_range, shift_range)
    if column is None:
        return None
    return column[0], column[1], size if shift_range < 1 else 1


def _vector_plan(gen: Any, img_shape: tuple) -> list | None:
    """Describe each image's draws as a row of doubles, or return None when Keras's sequence
    contains a non-double draw (``choice``) or an unusual range type.

    Each entry is ``(key, low, span, scale)`` for a uniform draw mapped as
    ``(low + span * u) * scale``, or ``(key, None, None, flag)`` for a flip draw.
    """
    plan: list = []
    if gen.rotation_range:
        col = _uniform_column(-gen.rotation_range, gen.rotation_range)
        if col is None:
            return None
        plan.append(("theta", col[0], col[1], 1))
    for key, shift_range, axis in (("tx", gen.height_shift_range, gen.row_axis),
                                   ("ty", gen.width_shift_range, gen.col_axis)):
        if shift_range:
            col = _shift_column(shift_range, img_shape[axis - 1])
            if col is None:
                return None
            plan.append((key, *col))
    if gen.shear_range:
        col = _uniform_column(-gen.shear_range, gen.shear_range)
        if col is None:
            return None
        plan.append(("shear", col[0], col[1], 1))
    zoom = gen.zoom_range
    if not (zoom[0] == 1 and zoom[1] == 1):
        col = _uniform_column(zoom[0], zoom[1])
        if col is None:
            return None
        plan.append(("zx", col[0], col[1], 1))
        plan.append(("zy", col[0], col[1], 1))
    for key, flag in (("flip_h", gen.horizontal_flip), ("flip_v", gen.vertical_flip)):
        if not isinstance(flag, (bool, np.bool_, int, np.integer)):
            return None
        plan.append((key, None, None, bool(flag)))
    if not isinstance(gen.channel_shift_range, _REAL):
        return None
    if gen.channel_shift_range != 0:
        col = _uniform_column(-gen.channel_shift_range, gen.channel_shift_range)
        if col is None:
            return None
        plan.append(("channel_shift", col[0], col[1], 1))
    if gen.brightness_range is not None:
        col = _uniform_column(gen.brightness_range[0], gen.brightness_range[1])
        if col is None:
            return None
        plan.append(("brightness", col[0], col[1], 1))
    return plan


def draw_batch(gen: Any, img_shape: tuple, n: int, rng: Any) -> BatchTransforms:
    """Draw the parameters of ``n`` images in Keras's order (image after image).

    When every draw of Keras's sequence is a double (the usual float ranges), all ``n`` rows come
    from one ``rng.random_sample`` call mapped exactly as ``RandomState.uniform`` maps doubles,
    which leaves ``rng`` in the same state and gives bit-identical values. Otherwise (integer or
    list shift ranges, which use ``choice``) each image replays :func:`draw_transform`.
    """
    plan = _vector_plan(gen, img_shape)
    if plan is None:
        return BatchTransforms.from_dicts([draw_transform(gen, img_shape, rng) for _ in range(n)])
    u = rng.random_sample(n * len(plan)).reshape(n, len(plan))
    out: dict[str, Any] = {
        "theta": np.zeros(n), "tx": np.zeros(n), "ty": np.zeros(n), "shear": np.zeros(n),
        "zx": np.ones(n), "zy": np.ones(n), "channel_shift": None, "brightness": None,
    }
    for j, (key, low, span, scale) in enumerate(plan):
        if low is None:
            out[key] = (u[:, j] < 0.5) & scale
            continue
        values = low + span * u[:, j]
        if scale != 1:
            values *= scale
        out[key] = values
    return BatchTransforms(**out)


# --------------------------------------------------------------------------------------------
# Matrices
# --------------------------------------------------------------------------------------------

def centre_offsets(h: int, w: int, affine_convention: str) -> tuple[float, float]:
    """The ``(o_x, o_y)`` that ``transform_matrix_offset_center`` uses in each convention."""
    if affine_convention == "keras_preprocessing":
        return float(h) / 2 + 0.5, float(w) / 2 + 0.5
    return float(h) / 2 - 0.5, float(w) / 2 - 0.5


def _offset_center(matrix: np.ndarray, o_x: float, o_y: float) -> np.ndarray:
    offset_matrix = np.array([[1, 0, o_x], [0, 1, o_y], [0, 0, 1]])
    reset_matrix = np.array([[1, 0, -o_x], [0, 1, -o_y], [0, 0, 1]])
    return np.dot(np.dot(offset_matrix, matrix), reset_matrix)


def transform_matrix_offset_center(matrix: np.ndarray, x: float, y: float) -> np.ndarray:
    """Return ``O @ matrix @ O^-1``: ``matrix`` applied about the point ``(x/2 + 0.5, y/2 + 0.5)``.

    This is keras_preprocessing's centre (fastkeras's default geometry); Keras 3 uses
    ``x/2 - 0.5``, which ``affine_convention='keras3'`` applies internally.

    Parameters
    ----------
    matrix : ndarray, shape (3, 3)
        Homogeneous transform about the origin.
    x, y : float
        Sizes of the first and second image axes.
    """
    return _offset_center(matrix, float(x) / 2 + 0.5, float(y) / 2 + 0.5)


def _swap_axes(matrix: np.ndarray) -> np.ndarray:
    matrix[:, [0, 1]] = matrix[:, [1, 0]]
    matrix[[0, 1]] = matrix[[1, 0]]
    return matrix


def affine_matrix(
    theta: float = 0, tx: float = 0, ty: float = 0, shear: float = 0, zx: float = 1, zy: float = 1,
    *, shape: tuple, row_axis: int, col_axis: int, affine_convention: str = "keras_preprocessing",
) -> np.ndarray | None:
    """The 3x3 float64 matrix (in the image planes' axis order) of one image, or None if identity.

    Follows spec §3.2 factor by factor: ``R @ T @ Sh @ Z`` with only the non-identity factors,
    centred, then swapped for ``'keras3'`` when ``col_axis > row_axis`` (for ``'exact'`` when
    ``row_axis > col_axis``, so the matrix stays in row/column terms).

    Parameters
    ----------
    theta, shear : float
        Degrees.
    tx, ty : float
        Shifts in pixels.
    zx, zy : float
        Zoom factors.
    shape : tuple of int
        Shape of the 3-D image.
    row_axis, col_axis : int
        Axes of ``shape`` holding rows and columns.
    affine_convention : str
        One of :data:`CONVENTIONS`.
    """
    matrix = None
    if theta != 0:
        t = np.deg2rad(theta)
        matrix = np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
    if tx != 0 or ty != 0:
        shift = np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]])
        matrix = shift if matrix is None else np.dot(matrix, shift)
    if shear != 0:
        s = np.deg2rad(shear)
        shear_matrix = np.array([[1, -np.sin(s), 0], [0, np.cos(s), 0], [0, 0, 1]])
        matrix = shear_matrix if matrix is None else np.dot(matrix, shear_matrix)
    if zx != 1 or zy != 1:
        zoom = np.array([[zx, 0, 0], [0, zy, 0], [0, 0, 1]])
        matrix = zoom if matrix is None else np.dot(matrix, zoom)
    if matrix is None:
        return None
    h, w = shape[row_axis], shape[col_axis]
    matrix = _offset_center(matrix, *centre_offsets(h, w, affine_convention))
    if affine_convention == "keras3" and col_axis > row_axis:
        matrix = _swap_axes(matrix)
    elif affine_convention == "exact" and row_axis > col_axis:
        matrix = _swap_axes(matrix)
    return matrix


def batch_matrices(
    params: BatchTransforms, h: int, w: int, affine_convention: str
) -> tuple[np.ndarray, np.ndarray]:
    """Every image's ``[A | off]`` (N, 2, 3) float64 and whether it has a geometric transform.

    For the generator's layouts (rows before columns). The factors are composed with stacked
    ``np.matmul`` per group of images that share the same set of non-identity factors, which
    performs the same products as :func:`affine_matrix`'s ``np.dot`` sequence (bit-identical,
    checked in the tests). Images without a transform get the identity.
    """
    n = len(params)
    has_rot = params.theta != 0
    has_shift = (params.tx != 0) | (params.ty != 0)
    has_shear = params.shear != 0
    has_zoom = (params.zx != 1) | (params.zy != 1)
    code = has_rot * 1 + has_shift * 2 + has_shear * 4 + has_zoom * 8
    affine = code != 0
    matrices = np.zeros((n, 2, 3))
    matrices[:, 0, 0] = 1.0
    matrices[:, 1, 1] = 1.0
    if not affine.any():
        return matrices, affine
    o_x, o_y = centre_offsets(h, w, affine_convention)
    offset = np.array([[1, 0, o_x], [0, 1, o_y], [0, 0, 1]])
    reset = np.array([[1, 0, -o_x], [0, 1, -o_y], [0, 0, 1]])
    uniform = (code == code[0]).all()
    for group in [code[0]] if uniform else np.unique(code[affine]):
        idx = slice(None) if uniform else np.flatnonzero(code == group)
        count = n if uniform else len(idx)
        m = None
        if group & 1:
            t = np.deg2rad(params.theta[idx])
            c, s = np.cos(t), np.sin(t)
            m = _stack(count, ((0, 0, c), (0, 1, -s), (1, 0, s), (1, 1, c)))
        if group & 2:
            f = _stack(count, ((0, 0, 1.0), (1, 1, 1.0), (0, 2, params.tx[idx]),
                               (1, 2, params.ty[idx])))
            m = f if m is None else np.matmul(m, f)
        if group & 4:
            s = np.deg2rad(params.shear[idx])
            f = _stack(count, ((0, 0, 1.0), (0, 1, -np.sin(s)), (1, 1, np.cos(s))))
            m = f if m is None else np.matmul(m, f)
        if group & 8:
            f = _stack(count, ((0, 0, params.zx[idx]), (1, 1, params.zy[idx])))
            m = f if m is None else np.matmul(m, f)
        m = np.matmul(np.matmul(offset, m), reset)
        if affine_convention == "keras3":
            m = m[:, [1, 0, 2]][:, :, [1, 0, 2]]
        matrices[idx] = m[:, :2, :]
    return matrices, affine


def _stack(n: int, entries: tuple) -> np.ndarray:
    """(n, 3, 3) float64 stack with ``[2, 2] = 1`` and the given ``(row, col, value)`` entries."""
    m = np.zeros((n, 3, 3))
    m[:, 2, 2] = 1.0
    for r, c, v in entries:
        m[:, r, c] = v
    return m
