"""Lazy modules (d2l's BN chapter builds its networks with them): shapes from the first input, the module
turning into its eager class, reprs as PyTorch's before and after, an optimizer made before the first forward,
and the same numbers as the eager network drawn from the same seed."""

from __future__ import annotations

import numpy as np
import pytest

import bnlab.torch as bt


def lazy_net(nn):
    return nn.Sequential(
        nn.LazyConv2d(6, kernel_size=5, padding=2),
        nn.LazyBatchNorm2d(),
        nn.ReLU(),
        nn.Flatten(),
        nn.LazyLinear(10),
        nn.LazyBatchNorm1d(),
    )


def test_first_forward_materializes_and_turns_into_the_eager_classes():
    net = lazy_net(bt.nn)
    assert net[0].in_channels == 0 and net[4].in_features == 0 and net[1].num_features == 0
    assert repr(net[0].weight) == "<UninitializedParameter>"
    net(bt.randn(4, 1, 8, 8))
    assert [type(m) for m in net] == [
        bt.nn.Conv2d,
        bt.nn.BatchNorm2d,
        bt.nn.ReLU,
        bt.nn.Flatten,
        bt.nn.Linear,
        bt.nn.BatchNorm1d,
    ]
    assert [tuple(p.shape) for p in net.parameters()] == [
        (6, 1, 5, 5),
        (6,),
        (6,),
        (6,),
        (10, 384),
        (10,),
        (10,),
        (10,),
    ]
    assert not net[0]._forward_pre_hooks  # the inference hook is gone after it ran
    assert type(net[0].weight) is bt.nn.Parameter


def test_reprs_match_pytorch_before_and_after_the_first_forward():
    torch = pytest.importorskip("torch")
    ours, theirs = lazy_net(bt.nn), lazy_net(torch.nn)
    assert repr(ours) == repr(theirs)
    ours(bt.randn(2, 3, 8, 8))
    theirs(torch.randn(2, 3, 8, 8))
    assert repr(ours) == repr(theirs)


def test_same_numbers_as_the_eager_network_from_the_same_seed_and_an_early_optimizer():
    x = bt.tensor(np.random.default_rng(0).standard_normal((8, 1, 8, 8)).astype(np.float32))
    bt.manual_seed(7)
    lazy = lazy_net(bt.nn)
    opt = bt.optim.SGD(lazy.parameters(), lr=0.1)  # made before the parameters have shapes
    loss = lazy(x).pow(2).mean()  # the first forward draws the initial weights
    bt.manual_seed(7)
    eager = bt.nn.Sequential(
        bt.nn.Conv2d(1, 6, 5, padding=2),
        bt.nn.BatchNorm2d(6),
        bt.nn.ReLU(),
        bt.nn.Flatten(),
        bt.nn.Linear(384, 10),
        bt.nn.BatchNorm1d(10),
    )
    for p, q in zip(lazy.parameters(), eager.parameters(), strict=True):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
    loss.backward()
    opt.step()
    eager_loss = eager(x).pow(2).mean()
    assert loss.item() == eager_loss.item()
    eager_loss.backward()
    bt.optim.SGD(eager.parameters(), lr=0.1).step()
    for p, q in zip(lazy.parameters(), eager.parameters(), strict=True):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


def test_lazy_conv_reads_unbatched_inputs_and_refuses_other_ranks():
    conv = bt.nn.LazyConv2d(4, 3)
    assert tuple(conv(bt.randn(2, 5, 5)).shape) == (4, 3, 3)
    assert conv.in_channels == 2
    with pytest.raises(RuntimeError, match=r"Expected 3D .* or 4D"):
        bt.nn.LazyConv2d(4, 3)(bt.randn(5, 5))
