"""``F.conv2d``, ``F.max_pool2d``, ``F.avg_pool2d`` and ``F.adaptive_avg_pool2d`` (re-exported by
``nn.functional``), forward and backward in the engine, taped for autograd.

Layout: inputs (N, C, H, W) or unbatched (C, H, W); conv weights (out, in, kh, kw), PyTorch's layout, which
the engine's channels-first convolution reads as they are. Each forward and backward runs in the engine
(``_core.ops``: ``conv2d_*``, ``max_pool2d_*``, ``avg_pool2d_*``, ``global_avg_pool2d_*``, which dispatch by
the tensors' device); Python checks the arguments once, with PyTorch's messages (``_conv_args``), keeps the
forward's cache for the backward and tapes the op.

Output size per spatial axis (floor division, ceil_mode=False):

    H_out = (H + pad_before + pad_after - k) // s + 1

An integer padding p pads p on both sides; 'valid' pads nothing; 'same' (stride 1) pads k - 1 in total,
(k - 1) // 2 before and the rest after (PyTorch's rule: the odd pixel of an even kernel at the bottom/right),
so that H_out = H.

Backward (g = dL/d(out)), with cols the im2col of the input that the forward cached:
    conv2d      dW += g @ cols^T,  db += sum of g over (N, OH, OW),  dx = col2im(W^T @ g)
    max_pool2d  each g goes to its window's (first) maximum
    avg_pool2d  each g spreads evenly, g / divisor, over its window (divisor kh*kw with count_include_pad)
    adaptive_avg_pool2d(1)  dx = g / (H*W) broadcast over the plane
"""

from __future__ import annotations

from ... import _core
from .. import autograd
from ..autograd import record
from ..tensor import check_same_device, wrap
from ._conv_args import check_adaptive_output_size, conv_args, pool_args
from ._functional_base import ParamGrads, float_input, needs_tape

__all__ = ["adaptive_avg_pool2d", "avg_pool2d", "conv2d", "max_pool2d"]

_O = _core.ops
_T = _core.tensor_ops


def _batched(x, op: str):
    """The engine tensor of x as (N, C, H, W) and whether x was unbatched (C, H, W)."""
    shape = x._c.shape
    if len(shape) == 4:
        return x._c, False
    if len(shape) == 3:
        return _T.view(x._c, [1, *shape]), True
    raise RuntimeError(f"Expected 3D (unbatched) or 4D (batched) input to {op}, but got input of size: {list(shape)}")


def _unbatch(oc, unbatched: bool):
    return _T.view(oc, list(oc.shape[1:])) if unbatched else oc


