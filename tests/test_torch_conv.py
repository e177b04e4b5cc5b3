"""bnlab.torch's convolution and pooling on their own: forwards against NumPy references, backwards through
the tape against central finite differences, argument errors, module behaviour, and torchvision's images
feeding a CNN. (Parity with real PyTorch: test_torch_conv_parity.py; the GPU: the GPU-marked tests here.)

Finite differences. L = sum(r * f(x)) with a fixed random r; each checked element is moved by +-h and the
float32 outputs are summed in float64, divided by the step actually taken (float32(x + h) - float32(x - h)).
With h = 1e-2 and O(1) data the error is below ~1e-4 of max(1, max|grad|); the tolerance is 2e-3 of that scale
(see test_ops_gradcheck). Max pooling is differentiable only away from ties, so its input is a permutation of
values 0.05 apart (more than 2h): no perturbation changes a window's winner.
"""

from __future__ import annotations

import numpy as np
import pytest
from gpu_marks import REQUIRES_CUDA

import bnlab.torch as bt
import bnlab.torch.nn as nn
import bnlab.torch.nn.functional as F

H, TOL = 1e-2, 2e-3


# ---------------------------------------------------------------- NumPy references
def np_pad(x, pads, value=0.0):
    top, bottom, left, right = pads
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=value)


def np_windows(x, kernel, stride):
    """(N, C, OH, OW, kh, kw): every window of x (already padded)."""
    w = np.lib.stride_tricks.sliding_window_view(x, kernel, axis=(2, 3))
    return w[:, :, :: stride[0], :: stride[1]]


def np_conv2d(x, w, b, stride, pads):
    win = np_windows(np_pad(x.astype(np.float64), pads), w.shape[2:], stride)
    out = np.einsum("ncijuv,kcuv->nkij", win, w.astype(np.float64))
    return out if b is None else out + b[None, :, None, None]


def np_max_pool(x, kernel, stride, pad):
    return np_windows(np_pad(x, (pad[0], pad[0], pad[1], pad[1]), -np.inf), kernel, stride).max(axis=(4, 5))


def np_avg_pool(x, kernel, stride, pad, count_include_pad):
    pads = (pad[0], pad[0], pad[1], pad[1])
    sums = np_windows(np_pad(x.astype(np.float64), pads), kernel, stride).sum(axis=(4, 5))
    if count_include_pad:
        return sums / (kernel[0] * kernel[1])
    ones = np_pad(np.ones((1, 1, *x.shape[2:])), pads)
    return sums / np_windows(ones, kernel, stride).sum(axis=(4, 5))


