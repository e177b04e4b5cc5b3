"""In-place operations in the graph (``out += residual``, ``nn.ReLU(inplace=True)``, ``h.add_(y)``) and PyTorch's
version-counter check, against PyTorch.

Gradient tolerance: the networks here are a few float32 products of length <= 8 and sums; both libraries
round each operation once, so they agree to a few ulp of the largest gradient (1e-6 relative, 1e-6 absolute
for values of order 1).
"""

from __future__ import annotations

import numpy as np
import pytest

import bnlab.torch as bt

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 3)).astype(np.float32)
W = RNG.standard_normal((3, 3)).astype(np.float32)


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_inplace_arithmetic_and_relu_give_pytorchs_gradients_and_versions():
    def run(T):
        x, w = T.tensor(X, requires_grad=True), T.tensor(W, requires_grad=True)
        h = x @ w
        r = h * 2  # reads no value of h: the later in-place writes do not disturb it
        h += x
        h.mul_(3)
        h.sub_(x, alpha=0.5)
        h /= 2
        out = T.nn.functional.relu(h, inplace=True)
        assert out is h
        y = T.nn.ReLU(inplace=True)(h - 0.5)
        (out.sum() + r.sum() + (y * y).sum()).backward()
        return x.grad.numpy(), w.grad.numpy(), h._version, h.grad_fn.name() if T is torch else h.grad_fn.name

    ours, theirs = run(bt), run(torch)
    close(ours[0], theirs[0])
    close(ours[1], theirs[1])
    assert ours[2] == theirs[2] == 5
    assert theirs[3] == "ReluBackward0" and ours[3] == "Relu"


def test_a_residual_block_with_an_inplace_add_and_inplace_relu_matches_pytorch():
    x0 = RNG.standard_normal((2, 3, 5, 5)).astype(np.float32)

    def block(T):
        T.manual_seed(0)
        nn = T.nn
        conv1, conv2 = nn.Conv2d(3, 3, 3, padding=1, bias=False), nn.Conv2d(3, 3, 3, padding=1, bias=False)
        for conv, seed in ((conv1, 1), (conv2, 2)):  # the same weights in both libraries
            with T.no_grad():
                conv.weight.copy_(
                    T.tensor(np.random.default_rng(seed).standard_normal((3, 3, 3, 3)).astype(np.float32) * 0.2)
                )
        bn1, bn2, relu = nn.BatchNorm2d(3), nn.BatchNorm2d(3), nn.ReLU(inplace=True)
        x = T.tensor(x0, requires_grad=True)
        identity = x
        out = relu(bn1(conv1(x)))
        out = bn2(conv2(out))
        out += identity
        out = relu(out)
        (out * out).mean().backward()
        return x.grad.numpy(), conv1.weight.grad.numpy(), bn2.weight.grad.numpy()

    for ours, theirs in zip(block(bt), block(torch), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def message(fn):
    with pytest.raises(RuntimeError) as err:
        fn()
    return str(err.value)


def cases(T):
    def saved_input():
        h = T.tensor(X, requires_grad=True) * 1.0
        z = h * h  # reads h
        h.add_(1)
        z.sum().backward()

    def saved_output():
        e = (T.tensor(X, requires_grad=True) * 1.0).exp()  # its backward reads e
        e.add_(1)
        e.sum().backward()

    def step_before_backward():
        lin = T.nn.Linear(3, 2)
        opt = T.optim.SGD(lin.parameters(), lr=0.1)
        loss = lin(T.tensor(X) * T.tensor(X)).pow(2).sum()  # the weight's gradient reads the input, dx reads W
        loss.backward(retain_graph=True)
        opt.step()
        inp = T.tensor(X, requires_grad=True)
        loss2 = lin(inp).sum()
        opt.step()  # writes the weight that loss2's backward reads
        loss2.backward()

    def through_detach():
        h = T.tensor(X, requires_grad=True) * 1.0
        z = h * h
        with T.no_grad():
            h.detach().add_(1)  # the same memory, one counter
        z.sum().backward()

    return [saved_input, saved_output, step_before_backward, through_detach]


@pytest.mark.parametrize("i", range(4), ids=["saved input", "saved output", "optimizer step", "via detach"])
def test_writing_a_saved_tensor_raises_pytorchs_error(i):
    ours, theirs = message(cases(bt)[i]), message(cases(torch)[i])
    assert "modified by an inplace operation" in theirs and "modified by an inplace operation" in ours
    if i != 2:  # the same message: the tensor's type and shape, its node, its version and the expected one
        assert ours == theirs
    # (PyTorch's linear saves the weight's transposed view, AsStrided, whose counter its own ops also move)


def test_what_is_not_read_may_be_written_and_leaves_are_refused():
    for T in (bt, torch):
        h = T.tensor(X, requires_grad=True) * 1.0
        y = h + 1  # add reads no value
        h.add_(1)
        y.sum().backward()  # no error in either
    leaf = bt.tensor(X, requires_grad=True)
    assert message(lambda: leaf.add_(1)) == message(lambda: torch.tensor(X, requires_grad=True).add_(1))
    with bt.no_grad():
        leaf.add_(1)  # a manual update: allowed
    assert leaf._version == 1


def test_a_view_of_a_tensor_in_the_graph_is_refused_with_a_clear_error():
    h = bt.tensor(X, requires_grad=True) * 1.0
    with pytest.raises(RuntimeError, match="view"):
        h.view(-1).add_(1)
    with pytest.raises(RuntimeError, match="output with shape"):
        (bt.tensor(X[0], requires_grad=True) * 1.0).add_(bt.tensor(X))
