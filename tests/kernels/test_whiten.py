"""Featurewise moments and ZCA factors against numpy references (spec image.md §6 step 9)."""

import os

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from fastkeras.kernels import whiten
from fastkeras.kernels.whiten import featurewise_moments, zca_apply, zca_fit, zca_matrix

EPS = 1e-6


def moments_reference(x, channels_first):
    """numpy's two-pass mean and population std per channel, in float64."""
    axes = (0, 2, 3) if channels_first else (0, 1, 2)
    x64 = x.astype(np.float64)
    return x64.mean(axis=axes), x64.std(axis=axes)


def k3_matrix(flat, eps):
    """Keras 3's whitening matrix, computed as its fit does."""
    n = flat.shape[0]
    u, s, _ = np.linalg.svd(flat.T, full_matrices=False)
    return (u * (np.sqrt(n) / (s + eps))) @ u.T


def images(rng, n, h, w, c):
    """Images on 0-255 centred per channel, as Keras's featurewise_center leaves them."""
    x = rng.uniform(0, 255, (n, h, w, c))
    x -= x.mean(axis=(0, 1, 2))
    return x.reshape(n, -1)


def assert_matrix_close(actual, expected, rtol=1e-5):
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=0, atol=rtol * np.abs(expected).max())


# ---------------------------------------------------------------- featurewise_moments


def test_moments_hand_computed():
    x = np.array([0, 0, 0, 0, 10, 10, 10, 10], dtype=np.float32).reshape(2, 2, 2, 1)
    mean, std = featurewise_moments(x, channels_first=False)
    np.testing.assert_array_equal(mean, [5.0])
    np.testing.assert_array_equal(std, [5.0])


def test_moments_hand_computed_per_channel():
    # channel 0 holds 1, 2, 3, 4; channel 1 holds 10, 10, 10, 30.
    x = np.array([[[1, 10], [2, 10]], [[3, 10], [4, 30]]], dtype=np.uint8).reshape(2, 1, 2, 2)
    mean, std = featurewise_moments(x, channels_first=False)
    np.testing.assert_allclose(mean, [2.5, 15.0])
    np.testing.assert_allclose(std, [np.sqrt(1.25), np.sqrt(75.0)], rtol=1e-7)
    assert mean.dtype == std.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
@pytest.mark.parametrize("channels_first", [False, True])
def test_moments_match_numpy(dtype, channels_first):
    rng = np.random.default_rng(0)
    shape = (5, 3, 7, 9) if channels_first else (5, 7, 9, 3)
    x = rng.uniform(0, 255, shape).astype(dtype)
    before = x.copy()
    mean, std = featurewise_moments(x, channels_first)
    ref_mean, ref_std = moments_reference(x, channels_first)
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-6)
    np.testing.assert_allclose(std, ref_std, rtol=1e-6)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize(
    "shape, channels_first",
    [
        ((3, 200, 200, 3), False),  # many row chunks
        ((2, 3, 150, 150), True),  # one image row is bigger than a chunk: split along pixels
        ((1, 1, 999, 1001), True),  # ragged last pixel chunk
    ],
)
def test_moments_across_chunk_boundaries(shape, channels_first):
    rng = np.random.default_rng(1)
    n_channels = shape[1] if channels_first else shape[3]
    spread = np.linspace(1, 3, n_channels).reshape((1, -1, 1, 1) if channels_first else (1, 1, 1, -1))
    x = rng.standard_normal(shape) * spread
    mean, std = featurewise_moments(x, channels_first)
    ref_mean, ref_std = moments_reference(x, channels_first)
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(std, ref_std, rtol=1e-6)


@pytest.mark.parametrize("offset, dtype", [(1e4, np.float32), (1e8, np.float64)])
def test_moments_large_mean(offset, dtype):
    # E[x^2] - E[x]^2 would lose every digit of the spread at 1e8 in float64.
    rng = np.random.default_rng(2)
    x = (offset + rng.standard_normal((50, 16, 16, 3)) * [0.5, 1.0, 2.0]).astype(dtype)
    mean, std = featurewise_moments(x, channels_first=False)
    ref_mean, ref_std = moments_reference(x, False)
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-7)
    np.testing.assert_allclose(std, ref_std, rtol=1e-6)


