"""``tf.nn`` and ``tf.random`` against NumPy references, and the gradients of the TF face's ops (bnlab/tf/nn.py,
random.py, and the ops' use of bnlab.torch's autograd).

Gradients are taken without ``tf.GradientTape``: the ops run between ``bnlab.tf._record.push(tape)`` and ``pop``
(what a recording tape does), which switches bnlab.torch's gradient mode on for them; then bnlab.torch's own
``backward()`` runs from the result's ``_t`` and the variables' leaves hold the gradients, compared with the
analytic ones. Tolerances: float32 rounding of sums of n terms, ~eps * sqrt(n) times the magnitude of the terms
(a few times that as the bound), as in test_tf_ops.py.
"""

import math

import numpy as np
import pytest

import bnlab.tf.ops as tf
import bnlab.torch as torch
from bnlab.tf import _record
from bnlab.tf.errors import InvalidArgumentError

EPS = float(np.finfo(np.float32).eps)
RNG = np.random.default_rng(99)


def f32(*shape, low=-3.0, high=3.0):
    return RNG.uniform(low, high, shape).astype(np.float32)


def assert_close(actual, expected, terms=1, scale=None, ulps=4):
    """``actual`` (array or Tensor) within ulps * eps * sqrt(terms) * scale of ``expected`` (float64)."""
    a = np.asarray(actual.numpy() if hasattr(actual, "numpy") else actual, np.float64)
    e = np.asarray(expected, np.float64)
    assert a.shape == e.shape, (a.shape, e.shape)
    s = np.abs(e) if scale is None else np.asarray(scale, np.float64)
    bound = ulps * EPS * math.sqrt(terms) * s + 1e-30
    assert np.all(np.abs(a - e) <= bound), np.max(np.abs(a - e) / bound)


def taped(f, *variables):
    """f(*variables) run as under a recording GradientTape; returns (result, gradient of sum(result) per var)."""
    tape = object()
    _record.push(tape)
    try:
        y = f(*variables)
    finally:
        _record.pop(tape)
    for v in variables:
        v._t.grad = None
    (y._t if y.ndim == 0 else y._t.sum()).backward()
    return y, [None if v._t.grad is None else v._t.grad.numpy().astype(np.float64) for v in variables]


def _softmax(z, axis=-1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# ---------------------------------------------------------------------------------------------------- activations
@pytest.mark.parametrize(
    ("fn", "ref", "ulps"),
    [
        (tf.nn.relu, lambda x: np.maximum(x, 0), 0),
        (tf.nn.relu6, lambda x: np.clip(x, 0, 6), 0),
        (tf.nn.leaky_relu, lambda x: np.where(x > 0, x, 0.2 * x), 1),
        (tf.nn.elu, lambda x: np.where(x < 0, np.expm1(x), x), 8),
        (
            tf.nn.selu,
            lambda x: 1.0507009873554805 * np.where(x < 0, 1.6732632423543772 * np.expm1(x), x),
            8,
        ),
        (tf.nn.gelu, lambda x: 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2))), 8),
        (
            lambda x: tf.nn.gelu(x, approximate=True),
            lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))),
            8,
        ),
        (tf.nn.silu, lambda x: x / (1 + np.exp(-x)), 8),
        (tf.nn.swish, lambda x: x / (1 + np.exp(-x)), 8),
        (tf.nn.softsign, lambda x: x / (1 + np.abs(x)), 2),
        (tf.nn.softplus, lambda x: np.logaddexp(0, x), 4),
        (tf.nn.sigmoid, lambda x: 1 / (1 + np.exp(-x)), 4),
        (tf.nn.tanh, np.tanh, 4),
    ],
)
def test_activations(fn, ref, ulps):
    x = f32(4, 50, low=-8, high=8)
    out = fn(x)
    assert out.dtype is tf.float32
    e = ref(x.astype(np.float64))
    # TensorFlow's formulas cancel in e^x - 1 (elu, selu near 0) and 1 + erf(x / sqrt 2) (gelu, x < 0): the error
    # is eps relative to 1 (times |x| <= 8), so those compare at the scale of 1 (ulps >= 8)
    assert_close(out, e, scale=np.maximum(np.abs(e), 1.0 if ulps >= 8 else 0.0), ulps=max(ulps, 0.5))


