"""Independent references for the generator tests, written from spec ``image.md``, and their
checks against the spec's worked examples.

The references use only numpy, scipy.ndimage and Pillow (never fastkeras): the parameter draws
replay spec §2's table on a legacy ``RandomState``; the geometry builds spec §3.2's matrix and
calls ``scipy.ndimage.affine_transform`` per channel; brightness goes through Pillow's
``ImageEnhance.Brightness`` exactly as Keras 3 does; standardisation follows spec §5 in numpy;
the iterator replays spec §7.1's seeding and index bookkeeping.
"""

import numpy as np
import pytest
import scipy.ndimage
from PIL import Image, ImageEnhance

# --------------------------------------------------------------------------- spec §2: draws

DEFAULTS = dict(
    rotation_range=0, width_shift_range=0.0, height_shift_range=0.0, shear_range=0.0,
    zoom_range=0.0, channel_shift_range=0.0, brightness_range=None, horizontal_flip=False,
    vertical_flip=False, data_format="channels_last",
)


def config(**kwargs):
    cfg = dict(DEFAULTS, **kwargs)
    z = cfg["zoom_range"]
    cfg["zoom"] = [1 - z, 1 + z] if isinstance(z, (int, float)) else [z[0], z[1]]
    return cfg


def axes(cfg):
    """Per-image (row, col, channel) axes."""
    return (1, 2, 0) if cfg["data_format"] == "channels_first" else (0, 1, 2)


def replay_shift(rs, s, n):
    """Spec §2's shift rule."""
    try:
        v = rs.choice(s)
        v *= rs.choice([-1, 1])
    except ValueError:
        v = rs.uniform(-s, s)
    if np.max(s) < 1:
        v *= n
    return v


def replay_params(cfg, img_shape, rs):
    """Spec §2's table, row by row, on ``rs``."""
    row, col, _ = axes(cfg)
    p = {}
    p["theta"] = rs.uniform(-cfg["rotation_range"], cfg["rotation_range"]) if cfg["rotation_range"] else 0
    p["tx"] = replay_shift(rs, cfg["height_shift_range"], img_shape[row]) if cfg["height_shift_range"] else 0
    p["ty"] = replay_shift(rs, cfg["width_shift_range"], img_shape[col]) if cfg["width_shift_range"] else 0
    p["shear"] = rs.uniform(-cfg["shear_range"], cfg["shear_range"]) if cfg["shear_range"] else 0
    lo, hi = cfg["zoom"]
    p["zx"], p["zy"] = (1, 1) if (lo == 1 and hi == 1) else rs.uniform(lo, hi, 2)
    p["flip_horizontal"] = (rs.random_sample() < 0.5) * cfg["horizontal_flip"]
    p["flip_vertical"] = (rs.random_sample() < 0.5) * cfg["vertical_flip"]
    c = cfg["channel_shift_range"]
    p["channel_shift_intensity"] = rs.uniform(-c, c) if c != 0 else None
    b = cfg["brightness_range"]
    p["brightness"] = rs.uniform(b[0], b[1]) if b is not None else None
    return p


# --------------------------------------------------------------------------- spec §3.2: matrix

def ref_matrix(theta, tx, ty, shear, zx, zy, h, w, convention):
    """Spec §3.2: R.T.Sh.Z (non-identity factors only, np.dot), centred, swapped for keras3."""
    factors = []
    if theta != 0:
        t = np.deg2rad(theta)
        factors.append(np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]]))
    if tx != 0 or ty != 0:
        factors.append(np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]], dtype=float))
    if shear != 0:
        s = np.deg2rad(shear)
        factors.append(np.array([[1, -np.sin(s), 0], [0, np.cos(s), 0], [0, 0, 1]]))
    if zx != 1 or zy != 1:
        factors.append(np.array([[zx, 0, 0], [0, zy, 0], [0, 0, 1]], dtype=float))
    if not factors:
        return None
    m = factors[0]
    for f in factors[1:]:
        m = np.dot(m, f)
    d = 0.5 if convention == "keras_preprocessing" else -0.5
    oa, ob = h / 2 + d, w / 2 + d
    o = np.array([[1, 0, oa], [0, 1, ob], [0, 0, 1]])
    o_inv = np.array([[1, 0, -oa], [0, 1, -ob], [0, 0, 1]])
    m = np.dot(np.dot(o, m), o_inv)
    if convention == "keras3":
        m = m[[1, 0, 2]][:, [1, 0, 2]]
    return m


