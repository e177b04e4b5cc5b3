"""The further ``nn.functional`` ops (activations, losses, padding, distances, embedding, 1-D and adaptive pooling,
instance/RMS/local-response norm) against real PyTorch: values and the gradients of every float input, for the
arguments that change them. Skipped without torch.

Each case runs the op on the same float32 data in both frameworks, backpropagates sum(out * v) for a random v and
compares output and gradients relative to the largest entry (``close``, as tests/test_torch_parity.py).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import bnlab.torch as bt  # noqa: E402
import bnlab.torch.nn.functional as F  # noqa: E402

TF = torch.nn.functional


def close(a, b, rtol: float = 2e-5, what: str = "") -> None:
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    assert x.shape == y.shape, (what, x.shape, y.shape)
    scale = max(np.abs(y).max(initial=0.0), 1e-30)
    err = np.abs(x - y).max(initial=0.0) / scale
    assert err <= rtol, f"{what}: relative error {err:.3g} > {rtol:g}"


def run_both(name, arrays, grad_mask=None, args=(), kwargs=None, ints=(), rtol=2e-5, torch_name=None):
    """F.<name>(*tensors, *args, **kwargs) in both; float arrays require grad unless grad_mask says no."""
    kwargs = kwargs or {}
    grad_mask = grad_mask or [True] * len(arrays)
    bts, tts = [], []
    for a, g in zip(arrays, grad_mask, strict=True):
        bts.append(bt.tensor(a, requires_grad=g))
        tts.append(torch.tensor(a, requires_grad=g))
    for a in ints:
        bts.append(bt.tensor(a))
        tts.append(torch.tensor(a))
    ob = getattr(F, name)(*bts, *args, **kwargs)
    ot = getattr(TF, torch_name or name)(*tts, *args, **kwargs)
    close(ob.detach().numpy(), ot.detach().numpy(), rtol, f"{name} forward")
    if ot.requires_grad:
        v = np.random.default_rng(1).standard_normal(tuple(ot.shape)).astype(np.float32)
        (ob * bt.tensor(v)).sum().backward()
        (ot * torch.tensor(v)).sum().backward()
        for i, (b, t) in enumerate(zip(bts[: len(arrays)], tts[: len(arrays)], strict=True)):
            if t.grad is not None:
                assert b.grad is not None, f"{name}: input {i} got no gradient"
                close(b.grad.numpy(), t.grad.numpy(), rtol, f"{name} grad {i}")
    return ob, ot


def rand(*shape, scale=2.0, seed=0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


X = rand(4, 6)
X[0, :3] = [0.0, 1.0, -1.0]  # the boundaries of several kinks

ACTIVATIONS = [
    ("leaky_relu", (), {}),
    ("leaky_relu", (0.2,), {}),
    ("elu", (), {}),
    ("elu", (), {"alpha": 0.5}),
    ("selu", (), {}),
    ("celu", (), {"alpha": 2.0}),
    ("gelu", (), {}),
    ("gelu", (), {"approximate": "tanh"}),
    ("silu", (), {}),
    ("mish", (), {}),
    ("softplus", (), {}),
    ("softplus", (), {"beta": 2.0, "threshold": 1.0}),
    ("softsign", (), {}),
    ("hardtanh", (), {}),
    ("hardtanh", (-2.0, 0.5), {}),
    ("relu6", (), {}),
    ("hardswish", (), {}),
    ("hardsigmoid", (), {}),
    ("logsigmoid", (), {}),
    ("tanhshrink", (), {}),
    ("threshold", (0.1, 20.0), {}),
    ("hardshrink", (), {}),
    ("softshrink", (), {"lambd": 1.0}),
    ("glu", (), {}),
    ("glu", (), {"dim": 0}),
    ("softmin", (), {"dim": 1}),
    ("softmin", (), {"dim": 0}),
    ("normalize", (), {}),
    ("normalize", (), {"p": 1.0, "dim": 0}),
]


@pytest.mark.parametrize("name,args,kwargs", ACTIVATIONS, ids=lambda c: str(c))
def test_activation_values_and_gradients(name, args, kwargs):
    run_both(name, [X * 3.0], args=args, kwargs=kwargs)


def test_prelu_gradient_of_input_and_weight():
    x = rand(3, 4, 5)
    run_both("prelu", [x, np.array([0.25], dtype=np.float32)])
    run_both("prelu", [x, np.array([0.1, 0.2, 0.3, 0.4], dtype=np.float32)])


INPLACE = ["leaky_relu_", "elu_", "selu_", "celu_", "hardtanh_", "threshold_"]


@pytest.mark.parametrize("name", INPLACE)
def test_inplace_forms_write_the_input_and_keep_the_graph(name):
    args = (0.1, 5.0) if name == "threshold_" else ()
    a = X.copy()
    leaf_b, leaf_t = bt.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    yb, yt = leaf_b * 1.0, leaf_t * 1.0
    rb = getattr(F, name)(yb, *args)
    rt = getattr(TF, name)(yt, *args)
    assert rb is yb
    close(yb.detach().numpy(), yt.detach().numpy())
    rb.sum().backward()
    rt.sum().backward()
    close(leaf_b.grad.numpy(), leaf_t.grad.numpy())


def test_inplace_flag_of_the_functional_forms():
    for name in ("leaky_relu", "elu", "silu", "mish", "hardswish", "hardsigmoid", "relu6", "selu", "hardtanh"):
        a = bt.tensor(X.copy())
        out = getattr(F, name)(a, inplace=True)
        assert out is a
        np.testing.assert_allclose(a.numpy(), getattr(TF, name)(torch.tensor(X)).numpy(), rtol=2e-6, atol=1e-6)


P = 1 / (1 + np.exp(-rand(5, 3, seed=2)))
Y01 = (np.random.default_rng(3).random((5, 3)) > 0.5).astype(np.float32)
Q = (P / P.sum(1, keepdims=True)).astype(np.float32)
PM1 = np.where(Y01 > 0, 1.0, -1.0).astype(np.float32)

LOSSES = [
    ("l1_loss", [rand(5, 3), rand(5, 3, seed=1)], {}),
    ("l1_loss", [rand(5, 3), rand(5, 3, seed=1)], {"reduction": "sum"}),
    ("l1_loss", [rand(5, 3), rand(5, 3, seed=1)], {"reduction": "none"}),
    ("smooth_l1_loss", [rand(5, 3), rand(5, 3, seed=1)], {}),
    ("smooth_l1_loss", [rand(5, 3), rand(5, 3, seed=1)], {"beta": 0.5, "reduction": "sum"}),
    ("huber_loss", [rand(5, 3), rand(5, 3, seed=1)], {}),
    ("huber_loss", [rand(5, 3), rand(5, 3, seed=1)], {"delta": 2.0, "reduction": "none"}),
    ("binary_cross_entropy", [P.astype(np.float32), Y01], {}),
    ("binary_cross_entropy", [P.astype(np.float32), Y01], {"reduction": "sum"}),
    ("binary_cross_entropy_with_logits", [rand(5, 3), Y01], {}),
    ("binary_cross_entropy_with_logits", [rand(5, 3), Y01], {"reduction": "none"}),
    ("soft_margin_loss", [rand(5, 3), PM1], {"grad_mask": [True, False]}),
    ("kl_div", [np.log(Q[::-1].copy()), Q], {"reduction": "batchmean"}),
    ("kl_div", [rand(5, 3), rand(5, 3, seed=4)], {"reduction": "sum", "log_target": True}),
    ("poisson_nll_loss", [rand(5, 3), np.abs(rand(5, 3, seed=5)).round()], {}),
    ("gaussian_nll_loss", [rand(5, 3), rand(5, 3, seed=1), np.abs(rand(5, 3, seed=6)) + 0.1], {}),
]


@pytest.mark.parametrize("name,arrays,kwargs", LOSSES, ids=lambda c: str(c)[:40])
def test_loss_values_and_gradients(name, arrays, kwargs):
    arrays = [np.asarray(a, dtype=np.float32) for a in arrays]
    kwargs = dict(kwargs)
    run_both(name, arrays, grad_mask=kwargs.pop("grad_mask", None), kwargs=kwargs, rtol=5e-5)


def test_weighted_losses():
    w = np.abs(rand(5, 3, seed=7)).astype(np.float32)
    for name, a in (("binary_cross_entropy", P.astype(np.float32)), ("binary_cross_entropy_with_logits", rand(5, 3))):
        b = F.__dict__[name](bt.tensor(a), bt.tensor(Y01), weight=bt.tensor(w))
        t = getattr(TF, name)(torch.tensor(a), torch.tensor(Y01), weight=torch.tensor(w))
        close(b.numpy(), t.numpy())
    pw = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    b = F.binary_cross_entropy_with_logits(bt.tensor(X[:, :3]), bt.tensor(Y01[:4]), pos_weight=bt.tensor(pw))
    t = TF.binary_cross_entropy_with_logits(torch.tensor(X[:, :3]), torch.tensor(Y01[:4]), pos_weight=torch.tensor(pw))
    close(b.numpy(), t.numpy())
    for name in ("l1_loss", "huber_loss"):
        b = getattr(F, name)(bt.tensor(X), bt.tensor(X * 0.5 + 1), weight=bt.tensor(np.abs(X)))
        t = getattr(TF, name)(torch.tensor(X), torch.tensor(X * 0.5 + 1), weight=torch.tensor(np.abs(X)))
        close(b.numpy(), t.numpy())


def test_losses_with_three_inputs():
    x1, x2 = rand(6, 4), rand(6, 4, seed=1)
    y = np.array([1, -1, 1, -1, -1, 1], dtype=np.float32)
    run_both("cosine_embedding_loss", [x1, x2, y], grad_mask=[True, True, False], kwargs={"margin": 0.1})
    run_both("margin_ranking_loss", [x1[:, 0], x2[:, 0], y], grad_mask=[True, True, False], kwargs={"margin": 0.5})
    run_both("hinge_embedding_loss", [x1[:, 0], y], grad_mask=[True, False], kwargs={"margin": 0.7})


def test_kl_div_mean_warns_as_pytorch_and_legacy_arguments_warn():
    a, b = rand(3, 4), np.abs(rand(3, 4, seed=1))
    with pytest.warns(UserWarning, match="batchmean"):
        ours = F.kl_div(bt.tensor(a), bt.tensor(b))
    with pytest.warns(UserWarning, match="batchmean"):
        theirs = TF.kl_div(torch.tensor(a), torch.tensor(b))
    close(ours.numpy(), theirs.numpy())
    with pytest.warns(UserWarning, match="reduction='sum'"):
        ours = F.l1_loss(bt.tensor(a), bt.tensor(b), size_average=False)
    close(ours.numpy(), np.abs(a - b).sum())


def test_loss_size_mismatch_messages():
    with pytest.warns(UserWarning, match="different to the input size"):
        F.l1_loss(bt.tensor(rand(3, 1)), bt.tensor(rand(3)))
    with pytest.raises(ValueError, match="different to the input size"):
        F.binary_cross_entropy(bt.tensor(P.astype(np.float32)), bt.tensor(Y01[:, 0]))
    with pytest.raises(ValueError, match="must be the same as input size"):
        F.binary_cross_entropy_with_logits(bt.tensor(X), bt.tensor(X[0]))


# ---------------------------------------------------------------- shapes, padding, distances
@pytest.mark.parametrize(
    "pad,mode,value",
    [
        ((1, 2), "constant", None),
        ((1, 1, 2, 0), "constant", 3.5),
        ((-1, 2), "constant", None),
        ((2, 1), "reflect", None),
        ((1, 2, 2, 1), "reflect", None),
        ((2, 3), "replicate", None),
        ((1, 1, 1, 2), "replicate", None),
        ((1, 2), "circular", None),
        ((2, 1, 1, 2), "circular", None),
    ],
)
def test_pad(pad, mode, value):
    x = rand(2, 3, 4, 5) if len(pad) == 4 or mode == "constant" else rand(3, 4, 5)
    run_both("pad", [x], args=(pad, mode, value))


def test_pad_errors():
    with pytest.raises(RuntimeError, match="divisible by 2"):
        F.pad(bt.zeros(2, 3), (1,))
    with pytest.raises(RuntimeError, match="less than the corresponding input dimension"):
        F.pad(bt.zeros(1, 2, 3), (3, 3), mode="reflect")
    with pytest.raises(NotImplementedError, match="Padding size 2 is not supported for 4D input"):
        F.pad(bt.zeros(1, 2, 3, 4), (1, 1), mode="reflect")


def test_one_hot():
    idx = np.array([[0, 2], [1, 3]])
    for n in (-1, 5):
        ours = F.one_hot(bt.tensor(idx), n)
        theirs = TF.one_hot(torch.tensor(idx), n)
        assert ours.dtype == bt.int64 and ours.tolist() == theirs.tolist()
    with pytest.raises(RuntimeError, match="smaller than num_classes"):
        F.one_hot(bt.tensor(idx), 3)
    with pytest.raises(RuntimeError, match="LongTensor"):
        F.one_hot(bt.tensor(idx).int())


def test_cosine_similarity_and_pairwise_distance():
    a, b = rand(5, 4), rand(5, 4, seed=1)
    run_both("cosine_similarity", [a, b])
    run_both("cosine_similarity", [a, b[:1]], kwargs={"dim": -1})
    run_both("cosine_similarity", [a.T.copy(), b.T.copy()], kwargs={"dim": 0})
    for p in (2.0, 1.0, 3.0):
        run_both("pairwise_distance", [a, b], kwargs={"p": p})
    run_both("pairwise_distance", [a, b], kwargs={"keepdim": True})


def test_embedding_gradients_with_padding_and_frequency_scaling():
    w = rand(7, 3)
    idx = np.array([[0, 2, 2], [6, 1, 2]])
    for kwargs in ({}, {"padding_idx": 2}, {"scale_grad_by_freq": True}, {"padding_idx": -1}):
        wb, wt = bt.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
        ob = F.embedding(bt.tensor(idx), wb, **kwargs)
        ot = TF.embedding(torch.tensor(idx), wt, **kwargs)
        close(ob.detach().numpy(), ot.detach().numpy())
        v = rand(*ot.shape, seed=9)
        (ob * bt.tensor(v)).sum().backward()
        (ot * torch.tensor(v)).sum().backward()
        close(wb.grad.numpy(), wt.grad.numpy(), what=str(kwargs))


def test_embedding_max_norm_renormalizes_the_rows_used():
    w = rand(5, 3, scale=3.0)
    wb, wt = bt.tensor(w.copy()), torch.tensor(w.copy())
    idx = np.array([1, 3, 3])
    close(F.embedding(bt.tensor(idx), wb, max_norm=1.0).numpy(), TF.embedding(torch.tensor(idx), wt, max_norm=1.0))
    close(wb.numpy(), wt.numpy())


def test_bilinear_and_pixel_shuffle():
    run_both("bilinear", [rand(4, 3), rand(4, 2, seed=1), rand(5, 3, 2, seed=2), rand(5, seed=3)])
    run_both("pixel_shuffle", [rand(2, 8, 3, 3)], args=(2,))
    run_both("pixel_unshuffle", [rand(2, 2, 4, 6)], args=(2,))


# ---------------------------------------------------------------- convolution and pooling
def test_conv1d_over_the_engine():
    x, w, b = rand(2, 3, 9), rand(4, 3, 3, seed=1), rand(4, seed=2)
    run_both("conv1d", [x, w, b])
    run_both("conv1d", [x, w], kwargs={"stride": 2, "padding": 1})
    run_both("conv1d", [x, w, b], kwargs={"padding": "same"})
    run_both("conv1d", [x[0], w, b])


@pytest.mark.parametrize("kwargs", [{"kernel_size": 2}, {"kernel_size": 3, "stride": 2, "padding": 1}])
def test_pool1d(kwargs):
    x = rand(2, 3, 9)
    run_both("max_pool1d", [x], kwargs=kwargs)
    run_both("avg_pool1d", [x], kwargs=kwargs)
    run_both("avg_pool1d", [x[0]], kwargs=kwargs)
    ob, ot = (
        F.max_pool1d(bt.tensor(x), return_indices=True, **kwargs),
        TF.max_pool1d(torch.tensor(x), return_indices=True, **kwargs),
    )
    close(ob[0].numpy(), ot[0].numpy())
    assert ob[1].tolist() == ot[1].tolist()


@pytest.mark.parametrize("size", [1, 3, 4, 7])
def test_adaptive_pools(size):
    x1, x2 = rand(2, 3, 10), rand(2, 3, 7, 9)
    run_both("adaptive_avg_pool1d", [x1], args=(size,))
    run_both("adaptive_max_pool1d", [x1], args=(size,))
    run_both("adaptive_max_pool2d", [x2], args=((size, max(size - 1, 1)),))
    ob = F.adaptive_max_pool2d(bt.tensor(x2), size, return_indices=True)
    ot = TF.adaptive_max_pool2d(torch.tensor(x2), size, return_indices=True)
    assert ob[1].tolist() == ot[1].tolist()


# ---------------------------------------------------------------- normalization
def test_instance_norm_with_and_without_affine_and_running_stats():
    x = rand(3, 4, 5, 2)
    run_both("instance_norm", [x])
    w, b = rand(4, seed=1), rand(4, seed=2)
    xb, wb, bb = bt.tensor(x, requires_grad=True), bt.tensor(w, requires_grad=True), bt.tensor(b, requires_grad=True)
    xt, wt, bt_ = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    rmb, rvb = bt.zeros(4), bt.ones(4)
    rmt, rvt = torch.zeros(4), torch.ones(4)
    ob = F.instance_norm(xb, rmb, rvb, wb, bb, momentum=0.3)
    ot = TF.instance_norm(xt, rmt, rvt, wt, bt_, momentum=0.3)
    close(ob.detach().numpy(), ot.detach().numpy())
    close(rmb.numpy(), rmt.numpy())
    close(rvb.numpy(), rvt.numpy())
    v = rand(*x.shape, seed=5)
    (ob * bt.tensor(v)).sum().backward()
    (ot * torch.tensor(v)).sum().backward()
    for ours, theirs in ((xb, xt), (wb, wt), (bb, bt_)):
        close(ours.grad.numpy(), theirs.grad.numpy())
    ob = F.instance_norm(bt.tensor(x), rmb, rvb, use_input_stats=False)
    ot = TF.instance_norm(torch.tensor(x), rmt, rvt, use_input_stats=False)
    close(ob.numpy(), ot.numpy())


def test_rms_norm_and_local_response_norm():
    x = rand(3, 4, 5)
    xb, wb = bt.tensor(x, requires_grad=True), bt.tensor(rand(4, 5, seed=1), requires_grad=True)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(rand(4, 5, seed=1), requires_grad=True)
    ob, ot = F.rms_norm(xb, (4, 5), wb), TF.rms_norm(xt, (4, 5), wt)
    close(ob.detach().numpy(), ot.detach().numpy())
    ob.sum().backward()
    ot.sum().backward()
    close(xb.grad.numpy(), xt.grad.numpy())
    close(wb.grad.numpy(), wt.grad.numpy())
    for size in (2, 3):
        run_both("local_response_norm", [rand(2, 6, 3, 3)], args=(size,), kwargs={"alpha": 0.1, "beta": 0.6, "k": 2.0})


# ---------------------------------------------------------------- dropout variants
def test_channel_dropouts_zero_whole_channels_and_scale_the_rest():
    bt.manual_seed(0)
    x = bt.ones(64, 32, 5, requires_grad=True)
    y = F.dropout1d(x, 0.25)
    kept = y.detach().numpy()[:, :, 0] != 0
    assert np.all((y.detach().numpy() == 0) | np.isclose(y.detach().numpy(), 1 / 0.75))
    assert np.all(y.detach().numpy().std(axis=2) == 0)  # whole channels
    assert abs(kept.mean() - 0.75) < 0.05
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.detach().numpy())
    x4 = bt.ones(8, 16, 3, 3)
    assert F.dropout2d(x4, 0.5, training=False) is x4
    assert np.all(F.dropout2d(x4, 1.0).numpy() == 0)
    with pytest.warns(UserWarning, match="3D input to dropout2d"):
        F.dropout2d(bt.ones(2, 3, 4))
    with pytest.raises(RuntimeError, match="Expected 2D or 3D input"):
        F.dropout1d(bt.ones(2, 3, 4, 5))


def test_alpha_dropout_keeps_mean_and_variance_of_a_standard_normal():
    bt.manual_seed(1)
    x = bt.randn(200000)
    assert F.alpha_dropout(x, 0.2) is x  # training defaults to False, as in PyTorch
    y = F.alpha_dropout(x, 0.2, training=True).numpy()
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02
    z = F.feature_alpha_dropout(bt.zeros(200, 100, 4), 0.2, training=True).numpy()
    assert np.all(np.ptp(z, axis=2) == 0)  # one mask value per channel
    assert abs((z[:, :, 0] < z.max()).mean() - 0.2) < 0.02


# ---------------------------------------------------------------- cross_entropy's label smoothing and soft targets
@pytest.mark.parametrize(
    "kwargs",
    [
        {"label_smoothing": 0.1},
        {"label_smoothing": 0.2, "reduction": "sum"},
        {"label_smoothing": 0.3, "reduction": "none"},
        {"label_smoothing": 0.1, "weight": True},
        {"label_smoothing": 0.1, "weight": True, "reduction": "none"},
    ],
    ids=str,
)
def test_cross_entropy_label_smoothing(kwargs):
    x, t = rand(5, 4), np.array([0, 3, 1, -100, 2])
    w = np.abs(rand(4, seed=3))
    kb, kt = dict(kwargs), dict(kwargs)
    if kwargs.get("weight"):
        kb["weight"], kt["weight"] = bt.tensor(w), torch.tensor(w)
    xb, xt = bt.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    lb, lt = F.cross_entropy(xb, bt.tensor(t), **kb), TF.cross_entropy(xt, torch.tensor(t), **kt)
    close(lb.detach().numpy(), lt.detach().numpy())
    lb.sum().backward()
    lt.sum().backward()
    close(xb.grad.numpy(), xt.grad.numpy())


@pytest.mark.parametrize("kwargs", [{}, {"label_smoothing": 0.2}, {"reduction": "none"}], ids=str)
def test_cross_entropy_with_probability_targets(kwargs):
    x, p = rand(5, 4), np.abs(rand(5, 4, seed=2))
    p /= p.sum(1, keepdims=True)
    run_both("cross_entropy", [x, p], grad_mask=[True, False], kwargs=kwargs)