def test_relu_of_integers_and_leaky_relu_alpha():
    assert tf.nn.relu(tf.constant([-2, 3])).numpy().tolist() == [0, 3]
    assert tf.nn.leaky_relu(tf.constant([-2.0, 3.0]), alpha=0.5).numpy().tolist() == [-1.0, 3.0]
    assert tf.nn.leaky_relu(tf.constant([-2, 3])).dtype is tf.float32


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_and_log_softmax(axis):
    z = f32(3, 5)
    assert_close(tf.nn.softmax(z, axis=axis), _softmax(z.astype(np.float64), axis), terms=5, ulps=8)
    ls = z - np.log(np.sum(np.exp(z.astype(np.float64)), axis=axis, keepdims=True))
    assert_close(tf.nn.log_softmax(z, axis=axis), ls, terms=5, scale=np.abs(ls) + 1, ulps=8)
    assert_close(tf.math.softmax(z), _softmax(z.astype(np.float64)), terms=5, ulps=8)


# ---------------------------------------------------------------------------------------------------- losses
def test_sparse_softmax_cross_entropy():
    z = f32(6, 4)
    labels = np.array([0, 3, 1, 1, 2, 0])
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=z)
    zd = z.astype(np.float64)
    ref = np.log(np.sum(np.exp(zd), 1)) - zd[np.arange(6), labels]
    assert loss.shape == (6,) and loss.dtype is tf.float32
    assert_close(loss, ref, terms=4, scale=np.abs(ref) + 1, ulps=8)
    positional = tf.nn.sparse_softmax_cross_entropy_with_logits(tf.constant(labels, dtype=tf.int64), z)
    np.testing.assert_array_equal(positional.numpy(), loss.numpy())
    nd = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels.reshape(2, 3), logits=z.reshape(2, 3, 4))
    np.testing.assert_array_equal(nd.numpy(), loss.numpy().reshape(2, 3))
    with pytest.raises(
        InvalidArgumentError, match=r"Received a label value of 4 which is outside the valid range of \[0, 4\)"
    ):
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[0, 4, 1, 1, 2, 0], logits=z)
    with pytest.raises(ValueError, match=r"`labels.shape.rank` must equal `logits.shape.rank - 1`. Received: labels"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels.reshape(6, 1), logits=z)


def test_softmax_and_sigmoid_cross_entropy():
    z = f32(5, 3)
    p = _softmax(f32(5, 3).astype(np.float64)).astype(np.float32)
    ref = -np.sum(p * (z - np.log(np.sum(np.exp(z.astype(np.float64)), 1, keepdims=True))), 1)
    out = tf.nn.softmax_cross_entropy_with_logits(labels=p, logits=z)
    assert_close(out, ref, terms=3, scale=np.abs(ref) + 1, ulps=8)
    assert_close(tf.nn.softmax_cross_entropy_with_logits(p.T, z.T, axis=0), ref, terms=3, scale=np.abs(ref) + 1, ulps=8)
    y = (RNG.random((5, 3)) > 0.5).astype(np.float32)
    x = f32(5, 3, low=-30, high=30)
    xd = x.astype(np.float64)
    ref_s = np.maximum(xd, 0) - xd * y + np.log1p(np.exp(-np.abs(xd)))
    assert_close(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=x), ref_s, scale=np.abs(ref_s) + 1, ulps=4)
    q = 3.0
    ref_w = (1 - y) * xd + (1 + (q - 1) * y) * (np.log1p(np.exp(-np.abs(xd))) + np.maximum(-xd, 0))
    out_w = tf.nn.weighted_cross_entropy_with_logits(labels=y, logits=x, pos_weight=q)
    assert_close(out_w, ref_w, scale=np.abs(ref_w) + 1, ulps=8)
    with pytest.raises(ValueError, match="must have the same shape"):
        tf.nn.sigmoid_cross_entropy_with_logits(labels=y[:, :2], logits=x)