def ref_affine(x, matrix, channel_axis, mode, cval, order):
    """scipy.ndimage.affine_transform on every channel plane (spec §4)."""
    planes = np.moveaxis(x, channel_axis, 0)
    out = np.stack([
        scipy.ndimage.affine_transform(p, matrix[:2, :2], matrix[:2, 2], order=order, mode=mode, cval=cval)
        for p in planes
    ])
    return np.moveaxis(out, 0, channel_axis)


# --------------------------------------------------------------------------- spec §3.3-3.4

def ref_channel_shift(x, delta):
    """Spec §3.3: one float32 offset, clipped to the whole image's min/max."""
    lo, hi = x.min(), x.max()
    return np.clip(x + np.float32(delta), lo, hi).astype(x.dtype)


def ref_brightness(x, b, channel_axis):
    """Keras 3's generator path (scale=False) through Pillow, channels on ``channel_axis``."""
    x = np.moveaxis(np.asarray(x, np.float32), channel_axis, -1)
    m, mx = x.min(), x.max()
    local = m < 0 or mx > 255
    y = x
    if local:
        y = x - m
        if y.max() != 0:
            y = y / y.max()
        y = y * np.float32(255)
    q = y.astype(np.uint8)
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[q.shape[-1]]
    img = Image.fromarray(q[..., 0] if mode == "L" else q, mode)
    p = np.asarray(ImageEnhance.Brightness(img).enhance(b), dtype=np.float32).reshape(q.shape)
    if local:
        p = p / 255 * (mx - m) + m
    return np.moveaxis(p, -1, channel_axis)


def ref_apply_transform(x, p, cfg, fill_mode="nearest", cval=0.0, order=1, convention="keras_preprocessing"):
    """Spec §3 steps on one float image."""
    row, col, ch = axes(cfg)
    m = ref_matrix(p.get("theta", 0), p.get("tx", 0), p.get("ty", 0), p.get("shear", 0),
                   p.get("zx", 1), p.get("zy", 1), x.shape[row], x.shape[col], convention)
    if m is not None:
        x = ref_affine(x, m, ch, fill_mode, cval, order)
    if p.get("channel_shift_intensity") is not None:
        x = ref_channel_shift(x, p["channel_shift_intensity"])
    if p.get("flip_horizontal"):
        x = np.flip(x, col)
    if p.get("flip_vertical"):
        x = np.flip(x, row)
    if p.get("brightness") is not None:
        x = ref_brightness(x, p["brightness"], ch)
    return x


def ref_standardize(x, rescale=None, samplewise_center=False, samplewise_std=False,
                    mean=None, std=None):
    """Spec §5 steps 2-6 on a float32 copy."""
    x = np.array(x, dtype=np.float32)
    if rescale:
        x *= rescale
    if samplewise_center:
        x -= np.mean(x, dtype=np.float64).astype(np.float32)
    if samplewise_std:
        x /= np.float32(np.std(x, dtype=np.float64)) + np.float32(1e-6)
    if mean is not None:
        x -= mean
    if std is not None:
        x /= std + np.float32(1e-6)
    return x


# --------------------------------------------------------------------------- spec §7.1: iterator

def ref_flow(x, cfg, seed, batch_size, n_batches, shuffle=True, transform_kwargs=None, std_kwargs=None):
    """Seeded ``flow`` by spec §7.1: ``RandomState(seed + k)`` per batch, permutation at epoch
    start, then each image's draws and transform in batch order."""
    n = len(x)
    out = []
    batch_index = 0
    index_array = None
    for k in range(n_batches):
        rs = np.random.RandomState(seed + k)
        if batch_index == 0:
            index_array = rs.permutation(n) if shuffle else np.arange(n)
        start = (batch_index * batch_size) % n
        batch_index = batch_index + 1 if n > start + batch_size else 0
        idx = index_array[start:start + batch_size]
        images = []
        for j in idx:
            xi = np.asarray(x[j], np.float32)
            p = replay_params(cfg, xi.shape, rs)
            xi = ref_apply_transform(xi, p, cfg, **(transform_kwargs or {}))
            images.append(ref_standardize(xi, **(std_kwargs or {})))
        out.append((idx, np.stack(images)))
    return out


