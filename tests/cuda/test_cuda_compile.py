"""Every CUDA kernel compiles to PTX for each dtype it is launched with.

The simulator runs kernels as Python and never types them, so a kernel that passes there can still
fail numba's CUDA typing. This module compiles each kernel with NVVM instead (no GPU needed, only
numba-cuda and the CUDA toolkit of the ``cuda`` extra); ``conftest.py`` collects it wherever NVVM
loads and the simulator is off.
"""

import numpy as np
import pytest
from numba import cuda
from numba import types as t

from fastkeras.kernels.cuda import dense, gemm, masks, optim, resample, whiten

F32, F64, U8, I64, B = t.float32, t.float64, t.uint8, t.int64, t.boolean


def arr(dtype, ndim):
    return t.Array(dtype, ndim, "C")


def _signatures():
    for f in (F32, F64):
        a1, a2, a4 = arr(f, 1), arr(f, 2), arr(f, 4)
        yield masks._dropout_dense_kernel, (a1, a1, t.uint64, t.uint64, f)
        yield masks._dropout_broadcast_kernel, (a2, a2, arr(I64, 1), arr(I64, 1), t.uint64,
                                                t.uint64, f)
        yield masks._masking_kernel, (a2, f, a2, arr(B, 1))
        yield masks._masked_rows_kernel, (a2, arr(B, 1), a2)
        yield optim._sgd, (a1, a1) + (f,) * 4
        yield optim._sgd_momentum, (a1,) * 3 + (f,) * 5 + (B,)
        yield optim._adam, (a1,) * 5 + (f,) * 9 + (B,)
        yield optim._rmsprop, (a1,) * 5 + (f,) * 8 + (B, B)
        yield optim._adagrad, (a1,) * 3 + (f,) * 5
        yield gemm._TILED[np.dtype(f.name)], (a2, a2, a2, B, B)
        yield dense._bias_activation_kernel, (a2, a1, B, I64, F64, F64, F64, F64, a2)
        yield dense._softmax_kernel, (a2, a1, B, a2)
        yield dense._activation_backward_kernel, (a2, a2, a2, I64, F64, F64, F64, F64, a2)
        yield dense._softmax_backward_kernel, (a2, a2, a2)
        yield dense._column_sum_kernel, (a2, a1)
        yield dense._softmax_crossentropy_backward_kernel, (a2, a2, F64, a2)
        yield resample._minmax_kernel, (a4, arr(U8, 1), a1, a1)
        yield resample._intensity_kernel, (a4, arr(U8, 1), a1, a1, a1, arr(F64, 1), I64, f, f,
                                           arr(F32, 1), arr(F32, 1), B)
        yield resample._row_moments_kernel, (a4, B, arr(F64, 2))
        yield resample._image_moments_kernel, (arr(F64, 2), I64, I64, f, a1, a1)
        yield resample._standardize_kernel, (a4, I64, a1, a1, arr(F32, 1), arr(F32, 1))
        for x in (U8, F32, F64):
            yield whiten._cast_kernel, (arr(x, 1), arr(F64, 1))
            yield resample._resample_kernel, (arr(x, 4), a4, arr(F64, 3), arr(U8, 1), I64, F64,
                                              I64, I64, f, arr(F32, 1), arr(F32, 1), B, B)
    yield whiten._cast_kernel, (arr(F64, 1), arr(F32, 1))
    yield whiten._scale_columns_kernel, (arr(F64, 2), arr(F64, 1))
    yield resample._resample_kernel, (arr(U8, 4), arr(U8, 4), arr(F64, 3), arr(U8, 1), I64, F64,
                                      I64, I64, U8, arr(F32, 1), arr(F32, 1), B, B)


SIGNATURES = list(_signatures())


@pytest.mark.parametrize("kernel, signature", SIGNATURES,
                         ids=[f"{k.py_func.__name__}-{i}" for i, (k, _) in enumerate(SIGNATURES)])
def test_kernel_compiles_to_ptx(kernel, signature):
    ptx, return_type = cuda.compile_ptx(kernel.py_func, signature, cc=(7, 5))
    assert return_type == t.void
    assert ".entry" in ptx
