"""``nn.init``'s normal-family fills against PyTorch's: the same distribution, checked by moments.

A fill of n values has sample mean and standard deviation within a few standard errors of the distribution's
(se(mean) = std / sqrt(n), se(std) ~ std / sqrt(2n)); the tests draw n >= 100,000 and allow 5 standard errors,
so a wrong gain, fan or bound (errors of 10 % or more) fails while sampling noise does not.
"""

import math

import numpy as np
import pytest

import bnlab.torch as bt

torch = pytest.importorskip("torch")


def moments(t):
    a = np.asarray(t.detach().numpy() if hasattr(t, "detach") else t, dtype=np.float64).ravel()
    return a.mean(), a.std(), a.min(), a.max(), a.size


@pytest.mark.parametrize(
    ("name", "shape", "kwargs"),
    [
        ("kaiming_normal_", (256, 64, 3, 3), {"mode": "fan_out", "nonlinearity": "relu"}),
        ("kaiming_normal_", (512, 300), {}),
        ("kaiming_normal_", (400, 250), {"a": 0.2, "mode": "fan_in"}),
        ("xavier_normal_", (300, 400), {"gain": 2.0}),
        ("trunc_normal_", (200_000,), {"mean": 0.3, "std": 1.0, "a": -0.5, "b": 1.0}),
        ("trunc_normal_", (200_000,), {"std": 0.02}),
    ],
)
def test_normal_fills_have_pytorchs_distribution(name, shape, kwargs):
    ours = getattr(bt.nn.init, name)(bt.empty(*shape), **kwargs)
    theirs = getattr(torch.nn.init, name)(torch.empty(*shape), **kwargs)
    (m1, s1, lo1, hi1, n), (m2, s2, *_) = moments(ours), moments(theirs)
    se_mean, se_std = s2 / math.sqrt(n), s2 / math.sqrt(2 * n)
    assert abs(m1 - m2) < 5 * math.sqrt(2) * se_mean and abs(s1 - s2) < 5 * math.sqrt(2) * se_std
    if name == "trunc_normal_":
        assert kwargs.get("a", -2.0) <= lo1 and hi1 <= kwargs.get("b", 2.0)


def test_eye_and_the_errors_match_pytorch():
    np.testing.assert_array_equal(bt.nn.init.eye_(bt.empty(2, 3)).numpy(), torch.nn.init.eye_(torch.empty(2, 3)))
    for fn in (lambda lib: lib.nn.init.eye_(lib.empty(2, 2, 2)), lambda lib: lib.nn.init.kaiming_normal_(
            lib.empty(3, 4), mode="fan_avg")):  # fmt: skip
        with pytest.raises(ValueError) as ours:
            fn(bt)
        with pytest.raises(ValueError) as theirs:
            fn(torch)
        assert str(ours.value) == str(theirs.value)
    assert bt.nn.init.calculate_gain("selu") == torch.nn.init.calculate_gain("selu")
