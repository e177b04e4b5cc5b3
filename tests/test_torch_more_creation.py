"""bnlab.torch's tensors made from other tensors, the random in-place fills, the in-place shape changes, the
small queries and dtype helpers (bnlab/torch/_creation.py), and the torch-level aliases of methods
(``torch.clamp_``, ``torch.clone``...), against PyTorch. Random values are compared by their distribution
and range, not their numbers (another generator). Skipped without torch (test_torch_more_harness.py)."""

from __future__ import annotations

import numpy as np
import pytest
from test_torch_more_harness import assert_same, bt, check, torch

RNG = np.random.default_rng(13)
X = RNG.standard_normal((3, 4)).astype(np.float32)
INTS = RNG.integers(-4, 5, (3, 4))


def test_new_tensors_like_another():
    for x in (X, INTS):
        check(
            lambda lib, t: (t.new_zeros(2, 3), t.new_ones((2,)), t.new_full((2, 2), 3), t.new_empty(4).shape),
            x,
            grad=False,
        )
        check(
            lambda lib, t: (t.new_tensor([1, 2]), t.new_zeros(2, dtype=lib.bool), t.new_ones(1, dtype=lib.float32)),
            x,
            grad=False,
        )
        check(
            lambda lib, t: (lib.empty_like(t).shape, lib.empty_like(t).dtype, lib.empty_like(t, dtype=lib.int64).dtype),
            x,
            grad=False,
        )
    ours = bt.tensor(X).new_zeros(2, requires_grad=True)
    assert ours.requires_grad and ours.is_leaf


def test_random_tensors_like_another_and_logspace():
    for lib in (bt, torch):
        lib.manual_seed(0)
        r, n = lib.rand_like(lib.tensor(X)), lib.randn_like(lib.tensor(X))
        i = lib.randint_like(lib.tensor(INTS), 3, 7)
        j = lib.randint_like(lib.tensor(X), 10)
        assert r.shape == n.shape == (3, 4) and r.dtype == n.dtype == lib.float32
        assert r.min().item() >= 0 and r.max().item() < 1
        assert i.dtype == lib.int64 and i.min().item() >= 3 and i.max().item() < 7
        assert j.dtype == lib.float32 and j.max().item() < 10 and np.all(j.numpy() == np.round(j.numpy()))
        with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
            lib.rand_like(lib.tensor(INTS))
    check(
        lambda lib, t: (
            lib.logspace(-2, 2, 5),
            lib.logspace(0, 3, 4, base=2.0),
            lib.logspace(0, 1, 3, dtype=lib.int64),
        ),
        X,
        grad=False,
    )
    check(lambda lib, t: (lib.scalar_tensor(3), lib.scalar_tensor(1.5, dtype=lib.int64)), X, grad=False)


def test_asarray():
    a = np.arange(4)
    ours = bt.asarray(a)
    ours[0] = 7  # shares the array's memory, as torch.asarray does
    assert a[0] == 7
    t = bt.tensor(X)
    assert bt.asarray(t) is t and bt.asarray(t, copy=True) is not t
    check(
        lambda lib, t: (lib.asarray([1.0, 2.0]), lib.asarray([[1, 2]]), lib.asarray(t, dtype=lib.int64)), X, grad=False
    )


def _stats(t):
    a = t.numpy().astype(np.float64)
    return a.mean(), a.std(), a.min(), a.max()


def test_random_fills_have_the_right_distribution():
    with bt.no_grad():
        w = bt.empty(20000, requires_grad=True)
        assert w.uniform_(-2, 3) is w and w.requires_grad
    mean, std, lo, hi = _stats(w.detach())
    assert abs(mean - 0.5) < 0.05 and lo >= -2 and hi < 3 and abs(std - 5 / 12**0.5) < 0.05
    mean, std, _, _ = _stats(bt.empty(20000).normal_(1.0, 2.0))
    assert abs(mean - 1) < 0.06 and abs(std - 2) < 0.06
    mean, _, lo, hi = _stats(bt.empty(20000).bernoulli_(0.25))
    assert abs(mean - 0.25) < 0.02 and {lo, hi} == {0.0, 1.0}
    mean, _, lo, _ = _stats(bt.empty(20000).exponential_(2.0))
    assert abs(mean - 0.5) < 0.03 and lo >= 0
    mean, _, lo, _ = _stats(bt.empty(20000).geometric_(0.5))
    assert abs(mean - 2) < 0.06 and lo >= 1
    med = np.median(bt.empty(20000).log_normal_(0.0, 1.0).numpy())
    assert abs(med - 1) < 0.06
    med = np.median(bt.empty(20000).cauchy_(3.0, 1.0).numpy())
    assert abs(med - 3) < 0.06
    r = bt.empty(20000, dtype=bt.int64).random_(2, 5)
    assert set(np.unique(r.numpy())) == {2, 3, 4}
    assert set(np.unique(bt.zeros(2000).random_(3).numpy())) == {0.0, 1.0, 2.0}
    draws = bt.bernoulli(bt.full((20000,), 0.75))
    assert draws.dtype == bt.float32 and abs(draws.mean().item() - 0.75) < 0.02
    assert bt.full((3,), 0.5).bernoulli(p=1.0).sum().item() == 3 and bt.rand(4).bernoulli().max().item() <= 1
    g1, g2 = bt.Generator().manual_seed(4), bt.Generator().manual_seed(4)
    np.testing.assert_array_equal(bt.empty(5).normal_(generator=g1).numpy(), bt.empty(5).normal_(generator=g2).numpy())
    for lib in (bt, torch):
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
            lib.zeros(3, requires_grad=True).uniform_()