def same_pads(kernel):
    kh, kw = kernel
    return ((kh - 1) // 2, kh - 1 - (kh - 1) // 2, (kw - 1) // 2, kw - 1 - (kw - 1) // 2)


def assert_close(got, expected, rtol=1e-5):
    got = np.asarray(got, np.float64)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    scale = max(1.0, np.abs(expected).max(initial=0.0))
    assert np.abs(got - expected).max(initial=0.0) <= rtol * scale


# ---------------------------------------------------------------- forwards
CONV_CASES = [  # (x shape, weight shape, stride, padding, bias)
    ((2, 3, 7, 6), (4, 3, 3, 3), 1, 0, True),
    ((2, 3, 7, 6), (4, 3, 3, 3), 1, 1, False),
    ((2, 3, 8, 9), (5, 3, 3, 2), (2, 1), (1, 0), True),
    ((1, 2, 9, 9), (3, 2, 5, 5), 3, 2, True),
    ((2, 3, 6, 7), (4, 3, 3, 3), 1, "same", True),
    ((2, 3, 6, 7), (4, 3, 4, 2), 1, "same", False),  # even kernels: the odd pixel padded after
    ((2, 3, 6, 7), (4, 3, 2, 3), (1, 2), "valid", True),
    ((3, 1, 5, 5), (2, 1, 1, 1), 1, 0, True),
    ((2, 3, 4, 4), (2, 3, 4, 4), 1, 0, True),  # the kernel covers the input: one output pixel
]


def conv_pads(padding, kernel):
    if padding == "same":
        return same_pads(kernel)
    if padding == "valid":
        return (0, 0, 0, 0)
    p = (padding, padding) if isinstance(padding, int) else padding
    return (p[0], p[0], p[1], p[1])


@pytest.mark.parametrize(("x_shape", "w_shape", "stride", "padding", "bias"), CONV_CASES)
def test_conv2d_forward_matches_numpy(x_shape, w_shape, stride, padding, bias):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(x_shape).astype(np.float32), rng.standard_normal(w_shape).astype(np.float32)
    b = rng.standard_normal(w_shape[0]).astype(np.float32) if bias else None
    out = F.conv2d(bt.tensor(x), bt.tensor(w), bt.tensor(b) if bias else None, stride=stride, padding=padding)
    s = (stride, stride) if isinstance(stride, int) else stride
    assert_close(out.numpy(), np_conv2d(x, w, b, s, conv_pads(padding, w_shape[2:])))


def test_conv2d_unbatched_input_is_one_sample():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((3, 6, 6)).astype(np.float32), rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    out = F.conv2d(bt.tensor(x), bt.tensor(w), padding=1)
    assert out.shape == bt.Size([4, 6, 6])
    assert_close(out.numpy(), np_conv2d(x[None], w, None, (1, 1), (1, 1, 1, 1))[0])


POOL_CASES = [  # (x shape, kernel, stride, padding)
    ((2, 3, 6, 6), 2, None, 0),
    ((2, 3, 7, 5), 3, 2, 1),
    ((1, 2, 6, 9), (2, 3), (1, 2), (1, 1)),
    ((2, 1, 5, 5), 5, 1, 0),
]


@pytest.mark.parametrize(("x_shape", "kernel", "stride", "padding"), POOL_CASES)
def test_pooling_forward_matches_numpy(x_shape, kernel, stride, padding):
    rng = np.random.default_rng(2)
    x = rng.standard_normal(x_shape).astype(np.float32)
    pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)  # noqa: E731
    k, p = pair(kernel), pair(padding)
    s = k if stride is None else pair(stride)
    assert_close(F.max_pool2d(bt.tensor(x), kernel, stride, padding).numpy(), np_max_pool(x, k, s, p))
    for include in (True, False):
        got = F.avg_pool2d(bt.tensor(x), kernel, stride, padding, count_include_pad=include)
        assert_close(got.numpy(), np_avg_pool(x, k, s, p, include))
    assert nn.AvgPool2d(kernel, stride, padding)(bt.tensor(x)).shape == got.shape


def test_adaptive_avg_pool_is_the_plane_mean():
    x = np.random.default_rng(3).standard_normal((3, 4, 5, 6)).astype(np.float32)
    for size in (1, (1, 1)):
        out = nn.AdaptiveAvgPool2d(size)(bt.tensor(x))
        assert out.shape == bt.Size([3, 4, 1, 1])
        assert_close(out.numpy(), x.astype(np.float64).mean(axis=(2, 3), keepdims=True))
    assert F.adaptive_avg_pool2d(bt.tensor(x[0]), 1).shape == bt.Size([4, 1, 1])


# ---------------------------------------------------------------- backwards vs finite differences
def finite_difference_check(fn, inputs: dict[str, np.ndarray], rng, samples: int = 12) -> None:
    """Gradients of L = sum(r * fn(**tensors)) through the tape vs central differences of the forward."""
    tensors = {k: bt.tensor(v, requires_grad=True) for k, v in inputs.items()}
    out = fn(**tensors)
    r = rng.standard_normal(tuple(out.shape)).astype(np.float32)
    (out * bt.tensor(r)).sum().backward()

    def loss(values):
        with bt.no_grad():
            y = fn(**{k: bt.tensor(v) for k, v in values.items()}).numpy()
        return float(np.sum(r.astype(np.float64) * y))

    for name, value in inputs.items():
        grad = tensors[name].grad.numpy()
        scale = max(1.0, np.abs(grad).max())
        flat = value.reshape(-1)
        for i in rng.choice(flat.size, min(samples, flat.size), replace=False):
            plus, minus = {k: v.copy() for k, v in inputs.items()}, {k: v.copy() for k, v in inputs.items()}
            plus[name].reshape(-1)[i] += np.float32(H)
            minus[name].reshape(-1)[i] -= np.float32(H)
            step = float(plus[name].reshape(-1)[i]) - float(minus[name].reshape(-1)[i])
            numeric = (loss(plus) - loss(minus)) / step
            assert abs(grad.reshape(-1)[i] - numeric) <= TOL * scale, (name, i, grad.reshape(-1)[i], numeric)


