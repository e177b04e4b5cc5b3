"""bnlab.torch on the GPU against bnlab.torch on the CPU (the specification): the CUDA TensorKernels table kernel by
kernel, gradients through autograd op by op, a small BatchNorm MLP trained with SGD and with Adam, and the device
behaviours of the PyTorch API (``.cuda()``, ``.to('cuda')``, ``.cpu()``, ``torch.cuda.is_available()``,
``torch.device('cuda')``, factories, mixed devices, losses, DataLoader, save/load, optimizer state).

Kernels that are single IEEE operations (binary ops, Neg/Abs/Sign/Sqrt, the scalar ops, PowScalar 2 and 0.5,
NLL, the eval-mode batch-norm dx) must agree bit for bit; Exp, Log and the general PowScalar within one ulp
(the CPU calls expf/logf/powf, the GPU rounds a double result); sums within float rounding (both add in double,
in different orders). The whole module skips itself unless bnlab was built with CUDA and a device is present.
"""

from __future__ import annotations

import numpy as np
import pytest
from gpu_marks import REQUIRES_CUDA

import bnlab.torch as bt
import bnlab.torch.nn as nn
import bnlab.torch.nn.functional as F
from bnlab import _core
from bnlab.torch.utils.data import DataLoader, TensorDataset

pytestmark = REQUIRES_CUDA

T = _core.tensor_ops
CPU, CUDA = _core.Device.CPU, _core.Device.CUDA  # engine devices (the kernel tests)
HOST, GPU = bt.device("cpu"), bt.device("cuda:0")  # bnlab.torch devices


def tensor(a, dev, dtype=np.float32) -> _core.Tensor:
    return _core.Tensor.from_numpy(np.ascontiguousarray(a, dtype=dtype), dev)


def assert_same(got, want, exact=False, maxulp=None, rtol=1e-5, atol=1e-6, what=""):
    assert got.shape == want.shape and got.dtype == want.dtype, what
    if exact:
        np.testing.assert_array_equal(got, want, err_msg=what)
    elif maxulp is not None:  # NaN where the CPU has NaN (bit patterns differ between devices), ulps elsewhere
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=what)
        ok = ~np.isnan(want)
        np.testing.assert_array_max_ulp(got[ok], want[ok], maxulp=maxulp)
    else:
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=what)


def same_on_both(case, **tolerance):
    """Run case(device) -> list of arrays on the CPU and on CUDA; the CPU's results are the reference."""
    want, got = case(CPU), case(CUDA)
    assert len(want) == len(got)
    for i, (w, g) in enumerate(zip(want, got, strict=True)):
        assert_same(g, w, what=f"output {i}", **tolerance)


# ---------------------------------------------------------------- TensorKernels: binary, expand, unary
BINARY_SHAPES = [
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((3, 4), (3, 1)),
    ((2, 3, 4), (3, 1)),
    ((2, 1, 4), (1, 3, 1)),
    ((5,), ()),
    ((), ()),
    ((1, 1), (1,)),
    ((2, 3, 4, 5), (1, 3, 1, 5)),
    ((2, 3, 1, 4, 1, 2), (3, 2, 4, 1, 2)),
    ((0, 3), (3,)),
    (((1 << 20) + 3,), (1,)),  # more elements than the grid has threads: the grid-stride loop
    ((257, 129), (129,)),
]


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div", "First"])
@pytest.mark.parametrize("sa,sb", BINARY_SHAPES, ids=str)
def test_binary_is_exact(op, sa, sb):
    def case(dev):
        rng = np.random.default_rng(len(sa) * 10 + len(sb))
        a = rng.normal(size=sa).astype(np.float32)
        b = rng.normal(size=sb).astype(np.float32)
        if b.size > 2:
            b.flat[1] = 0.0  # x / 0: inf or NaN on both devices
        out = _core.Tensor()
        T.binary(out, tensor(a, dev), tensor(b, dev), getattr(T.BinaryOp, op))
        return [out.numpy()]

    same_on_both(case, exact=True)


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div"])
def test_binary_in_place_into_either_operand(op):
    def case(dev):
        rng = np.random.default_rng(3)
        a, row, full = rng.normal(size=(6, 5)), rng.normal(size=5), rng.normal(size=(6, 5))
        t = tensor(a, dev)
        T.binary(t, t, tensor(row, dev), getattr(T.BinaryOp, op))  # out is a (a contiguous)
        u = tensor(full, dev)
        T.binary(u, tensor(row, dev), u, getattr(T.BinaryOp, op))  # out is b (b contiguous, a broadcast)
        return [t.numpy(), u.numpy()]

    same_on_both(case, exact=True)


