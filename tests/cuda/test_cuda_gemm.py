"""The tiled shared-memory GEMM against numpy, on shapes around the tile edges."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import cuda

from cuda_helpers import dev, filled, host
from fastkeras.kernels.cuda import gemm


def _operands(rng, m, k, n, trans_a, trans_b, dtype):
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    expected = (a.T if trans_a else a).astype(np.float64) @ (b.T if trans_b else b)
    return a, b, expected


def _tolerance(k, dtype):
    # A sum of k products rounded in the dtype: error grows at most linearly with k.
    return 4 * max(k, 1) * np.finfo(dtype).eps


@settings(max_examples=8, deadline=None)
@given(m=st.integers(1, 70), k=st.integers(0, 35), n=st.integers(1, 70),
       trans_a=st.booleans(), trans_b=st.booleans(),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_tiled_matches_numpy(m, k, n, trans_a, trans_b, dtype):
    a, b, expected = _operands(np.random.default_rng(m * k + n), m, k, n, trans_a, trans_b, dtype)
    out = filled((m, n), dtype)
    gemm.tiled_matmul(dev(a), dev(b), out, trans_a, trans_b)
    got = host(out)
    scale = np.abs(a).max(initial=0) * np.abs(b).max(initial=0) * max(k, 1)
    np.testing.assert_allclose(got, expected, rtol=0, atol=_tolerance(k, dtype) * scale)
    assert got.dtype == dtype


@pytest.mark.parametrize("trans_a, trans_b, m, n", [(False, False, 66, 5), (True, False, 3, 65),
                                                    (False, True, 66, 5), (True, True, 3, 65)])
def test_several_tiles_every_transpose(trans_a, trans_b, m, n):
    # Two blocks along m or n, and k spanning a shared-memory stage plus a remainder.
    a, b, expected = _operands(np.random.default_rng(0), m, 20, n, trans_a, trans_b, np.float64)
    out = filled((m, n), np.float64)
    gemm.tiled_matmul(dev(a), dev(b), out, trans_a, trans_b)
    np.testing.assert_allclose(host(out), expected, rtol=1e-12, atol=1e-12)


def test_hand_computed_product_and_empty_inner_dimension():
    a = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    b = np.array([[5.0, 6.0], [7.0, 8.0]], np.float32)
    out = filled((2, 2), np.float32)
    gemm.tiled_matmul(dev(a), dev(b), out)
    np.testing.assert_array_equal(host(out), [[19, 22], [43, 50]])
    out = filled((3, 2), np.float64)
    gemm.tiled_matmul(dev(np.zeros((3, 0))), dev(np.zeros((0, 2))), out)
    np.testing.assert_array_equal(host(out), np.zeros((3, 2)))


def test_matmul_uses_the_tiled_kernel_without_cupy():
    a = np.arange(6, dtype=np.float64).reshape(2, 3)
    out = filled((2, 2), np.float64)
    gemm.matmul(dev(a), dev(a), out, trans_b=True)
    np.testing.assert_array_equal(host(out), a @ a.T)
    assert not gemm.cupy_available()  # the simulator never hands arrays to CuPy


def test_cublas_path_says_what_it_needs():
    a = dev(np.zeros((2, 2)))
    with pytest.raises(RuntimeError, match="cuBLAS matrix products need CuPy on a real GPU"):
        gemm.cublas_matmul(a, a, cuda.device_array((2, 2)))


def test_errors_name_the_argument():
    a = dev(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="inner dimensions differ"):
        gemm.tiled_matmul(a, a, dev(np.zeros((2, 3))))
    with pytest.raises(ValueError, match=r"`out` must have shape \(2, 2\)"):
        gemm.tiled_matmul(a, a, dev(np.zeros((2, 3))), trans_b=True)
    with pytest.raises(TypeError, match="`a`, `b` and `out` must share one dtype"):
        gemm.tiled_matmul(a, a, dev(np.zeros((2, 2), np.float32)), trans_b=True)
    with pytest.raises(TypeError, match="`b` must be a CUDA device array"):
        gemm.tiled_matmul(a, np.zeros((3, 2)), dev(np.zeros((2, 2))))
    with pytest.raises(ValueError, match="`a` must be C-contiguous"):
        gemm.tiled_matmul(a.T, a, dev(np.zeros((3, 3))))