@pytest.mark.parametrize(("x_shape", "w_shape", "stride", "padding", "bias"), CONV_CASES[:7])
def test_conv2d_backward_matches_finite_differences(x_shape, w_shape, stride, padding, bias):
    rng = np.random.default_rng(4)
    inputs = {"x": rng.standard_normal(x_shape), "w": rng.standard_normal(w_shape) * 0.5}
    if bias:
        inputs["b"] = rng.standard_normal(w_shape[0])
    inputs = {k: v.astype(np.float32) for k, v in inputs.items()}

    def fn(x, w, b=None):
        return F.conv2d(x, w, b, stride=stride, padding=padding)

    finite_difference_check(fn, inputs, rng)


@pytest.mark.parametrize(("x_shape", "kernel", "stride", "padding"), POOL_CASES)
def test_pooling_backward_matches_finite_differences(x_shape, kernel, stride, padding):
    rng = np.random.default_rng(5)
    n = int(np.prod(x_shape))
    distinct = (rng.permutation(n).reshape(x_shape) * 0.05 - n * 0.025).astype(np.float32)
    finite_difference_check(lambda x: F.max_pool2d(x, kernel, stride, padding), {"x": distinct}, rng)
    smooth = rng.standard_normal(x_shape).astype(np.float32)
    for include in (True, False):
        fn = lambda x, include=include: F.avg_pool2d(x, kernel, stride, padding, count_include_pad=include)  # noqa: E731
        finite_difference_check(fn, {"x": smooth}, rng)
    finite_difference_check(lambda x: F.adaptive_avg_pool2d(x, 1), {"x": smooth}, rng)


def test_small_cnn_backward_matches_finite_differences():
    """Conv-BN-Tanh-AvgPool-Conv-AdaptiveAvgPool-Flatten-Linear, the gradient of every parameter (smooth
    layers only: a step of h moves pre-activations across ReLU's kink, which differences cannot follow)."""
    bt.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1),
        nn.BatchNorm2d(3),
        nn.Tanh(),
        nn.AvgPool2d(2),
        nn.Conv2d(3, 4, 3, padding="same"),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 3),
    )
    rng = np.random.default_rng(6)
    x = bt.tensor(rng.standard_normal((4, 2, 6, 6)).astype(np.float32))
    r = bt.tensor(rng.standard_normal((4, 3)).astype(np.float32))
    (model(x) * r).sum().backward()
    for name, p in model.named_parameters():
        grad, value = p.grad.numpy().reshape(-1), p.detach().numpy().reshape(-1)
        scale = max(1.0, np.abs(grad).max())
        for i in rng.choice(value.size, min(4, value.size), replace=False):
            orig = value[i]
            losses = []
            for delta in (H, -H):
                value[i] = orig + np.float32(delta)  # (no no_grad(): BatchNorm is in training mode)
                losses.append(float(np.sum(r.numpy().astype(np.float64) * model(x).detach().numpy())))
            value[i] = orig
            numeric = (losses[0] - losses[1]) / (float(np.float32(orig + H)) - float(np.float32(orig - H)))
            assert abs(grad[i] - numeric) <= TOL * scale, (name, i)


# ---------------------------------------------------------------- bad input
def conv_input(*shape):
    return bt.zeros(*shape)


