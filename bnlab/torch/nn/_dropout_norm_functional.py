"""``nn.functional``'s channel-wise and alpha dropouts, instance_norm, rms_norm and local_response_norm.

Dropouts (training only; the input itself comes back when not training or p = 0). The mask m is drawn from the
default generator (``torch.manual_seed``), so the numbers differ from PyTorch's but the distribution is the same;
the output is the input times a constant tensor (plus one, for alpha dropout), so the backward is g * that tensor:

    dropout1d/2d/3d   m ~ Bernoulli(1 - p) per (n, c) channel;  y = x m / (1 - p)
    alpha_dropout     m per value (feature_alpha_dropout: per channel), a = ((1 - p)(1 + p alpha'^2))^-1/2,
                      alpha' = 1.7580993408473766 (SELU's alpha * scale):  y = a (x m + alpha' (m - 1)) + a alpha' p

instance_norm normalizes each (n, c) over its M spatial values (NumPy on the host):
    xhat = (x - mu) / sqrt(var + eps) (biased var),  y = w[c] xhat + b[c]
    dx = rstd / M (M gw - sum(gw) - xhat sum(gw xhat)), gw = g w[c];  dw = sum g xhat;  db = sum g
  With running stats and use_input_stats, they blend in the batch's mean of the instances' means and unbiased
  variances (momentum); use_input_stats=False normalizes with them instead (dx = g w / sqrt(rv + eps)).
rms_norm:  y = x / sqrt(mean(x^2) + eps) * w over the last len(normalized_shape) dims;
    dx = r (gw - x r^2 mean(gw x)), r = 1 / sqrt(mean(x^2) + eps);  dw = sum g x r
local_response_norm:  y = x / (k + alpha/size * sum of x^2 over the ``size`` neighbouring channels)^beta
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import autograd
from .._random import rng_of
from ..tensor import Tensor, host
from ._functional_base import float_input
from ._numpy_op import F64, apply, inplace

__all__ = [
    "alpha_dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    "feature_alpha_dropout",
    "instance_norm",
    "local_response_norm",
    "rms_norm",
]

_ALPHA = 1.7580993408473766


def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _masked(x: Tensor, scale: np.ndarray, shift: np.ndarray | None, inplace_: bool) -> Tensor:
    """x * scale (+ shift), constants broadcast over x, differentiable in x."""
    s = host(scale.astype(np.float32), x.device)
    b = None if shift is None else host(np.broadcast_to(shift, x.shape).astype(np.float32), x.device)

    def fn(t):
        y = t * s
        return y if b is None else y + b

    return inplace(fn, x) if inplace_ else fn(x)


def _feature_dropout(x: Tensor, p: float, training: bool, inplace_: bool, batched: bool, alpha: bool) -> Tensor:
    if not training or p == 0.0 or x.numel() == 0:
        return x
    shape = tuple(x.shape[:2] if batched else x.shape[:1]) + (1,) * (x.dim() - (2 if batched else 1))
    return _dropout_with_mask(x, p, shape, inplace_, alpha)


def _dropout_with_mask(x: Tensor, p: float, mask_shape: tuple, inplace_: bool, alpha: bool) -> Tensor:
    if p == 1.0 and not alpha:
        return _masked(x, np.zeros(mask_shape), None, inplace_)
    keep = (rng_of(None).random(mask_shape) >= p).astype(F64)
    if not alpha:
        return _masked(x, keep / (1.0 - p), None, inplace_)
    if p == 1.0:
        return _masked(x, np.zeros(mask_shape), None, inplace_)
    a = 1.0 / np.sqrt((_ALPHA * _ALPHA * p + 1.0) * (1.0 - p))
    return _masked(x, keep * a, (keep - 1.0) * _ALPHA * a + _ALPHA * a * p, inplace_)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, L) or (C, L) with probability p, scaling the rest by 1 / (1 - p)."""
    _check_p(p)
    x = float_input(input)
    if x.dim() not in (2, 3):
        raise RuntimeError(
            f"dropout1d: Expected 2D or 3D input, but received a {x.dim()}D input. Note that dropout1d exists to "
            "provide channel-wise dropout on inputs with 1 spatial dimension, a channel dimension, and an optional "
            "batch dimension (i.e. 2D or 3D inputs)."
        )
    return _feature_dropout(x, p, training, inplace, x.dim() == 3, False)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, H, W) or (C, H, W)... as PyTorch does, a 3-D input is taken as (N, C, L)."""
    _check_p(p)
    x = float_input(input)
    nd = x.dim()
    if nd not in (3, 4):
        warnings.warn(
            f"dropout2d: Received a {nd}-D input to dropout2d, which is deprecated and will result in an error in a "
            "future release. To retain the behavior and silence this warning, please use dropout instead. Note "
            "that dropout2d exists to provide channel-wise dropout on inputs with 2 spatial dimensions, a channel "
            "dimension, and an optional batch dimension (i.e. 3D or 4D inputs).",
            stacklevel=2,
        )
    if nd == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout behavior is "
            "desired - input is interpreted as shape (N, C, L), where C is the channel dim. This behavior will "
            "change in a future release to interpret the input as one without a batch dimension, i.e. shape "
            "(C, H, W). To maintain the 1D channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=2,
        )
    return _feature_dropout(x, p, training, inplace, True, False)  # always (N, C, *), as PyTorch


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W)."""
    _check_p(p)
    x = float_input(input)
    nd = x.dim()
    if nd not in (4, 5):
        warnings.warn(
            f"dropout3d: Received a {nd}-D input to dropout3d, which is deprecated and will result in an error in a "
            "future release. To retain the behavior and silence this warning, please use dropout instead. Note "
            "that dropout3d exists to provide channel-wise dropout on inputs with 3 spatial dimensions, a channel "
            "dimension, and an optional batch dimension (i.e. 4D or 5D inputs).",
            stacklevel=2,
        )
    return _feature_dropout(x, p, training, inplace, nd == 5, False)


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """Dropout that keeps SELU's self-normalizing mean 0 and variance 1 (dropped values go to -alpha')."""
    _check_p(p)
    x = float_input(input)
    if not training or p == 0.0 or x.numel() == 0:
        return x
    return _dropout_with_mask(x, p, tuple(x.shape), inplace, True)


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """alpha_dropout with one mask value per (n, c) channel."""
    _check_p(p)
    x = float_input(input)
    return _feature_dropout(x, p, training, inplace, True, True)


