"""bnlab.torch against real PyTorch: the same initial weights in both, then forward outputs, losses,
gradients, running statistics and weights compared after several optimizer steps. Skipped without torch.

Comparison: ``close(a, b)`` asserts max|a - b| <= rtol * max|b| (1e-5 unless stated), relative to the
tensor's scale rather than elementwise: both frameworks compute in float32 with different summation orders
(OpenBLAS vs oneDNN), so an entry that is near 0 (or exactly 0 in exact arithmetic, such as the gradient of
a bias followed by BatchNorm) carries rounding of the order of 1e-7 of the tensor's largest entries and has
no meaningful elementwise relative error.

Covered: Linear; BatchNorm1d in every mode (default, momentum=None, affine=False, bias=False,
track_running_stats=False, 3-D input, eval after training, training inside no_grad); ReLU, CrossEntropyLoss,
Dropout(p=0); seed 000's whole model (with and without BN) under Adam and SGD; the error for a batch of one.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import bnlab.torch as bt  # noqa: E402
import bnlab.torch.nn as bnn  # noqa: E402

RTOL = 1e-5


def arr(t) -> np.ndarray:
    return t.detach().cpu().numpy() if hasattr(t, "cpu") and not isinstance(t, bt.Tensor) else t.detach().numpy()


def close(a, b, rtol: float = RTOL, what: str = "") -> float:
    """Assert bnlab's ``a`` matches torch's ``b`` relative to b's scale; returns the relative error."""
    x, y = np.asarray(arr(a), dtype=np.float64), np.asarray(arr(b), dtype=np.float64)
    assert x.shape == y.shape, (what, x.shape, y.shape)
    scale = max(np.abs(y).max(initial=0.0), 1e-30)
    err = np.abs(x - y).max(initial=0.0) / scale
    assert err <= rtol, f"{what}: relative error {err:.3g} > {rtol:g}"
    return err


def pair(bn_module, torch_module):
    """Copy torch's parameters and buffers into the bnlab module (same initial state)."""
    bn_module.load_state_dict(torch_module.state_dict())
    return bn_module, torch_module


def data(rng, *shape, scale=1.0):
    x = (rng.standard_normal(shape) * scale).astype(np.float32)
    return bt.tensor(x), torch.from_numpy(x.copy())


# ---------------------------------------------------------------- single layers
def test_linear_forward_backward_and_sgd_steps():
    rng = np.random.default_rng(0)
    b, t = pair(bnn.Linear(20, 7), torch.nn.Linear(20, 7))
    ob, ot = (
        bt.optim.SGD(b.parameters(), lr=0.1, momentum=0.9),
        torch.optim.SGD(t.parameters(), lr=0.1, momentum=0.9),
    )
    for _ in range(4):
        (xb, xt), (wb, wt) = data(rng, 16, 20), data(rng, 16, 7)
        xb.requires_grad_(), xt.requires_grad_()
        yb, yt = b(xb), t(xt)
        close(yb, yt, what="output")
        ob.zero_grad(), ot.zero_grad()
        (yb * wb).sum().backward(), (yt * wt).sum().backward()
        close(xb.grad, xt.grad, what="input grad")
        close(b.weight.grad, t.weight.grad, what="weight grad")
        close(b.bias.grad, t.bias.grad, what="bias grad")
        ob.step(), ot.step()
    close(b.weight, t.weight, what="weight")
    close(b.bias, t.bias, what="bias")


def test_linear_init_matches_pytorch_bounds():
    bt.manual_seed(0)
    layer = bnn.Linear(400, 300)
    bound = 1 / np.sqrt(400)
    w, bias = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(bias).max() <= bound
    assert abs(w.std() - bound / np.sqrt(3)) < 0.01 * bound  # U(-b, b) has std b / sqrt(3)
    bt.manual_seed(0)
    np.testing.assert_array_equal(bnn.Linear(400, 300).weight.detach().numpy(), w)  # reproducible


BN_CASES = {
    "default": ({}, (32, 6)),
    "momentum_None": ({"momentum": None}, (32, 6)),
    "affine_False": ({"affine": False}, (32, 6)),
    "bias_False": ({"bias": False}, (32, 6)),
    "track_running_stats_False": ({"track_running_stats": False}, (32, 6)),
    "3d_input": ({}, (8, 6, 5)),
    "3d_momentum_None": ({"momentum": None}, (8, 6, 5)),
}


