"""Every forward op of ``bnlab._core.ops`` against the NumPy float64 references of engine_reference.py.

Shapes include a batch of one wherever the op allows it and L > 1 for batch norm; a few Hypothesis property
tests cover arbitrary inputs. Tolerances are float32's: the engine rounds each output once or a few times
(relative error ~1e-7), so outputs are compared at rtol 1e-5 with an absolute floor scaled to the data.
"""

from __future__ import annotations

import engine_reference as ref
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bnlab import _core

ops = _core.ops
ACTS = ["Linear", "Relu", "Sigmoid", "Tanh", "Softmax"]
FORMS = ["CategoricalProbs", "CategoricalLogits", "SparseProbs", "SparseLogits"]


def tensor(a) -> _core.Tensor:
    return _core.Tensor.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


def labels(a) -> _core.Tensor:
    return _core.Tensor.from_numpy(np.ascontiguousarray(a, dtype=np.int32))


def assert_close(got, want, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64), want, rtol=rtol, atol=atol)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


# ---- dense ----
@pytest.mark.parametrize("B", [1, 5, 32])
@pytest.mark.parametrize(("IN", "OUT"), [(1, 1), (7, 3), (64, 10)])
@pytest.mark.parametrize("weight_out_in", [False, True])
@pytest.mark.parametrize("with_bias", [False, True])
def test_dense_forward(rng, B, IN, OUT, weight_out_in, with_bias):
    x = rng.standard_normal((B, IN)).astype(np.float32)
    w = rng.standard_normal((OUT, IN) if weight_out_in else (IN, OUT)).astype(np.float32)
    b = rng.standard_normal(OUT).astype(np.float32) if with_bias else None
    out = _core.Tensor()
    ops.dense_forward(out, tensor(x), tensor(w), None if b is None else tensor(b), weight_out_in)
    assert out.shape == (B, OUT)
    assert_close(out.numpy(), ref.dense(x, w, b, weight_out_in), atol=1e-5 * np.sqrt(IN))


# ---- batch normalisation ----
BN_SHAPES = [(1, 3, 1), (2, 4, 1), (16, 8, 1), (4, 3, 5), (1, 2, 6), (3, 1, 2)]


@pytest.mark.parametrize(("N", "C", "L"), BN_SHAPES)
@pytest.mark.parametrize("affine", ["none", "gamma", "beta", "both"])
def test_batchnorm_forward_train(rng, N, C, L, affine):
    x = (rng.standard_normal((N, C, L)) * 2 + 0.5).astype(np.float32)
    gamma = rng.uniform(0.5, 1.5, C).astype(np.float32) if affine in ("gamma", "both") else None
    beta = rng.standard_normal(C).astype(np.float32) if affine in ("beta", "both") else None
    out, cache = _core.Tensor(), ops.BNCache()
    ops.batchnorm_forward_train(
        out,
        cache,
        tensor(x),
        None if gamma is None else tensor(gamma),
        None if beta is None else tensor(beta),
        N,
        C,
        L,
        1e-3,
    )
    want, xhat, mean, var, rstd = ref.bn_train(x, gamma, beta, eps=1e-3)
    assert out.shape == (N, C, L)
    assert_close(out.numpy(), want)
    assert_close(cache.xhat.numpy(), xhat)
    assert_close(cache.mean.numpy(), mean)
    assert_close(cache.var.numpy(), var)  # biased
    assert_close(cache.rstd.numpy(), rstd)


def test_batchnorm_forward_train_batch_of_one_gives_beta():
    x = np.array([[5.0, -2.0, 1e6]], dtype=np.float32)
    gamma, beta = np.array([2.0, 3.0, 4.0]), np.array([0.25, -1.0, 7.0])
    out, cache = _core.Tensor(), ops.BNCache()
    ops.batchnorm_forward_train(out, cache, tensor(x), tensor(gamma), tensor(beta), 1, 3, 1, 1e-3)
    np.testing.assert_array_equal(out.numpy(), beta[None, :].astype(np.float32))
    np.testing.assert_array_equal(cache.var.numpy(), np.zeros(3, np.float32))


