"""``F.conv1d``, ``F.max_pool1d``, ``F.avg_pool1d`` and the adaptive poolings of ``nn.functional``.

The 1-D ops run the engine's 2-D kernels (``_conv``) on a height-1 view: x (N, C, L) is seen as (N, C, 1, L),
a conv1d weight (O, C, K) as (O, C, 1, K), a window k as (1, k); the views are differentiable, so the
backward is the 2-D one's (conv: dW += g @ cols^T, dx = col2im(W^T g); max: g to each window's first maximum;
avg: g / divisor spread over the window).

Adaptive pooling (NumPy on the host) splits each spatial axis of size L into ``out`` windows, window i covering
[floor(i L / out), ceil((i + 1) L / out)) — PyTorch's bins, which overlap when L is not a multiple of out:

    adaptive_avg_pool   y_i = mean of x over window i          dx += g_i / |window i| over window i
    adaptive_max_pool   y_i = max of x over window i (first)   dx[argmax_i] += g_i;  indices = flat argmax
"""

from __future__ import annotations

import numpy as np

from .._types import Size
from ..tensor import Tensor, host
from . import _conv
from ._functional_base import float_input
from ._numpy_op import F64, apply

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_max_pool1d",
    "adaptive_max_pool1d_with_indices",
    "adaptive_max_pool2d",
    "adaptive_max_pool2d_with_indices",
    "avg_pool1d",
    "conv1d",
    "max_pool1d",
    "max_pool1d_with_indices",
]


def _single(op: str, name: str, value) -> int:
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise RuntimeError(f"{op}: expected {name} to be a single integer value or a list of 1 values")
        value = value[0]
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{op}: {name} must be an int, got {value!r}")
    return value


def _as_1d(x: Tensor, op: str, what: str = "input") -> Tensor:
    if x.dim() not in (2, 3):
        raise RuntimeError(
            f"Expected 2D (unbatched) or 3D (batched) {what} to {op}, but got input of size: {list(x.shape)}"
        )
    return x.unsqueeze(-2)


# ---------------------------------------------------------------- conv1d
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1) -> Tensor:
    """out[n, o, l] = bias[o] + sum_{c, k} weight[o, c, k] x_pad[n, c, l*s + k] over x (N, C, L) or (C, L)."""
    x, w = float_input(input), float_input(weight, "weight")
    if w.dim() != 3:
        raise RuntimeError(f"conv1d: weight must be 3-D (out_channels, in_channels, kW), got {list(w.shape)}")
    s = _single("conv1d", "stride", stride)
    d = _single("conv1d", "dilation", dilation)
    p = padding if isinstance(padding, str) else (0, _single("conv1d", "padding", padding))
    out = _conv.conv2d(_as_1d(x, "conv1d"), w.unsqueeze(2), bias, (1, s), p, (1, d), groups)
    return out.squeeze(-2)


# ---------------------------------------------------------------- 1-D pooling
def max_pool1d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False, return_indices: bool = False
) -> Tensor:
    """out[n, c, i] = max of x[n, c] over the window of kernel_size at i*stride - padding."""
    if return_indices:
        return max_pool1d_with_indices(input, kernel_size, stride, padding, dilation, ceil_mode)
    k = _single("max_pool1d", "kernel_size", kernel_size)
    s = k if stride is None or stride in ((), []) else _single("max_pool1d", "stride", stride)
    p = _single("max_pool1d", "padding", padding)
    dl = _single("max_pool1d", "dilation", dilation)
    x = float_input(input)
    out = _conv.max_pool2d(_as_1d(x, "max_pool1d"), (1, k), (1, s), (0, p), (1, dl), ceil_mode)
    return out.squeeze(-2)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False):
    """(max_pool1d's values, the int64 positions along L of the maxima) — NumPy on the host."""
    x = float_input(input)
    k = _single("max_pool1d", "kernel_size", kernel_size)
    s = k if stride is None or stride in ((), []) else _single("max_pool1d", "stride", stride)
    p = _single("max_pool1d", "padding", padding)
    if _single("max_pool1d", "dilation", dilation) != 1 or ceil_mode:
        raise ValueError("max_pool1d_with_indices: bnlab supports dilation=1 and ceil_mode=False only")
    _as_1d(x, "max_pool1d")
    L = x.shape[-1]
    n_out = (L + 2 * p - k) // s + 1
    if n_out <= 0:
        raise RuntimeError(
            f"max_pool1d: Given input size: ({L}). Calculated output size: ({n_out}). Output size is too small"
        )
    pos = (np.arange(n_out) * s - p)[:, None] + np.arange(k)[None, :]  # (out, k), some in the padding
    valid = (pos >= 0) & (pos < L)
    clipped = np.clip(pos, 0, L - 1)
    held = {}

    def compute(a):
        win = np.where(valid, a[..., clipped], -np.inf)  # (..., out, k); padding never wins
        idx = clipped[np.arange(n_out), np.argmax(win, axis=-1)]  # (..., out): the first maximum's position
        held["idx"] = idx
        return np.take_along_axis(a, idx, axis=-1), lambda g: (_scatter(g, idx, a.shape, L),)

    out = apply("MaxPool2DWithIndices", (x,), compute)
    return out, host(held["idx"].astype(np.int64), x.device)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True) -> Tensor:
    """out[n, c, i] = mean of x[n, c] over the window of kernel_size at i*stride - padding."""
    k = _single("avg_pool1d", "kernel_size", kernel_size)
    s = k if stride is None or stride in ((), []) else _single("avg_pool1d", "stride", stride)
    p = _single("avg_pool1d", "padding", padding)
    x = float_input(input)
    out = _conv.avg_pool2d(_as_1d(x, "avg_pool1d"), (1, k), (1, s), (0, p), ceil_mode, count_include_pad)
    return out.squeeze(-2)