def check_batchnorm_train_then_eval(b, t, rng, shape, train_steps, eval_steps=2):
    """bnlab's BatchNorm ``b`` against PyTorch's ``t`` (same class and arguments): a few training steps with SGD,
    then eval steps, on inputs of ``shape`` whose mean is far from 0 (as after a Linear or Conv layer): outputs,
    input and parameter gradients, running statistics and num_batches_tracked, and the weights at the end."""
    if t.weight is not None:  # non-trivial gamma and beta
        with torch.no_grad():
            t.weight.uniform_(0.5, 1.5)
            if t.bias is not None:
                t.bias.uniform_(-0.5, 0.5)
    pair(b, t)
    assert repr(b) == repr(t)
    assert list(b.state_dict()) == list(t.state_dict())
    params_b, params_t = list(b.parameters()), list(t.parameters())
    ob = bt.optim.SGD(params_b, lr=0.05) if params_b else None
    ot = torch.optim.SGD(params_t, lr=0.05) if params_t else None
    for mode in ["train"] * train_steps + ["eval"] * eval_steps:
        b.train(mode == "train"), t.train(mode == "train")
        (xb, xt), (wb, wt) = data(rng, *shape, scale=3.0), data(rng, *shape)
        xb, xt = xb + 2.0, xt + 2.0
        xb.requires_grad_(), xt.requires_grad_()
        yb, yt = b(xb), t(xt)
        close(yb, yt, what=f"{mode} output")
        (yb * wb).sum().backward(), (yt * wt).sum().backward()
        close(xb.grad, xt.grad, what=f"{mode} input grad")
        for pb, pt in zip(params_b, params_t, strict=True):
            close(pb.grad, pt.grad, what=f"{mode} param grad")
        if t.track_running_stats:  # running_var blends the unbiased variance over the N*L values per channel
            close(b.running_mean, t.running_mean, what="running_mean")
            close(b.running_var, t.running_var, what="running_var")
            assert int(b.num_batches_tracked) == int(t.num_batches_tracked)
            assert b.num_batches_tracked.dtype is bt.int64
        else:
            assert b.running_mean is None and b.running_var is None and b.num_batches_tracked is None
        if ob is not None:
            ob.step(), ot.step(), ob.zero_grad(), ot.zero_grad()
    for pb, pt in zip(params_b, params_t, strict=True):
        close(pb, pt, what="weights after SGD")


@pytest.mark.parametrize("case", list(BN_CASES))
def test_batchnorm1d_matches_pytorch_in_training_then_eval(case):
    kwargs, shape = BN_CASES[case]
    b, t = bnn.BatchNorm1d(6, **kwargs), torch.nn.BatchNorm1d(6, **kwargs)
    check_batchnorm_train_then_eval(b, t, np.random.default_rng(1), shape, train_steps=5)


def test_batchnorm1d_running_var_is_unbiased_and_eval_uses_running_stats():
    bn = bnn.BatchNorm1d(1, momentum=1.0)  # running stats := the last batch's
    x = bt.tensor([[1.0], [2.0], [6.0]])
    bn(x)
    assert bn.running_mean.item() == pytest.approx(3.0)
    assert bn.running_var.item() == pytest.approx(7.0)  # unbiased: 14 / 2 (the biased one would be 14 / 3)
    bn.eval()
    y = bn(bt.tensor([[3.0 + np.sqrt(7.0)]]))  # one sample is fine in eval mode
    assert y.item() == pytest.approx(1.0, rel=1e-5)


@pytest.mark.parametrize("shape", [(1, 5), (1, 5, 1)])
def test_batch_of_one_in_training_raises_pytorchs_error(shape):
    x = np.ones(shape, np.float32)
    with pytest.raises(ValueError) as expected:
        torch.nn.BatchNorm1d(5)(torch.from_numpy(x))
    with pytest.raises(ValueError) as got:
        bnn.BatchNorm1d(5)(bt.from_numpy(x))
    assert str(got.value) == str(expected.value)
    assert "Expected more than 1 value per channel when training, got input size torch.Size([1, 5" in str(got.value)


def test_wrong_rank_raises_pytorchs_error():
    x = np.ones((2, 5, 3, 3), np.float32)
    with pytest.raises(ValueError) as expected:
        torch.nn.BatchNorm1d(5)(torch.from_numpy(x))
    with pytest.raises(ValueError) as got:
        bnn.BatchNorm1d(5)(bt.from_numpy(x))
    assert str(got.value) == str(expected.value) == "expected 2D or 3D input (got 4D input)"


def test_training_mode_inside_no_grad_warns_once_and_keeps_pytorchs_numbers():
    rng = np.random.default_rng(2)
    b, t = pair(bnn.BatchNorm1d(4), torch.nn.BatchNorm1d(4))
    for i in range(3):
        xb, xt = data(rng, 10, 4)
        with bt.no_grad(), torch.no_grad():
            if i == 0:
                with pytest.warns(bt.BatchNormTrainingModeWarning, match=r"model\.eval\(\)"):
                    yb = b(xb)
            else:
                yb = b(xb)  # once per layer: no second warning (pytest turns warnings into errors)
            yt = t(xt)
        close(yb, yt, what="output")
        close(b.running_mean, t.running_mean, what="running_mean")
    b.eval()
    with bt.no_grad():
        b(data(rng, 10, 4)[0])  # eval mode: no warning