def _conv_pads(padding, kernel) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) for an int pair, 'valid' or 'same' (k - 1 in total, the odd one after)."""
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        (kh, kw) = kernel
        return ((kh - 1) // 2, kh - 1 - (kh - 1) // 2, (kw - 1) // 2, kw - 1 - (kw - 1) // 2)
    return (padding[0], padding[0], padding[1], padding[1])


# ---------------------------------------------------------------- convolution
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1):
    """out[n, o] = bias[o] + sum_c weight[o, c] (cross-correlated with) x[n, c], over x (N, C, H, W) or
    (C, H, W) and weight (out_channels, C, kh, kw)."""
    x, w = float_input(input), float_input(weight, "weight")
    if bias is not None:
        float_input(bias, "bias")
    check_same_device(x, w, bias)
    xc, unbatched = _batched(x, "conv2d")
    stride, padding = conv_args("conv2d", stride, padding, dilation, RuntimeError)
    if groups != 1:
        raise ValueError(f"conv2d: groups={groups} is not supported by bnlab (only groups=1)")
    w_shape, x_shape = list(w._c.shape), list(x._c.shape)
    if len(w_shape) != 4:
        raise RuntimeError(
            f"conv2d: weight must be 4-D (out_channels, in_channels, kH, kW), got weight of size {w_shape}"
        )
    if xc.shape[1] != w_shape[1]:
        raise RuntimeError(
            f"Given groups=1, weight of size {w_shape}, expected input{x_shape} to have {w_shape[1]} channels, "
            f"but got {xc.shape[1]} channels instead"
        )
    if bias is not None and list(bias._c.shape) != [w_shape[0]]:
        raise RuntimeError(
            f"Given weight of size {w_shape}, expected bias to be 1-dimensional with {w_shape[0]} elements, but "
            f"got bias of size {list(bias._c.shape)} instead"
        )
    pads = _conv_pads(padding, w_shape[2:])
    padded = (xc.shape[2] + pads[0] + pads[1], xc.shape[3] + pads[2] + pads[3])
    if padded[0] < w_shape[2] or padded[1] < w_shape[3]:
        raise RuntimeError(
            f"conv2d: Calculated padded input size per channel: ({padded[0]} x {padded[1]}). Kernel size: "
            f"({w_shape[2]} x {w_shape[3]}). Kernel size can't be greater than actual input size"
        )
    wc, bc = w._c, bias._c if bias is not None else None
    cache, oc = _O.ConvCache(), _core.Tensor()
    _O.conv2d_forward(oc, cache, xc, wc, bc, stride, pads, False)  # channels first
    out = wrap(_unbatch(oc, unbatched), x.device)
    if not needs_tape(x, w, bias):
        return out

    def backward(g):
        if unbatched:
            g = _T.view(g, [1, *g.shape])
        pg = ParamGrads((w, bias))
        dw, db = pg.buffers
        dx = _core.Tensor() if x._rg else None
        # dW (+)= sum_n g[n] @ cols[n]^T;  db (+)= sum of g over (n, oh, ow);  dx = col2im(W^T @ g[n])
        _O.conv2d_backward(dx, dw, db, g, cache, wc, pg.accumulate)
        if dx is not None and unbatched:
            dx = _T.view(dx, x_shape)
        return (dx, *pg.hand_over())

    record("Convolution", out, (x, w) if bias is None else (x, w, bias), backward)
    return out


# ---------------------------------------------------------------- pooling
def _pool_input(input, op: str, kernel, stride, pad):
    """(the (N, C, H, W) engine tensor, unbatched?) after checking that the window fits the padded input."""
    x = float_input(input)
    xc, unbatched = _batched(x, op)
    _, c, h, w = xc.shape
    oh = (h + 2 * pad[0] - kernel[0]) // stride[0] + 1
    ow = (w + 2 * pad[1] - kernel[1]) // stride[1] + 1
    if oh <= 0 or ow <= 0 or h == 0 or w == 0:
        raise RuntimeError(
            f"{op}: Given input size: ({c}x{h}x{w}). Calculated output size: ({c}x{max(oh, 0)}x{max(ow, 0)}). "
            "Output size is too small"
        )
    return x, xc, unbatched


def _taped_pool(name: str, x, oc, unbatched: bool, backward_op, cache):
    out = wrap(_unbatch(oc, unbatched), x.device)
    if autograd._GradMode.enabled and x._rg:
        x_shape = list(x._c.shape)

        def backward(g):
            if unbatched:
                g = _T.view(g, [1, *g.shape])
            dx = _core.Tensor()
            backward_op(dx, g, cache)
            return (_T.view(dx, x_shape),)

        record(name, out, (x,), backward)
    return out


def max_pool2d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False, return_indices: bool = False
):
    """out[n, c, i, j] = the maximum of x[n, c] over the kh x kw window at (i*sh - ph, j*sw - pw); padding
    never wins. The gradient goes to each window's (first) maximum."""
    kernel, stride, pad = pool_args("max_pool2d", kernel_size, stride, padding, dilation, ceil_mode, RuntimeError)
    if return_indices:
        raise ValueError("max_pool2d: return_indices=True is not supported by bnlab")
    x, xc, unbatched = _pool_input(input, "max_pool2d", kernel, stride, pad)
    cache, oc = _O.PoolCache(), _core.Tensor()
    _O.max_pool2d_forward(oc, cache, xc, kernel, stride, (pad[0], pad[0], pad[1], pad[1]), False)
    return _taped_pool("MaxPool2DWithIndices", x, oc, unbatched, _O.max_pool2d_backward, cache)


def avg_pool2d(
    input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None
):
    """out[n, c, i, j] = the sum of x[n, c] over the kh x kw window at (i*sh - ph, j*sw - pw), divided by
    kh*kw when count_include_pad (padding counts as zeros), else by the number of real values covered."""
    kernel, stride, pad = pool_args("avg_pool2d", kernel_size, stride, padding, 1, ceil_mode, RuntimeError)
    if divisor_override is not None:
        raise ValueError("avg_pool2d: divisor_override is not supported by bnlab (leave it None)")
    x, xc, unbatched = _pool_input(input, "avg_pool2d", kernel, stride, pad)
    cache, oc = _O.PoolCache(), _core.Tensor()
    pads = (pad[0], pad[0], pad[1], pad[1])
    _O.avg_pool2d_forward(oc, cache, xc, kernel, stride, pads, False, bool(count_include_pad))
    return _taped_pool("AvgPool2D", x, oc, unbatched, _O.avg_pool2d_backward, cache)


def adaptive_avg_pool2d(input, output_size):
    """Global average pooling, output size 1 (or (1, 1)): out[n, c, 0, 0] = mean of x[n, c] over H*W."""
    check_adaptive_output_size("adaptive_avg_pool2d", output_size, ValueError)
    x, xc, unbatched = _pool_input(input, "adaptive_avg_pool2d", (1, 1), (1, 1), (0, 0))
    cache, flat = _O.PoolCache(), _core.Tensor()
    _O.global_avg_pool2d_forward(flat, cache, xc, False)  # (N, C)
    oc = _T.view(flat, [*flat.shape, 1, 1])

    def backward_op(dx, g, cache):
        _O.global_avg_pool2d_backward(dx, _T.view(g, list(g.shape[:2])), cache)

    return _taped_pool("AdaptiveAvgPool2D", x, oc, unbatched, backward_op, cache)