@pytest.mark.parametrize("src,shape", [((4,), (3, 4)), ((3, 1), (3, 5)), ((), (2, 3)), ((2, 1, 3), (4, 2, 5, 3))])
def test_expand_is_exact(src, shape):
    def case(dev):
        out = _core.Tensor()
        T.expand(out, tensor(np.random.default_rng(1).normal(size=src), dev), list(shape))
        return [out.numpy()]

    same_on_both(case, exact=True)


SPECIALS = [0.0, -0.0, 1.0, -1.0, 2.0, np.inf, -np.inf, np.nan, 1e-40, -1e-40, 1e-30, 80.0, -100.0, 1e30, 3.0]
EXACT_UNARY = [
    ("Neg", 0.0),
    ("Sqrt", 0.0),
    ("Abs", 0.0),
    ("Sign", 0.0),
    ("AddScalar", 0.1),
    ("MulScalar", -3.7),
    ("DivScalar", 3.0),  # a true division: differs from x * (1/3) in some last bits
    ("DivScalar", 0.1),
    ("RSubScalar", 2.5),
    ("RDivScalar", 1.5),
    ("PowScalar", 2.0),  # x * x
    ("PowScalar", 0.5),  # sqrt x
    ("Floor", 0.0),
    ("Ceil", 0.0),
    ("Trunc", 0.0),
    ("Round", 0.0),  # half to even on both
]
# The CPU calls glibc's float functions, whose documented maximum errors (the glibc manual's "Known Maximum
# Errors in Math Functions", x86_64) are at most 2 ulp for these; the GPU rounds the double result once (within
# 0.5 ulp of the exact value): so the two are within 2.5 ulp, 3 as an integer count.
GLIBC_UNARY = ["Sin", "Cos", "Tan", "Sinh", "Cosh", "Log2", "Log10", "Log1p", "Expm1"]
ULP_UNARY = [
    ("Exp", 0.0),
    ("Log", 0.0),
    ("PowScalar", 3.0),
    ("PowScalar", -1.5),
    ("PowScalar", 1 / 3),
    ("PowScalar", 0.0),
]


def unary_case(op, s):
    def case(dev):
        rng = np.random.default_rng(5)
        x = np.concatenate([rng.normal(scale=3.0, size=5000), SPECIALS]).astype(np.float32)
        out, inplace = _core.Tensor(), tensor(x, dev)
        T.unary(out, tensor(x, dev), getattr(T.UnaryOp, op), s)
        T.unary(inplace, inplace, getattr(T.UnaryOp, op), s)  # out aliases the input
        return [out.numpy(), inplace.numpy()]

    return case


@pytest.mark.parametrize("op,s", EXACT_UNARY, ids=str)
def test_unary_is_exact(op, s):
    same_on_both(unary_case(op, s), exact=True)


@pytest.mark.parametrize("op,s", ULP_UNARY, ids=str)
def test_unary_transcendentals_within_one_ulp(op, s):
    same_on_both(unary_case(op, s), maxulp=1)


@pytest.mark.parametrize("op", GLIBC_UNARY)
def test_unary_functions_within_glibc_error_bounds(op):
    same_on_both(unary_case(op, 0.0), maxulp=3)