def test_moments_layouts_agree_and_views_accepted():
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, (6, 11, 13, 4)).astype(np.float32)
    last = featurewise_moments(x, channels_first=False)
    first = featurewise_moments(np.ascontiguousarray(x.transpose(0, 3, 1, 2)), channels_first=True)
    view = x[::2, 1:, :, ::-1]  # not contiguous; channel order reversed
    from_view = featurewise_moments(view, channels_first=False)
    np.testing.assert_allclose(first[0], last[0], rtol=1e-6)
    np.testing.assert_allclose(first[1], last[1], rtol=1e-6)
    ref_mean, ref_std = moments_reference(view, False)
    np.testing.assert_allclose(from_view[0], ref_mean, rtol=1e-6)
    np.testing.assert_allclose(from_view[1], ref_std, rtol=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 4),
    h=st.integers(1, 6),
    w=st.integers(1, 6),
    c=st.integers(1, 5),
    dtype=st.sampled_from([np.uint8, np.float32, np.float64]),
    channels_first=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_moments_property(n, h, w, c, dtype, channels_first, seed):
    shape = (n, c, h, w) if channels_first else (n, h, w, c)
    x = np.random.default_rng(seed).uniform(0, 255, shape).astype(dtype)
    mean, std = featurewise_moments(x, channels_first)
    ref_mean, ref_std = moments_reference(x, channels_first)
    assert mean.shape == std.shape == (c,)
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-6)
    np.testing.assert_allclose(std, ref_std, rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize(
    "x, channels_first, error, gist",
    [
        ([[[[1.0]]]], False, TypeError, "`x` must be a numpy array"),
        (np.zeros((2, 3, 3), np.float32), False, ValueError, r"4-D batch of images \(N, H, W, C\)"),
        (np.zeros((2, 3, 3), np.float32), True, ValueError, r"\(N, C, H, W\)"),
        (np.zeros((1, 2, 2, 3), np.int32), False, TypeError, "uint8, float32 or float64; got int32"),
        (np.zeros((0, 2, 2, 3), np.float32), False, ValueError, "at least one pixel"),
        (np.zeros((1, 2, 2, 3), np.float32), "yes", TypeError, "`channels_first` must be a bool"),
    ],
)
def test_moments_errors(x, channels_first, error, gist):
    with pytest.raises(error, match=gist):
        featurewise_moments(x, channels_first)


# ---------------------------------------------------------------- zca_fit / zca_matrix


@pytest.mark.parametrize(
    "n, hwc",
    [(10, (4, 4, 3)), (7, (8, 8, 1)), (200, (4, 4, 3)), (48, (4, 4, 3))],
    ids=["n<D", "n<<D", "n>D", "n==D"],
)
def test_zca_factors_reproduce_keras3(n, hwc):
    rng = np.random.default_rng(4)
    flat = images(rng, n, *hwc)
    before = flat.copy()
    u, scale = zca_fit(flat, EPS)
    k = min(flat.shape)
    assert u.shape == (flat.shape[1], k) and scale.shape == (k,)
    assert u.dtype == scale.dtype == np.float64
    np.testing.assert_allclose(u.T @ u, np.eye(k), atol=1e-12)
    u_ref, s_ref, _ = np.linalg.svd(flat.T, full_matrices=False)
    np.testing.assert_allclose(scale, np.sqrt(n) / (s_ref + EPS), rtol=1e-9)
    # Same singular vectors up to sign.
    np.testing.assert_allclose(np.abs(np.sum(u * u_ref, axis=0)), 1.0, atol=1e-9)
    assert_matrix_close(zca_matrix(u, scale), k3_matrix(flat, EPS), rtol=1e-9)
    np.testing.assert_array_equal(flat, before)


@pytest.mark.parametrize("n", [10, 100])
def test_zca_float32_data_matches_keras3_float32_route(n):
    # Keras 3 runs its SVD in float32 on float32 data, and so does zca_fit: both agree with the
    # float64 matrix to float32 precision (these data are well conditioned).
    rng = np.random.default_rng(5)
    flat = images(rng, n, 4, 4, 3).astype(np.float32)
    u, scale = zca_fit(flat, EPS)
    assert u.dtype == scale.dtype == np.float32
    assert zca_matrix(u, scale).dtype == np.float64
    np.testing.assert_allclose(u.T @ u, np.eye(min(flat.shape)), atol=1e-5)
    assert_matrix_close(zca_matrix(u, scale), k3_matrix(flat, EPS), rtol=5e-6)
    assert_matrix_close(zca_matrix(u, scale), k3_matrix(flat.astype(np.float64), EPS), rtol=5e-6)
    u64, scale64 = zca_fit(flat.astype(np.float64), EPS)
    assert u64.dtype == scale64.dtype == np.float64
    assert_matrix_close(zca_matrix(u64, scale64), k3_matrix(flat.astype(np.float64), EPS),
                        rtol=1e-9)


@pytest.mark.parametrize("n, d", [(300, 24), (8, 60)])
def test_whitened_training_data_has_identity_covariance(n, d):
    rng = np.random.default_rng(6)
    mixing = rng.standard_normal((d, d))
    flat = rng.standard_normal((n, d)) @ mixing
    flat -= flat.mean(axis=0)
    u, scale = zca_fit(flat, EPS)
    white = np.empty_like(flat)
    zca_apply(flat, u, scale, white)
    rank = np.linalg.matrix_rank(flat)
    if n > d:
        np.testing.assert_allclose(white.T @ white / n, np.eye(d), atol=1e-5)
    else:
        # n < D: the n whitened samples are orthogonal with squared norm n, on the data's span.
        gram = white @ white.T / n
        projector = np.eye(n) - 1.0 / n  # centring removed one direction
        assert rank == n - 1
        np.testing.assert_allclose(gram, projector, atol=1e-5)
    # W is symmetric with eigenvalues `scale` on its k directions and 0 elsewhere.
    w = zca_matrix(u, scale)
    np.testing.assert_allclose(w, w.T, atol=1e-9 * np.abs(w).max())
    eigvals = np.linalg.eigvalsh(w)[::-1]
    k = min(n, d)
    np.testing.assert_allclose(eigvals[:k], np.sort(scale)[::-1], rtol=1e-6)
    np.testing.assert_allclose(eigvals[k:], 0.0, atol=1e-9 * eigvals[0])


def test_zca_rank_deficient_more_samples_than_features():
    # Two identical features: one zero singular value, whose component keeps sqrt(n)/epsilon.
    rng = np.random.default_rng(7)
    flat = rng.uniform(0, 255, (100, 12))
    flat[:, 5] = flat[:, 4]
    flat -= flat.mean(axis=0)
    u, scale = zca_fit(flat, EPS)
    assert scale[-1] == np.sqrt(100) / EPS
    assert np.all(scale[:-1] < 1.0)
    # With n >= D the null space is the whole complement, so Keras 3's matrix is unique.
    assert_matrix_close(zca_matrix(u, scale), k3_matrix(flat, EPS), rtol=1e-6)


def test_zca_rank_deficient_fewer_samples_than_features():
    # 5 distinct images each seen twice: rank 5 of k = 10.
    rng = np.random.default_rng(8)
    distinct = rng.uniform(0, 255, (5, 48))
    x = np.concatenate([distinct, distinct]).reshape(10, 4, 4, 3)
    flat = (x - x.mean(axis=(0, 1, 2))).reshape(10, 48)
    u, scale = zca_fit(flat, EPS)
    k = 10
    np.testing.assert_allclose(u.T @ u, np.eye(k), atol=1e-12)
    u_ref, s_ref, _ = np.linalg.svd(flat.T, full_matrices=False)
    np.testing.assert_allclose(scale[:5], np.sqrt(10) / (s_ref[:5] + EPS), rtol=1e-9)
    np.testing.assert_array_equal(scale[5:], np.sqrt(10) / EPS)
    # The null components are orthogonal to the data, so on the training span W is Keras 3's.
    np.testing.assert_allclose(flat @ u[:, 5:], 0.0, atol=1e-9)
    assert_matrix_close(flat @ zca_matrix(u, scale), flat @ k3_matrix(flat, EPS), rtol=1e-6)


def test_zca_all_zero_data():
    u, scale = zca_fit(np.zeros((4, 6)), 0.5)
    np.testing.assert_array_equal(scale, np.full(4, np.sqrt(4) / 0.5))
    np.testing.assert_allclose(u.T @ u, np.eye(4), atol=1e-12)


def test_zca_epsilon_zero():
    rng = np.random.default_rng(9)
    flat = images(rng, 6, 3, 3, 2)
    u, scale = zca_fit(flat, 0)
    assert_matrix_close(zca_matrix(u, scale), k3_matrix(flat, 0.0), rtol=1e-9)
    with pytest.raises(ValueError, match=r"rank 1 < 2.*zca_epsilon > 0"):
        zca_fit(np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]]), 0.0)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 12),
    d=st.integers(1, 12),
    eps=st.sampled_from([1e-6, 1e-2, 1.0]),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**31 - 1),
)
def test_zca_property(n, d, eps, dtype, seed):
    rng = np.random.default_rng(seed)
    flat = rng.uniform(-1, 1, (n, d)).astype(dtype)
    u, scale = zca_fit(flat, eps)
    k = min(n, d)
    assert u.shape == (d, k) and scale.shape == (k,)
    assert u.dtype == scale.dtype == dtype
    unit = np.finfo(dtype).eps
    flat64 = flat.astype(np.float64)
    w_ref = k3_matrix(flat64, eps)
    # The eigendecomposition of flat.T @ flat (or flat @ flat.T) squares the data's condition
    # number, and so the relative error of the smallest components. float32 resolves them all
    # only where that square is well below 1/eps32 (as for Keras's float32 SVD of the
    # covariance); zca_epsilon damps their weights but not their directions' error.
    s = np.linalg.svd(flat64, compute_uv=False)
    single = dtype == np.float32
    if single:
        assume(s[k - 1] > 0 and 1e-5 * (s[0] / s[k - 1]) ** 2 < 0.1)
    cond2 = (s[0] / s[k - 1]) ** 2 if single else 1.0
    np.testing.assert_allclose(u.T @ u, np.eye(k), atol=1000 * unit * cond2)
    rtol = 1e-5 * cond2 if single else 1e-6
    white = np.empty((n, d))
    zca_apply(flat, u, scale, white)
    np.testing.assert_allclose(white, flat64 @ w_ref, atol=rtol * np.abs(flat64 @ w_ref).max())
    # Random data has full rank min(n, D), so W is unique whichever side is larger.
    assert_matrix_close(zca_matrix(u, scale), w_ref, rtol=rtol)


