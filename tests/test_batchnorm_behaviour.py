"""Batch normalisation's behaviour through the layer objects ``_core.BatchNorm`` and ``_core.Sequential``.

What a student is told about BN, checked on the engine: x_hat has per-feature mean 0 and std 1; the moving
statistics follow Keras's moving = momentum * moving + (1 - momentum) * batch with the BIASED variance;
inference uses them; momentum 0 makes inference equal training; a batch of one trains to beta without error;
trainable=False means inference mode; and the NumPy views of gamma, beta and the moving statistics are the
engine's memory, so writing into them changes the next forward.
"""

from __future__ import annotations

import engine_reference as ref
import numpy as np
import pytest

from bnlab import _core


def tensor(a) -> _core.Tensor:
    return _core.Tensor.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


def bn_layer(sample_shape, axis=0, momentum=0.99, eps=1e-3, center=True, scale=True) -> _core.BatchNorm:
    layer = _core.BatchNorm(axis, momentum, eps, center, scale)
    layer.build(list(sample_shape))
    return layer


def forward(layer, x, training: bool) -> np.ndarray:
    # forward returns the layer's own output buffer, which the next call overwrites: copy it
    return layer.forward(tensor(x), training).numpy().astype(np.float64)


def as_ncl(x):
    return x.reshape(x.shape[0], x.shape[1], -1)


@pytest.fixture
def rng():
    return np.random.default_rng(2024)


@pytest.fixture
def batches(rng):
    """Five batches of 8 samples, 4 features with different means and scales."""
    return [(rng.standard_normal((8, 4)) * [1.0, 3.0, 0.5, 10.0] + [0.0, -2.0, 5.0, 50.0]) for _ in range(5)]