# ---------------------------------------------------------------- TensorKernels: sum_to
SUM_CASES = [
    ((3, 4), (4,)),  # the innermost dimension kept: a thread per output
    ((3, 4), (3, 1)),  # the innermost dimension reduced: a warp per output
    ((3, 4), ()),
    ((3, 4), (3, 4)),  # nothing to sum: a copy
    ((2, 3, 4), (3, 1)),
    ((2, 3, 4), (1, 3, 1)),
    ((2, 3, 4), (2, 1, 4)),
    ((2, 3, 4, 5), (3, 1, 5)),
    ((2, 2, 2, 2, 2), (2, 1, 2, 1, 2)),
    ((5, 1, 2), (1, 1)),
    ((300, 7), (7,)),  # several chunks per output, added by sum_finalize
    ((7, 3000), (7, 1)),
    ((70000,), ()),
    (((1 << 22) + 5,), (1,)),  # 1024 chunks of a full sum
    ((20000, 3), (3,)),
    ((0, 3), (3,)),  # an empty sum is 0
    ((1,), ()),
]


@pytest.mark.parametrize("shape,target", SUM_CASES, ids=str)
def test_sum_to(shape, target):
    def case(dev):
        a = np.random.default_rng(sum(shape) + len(target)).normal(loc=0.5, size=shape)
        out = _core.Tensor()
        T.sum_to(out, tensor(a, dev), list(target))
        return [out.numpy()]

    same_on_both(case, rtol=1e-6, atol=1e-6)


def test_sum_to_repeats_bit_for_bit():
    a = tensor(np.random.default_rng(9).normal(size=(1 << 21) + 7), CUDA)
    first, again = _core.Tensor(), _core.Tensor()
    T.sum_to(first, a, [])
    T.sum_to(again, a, [])
    np.testing.assert_array_equal(first.numpy(), again.numpy())