def _scatter(g, idx, shape, plane: int):
    """dx for max pooling: each g goes to the flat position idx (within the last ``plane`` values) it came from."""
    gx = np.zeros((int(np.prod(shape, dtype=np.int64)) // plane, plane), dtype=F64)
    rows = np.repeat(np.arange(gx.shape[0]), idx.size // max(gx.shape[0], 1))
    np.add.at(gx, (rows, idx.reshape(-1)), g.reshape(-1))
    return gx.reshape(shape)


# ---------------------------------------------------------------- adaptive pooling
def _bins(size: int, out: int):
    return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]


def _out_sizes(op: str, output_size, spatial, nd: int) -> tuple:
    if isinstance(output_size, int):
        sizes = (output_size,) * nd
    else:
        sizes = tuple(output_size)
        if len(sizes) != nd:
            raise RuntimeError(f"{op}: output_size must be {nd}")
    return tuple(spatial[i] if o is None else int(o) for i, o in enumerate(sizes))


def _adaptive(op: str, input, output_size, nd: int, kind: str):
    x = float_input(input)
    if x.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"{op}(): Expected {nd + 1}D or {nd + 2}D tensor, but got {Size(x.shape)}"
            if nd == 2
            else f"{op}(): Expected 2D or 3D tensor, but got: {list(x.shape)}"
        )
    spatial = tuple(x.shape[-nd:])
    if any(s == 0 for s in spatial):
        raise RuntimeError(f"{op}(): Expected input to have non-zero size for non-batch dimensions")
    outs = _out_sizes(op, output_size, spatial, nd)
    if nd == 1:
        windows = _bins(spatial[0], outs[0])
    else:
        windows = [(*h, *w) for h in _bins(spatial[0], outs[0]) for w in _bins(spatial[1], outs[1])]
    held = {}

    def region(w):
        return (Ellipsis, slice(w[0], w[1])) if nd == 1 else (Ellipsis, slice(w[0], w[1]), slice(w[2], w[3]))

    def compute(a):
        lead = a.shape[:-nd]
        if kind == "avg":
            y = np.stack([a[region(w)].astype(F64).reshape(*lead, -1).mean(axis=-1) for w in windows], axis=-1)

            def grads(g):
                g = g.reshape(*lead, -1)
                gx = np.zeros(a.shape, dtype=F64)
                for i, w in enumerate(windows):
                    size = np.prod([w[2 * j + 1] - w[2 * j] for j in range(nd)])
                    gx[region(w)] += g[..., i].reshape(*lead, *([1] * nd)) / size
                return (gx,)

            return y.reshape(*lead, *outs), grads
        vals, flat_idx = [], []
        for w in windows:
            block = a[region(w)].reshape(*lead, -1)
            arg = np.argmax(block, axis=-1)
            vals.append(np.take_along_axis(block, arg[..., None], axis=-1)[..., 0])
            if nd == 1:
                flat_idx.append(w[0] + arg)
            else:
                width = w[3] - w[2]
                flat_idx.append((w[0] + arg // width) * spatial[1] + w[2] + arg % width)
        idx = np.stack(flat_idx, axis=-1)
        held["idx"] = idx.reshape(*lead, *outs)

        def grads(g):
            return (_scatter(g, idx, a.shape, int(np.prod(spatial))),)

        return np.stack(vals, axis=-1).reshape(*lead, *outs), grads

    name = f"Adaptive{'Avg' if kind == 'avg' else 'Max'}Pool{nd}D"
    out = apply(name, (x,), compute)
    return (out, host(held["idx"].astype(np.int64), x.device)) if kind == "max" else out


def adaptive_avg_pool1d(input, output_size) -> Tensor:
    """(N, C, L) -> (N, C, output_size): the mean over each of PyTorch's adaptive windows."""
    return _adaptive("adaptive_avg_pool1d", input, output_size, 1, "avg")


def adaptive_max_pool1d_with_indices(input, output_size, return_indices: bool = False):
    return _adaptive("adaptive_max_pool1d", input, output_size, 1, "max")


def adaptive_max_pool1d(input, output_size, return_indices: bool = False):
    """(N, C, L) -> (N, C, output_size): the maximum over each adaptive window (and its position)."""
    out, idx = adaptive_max_pool1d_with_indices(input, output_size)
    return (out, idx) if return_indices else out


def adaptive_max_pool2d_with_indices(input, output_size, return_indices: bool = False):
    return _adaptive("adaptive_max_pool2d", input, output_size, 2, "max")


def adaptive_max_pool2d(input, output_size, return_indices: bool = False):
    """(N, C, H, W) -> (N, C, oh, ow): the maximum over each adaptive window (indices: flat h * W + w)."""
    out, idx = adaptive_max_pool2d_with_indices(input, output_size)
    return (out, idx) if return_indices else out
