"""Kernels over (rows, columns) with no columns: a batch norm of zero features.

On CUDA these launch the (rows, columns) grid of grid_2d, which once divided by the column count; on the CPU
they are empty loops. Both must return empty outputs (and untouched accumulators) without an error. The CPU
half always runs; the CUDA half needs a GPU and compares with the CPU.
"""

from __future__ import annotations

import numpy as np
import pytest

from bnlab import _core

ops = _core.ops
CPU, CUDA = _core.Device.CPU, _core.Device.CUDA
DEVICES = [CPU, pytest.param(CUDA, marks=pytest.mark.gpu)]


def _needs(dev):
    if not _core.backend_available(dev):
        pytest.skip(f"no {dev} backend: {_core.backend_unavailable_reason(dev) or 'not built'}")


def tensor(a, dev):
    return _core.Tensor.from_numpy(np.ascontiguousarray(a, dtype=np.float32), dev)


@pytest.mark.parametrize("dev", DEVICES)
def test_batch_norm_of_zero_features_gives_empty_results(dev):
    _needs(dev)
    N, C, L = 5, 0, 3
    x = np.zeros((N, C, L), np.float32)
    out, cache = _core.Tensor(), ops.BNCache()
    ops.batchnorm_forward_train(out, cache, tensor(x, dev), None, None, N, C, L, 1e-3, False)
    infer = _core.Tensor()
    ops.batchnorm_forward_infer(infer, tensor(x, dev), cache.mean, cache.var, None, None, N, C, L, 1e-3, False)
    dx = _core.Tensor()
    ops.batchnorm_backward(dx, None, None, tensor(x, dev), cache, None, N, C, L, None)
    for t in (out, infer, dx):
        assert t.numpy().size == 0
    assert cache.mean.numpy().size == 0