# ---------------------------------------------------------------- TensorKernels: log-softmax, NLL, BN eval backward
@pytest.mark.parametrize("shape", [(1, 1), (5, 10), (300, 37), (7, 1000), (2, 3, 4), (4,)], ids=str)
def test_log_softmax(shape):
    def case(dev):
        rng = np.random.default_rng(len(shape) + shape[-1])
        x = rng.normal(scale=4.0, size=shape).astype(np.float32)
        if x.ndim == 2 and x.shape[0] > 2 and x.shape[1] > 2:
            x[1, 2] = -np.inf  # a probability of exactly 0
            x[2, :] = 1.5  # equal logits
        out, dx = _core.Tensor(), _core.Tensor()
        T.log_softmax_forward(out, tensor(x, dev))
        T.log_softmax_backward(dx, tensor(rng.normal(size=shape), dev), out)
        return [out.numpy(), dx.numpy()]

    same_on_both(case, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore_index", [-100, 2])
@pytest.mark.parametrize("B,K", [(1, 1), (6, 4), (300, 10), (40, 1000)])
def test_nll_is_exact(weighted, ignore_index, B, K):
    def case(dev):
        rng = np.random.default_rng(B + K)
        logp = rng.normal(size=(B, K))
        target = rng.integers(0, K, size=B)
        target[::3] = ignore_index if ignore_index < K else 0
        w = tensor(rng.uniform(0.5, 2.0, size=K), dev) if weighted else None
        lp, tg = tensor(logp, dev), tensor(target, dev, np.int32)
        rows, wrows, g1, g2 = _core.Tensor(), _core.Tensor(), _core.Tensor(), _core.Tensor()
        T.nll_forward(rows, wrows, lp, tg, w, ignore_index)
        T.nll_backward(g1, None, 0.37, lp, tg, w, ignore_index)
        T.nll_backward(g2, tensor(rng.normal(size=B), dev), 1.0, lp, tg, w, ignore_index)
        return [rows.numpy(), wrows.numpy(), g1.numpy(), g2.numpy()]

    same_on_both(case, exact=True)


def test_nll_target_out_of_range_gives_nan_not_a_fault():
    """ops do not range-check CUDA targets: the kernels must not read out of bounds."""
    lp, tg = tensor(np.zeros((3, 4)), CUDA), tensor([0, 9, -5], CUDA, np.int32)
    rows, wrows, grad = _core.Tensor(), _core.Tensor(), _core.Tensor()
    T.nll_forward(rows, wrows, lp, tg, None, -100)
    T.nll_backward(grad, None, 1.0, lp, tg, None, -100)
    assert np.isnan(rows.numpy()[1:]).all() and rows.numpy()[0] == 0.0
    np.testing.assert_array_equal(grad.numpy(), [[-1.0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])


@pytest.mark.parametrize("N,C,L", [(1, 3, 1), (2, 5, 3), (64, 129, 1), (300, 37, 1), (8, 16, 49), (3, 4, 1000)])
@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm_backward_eval(N, C, L, affine):
    def case(dev):
        rng = np.random.default_rng(N + C + L)
        x, dy = rng.normal(loc=1.0, scale=2.0, size=(N, C, L)), rng.normal(size=(N, C, L))
        mean, var = rng.normal(size=C), rng.uniform(0.5, 3.0, size=C)
        gamma = tensor(rng.normal(size=C), dev) if affine else None
        dgamma = tensor(rng.normal(size=C), dev) if affine else None  # accumulates
        dbeta = tensor(rng.normal(size=C), dev) if affine else None
        dx = _core.Tensor()
        T.batchnorm_backward_eval(
            dx,
            dgamma,
            dbeta,
            tensor(dy, dev),
            tensor(x, dev),
            tensor(mean, dev),
            tensor(var, dev),
            gamma,
            N,
            C,
            L,
            1e-5,
        )
        sums = [dgamma.numpy(), dbeta.numpy()] if affine else []
        return [dx.numpy()], sums

    (dx_cpu,), sums_cpu = case(CPU)
    (dx_gpu,), sums_gpu = case(CUDA)
    assert_same(dx_gpu, dx_cpu, exact=True, what="dx")
    for g, w in zip(sums_gpu, sums_cpu, strict=True):
        assert_same(g, w, rtol=1e-6, atol=1e-6, what="dgamma/dbeta")


# ---------------------------------------------------------------- autograd, op by op
def _labels(x, values):
    return bt.tensor(values, device=x.device)


def _bn_eval(x, w, b):
    c = x.shape[1]
    rm = bt.tensor(np.linspace(-0.5, 0.5, c, dtype=np.float32), device=x.device)
    rv = bt.tensor(np.linspace(0.5, 2.0, c, dtype=np.float32), device=x.device)
    return F.batch_norm(x, rm, rv, w, b, training=False)


GRAPHS = {
    "broadcast arithmetic": (lambda a, b, c: (a * b - c) / (b.abs() + 1) + a, [(3, 4), (4,), (3, 1)]),
    "scalar ops": (lambda a: (a + 2) * 3 - (2 - a) / 3 + 3 / (a.abs() + 1) - a * 0.5, [(3, 4)]),
    "exp log sqrt abs": (lambda a: a.exp() + (a.abs() + 1).log() + (a.abs() + 1).sqrt() + a.abs(), [(3, 4)]),
    "powers": (lambda a: a**2 + (a.abs() + 1) ** 0.5 + a**3 + (a.abs() + 1) ** -1.5, [(3, 4)]),
    "sums and means": (lambda x: x.sum(0) + x.mean((0, 2)).view(3, 1) + x.sum(2, keepdim=True).mean(0), [(2, 3, 4)]),
    "var and std": (lambda a: a.var(1) + a.std(0).sum() + a.var(), [(5, 4)]),
    "matmul": (lambda a, b: bt.matmul(a, b) + a @ b[:, :1], [(3, 4), (4, 2)]),
    "indexing and cat": (lambda a, b: bt.cat([a[bt.tensor([2, 0, 2])], b[:, 1:] * 2], 1), [(3, 4), (3, 3)]),
    "max": (lambda a: bt.max(a, 1)[0] + bt.max(a), [(4, 5)]),
    "activations": (lambda a: F.relu(a) + F.sigmoid(a) + F.tanh(a) + F.softmax(a, 1), [(4, 5)]),
    "log_softmax": (lambda a: F.log_softmax(a, 1), [(4, 5)]),
    "cross_entropy": (lambda z: F.cross_entropy(z, _labels(z, [0, 3, 1, 2])), [(4, 5)]),
    "cross_entropy sum, weights": (
        lambda z, w: F.cross_entropy(z, _labels(z, [0, 3, 1, 2]), weight=w.abs() + 0.5, reduction="sum"),
        [(4, 5), (5,)],
    ),
    "cross_entropy none": (lambda z: F.cross_entropy(z, _labels(z, [4, 4, 0, 1]), reduction="none"), [(4, 5)]),
    "nll ignore_index": (
        lambda z: F.nll_loss(F.log_softmax(z, 1), _labels(z, [0, -100, 1, 2]), ignore_index=-100),
        [(4, 5)],
    ),
    "mse": (lambda a, b: F.mse_loss(a, b) + F.mse_loss(a, b, reduction="sum"), [(3, 4), (3, 4)]),
    "batch_norm eval (N, C)": (_bn_eval, [(6, 3), (3,), (3,)]),
    "batch_norm eval (N, C, L)": (_bn_eval, [(4, 3, 5), (3,), (3,)]),
    "batch_norm train": (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), [(6, 3), (3,), (3,)]),
}


def run_graph(fn, shapes, device):
    rng = np.random.default_rng(11)
    leaves = [bt.tensor(rng.normal(size=s).astype(np.float32), device=device, requires_grad=True) for s in shapes]
    out = fn(*leaves)
    assert out.device == device
    weight = bt.tensor(rng.normal(size=tuple(out.shape)).astype(np.float32), device=device)
    (out * weight).sum().backward()
    grads = [leaf.grad for leaf in leaves]
    assert all(g is None or g.device == device for g in grads)
    return [out.detach().cpu().numpy()] + [None if g is None else g.cpu().numpy() for g in grads]


@pytest.mark.parametrize("name", list(GRAPHS))
def test_autograd_matches_the_cpu(name):
    fn, shapes = GRAPHS[name]
    want, got = run_graph(fn, shapes, HOST), run_graph(fn, shapes, GPU)
    for i, (w, g) in enumerate(zip(want, got, strict=True)):
        assert (w is None) == (g is None), i
        if w is not None:
            assert_same(g, w, rtol=1e-5, atol=1e-6, what=f"{name}: {'value' if i == 0 else f'grad {i - 1}'}")


# ---------------------------------------------------------------- end to end: a BatchNorm MLP trained on both devices
class MLP(nn.Module):
    def __init__(self, bias1: bool):
        super().__init__()
        self.fc1 = nn.Linear(20, 32, bias=bias1)
        self.bn = nn.BatchNorm1d(32)
        self.relu = nn.ReLU()
        self.drop = nn.Dropout(0.2)  # masks are equal bit for bit on both devices (same seeds, same generator)
        self.fc2 = nn.Linear(32, 5)

    def forward(self, x):
        return self.fc2(self.drop(self.relu(self.bn(self.fc1(x)))))


def train(device, make_optimizer, bias1: bool, epochs: int = 2) -> dict:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(160, 20)).astype(np.float32), rng.integers(0, 5, size=160)
    bt.manual_seed(0)
    model = MLP(bias1).to(device)
    optimizer = make_optimizer(model.parameters())
    loader = DataLoader(
        TensorDataset(bt.tensor(x), bt.tensor(y)), batch_size=32, shuffle=True, generator=bt.Generator().manual_seed(1)
    )
    criterion = nn.CrossEntropyLoss()
    losses = []
    for _ in range(epochs):
        model.train()
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)  # the seeds' idiom
            loss = criterion(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    model.eval()
    with bt.no_grad():
        logits = model(bt.tensor(x).to(device))
        correct = (logits.argmax(1) == bt.tensor(y).to(device)).sum().item()
    # A gradient in eval mode: batch norm's eval backward, dropout as the identity.
    probe = bt.tensor(x[:8], device=device, requires_grad=True)
    optimizer.zero_grad()
    criterion(model(probe), bt.tensor(y[:8], device=device)).backward()
    state = {k: v.cpu().numpy() for k, v in model.state_dict().items()}
    grads = {n: p.grad.cpu().numpy() for n, p in model.named_parameters()}
    assert all(p.device == device for p in model.parameters()) and model.bn.running_mean.device == device
    return {
        "losses": np.array(losses),
        "logits": logits.cpu().numpy(),
        "correct": correct,
        "state": state,
        "grads": grads,
        "probe": probe.grad.cpu().numpy(),
    }


def assert_runs_match(cpu: dict, gpu: dict) -> None:
    np.testing.assert_allclose(gpu["losses"], cpu["losses"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(gpu["logits"], cpu["logits"], rtol=1e-4, atol=1e-4)
    # Predictions agree except, possibly, where the CPU's two best logits are within rounding of each other.
    flips = gpu["logits"].argmax(1) != cpu["logits"].argmax(1)
    best_two = np.sort(cpu["logits"], axis=1)[:, -2:]
    assert np.all(best_two[flips, 1] - best_two[flips, 0] < 1e-4)
    assert abs(gpu["correct"] - cpu["correct"]) <= flips.sum()
    assert list(gpu["state"]) == list(cpu["state"])
    for key, value in cpu["state"].items():
        if key.endswith("num_batches_tracked"):
            assert int(gpu["state"][key]) == int(value) == 10
        else:
            np.testing.assert_allclose(gpu["state"][key], value, rtol=1e-4, atol=1e-5, err_msg=key)
    for key, value in cpu["grads"].items():
        np.testing.assert_allclose(gpu["grads"][key], value, rtol=1e-4, atol=1e-5, err_msg=key)
    np.testing.assert_allclose(gpu["probe"], cpu["probe"], rtol=1e-4, atol=1e-6)


def test_sgd_training_matches_the_cpu():
    def make(params):
        return bt.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=1e-4)

    assert_runs_match(train(HOST, make, bias1=True), train(GPU, make, bias1=True))


def test_adam_training_matches_the_cpu():
    # fc1 has no bias: a bias right before BatchNorm has a zero gradient up to rounding noise, which Adam divides
    # by its own size into steps of about lr whose sign differs between devices (in PyTorch as well).
    def make(params):
        return bt.optim.Adam(params, lr=1e-3)

    assert_runs_match(train(HOST, make, bias1=False), train(GPU, make, bias1=False))


def test_a_trained_gpu_model_saves_and_loads_on_the_cpu(tmp_path):
    bt.manual_seed(0)
    model = MLP(bias1=True).cuda()
    optimizer = bt.optim.Adam(model.parameters(), lr=1e-2)
    x = bt.randn(16, 20, device="cuda")
    for _ in range(3):
        optimizer.zero_grad()
        F.cross_entropy(model(x), bt.randint(0, 5, (16,), device="cuda")).backward()
        optimizer.step()
    model.eval()
    with bt.no_grad():
        want = model(x).cpu().numpy()
    state = optimizer.state[model.fc1.weight]
    assert state["exp_avg"].is_cuda and state["exp_avg_sq"].is_cuda and state["step"].device == HOST
    bt.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, tmp_path / "ckpt.pt")
    assert bt.load(tmp_path / "ckpt.pt")["model"]["fc1.weight"].is_cuda
    for where in ("cpu", bt.device("cpu"), {"cuda:0": "cpu"}):
        ckpt = bt.load(tmp_path / "ckpt.pt", map_location=where)
        assert all(v.device == HOST for v in ckpt["model"].values())
    cpu_model = MLP(bias1=True)
    cpu_model.load_state_dict(ckpt["model"])
    cpu_model.eval()
    with bt.no_grad():
        np.testing.assert_allclose(cpu_model(x.cpu()).numpy(), want, rtol=1e-5, atol=1e-5)
    again = bt.optim.Adam(model.parameters(), lr=1e-2)  # load back onto the GPU model
    again.load_state_dict(bt.load(tmp_path / "ckpt.pt")["optimizer"])
    slots = again.state[model.fc1.weight]
    assert slots["exp_avg"].is_cuda and slots["step"].device == HOST and slots["step"].item() == 3


# ---------------------------------------------------------------- device behaviours of the API
def test_availability_and_devices():
    assert bt.cuda.is_available() and bt.cuda.device_count() == 1
    device = bt.device("cuda" if bt.cuda.is_available() else "cpu")  # the seeds' idiom
    assert device.type == "cuda" and device.index is None and repr(device) == "device(type='cuda')"
    assert bt.device("cuda:0") == GPU and bt.device("cuda", 0) == GPU
    x = bt.randn(4, 3, requires_grad=True)
    for y in (x.cuda(), x.to("cuda"), x.to(device), x.to(GPU), x.to(device="cuda")):
        assert y.is_cuda and y.device == GPU and y.requires_grad and y.grad_fn is not None
        np.testing.assert_array_equal(y.cpu().detach().numpy(), x.detach().numpy())
    y = x.detach().cuda()
    assert y.to("cuda") is y and y.cuda() is y and y.to(GPU) is y
    back = y.cpu()
    assert not back.is_cuda and back.device == HOST and back.cpu() is back
    assert repr(y[:1, :1]).endswith("device='cuda:0')")
    with pytest.raises(TypeError, match="can't convert cuda:0 device type tensor to numpy"):
        y.numpy()
    assert y[0, 0].item() == pytest.approx(float(x[0, 0].item())) and len(y.tolist()) == 4
    with pytest.raises(RuntimeError, match="invalid device ordinal"):
        x.to("cuda:1")
    bt.cuda.synchronize()


def test_gradients_flow_back_across_devices():
    x = bt.randn(3, 2, requires_grad=True)  # a CPU leaf used on the GPU
    (x.cuda() * 3.0).sum().backward()
    assert x.grad.device == HOST
    np.testing.assert_array_equal(x.grad.numpy(), np.full((3, 2), 3.0, np.float32))


def test_factories_take_a_device():
    made = [
        bt.zeros(2, 3, device="cuda"),
        bt.ones(2, device=GPU),
        bt.full((2,), 1.5, device="cuda"),
        bt.empty(3, device="cuda"),
        bt.randn(2, 2, device="cuda"),
        bt.rand(2, device="cuda"),
        bt.arange(5, device="cuda"),
        bt.arange(0.0, 1.0, 0.25, device="cuda"),
        bt.eye(3, device="cuda"),
        bt.linspace(0, 1, 5, device="cuda"),
        bt.tensor([1, 2], device="cuda"),
        bt.randint(0, 5, (4,), device="cuda"),
        bt.zeros_like(bt.ones(2, device="cuda")),
        bt.ones_like(bt.ones(2, device="cuda"), dtype=bt.int64),
        bt.tensor(bt.ones(2, device="cuda")),  # PyTorch keeps the source's device
    ]
    assert all(t.device == GPU for t in made), [t.device for t in made]
    bt.manual_seed(3)
    a = bt.randn(5, device="cuda").cpu().numpy()
    bt.manual_seed(3)
    np.testing.assert_array_equal(a, bt.randn(5).numpy())  # the same numbers as on the CPU


def test_integer_tensors_on_the_gpu():
    labels = bt.tensor([1, 2, 3, 1])
    on_gpu = labels.to("cuda")
    assert on_gpu.device == GPU and on_gpu.dtype == bt.int64
    on_gpu[0] = 7  # a copy: the CPU tensor is unchanged
    assert labels.tolist() == [1, 2, 3, 1] and on_gpu.tolist() == [7, 2, 3, 1]
    logits = bt.tensor([[0.1, 2.0, 0.3], [1.0, 0.0, 0.5], [0.0, 0.1, 3.0], [0.0, 4.0, 1.0]], device="cuda")
    predicted = logits.argmax(1)
    _, by_max = bt.max(logits.data, 1)
    assert predicted.device == GPU and by_max.device == GPU and predicted.tolist() == [1, 0, 2, 1]
    correct = (predicted == on_gpu).sum()
    assert correct.device == GPU and correct.item() == 1 and (by_max == on_gpu).sum().item() == 1
    assert ((predicted == 1) | (predicted == 2)).sum().item() == 3


def test_mixed_devices_raise_as_in_pytorch_except_for_cpu_scalars():
    g, c = bt.ones(3, device="cuda"), bt.ones(3)
    for op in (lambda: g + c, lambda: c * g, lambda: g == c, lambda: bt.matmul(g, c), lambda: bt.cat([g, c])):
        with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
            op()
    with pytest.raises(RuntimeError, match="same device"):
        g.add_(c)
    s = bt.tensor(2.0, requires_grad=True)  # a 0-dim CPU tensor is a scalar: allowed, as in PyTorch
    out = g * s + bt.tensor(1.0)
    assert out.device == GPU and out.tolist() == [3.0, 3.0, 3.0]
    out.sum().backward()
    assert s.grad.device == HOST and s.grad.item() == 3.0
    g.add_(bt.tensor(1.0))
    assert g.tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(RuntimeError, match="same device"):
        nn.Linear(3, 2)(g)  # a model left on the CPU
    with pytest.raises(RuntimeError, match="invalid gradient at index 0 - expected device cuda:0 but got cpu"):
        (g * 2).requires_grad_().backward(bt.ones(3))


def test_losses_check_targets_on_the_gpu_as_the_cpu_does():
    logits = bt.randn(3, 4, device="cuda")
    with pytest.raises(RuntimeError, match="same device"):
        F.cross_entropy(logits, bt.tensor([0, 1, 2]))  # labels not moved with .to(device)
    with pytest.raises(ValueError, match="target label 7 is out of range for 4 classes"):
        F.cross_entropy(logits, bt.tensor([0, 7, 1], device="cuda"))
    with pytest.raises(ValueError, match="Target 7 is out of bounds"):
        F.nll_loss(logits, bt.tensor([0, 7, 1], device="cuda"))
    with pytest.raises(RuntimeError, match="same device"):
        F.cross_entropy(logits, bt.tensor([0, 1, 2], device="cuda"), weight=bt.ones(4))
    weights = np.array([1.0, 2.0, 0.5, 1.0], np.float32)
    labels = np.array([0, 3, -100])
    values = []
    for device in (HOST, GPU):
        criterion = nn.CrossEntropyLoss(weight=bt.tensor(weights)).to(device)  # the weight buffer moves
        values.append(criterion(logits.to(device), bt.tensor(labels, device=device)).item())
    assert values[1] == pytest.approx(values[0], rel=1e-5)


def test_modules_move_in_place_and_keep_their_parameters():
    model = MLP(bias1=True)
    params = list(model.parameters())
    optimizer = bt.optim.SGD(model.parameters(), lr=0.1)
    assert model.to("cuda") is model and [id(p) for p in model.parameters()] == [id(p) for p in params]
    assert all(p.is_cuda for p in optimizer.param_groups[0]["params"])
    bn = model.bn
    assert bn.running_mean.is_cuda and bn.running_var.is_cuda and bn.num_batches_tracked.device == GPU
    model(bt.randn(4, 20, device="cuda")).sum().backward()
    assert model.fc1.weight.grad.is_cuda
    model.cpu()
    assert all(not p.is_cuda for p in model.parameters()) and model.fc1.weight.grad.device == HOST
    assert int(bn.num_batches_tracked) == 1 and not bn.running_mean.is_cuda


def test_data_loader_and_in_place_writes_on_the_gpu():
    x, y = np.arange(24, dtype=np.float32).reshape(12, 2), np.arange(12) % 3
    loader = DataLoader(TensorDataset(bt.tensor(x, device="cuda"), bt.tensor(y, device="cuda")), batch_size=5)
    batches = list(loader)
    assert [b[0].shape[0] for b in batches] == [5, 5, 2] and all(b[0].is_cuda and b[1].device == GPU for b in batches)
    np.testing.assert_array_equal(np.concatenate([b[0].cpu().numpy() for b in batches]), x)
    t = bt.tensor(x, device="cuda")
    t[1] = 5.0
    t[:, 0] = bt.arange(12.0, device="cuda")
    t += 1
    t.mul_(2)
    want = x.copy()
    want[1], want[:, 0] = 5.0, np.arange(12.0)
    np.testing.assert_array_equal(t.cpu().numpy(), (want + 1) * 2)