def test_xhat_has_zero_mean_and_unit_std_per_feature(rng):
    x = rng.standard_normal((256, 6)) * rng.uniform(1, 20, 6) + rng.uniform(-100, 100, 6)
    layer = bn_layer([6], eps=1e-3)
    out = forward(layer, x, True)
    xhat = layer.cache.xhat.numpy().astype(np.float64)
    np.testing.assert_allclose(xhat.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(xhat.std(axis=0), 1.0, atol=1e-3)  # sqrt(var / (var + eps)), var >= 1
    np.testing.assert_allclose(out, xhat, rtol=1e-6)  # gamma ones, beta zeros at build


def test_moving_statistics_follow_keras_momentum_with_biased_variance(batches):
    momentum = 0.9
    layer = bn_layer([4], momentum=momentum)
    mean, var, unbiased = np.zeros(4), np.ones(4), np.ones(4)
    for x in batches:
        forward(layer, x, True)
        mean = ref.blend(mean, x.mean(axis=0), momentum)
        var = ref.blend(var, x.var(axis=0), momentum)  # ddof=0
        unbiased = ref.blend(unbiased, x.var(axis=0, ddof=1), momentum)
        np.testing.assert_allclose(layer.moving_mean.numpy(), mean, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(layer.moving_variance.numpy(), var, rtol=1e-5)
    assert not np.allclose(layer.moving_variance.numpy(), unbiased, rtol=1e-3)


def test_inference_uses_the_moving_statistics(batches, rng):
    layer = bn_layer([4], momentum=0.5)
    for x in batches:
        forward(layer, x, True)
    gamma, beta = layer.gamma.numpy(), layer.beta.numpy()
    gamma[:] = [1.0, 2.0, 0.5, 1.5]
    beta[:] = [0.0, 1.0, -1.0, 2.0]
    mm, mv = layer.moving_mean.numpy().copy(), layer.moving_variance.numpy().copy()
    x = batches[0]
    got = forward(layer, x, False)
    want = ref.bn_infer(as_ncl(x), mm, mv, gamma, beta, eps=1e-3)[..., 0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(layer.moving_mean.numpy(), mm)  # inference leaves them alone
    np.testing.assert_array_equal(layer.moving_variance.numpy(), mv)
    assert not np.allclose(got, forward(layer, x, True), atol=1e-3)  # training mode uses the batch's


def test_momentum_zero_makes_inference_equal_training(batches):
    layer = bn_layer([4], momentum=0.0)
    layer.gamma.numpy()[:] = [0.5, 1.0, 2.0, 3.0]
    x = batches[3]
    train = forward(layer, x, True)
    np.testing.assert_allclose(layer.moving_variance.numpy(), x.var(axis=0), rtol=1e-5)
    np.testing.assert_allclose(forward(layer, x, False), train, rtol=1e-5, atol=1e-5)


def test_batch_of_one_in_training_gives_beta_without_error():
    layer = bn_layer([3], momentum=0.99)
    layer.beta.numpy()[:] = [1.0, -2.0, 3.0]
    layer.gamma.numpy()[:] = [5.0, 5.0, 5.0]
    out = forward(layer, np.array([[7.0, -1.0, 1e5]]), True)
    np.testing.assert_array_equal(out, [[1.0, -2.0, 3.0]])
    np.testing.assert_allclose(layer.moving_variance.numpy(), 0.99, rtol=1e-6)  # blended towards 0
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.01 * np.array([7.0, -1.0, 1e5]), rtol=1e-5)


def test_exposed_arrays_share_memory_with_the_engine(batches):
    layer = bn_layer([4], momentum=0.9)
    gamma = layer.gamma.numpy()
    assert np.shares_memory(gamma, layer.gamma.numpy())
    assert gamma.flags.writeable
    moving_mean = layer.moving_mean.numpy()
    forward(layer, batches[0], True)
    np.testing.assert_allclose(moving_mean, 0.1 * batches[0].mean(axis=0), rtol=1e-5)  # the view sees updates
    gamma[:] = 2.0
    layer.beta.numpy()[:] = -1.0
    out = forward(layer, batches[1], True)
    xhat = layer.cache.xhat.numpy().astype(np.float64)
    np.testing.assert_allclose(out, 2.0 * xhat - 1.0, rtol=1e-6, atol=1e-6)
    layer.moving_variance.numpy()[:] = 4.0
    layer.moving_mean.numpy()[:] = 1.0
    np.testing.assert_allclose(forward(layer, np.full((2, 4), 3.0), False), 2.0 * 2.0 / np.sqrt(4.001) - 1.0, rtol=1e-6)


@pytest.mark.parametrize(("sample_shape", "axis"), [((3, 5), 0), ((5, 3), 1), ((2, 3, 4), 1)])
def test_feature_axis_with_other_axes_pooled(rng, sample_shape, axis):
    """Statistics over every axis but the feature axis: (N, C, L) with L > 1, channels first or last."""
    x = rng.standard_normal((6, *sample_shape)) * 2 + 1
    layer = bn_layer(sample_shape, axis=axis, momentum=0.0)
    out = forward(layer, x, True)
    feature_axis = axis + 1
    pooled = tuple(a for a in range(x.ndim) if a != feature_axis)
    np.testing.assert_allclose(layer.moving_mean.numpy(), x.mean(axis=pooled), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.moving_variance.numpy(), x.var(axis=pooled), rtol=1e-5)
    shape = [1] * x.ndim
    shape[feature_axis] = -1
    want = (x - x.mean(axis=pooled).reshape(shape)) / np.sqrt(x.var(axis=pooled).reshape(shape) + 1e-3)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)


def test_trainable_false_means_inference_mode(batches):
    layer = bn_layer([4], momentum=0.9)
    forward(layer, batches[0], True)
    mm, mv = layer.moving_mean.numpy().copy(), layer.moving_variance.numpy().copy()
    layer.trainable = False
    got = forward(layer, batches[1], True)
    np.testing.assert_array_equal(layer.moving_mean.numpy(), mm)
    np.testing.assert_array_equal(layer.moving_variance.numpy(), mv)
    np.testing.assert_array_equal(got, forward(layer, batches[1], False))
    np.testing.assert_allclose(got, ref.bn_infer(as_ncl(batches[1]), mm, mv)[..., 0], rtol=1e-5, atol=1e-5)


def test_weights_in_keras_order_and_center_scale_options():
    layer = bn_layer([4])
    assert [name for name, _, _ in layer.params()] == ["gamma", "beta"]
    assert [name for name, _ in layer.buffers()] == ["moving_mean", "moving_variance"]
    bare = bn_layer([4], center=False, scale=False)
    assert bare.params() == []
    x = np.arange(8.0).reshape(2, 4)
    np.testing.assert_allclose(forward(bare, x, True), (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3), rtol=1e-6)


# ---- inside a Sequential model ----
def bn_model(rng, K=3, momentum=0.8):
    """BatchNorm first (its batch statistics are those of the data) then Dense softmax."""
    model = _core.Sequential()
    model.add(_core.BatchNorm(0, momentum, 1e-3, True, True))
    model.add(_core.Dense(K, True, _core.Act.Softmax))
    model.build([4])
    model.layers[1].kernel.numpy()[:] = rng.uniform(-0.5, 0.5, (4, K))
    loss = _core.LossSpec(_core.LossSpec.Kind.Xent, _core.XentForm.SparseProbs, 1e-7)
    model.compile(_core.SGD(0.1, 0.0, False, 0.0, 0.0), loss)
    return model


def test_sequential_training_updates_moving_statistics_batch_by_batch(rng):
    x = rng.standard_normal((20, 4)) * [1.0, 2.0, 3.0, 4.0] + [1.0, 0.0, -1.0, 10.0]
    y = rng.integers(0, 3, 20)
    model = bn_model(rng, momentum=0.8)
    gamma_before = model.layers[0].gamma.numpy().copy()
    model.train_epoch(tensor(x), _core.Tensor.from_numpy(y.astype(np.int32)), 8, False, 0, 0)
    mean, var = np.zeros(4), np.ones(4)
    for start in range(0, 20, 8):  # batches of 8, 8 and the partial 4, in order (no shuffle)
        xb = x[start : start + 8]
        mean, var = ref.blend(mean, xb.mean(0), 0.8), ref.blend(var, xb.var(0), 0.8)
    bn = model.layers[0]
    np.testing.assert_allclose(bn.moving_mean.numpy(), mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.moving_variance.numpy(), var, rtol=1e-5)
    assert not np.array_equal(bn.gamma.numpy(), gamma_before)  # gamma is trained


def test_sequential_inference_uses_moving_statistics(rng):
    x = rng.standard_normal((30, 4)) * 3 + 2
    y = rng.integers(0, 3, 30).astype(np.int32)
    model = bn_model(rng)
    for epoch in range(3):
        model.train_epoch(tensor(x), _core.Tensor.from_numpy(y), 10, True, 1, epoch)
    bn, dense = model.layers
    stats = bn.moving_mean.numpy(), bn.moving_variance.numpy(), bn.gamma.numpy(), bn.beta.numpy()
    h = ref.bn_infer(as_ncl(x), *stats)[..., 0]
    want = ref.softmax(ref.dense(h, dense.kernel.numpy(), dense.bias.numpy()))
    np.testing.assert_allclose(model.predict(tensor(x), 7).numpy(), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.forward(tensor(x), False).numpy(), want, rtol=1e-5, atol=1e-6)
    metrics = model.evaluate(tensor(x), _core.Tensor.from_numpy(y), 30)
    assert metrics.loss == pytest.approx(ref.xent(want, y, "SparseProbs").mean(), rel=1e-5)
    assert metrics.accuracy == pytest.approx(ref.accuracy(want, y).mean())


def three_layer_model(rng, bn_trainable: bool, n_in=4, hidden=5, K=3, lr=0.1):
    """Dense(linear) -> BatchNorm -> Dense(softmax), SGD without momentum, with NumPy-readable weights."""
    model = _core.Sequential()
    model.add(_core.Dense(hidden, True, _core.Act.Linear))
    bn = _core.BatchNorm(0, 0.9, 1e-3, True, True)
    bn.trainable = bn_trainable
    model.add(bn)
    model.add(_core.Dense(K, True, _core.Act.Softmax))
    model.build([n_in])
    model.layers[0].kernel.numpy()[:] = rng.uniform(-1, 1, (n_in, hidden))
    model.layers[2].kernel.numpy()[:] = rng.uniform(-1, 1, (hidden, K))
    bn.gamma.numpy()[:] = rng.uniform(0.5, 1.5, hidden)
    bn.beta.numpy()[:] = rng.standard_normal(hidden)
    bn.moving_mean.numpy()[:] = rng.standard_normal(hidden)
    bn.moving_variance.numpy()[:] = rng.uniform(0.5, 2.0, hidden)
    loss = _core.LossSpec(_core.LossSpec.Kind.Xent, _core.XentForm.SparseProbs, 1e-7)
    model.compile(_core.SGD(lr, 0.0, False, 0.0, 0.0), loss)
    return model


def numpy_step(model, x, y, training: bool, lr=0.1, eps=1e-3):
    """One SGD step by hand: the first kernel after the update and the BN moving statistics."""
    d1, bn, d2 = model.layers
    W1, W2 = d1.kernel.numpy().astype(np.float64), d2.kernel.numpy().astype(np.float64)
    gamma, beta = bn.gamma.numpy().astype(np.float64), bn.beta.numpy().astype(np.float64)
    mm, mv = bn.moving_mean.numpy().astype(np.float64), bn.moving_variance.numpy().astype(np.float64)
    h1 = ref.dense(x, W1, d1.bias.numpy())
    if training:
        h2, xhat, mean, var, rstd = (
            a[..., 0] if a.ndim == 3 else a for a in ref.bn_train(as_ncl(h1), gamma, beta, eps)
        )
        mm, mv = ref.blend(mm, mean, 0.9), ref.blend(mv, var, 0.9)
    else:
        h2 = ref.bn_infer(as_ncl(h1), mm, mv, gamma, beta, eps)[..., 0]
    p = ref.softmax(ref.dense(h2, W2, d2.bias.numpy()))
    dz = (p - ref.one_hot(y, p.shape[1])) / len(x)
    dh2 = dz @ W2.T
    if training:
        dh1 = ref.bn_backward(as_ncl(dh2), as_ncl(xhat), rstd, gamma)[0][..., 0]
    else:  # the inference transform is affine: dx = dy * gamma / sqrt(moving_variance + eps)
        dh1 = dh2 * gamma / np.sqrt(mv + eps)
    return W1 - lr * (x.T @ dh1), mm, mv


def test_sequential_step_backpropagates_through_batchnorm(rng):
    x = rng.standard_normal((12, 4))
    y = rng.integers(0, 3, 12).astype(np.int32)
    model = three_layer_model(rng, bn_trainable=True)
    want_W1, want_mm, want_mv = numpy_step(model, x, y, training=True)
    model.train_epoch(tensor(x), _core.Tensor.from_numpy(y), 12, False, 0, 0)  # one batch: one step
    bn = model.layers[1]
    np.testing.assert_allclose(model.layers[0].kernel.numpy(), want_W1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.moving_mean.numpy(), want_mm, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.moving_variance.numpy(), want_mv, rtol=1e-5)


def test_frozen_batchnorm_backpropagates_through_the_inference_transform(rng):
    x = rng.standard_normal((12, 4))
    y = rng.integers(0, 3, 12).astype(np.int32)
    model = three_layer_model(rng, bn_trainable=False)
    bn = model.layers[1]
    mm, mv = bn.moving_mean.numpy().copy(), bn.moving_variance.numpy().copy()
    want_W1, _, _ = numpy_step(model, x, y, training=False)
    model.train_epoch(tensor(x), _core.Tensor.from_numpy(y), 12, False, 0, 0)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), mm)
    np.testing.assert_array_equal(bn.moving_variance.numpy(), mv)
    np.testing.assert_allclose(model.layers[0].kernel.numpy(), want_W1, rtol=1e-5, atol=1e-6)
