"""BatchNormalization followed by a ReLU, fused into one pass each way, against the two layers run apart.

The fusion is an optimisation, never a change of results: the fused forward writes max(y, 0) where the
unfused pair writes y and then max(y, 0); the fused backward gates dy by [out > 0] as it reads it, where the
unfused pair runs the ReLU's backward first. Both do the same float operations in the same order, so the
results must be equal BIT FOR BIT, on the ops and on whole training runs (Sequential.fuse_bn_relu on and
off). The gradients themselves are checked by central differences in test_ops_gradcheck.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from bnlab import _core

ops = _core.ops


def tensor(a, dtype=np.float32) -> _core.Tensor:
    return _core.Tensor.from_numpy(np.ascontiguousarray(a, dtype=dtype))


@pytest.fixture
def rng():
    return np.random.default_rng(20261121)


@pytest.mark.parametrize("shape", [(16, 5, 1), (4, 3, 6), (1, 4, 3)])
def test_fused_ops_equal_batchnorm_then_relu(rng, shape):
    N, C, L = shape
    x = rng.standard_normal(shape).astype(np.float32) * 2 + 0.3
    gamma = rng.uniform(0.5, 1.5, C).astype(np.float32)
    beta = rng.standard_normal(C).astype(np.float32)
    dy = rng.standard_normal(shape).astype(np.float32)
    x[0, 0, 0] = np.nan if N > 1 else x[0, 0, 0]  # NaN propagates the same way through both
    g, b = tensor(gamma), tensor(beta)

    y, cache = _core.Tensor(), ops.BNCache()
    ops.batchnorm_forward_train(y, cache, tensor(x), g, b, N, C, L, 1e-3)
    relu_y = _core.Tensor()
    ops.activation_forward(relu_y, y, _core.Act.Relu)
    fused, fcache = _core.Tensor(), ops.BNCache()
    ops.batchnorm_forward_train(fused, fcache, tensor(x), g, b, N, C, L, 1e-3, True)
    np.testing.assert_array_equal(fused.numpy(), relu_y.numpy())
    np.testing.assert_array_equal(fcache.xhat.numpy(), cache.xhat.numpy())

    # backward: ReLU's backward, then batch norm's; against the gated fused backward
    d_relu, dx, dgamma, dbeta = _core.Tensor(), _core.Tensor(), _core.Tensor([C]), _core.Tensor([C])
    ops.activation_backward(d_relu, tensor(dy), relu_y, _core.Act.Relu)
    ops.batchnorm_backward(dx, dgamma, dbeta, d_relu, cache, g, N, C, L)
    fdx, fdgamma, fdbeta = _core.Tensor(), _core.Tensor([C]), _core.Tensor([C])
    ops.batchnorm_backward(fdx, fdgamma, fdbeta, tensor(dy), fcache, g, N, C, L, fused)
    np.testing.assert_array_equal(fdx.numpy(), dx.numpy())
    np.testing.assert_array_equal(fdgamma.numpy(), dgamma.numpy())
    np.testing.assert_array_equal(fdbeta.numpy(), dbeta.numpy())

    # inference transform
    mean, var = rng.standard_normal(C).astype(np.float32), rng.uniform(0.5, 2, C).astype(np.float32)
    yi, fyi = _core.Tensor(), _core.Tensor()
    ops.batchnorm_forward_infer(yi, tensor(x), tensor(mean), tensor(var), g, b, N, C, L, 1e-3)
    ops.activation_forward(yi, yi, _core.Act.Relu)
    ops.batchnorm_forward_infer(fyi, tensor(x), tensor(mean), tensor(var), g, b, N, C, L, 1e-3, True)
    np.testing.assert_array_equal(fyi.numpy(), yi.numpy())


def test_relu_out_must_match_dout(rng):
    x = tensor(rng.standard_normal((4, 3)))
    out, cache, dx = _core.Tensor(), ops.BNCache(), _core.Tensor()
    ops.batchnorm_forward_train(out, cache, x, None, None, 4, 3, 1, 1e-3, True)
    with pytest.raises(ValueError, match="relu_out"):
        ops.batchnorm_backward(dx, None, None, x, cache, None, 4, 3, 1, tensor(np.ones(5)))


def model(rng, fuse: bool, bn_trainable: bool = True, dropout: bool = False) -> _core.Sequential:
    """Dense -> BatchNorm -> ReLU (-> Dropout) -> Dense softmax, with fixed initial weights."""
    w_rng = np.random.default_rng(7)
    m = _core.Sequential()
    m.add(_core.Dense(12, True, _core.Act.Linear))
    m.add(_core.BatchNorm(0, 0.9, 1e-3, True, True))
    m.add(_core.Activation(_core.Act.Relu))
    if dropout:
        m.add(_core.Dropout(0.25, 3))
    m.add(_core.Dense(4, True, _core.Act.Softmax))
    m.build([6])
    m.layers[0].kernel.numpy()[:] = w_rng.uniform(-0.6, 0.6, (6, 12))
    m.layers[-1].kernel.numpy()[:] = w_rng.uniform(-0.6, 0.6, (12, 4))
    m.layers[1].trainable = bn_trainable
    m.fuse_bn_relu = fuse
    loss = _core.LossSpec(_core.LossSpec.Kind.Xent, _core.XentForm.SparseProbs, 1e-7)
    m.compile(_core.Adam(0.01, 0.9, 0.999, 1e-7, False, True, 0.0), loss)
    return m


def state(m: _core.Sequential) -> list[np.ndarray]:
    arrays = []
    for layer in m.layers:
        arrays += [value.numpy().copy() for _, value, _ in layer.params()]
    bn = m.layers[1]
    return [*arrays, bn.moving_mean.numpy().copy(), bn.moving_variance.numpy().copy(), bn.dx.numpy().copy()]


@pytest.mark.parametrize("bn_trainable", [True, False], ids=["training", "frozen"])
@pytest.mark.parametrize("dropout", [False, True], ids=["plain", "dropout"])
def test_sequential_fused_and_unfused_train_identically(rng, bn_trainable, dropout):
    x = (rng.standard_normal((150, 6)) * 1.5 + 0.2).astype(np.float32)
    y = rng.integers(0, 4, 150).astype(np.int32)
    runs = []
    for fuse in (False, True):
        m = model(rng, fuse, bn_trainable, dropout)
        assert m.fused_bn_relu_layers == ([1] if fuse else [])
        hist = [m.train_epoch(tensor(x), tensor(y, np.int32), 32, True, 11, e) for e in range(3)]
        ev = m.evaluate(tensor(x), tensor(y, np.int32), 64)
        pred = m.predict(tensor(x), 64).numpy().copy()
        runs.append(([(h.loss, h.accuracy) for h in hist], (ev.loss, ev.accuracy), pred, state(m)))
    (h0, e0, p0, s0), (h1, e1, p1, s1) = runs
    assert h1 == h0 and e1 == e0
    np.testing.assert_array_equal(p1, p0)
    for a, b in zip(s1, s0, strict=True):
        np.testing.assert_array_equal(a, b)


def test_fusion_changes_what_the_relu_layer_computes_not_the_model_output(rng):
    """With fusion the Activation layer is skipped inside the model, but called on its own it is still a ReLU,
    and the BatchNorm layer called on its own is still unfused."""
    m = model(rng, True)
    x = tensor(rng.standard_normal((8, 6)))
    h = m.layers[0].forward(x, False)
    bn_alone = m.layers[1].forward(h, False).numpy()
    assert (bn_alone < 0).any()  # the layer by itself is not followed by a ReLU
    relu_alone = m.layers[2].forward(_core.Tensor.from_numpy(bn_alone), False).numpy()
    np.testing.assert_array_equal(relu_alone, np.maximum(bn_alone, 0))


def test_batch_callback_reads_running_metrics_on_request(rng):
    """The epoch loop keeps its sums on the device; the callback's read() returns the running means, and
    the last one equals the epoch's result."""
    x = rng.standard_normal((100, 6)).astype(np.float32)
    y = rng.integers(0, 4, 100).astype(np.int32)
    m = model(rng, True)
    seen = []

    def on_batch(batch, read):
        seen.append((batch, *read()))
        return False

    result = m.train_epoch(tensor(x), tensor(y, np.int32), 30, False, 0, 0, on_batch)
    assert [s[0] for s in seen] == [0, 1, 2, 3]
    assert seen[-1][1:] == (result.loss, result.accuracy)
    assert all(np.isfinite(s[1]) and 0 <= s[2] <= 1 for s in seen)
    assert len({s[1] for s in seen}) > 1  # running means, not one number repeated

    stopped = m.train_epoch(tensor(x), tensor(y, np.int32), 30, False, 0, 1, lambda b, read: b == 1)
    assert stopped.stopped and stopped.batches == 2 and stopped.samples == 60
