"""nn.Sequential runs a BatchNorm layer followed by nn.ReLU as one engine op: the same values, gradients and
running statistics as the two layers called one after the other, bit for bit, in training and eval mode."""

from __future__ import annotations

import numpy as np
import pytest

import bnlab.torch as torch
from bnlab.torch import nn


def build(kind):
    torch.manual_seed(0)
    if kind == "2d":
        return nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 25, 4)
        )
    return nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(inplace=True), nn.Linear(16, 4))


def inputs(kind):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 3, 5, 5) if kind == "2d" else (5, 6)).astype(np.float32)
    x.flat[::7] = 0.0  # exact zeros and ties at the ReLU's kink
    return torch.tensor(x, requires_grad=True)


def one_by_one(model, x):
    for module in model:
        x = module(x)
    return x


def run(model, x, call):
    out = call(model, x)
    (out * torch.arange(out.numel()).reshape(out.shape).float()).sum().backward()
    grads = [p.grad.numpy().copy() for p in model.parameters()]
    stats = [b.numpy().copy() for b in model.buffers()]
    return out.detach().numpy(), x.grad.numpy().copy(), grads, stats


@pytest.mark.parametrize("kind", ["1d", "2d"])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_the_fused_pair_equals_the_two_layers_bit_for_bit(kind, mode):
    results = []
    for call in (lambda m, x: m(x), one_by_one):
        model = build(kind)
        if mode == "eval":
            model.train()
            model(inputs(kind) * 3.0 + 1.0)  # running statistics away from their initial values
            model.eval()
        results.append(run(model, inputs(kind), call))
    (o1, dx1, g1, s1), (o2, dx2, g2, s2) = results
    np.testing.assert_array_equal(o1, o2)
    np.testing.assert_array_equal(dx1, dx2)
    for a, b in zip(g1, g2, strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(s1, s2, strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_pair_is_one_node_and_the_relu_really_applies():
    model = nn.Sequential(nn.BatchNorm1d(4), nn.ReLU())
    out = model(torch.tensor(np.arange(12, dtype=np.float32).reshape(3, 4), requires_grad=True))
    assert "NativeBatchNormReluBackward0" in repr(out.grad_fn)
    assert (out.detach().numpy() >= 0).all() and (out.detach().numpy() == 0).any()


def test_a_subclass_that_overrides_forward_is_called_as_it_is():
    class Shifted(nn.BatchNorm1d):
        def forward(self, input):
            return super().forward(input) - 100.0  # every value below zero: the ReLU must give zeros

    model = nn.Sequential(Shifted(4), nn.ReLU())
    out = model(torch.tensor(np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)))
    np.testing.assert_array_equal(out.detach().numpy(), np.zeros((3, 4), np.float32))

    class Leaky(nn.ReLU):
        def forward(self, input):
            return input * 2.0

    model = nn.Sequential(nn.BatchNorm1d(4), Leaky())
    out = model(torch.tensor(np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)))
    assert (out.detach().numpy() < 0).any()