def test_l2_loss_l2_normalize_bias_add_embedding_lookup():
    x = f32(4, 3)
    xd = x.astype(np.float64)
    assert_close(tf.nn.l2_loss(x), np.sum(xd**2) / 2, terms=12, scale=np.sum(xd**2) / 2)
    n = np.sqrt(np.sum(xd**2, 1, keepdims=True))
    assert_close(tf.nn.l2_normalize(x, axis=1), xd / n, terms=3, ulps=8)
    assert_close(tf.math.l2_normalize(x), xd / np.sqrt(np.sum(xd**2)), terms=12, ulps=8)
    b = f32(3)
    np.testing.assert_array_equal(tf.nn.bias_add(x, b).numpy(), x + b)
    c = f32(2, 3, 4, 5)
    np.testing.assert_array_equal(tf.nn.bias_add(c, b, data_format="NCHW").numpy(), c + b[:, None, None])
    with pytest.raises(InvalidArgumentError, match="Must provide as many biases as the last dimension"):
        tf.nn.bias_add(x, f32(4))
    np.testing.assert_array_equal(tf.nn.embedding_lookup(x, [3, 0]).numpy(), x[[3, 0]])


# ---------------------------------------------------------------------------------------------------- BN helpers
@pytest.mark.parametrize("keepdims", [False, True])
def test_moments_are_the_mean_and_the_population_variance(keepdims):
    x = f32(8, 3, 5)
    mean, var = tf.nn.moments(x, axes=[0, 2], keepdims=keepdims)
    xd = x.astype(np.float64)
    n = 8 * 5
    m_ref = xd.mean(axis=(0, 2), keepdims=keepdims)
    v_ref = xd.var(axis=(0, 2), keepdims=keepdims)  # ddof=0: TensorFlow divides by n
    assert mean.shape == m_ref.shape and var.shape == v_ref.shape
    assert_close(mean, m_ref, terms=n, scale=np.abs(xd).mean(axis=(0, 2), keepdims=keepdims))
    assert_close(var, v_ref, terms=n, scale=(xd**2).mean(axis=(0, 2), keepdims=keepdims))


def test_batch_normalization_formula():
    x = f32(16, 4)
    mean, var, beta, gamma = f32(4), f32(4, low=0.5, high=2), f32(4), f32(4)
    eps = 1e-3
    xd = x.astype(np.float64)
    ref = gamma * (xd - mean) / np.sqrt(var + eps) + beta
    out = tf.nn.batch_normalization(x, mean, var, beta, gamma, eps)
    scale = np.abs(gamma) * (np.abs(xd) + np.abs(mean)) / np.sqrt(var + eps) + np.abs(beta)
    assert_close(out, ref, terms=4, scale=scale)
    bare = tf.nn.batch_normalization(x, mean, var, None, None, eps)
    assert_close(
        bare, (xd - mean) / np.sqrt(var + eps), terms=4, scale=(np.abs(xd) + np.abs(mean)) / np.sqrt(var + eps)
    )


# ---------------------------------------------------------------------------------------------------- gradients
def test_ops_outside_a_tape_build_no_graph():
    v = tf.Variable([1.0, 2.0])
    y = tf.reduce_sum(v * v)
    assert not y._t.requires_grad and y._t.grad_fn is None
    with torch.no_grad():  # a recording tape records whatever bnlab.torch's own mode is
        _, (g,) = taped(lambda w: tf.reduce_sum(w * w), v)
    np.testing.assert_array_equal(g, [2.0, 4.0])


def test_gradient_of_reduce_mean():
    v = tf.Variable(f32(3, 4))
    _, (g,) = taped(lambda w: tf.reduce_mean(w), v)
    assert_close(g, np.full((3, 4), 1 / 12))
    _, (g1,) = taped(lambda w: tf.reduce_mean(w, axis=1), v)
    assert_close(g1, np.full((3, 4), 1 / 4))


def test_gradient_of_moments():
    x = f32(10, 3)
    v = tf.Variable(x)
    xd = x.astype(np.float64)
    _, (gm,) = taped(lambda w: tf.nn.moments(w, axes=[0])[0], v)
    assert_close(gm, np.full((10, 3), 0.1))
    _, (gv,) = taped(lambda w: tf.nn.moments(w, axes=[0])[1], v)
    ref = 2 * (xd - xd.mean(0)) / 10
    assert_close(gv, ref, terms=10, scale=np.abs(ref).max())


