"""The CUDA ZCA apply step against the CPU one and Keras 3's full whitening matrix."""

import numpy as np
import pytest

from cuda_helpers import dev, filled, host
from fastkeras.kernels import whiten
from fastkeras.kernels.cuda import whiten as cwhiten


@pytest.fixture(scope="module")
def fitted():
    """Centred training data (n < D, so the factors are thin) and its ZCA factors."""
    rng = np.random.default_rng(0)
    flat = rng.uniform(0, 255, (6, 4 * 3 * 2))
    flat -= flat.mean(axis=0)
    u, scale = whiten.zca_fit(flat, 1e-6)
    return flat, u, scale


@pytest.mark.parametrize("factor_dtype", [np.float64, np.float32])
@pytest.mark.parametrize("in_dtype, out_dtype", [(np.float64, np.float64),
                                                 (np.float32, np.float32),
                                                 (np.uint8, np.float32),
                                                 (np.float64, np.float32),
                                                 (np.float32, np.float64)])
def test_apply_matches_cpu_and_full_matrix(fitted, factor_dtype, in_dtype, out_dtype):
    # The products run in the wider of the factors' and the batch's precision, as on the CPU.
    flat, u, scale = fitted
    u, scale = u.astype(factor_dtype), scale.astype(factor_dtype)
    batch = np.random.default_rng(1).uniform(0, 200, (5, flat.shape[1])).astype(in_dtype)
    expected = np.empty(batch.shape, out_dtype)
    whiten.zca_apply(batch, u, scale, expected)
    out = filled(batch.shape, out_dtype)
    cwhiten.zca_apply(dev(batch), dev(u), dev(scale), out)
    got = host(out)
    assert got.dtype == out_dtype
    single = np.float32 in (out_dtype, np.result_type(in_dtype, factor_dtype))
    tol = 1e-6 if single else 1e-12
    peak = np.abs(expected).max()
    np.testing.assert_allclose(got, expected, rtol=0, atol=tol * peak)
    full = batch.astype(np.float64) @ ((u.astype(np.float64) * scale) @ u.T)  # Keras 3's matrix
    np.testing.assert_allclose(got, full, rtol=0, atol=max(tol, 1e-10) * peak)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_apply_in_place(fitted, dtype):
    flat, u, scale = fitted
    batch = np.random.default_rng(2).uniform(-100, 100, (4, flat.shape[1])).astype(dtype)
    expected = np.empty_like(batch)
    whiten.zca_apply(batch, u, scale, expected)
    d = dev(batch)
    cwhiten.zca_apply(d, dev(u), dev(scale), d)
    tol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(host(d), expected, rtol=0, atol=tol * np.abs(expected).max())


def test_whitened_training_data_has_identity_covariance(fitted):
    # The defining property of ZCA: the whitened sample's covariance is the identity on the
    # data's span (here n - 1 = 5 directions, since the data are centred).
    flat, u, scale = fitted
    out = filled(flat.shape, np.float64)
    cwhiten.zca_apply(dev(flat), dev(u), dev(scale), out)
    white = host(out)
    cov = white.T @ white / flat.shape[0]
    eig = np.sort(np.linalg.eigvalsh(cov))[::-1]
    np.testing.assert_allclose(eig[:5], 1.0, rtol=1e-6)
    np.testing.assert_allclose(eig[5:], 0.0, atol=1e-6)


def test_apply_errors(fitted):
    flat, u, scale = fitted
    du, ds = dev(u), dev(scale)
    batch = dev(flat[:2])
    with pytest.raises(ValueError, match="features per row but the ZCA factors were fit on"):
        cwhiten.zca_apply(dev(flat[:2, :5]), du, ds, filled((2, 5), np.float64))
    with pytest.raises(ValueError, match="`scale` must have shape"):
        cwhiten.zca_apply(batch, du, dev(scale[:3]), filled(flat[:2].shape, np.float64))
    with pytest.raises(TypeError, match="`U` must have dtype float32, float64"):
        cwhiten.zca_apply(batch, dev(u.astype(np.float16)), ds, filled(flat[:2].shape, np.float64))
    with pytest.raises(TypeError, match="`scale` must have dtype float32;"):
        cwhiten.zca_apply(batch, dev(u.astype(np.float32)), ds, filled(flat[:2].shape, np.float64))
    with pytest.raises(TypeError, match="`out` must have dtype"):
        cwhiten.zca_apply(batch, du, ds, filled(flat[:2].shape, np.int32, 0))
    with pytest.raises(TypeError, match="`U` must be a CUDA device array"):
        cwhiten.zca_apply(batch, u, ds, filled(flat[:2].shape, np.float64))
    whole = dev(flat[:4])
    with pytest.raises(ValueError, match="`out` must be `flat_batch` itself or not overlap it"):
        cwhiten.zca_apply(whole[:2], du, ds, whole[1:3])
