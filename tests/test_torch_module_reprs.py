"""Every bnlab.torch.nn module prints as PyTorch's does: ``print(model)`` in a notebook shows the same text on
both, for the constructor arguments that change it (and a container of them)."""

from __future__ import annotations

import pytest

import bnlab.torch as bt

torch = pytest.importorskip("torch")

CASES = [
    ("Linear", (3, 4), {}),
    ("Linear", (3, 4), {"bias": False}),
    ("BatchNorm1d", (5,), {}),
    ("BatchNorm1d", (5,), {"affine": False, "momentum": None}),
    ("BatchNorm2d", (5,), {"eps": 1e-3, "track_running_stats": False}),
    ("BatchNorm2d", (5,), {"bias": False}),
    ("Conv2d", (3, 8, 3), {}),
    ("Conv2d", (3, 8, 3), {"stride": 2, "padding": 1, "bias": False}),
    ("Conv2d", (3, 8, (3, 5)), {"padding": "same"}),
    ("MaxPool2d", (2,), {}),
    ("MaxPool2d", (3, 2, 1), {}),
    ("AvgPool2d", (2,), {}),
    ("AdaptiveAvgPool2d", ((1, 1),), {}),
    ("AdaptiveAvgPool2d", (1,), {}),
    ("ReLU", (), {}),
    ("ReLU", (), {"inplace": True}),
    ("Sigmoid", (), {}),
    ("Tanh", (), {}),
    ("Softmax", (), {"dim": 1}),
    ("LogSoftmax", (), {"dim": -1}),
    ("Dropout", (), {}),
    ("Dropout", (0.2,), {}),
    ("Flatten", (), {}),
    ("Identity", (), {}),
    ("LayerNorm", (6,), {}),
    ("LayerNorm", ((2, 3),), {"elementwise_affine": False}),
    ("LayerNorm", (4,), {"bias": False}),
    ("GroupNorm", (2, 6), {}),
    ("GroupNorm", (2, 6), {"affine": False}),
    ("GroupNorm", (3, 6), {"bias": False}),
    ("CrossEntropyLoss", (), {}),
    ("MSELoss", (), {}),
    ("NLLLoss", (), {}),
]


@pytest.mark.parametrize("name,args,kwargs", CASES, ids=lambda c: str(c))
def test_repr_equals_pytorchs(name, args, kwargs):
    assert repr(getattr(bt.nn, name)(*args, **kwargs)) == repr(getattr(torch.nn, name)(*args, **kwargs))


def test_parameters_follow_bias_false_as_in_pytorch():
    for name, args in (("GroupNorm", (3, 6)), ("LayerNorm", (4,)), ("BatchNorm1d", (4,))):
        ours = [n for n, _ in getattr(bt.nn, name)(*args, bias=False).named_parameters()]
        theirs = [n for n, _ in getattr(torch.nn, name)(*args, bias=False).named_parameters()]
        assert ours == theirs == ["weight"]


def test_a_container_prints_as_pytorchs():
    def net(nn):
        return nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 9, 10)
        )

    assert repr(net(bt.nn)) == repr(net(torch.nn))
    assert repr(bt.nn.ModuleList([bt.nn.ReLU(), bt.nn.Tanh()])) == repr(
        torch.nn.ModuleList([torch.nn.ReLU(), torch.nn.Tanh()])
    )