def test_gradient_of_batch_normalization_in_every_argument():
    n, c, eps = 12, 3, 1e-3
    x, m, var, beta, gamma = f32(n, c), f32(c), f32(c, low=0.5, high=2), f32(c), f32(c)
    w = f32(n, c)  # the loss is sum(w * y)
    vs = [tf.Variable(a) for a in (x, m, var, beta, gamma)]
    _, grads = taped(lambda *a: tf.reduce_sum(tf.nn.batch_normalization(*a[:3], a[3], a[4], eps) * w), *vs)
    xd, md, vd, gd, wd = (a.astype(np.float64) for a in (x, m, var, gamma, w))
    inv = 1 / np.sqrt(vd + eps)
    refs = [
        wd * gd * inv,
        -np.sum(wd * gd * inv, 0),
        np.sum(wd * gd * (xd - md), 0) * -0.5 * inv**3,
        np.sum(wd, 0),
        np.sum(wd * (xd - md) * inv, 0),
    ]
    for g, ref in zip(grads, refs, strict=True):
        assert_close(g, ref, terms=n, scale=np.abs(ref).max(), ulps=8)


def test_gradient_through_batch_norm_with_batch_statistics():
    """y = BN(x) with the batch's own moments: dx = gamma inv / N (N dy - sum(dy) - x_hat sum(dy x_hat))."""
    n, c, eps = 32, 4, 1e-3
    x, beta, gamma, dy = f32(n, c), f32(c), f32(c), f32(n, c)
    v = tf.Variable(x)
    _, (g,) = taped(
        lambda t: tf.reduce_sum(tf.nn.batch_normalization(t, *tf.nn.moments(t, [0]), beta, gamma, eps) * dy), v
    )
    xd, dyd = x.astype(np.float64), dy.astype(np.float64)
    inv = 1 / np.sqrt(xd.var(0) + eps)
    xhat = (xd - xd.mean(0)) * inv
    ref = gamma * inv / n * (n * dyd - dyd.sum(0) - xhat * np.sum(dyd * xhat, 0))
    scale = np.abs(gamma) * inv * 3 * np.abs(dyd).max()
    assert_close(g, ref, terms=n, scale=scale, ulps=8)


def test_gradient_of_matmul():
    a, b, w = f32(3, 4), f32(4, 5), f32(3, 5)
    va, vb = tf.Variable(a), tf.Variable(b)
    _, (ga, gb) = taped(lambda p, q: tf.reduce_sum(tf.matmul(p, q) * w), va, vb)
    ad, bd, wd = (t.astype(np.float64) for t in (a, b, w))
    assert_close(ga, wd @ bd.T, terms=5, scale=np.abs(wd) @ np.abs(bd.T))
    assert_close(gb, ad.T @ wd, terms=3, scale=np.abs(ad.T) @ np.abs(wd))
    _, (gt,) = taped(
        lambda p: tf.reduce_sum(tf.matmul(p, b, transpose_a=True) * f32(3, 5)), tf.Variable(f32(3, 4).T.copy())
    )
    assert gt.shape == (4, 3)
    ba, bb = f32(2, 3, 4), f32(4, 2)
    vba, vbb = tf.Variable(ba), tf.Variable(bb)
    _, (g1, g2) = taped(lambda p, q: tf.reduce_sum(tf.matmul(p, q)), vba, vbb)
    assert_close(g1, np.broadcast_to(bb.astype(np.float64).sum(1), (2, 3, 4)), terms=2, scale=np.abs(bb).sum(1).max())
    assert_close(
        g2,
        np.broadcast_to(ba.astype(np.float64).sum((0, 1))[:, None], (4, 2)),
        terms=6,
        scale=np.abs(ba).sum((0, 1)).max(),
    )


def test_gradient_of_sparse_softmax_cross_entropy():
    z = f32(5, 4)
    labels = np.array([1, 0, 3, 3, 2])
    v = tf.Variable(z)
    _, (g,) = taped(
        lambda t: tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=t)), v
    )
    ref = (_softmax(z.astype(np.float64)) - np.eye(4)[labels]) / 5
    assert_close(g, ref, terms=4, scale=0.2, ulps=8)


def test_gradient_of_softmax_cross_entropy_reaches_labels():
    z, p = f32(3, 4), _softmax(f32(3, 4).astype(np.float64)).astype(np.float32)
    vz, vp = tf.Variable(z), tf.Variable(p)
    _, (gz, gp) = taped(lambda a, b: tf.nn.softmax_cross_entropy_with_logits(labels=b, logits=a), vz, vp)
    zd = z.astype(np.float64)
    assert_close(gz, _softmax(zd) - p, terms=4, scale=1.0, ulps=8)
    assert_close(gp, -(zd - np.log(np.sum(np.exp(zd), 1, keepdims=True))), terms=4, scale=np.abs(zd) + 2, ulps=8)


