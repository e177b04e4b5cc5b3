"""BatchNorm1d/2d's internals on the torch face (batch_mean, batch_variance, inv_std, x_hat, dx, dgamma, dbeta,
dx_hat, dbatch_mean, dbatch_variance) against a float64 NumPy reference of the textbook derivation.

Tolerance: every quantity is a sum over the n = N * L values of a channel, plus a few float32 operations; a float32
sum of n terms is within n * u * sum|terms| of the exact one (u = 2^-24), so 4 * n * u times the largest reference
magnitude bounds each comparison (4 for the operations on top of the sum).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

import bnlab.torch as bt

U = 2.0**-24


def reference(x, g, gamma, eps):
    """mu, var, rstd, x_hat, dx_hat, dvar, dmean, dx, dgamma, dbeta in float64 (channel axis 1)."""
    axes = tuple(i for i in range(x.ndim) if i != 1)
    shape = [1, -1] + [1] * (x.ndim - 2)
    x, g = x.astype(np.float64), g.astype(np.float64)
    n = x.size // x.shape[1]
    mu = x.mean(axis=axes)
    var = x.var(axis=axes)
    rstd = 1.0 / np.sqrt(var + eps)
    xc = x - mu.reshape(shape)
    xhat = xc * rstd.reshape(shape)
    dxhat = g * gamma.reshape(shape)
    dvar = (dxhat * xc).sum(axis=axes) * -0.5 * rstd**3
    dmean = -(dxhat * rstd.reshape(shape)).sum(axis=axes) + dvar * (-2.0 * xc).mean(axis=axes)
    dx = dxhat * rstd.reshape(shape) + (dvar * 2.0 / n).reshape(shape) * xc + (dmean / n).reshape(shape)
    return {
        "batch_mean": mu,
        "batch_variance": var,
        "inv_std": rstd,
        "x_hat": xhat,
        "dx_hat": dxhat,
        "dbatch_variance": dvar,
        "dbatch_mean": dmean,
        "dx": dx,
        "dgamma": (g * xhat).sum(axis=axes),
        "dbeta": g.sum(axis=axes),
    }


@pytest.mark.parametrize("shape", [(16, 5), (8, 4, 6), (6, 3, 5, 4)], ids=["N,C", "N,C,L", "N,C,H,W"])
def test_internals_match_the_textbook_derivation(shape):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(shape) * 2 + 1).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    gamma = rng.uniform(0.5, 2.0, shape[1]).astype(np.float32)
    bn = (bt.nn.BatchNorm2d if len(shape) == 4 else bt.nn.BatchNorm1d)(shape[1])
    assert bn.batch_mean is None and bn.dx is None  # nothing before the first training step
    with bt.no_grad():
        bn.weight.copy_(bt.tensor(gamma))
    xb = bt.tensor(x, requires_grad=True)
    out = bn(xb)
    assert bn.dgamma is None  # the forward has run, the backward not yet
    (out * bt.tensor(g)).sum().backward()
    n = x.size // shape[1]
    for name, want in reference(x, g, gamma, bn.eps).items():
        got = getattr(bn, name)
        assert got is not None and got.shape == want.shape, name
        np.testing.assert_allclose(got, want, rtol=0, atol=4 * n * U * max(np.abs(want).max(), 1.0), err_msg=name)
    np.testing.assert_array_equal(bn.dx, xb.grad.numpy())  # the engine's own dx
    np.testing.assert_allclose(bn.dgamma, bn.weight.grad.numpy(), rtol=0, atol=4 * n * U * np.abs(bn.dgamma).max())


def test_the_arrays_are_views_of_the_engine_and_follow_each_step():
    bn = bt.nn.BatchNorm1d(3)
    bn(bt.randn(10, 3))
    first = bn.x_hat
    assert first.base is not None  # a view of the engine's memory, not a copy
    bn(bt.randn(10, 3) * 5)
    assert not np.array_equal(bn.x_hat, first)  # the next step wrote new arrays
    with bt.no_grad():
        bn.eval()
        kept = bn.batch_mean.copy()
        bn(bt.randn(4, 3) + 100)  # eval mode computes no batch statistics
    np.testing.assert_array_equal(bn.batch_mean, kept)


def test_fused_bn_relu_gives_the_gradients_after_the_gate():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((12, 4)).astype(np.float32)
    g = rng.standard_normal((12, 4)).astype(np.float32)
    fused = bt.nn.Sequential(bt.nn.BatchNorm1d(4), bt.nn.ReLU())  # Sequential fuses the pair
    plain = bt.nn.BatchNorm1d(4)
    (fused(bt.tensor(x)) * bt.tensor(g)).sum().backward()
    (bt.nn.functional.relu(plain(bt.tensor(x))) * bt.tensor(g)).sum().backward()
    for name in ("dgamma", "dbeta", "dx_hat", "dbatch_mean", "dbatch_variance"):
        np.testing.assert_allclose(getattr(fused[0], name), getattr(plain, name), rtol=1e-6, atol=1e-6, err_msg=name)


def test_copies_of_a_trained_module_leave_the_step_behind():
    bn = bt.nn.BatchNorm2d(2)
    bn(bt.randn(4, 2, 3, 3))
    twin = copy.deepcopy(bn)
    assert twin.batch_mean is None and bn.batch_mean is not None
    np.testing.assert_array_equal(twin.running_mean.numpy(), bn.running_mean.numpy())
