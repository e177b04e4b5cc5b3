"""The further ``nn`` layers against real PyTorch: ``repr`` (PyTorch's extra_repr text), parameter and buffer names
and shapes in ``state_dict``, initialization distributions, containers, and forward/backward with PyTorch's weights
loaded (``load_state_dict``). Skipped without torch."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import bnlab.torch as bt  # noqa: E402
import bnlab.torch.nn as nn  # noqa: E402


def close(a, b, rtol: float = 2e-5, what: str = "") -> None:
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert x.shape == y.shape, (what, x.shape, y.shape)
    scale = max(np.abs(y).max(initial=0.0), 1e-30)
    err = np.abs(x - y).max(initial=0.0) / scale
    assert err <= rtol, f"{what}: relative error {err:.3g} > {rtol:g}"


REPRS = [
    ("LeakyReLU", (), {}),
    ("LeakyReLU", (0.2, True), {}),
    ("ELU", (), {}),
    ("ELU", (0.5, True), {}),
    ("SELU", (), {}),
    ("SELU", (True,), {}),
    ("CELU", (), {}),
    ("GELU", (), {}),
    ("GELU", ("tanh",), {}),
    ("SiLU", (), {}),
    ("SiLU", (True,), {}),
    ("Mish", (), {}),
    ("Softplus", (), {}),
    ("Softplus", (2, 10), {}),
    ("Softsign", (), {}),
    ("Hardtanh", (), {}),
    ("Hardtanh", (-2, 2, True), {}),
    ("ReLU6", (), {}),
    ("ReLU6", (True,), {}),
    ("Hardswish", (True,), {}),
    ("Hardsigmoid", (), {}),
    ("PReLU", (), {}),
    ("PReLU", (3, 0.1), {}),
    ("LogSigmoid", (), {}),
    ("Tanhshrink", (), {}),
    ("Threshold", (0.1, 20), {}),
    ("Threshold", (0.1, 20, True), {}),
    ("Softmin", (), {}),
    ("Softmin", (1,), {}),
    ("Softmax2d", (), {}),
    ("GLU", (), {}),
    ("Hardshrink", (), {}),
    ("Softshrink", (0.3,), {}),
    ("BCELoss", (), {}),
    ("BCEWithLogitsLoss", (), {}),
    ("L1Loss", (), {}),
    ("SmoothL1Loss", (), {"beta": 0.5}),
    ("HuberLoss", (), {}),
    ("KLDivLoss", (), {"reduction": "batchmean"}),
    ("SoftMarginLoss", (), {}),
    ("MarginRankingLoss", (), {}),
    ("CosineEmbeddingLoss", (), {}),
    ("HingeEmbeddingLoss", (), {}),
    ("PoissonNLLLoss", (), {}),
    ("GaussianNLLLoss", (), {}),
    ("Unflatten", (1, (2, 3)), {}),
    ("Dropout1d", (), {}),
    ("Dropout2d", (0.3,), {}),
    ("Dropout3d", (), {}),
    ("AlphaDropout", (), {}),
    ("FeatureAlphaDropout", (0.2,), {}),
    ("Embedding", (10, 3), {}),
    ("Embedding", (10, 3), {"padding_idx": -1, "max_norm": 1.0, "norm_type": 1.0, "scale_grad_by_freq": True}),
    ("MaxPool1d", (2,), {}),
    ("MaxPool1d", (3, 2, 1), {}),
    ("AvgPool1d", (2,), {}),
    ("AvgPool1d", (3, 2, 1), {}),
    ("AdaptiveAvgPool1d", (4,), {}),
    ("AdaptiveMaxPool1d", (3,), {}),
    ("AdaptiveMaxPool2d", ((2, 3),), {}),
    ("AdaptiveMaxPool2d", (2,), {}),
    ("ZeroPad1d", (2,), {}),
    ("ZeroPad2d", (1,), {}),
    ("ZeroPad2d", ((1, 2, 3, 4),), {}),
    ("ConstantPad1d", (2, 1), {}),
    ("ConstantPad2d", (1, 3.5), {}),
    ("ReflectionPad1d", (2,), {}),
    ("ReflectionPad2d", (1,), {}),
    ("ReplicationPad1d", (1,), {}),
    ("ReplicationPad2d", ((1, 0, 2, 1),), {}),
    ("CircularPad1d", (1,), {}),
    ("CircularPad2d", (1,), {}),
    ("InstanceNorm1d", (3,), {}),
    ("InstanceNorm2d", (3,), {"affine": True, "track_running_stats": True}),
    ("InstanceNorm3d", (3,), {"eps": 1e-3, "affine": True, "bias": False}),
    ("BatchNorm3d", (3,), {}),
    ("RMSNorm", (4,), {}),
    ("RMSNorm", ([2, 3],), {"eps": 1e-5, "elementwise_affine": False}),
    ("LocalResponseNorm", (2,), {}),
    ("Conv1d", (3, 8, 3), {}),
    ("Conv1d", (3, 8, 5), {"stride": 2, "padding": 2, "bias": False}),
    ("Conv1d", (3, 8, 3), {"padding": "same"}),
    ("CosineSimilarity", (), {}),
    ("PairwiseDistance", (), {}),
    ("Bilinear", (2, 3, 4), {}),
    ("PixelShuffle", (2,), {}),
    ("PixelUnshuffle", (3,), {}),
]


@pytest.mark.parametrize("name,args,kwargs", REPRS, ids=lambda c: str(c))
def test_repr_and_state_dict_names_equal_pytorchs(name, args, kwargs):
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in theirs.state_dict().items()
    ]
    ours.load_state_dict(theirs.state_dict())


def test_containers_print_register_and_load_as_pytorchs():
    def build(m):
        return m.ModuleDict(OrderedDict(head=m.Linear(3, 2), act=m.GELU()))

    ours, theirs = build(nn), build(torch.nn)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["head.weight", "head.bias"]
    assert list(ours.keys()) == ["head", "act"] and "act" in ours and len(ours) == 2
    ours["extra"] = nn.Tanh()
    assert [type(m).__name__ for m in ours.values()] == ["Linear", "GELU", "Tanh"]
    assert type(ours.pop("extra")).__name__ == "Tanh" and len(ours) == 2

    pl_b = nn.ParameterList([nn.Parameter(bt.zeros(2, 3)), bt.zeros(4)])
    pl_t = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(2, 3)), torch.zeros(4)])
    assert repr(pl_b) == repr(pl_t)
    assert [n for n, _ in pl_b.named_parameters()] == [n for n, _ in pl_t.named_parameters()] == ["0", "1"]
    assert isinstance(pl_b[1], nn.Parameter) and len(pl_b) == 2
    pl_b.append(bt.ones(1))
    assert pl_b[-1].shape == (1,) and len(list(pl_b.parameters())) == 3
    assert repr(nn.ParameterList()) == repr(torch.nn.ParameterList())

    pd_b = nn.ParameterDict({"b": bt.zeros(4), "a": nn.Parameter(bt.zeros(2, 3))})
    pd_t = torch.nn.ParameterDict({"b": torch.zeros(4), "a": torch.nn.Parameter(torch.zeros(2, 3))})
    assert repr(pd_b) == repr(pd_t)
    assert list(pd_b.keys()) == list(pd_t.keys())
    assert list(pd_b.state_dict()) == list(pd_t.state_dict())

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.scales = nn.ParameterList([nn.Parameter(bt.ones(3)) for _ in range(2)])

        def forward(self, x):
            for s in self.scales:
                x = x * s
            return x.sum()

    net = Net()
    net(bt.ones(3) * 2).backward()
    assert all(np.allclose(p.grad.numpy(), 2.0) for p in net.parameters())


def test_unflatten():
    x = bt.arange(24).float().view(2, 12).requires_grad_()
    y = nn.Unflatten(1, (3, -1, 2))(x)
    assert y.shape == (2, 3, 2, 2)
    y.sum().backward()
    assert x.grad.shape == (2, 12)
    with pytest.raises(RuntimeError, match="don't multiply up"):
        nn.Unflatten(1, (5, 2))(x)


def test_initialization_distributions_follow_pytorch():
    bt.manual_seed(0)
    emb = nn.Embedding(2000, 50, padding_idx=3).weight.detach().numpy()
    assert np.all(emb[3] == 0)
    assert abs(emb.mean()) < 0.01 and abs(emb.std() - 1) < 0.01
    conv = nn.Conv1d(4, 256, 5)
    bound = 1 / np.sqrt(4 * 5)
    w = conv.weight.detach().numpy()
    assert w.max() <= bound and w.min() >= -bound and w.max() > 0.95 * bound
    assert np.abs(conv.bias.detach().numpy()).max() <= bound
    bil = nn.Bilinear(9, 3, 400)
    assert np.abs(bil.weight.detach().numpy()).max() <= 1 / 3 and np.abs(bil.weight.detach().numpy()).max() > 0.3
    assert np.all(nn.PReLU(4, 0.1).weight.detach().numpy() == np.float32(0.1))
    norm = nn.InstanceNorm2d(3, affine=True, track_running_stats=True)
    assert norm.weight.tolist() == [1.0] * 3 and norm.running_var.tolist() == [1.0] * 3
    assert norm.num_batches_tracked.dtype == bt.int64


def _pair(name, *args, **kwargs):
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def _forward_backward(ours, theirs, *arrays, rtol=2e-5):
    xs_b = [bt.tensor(a, requires_grad=True) for a in arrays]
    xs_t = [torch.tensor(a, requires_grad=True) for a in arrays]
    ob, ot = ours(*xs_b), theirs(*xs_t)
    close(ob.detach().numpy(), ot.detach().numpy(), rtol, "forward")
    v = np.random.default_rng(3).standard_normal(tuple(ot.shape)).astype(np.float32)
    (ob * bt.tensor(v)).sum().backward()
    (ot * torch.tensor(v)).sum().backward()
    for b, t in zip(xs_b, xs_t, strict=True):
        close(b.grad.numpy(), t.grad.numpy(), rtol, "input grad")
    for (n, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
        close(p.grad.numpy(), q.grad.numpy(), rtol, n)
    return ob, ot


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_layers_with_parameters_match_pytorch_forward_and_backward():
    _forward_backward(*_pair("Conv1d", 3, 5, 3, padding=1), rand(2, 3, 8))
    _forward_backward(*_pair("Conv1d", 3, 5, 4, stride=2, bias=False), rand(3, 9))
    _forward_backward(*_pair("PReLU", 3), rand(4, 3, 5))
    _forward_backward(*_pair("Bilinear", 3, 2, 4), rand(5, 3), rand(5, 2, seed=1))
    _forward_backward(*_pair("RMSNorm", [3, 4]), rand(2, 3, 4))
    for kwargs in ({}, {"affine": True}, {"affine": True, "track_running_stats": True}):
        ours, theirs = _pair("InstanceNorm2d", 3, **kwargs)
        _forward_backward(ours, theirs, rand(2, 3, 4, 5))
        for name, buf in ours.named_buffers():
            close(buf.numpy(), theirs.state_dict()[name].numpy(), what=name)
        ours.eval(), theirs.eval()
        _forward_backward(ours, theirs, rand(2, 3, 4, 5, seed=2))


def test_embedding_module_forward_backward():
    ours, theirs = _pair("Embedding", 10, 4, padding_idx=0)
    idx = np.array([[0, 3, 3], [9, 1, 0]])
    ob, ot = ours(bt.tensor(idx)), theirs(torch.tensor(idx))
    close(ob.detach().numpy(), ot.detach().numpy())
    ob.sum().backward()
    ot.sum().backward()
    close(ours.weight.grad.numpy(), theirs.weight.grad.numpy())
    pre = nn.Embedding.from_pretrained(bt.tensor(rand(4, 2)))
    assert not pre.weight.requires_grad and pre(bt.tensor([1])).shape == (1, 2)


def test_batchnorm3d_trains_and_evaluates_as_pytorch():
    ours, theirs = _pair("BatchNorm3d", 3)
    _forward_backward(ours, theirs, rand(2, 3, 2, 3, 4) * 2 + 1)
    for name, buf in ours.state_dict().items():
        close(buf.numpy(), theirs.state_dict()[name].numpy(), what=name)
    with pytest.raises(ValueError, match="expected 5D input"):
        ours(bt.zeros(2, 3, 4))


def test_activation_modules_and_their_inplace_flag():
    x = rand(3, 4) * 3
    for name, args in (("LeakyReLU", (0.1,)), ("ELU", ()), ("GELU", ()), ("Softplus", ()), ("Hardswish", ())):
        _forward_backward(*_pair(name, *args), x)
    _forward_backward(*_pair("Softmin", 0), x)
    _forward_backward(*_pair("Softmax2d"), rand(2, 3, 2, 2))
    _forward_backward(*_pair("GLU", 1), x)
    a = bt.tensor(x.copy())
    assert nn.LeakyReLU(0.2, inplace=True)(a) is a
    np.testing.assert_allclose(a.numpy(), np.where(x > 0, x, 0.2 * x), rtol=1e-6)


def test_loss_modules_match_pytorch():
    x, y = rand(6, 3), (rand(6, 3, seed=1) > 0).astype(np.float32)
    w = np.abs(rand(3, seed=2))
    for name, kwargs in (
        ("BCEWithLogitsLoss", {"pos_weight": w}),
        ("BCEWithLogitsLoss", {"weight": w, "reduction": "sum"}),
        ("L1Loss", {}),
        ("SmoothL1Loss", {"beta": 0.3}),
        ("HuberLoss", {"delta": 0.5}),
    ):
        ours = getattr(nn, name)(**{k: bt.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()})
        theirs = getattr(torch.nn, name)(
            **{k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
        )
        assert list(ours.state_dict()) == list(theirs.state_dict())
        xb, xt = bt.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        lb, lt = ours(xb, bt.tensor(y)), theirs(xt, torch.tensor(y))
        close(lb.detach().numpy(), lt.detach().numpy(), what=name)
        lb.backward()
        lt.backward()
        close(xb.grad.numpy(), xt.grad.numpy(), what=name)
    p = 1 / (1 + np.exp(-x))
    close(nn.BCELoss()(bt.tensor(p), bt.tensor(y)).numpy(), torch.nn.BCELoss()(torch.tensor(p), torch.tensor(y)))
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        assert nn.L1Loss(size_average=False).reduction == "sum"


def test_pools_pads_and_dropouts_as_layers():
    x = rand(2, 3, 10)
    for name, args in (
        ("MaxPool1d", (3, 2, 1)),
        ("AvgPool1d", (2,)),
        ("AdaptiveAvgPool1d", (4,)),
        ("AdaptiveMaxPool1d", (3,)),
        ("ReflectionPad1d", (2,)),
        ("ReplicationPad1d", ((1, 3),)),
        ("CircularPad1d", (2,)),
        ("ConstantPad1d", (2, -1.5)),
        ("ZeroPad1d", ((0, 2),)),
        ("LocalResponseNorm", (2,)),
    ):
        _forward_backward(*_pair(name, *args), x)
    x2 = rand(2, 3, 5, 6)
    for name, args in (("AdaptiveMaxPool2d", ((2, 3),)), ("ZeroPad2d", (1,)), ("ReflectionPad2d", ((1, 2, 0, 1),))):
        _forward_backward(*_pair(name, *args), x2)
    _forward_backward(*_pair("PixelShuffle", 2), rand(1, 8, 2, 3))
    _forward_backward(*_pair("CosineSimilarity"), rand(4, 5), rand(4, 5, seed=1))
    _forward_backward(*_pair("PairwiseDistance"), rand(4, 5), rand(4, 5, seed=1))
    drop = nn.Dropout2d(0.5)
    drop.eval()
    z = bt.ones(2, 3, 4, 4)
    assert drop(z) is z
    drop.train()
    out = drop(bt.ones(16, 32, 2, 2)).numpy()
    assert set(np.unique(out)) <= {0.0, 2.0} and np.all(np.ptp(out.reshape(16, 32, 4), axis=2) == 0)
    with pytest.raises(ValueError, match="dropout probability"):
        nn.AlphaDropout(1.5)


def test_counts_reach_the_issue_targets():
    import inspect

    torch_modules = [
        n
        for n in dir(torch.nn)
        if not n.startswith("_")
        and inspect.isclass(getattr(torch.nn, n))
        and issubclass(getattr(torch.nn, n), torch.nn.Module)
    ]
    assert sum(hasattr(nn, n) for n in torch_modules) >= 60
    functions = [
        n for n in dir(torch.nn.functional) if not n.startswith("_") and callable(getattr(torch.nn.functional, n))
    ]
    assert sum(hasattr(nn.functional, n) for n in functions) >= 60