def test_gradients_at_kinks_are_tensorflows():
    x = tf.Variable([-1.0, 0.0, 2.0, 6.0, 7.0])
    _, (g,) = taped(tf.nn.relu, x)
    assert g.tolist() == [0, 0, 1, 1, 1]
    _, (g,) = taped(tf.nn.relu6, x)
    assert g.tolist() == [0, 0, 1, 0, 0]
    _, (g,) = taped(tf.nn.elu, x)
    assert g.tolist()[1:] == [1, 1, 1, 1] and abs(g[0] - math.exp(-1)) < 4 * EPS
    _, (g,) = taped(lambda t: tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.zeros([5]), logits=t), x)
    assert_close(g, 1 / (1 + np.exp(-np.array([-1.0, 0.0, 2.0, 6.0, 7.0]))), ulps=4)  # 0.5 at 0, as TensorFlow
    _, (g,) = taped(tf.abs, x)
    assert g.tolist() == [-1, 0, 1, 1, 1]
    _, (g,) = taped(lambda t: tf.maximum(t, 2.0), x)
    assert g.tolist() == [0, 0, 1, 1, 1]  # x >= y gets the gradient, as TensorFlow
    _, (g,) = taped(lambda t: tf.clip_by_value(t, 0.0, 6.0), x)
    assert g.tolist() == [0, 1, 1, 1, 0]
    _, (g,) = taped(tf.sign, x)
    assert g.tolist() == [0, 0, 0, 0, 0]


def test_gradient_of_reduce_max_is_shared_among_ties():
    x = tf.Variable([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0], [5.0, 5.0, 5.0]])
    _, (g,) = taped(lambda t: tf.reduce_max(t, axis=1), x)
    np.testing.assert_allclose(g, [[0, 0.5, 0.5], [0.5, 0, 0.5], [1 / 3, 1 / 3, 1 / 3]], rtol=2 * EPS)
    y, (g,) = taped(lambda t: tf.reduce_max(t), x)
    assert y.numpy() == 5.0
    np.testing.assert_allclose(g, [[0, 0, 0], [0, 0, 0], [1 / 3, 1 / 3, 1 / 3]], rtol=2 * EPS)
    y, (g,) = taped(lambda t: tf.reduce_min(t, axis=0), x)
    assert y.numpy().tolist() == [1.0, 0.0, 2.0]
    np.testing.assert_array_equal(g, [[1, 0, 0], [0, 1, 1], [0, 0, 0]])


def test_gradients_of_numpy_valued_ops():
    x = np.array([[1.0, 2.0, 0.0], [3.0, -1.0, 4.0]], np.float32)
    v = tf.Variable(x)
    _, (g,) = taped(lambda t: tf.reduce_prod(t, axis=1), v)
    np.testing.assert_array_equal(g, [[0, 0, 2], [-4, 12, -3]])  # the product of the others: exact at zeros
    _, (g,) = taped(lambda t: tf.cumsum(t, axis=1), v)
    np.testing.assert_array_equal(g, [[3, 2, 1], [3, 2, 1]])
    _, (g,) = taped(lambda t: tf.cumsum(t, axis=1, exclusive=True, reverse=True), v)
    np.testing.assert_array_equal(g, [[0, 1, 2], [0, 1, 2]])
    e = np.array([[2.0, 3.0, 1.0], [1.0, 2.0, 0.5]], np.float32)
    ve = tf.Variable(e)
    _, (gx, ge) = taped(lambda a, b: tf.pow(tf.abs(a) + 1.0, b), v, ve)
    base = np.abs(x.astype(np.float64)) + 1
    assert_close(gx, e * base ** (e - 1) * np.sign(x), scale=np.abs(e * base ** (e - 1)), ulps=8)
    assert_close(ge, base**e * np.log(base), scale=base**e * np.log(base) + 1, ulps=8)
    _, (ga, gb) = taped(lambda a, b: tf.math.floormod(a, b + 5.0), v, ve)
    np.testing.assert_array_equal(ga, np.ones_like(x))
    np.testing.assert_array_equal(gb, -np.floor(x / (e + 5.0)))
    _, (g,) = taped(tf.nn.gelu, v)
    xd = x.astype(np.float64)
    ref = 0.5 * (1 + np.vectorize(math.erf)(xd / math.sqrt(2))) + xd * np.exp(-(xd**2) / 2) / math.sqrt(2 * math.pi)
    assert_close(g, ref, ulps=8)


