"""The normalisation layers of bnlab.keras beside plain BN: LayerNormalization, GroupNormalization, and
BatchNormalization's renorm and virtual_batch_size, against NumPy references of their equations (Ioffe 2017
for batch renormalisation, Keras 2's reshape for ghost batches), plus their argument errors and those of
bnlab.torch's GroupNorm constructor."""

import numpy as np
import pytest

from bnlab import _core
from bnlab import torch as bt
from bnlab.keras import layers


def _backward(layer, dout):
    return layer._engine.backward(_core.Tensor.from_numpy(np.ascontiguousarray(dout, np.float32))).numpy()


def _ln_ref(x, gamma, beta, axes, eps):
    m = x.mean(axis=axes, keepdims=True)
    v = x.var(axis=axes, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * gamma + beta


# ---------------------------------------------------------------- LayerNormalization
@pytest.mark.parametrize(
    ("shape", "axis", "axes"), [((6, 5), -1, (1,)), ((4, 3, 5), -1, (2,)), ((4, 3, 5), [-2, -1], (1, 2))]
)
def test_layer_normalization_matches_numpy_in_both_modes(shape, axis, axes):
    rng = np.random.default_rng(0)
    x = rng.normal(1.0, 2.0, size=shape).astype(np.float32)
    ln = layers.LayerNormalization(axis=axis)
    ln.build((None, *shape[1:]))
    gshape = tuple(shape[a] for a in axes)
    assert ln.gamma.shape == gshape and [w.name for w in ln.weights] == ["gamma", "beta"]
    g, b = rng.uniform(0.5, 1.5, gshape).astype(np.float32), rng.normal(size=gshape).astype(np.float32)
    ln.set_weights([g, b])
    want = _ln_ref(x.astype(np.float64), g, b, axes, 1e-3)
    np.testing.assert_allclose(ln(x, training=True), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ln(x, training=False), want, rtol=1e-5, atol=1e-5)  # training = inference
    assert ln.x_hat.shape == shape


def test_layer_normalization_backward_and_internals():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 4)).astype(np.float32)
    ln = layers.LayerNormalization(epsilon=1e-5)
    ln(x, training=True)
    dout = rng.normal(size=x.shape).astype(np.float32)
    dx = _backward(ln, dout)
    xhat = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(ln.x_hat, xhat, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ln.mean.ravel(), x.mean(1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ln.dgamma, (dout * xhat).sum(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ln.dbeta, dout.sum(0), rtol=1e-5, atol=1e-6)
    rstd = 1 / np.sqrt(x.var(1, keepdims=True) + 1e-5)
    want = rstd * (dout - dout.mean(1, keepdims=True) - xhat * (dout * xhat).mean(1, keepdims=True))
    np.testing.assert_allclose(dx, want, rtol=1e-4, atol=1e-5)


def test_layer_normalization_rejects_non_trailing_axes():
    with pytest.raises(ValueError, match="last axes"):
        layers.LayerNormalization(axis=1).build((None, 3, 5))


# ---------------------------------------------------------------- GroupNormalization
@pytest.mark.parametrize(
    ("shape", "groups", "axis"), [((4, 8), 2, -1), ((3, 5, 6), 3, -1), ((3, 6, 5), 2, 1), ((2, 4), -1, -1)]
)
def test_group_normalization_matches_numpy(shape, groups, axis):
    rng = np.random.default_rng(2)
    x = rng.normal(0.5, 2.0, size=shape).astype(np.float32)
    gn = layers.GroupNormalization(groups=groups, axis=axis)
    gn.build((None, *shape[1:]))
    C = shape[axis]
    G = C if groups == -1 else groups
    g, b = rng.uniform(0.5, 1.5, C).astype(np.float32), rng.normal(size=C).astype(np.float32)
    gn.set_weights([g, b])
    xm = np.moveaxis(x.astype(np.float64), axis, -1)  # channels last: (N, ..., C)
    grouped = xm.reshape(*xm.shape[:-1], G, C // G)
    red = (*range(1, grouped.ndim - 2), grouped.ndim - 1)
    m, v = grouped.mean(axis=red, keepdims=True), grouped.var(axis=red, keepdims=True)
    want = ((grouped - m) / np.sqrt(v + 1e-3)).reshape(xm.shape) * g + b
    np.testing.assert_allclose(gn(x, training=True), np.moveaxis(want, -1, axis), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("groups", "match"), [(3, "must divide"), (16, "cannot be more"), (0, "positive integer")])
def test_group_normalization_bad_groups(groups, match):
    with pytest.raises(ValueError, match=match):
        layers.GroupNormalization(groups=groups).build((None, 8))


@pytest.mark.parametrize("groups", [0, -1, -4, 0.0])
def test_torch_group_norm_needs_a_positive_num_groups(groups):
    """num_groups is checked before num_channels % num_groups (0 was a ZeroDivisionError; PyTorch 2.13's own
    constructor divides first, and a negative count that divides num_channels passes until its forward)."""
    with pytest.raises(
        ValueError, match=rf"GroupNorm: expected num_groups to be greater than 0, got num_groups={groups}"
    ):
        bt.nn.GroupNorm(groups, 4)
    with pytest.raises(ValueError, match="num_channels must be divisible by num_groups"):
        bt.nn.GroupNorm(3, 4)
    assert bt.nn.GroupNorm(2, 4).num_groups == 2


# ---------------------------------------------------------------- batch renormalisation
class RenormRef:
    """Ioffe 2017's equations with Keras's order and moving statistics, in float64."""

    def __init__(self, C, momentum, renorm_momentum, eps, rmin, rmax, dmax):
        self.mu_r, self.sig_r = np.zeros(C), np.ones(C)
        self.mm, self.ms = np.zeros(C), np.ones(C)
        self.mom, self.rmom, self.eps, self.clip = momentum, renorm_momentum, eps, (rmin, rmax, dmax)

    def step(self, x, gamma, beta):
        mu, var = x.mean(0), x.var(0)
        sig = np.sqrt(var + self.eps)
        sig_r = np.maximum(self.sig_r, np.sqrt(self.eps))
        rmin, rmax, dmax = self.clip
        r = np.clip(sig / sig_r, rmin, rmax)
        d = np.clip((mu - self.mu_r) / sig_r, -dmax, dmax)
        xhat = (x - mu) / sig
        y = gamma * (xhat * r + d) + beta
        self.mu_r = self.rmom * self.mu_r + (1 - self.rmom) * mu
        self.sig_r = self.rmom * self.sig_r + (1 - self.rmom) * sig
        self.mm = self.mom * self.mm + (1 - self.mom) * mu
        self.ms = self.mom * self.ms + (1 - self.mom) * sig
        return y, r, d, xhat, sig


def test_batch_renorm_matches_the_papers_equations_with_clipping():
    rng = np.random.default_rng(3)
    C, clip = 4, {"rmax": 1.5, "rmin": 0.75, "dmax": 0.5}
    bn = layers.BatchNormalization(renorm=True, renorm_clipping=clip, renorm_momentum=0.9, momentum=0.8)
    bn.build((None, C))
    g, b = rng.uniform(0.5, 1.5, C).astype(np.float32), rng.normal(size=C).astype(np.float32)
    bn.set_weights([g, b, *[w.numpy() for w in bn.weights[2:]]])
    assert [w.name for w in bn.weights] == [
        "gamma",
        "beta",
        "moving_mean",
        "moving_variance",
        "moving_stddev",
        "renorm_mean",
        "renorm_stddev",
    ]
    ref = RenormRef(C, 0.8, 0.9, 1e-3, 0.75, 1.5, 0.5)
    clipped_r = clipped_d = False
    for step in range(4):
        # spreads and offsets far from the moving ones, so that r and d really clip
        x = (rng.normal(size=(16, C)) * rng.uniform(0.2, 3.0, C) + rng.uniform(-2, 2, C)).astype(np.float32)
        y, r, d, xhat, sig = ref.step(x.astype(np.float64), g, b)
        np.testing.assert_allclose(bn(x, training=True), y, rtol=1e-4, atol=1e-4, err_msg=f"step {step}")
        np.testing.assert_allclose(bn.r, r, rtol=1e-5)
        np.testing.assert_allclose(bn.d, d, rtol=1e-5, atol=1e-6)
        clipped_r |= bool(np.any((r == 1.5) | (r == 0.75)))
        clipped_d |= bool(np.any(np.abs(d) == 0.5))
        np.testing.assert_allclose(bn.moving_mean.numpy(), ref.mm, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(bn.moving_variance.numpy(), np.maximum(ref.ms**2 - 1e-3, 0), rtol=1e-5)
        # backward with r, d constants: y = (gamma r) xhat + const, so dx is BN's with gamma r
        dout = rng.normal(size=x.shape)
        dx = _backward(bn, dout)
        M = x.shape[0]
        want = g * r / sig / M * (M * dout - dout.sum(0) - xhat * (dout * xhat).sum(0))
        np.testing.assert_allclose(dx, want, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(bn._engine.dgamma.numpy(), (dout * (xhat * r + d)).sum(0), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(bn._engine.dbeta.numpy(), dout.sum(0), rtol=1e-5, atol=1e-5)
    assert clipped_r and clipped_d  # the test exercised the clipping
    # inference is plain BN with the moving statistics
    x = rng.normal(size=(5, C)).astype(np.float32)
    want = (x - ref.mm) / np.sqrt(np.maximum(ref.ms**2 - 1e-3, 0) + 1e-3) * g + b
    np.testing.assert_allclose(bn(x, training=False), want, rtol=1e-4, atol=1e-4)


def test_batch_renorm_clipped_to_identity_is_batch_norm():
    """Clipping r to 1 and d to 0 (rmax = rmin = 1, dmax = 0) makes batch renorm plain batch norm."""
    rng = np.random.default_rng(4)
    x = rng.normal(1.0, 2.0, (8, 3)).astype(np.float32)
    brn = layers.BatchNormalization(renorm=True, renorm_clipping={"rmax": 1, "rmin": 1, "dmax": 0})
    bn = layers.BatchNormalization()
    np.testing.assert_allclose(brn(x, training=True), bn(x, training=True), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("clipping", "match"),
    [
        ({"rmax": 0.5}, "rmax must be >= 1"),
        ({"rmin": 1.5}, "rmin must be in"),
        ({"dmax": -1}, "dmax must be >= 0"),
        ({"rmx": 2}, "unknown keys"),
    ],
)
def test_bad_renorm_clipping_names_the_argument(clipping, match):
    with pytest.raises(ValueError, match=f"renorm_clipping.*{match}"):
        layers.BatchNormalization(renorm=True, renorm_clipping=clipping)


# ---------------------------------------------------------------- ghost batch norm
def _ghost_ref(x, gamma, beta, k, eps):
    """Keras 2: reshape (B, C) to (k, B/k, C); statistics over axis 0 per virtual batch (axis 1)."""
    v = x.reshape(k, -1, x.shape[1])
    m, var = v.mean(0, keepdims=True), v.var(0, keepdims=True)
    return ((v - m) / np.sqrt(var + eps) * gamma + beta).reshape(x.shape), m[0].mean(0), var[0].mean(0)


def test_ghost_batch_norm_matches_keras2_reshape():
    rng = np.random.default_rng(5)
    x = rng.normal(1.0, 2.0, (12, 3)).astype(np.float32)
    bn = layers.BatchNormalization(virtual_batch_size=4, momentum=0.5)
    bn.build((None, 3))
    g, b = rng.uniform(0.5, 1.5, 3).astype(np.float32), rng.normal(size=3).astype(np.float32)
    bn.set_weights([g, b, np.zeros(3, np.float32), np.ones(3, np.float32)])
    y, m, v = _ghost_ref(x.astype(np.float64), g, b, 4, 1e-3)
    np.testing.assert_allclose(bn(x, training=True), y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.5 * m, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.moving_variance.numpy(), 0.5 + 0.5 * v, rtol=1e-5)
    # backward against central differences of the float64 reference
    dout = rng.normal(size=x.shape)
    dx = _backward(bn, dout)
    h, num = 1e-6, np.zeros(x.shape)
    x64 = x.astype(np.float64)
    for i in np.ndindex(x.shape):
        xp, xm = x64.copy(), x64.copy()
        xp[i] += h
        xm[i] -= h
        num[i] = ((_ghost_ref(xp, g, b, 4, 1e-3)[0] - _ghost_ref(xm, g, b, 4, 1e-3)[0]) * dout).sum() / (2 * h)
    np.testing.assert_allclose(dx, num, rtol=1e-3, atol=1e-4)
    xhat = (y - b) / g
    np.testing.assert_allclose(bn._engine.dgamma.numpy(), (dout * xhat).sum(0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(bn._engine.dbeta.numpy(), dout.sum(0), rtol=1e-5, atol=1e-5)


def test_ghost_batch_size_must_divide_the_batch():
    bn = layers.BatchNormalization(virtual_batch_size=5)
    with pytest.raises(ValueError, match="virtual_batch_size=5 must divide the batch size 12"):
        bn(np.zeros((12, 3), np.float32), training=True)
    with pytest.raises(ValueError, match="virtual_batch_size must be a positive integer"):
        layers.BatchNormalization(virtual_batch_size=0)


# ---------------------------------------------------------------- the BN variants with a fused ReLU
@pytest.mark.parametrize(
    "make_bn",
    [
        lambda: _core.BatchRenorm(0, 0.9, 1e-3, True, True, _core.RenormClip(0.8, 1.25, 0.3), 0.9),
        lambda: _core.GhostBatchNorm(0, 0.9, 1e-3, True, True, 8),
    ],
    ids=["renorm", "ghost"],
)
def test_variants_train_identically_with_the_relu_fused(make_bn):
    """Sequential fuses any BatchNorm followed by a ReLU; the variants must give the unfused results bit for bit."""
    rng = np.random.default_rng(6)
    x = (rng.standard_normal((64, 6)) * 1.5 + 0.2).astype(np.float32)
    y = rng.integers(0, 4, 64).astype(np.int32)
    runs = []
    for fuse in (False, True):
        w_rng = np.random.default_rng(7)
        m = _core.Sequential()
        for layer in (_core.Dense(12, True, _core.Act.Linear), make_bn(), _core.Activation(_core.Act.Relu)):
            m.add(layer)
        m.add(_core.Dense(4, True, _core.Act.Softmax))
        m.build([6])
        m.layers[0].kernel.numpy()[:] = w_rng.uniform(-0.6, 0.6, (6, 12))
        m.layers[-1].kernel.numpy()[:] = w_rng.uniform(-0.6, 0.6, (12, 4))
        m.fuse_bn_relu = fuse
        loss = _core.LossSpec(_core.LossSpec.Kind.Xent, _core.XentForm.SparseProbs, 1e-7)
        m.compile(_core.Adam(0.01, 0.9, 0.999, 1e-7, False, True, 0.0), loss)
        assert m.fused_bn_relu_layers == ([1] if fuse else [])
        for e in range(2):
            m.train_epoch(_core.Tensor.from_numpy(x), _core.Tensor.from_numpy(y), 32, True, 11, e)
        runs.append([t.numpy().copy() for la in m.layers for _, t, _ in la.params()])
        runs[-1] += [t.numpy().copy() for _, t in m.layers[1].buffers()]
    for a, b in zip(*runs, strict=True):
        np.testing.assert_array_equal(a, b)
