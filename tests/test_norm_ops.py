"""The group- and layer-normalisation ops of ``bnlab._core.ops``: forward against NumPy, backward against central
differences of the engine's own forward (the method and tolerance of test_ops_gradcheck.py: float32 outputs
summed in float64 against a random dL/dy, the step actually taken as the denominator, 2e-3 of the gradient's scale).
"""

from __future__ import annotations

import numpy as np
import pytest

from bnlab import _core

ops = _core.ops
TOL = 2e-3
H = 1e-2


def tensor(a):
    return _core.Tensor.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


def reference(x, gamma, beta, view, eps):
    """NumPy group norm of x viewed as (N, A, G, K, L), in float64: (y, mean (N, G), rstd (N, G), xhat)."""
    N, A, G, K, L = view
    v = x.astype(np.float64).reshape(N, A, G, K, L)
    mean = v.mean(axis=(1, 3, 4), keepdims=True)
    var = v.var(axis=(1, 3, 4), keepdims=True)
    xhat = (v - mean) / np.sqrt(var + eps)
    g = np.ones(G * K) if gamma is None else gamma.astype(np.float64)
    b = np.zeros(G * K) if beta is None else beta.astype(np.float64)
    y = xhat * g.reshape(1, 1, G, K, 1) + b.reshape(1, 1, G, K, 1)
    return y.reshape(x.shape), mean.reshape(N, G), (1 / np.sqrt(var + eps)).reshape(N, G), xhat.reshape(x.shape)


# (N, A, G, K, L): layer norm rows, PyTorch channels-first groups, Keras channels-last groups, instance norm
VIEWS = [(4, 1, 1, 6, 1), (3, 1, 2, 3, 4), (2, 5, 3, 2, 1), (2, 1, 4, 1, 3), (1, 1, 1, 7, 1), (3, 2, 2, 2, 2)]


def make(view, rng, affine=True, offset=0.5):
    N, A, G, K, L = view
    x = (rng.standard_normal(N * A * G * K * L) * 2 + offset).astype(np.float32)
    gamma = rng.uniform(0.5, 1.5, G * K).astype(np.float32) if affine else None
    beta = rng.standard_normal(G * K).astype(np.float32) if affine else None
    return x, gamma, beta


def forward(x, gamma, beta, view, eps=1e-3):
    out, cache = _core.Tensor(), ops.NormCache()
    g = None if gamma is None else tensor(gamma)
    ops.groupnorm_forward(out, cache, tensor(x), g, None if beta is None else tensor(beta), *view, eps)
    return out, cache


@pytest.mark.parametrize("view", VIEWS, ids=lambda v: "x".join(map(str, v)))
@pytest.mark.parametrize("affine", [True, False])
def test_groupnorm_forward_matches_numpy(view, affine):
    rng = np.random.default_rng(1)
    x, gamma, beta = make(view, rng, affine)
    out, cache = forward(x, gamma, beta, view)
    y, mean, rstd, xhat = reference(x, gamma, beta, view, 1e-3)
    np.testing.assert_allclose(out.numpy(), y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(cache.mean.numpy(), mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cache.rstd.numpy(), rstd, rtol=1e-5)
    np.testing.assert_allclose(cache.xhat.numpy(), xhat, rtol=1e-5, atol=1e-5)


def test_groupnorm_forward_is_well_conditioned_far_from_zero():
    """A mean 1e4 times the spread: the shifted sums keep the variance (a naive E[x^2] - E[x]^2 loses it)."""
    rng = np.random.default_rng(2)
    view = (2, 1, 2, 8, 1)
    x = (1e4 + rng.standard_normal(32)).astype(np.float32)
    out, _ = forward(x, None, None, view)
    y = reference(x, None, None, view, 1e-3)[0]
    np.testing.assert_allclose(out.numpy(), y, atol=2e-3)


def test_layernorm_is_groupnorm_with_one_group():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 9)).astype(np.float32)
    g, b = rng.uniform(0.5, 1.5, 9).astype(np.float32), rng.standard_normal(9).astype(np.float32)
    out, cache = _core.Tensor(), ops.NormCache()
    ops.layernorm_forward(out, cache, tensor(x), tensor(g), tensor(b), 5, 9, 1e-5)
    m, v = x.mean(1, keepdims=True), x.var(1, keepdims=True)
    np.testing.assert_allclose(out.numpy(), (x - m) / np.sqrt(v + 1e-5) * g + b, rtol=1e-5, atol=1e-5)
    assert tuple(cache.mean.shape) == (5, 1)