def test_gradients_of_selections_scatter_back():
    x = f32(3, 4)
    v = tf.Variable(x)
    _, (g,) = taped(lambda t: tf.gather(t, [2, 0, 2]), v)
    np.testing.assert_array_equal(g, np.array([[1] * 4, [0] * 4, [2] * 4]))
    _, (g,) = taped(lambda t: t[1:, ::2], v)
    np.testing.assert_array_equal(g, np.array([[0, 0, 0, 0], [1, 0, 1, 0], [1, 0, 1, 0]]))
    _, (g,) = taped(lambda t: tf.tile(t, [2, 1]), v)
    np.testing.assert_array_equal(g, np.full((3, 4), 2.0))
    _, (g,) = taped(lambda t: tf.where(t > 0, t * 3.0, tf.constant(np.inf)), v)
    np.testing.assert_array_equal(g, np.where(x > 0, 3.0, 0.0))  # the infinite branch does not leak NaN
    _, (g,) = taped(lambda t: tf.concat([t, tf.reverse(t, [0])], 1), v)
    np.testing.assert_array_equal(g, np.full((3, 4), 2.0))
    _, (g,) = taped(lambda t: tf.transpose(tf.reshape(t, [4, 3])) * np.arange(12, dtype=np.float32).reshape(3, 4), v)
    np.testing.assert_array_equal(g, np.arange(12, dtype=np.float32).reshape(3, 4).T.reshape(3, 4))
    _, (g,) = taped(lambda t: tf.stop_gradient(t) * t, v)
    np.testing.assert_array_equal(g, x)
    _, (g,) = taped(lambda t: tf.sort(t, direction="DESCENDING")[:, 0], v)
    np.testing.assert_array_equal(g, (x == x.max(1, keepdims=True)).astype(np.float64))


def test_normal_and_uniform_are_differentiable_in_their_parameters():
    mean, std = tf.Variable(1.0), tf.Variable(2.0)
    tf.random.set_seed(3)
    _, (gm, gs) = taped(lambda m, s: tf.random.normal([1000], mean=m, stddev=s), mean, std)
    tf.random.set_seed(3)
    z = tf.random.normal([1000]).numpy().astype(np.float64)
    assert gm == 1000 and abs(gs - z.sum()) <= 8 * EPS * math.sqrt(1000) * np.abs(z).sum()


# ---------------------------------------------------------------------------------------------------- dropout
def test_dropout():
    x = tf.ones([100, 100])
    assert tf.nn.dropout(x, 0.0) is x
    tf.random.set_seed(0)
    y = tf.nn.dropout(x, 0.25).numpy()
    kept = y != 0
    assert np.all(y[kept] == np.float32(1 / 0.75))
    frac = 1 - kept.mean()  # binomial(10000, 0.25): standard deviation 0.0043
    assert abs(frac - 0.25) < 5 * math.sqrt(0.25 * 0.75 / 10000)
    tf.random.set_seed(0)
    np.testing.assert_array_equal(tf.nn.dropout(x, 0.25).numpy(), y)
    shared = tf.nn.dropout(x, 0.5, noise_shape=[100, 1]).numpy()
    assert np.all((shared == 0).all(1) | (shared != 0).all(1))
    with pytest.raises(ValueError, match=r"`rate` must be a scalar tensor or a float in the range \[0, 1\)"):
        tf.nn.dropout(x, 1.0)
    v = tf.Variable(f32(4, 5))
    tf.random.set_seed(5)
    y, (g,) = taped(lambda t: tf.nn.dropout(t, 0.5), v)
    np.testing.assert_array_equal(g, np.where(y.numpy() != 0, 2.0, 0.0))