FUNCTIONAL_ERRORS = [  # (call, exception, message fragment naming the problem)
    (lambda: F.conv2d(conv_input(2, 3), bt.zeros(4, 3, 3, 3)), RuntimeError, r"Expected 3D \(unbatched\) or 4D"),
    (lambda: F.conv2d(conv_input(1, 2, 3, 4, 4), bt.zeros(4, 3, 3, 3)), RuntimeError, "got input of size"),
    (lambda: F.conv2d(conv_input(2, 4, 8, 8), bt.zeros(5, 3, 3, 3)), RuntimeError, "to have 3 channels, but got 4"),
    (lambda: F.conv2d(conv_input(2, 3, 8, 8), bt.zeros(5, 3, 3)), RuntimeError, "weight must be 4-D"),
    (lambda: F.conv2d(conv_input(2, 3, 2, 2), bt.zeros(4, 3, 3, 3)), RuntimeError, "Kernel size can't be greater"),
    (lambda: F.conv2d(conv_input(2, 3, 4, 4), bt.zeros(4, 3, 7, 3), padding=1), RuntimeError, r"\(6 x 6\)"),
    (lambda: F.conv2d(conv_input(2, 3, 8, 8), bt.zeros(4, 3, 3, 3), stride=0), RuntimeError, "non-positive stride"),
    (lambda: F.conv2d(conv_input(2, 3, 8, 8), bt.zeros(4, 3, 3, 3), padding=-1), RuntimeError, "negative padding"),
    (lambda: F.conv2d(conv_input(2, 3, 8, 8), bt.zeros(4, 3, 3, 3), padding="full"), RuntimeError, "padding string"),
    (lambda: F.conv2d(conv_input(2, 3, 8, 8), bt.zeros(4, 3, 3, 3), padding="same", stride=2), RuntimeError, "strided"),
    (lambda: F.conv2d(conv_input(2, 3, 8, 8), bt.zeros(4, 3, 3, 3), stride=(1, 1, 1)), RuntimeError, "stride must"),
    (lambda: F.conv2d(conv_input(2, 3, 8, 8), bt.zeros(4, 3, 3, 3), bt.zeros(5)), RuntimeError, "bias"),
    (lambda: F.conv2d(conv_input(2, 3, 8, 8), bt.zeros(4, 3, 3, 3), dilation=2), ValueError, "dilation"),
    (lambda: F.conv2d(conv_input(2, 3, 8, 8), bt.zeros(4, 3, 3, 3), groups=3), ValueError, "groups"),
    (lambda: F.conv2d(bt.zeros(2, 3, 8, 8).long(), bt.zeros(4, 3, 3, 3)), TypeError, "float32"),
    (lambda: F.max_pool2d(conv_input(2, 3), 2), RuntimeError, r"Expected 3D \(unbatched\) or 4D"),
    (lambda: F.max_pool2d(conv_input(2, 3, 1, 1), 2), RuntimeError, "Output size is too small"),
    (lambda: F.avg_pool2d(conv_input(2, 3, 3, 1), 2), RuntimeError, r"\(3x1x0\)"),
    (lambda: F.max_pool2d(conv_input(2, 3, 4, 4), 2, stride=0), RuntimeError, "stride should be greater than zero"),
    (lambda: F.max_pool2d(conv_input(2, 3, 4, 4), 0), RuntimeError, "kernel size should be greater than zero"),
    (lambda: F.avg_pool2d(conv_input(2, 3, 4, 4), 2, padding=-1), RuntimeError, "pad must be non-negative"),
    (lambda: F.avg_pool2d(conv_input(2, 3, 4, 4), 2, padding=2), RuntimeError, "at most half of effective kernel"),
    (lambda: F.max_pool2d(conv_input(2, 3, 4, 4), 2, ceil_mode=True), ValueError, "ceil_mode"),
    (lambda: F.adaptive_avg_pool2d(conv_input(2, 3, 4, 4), 2), ValueError, "output_size"),
]


@pytest.mark.parametrize(("call", "kind", "message"), FUNCTIONAL_ERRORS)
def test_functional_bad_input_raises_a_clear_error(call, kind, message):
    with pytest.raises(kind, match=message):
        call()