def test_relu_cross_entropy_and_dropout_p0():
    rng = np.random.default_rng(3)
    (xb, xt) = data(rng, 12, 5, scale=2.0)
    labels = rng.integers(0, 5, 12)
    xb.requires_grad_(), xt.requires_grad_()
    hb, ht = bnn.Dropout(p=0.0)(bnn.ReLU()(xb)), torch.nn.Dropout(p=0.0)(torch.nn.ReLU()(xt))
    close(hb, ht, what="relu + dropout(0)")
    for reduction in ("mean", "sum"):
        lb = bnn.CrossEntropyLoss(reduction=reduction)(hb, bt.tensor(labels))
        lt = torch.nn.CrossEntropyLoss(reduction=reduction)(ht, torch.from_numpy(labels))
        close(lb, lt, what=f"loss {reduction}")
    lb.backward(), lt.backward()
    close(xb.grad, xt.grad, what="input grad")


def test_cross_entropy_gradient_for_a_scaled_seed_and_repeated_backward_on_a_leaf():
    """The forward also writes the gradient for the seed 1; any other seed, and every backward after the first
    (retain_graph), is recomputed: a leaf input gets 1x, 2x, then 3x the gradient, never its own buffer doubled."""
    rng = np.random.default_rng(5)
    (xb, xt) = data(rng, 8, 6, scale=2.0)
    labels = rng.integers(0, 6, 8)
    xb.requires_grad_(), xt.requires_grad_()
    lb = bnn.functional.cross_entropy(xb, bt.tensor(labels))
    lt = torch.nn.functional.cross_entropy(xt, torch.from_numpy(labels))
    for k in (1, 2, 3):
        lb.backward(retain_graph=True), lt.backward(retain_graph=True)
        close(xb.grad, xt.grad, what=f"grad after {k} backward passes")
    xb.grad = xt.grad = None
    for reduction in ("mean", "sum"):
        (2.5 * bnn.functional.cross_entropy(xb, bt.tensor(labels), reduction=reduction)).backward()
        (2.5 * torch.nn.functional.cross_entropy(xt, torch.from_numpy(labels), reduction=reduction)).backward()
        close(xb.grad, xt.grad, what=f"grad of 2.5 x the {reduction} loss")
        xb.grad = xt.grad = None


