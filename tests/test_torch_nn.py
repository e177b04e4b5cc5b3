"""bnlab.torch.nn: Module registration (also conditional, as in seed 001), traversal, modes, state_dict keys and
loading, printing (PyTorch's repr), containers, and the layers not covered by the parity tests (Dropout
statistics, Softmax/LogSoftmax/Sigmoid/Tanh/MSELoss against PyTorch, functional.linear on 3-D input).
"""

from __future__ import annotations

import numpy as np
import pytest

import bnlab.torch as bt
import bnlab.torch.nn as nn
import bnlab.torch.nn.functional as F


class Conditional(nn.Module):
    """Seed 001 cell 5's shape: a BatchNorm created only when asked for."""

    def __init__(self, use_batch_norm: bool):
        super().__init__()
        self.fc1 = nn.Linear(784, 128)
        self.use_batch_norm = use_batch_norm
        if self.use_batch_norm:
            self.bn1 = nn.BatchNorm1d(128)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        out = self.fc1(x)
        if self.use_batch_norm:
            out = self.bn1(out)
        return self.fc2(self.relu(out))


def test_registration_traversal_and_counts():
    with_bn, without = Conditional(True), Conditional(False)
    assert [n for n, _ in with_bn.named_parameters()] == [
        "fc1.weight",
        "fc1.bias",
        "bn1.weight",
        "bn1.bias",
        "fc2.weight",
        "fc2.bias",
    ]
    assert sum(p.numel() for p in without.parameters()) == 101770
    assert sum(p.numel() for p in with_bn.parameters()) == 102026  # + 2 * 128 for gamma and beta
    assert sum(b.numel() for b in with_bn.buffers()) == 2 * 128 + 1  # running stats, num_batches_tracked
    assert [n for n, _ in with_bn.named_buffers()] == ["bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked"]
    assert [type(m).__name__ for m in with_bn.children()] == ["Linear", "BatchNorm1d", "ReLU", "Linear"]
    assert [n for n, _ in with_bn.named_modules()] == ["", "fc1", "bn1", "relu", "fc2"]
    assert with_bn.use_batch_norm is True and "use_batch_norm" not in with_bn._modules
    assert list(with_bn.state_dict()) == [
        "fc1.weight",
        "fc1.bias",
        "bn1.weight",
        "bn1.bias",
        "bn1.running_mean",
        "bn1.running_var",
        "bn1.num_batches_tracked",
        "fc2.weight",
        "fc2.bias",
    ]
    with pytest.raises(AttributeError, match="'Conditional' object has no attribute 'bn1'"):
        _ = without.bn1


def test_state_dict_keys_and_repr_equal_pytorchs():
    torch = pytest.importorskip("torch")

    class TorchConditional(torch.nn.Module):
        def __init__(self, use_batch_norm):
            super().__init__()
            self.fc1 = torch.nn.Linear(784, 128)
            if use_batch_norm:
                self.bn1 = torch.nn.BatchNorm1d(128)
            self.relu = torch.nn.ReLU()
            self.fc2 = torch.nn.Linear(128, 10)

    TorchConditional.__name__ = "Conditional"
    for flag in (True, False):
        ours, theirs = Conditional(flag), TorchConditional(flag)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert repr(ours) == repr(theirs)
    seq_b = nn.Sequential(nn.Linear(2, 3), nn.Dropout(0.2), nn.Sigmoid(), nn.Flatten(), nn.Softmax(dim=1))
    seq_t = torch.nn.Sequential(
        torch.nn.Linear(2, 3), torch.nn.Dropout(0.2), torch.nn.Sigmoid(), torch.nn.Flatten(), torch.nn.Softmax(dim=1)
    )
    assert repr(seq_b) == repr(seq_t)
    assert repr(nn.CrossEntropyLoss()) == repr(torch.nn.CrossEntropyLoss())