LAYER_ERRORS = [  # constructor arguments: ValueError naming the argument
    (lambda: nn.Conv2d(0, 4, 3), "in_channels"),
    (lambda: nn.Conv2d(3, -1, 3), "out_channels"),
    (lambda: nn.Conv2d(3, 4, 0), "kernel_size"),
    (lambda: nn.Conv2d(3, 4, (3, 3, 3)), "kernel_size"),
    (lambda: nn.Conv2d(3, 4, 2.5), "kernel_size"),
    (lambda: nn.Conv2d(3, 4, 3, stride=0), "stride"),
    (lambda: nn.Conv2d(3, 4, 3, padding=-1), "padding"),
    (lambda: nn.Conv2d(3, 4, 3, padding="full"), "padding string"),
    (lambda: nn.Conv2d(3, 4, 3, padding="same", stride=2), "strided"),
    (lambda: nn.Conv2d(3, 4, 3, dilation=2), "dilation"),
    (lambda: nn.Conv2d(4, 4, 3, groups=2), "groups"),
    (lambda: nn.Conv2d(3, 4, 3, groups=2), "divisible by groups"),
    (lambda: nn.Conv2d(3, 4, 3, padding_mode="reflect"), "padding_mode"),
    (lambda: nn.MaxPool2d(0), "kernel size"),
    (lambda: nn.MaxPool2d(2, stride=0), "stride"),
    (lambda: nn.MaxPool2d(2, padding=-1), "pad"),
    (lambda: nn.MaxPool2d(2, padding=2), "pad"),
    (lambda: nn.MaxPool2d(2, dilation=2), "dilation"),
    (lambda: nn.MaxPool2d(2, return_indices=True), "return_indices"),
    (lambda: nn.AvgPool2d(2, ceil_mode=True), "ceil_mode"),
    (lambda: nn.AvgPool2d(2, divisor_override=3), "divisor_override"),
    (lambda: nn.AdaptiveAvgPool2d(7), "output_size"),
    (lambda: nn.AdaptiveAvgPool2d((1, 2)), "output_size"),
]


@pytest.mark.parametrize(("make", "message"), LAYER_ERRORS)
def test_layer_configuration_errors_name_the_argument(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_conv2d_layer_reports_channel_mismatch_and_small_input_at_call():
    layer = nn.Conv2d(3, 4, 5)
    with pytest.raises(RuntimeError, match="expected input\\[2, 1, 8, 8\\] to have 3 channels"):
        layer(bt.zeros(2, 1, 8, 8))
    with pytest.raises(RuntimeError, match="Kernel size can't be greater than actual input size"):
        layer(bt.zeros(2, 3, 4, 8))


# ---------------------------------------------------------------- module behaviour
def test_conv2d_gradients_accumulate_and_zero_grad_clears_them():
    bt.manual_seed(1)
    layer = nn.Conv2d(2, 3, 3, padding=1)
    x = bt.randn(2, 2, 5, 5)
    layer(x).sum().backward()
    first_w, first_b = layer.weight.grad.numpy().copy(), layer.bias.grad.numpy().copy()
    np.testing.assert_allclose(first_b, np.full(3, 2 * 25), rtol=1e-6)  # d sum / d b_o = N * OH * OW
    layer(x).sum().backward()
    np.testing.assert_allclose(layer.weight.grad.numpy(), 2 * first_w, rtol=1e-5)
    np.testing.assert_allclose(layer.bias.grad.numpy(), 2 * first_b, rtol=1e-6)
    layer.zero_grad()
    assert layer.weight.grad is None
    with bt.no_grad():
        y = layer(x)
    assert not y.requires_grad and y.grad_fn is None
    y = layer(x)
    assert y.requires_grad and type(y.grad_fn).__name__ == "Node" and "Convolution" in repr(y.grad_fn)


def test_input_gradient_only_when_requested():
    x = bt.randn(1, 2, 4, 4, requires_grad=True)
    w = bt.randn(3, 2, 3, 3)  # a constant weight: only x gets a gradient
    F.conv2d(x, w, padding=1).sum().backward()
    assert x.grad.shape == x.shape and w.grad is None
    p = bt.randn(1, 2, 4, 4, requires_grad=True)
    F.max_pool2d(F.avg_pool2d(p, 2, 1), 2, 1).sum().backward()
    assert p.grad.shape == p.shape


def test_retain_graph_backward_twice_doubles_the_gradients():
    bt.manual_seed(4)
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.MaxPool2d(2), nn.AvgPool2d(1), nn.AdaptiveAvgPool2d(1))
    x = bt.randn(2, 2, 7, 7, requires_grad=True)
    y = model(x).sum()
    y.backward(retain_graph=True)
    gx, gw = x.grad.numpy().copy(), model[0].weight.grad.numpy().copy()
    y.backward()  # the caches (im2col columns, argmax) are still there and unchanged
    np.testing.assert_allclose(x.grad.numpy(), 2 * gx, rtol=1e-6)
    np.testing.assert_allclose(model[0].weight.grad.numpy(), 2 * gw, rtol=1e-5)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_small_cnn_learns_a_toy_task():
    """Bright top half vs bright bottom half: a Conv-BN-ReLU-Pool network separates them in a few steps."""
    bt.manual_seed(2)
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 2, 64)
    images = rng.standard_normal((64, 1, 8, 8)).astype(np.float32) * 0.3
    for i, label in enumerate(labels):
        images[i, 0, :4] += 1.0 if label == 0 else 0.0
        images[i, 0, 4:] += 1.0 if label == 1 else 0.0
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * 4 * 4, 2),
    )
    opt = bt.optim.Adam(model.parameters(), lr=0.05)
    x, y = bt.tensor(images), bt.tensor(labels)
    for _ in range(20):
        opt.zero_grad()
        loss = nn.CrossEntropyLoss()(model(x), y)
        loss.backward()
        opt.step()
    model.eval()
    with bt.no_grad():
        accuracy = (model(x).argmax(1) == y).float().mean().item()
    assert loss.item() < 0.2 and accuracy > 0.95


