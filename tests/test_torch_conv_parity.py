"""bnlab.torch's CNN layers against real PyTorch 2.13: the same initial weights in both, then outputs,
gradients, running statistics and weights compared (``close``: max|a - b| relative to the scale of torch's
tensor, see test_torch_parity). Skipped without torch.

Covered: F.conv2d over strides, paddings (ints, pairs, 'valid', 'same' with odd and even kernels), with and
without bias, batched and unbatched; F.max_pool2d / F.avg_pool2d (count_include_pad both ways) /
F.adaptive_avg_pool2d; BatchNorm2d in every mode, training then eval; the layers' reprs, attributes and
state_dict keys; PyTorch's error messages; 5 SGD and 5 Adam steps of a small CNN
(Conv-BN-ReLU-Pool-Conv-BN-ReLU-AdaptiveAvgPool-Flatten-Linear) from the same weights, to 1e-4.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from test_torch_conv import CONV_CASES, POOL_CASES  # noqa: E402
from test_torch_parity import check_batchnorm_train_then_eval, close, data, pair  # noqa: E402

import bnlab.torch as bt  # noqa: E402
import bnlab.torch.nn as bnn  # noqa: E402
import bnlab.torch.nn.functional as BF  # noqa: E402

TF = torch.nn.functional


# ---------------------------------------------------------------- BatchNorm2d
BN2D_CASES = {
    "default": {},
    "momentum_None": {"momentum": None},
    "affine_False": {"affine": False},
    "bias_False": {"bias": False},
    "track_running_stats_False": {"track_running_stats": False},
    "eps_momentum": {"eps": 1e-3, "momentum": 0.3},
}


@pytest.mark.parametrize("case", list(BN2D_CASES))
def test_batchnorm2d_matches_pytorch_in_training_then_eval(case):
    kwargs = BN2D_CASES[case]
    b, t = bnn.BatchNorm2d(5, **kwargs), torch.nn.BatchNorm2d(5, **kwargs)
    # running_var: the unbiased variance over n = N*H*W = 168 values per channel
    check_batchnorm_train_then_eval(b, t, np.random.default_rng(11), (6, 5, 7, 4), train_steps=4)


def test_batchnorm2d_state_dict_round_trips_into_pytorch():
    rng = np.random.default_rng(12)
    b = bnn.BatchNorm2d(3)
    for _ in range(3):
        b(data(rng, 4, 3, 5, 5, scale=2.0)[0] + 1.0)
    t = torch.nn.BatchNorm2d(3)
    t.load_state_dict({k: torch.from_numpy(np.array(v.numpy())) for k, v in b.state_dict().items()})
    b.eval(), t.eval()
    xb, xt = data(rng, 2, 3, 5, 5)
    close(b(xb), t(xt), what="eval output from loaded state")
    assert int(t.num_batches_tracked) == 3


@pytest.mark.parametrize(
    ("shape", "kind"),
    [((4, 3), ValueError), ((4, 3, 5), ValueError), ((1, 3, 1, 1), ValueError), ((2, 4, 3, 3), RuntimeError)],
)
def test_batchnorm2d_bad_input_raises_pytorchs_error(shape, kind):
    x = np.ones(shape, np.float32)
    with pytest.raises(kind) as expected:
        torch.nn.BatchNorm2d(3)(torch.from_numpy(x))
    with pytest.raises(kind) as got:
        bnn.BatchNorm2d(3)(bt.from_numpy(x))
    assert str(got.value) == str(expected.value)


# ---------------------------------------------------------------- layer configuration
LAYERS = [
    ("Conv2d", (3, 32, 3), {"padding": 1}),
    ("Conv2d", (3, 8, (3, 5)), {"stride": 2, "padding": (1, 2), "bias": False}),
    ("Conv2d", (3, 8, 3), {"padding": "same"}),
    ("Conv2d", (3, 8, 4), {"padding": "valid", "stride": (1, 2)}),
    ("Conv2d", (1, 4, 5), {"stride": [2, 1], "dilation": 1, "groups": 1, "padding_mode": "zeros"}),
    ("MaxPool2d", (2,), {}),
    ("MaxPool2d", (3, 2, 1), {}),
    ("MaxPool2d", ((2, 3),), {"stride": (1, 2)}),
    ("AvgPool2d", (2,), {}),
    ("AvgPool2d", (3,), {"stride": 1, "padding": 1, "count_include_pad": False}),
    ("AdaptiveAvgPool2d", (1,), {}),
    ("AdaptiveAvgPool2d", ((1, 1),), {}),
    ("Flatten", (), {}),
]


@pytest.mark.parametrize(("name", "args", "kwargs"), LAYERS)
def test_layer_repr_attributes_and_state_dict_match_pytorch(name, args, kwargs):
    b, t = getattr(bnn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(b) == repr(t)
    for attr in (
        "in_channels",
        "out_channels",
        "kernel_size",
        "stride",
        "padding",
        "dilation",
        "groups",
        "padding_mode",
        "ceil_mode",
        "count_include_pad",
        "output_size",
    ):
        if hasattr(t, attr):
            assert getattr(b, attr) == getattr(t, attr), attr
    assert {k: tuple(v.shape) for k, v in b.state_dict().items()} == {
        k: tuple(v.shape) for k, v in t.state_dict().items()
    }


def test_conv2d_init_is_pytorchs_distribution():
    bt.manual_seed(0)
    layer = bnn.Conv2d(16, 64, 3)
    bound = 1 / np.sqrt(16 * 9)  # kaiming_uniform_(a=sqrt(5)) and the bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    w, bias = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    reference = torch.nn.Conv2d(16, 64, 3).weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(bias).max() <= bound
    assert abs(w.std() - bound / np.sqrt(3)) < 0.02 * bound  # U(-b, b) has std b / sqrt(3)
    assert abs(w.std() - reference.std()) < 0.03 * bound
    assert abs(np.abs(w).max() - np.abs(reference).max()) < 0.01 * bound
    bt.manual_seed(0)
    np.testing.assert_array_equal(bnn.Conv2d(16, 64, 3).weight.detach().numpy(), w)  # reproducible


# ---------------------------------------------------------------- functional parity
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")  # torch's own note
@pytest.mark.parametrize(("x_shape", "w_shape", "stride", "padding", "bias"), CONV_CASES)
def test_conv2d_forward_and_backward_match_pytorch(x_shape, w_shape, stride, padding, bias):
    rng = np.random.default_rng(13)
    (xb, xt), (wb, wt) = data(rng, *x_shape), data(rng, *w_shape)
    bb, bt_ = data(rng, w_shape[0]) if bias else (None, None)
    leaves = [t for t in (xb, xt, wb, wt, bb, bt_) if t is not None]
    for t in leaves:
        t.requires_grad_()
    yb, yt = BF.conv2d(xb, wb, bb, stride, padding), TF.conv2d(xt, wt, bt_, stride, padding)
    close(yb, yt, what="output")
    (gb, gt) = data(rng, *yt.shape)
    (yb * gb).sum().backward(), (yt * gt).sum().backward()
    close(xb.grad, xt.grad, what="input grad")
    close(wb.grad, wt.grad, what="weight grad")
    if bias:
        close(bb.grad, bt_.grad, what="bias grad")


@pytest.mark.parametrize(("x_shape", "kernel", "stride", "padding"), POOL_CASES)
def test_pooling_forward_and_backward_match_pytorch(x_shape, kernel, stride, padding):
    rng = np.random.default_rng(14)
    calls = [
        ("max", lambda f, x: f.max_pool2d(x, kernel, stride, padding)),
        ("avg", lambda f, x: f.avg_pool2d(x, kernel, stride, padding)),
        ("avg_no_pad", lambda f, x: f.avg_pool2d(x, kernel, stride, padding, count_include_pad=False)),
        ("adaptive", lambda f, x: f.adaptive_avg_pool2d(x, 1)),
    ]
    for name, call in calls:
        xb, xt = data(rng, *x_shape)
        xb.requires_grad_(), xt.requires_grad_()
        yb, yt = call(BF, xb), call(TF, xt)
        close(yb, yt, what=f"{name} output")
        gb, gt = data(rng, *yt.shape)
        (yb * gb).sum().backward(), (yt * gt).sum().backward()
        close(xb.grad, xt.grad, what=f"{name} input grad")


@pytest.mark.parametrize(
    ("call", "kind"),
    [
        (lambda f, m: f.conv2d(m.zeros(2, 3), m.zeros(4, 3, 3, 3)), RuntimeError),
        (lambda f, m: f.conv2d(m.zeros(2, 4, 8, 8), m.zeros(5, 3, 3, 3)), RuntimeError),
        (lambda f, m: f.conv2d(m.zeros(2, 3, 8, 8), m.zeros(4, 3, 3, 3), m.zeros(5)), RuntimeError),
    ],
)
def test_conv2d_shape_errors_carry_pytorchs_message(call, kind):
    with pytest.raises(kind) as expected:
        call(TF, torch)
    with pytest.raises(kind) as got:
        call(BF, bt)
    assert str(got.value) == str(expected.value)


# ---------------------------------------------------------------- a small CNN, 5 optimizer steps
def small_cnn(nn, conv_bias: bool):
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=conv_bias),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1, bias=conv_bias),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 10),
    )


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_small_cnn_five_steps_match_pytorch(optimizer):
    """The conv biases feed BatchNorm, which cancels them: their gradient is 0 in exact arithmetic and float32
    rounding (~1e-9) in both libraries. SGD moves them by lr * noise; Adam divides the noise by its own
    magnitude into steps of +-lr, different in each library. So the Adam network has no conv biases, as CNNs
    with BN are usually written (Conv2d(..., bias=False))."""
    torch.manual_seed(0)
    t = small_cnn(torch.nn, conv_bias=optimizer == "SGD")
    b = small_cnn(bnn, conv_bias=optimizer == "SGD")
    pair(b, t)
    assert repr(b) == repr(t)
    kwargs = {"lr": 0.05, "momentum": 0.9} if optimizer == "SGD" else {"lr": 0.01}
    ob, ot = (
        getattr(bt.optim, optimizer)(b.parameters(), **kwargs),
        getattr(torch.optim, optimizer)(t.parameters(), **kwargs),
    )
    rng = np.random.default_rng(15)
    for step in range(5):
        xb, xt = data(rng, 16, 3, 12, 12)
        labels = rng.integers(0, 10, 16)
        lb = bnn.CrossEntropyLoss()(b(xb), bt.tensor(labels))
        lt = torch.nn.CrossEntropyLoss()(t(xt), torch.from_numpy(labels))
        close(lb, lt, rtol=1e-4, what=f"loss at step {step}")
        ob.zero_grad(), ot.zero_grad()
        lb.backward(), lt.backward()
        ob.step(), ot.step()
    for (name, pb), pt in zip(b.named_parameters(), t.parameters(), strict=True):
        close(pb, pt, rtol=1e-4, what=f"{name} after 5 {optimizer} steps")
    for (name, vb), vt in zip(b.named_buffers(), t.buffers(), strict=True):
        if vt.is_floating_point():
            close(vb, vt, rtol=1e-4, what=name)
    b.eval(), t.eval()
    xb, xt = data(rng, 4, 3, 12, 12)
    with bt.no_grad(), torch.no_grad():
        close(b(xb), t(xt), rtol=1e-4, what="eval output")