@pytest.mark.parametrize(
    "flat, epsilon, error, gist",
    [
        ([[1.0, 2.0]], EPS, TypeError, "`flat` must be a numpy array"),
        (np.ones(4), EPS, ValueError, r"`flat` must be 2-D \(samples, features\)"),
        (np.ones((2, 3), np.int64), EPS, TypeError, "float32 or float64; got int64"),
        (np.ones((0, 3)), EPS, ValueError, "at least one sample and one feature"),
        (np.array([[1.0, np.nan]]), EPS, ValueError, "NaN or infinity"),
        (np.ones((2, 3)), -1e-6, ValueError, r"`epsilon` \(zca_epsilon\) must be a finite number >= 0"),
        (np.ones((2, 3)), float("nan"), ValueError, "finite number"),
        (np.ones((2, 3)), "1e-6", ValueError, "finite number"),
        (np.ones((2, 3)), True, ValueError, "finite number"),
    ],
)
def test_zca_fit_errors(flat, epsilon, error, gist):
    with pytest.raises(error, match=gist):
        zca_fit(flat, epsilon)


# ---------------------------------------------------------------- zca_apply


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(10)
    flat = images(rng, 20, 6, 5, 3)
    u, scale = zca_fit(flat, EPS)
    batch = rng.uniform(0, 255, (9, 90)) - 128
    return u, scale, batch, batch @ k3_matrix(flat, EPS)