# ---------------------------------------------------------------- torchvision images feed Conv2d
def test_torchvision_batches_are_nchw_and_feed_a_cnn(fashion):
    from bnlab.torch.utils.data import DataLoader, Subset
    from bnlab.torchvision import datasets, transforms

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.2860,), (0.3530,))])
    train = datasets.FashionMNIST(root="unused-root", train=True, transform=transform)
    image, label = train[0]
    assert image.shape == bt.Size([1, 28, 28]) and isinstance(label, int)
    expected = (fashion[0][0][0].astype(np.float32) / np.float32(255) - np.float32(0.2860)) / np.float32(0.3530)
    np.testing.assert_allclose(image.numpy()[0], expected, rtol=1e-6, atol=1e-6)
    loader = DataLoader(Subset(train, list(range(130))), batch_size=64, shuffle=True)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2))
    shapes = []
    for images, labels in loader:
        shapes.append(tuple(images.shape))
        assert model(images).shape == bt.Size([images.shape[0], 8, 14, 14]) and labels.dtype is bt.int64
    assert shapes == [(64, 1, 28, 28), (64, 1, 28, 28), (2, 1, 28, 28)]
    rgb = transforms.ToTensor()(transforms.ImageArray(np.zeros((32, 32, 3), np.uint8)))
    assert rgb.shape == bt.Size([3, 32, 32]) and nn.Conv2d(3, 4, 3)(rgb).shape == bt.Size([4, 30, 30])


# ---------------------------------------------------------------- the GPU against the CPU (skipped here)
@REQUIRES_CUDA[0]
@REQUIRES_CUDA[1]
def test_cnn_on_cuda_matches_the_cpu():
    def make():
        return nn.Sequential(
            nn.Conv2d(3, 4, 3, padding=1),
            nn.BatchNorm2d(4),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(4, 5, 3, stride=2, padding="valid"),
            nn.AvgPool2d(2, padding=1, count_include_pad=False),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(5, 2),
        )

    model, gpu = make(), make()
    gpu.load_state_dict(model.state_dict())
    x = np.random.default_rng(8).standard_normal((4, 3, 12, 12)).astype(np.float32)
    cpu_out = model(bt.tensor(x))
    cpu_out.sum().backward()
    cpu_grads = {k: p.grad.numpy().copy() for k, p in model.named_parameters()}
    gpu.to("cuda")
    assert gpu[0].weight.device.type == "cuda" and gpu[1].running_mean.device.type == "cuda"
    gpu_out = gpu(bt.tensor(x).to("cuda"))
    assert gpu_out.device.type == "cuda"
    gpu_out.sum().backward()
    np.testing.assert_allclose(gpu_out.cpu().detach().numpy(), cpu_out.detach().numpy(), rtol=1e-4, atol=1e-5)
    for k, p in gpu.named_parameters():
        np.testing.assert_allclose(p.grad.cpu().numpy(), cpu_grads[k], rtol=1e-3, atol=1e-4, err_msg=k)
    np.testing.assert_allclose(gpu[1].running_var.cpu().numpy(), model[1].running_var.numpy(), rtol=1e-4)