def engine_grads(x, gamma, beta, view, dout):
    _, cache = forward(x, gamma, beta, view)
    G, K = view[2], view[3]
    dx, dg, db = _core.Tensor(), _core.Tensor([G * K]), _core.Tensor([G * K])
    ops.groupnorm_backward(
        dx, dg if gamma is not None else None, db, tensor(dout), cache, None if gamma is None else tensor(gamma), *view
    )
    return {"x": dx.numpy(), "gamma": dg.numpy(), "beta": db.numpy()}


def central(inputs, name, view, dout):
    arr = inputs[name]
    w = dout.astype(np.float64).ravel()
    grad = np.zeros(arr.shape)
    for i in np.ndindex(arr.shape):
        x0 = arr[i]
        xp, xm = np.float32(x0 + H), np.float32(x0 - H)
        arr[i] = xp
        lp = forward(inputs["x"], inputs["gamma"], inputs["beta"], view)[0].numpy().astype(np.float64).ravel() @ w
        arr[i] = xm
        lm = forward(inputs["x"], inputs["gamma"], inputs["beta"], view)[0].numpy().astype(np.float64).ravel() @ w
        arr[i] = x0
        grad[i] = (lp - lm) / (np.float64(xp) - np.float64(xm))
    return grad


@pytest.mark.parametrize("view", VIEWS, ids=lambda v: "x".join(map(str, v)))
@pytest.mark.parametrize("affine", [True, False])
def test_groupnorm_backward_matches_central_differences(view, affine):
    rng = np.random.default_rng(4)
    x, gamma, beta = make(view, rng, affine)
    if beta is None:
        beta = np.zeros(view[2] * view[3], np.float32)
    dout = rng.standard_normal(x.shape).astype(np.float32)
    got = engine_grads(x, gamma, beta, view, dout)
    inputs = {"x": x.copy(), "gamma": gamma, "beta": beta}
    for name in ("x", "gamma", "beta") if affine else ("x", "beta"):
        want = central(inputs, name, view, dout)
        scale = max(1.0, float(np.abs(want).max()))
        np.testing.assert_allclose(got[name], want, atol=TOL * scale, rtol=0, err_msg=name)


def test_groupnorm_backward_accumulates_parameter_gradients():
    rng = np.random.default_rng(5)
    view = (3, 1, 2, 2, 2)
    x, gamma, beta = make(view, rng)
    dout = rng.standard_normal(x.shape).astype(np.float32)
    _, cache = forward(x, gamma, beta, view)
    dx, dg, db = _core.Tensor(), tensor(np.ones(4)), tensor(np.full(4, 2.0))
    ops.groupnorm_backward(dx, dg, db, tensor(dout), cache, tensor(gamma), *view)
    once = engine_grads(x, gamma, beta, view, dout)
    np.testing.assert_allclose(dg.numpy(), once["gamma"] + 1, rtol=1e-5)
    np.testing.assert_allclose(db.numpy(), once["beta"] + 2, rtol=1e-5)


def test_bad_views_raise_value_errors():
    x = tensor(np.zeros(12))
    with pytest.raises(ValueError, match="does not match the input's shape"):
        ops.groupnorm_forward(_core.Tensor(), ops.NormCache(), x, None, None, 2, 1, 2, 2, 2, 1e-3)
    with pytest.raises(ValueError, match="gamma must be a float32 tensor of 6 elements"):
        ops.groupnorm_forward(_core.Tensor(), ops.NormCache(), x, tensor(np.ones(5)), None, 2, 1, 2, 3, 1, 1e-3)
    with pytest.raises(ValueError, match="does not match the forward's cache"):
        ops.groupnorm_backward(_core.Tensor(), None, None, x, ops.NormCache(), None, 2, 1, 2, 3, 1)