@pytest.mark.parametrize("out_dtype", [np.float64, np.float32])
def test_low_rank_apply_equals_full_matrix(fitted, out_dtype):
    u, scale, batch, expected = fitted
    before = batch.copy()
    out = np.empty(batch.shape, out_dtype)
    zca_apply(batch, u, scale, out)
    tol = 1e-6 * np.abs(expected).max()
    np.testing.assert_allclose(out, expected.astype(out_dtype), rtol=0, atol=tol)
    np.testing.assert_array_equal(batch, before)


@pytest.mark.parametrize("out_dtype", [np.float64, np.float32])
def test_apply_float64_batch_with_float32_factors(fitted, out_dtype):
    # The products run in the batch's wider precision; `out` gets one rounding.
    u, scale, batch, _ = fitted
    u32, scale32 = u.astype(np.float32), scale.astype(np.float32)
    out = np.empty(batch.shape, out_dtype)
    zca_apply(batch, u32, scale32, out)
    expected = (batch @ u32.astype(np.float64) * scale32) @ u32.T.astype(np.float64)
    tol = (1e-6 if out_dtype == np.float32 else 1e-12) * np.abs(expected).max()
    np.testing.assert_allclose(out, expected, rtol=0, atol=tol)


def test_apply_in_place_into_strided_out_and_from_integers(fitted, monkeypatch):
    u, scale, batch, expected = fitted
    tol = 1e-9 * np.abs(expected).max()
    in_place = batch.copy()
    zca_apply(in_place, u, scale, in_place)
    np.testing.assert_allclose(in_place, expected, atol=tol)

    strided = np.zeros((batch.shape[1], batch.shape[0])).T  # Fortran-ordered view
    monkeypatch.setattr(whiten, "_BLOCK_BYTES", 8 * 90 * 4)  # four rows per block
    zca_apply(batch, u, scale, strided)
    np.testing.assert_allclose(strided, expected, atol=tol)

    ints = np.round(batch).astype(np.int16)
    out = np.empty(batch.shape)
    zca_apply(ints, u, scale, out)
    np.testing.assert_allclose(out, ints @ zca_matrix(u, scale), atol=tol)