def test_train_eval_zero_grad_and_load_state_dict(tmp_path):
    model = Conditional(True)
    assert model.training and model.bn1.training
    assert model.eval() is model and not model.bn1.training and not model.fc1.training
    model.train()
    assert model.bn1.training
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        model.train("yes")
    model(bt.randn(4, 784)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    other = Conditional(True)
    other.load_state_dict(model.state_dict())
    for (name, a), b in zip(model.state_dict().items(), other.state_dict().values(), strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "bn1.weight"'):
        other.load_state_dict(Conditional(False).state_dict())
    state = model.state_dict()
    state["fc2.bias"] = bt.zeros(11)
    with pytest.raises(
        RuntimeError, match=r"size mismatch for fc2.bias: copying a param with shape torch.Size\(\[11\]\)"
    ):
        other.load_state_dict(state)
    saved = tmp_path / "model.pth"
    bt.save(model.state_dict(), saved)
    restored = Conditional(True)
    restored.load_state_dict(bt.load(saved))
    np.testing.assert_array_equal(restored.fc2.weight.detach().numpy(), model.fc2.weight.detach().numpy())
    assert restored.bn1.num_batches_tracked.dtype is bt.int64
    result = Conditional(False).load_state_dict(model.state_dict(), strict=False)
    assert result.missing_keys == [] and "bn1.weight" in result.unexpected_keys
    assert model.to("cpu") is model


def test_module_rules():
    class NoInit(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match=r"cannot assign module before Module\.__init__"):
        NoInit()
    m = nn.Module()
    m.register_buffer("count", bt.zeros(1))
    with pytest.raises(TypeError, match="cannot assign 'int' as buffer 'count'"):
        m.count = 3
    with pytest.raises(NotImplementedError, match='missing the required "forward" function'):
        m(1)
    seq = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    assert len(seq) == 2 and isinstance(seq[0], nn.Linear) and isinstance(seq[-1], nn.ReLU)
    assert seq(bt.ones(5, 3)).shape == bt.Size([5, 4])
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    holder = nn.Module()
    holder.layers = layers
    assert len(list(holder.parameters())) == 6


def test_dropout_statistics_scaling_and_modes():
    bt.manual_seed(0)
    drop = nn.Dropout(p=0.25)
    x = bt.ones(200, 500, requires_grad=True)
    y = drop(x)
    values = y.detach().numpy()
    assert set(np.unique(values)) <= {0.0, np.float32(1 / 0.75)}
    assert abs((values == 0).mean() - 0.25) < 0.01
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), values)  # d(mask * x / 0.75)/dx = mask / 0.75
    drop.eval()
    assert drop(x) is x
    with pytest.raises(ValueError, match=r"dropout probability has to be between 0 and 1, but got 1\.5"):
        nn.Dropout(1.5)


def test_activations_softmax_and_mse_match_pytorch():
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(1).standard_normal((6, 5)).astype(np.float32)
    target = np.random.default_rng(2).standard_normal((6, 5)).astype(np.float32)
    pairs = [
        (nn.Sigmoid(), torch.nn.Sigmoid()),
        (nn.Tanh(), torch.nn.Tanh()),
        (nn.Softmax(dim=1), torch.nn.Softmax(dim=1)),
        (nn.LogSoftmax(dim=-1), torch.nn.LogSoftmax(dim=-1)),
    ]
    for ours, theirs in pairs:
        x, xt = bt.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        y, yt = ours(x), theirs(xt)
        np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-6)
        (y * bt.tensor(target)).sum().backward()
        (yt * torch.from_numpy(target)).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)
    for reduction in ("mean", "sum", "none"):
        x, xt = bt.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        loss = nn.MSELoss(reduction=reduction)(x, bt.tensor(target))
        loss_t = torch.nn.MSELoss(reduction=reduction)(xt, torch.from_numpy(target))
        np.testing.assert_allclose(loss.detach().numpy(), loss_t.detach().numpy(), rtol=1e-5)
        loss.sum().backward(), loss_t.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-7)
    with pytest.raises(NotImplementedError, match="last dimension"):
        F.softmax(bt.ones(2, 3, 4), dim=1)


def test_linear_accepts_leading_dimensions_and_reports_shape_errors_like_pytorch():
    layer = nn.Linear(4, 3)
    x = bt.randn(2, 5, 4, requires_grad=True)
    y = layer(x)
    assert y.shape == bt.Size([2, 5, 3])
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy()[1, 2], layer.weight.detach().numpy().sum(0), rtol=1e-6)
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(100x100 and 4x3\)"):
        layer(bt.ones(100, 100))
    with pytest.raises(TypeError, match=r"must be a float32 tensor, got torch\.int64"):
        layer(bt.tensor([[1, 2, 3, 4]]))
