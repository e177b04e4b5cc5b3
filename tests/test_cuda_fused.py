"""The CUDA backend's fused BatchNorm+ReLU and its sync-free epoch loop, against the CPU (the specification).

- The fused ops (fuse_relu, relu_out) on CUDA equal the CPU's to float rounding; the ReLU's zero pattern is
  compared too (outputs that are not near 0 must be zero or nonzero on both devices alike).
- A Sequential with Dense -> BatchNorm -> ReLU trains on CUDA with the fusion on as it does on the CPU: the
  epoch loop keeps its running sums on the device and gathers batches through the uploaded permutation.
- The batch callback's read() on CUDA returns the running means the CPU returns.
The module skips itself unless bnlab was built with CUDA and a device is present.
"""

from __future__ import annotations

import numpy as np
import pytest
from gpu_marks import REQUIRES_CUDA

from bnlab import _core

pytestmark = REQUIRES_CUDA

ops = _core.ops
CPU, CUDA = _core.Device.CPU, _core.Device.CUDA


def tensor(a, dev, dtype=np.float32) -> _core.Tensor:
    return _core.Tensor.from_numpy(np.ascontiguousarray(a, dtype=dtype), dev)


@pytest.mark.parametrize("shape", [(64, 7, 1), (5, 3, 9), (1000, 40, 1)])
def test_fused_batchnorm_relu_ops(shape):
    N, C, L = shape
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape) * 2 + 0.3
    gamma, beta = rng.uniform(0.5, 1.5, C), rng.standard_normal(C)
    dy = rng.standard_normal(shape)
    mean, var = rng.standard_normal(C), rng.uniform(0.5, 2, C)

    def case(dev):
        g, b = tensor(gamma, dev), tensor(beta, dev)
        out, cache = _core.Tensor(), ops.BNCache()
        ops.batchnorm_forward_train(out, cache, tensor(x, dev), g, b, N, C, L, 1e-3, True)
        dx, dgamma, dbeta = _core.Tensor(), tensor(np.zeros(C), dev), tensor(np.zeros(C), dev)
        ops.batchnorm_backward(dx, dgamma, dbeta, tensor(dy, dev), cache, g, N, C, L, out)
        infer = _core.Tensor()
        m, v = tensor(mean, dev), tensor(var, dev)
        ops.batchnorm_forward_infer(infer, tensor(x, dev), m, v, g, b, N, C, L, 1e-3, True)
        return [t.numpy() for t in (out, cache.xhat, cache.mean, cache.var, dx, dgamma, dbeta, infer)]

    want, got = case(CPU), case(CUDA)
    names = ["out", "xhat", "mean", "var", "dx", "dgamma", "dbeta", "infer"]
    for name, w, g in zip(names, want, got, strict=True):
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-5, err_msg=name)
    # the ReLU's zero pattern, away from the kink where rounding may flip it
    y_pre = want[0]
    clear = np.abs(want[1] * gamma[None, :, None] + beta[None, :, None]) > 1e-4
    np.testing.assert_array_equal((got[0] > 0)[clear], (y_pre > 0)[clear])


def seq(dev, fuse=True):
    w_rng = np.random.default_rng(3)
    m = _core.Sequential()
    m.add(_core.Dense(64, True, _core.Act.Linear))
    m.add(_core.BatchNorm(0, 0.99, 1e-3, True, True))
    m.add(_core.Activation(_core.Act.Relu))
    m.add(_core.Dense(10, True, _core.Act.Softmax))
    m.build([20], dev)
    m.layers[0].kernel.copy_from(w_rng.uniform(-0.3, 0.3, (20, 64)).astype(np.float32))
    m.layers[3].kernel.copy_from(w_rng.uniform(-0.3, 0.3, (64, 10)).astype(np.float32))
    m.fuse_bn_relu = fuse
    loss = _core.LossSpec(_core.LossSpec.Kind.Xent, _core.XentForm.SparseProbs, 1e-7)
    m.compile(_core.Adam(1e-3, 0.9, 0.999, 1e-7, False, True, 0.0), loss)
    return m


def test_fused_model_trains_on_cuda_as_on_the_cpu():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((1000, 20)).astype(np.float32)
    y = rng.integers(0, 10, 1000).astype(np.int32)
    runs = {}
    for dev in (CPU, CUDA):
        m = seq(dev)
        assert m.fused_bn_relu_layers == [1]
        reads = []

        def on_batch(batch, read, reads=reads):
            reads.append(read())
            return False

        hist = [m.train_epoch(tensor(x, dev), tensor(y, dev, np.int32), 64, True, 7, e, on_batch) for e in range(2)]
        ev = m.evaluate(tensor(x, dev), tensor(y, dev, np.int32), 128)
        runs[dev] = (hist, ev, reads, m.layers[1].moving_variance.numpy(), m.layers[3].kernel.numpy())
    (h0, e0, r0, mv0, k0), (h1, e1, r1, mv1, k1) = runs[CPU], runs[CUDA]
    for a, b in zip(h0, h1, strict=True):
        assert (a.samples, a.batches) == (b.samples, b.batches)
        np.testing.assert_allclose([b.loss, b.accuracy], [a.loss, a.accuracy], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose([e1.loss, e1.accuracy], [e0.loss, e0.accuracy], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.array(r1), np.array(r0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(mv1, mv0, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(k1, k0, rtol=1e-3, atol=1e-4)


def test_fused_and_unfused_agree_on_cuda():
    rng = np.random.default_rng(10)
    x = rng.standard_normal((500, 20)).astype(np.float32)
    y = rng.integers(0, 10, 500).astype(np.int32)
    out = []
    for fuse in (False, True):
        m = seq(CUDA, fuse)
        h = m.train_epoch(tensor(x, CUDA), tensor(y, CUDA, np.int32), 50, True, 1, 0)
        out.append((h.loss, h.accuracy, m.layers[0].kernel.numpy()))
    assert out[0][:2] == pytest.approx(out[1][:2], rel=1e-6, abs=1e-6)
    np.testing.assert_allclose(out[1][2], out[0][2], rtol=1e-6, atol=1e-7)