def test_apply_errors(fitted):
    u, scale, batch, _ = fitted
    out = np.empty_like(batch)
    with pytest.raises(ValueError, match="has 89 features per row but the ZCA factors were fit on 90"):
        zca_apply(batch[:, 1:], u, scale, out[:, 1:])
    with pytest.raises(ValueError, match=r"`out` must be a float array of shape \(9, 90\); got \(8, 90\)"):
        zca_apply(batch, u, scale, out[1:])
    with pytest.raises(ValueError, match="`out` must be a float array"):
        zca_apply(batch, u, scale, np.empty(batch.shape, np.int32))
    read_only = np.empty_like(batch)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="`out` must be writeable"):
        zca_apply(batch, u, scale, read_only)
    with pytest.raises(ValueError, match="`out` must be `flat_batch` itself or not overlap it"):
        zca_apply(batch[:-1], u, scale, batch[1:])
    with pytest.raises(TypeError, match="`flat_batch` must be a real-valued array"):
        zca_apply(batch > 0, u, scale, out)
    with pytest.raises(ValueError, match=r"`flat_batch` must be 2-D"):
        zca_apply(batch[0], u, scale, out[0])
    with pytest.raises(ValueError, match=r"`scale` must be a float array of shape \(20,\)"):
        zca_apply(batch, u, scale[1:], out)
    with pytest.raises(ValueError, match="`U` must be a 2-D float array"):
        zca_apply(batch, u[:, 0], scale, out)


# ---------------------------------------------------------------- memory probe


def test_available_memory_probe_is_plausible():
    available = whiten._available_memory_bytes()
    physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert 0 < available <= physical


def test_zca_matrix_refuses_what_does_not_fit(monkeypatch):
    monkeypatch.setattr(whiten, "_available_memory_bytes", lambda: 20 * 10**9)
    u = np.zeros((150528, 1))
    u[0, 0] = 1.0
    with pytest.raises(MemoryError, match=r"D=150528 features \(D x D float64\) needs 181\.3 GB.*20\.0 GB"):
        zca_matrix(u, np.ones(1))


def test_zca_matrix_allocates_when_memory_suffices_or_is_unknown(monkeypatch):
    u = np.linalg.qr(np.random.default_rng(11).standard_normal((7, 3)))[0]
    scale = np.array([3.0, 2.0, 0.5])
    expected = u @ np.diag(scale) @ u.T
    monkeypatch.setattr(whiten, "_available_memory_bytes", lambda: 7 * 7 * 8)
    np.testing.assert_allclose(zca_matrix(u, scale), expected, atol=1e-14)
    monkeypatch.setattr(whiten, "_available_memory_bytes", lambda: None)
    monkeypatch.setattr(whiten, "_BLOCK_BYTES", 8 * 3 * 2)  # two rows per block
    np.testing.assert_allclose(zca_matrix(u, scale), expected, atol=1e-14)


def test_zca_fit_refuses_factors_that_do_not_fit(monkeypatch):
    monkeypatch.setattr(whiten, "_available_memory_bytes", lambda: 1000)
    gist = r"ZCA factors for D=200 features and n=5 images needs 8\.0 kB, but only 1\.0 kB"
    with pytest.raises(MemoryError, match=gist):
        zca_fit(np.ones((5, 200)), EPS)
    with pytest.raises(MemoryError, match=r"D=20 features \(D x D covariance\)"):
        zca_fit(np.ones((50, 20)), EPS)
