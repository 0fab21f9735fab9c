"""ImageDataGenerator featurewise centring + ZCA whitening against Keras 3's fit (spec image.md §5-§6)."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from fastkeras.kernels import whiten
from fastkeras.preprocessing.image import ImageDataGenerator

EPS = 1e-6


def k3_fit(x, data_format="channels_last", epsilon=EPS, rescale=None):
    """Spec §6 steps 1-9 the way Keras 3 runs them: float32 data, float32 centring, SVD of flat.T.

    Returns the mean shaped for broadcasting (float32) and the D x D whitening matrix (float64);
    the SVD runs in float64 on the float32 centred data.
    """
    x = np.array(x, dtype=np.float32)
    if rescale:
        x *= rescale
    axes = (0, 2, 3) if data_format == "channels_first" else (0, 1, 2)
    shape = (-1, 1, 1) if data_format == "channels_first" else (1, 1, -1)
    mean = x.astype(np.float64).mean(axis=axes).astype(np.float32).reshape(shape)
    x -= mean
    n = len(x)
    flat = x.reshape(n, -1).astype(np.float64)
    u, s, _ = np.linalg.svd(flat.T, full_matrices=False)
    return mean, (u * (np.sqrt(n) / (s + epsilon))) @ u.T


def zca_generator(**kwargs):
    return ImageDataGenerator(featurewise_center=True, zca_whitening=True, **kwargs)


def assert_close_to(actual, expected, rtol):
    np.testing.assert_allclose(actual, expected, rtol=0, atol=rtol * np.abs(expected).max())


@pytest.mark.parametrize("n", [10, 60], ids=["n<D", "n>D"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_fit_matches_keras3(n, data_format):
    shape = (n, 3, 4, 4) if data_format == "channels_first" else (n, 4, 4, 3)
    x = np.random.default_rng(0).uniform(0, 255, shape).astype(np.float32)
    gen = zca_generator(data_format=data_format)
    gen.fit(x)
    mean, w = k3_fit(x, data_format)
    assert gen.mean.shape == mean.shape and gen.mean.dtype == np.float32
    np.testing.assert_allclose(gen.mean, mean, rtol=1e-6)
    assert gen.zca_whitening_matrix.shape == (48, 48)
    assert gen.zca_whitening_matrix.dtype == np.float64
    assert_close_to(gen.zca_whitening_matrix, w, rtol=1e-5)
    np.testing.assert_array_equal(gen.principal_components, gen.zca_whitening_matrix)


def test_float64_generator_fits_in_double_precision():
    # dtype='float64' is the accurate option: the factorisation runs in float64, and the matrix
    # equals the float64 SVD of the centred data to double precision.
    x = np.random.default_rng(7).uniform(0, 255, (60, 4, 4, 3))
    gen = zca_generator(dtype="float64")
    gen.fit(x)
    flat = (x - gen.mean).reshape(60, -1)
    u, s, _ = np.linalg.svd(flat.T, full_matrices=False)
    expected = (u * (np.sqrt(60) / (s + EPS))) @ u.T
    assert_close_to(gen.zca_whitening_matrix, expected, rtol=1e-9)


def test_fit_rescales_first_and_accepts_uint8():
    x = np.random.default_rng(1).integers(0, 256, (12, 3, 5, 3), dtype=np.uint8)
    before = x.copy()
    gen = zca_generator(rescale=1 / 255)
    gen.fit(x)
    mean, w = k3_fit(x, rescale=1 / 255)
    np.testing.assert_allclose(gen.mean, mean, rtol=1e-6)
    assert_close_to(gen.zca_whitening_matrix, w, rtol=1e-5)
    np.testing.assert_array_equal(x, before)


def test_fit_never_mutates_float32_input():
    # np.asarray(x, float32) does not copy a float32 array: fit must copy before centring.
    x = np.random.default_rng(2).uniform(0, 255, (8, 4, 4, 3)).astype(np.float32)
    before = x.copy()
    zca_generator().fit(x)
    np.testing.assert_array_equal(x, before)


def test_matrix_is_built_only_when_read(monkeypatch):
    # Room for the thin factors (D x k) but not for the D x D matrix: fitting and whitening
    # work; reading the matrix raises, and succeeds once memory allows.
    x = np.random.default_rng(3).uniform(0, 255, (4, 16, 16, 3)).astype(np.float32)
    d = 16 * 16 * 3
    monkeypatch.setattr(whiten, "_available_memory_bytes", lambda: 10 * d * 4 * 8)
    gen = zca_generator()
    gen.fit(x)
    mean, w = k3_fit(x)
    white = gen.standardize(x.copy())
    assert_close_to(white.reshape(4, d), (x - mean).reshape(4, d) @ w, rtol=1e-5)
    with pytest.raises(MemoryError, match=rf"D={d} features"):
        gen.zca_whitening_matrix
    with pytest.raises(MemoryError, match=rf"D={d} features"):
        gen.principal_components
    monkeypatch.setattr(whiten, "_available_memory_bytes", lambda: None)
    assert_close_to(gen.principal_components, w, rtol=1e-5)
    assert_close_to(gen.zca_whitening_matrix, w, rtol=1e-5)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_standardize_whitens_the_whole_batch(data_format):
    rng = np.random.default_rng(4)
    shape = (20, 3, 4, 5) if data_format == "channels_first" else (20, 4, 5, 3)
    x = rng.uniform(0, 255, shape).astype(np.float32)
    gen = zca_generator(data_format=data_format)
    gen.fit(x)
    mean, w = k3_fit(x, data_format)
    batch = rng.uniform(0, 255, (7,) + shape[1:]).astype(np.float32)
    expected = ((batch - mean).reshape(7, -1) @ w).reshape(batch.shape)
    out = gen.standardize(batch.copy())
    assert out.shape == batch.shape and out.dtype == np.float64
    # The factors, like Keras 3's SVD, are float32 for float32 data: float32 tolerance.
    assert_close_to(out, expected, rtol=1e-5)
    one = gen.standardize(batch[0].copy())
    assert one.shape == batch[0].shape
    assert_close_to(one, expected[0], rtol=1e-5)


def test_flow_whitens_each_batch():
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 255, (10, 4, 4, 3)).astype(np.float32)
    gen = zca_generator()
    gen.fit(x)
    mean, w = k3_fit(x)
    expected = ((x - mean).reshape(10, -1) @ w).reshape(x.shape)
    it = gen.flow(x, batch_size=4, shuffle=False)
    out = np.concatenate([it[i] for i in range(len(it))])
    assert out.dtype == np.float32
    assert_close_to(out, expected, rtol=1e-5)


def test_unseen_directions_are_zeroed_when_fewer_images_than_features():
    # Spec §10.6: with n < D Keras 3's W has rank n and sends everything outside the training
    # span to zero (KP's formula would multiply it by 1/sqrt(epsilon)).
    rng = np.random.default_rng(6)
    x = rng.uniform(0, 255, (10, 4, 4, 3)).astype(np.float32)
    gen = zca_generator()
    gen.fit(x)
    flat = (x - gen.mean).reshape(10, -1).astype(np.float64)
    q, _ = np.linalg.qr(flat.T)
    v = rng.standard_normal(48)
    v -= q @ (q.T @ v)
    image = (gen.mean + 50 * v.reshape(4, 4, 3) / np.linalg.norm(v)).astype(np.float64)
    white = gen.standardize(image)
    np.testing.assert_allclose(white, 0.0, atol=1e-3)


@settings(max_examples=20, deadline=None)
@given(
    n=st.integers(1, 9),
    h=st.integers(1, 4),
    w=st.integers(1, 4),
    c=st.sampled_from([1, 3]),
    data_format=st.sampled_from(["channels_last", "channels_first"]),
    seed=st.integers(0, 2**31 - 1),
)
def test_fit_property(n, h, w, c, data_format, seed):
    shape = (n, c, h, w) if data_format == "channels_first" else (n, h, w, c)
    x = np.random.default_rng(seed).uniform(0, 255, shape).astype(np.float32)
    gen = zca_generator(data_format=data_format)
    gen.fit(x)
    mean, w_ref = k3_fit(x, data_format)
    flat = (x - mean).reshape(n, -1).astype(np.float64)
    d = flat.shape[1]
    # Rank-deficient data (one pixel, or n == 1 with one channel) leaves the null directions free.
    # The float32 mean leaves ~1e-7 relative residue in directions that centring removed, so rank is
    # judged at float32 precision, not float64's.
    assume(np.linalg.matrix_rank(flat, tol=1e-4 * np.linalg.norm(flat, 2)) == min(n, d))
    np.testing.assert_allclose(gen.mean, mean, rtol=1e-6)
    # The float32 factorisation (Keras's precision) squares the data's condition number in the
    # relative error of the smallest components, as in the kernel's own property test.
    sv = np.linalg.svd(flat, compute_uv=False)
    rtol = 1e-5 * (sv[0] / (sv[-1] + EPS)) ** 2
    assume(rtol < 0.1)  # float32 cannot resolve components further below the largest
    assert_close_to(gen.zca_whitening_matrix, w_ref, rtol=rtol)
    white = gen.standardize(x.copy())
    assert_close_to(white.reshape(n, d), flat @ w_ref, rtol=rtol)