# --------------------------------------------------------------------------- checks vs spec

def test_replay_gives_spec_section2_example():
    cfg = config(rotation_range=20, width_shift_range=0.1, height_shift_range=[-2, 0.5, 3], shear_range=10,
                 zoom_range=[0.8, 1.2], horizontal_flip=True, channel_shift_range=15., brightness_range=(0.5, 1.5))
    p = replay_params(cfg, (30, 40, 3), np.random.RandomState(42))
    assert p == {
        "theta": -5.0183952461055, "tx": 2.0, "ty": 1.8559515344912403, "shear": 1.973169683940732,
        "zx": 0.8624074561769747, "zy": 0.8623978081344811, "flip_horizontal": 1, "flip_vertical": 0,
        "channel_shift_intensity": 3.0334503522962635, "brightness": 1.2080725777960455,
    }


def _plane(x, convention, **p):
    m = ref_matrix(p.get("theta", 0), p.get("tx", 0), p.get("ty", 0), 0, p.get("zx", 1), p.get("zy", 1),
                   x.shape[0], x.shape[1], convention)
    return scipy.ndimage.affine_transform(x, m[:2, :2], m[:2, 2], order=1, mode="constant", cval=-1)


def test_reference_geometry_gives_spec_section32_examples():
    x = np.arange(20.0).reshape(4, 5)
    np.testing.assert_array_equal(_plane(x, "keras3", tx=1)[0], [1, 2, 3, 4, -1])
    np.testing.assert_array_equal(_plane(x, "keras_preprocessing", tx=1),
                                  np.vstack([x[1:], np.full(5, -1.0)]))
    np.testing.assert_array_equal(_plane(x, "keras3", zx=2)[0], [-1, 0.5, 2.5, -1, -1])
    kp = _plane(x, "keras_preprocessing", zx=2)
    np.testing.assert_array_equal(kp[2], [7.5, 8.5, 9.5, 10.5, 11.5])
    assert (np.delete(kp, 2, axis=0) == -1).all()
    y = np.arange(1.0, 26).reshape(5, 5)
    np.testing.assert_allclose(_plane(y, "keras3", theta=90), np.rot90(y), atol=1e-12)
    np.testing.assert_array_equal(_plane(y, "keras_preprocessing", theta=90)[0, :3], [-1, -1, 21])


def test_reference_matrix_matches_section32_closed_form():
    rng = np.random.default_rng(0)
    for _ in range(50):
        theta, shear = rng.uniform(-180, 180, 2)
        tx, ty = rng.uniform(-5, 5, 2)
        zx, zy = rng.uniform(0.5, 1.5, 2)
        h, w = rng.integers(2, 12, 2)
        t, s = np.deg2rad(theta), np.deg2rad(shear)
        lin = np.array([[zx * np.cos(t), -zy * np.sin(t + s)], [zx * np.sin(t), zy * np.cos(t + s)]])
        tau = np.array([tx * np.cos(t) - ty * np.sin(t), tx * np.sin(t) + ty * np.cos(t)])
        o3 = np.array([(h - 1) / 2, (w - 1) / 2])
        m3 = ref_matrix(theta, tx, ty, shear, zx, zy, h, w, "keras3")
        # K3: (c_in, r_in) = L((c, r) - o) + o + tau, the first component centred with (H-1)/2.
        r, c = 3.0, 2.0
        r_in, c_in = m3[:2, :2] @ [r, c] + m3[:2, 2]
        np.testing.assert_allclose([c_in, r_in], lin @ ([c, r] - o3) + o3 + tau, atol=1e-12)
        okp = np.array([h / 2 + 0.5, w / 2 + 0.5])
        mkp = ref_matrix(theta, tx, ty, shear, zx, zy, h, w, "keras_preprocessing")
        np.testing.assert_allclose(mkp[:2, :2] @ [r, c] + mkp[:2, 2], lin @ ([r, c] - okp) + okp + tau,
                                   atol=1e-12)