# ---------------------------------------------------------------- instance norm
def instance_norm(
    input: Tensor,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize each channel of each sample of x (N, C, *) over its spatial values (see the module docstring)."""
    x = float_input(input)
    if x.dim() < 2:
        raise ValueError(f"instance_norm expects an input of shape (N, C, *), got {x.shape}")
    N, C = x.shape[0], x.shape[1]
    M = int(np.prod(x.shape[2:], dtype=np.int64))
    if use_input_stats and M == 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size {list(x.shape)}")
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        if t is not None and t.numel() != C:
            raise RuntimeError(f"{name} should contain {C} elements not {t.numel()}")
    if not use_input_stats and (running_mean is None or running_var is None):
        raise RuntimeError("Expected running_mean and running_var to be defined when use_input_stats is false")
    chan = (1, C) + (1,) * (x.dim() - 2)
    axes = tuple(range(2, x.dim()))
    stats = {}

    def compute(a, wa, ba):
        a = a.astype(F64)
        w = 1.0 if wa is None else wa.astype(F64).reshape(chan)
        b = 0.0 if ba is None else ba.astype(F64).reshape(chan)
        if use_input_stats:
            mu = a.mean(axis=axes, keepdims=True)
            var = ((a - mu) ** 2).mean(axis=axes, keepdims=True)
            stats["mean"], stats["var"] = mu.reshape(N, C), var.reshape(N, C) * M / max(M - 1, 1)
        else:
            mu = running_mean._np().astype(F64).reshape(chan)
            var = running_var._np().astype(F64).reshape(chan)
        rstd = 1.0 / np.sqrt(var + eps)
        xhat = (a - mu) * rstd

        def grads(g):
            gw = g * w
            if use_input_stats:
                s1 = gw.sum(axis=axes, keepdims=True)
                s2 = (gw * xhat).sum(axis=axes, keepdims=True)
                dx = rstd / M * (M * gw - s1 - xhat * s2)
            else:
                dx = gw * rstd
            red = (0, *axes)
            dw = None if wa is None else (g * xhat).sum(axis=red)
            db = None if ba is None else g.sum(axis=red)
            return dx, dw, db

        return xhat * w + b, grads

    out = apply("NativeBatchNorm", (x, weight, bias), compute)
    if use_input_stats and running_mean is not None and running_var is not None:
        with autograd.no_grad():
            for buf, key in ((running_mean, "mean"), (running_var, "var")):
                blended = (1.0 - momentum) * buf._np().astype(F64) + momentum * stats[key].mean(axis=0)
                if buf.device.type == "cpu":
                    buf._np()[...] = blended
                else:
                    buf._c.copy_from(blended.astype(np.float32))
    return out


# ---------------------------------------------------------------- rms norm, local response norm
def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, eps: float | None = None) -> Tensor:
    """x / sqrt(mean(x^2) + eps) * weight over the last len(normalized_shape) dimensions; eps None means
    float32's machine epsilon."""
    x = float_input(input)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if tuple(x.shape[x.dim() - k :]) != shape:
        raise RuntimeError(
            f"Given normalized_shape={list(shape)}, expected input with shape [*, {', '.join(map(str, shape))}], "
            f"but got input of size{x.shape}"
        )
    e = float(np.finfo(np.float32).eps) if eps is None else float(eps)
    axes = tuple(range(x.dim() - k, x.dim()))

    def compute(a, wa):
        a = a.astype(F64)
        w = 1.0 if wa is None else wa.astype(F64)
        r = 1.0 / np.sqrt((a * a).mean(axis=axes, keepdims=True) + e)

        def grads(g):
            gw = g * w
            dx = r * (gw - a * r * r * (gw * a).mean(axis=axes, keepdims=True))
            dw = None if wa is None else (g * a * r).reshape(-1, *shape).sum(axis=0)
            return dx, dw

        return a * r * w, grads

    return apply("RmsNorm", (x, weight), compute)


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
    """x / (k + alpha / size * sum of x^2 over channels c - size//2 .. c + (size-1)//2)^beta (AlexNet's LRN)."""
    x = float_input(input)
    if x.dim() < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {x.dim()} dimensions)")
    C = x.shape[1]
    lo, hi = size // 2, (size - 1) // 2

    def window_sum(v):  # sum over the channel window, zero-padded, along axis 1
        padded = np.concatenate([np.zeros_like(v[:, :lo]), v, np.zeros_like(v[:, :hi])], axis=1)
        c = np.cumsum(np.concatenate([np.zeros_like(padded[:, :1]), padded], axis=1), axis=1)
        return c[:, size : size + C] - c[:, :C]

    def compute(a):
        a = a.astype(F64)
        den = k + alpha / size * window_sum(a * a)
        y = a * den**-beta

        def grads(g):
            # dy_c/dx_c = den_c^-beta; through den_j: -beta x_j den_j^(-beta-1) alpha/size 2 x_c for j near c
            t = g * a * den ** (-beta - 1.0)
            back = np.flip(window_sum(np.flip(t, axis=1)), axis=1) if lo != hi else window_sum(t)
            return (g * den**-beta - 2.0 * beta * alpha / size * a * back,)

        return y, grads

    return apply("LocalResponseNorm", (x,), compute)