@pytest.mark.parametrize(("N", "C", "L"), BN_SHAPES)
@pytest.mark.parametrize("affine", [False, True])
def test_batchnorm_forward_infer(rng, N, C, L, affine):
    x = (rng.standard_normal((N, C, L)) * 2 + 1).astype(np.float32)
    mean = rng.standard_normal(C).astype(np.float32)
    var = rng.uniform(0.1, 3.0, C).astype(np.float32)
    gamma = rng.uniform(0.5, 1.5, C).astype(np.float32) if affine else None
    beta = rng.standard_normal(C).astype(np.float32) if affine else None
    out = _core.Tensor()
    ops.batchnorm_forward_infer(
        out,
        tensor(x),
        tensor(mean),
        tensor(var),
        None if gamma is None else tensor(gamma),
        None if beta is None else tensor(beta),
        N,
        C,
        L,
        1e-3,
    )
    assert_close(out.numpy(), ref.bn_infer(x, mean, var, gamma, beta, eps=1e-3))


def test_batchnorm_infer_with_the_batch_statistics_equals_training(rng):
    x = (rng.standard_normal((16, 4, 3)) * 0.5 + 200.0).astype(np.float32)  # |mean| >> std
    gamma, beta = tensor(rng.uniform(0.5, 1.5, 4)), tensor(rng.standard_normal(4))
    train, infer, cache = _core.Tensor(), _core.Tensor(), ops.BNCache()
    ops.batchnorm_forward_train(train, cache, tensor(x), gamma, beta, 16, 4, 3, 1e-3)
    ops.batchnorm_forward_infer(infer, tensor(x), cache.mean, cache.var, gamma, beta, 16, 4, 3, 1e-3)
    assert_close(infer.numpy(), train.numpy().astype(np.float64), rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize(("keep", "batch_scale"), [(0.99, 1.0), (0.9, 8 / 7), (0.0, 1.0), (1.0, 1.0)])
def test_blend(rng, keep, batch_scale):
    moving, batch = rng.standard_normal(6), rng.standard_normal(6)
    m = tensor(moving)
    ops.blend(m, tensor(batch), keep, batch_scale)
    assert_close(m.numpy(), ref.blend(moving.astype(np.float32), batch.astype(np.float32), keep, batch_scale))


# ---- activations ----
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("shape", [(1, 1), (1, 10), (8, 5), (3, 4, 6)])
def test_activation_forward(rng, act, shape):
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    out = _core.Tensor()
    ops.activation_forward(out, tensor(x), getattr(_core.Act, act))
    assert out.shape == shape
    assert_close(out.numpy(), ref.activation(x, act))


def test_softmax_survives_huge_logits():
    x = np.array([[1000.0, 0.0, -1000.0], [88.0, 89.0, 90.0]], dtype=np.float32)
    out = _core.Tensor()
    ops.activation_forward(out, tensor(x), _core.Act.Softmax)
    assert np.isfinite(out.numpy()).all()
    assert_close(out.numpy(), ref.softmax(x))


# ---- dropout ----
@pytest.mark.parametrize("rate", [0.0, 0.1, 0.5, 0.9])
def test_dropout_mask_statistics(rng, rate):
    n = 100_000
    x = rng.uniform(0.5, 1.5, n).astype(np.float32)
    out, mask = _core.Tensor(), _core.Tensor()
    ops.dropout_forward(out, mask, tensor(x), rate, 2024, 0)
    m = mask.numpy()
    scale = np.float32(1.0) / (np.float32(1.0) - np.float32(rate))  # the engine's rate is a float32
    assert set(np.unique(m)) <= {np.float32(0.0), scale}
    np.testing.assert_array_equal(out.numpy(), x * m)
    kept = np.count_nonzero(m)
    assert abs(kept - (1 - rate) * n) <= 5 * np.sqrt(n * rate * (1 - rate)) + 1  # 5 binomial std devs
    assert out.numpy().sum() / x.sum() == pytest.approx(1.0, abs=0.03)  # inverted dropout keeps the mean


def test_dropout_depends_only_on_seed_and_counter(rng):
    x = tensor(rng.standard_normal(500))

    def mask_of(seed, counter):
        out, mask = _core.Tensor(), _core.Tensor()
        ops.dropout_forward(out, mask, x, 0.5, seed, counter)
        return mask.numpy().copy()

    np.testing.assert_array_equal(mask_of(3, 7), mask_of(3, 7))
    assert not np.array_equal(mask_of(3, 7), mask_of(3, 8))
    assert not np.array_equal(mask_of(3, 7), mask_of(4, 7))


# ---- losses and metrics ----
def xent_inputs(rng, form, B, K):
    if form.endswith("Logits"):
        pred = (rng.standard_normal((B, K)) * 3).astype(np.float32)
    else:  # unnormalised rows; one entry clipped from below, one row clipped from above after renormalising
        pred = rng.uniform(0.05, 1.0, (B, K)).astype(np.float32)
        pred[0, 0] = 1e-12
        if B > 1:
            pred[1, 1] = 1e4
    if form.startswith("Sparse"):
        y = rng.integers(0, K, B).astype(np.int32)
        y[0] = 0  # the label on the clipped probability
        return pred, y, labels(y)
    y = rng.uniform(0.0, 1.0, (B, K)).astype(np.float32)  # soft, unnormalised targets
    return pred, y, tensor(y)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(("B", "K"), [(1, 2), (7, 5), (16, 10)])
def test_xent_forward(rng, form, B, K):
    pred, y, target = xent_inputs(rng, form, B, K)
    rows = _core.Tensor()
    ops.xent(rows, None, tensor(pred), target, getattr(_core.XentForm, form), False, 1e-7, 1.0)
    assert rows.shape == (B,)
    assert_close(rows.numpy(), ref.xent(pred, y, form, eps=1e-7), atol=1e-5)


def test_sparse_labels_of_shape_b_by_1_are_accepted(rng):
    pred = rng.uniform(0.1, 1.0, (4, 3))
    y = np.array([[0], [2], [1], [2]])
    rows = _core.Tensor()
    ops.xent(rows, None, tensor(pred), labels(y), _core.XentForm.SparseProbs, False, 1e-7, 1.0)
    assert_close(rows.numpy(), ref.xent(pred.astype(np.float32), y, "SparseProbs"))


@pytest.mark.parametrize(("B", "K"), [(1, 1), (5, 3)])
def test_mse_forward(rng, B, K):
    p, t = rng.standard_normal((B, K)), rng.standard_normal((B, K))
    rows = _core.Tensor()
    ops.mse(rows, None, tensor(p), tensor(t), 1.0)
    assert_close(rows.numpy(), ref.mse(p.astype(np.float32), t.astype(np.float32)))


def test_accuracy_sparse_and_categorical_first_maximum_wins():
    pred = np.array([[0.1, 0.7, 0.2], [0.5, 0.5, 0.0], [0.2, 0.2, 0.6], [0.3, 0.3, 0.3]], np.float32)
    y = np.array([1, 1, 2, 0], np.int32)
    correct = _core.Tensor()
    ops.accuracy(correct, tensor(pred), labels(y))
    np.testing.assert_array_equal(correct.numpy(), ref.accuracy(pred, y))
    np.testing.assert_array_equal(correct.numpy(), [1, 0, 1, 1])
    ops.accuracy(correct, tensor(pred), tensor(ref.one_hot(y, 3)))
    np.testing.assert_array_equal(correct.numpy(), [1, 0, 1, 1])


def test_sum_is_exact_enough_in_double(rng):
    x = rng.standard_normal(10_001).astype(np.float32)
    assert ops.sum(tensor(x)) == pytest.approx(x.astype(np.float64).sum(), abs=1e-9)


# ---- property tests ----
def bn_arrays():
    shapes = st.tuples(st.integers(1, 12), st.integers(1, 4), st.integers(1, 3))
    return shapes.flatmap(
        lambda s: hnp.arrays(np.float32, s, elements=st.floats(-100, 100, width=32, allow_subnormal=False))
    )


@settings(max_examples=40, deadline=None)
@given(x=bn_arrays())
def test_batchnorm_train_matches_reference_for_any_input(x):
    N, C, L = x.shape
    out, cache = _core.Tensor(), ops.BNCache()
    ops.batchnorm_forward_train(out, cache, tensor(x), None, None, N, C, L, 1e-3)
    want, _, mean, var, _ = ref.bn_train(x, eps=1e-3)
    # x - mu is rounded once in float32 (half an ulp of max|x|) and then scaled by rstd <= 1/sqrt(eps).
    floor = 2.0**-23 * float(np.abs(x).max(initial=1.0)) / np.sqrt(1e-3)
    assert_close(out.numpy(), want, atol=floor + 1e-6)
    assert_close(cache.mean.numpy(), mean, atol=1e-5)
    assert_close(cache.var.numpy(), var, atol=1e-4)


@settings(max_examples=40, deadline=None)
@given(
    z=hnp.arrays(
        np.float32,
        st.tuples(st.integers(1, 6), st.integers(1, 8)),
        elements=st.floats(-60, 60, width=32, allow_subnormal=False),
    )
)
def test_softmax_and_logits_xent_for_any_logits(z):
    p, rows = _core.Tensor(), _core.Tensor()
    ops.activation_forward(p, tensor(z), _core.Act.Softmax)
    assert_close(p.numpy().sum(axis=1), np.ones(z.shape[0]), atol=1e-6)
    assert_close(p.numpy(), ref.softmax(z), atol=1e-7)
    y = np.zeros(z.shape[0], np.int32)
    ops.xent(rows, None, tensor(z), labels(y), _core.XentForm.SparseLogits, False, 1e-7, 1.0)
    assert_close(rows.numpy(), ref.xent(z, y, "SparseLogits"), atol=1e-5)


@pytest.mark.parametrize(
    ("N", "C", "L"),
    [(4096, 16, 1), (1024, 512, 1), (64, 4096, 1), (8, 32, 784)],
    ids=["few-features-row-chunks", "feature-split", "wide", "channels-first"],
)
def test_batchnorm_forward_train_large_shapes_on_threads(rng, N, C, L):
    """Shapes large enough for the thread pool (each of the feature sums' split paths): the result matches
    the float64 reference, and is the same at 1 and 2 threads (every split is fixed by the shape alone)."""
    x = (rng.standard_normal((N, C, L)) * 3 + 2).astype(np.float32)
    results = []
    threads = _core.get_num_threads()
    try:
        for t in (1, 2):
            _core.set_num_threads(t)
            out, cache = _core.Tensor(), ops.BNCache()
            ops.batchnorm_forward_train(out, cache, tensor(x), None, None, N, C, L, 1e-3)
            results.append((out.numpy().copy(), cache.mean.numpy().copy(), cache.var.numpy().copy()))
    finally:
        _core.set_num_threads(threads)
    want, _, mean, var, _ = ref.bn_train(x, None, None, eps=1e-3)
    assert_close(results[0][0], want, atol=1e-5)
    assert_close(results[0][1], mean, atol=1e-5)
    assert_close(results[0][2], var, rtol=1e-5, atol=1e-5)
    for a, b in zip(results[0], results[1], strict=True):
        np.testing.assert_array_equal(a, b)
