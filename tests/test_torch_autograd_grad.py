"""bnlab.torch.autograd.grad: gradients returned, never accumulated; against PyTorch where it is installed."""

import numpy as np
import pytest

import bnlab.torch as torch


def test_grad_returns_gradients_without_touching_dot_grad():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    h = x * x
    y = (h * 3.0).sum()
    gx, gh = torch.autograd.grad(y, [x, h])
    np.testing.assert_allclose(gx.numpy(), [6.0, 12.0], rtol=1e-6)
    np.testing.assert_allclose(gh.numpy(), [3.0, 3.0], rtol=1e-6)
    assert x.grad is None


def test_unused_inputs_and_freed_graphs_raise_as_pytorch():
    a = torch.tensor([1.0], requires_grad=True)
    b = torch.tensor([1.0], requires_grad=True)
    y = (a * 2.0).sum()
    with pytest.raises(RuntimeError, match="appears to not have been used"):
        torch.autograd.grad(y, [a, b], retain_graph=True)
    _, gb = torch.autograd.grad(y, [a, b], allow_unused=True, materialize_grads=True)
    assert gb.numpy().tolist() == [0.0]
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        torch.autograd.grad(y, a)
    with pytest.raises(RuntimeError, match="does not require grad"):
        torch.autograd.grad((a * 2.0).sum(), torch.tensor([1.0]))


def test_grad_matches_pytorch():
    real = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    w = rng.standard_normal((5, 3)).astype(np.float32)
    xs = rng.standard_normal((4, 5)).astype(np.float32)
    seed = rng.standard_normal((4, 3)).astype(np.float32)
    got = []
    for lib in (torch, real):
        wt = lib.tensor(w, requires_grad=True)
        x = lib.tensor(xs, requires_grad=True)
        out = lib.tanh(x @ wt)
        got.append([g.detach().numpy() for g in lib.autograd.grad(out, [x, wt], grad_outputs=lib.tensor(seed))])
    for mine, ref in zip(*got, strict=True):
        np.testing.assert_allclose(mine, ref, rtol=1e-5, atol=1e-6)