# ---------------------------------------------------------------------------------------------------- random
def test_set_seed_makes_the_sequence_reproducible():
    tf.random.set_seed(42)
    a, b = tf.random.normal([5]).numpy(), tf.random.uniform([5]).numpy()
    c = tf.random.uniform([3], seed=7).numpy()
    c2 = tf.random.uniform([3], seed=7).numpy()
    tf.random.set_seed(42)
    np.testing.assert_array_equal(tf.random.normal([5]).numpy(), a)
    np.testing.assert_array_equal(tf.random.uniform([5]).numpy(), b)
    np.testing.assert_array_equal(tf.random.uniform([3], seed=7).numpy(), c)  # an op seed has its own stream
    np.testing.assert_array_equal(tf.random.uniform([3], seed=7).numpy(), c2)
    assert not np.array_equal(c, c2) and not np.array_equal(a, tf.random.normal([5]).numpy())
    tf.random.set_seed(43)
    assert not np.array_equal(tf.random.normal([5]).numpy(), a)


def test_distributions():
    tf.random.set_seed(1)
    n = 200_000
    z = tf.random.normal([n], mean=2.0, stddev=3.0)
    assert z.dtype is tf.float32 and z.shape == (n,)
    zd = z.numpy().astype(np.float64)
    assert abs(zd.mean() - 2.0) < 5 * 3 / math.sqrt(n) and abs(zd.std() - 3.0) < 5 * 3 / math.sqrt(2 * n)
    u = tf.random.uniform([n], minval=-1.0, maxval=3.0).numpy()
    assert u.min() >= -1.0 and u.max() < 3.0 and abs(u.mean() - 1.0) < 5 * 4 / math.sqrt(12 * n)
    i = tf.random.uniform([n], minval=3, maxval=7, dtype=tf.int64)
    assert i.dtype is tf.int64 and set(np.unique(i.numpy()).tolist()) == {3, 4, 5, 6}
    t = tf.random.truncated_normal([n], stddev=0.5).numpy()
    assert np.abs(t).max() <= 1.0 and t.std() < 0.5
    with pytest.raises(ValueError, match="Must specify maxval for integer dtype"):
        tf.random.uniform([2], dtype=tf.int32)
    with pytest.raises(InvalidArgumentError, match="Need minval < maxval: 5 >= 5"):
        tf.random.uniform([2], 5, 5, dtype=tf.int32)
    with pytest.raises(TypeError, match=r"dtype=tf\.float64: bnlab's TF face computes in float32"):
        tf.random.normal([2], dtype=tf.float64)


def test_shuffle_categorical_stateless_generator():
    tf.random.set_seed(2)
    s = tf.random.shuffle(tf.range(50)).numpy()
    assert sorted(s.tolist()) == list(range(50)) and s.tolist() != list(range(50))
    logits = np.log(np.array([[0.7, 0.2, 0.1]], np.float32))
    draws = tf.random.categorical(logits, 30_000)
    assert draws.dtype is tf.int64 and draws.shape == (1, 30_000)
    freq = np.bincount(draws.numpy()[0], minlength=3) / 30_000
    assert np.all(np.abs(freq - [0.7, 0.2, 0.1]) < 5 * np.sqrt(np.array([0.7, 0.2, 0.1]) * [0.3, 0.8, 0.9] / 30_000))
    a = tf.random.stateless_normal([4], seed=[1, 2]).numpy()
    np.testing.assert_array_equal(tf.random.stateless_normal([4], seed=[1, 2]).numpy(), a)
    assert not np.array_equal(tf.random.stateless_normal([4], seed=[1, 3]).numpy(), a)
    assert tf.random.stateless_uniform([3], seed=(0, 0), minval=0, maxval=10, dtype=tf.int32).dtype is tf.int32
    g = tf.random.Generator.from_seed(11)
    first = g.normal([3]).numpy()
    assert not np.array_equal(g.normal([3]).numpy(), first)
    np.testing.assert_array_equal(tf.random.Generator.from_seed(11).normal([3]).numpy(), first)
    u = tf.random.Generator.from_seed(5).uniform([1000], 0, 10, dtype=tf.int32).numpy()
    assert u.min() >= 0 and u.max() < 10
    assert tf.random.Generator.from_seed(5).make_seeds(3).shape == (2, 3) and len(g.split(2)) == 2
    assert isinstance(tf.random.get_global_generator(), tf.random.Generator)