@pytest.mark.parametrize("mode,expected", [
    ("constant", [[-1, 15, 25, 35], [-1, 20, 30, 40], [-1, -1, 15, 25], [30, 40, -1, -1]]),
    ("nearest", [[10, 15, 25, 35], [10, 20, 30, 40], [10, 10, 15, 25], [30, 40, 40, 40]]),
    ("reflect", [[10, 15, 25, 35], [10, 20, 30, 40], [15, 10, 15, 25], [30, 40, 40, 30]]),
    ("mirror", [[15, 15, 25, 35], [20, 20, 30, 40], [25, 15, 15, 25], [30, 40, 30, 20]]),
    ("wrap", [[35, 15, 25, 35], [40, 20, 30, 40], [25, 35, 15, 25], [30, 40, 20, 30]]),
    ("grid-wrap", [[25, 15, 25, 35], [10, 20, 30, 40], [35, 25, 15, 25], [30, 40, 10, 20]]),
])
def test_reference_resampling_gives_spec_section4_table(mode, expected):
    row = np.array([[10.0, 20, 30, 40]])
    cases = [(-0.5, 1), (-0.5, 0), (-1.5, 1), (2.0, 1)]
    for (tx, order), want in zip(cases, expected):
        m = ref_matrix(0, tx, 0, 0, 1, 1, 1, 4, "keras3")
        got = scipy.ndimage.affine_transform(row, m[:2, :2], m[:2, 2], order=order, mode=mode, cval=-1)
        np.testing.assert_array_equal(got[0], want)


def test_reference_intensity_gives_spec_examples():
    x = np.zeros((2, 2, 3), np.float32)
    x[..., 0] = [[10, 40], [70, 100]]
    x[..., 1] = [[20, 50], [80, 110]]  # unspecified in the spec; inside [10, 200]
    x[..., 2] = [[30, 60], [90, 200]]
    np.testing.assert_array_equal(ref_channel_shift(x, 50)[..., 0], [[60, 90], [120, 150]])
    np.testing.assert_array_equal(ref_channel_shift(x, 50)[..., 2], [[80, 110], [140, 200]])
    np.testing.assert_array_equal(ref_channel_shift(x, -25)[..., 0].ravel(), [10, 15, 45, 75])
    v = np.array([0, 10.7, 100.2, 200.9, 255, 128.5], np.float32).reshape(1, 6, 1)
    np.testing.assert_array_equal(ref_brightness(v, 0.5, 2).ravel(), [0, 5, 50, 100, 127, 64])
    np.testing.assert_array_equal(ref_brightness(v, 1.5, 2).ravel(), [0, 15, 150, 255, 255, 192])
    w = np.array([-1, 0, .5, 1, 2, 3], np.float32).reshape(1, 6, 1)
    np.testing.assert_allclose(ref_brightness(w, 0.5, 2).ravel(),
                               [-1, -0.5137, -0.2627, -0.0118, 0.4902, 0.9922], atol=1e-4)


def test_reference_standardize_gives_spec_section5_example():
    x = np.arange(12, dtype=np.float32).reshape(2, 2, 3)
    out = ref_standardize(x, rescale=0.5, samplewise_center=True, samplewise_std=True)
    np.testing.assert_allclose(out.ravel()[:3], [-1.59325, -1.30357, -1.01389], atol=1e-5)


def test_reference_flow_gives_spec_section71_order():
    x = np.zeros((10, 2, 2, 1), np.float32)
    got = [list(idx) for idx, _ in ref_flow(x, config(), 3, 4, 6)]
    assert got == [[5, 4, 1, 2], [9, 6, 7, 0], [3, 8], [8, 1, 7, 0], [6, 5, 2, 4], [3, 9]]
