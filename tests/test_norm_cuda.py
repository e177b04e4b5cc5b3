"""The normalisation family on CUDA against the CPU (the specification): the group-norm op over every view,
and the LayerNorm, GroupNorm, BatchRenorm and GhostBatchNorm layers' forward, backward and statistics. Skips
itself unless bnlab was built with CUDA and a device is present."""

from __future__ import annotations

import numpy as np
import pytest
from gpu_marks import REQUIRES_CUDA

from bnlab import _core

pytestmark = REQUIRES_CUDA

ops = _core.ops
CPU, CUDA = _core.Device.CPU, _core.Device.CUDA


def tensor(a, dev):
    return _core.Tensor.from_numpy(np.ascontiguousarray(a, dtype=np.float32), dev)


def compare(case, rtol=1e-5, atol=1e-5):
    for i, (w, g) in enumerate(zip(case(CPU), case(CUDA), strict=True)):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"output {i}")


@pytest.mark.parametrize("view", [(4, 1, 1, 300, 1), (3, 1, 4, 3, 50), (2, 70, 8, 4, 1), (2, 1, 6, 1, 9)])
def test_groupnorm_op_matches_cpu(view):
    N, A, G, K, L = view
    rng = np.random.default_rng(0)
    x = rng.normal(0.5, 2.0, N * A * G * K * L)
    g, b, dy = rng.uniform(0.5, 1.5, G * K), rng.normal(size=G * K), rng.normal(size=x.size)

    def case(dev):
        out, cache = _core.Tensor(), ops.NormCache()
        ops.groupnorm_forward(out, cache, tensor(x, dev), tensor(g, dev), tensor(b, dev), *view, 1e-3)
        dx, dg, db = _core.Tensor(), _core.Tensor([G * K], dev), _core.Tensor([G * K], dev)
        ops.groupnorm_backward(dx, dg, db, tensor(dy, dev), cache, tensor(g, dev), *view)
        return [t.numpy() for t in (out, cache.mean, cache.rstd, cache.xhat, dx, dg, db)]

    compare(case, rtol=1e-4, atol=1e-4)


def _layers():
    clip = _core.RenormClip(0.8, 1.25, 0.2)
    return {
        "LayerNorm": lambda: _core.LayerNorm(0, 1e-3, True, True),
        "GroupNorm": lambda: _core.GroupNorm(4, 0, 1e-3, True, True),
        "BatchRenorm": lambda: _core.BatchRenorm(0, 0.9, 1e-3, True, True, clip, 0.9),
        "GhostBatchNorm": lambda: _core.GhostBatchNorm(0, 0.9, 1e-3, True, True, 8),
    }


@pytest.mark.parametrize("name", list(_layers()))
def test_norm_layers_match_cpu(name):
    rng = np.random.default_rng(1)
    xs = [rng.normal(1.0, 2.0, (32, 16)) for _ in range(3)]
    dy = rng.normal(size=(32, 16))

    def case(dev):
        layer = _layers()[name]()
        layer.build([16], dev)
        out = []
        for x in xs:
            out.append(layer.forward(tensor(x, dev), True).numpy())
            out.append(layer.backward(tensor(dy, dev)).numpy())
        out += [t.numpy() for _, t, _ in layer.params()] + [g.numpy() for _, _, g in layer.params()]
        return out + [t.numpy() for _, t in layer.buffers()]

    compare(case, rtol=1e-4, atol=1e-4)


def test_batch_renorm_keeps_a_nan_feature_nan_as_the_cpu_does():
    """The clamps of r and d are std::min/std::max on the CPU, which pass a NaN first argument through; the GPU
    must not turn it into a clip bound (fmaxf/fminf would)."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(16, 4))
    x[3, 1] = np.nan  # feature 1's batch mean and variance are NaN

    def case(dev):
        layer = _layers()["BatchRenorm"]()
        layer.build([4], dev)
        out = layer.forward(tensor(x, dev), True).numpy()
        return [np.isnan(out), layer.r.numpy(), layer.d.numpy(), np.isnan(layer.moving_variance.numpy())]

    cpu, gpu = case(CPU), case(CUDA)
    assert np.isnan(cpu[1][1]) and np.isnan(cpu[2][1])  # the specification: NaN, not a clip bound
    for i, (w, g) in enumerate(zip(cpu, gpu, strict=True)):
        np.testing.assert_array_equal(g, w, err_msg=f"output {i}")