def test_fill_diagonal_apply_map():
    for wrap in (False, True):
        check(lambda lib, t, w=wrap: t.clone().fill_diagonal_(5.0, wrap=w), np.zeros((7, 3), np.float32), grad=False)
    check(lambda lib, t: t.clone().fill_diagonal_(2), np.zeros((3, 3, 3), np.int64), grad=False)
    check(lambda lib, t: t.clone().apply_(lambda v: v * 2 + 1), X, grad=False)
    check(lambda lib, t: t.clone().map_(t[0], lambda a, b: a - b), X, grad=False)


def test_in_place_shape_changes():
    for x in (X, INTS):
        check(lambda lib, t: (t.clone().unsqueeze_(1), t.clone().t_(), t.clone().transpose_(0, 1)), x, grad=False)
        check(lambda lib, t: (t.clone().swapaxes_(0, 1), t.clone().swapdims_(1, 0)), x, grad=False)
        check(
            lambda lib, t: (t[:1].clone().squeeze_(), t[:1].clone().squeeze_(0), t.clone().squeeze_(1)), x, grad=False
        )
    t = bt.tensor(X)
    alias = t.view(-1)
    t.unsqueeze_(0)
    alias[0] = 42.0  # the same memory
    assert t.shape == (1, 3, 4) and t[0, 0, 0].item() == 42.0


def test_queries():
    for x in (X, INTS, INTS.astype(np.uint8), X > 0, np.array(1.5, np.float32)):
        check(
            lambda lib, t: (
                t.stride(),
                t.ndimension(),
                t.is_cpu,
                t.itemsize,
                t.nbytes,
                t.get_device(),
                t.is_contiguous(),
                t.is_signed(),
                t.is_complex(),
                t.is_inference(),
                t.storage_offset(),
                lib.is_signed(t),
                lib.is_complex(t),
                lib.is_floating_point(t),
            ),
            x,
            grad=False,
        )
    check(lambda lib, t: (t.stride(1), t.stride(-2), t.is_same_size(t[0]), lib.is_same_size(t, t * 2)), X, grad=False)
    check(lambda lib, t: (t[0, 0].is_nonzero(), lib.is_nonzero(t[0, :1] * 0)), X, grad=False)
    check(
        lambda lib, t, o: (t.type_as(o), o.type_as(t), t.byte(), t.mT, lib.zeros(2, 3, 4).mT.shape), X, INTS, grad=False
    )
    check(lambda lib, t: (t.sum_to_size(1, 4), t.sum_to_size(3, 1), t.sum_to_size(4)), X)
    for lib in (bt, torch):
        with pytest.raises(RuntimeError, match="Boolean value of Tensor with more than one value is ambiguous"):
            lib.tensor(X).is_nonzero()


def test_dtype_helpers():
    dts = ["float32", "int64", "int32", "uint8", "bool"]
    for a in dts:
        for b in dts:
            ta, tb = getattr(torch, a), getattr(torch, b)
            ba, bb = getattr(bt, a), getattr(bt, b)
            assert str(bt.promote_types(ba, bb)) == str(torch.promote_types(ta, tb)), (a, b)
            assert bt.can_cast(ba, bb) == torch.can_cast(ta, tb), (a, b)
    check(
        lambda lib, t, i: (
            lib.result_type(t, i),
            lib.result_type(i, 2.5),
            lib.result_type(i, 2),
            lib.result_type(i, t > 0),
        ),
        X,
        INTS,
        grad=False,
    )
    assert str(bt.get_default_dtype()) == str(torch.get_default_dtype())
    bt.set_default_dtype(bt.float32)
    with pytest.raises(TypeError, match="float32 only"):
        bt.set_default_dtype(bt.int64)
    assert bt.typename(bt.tensor(X)) == torch.typename(torch.tensor(X)) and bt.typename(3) == torch.typename(3)


TORCH_INPLACE = " ".join(
    [
        "abs_ acos_ acosh_ arccos_ arccosh_ arcsin_ arcsinh_ arctan_ arctanh_ asin_ asinh_ atan_ atanh_",
        "ceil_ cos_ cosh_ deg2rad_ erf_ erfc_ exp2_ exp_ expm1_ fix_ floor_ frac_ log10_ log1p_ log2_ log_",
        "logit_ nan_to_num_ neg_ negative_ rad2deg_ reciprocal_ round_ rsqrt_ sigmoid_ sin_ sinc_ sinh_",
        "sqrt_ square_ tan_ tanh_ trunc_ relu_ zero_",
    ]
).split()


@pytest.mark.parametrize("name", TORCH_INPLACE)
def test_torch_level_in_place_functions(name):
    x = np.abs(X) * 0.3 + 1.05 if name.startswith(("acosh", "arccosh")) else np.clip(np.abs(X), 0.1, 0.9)
    ours, theirs = bt.tensor(x), torch.tensor(x)
    assert getattr(bt, name)(ours) is ours
    getattr(torch, name)(theirs)
    assert_same(ours, theirs, rtol=2e-5)


def test_torch_level_aliases():
    check(
        lambda lib, t: (
            lib.clamp_(t.clone(), 0.0, 0.5),
            lib.clip_(t.clone(), -0.1),
            lib.clamp_min_(t.clone(), 0.0),
            lib.clamp_max_(t.clone(), 0.0),
            lib.xlogy_(t.abs(), 2.0),
        ),
        X,
    )
    check(lambda lib, t: (lib.clone(t), lib.detach(t), lib.t(t), lib.reshape(t, (2, -1)), lib.fill(t, 2.0)), X)
    check(lambda lib, t: (lib.expand_copy(t[:1], (2, 4)), lib.square(t), lib.where(t > 0, t, 0.0)), X)
    t = bt.tensor(X, requires_grad=True)
    assert bt.detach(t).requires_grad is False and bt.clone(t).requires_grad
