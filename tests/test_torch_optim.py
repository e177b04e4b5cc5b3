"""bnlab.torch.optim against PyTorch's optimizers, fed the SAME gradients (so the update rules alone are
compared): SGD with momentum, dampening, Nesterov, weight decay and maximize; Adam with betas, eps, weight
decay, amsgrad, maximize and AdamW's decoupled decay. Also zero_grad, state_dict structure and round trip,
parameter groups and argument errors.

Gradients include entries near 1e-8 so that the place of eps (added to the bias-corrected sqrt(v), PyTorch's
convention, not Keras's) changes the result: the comparison at 1e-6 relative would catch it.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import bnlab.torch as bt  # noqa: E402


def params_pair(seed: int = 0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal(3).astype(np.float32)]
    return ([bt.nn.Parameter(bt.tensor(a)) for a in arrays], [torch.nn.Parameter(torch.tensor(a)) for a in arrays])


def run_steps(make_bt, make_torch, steps: int = 6):
    ours, theirs = params_pair()
    ob, ot = make_bt(ours), make_torch(theirs)
    rng = np.random.default_rng(1)
    for step in range(steps):
        for pb, pt in zip(ours, theirs, strict=True):
            g = rng.standard_normal(tuple(pt.shape)).astype(np.float32)
            g[..., 0] *= 1e-8 if step % 2 else 1.0  # tiny gradients: where eps matters
            pb.grad, pt.grad = bt.tensor(g), torch.tensor(g)
        ob.step(), ot.step()
        for pb, pt in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(pb.detach().numpy(), pt.detach().numpy(), rtol=1e-6, atol=1e-7)
    return ob, ot


SGD_CASES = [
    {"lr": 0.1},
    {"lr": 0.1, "momentum": 0.9},
    {"lr": 0.05, "momentum": 0.9, "dampening": 0.3},
    {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.01},
    {"lr": 0.1, "momentum": 0.5, "maximize": True},
]


@pytest.mark.parametrize("kwargs", SGD_CASES, ids=lambda k: ",".join(k))
def test_sgd_matches_pytorch(kwargs):
    ob, ot = run_steps(lambda p: bt.optim.SGD(p, **kwargs), lambda p: torch.optim.SGD(p, **kwargs))
    sb, st = ob.state_dict(), ot.state_dict()
    assert sb["param_groups"] == st["param_groups"]
    assert sb["state"].keys() == st["state"].keys()
    for i, slots in st["state"].items():
        np.testing.assert_allclose(
            sb["state"][i]["momentum_buffer"].numpy(), slots["momentum_buffer"].numpy(), rtol=1e-6, atol=1e-7
        )


ADAM_CASES = [
    {},
    {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6},
    {"weight_decay": 0.1},
    {"amsgrad": True},
    {"maximize": True, "lr": 0.01},
    {"weight_decay": 0.1, "decoupled_weight_decay": True},
]


@pytest.mark.parametrize("kwargs", ADAM_CASES, ids=lambda k: ",".join(k) or "defaults")
def test_adam_matches_pytorch(kwargs):
    ob, ot = run_steps(lambda p: bt.optim.Adam(p, **kwargs), lambda p: torch.optim.Adam(p, **kwargs))
    sb, st = ob.state_dict(), ot.state_dict()
    assert sb["param_groups"] == st["param_groups"]
    for i, slots in st["state"].items():
        assert list(sb["state"][i]) == list(slots)
        assert sb["state"][i]["step"].item() == slots["step"].item() == 6
        # Both moments to 1e-6: the engine forms 1 - beta in double, as PyTorch does.
        for key, rtol in (("exp_avg", 1e-6), ("exp_avg_sq", 1e-6)):
            np.testing.assert_allclose(sb["state"][i][key].numpy(), slots[key].numpy(), rtol=rtol, atol=1e-12)


def test_adamw_is_adam_with_decoupled_decay():
    ob, ot = run_steps(lambda p: bt.optim.AdamW(p, lr=0.01), lambda p: torch.optim.AdamW(p, lr=0.01))
    assert ob.state_dict()["param_groups"] == ot.state_dict()["param_groups"]


def test_state_dict_round_trip_continues_identically():
    ours, _ = params_pair()
    opt = bt.optim.Adam(ours, lr=0.01)
    for p in ours:
        p.grad = bt.ones(*p.shape)
    opt.step()
    saved = opt.state_dict()
    clone = [bt.nn.Parameter(p.detach().clone()) for p in ours]
    opt2 = bt.optim.Adam(clone, lr=0.5)
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["lr"] == 0.01
    for a, b in zip(ours, clone, strict=True):
        b.grad = a.grad.clone()
    opt.step(), opt2.step()
    for a, b in zip(ours, clone, strict=True):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_zero_grad_param_groups_and_errors():
    ours, _ = params_pair()
    opt = bt.optim.SGD([{"params": [ours[0]]}, {"params": [ours[1]], "lr": 0.5}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.state_dict()["param_groups"][1]["params"] == [1]
    for p in ours:
        p.grad = bt.ones(*p.shape)
    opt.zero_grad(set_to_none=False)
    assert all(p.grad is not None and p.grad.sum().item() == 0 for p in ours)
    opt.zero_grad()
    assert all(p.grad is None for p in ours)
    opt.step()  # parameters without gradients are skipped
    for make, message in [
        (lambda: bt.optim.SGD(ours, lr=-1), "Invalid learning rate: -1"),
        (lambda: bt.optim.SGD(ours, lr=0.1, nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
        (lambda: bt.optim.Adam([]), "optimizer got an empty parameter list"),
        (lambda: bt.optim.Adam(ours, betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
        (lambda: bt.optim.SGD([ours[0], ours[0] * 2]), "can't optimize a non-leaf Tensor"),
    ]:
        with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
            make()
    assert repr(bt.optim.Adam(ours)) == repr(torch.optim.Adam(params_pair()[1]))
