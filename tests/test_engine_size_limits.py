"""Products beyond the 32-bit sizes of the BLAS interfaces are refused with a clear error, on every device.

cblas_sgemm and cuBLAS take int sizes and leading dimensions. A dimension of 2^31 or more, narrowed to int,
would wrap and multiply the wrong memory; the device-generic op refuses it before any kernel runs (the CUDA
GEMM helpers check again, blas_int in cuda_common.cuh). The tensors here have 2^31 rows but no columns, so
nothing large is allocated.
"""

import pytest

from bnlab import _core

BIG = 2**31


def _empty(*shape):
    return _core.Tensor(list(shape), _core.Device.CPU)


def test_a_dense_batch_of_2_to_the_31_rows_is_refused_naming_the_limit():
    with pytest.raises(ValueError, match=r"dense: .*32-bit sizes of the matrix products"):
        _core.ops.dense_forward(_core.Tensor(), _empty(BIG, 0), _empty(0, 3), None, False)


def test_a_dense_layer_of_2_to_the_31_outputs_is_refused():
    with pytest.raises(ValueError, match="32-bit sizes"):
        _core.ops.dense_forward(_core.Tensor(), _empty(4, 0), _empty(0, BIG), None, False)


def test_the_largest_allowed_size_passes_the_check():
    out = _core.Tensor()
    _core.ops.dense_forward(out, _empty(BIG - 1, 0), _empty(0, 0), None, False)  # empty product, no data
    assert list(out.shape) == [BIG - 1, 0]