def test_cross_entropy_with_weights_ignore_index_and_no_reduction_and_nll():
    rng = np.random.default_rng(4)
    (xb, xt) = data(rng, 9, 4)
    labels = rng.integers(0, 4, 9)
    labels[2] = -100
    weight = np.array([1.0, 2.0, 0.5, 1.5], np.float32)
    xb.requires_grad_(), xt.requires_grad_()
    for kwargs in ({"weight": weight}, {"reduction": "none"}, {}):
        kb = {k: bt.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
        kt = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
        lb = bnn.functional.cross_entropy(xb, bt.tensor(labels), **kb)
        lt = torch.nn.functional.cross_entropy(xt, torch.from_numpy(labels), **kt)
        close(lb, lt, what=f"loss {kwargs}")
        xb.grad = xt.grad = None
        (lb * bt.tensor(np.arange(1, lb.numel() + 1, dtype=np.float32)).view(lb.shape)).sum().backward()
        (lt * torch.arange(1, lt.numel() + 1, dtype=torch.float32).view(lt.shape)).sum().backward()
        close(xb.grad, xt.grad, what=f"grad {kwargs}")
    nb = bnn.NLLLoss()(bnn.LogSoftmax(dim=1)(xb), bt.tensor(labels))
    nt = torch.nn.NLLLoss()(torch.nn.LogSoftmax(dim=1)(xt), torch.from_numpy(labels))
    close(nb, nt, what="nll")


# ---------------------------------------------------------------- seed 000's model
class SeedNetBt(bnn.Module):
    def __init__(self, bn: bool):
        super().__init__()
        self.fc1 = bnn.Linear(784, 128)
        if bn:
            self.bn = bnn.BatchNorm1d(128)
        self.relu = bnn.ReLU()
        self.fc2 = bnn.Linear(128, 10)

    def forward(self, x):
        out = self.fc1(x)
        if hasattr(self, "bn"):
            out = self.bn(out)
        return self.fc2(self.relu(out))


class SeedNetTorch(torch.nn.Module):
    def __init__(self, bn: bool):
        super().__init__()
        self.fc1 = torch.nn.Linear(784, 128)
        if bn:
            self.bn = torch.nn.BatchNorm1d(128)
        self.relu = torch.nn.ReLU()
        self.fc2 = torch.nn.Linear(128, 10)

    def forward(self, x):
        out = self.fc1(x)
        if hasattr(self, "bn"):
            out = self.bn(out)
        return self.fc2(self.relu(out))


@pytest.mark.parametrize("bn", [False, True], ids=["no_bn", "bn"])
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_seed000_model_trains_identically(bn, optimizer):
    """Seed 000's 784-128-10 network, batch 100, 8 steps: loss, every gradient and the running statistics at
    each step; the weights at the end.

    Gradients are compared with atol = 1e-5 x (the largest gradient entry of the model): fc1.bias before
    BatchNorm has an exact gradient of 0 (BN subtracts the batch mean), so both frameworks return rounding
    noise there. Weights after Adam: Adam divides each gradient entry by its own running RMS, so rounding
    noise in an entry that is ~0 becomes a step of up to lr; fc1.bias before BN therefore drifts by
    O(steps x lr) differently in each framework (harmlessly: BN removes it, the outputs stay equal), and
    other tiny entries by ~1e-3 lr per step. Adam weights are compared with atol = steps x lr x 2e-3 (fc1.bias
    before BN skipped, its effect on the output checked instead); SGD weights at 1e-5 relative. For the same
    reason running_mean (an average of fc1 outputs, bias included) may differ by the bias drift so far.
    """
    torch.manual_seed(0)
    t = SeedNetTorch(bn)
    b = pair(SeedNetBt(bn), t)[0]
    lr = 1e-3 if optimizer == "adam" else 0.1
    if optimizer == "adam":
        ob, ot = bt.optim.Adam(b.parameters(), lr=lr), torch.optim.Adam(t.parameters(), lr=lr)
    else:
        ob = bt.optim.SGD(b.parameters(), lr=lr, momentum=0.9)
        ot = torch.optim.SGD(t.parameters(), lr=lr, momentum=0.9)
    rng = np.random.default_rng(5)
    steps = 8
    bias_drift = 0.0  # the largest |fc1.bias difference| so far (see the docstring)
    for _ in range(steps):
        x = (rng.random((100, 784)) * (rng.random((100, 784)) > 0.6)).astype(np.float32)  # sparse, like digits
        y = rng.integers(0, 10, 100)
        lb = bnn.CrossEntropyLoss()(b(bt.from_numpy(x)), bt.from_numpy(y))
        lt = torch.nn.CrossEntropyLoss()(t(torch.from_numpy(x)), torch.from_numpy(y))
        close(lb, lt, what="loss")
        ob.zero_grad(), ot.zero_grad()
        lb.backward(), lt.backward()
        gscale = max(np.abs(arr(p.grad)).max() for p in t.parameters())
        for (name, pt), pb in zip(t.named_parameters(), b.parameters(), strict=True):
            err = np.abs(arr(pb.grad) - arr(pt.grad)).max()
            assert err <= RTOL * gscale, f"grad {name}: {err:.3g} > {RTOL * gscale:.3g}"
        if bn:  # running_mean is an average of batch means of fc1's output, which include fc1.bias
            rm_err = np.abs(arr(b.bn.running_mean) - arr(t.bn.running_mean)).max()
            assert rm_err <= bias_drift + RTOL * np.abs(arr(t.bn.running_mean)).max(), "running_mean"
            close(b.bn.running_var, t.bn.running_var, what="running_var")
            assert int(b.bn.num_batches_tracked) == int(t.bn.num_batches_tracked)
        ob.step(), ot.step()
        bias_drift = max(bias_drift, np.abs(arr(b.fc1.bias) - arr(t.fc1.bias)).max())
    for (name, pt), pb in zip(t.named_parameters(), b.parameters(), strict=True):
        if optimizer == "sgd":
            close(pb, pt, what=name)
        elif not (bn and name == "fc1.bias"):
            err = np.abs(arr(pb) - arr(pt)).max()
            assert err <= steps * lr * 2e-3, f"{name}: {err:.3g}"
    if bn and optimizer == "adam":  # the one state allowed to differ, fc1.bias and the running_mean it feeds,
        for name in ("fc1.bias", "bn.running_mean"):  # is synced so that the eval path itself is compared
            b.state_dict()[name].copy_(bt.tensor(arr(t.state_dict()[name])))
    b.eval(), t.eval()
    x = rng.random((50, 784)).astype(np.float32)
    with bt.no_grad(), torch.no_grad():
        close(
            b(bt.from_numpy(x)),
            t(torch.from_numpy(x)),
            rtol=1e-4 if optimizer == "adam" else RTOL,
            what="eval outputs",
        )
