"""The loss functions of ``nn.functional``: cross_entropy, nll_loss, mse_loss (engine kernels, taped).

    cross_entropy(z, t)  = mean_r [ logsumexp(z_r) - z_r[t_r] ]     d/dz = (softmax(z) - onehot(t)) / B
    nll_loss(logp, t)    = sum_r -w[t_r] logp_r[t_r] / sum_r w[t_r]  (mean; rows t_r == ignore_index skipped)
    mse_loss(x, y)       = mean (x - y)^2                            d/dx = 2 (x - y) / numel

``cross_entropy`` takes logits (N, C) and int64 class indices (N,), as PyTorch's. Without class weights or
ignored rows it runs the engine's fused softmax + cross-entropy kernel; otherwise log_softmax followed by
nll_loss, which is PyTorch's definition. reduction is 'mean' (default), 'sum' or 'none'. Two more forms are
composed of log_softmax and Tensor arithmetic (so their backward is autograd's):

    label_smoothing e   (1 - e) nll_loss + e * mean_r [ -sum_c logp_rc / C ]     (rows at ignore_index left out)
    probability targets  -sum_c y_rc (1 - e) + e / C) logp_rc, a float target of the input's shape
"""

from __future__ import annotations

import numpy as np

from ... import _core
from .. import _math, autograd
from ..autograd import record
from ..tensor import Tensor, check_same_device, wrap
from ._activations import log_softmax
from ._functional_base import float_input

__all__ = ["cross_entropy", "mse_loss", "nll_loss"]

_O = _core.ops
_T = _core.tensor_ops
_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _scalar(value: float, device) -> Tensor:
    c = _T.empty([], device.core)
    c.fill(value)
    return wrap(c, device)


def _targets(target, batch: int, device):
    """Class indices as the engine's int32 tensor, checked like PyTorch checks them."""
    if not isinstance(target, Tensor):
        raise TypeError(f"target must be a Tensor, got {type(target).__name__}")
    if target.dtype.is_floating_point:
        raise RuntimeError(
            "bnlab.torch losses take class indices as targets: expected an int64 tensor, got float32 "
            "(class-probability targets are not supported)"
        )
    if target.device != device:
        raise RuntimeError(
            f"Expected all tensors to be on the same device, but found at least two devices, {device} and "
            f"{target.device}! (the target of the loss)"
        )
    labels = target._np().reshape(-1)
    if labels.shape[0] != batch:
        raise ValueError(f"Expected input batch_size ({batch}) to match target batch_size ({labels.shape[0]}).")
    c = _core.Tensor.from_numpy(labels.astype(np.int32))
    return c if device.type == "cpu" else c.to(device.core), labels


def _check_labels(labels: np.ndarray, K: int, ignore_index, nll: bool, device) -> None:
    """Off the CPU the engine does not range-check class indices (that would need a copy back from the device):
    check the host labels here and raise what the CPU's ops raise (the nll kernel's or the cross-entropy's)."""
    if device.type == "cpu":
        return
    t = labels.astype(np.int32)  # the values the kernels see
    bad = (t < 0) | (t >= K)
    if nll:
        bad &= t != ignore_index
    if bad.any():
        first = int(t[np.argmax(bad)])
        if nll:
            raise ValueError(f"Target {first} is out of bounds.")
        raise ValueError(f"target label {first} is out of range for {K} classes")


def _as_2d(x: Tensor, target: Tensor, name: str) -> Tensor:
    if x.dim() == 1 and target.dim() == 0:
        return x.view(1, -1)
    if x.dim() != 2:
        raise NotImplementedError(f"bnlab.torch {name} takes input of shape (N, C) or (C,), got {x.shape}")
    return x


def cross_entropy(
    input, target, weight=None, ignore_index: int = -100, reduction: str = "mean", label_smoothing: float = 0.0
) -> Tensor:
    """Cross-entropy of logits (N, C) against class indices (N,): log_softmax then nll_loss. ``label_smoothing``
    mixes the one-hot target with the uniform distribution; a float ``target`` of the input's shape holds class
    probabilities."""
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if isinstance(target, Tensor) and target.dtype.is_floating_point:
        return _cross_entropy_probabilities(input, target, weight, reduction, label_smoothing)
    if label_smoothing > 0.0:
        return _cross_entropy_smoothed(input, target, weight, ignore_index, reduction, label_smoothing)
    x = _as_2d(float_input(input, "input"), target, "cross_entropy")
    B = x.shape[0]
    tc, labels = _targets(target, B, x.device)
    if weight is not None or reduction == "none" or (labels == ignore_index).any():
        return nll_loss(log_softmax(x, 1), target, weight, ignore_index=ignore_index, reduction=reduction)
    _check_labels(labels, x.shape[1], ignore_index, False, x.device)
    xc = x._c
    rows = _core.Tensor()
    form = _core.XentForm.SparseLogits
    mean = reduction == "mean"
    taped = autograd._GradMode.enabled and x._rg
    # rows[r] = logsumexp(x_r) - x_r[t_r]; when taped, the same pass also writes the gradient for the usual
    # seed g = 1 (loss.backward()): grad = (softmax(x) - onehot(t)) / B for the mean
    grad1 = _core.Tensor() if taped else None
    _O.xent(rows, grad1, xc, tc, form, True, 0.0, 1.0 / B if mean and B else 1.0)
    total = _O.sum(rows)
    out = _scalar(total / B if mean and B else float("nan") if mean else total, x.device)
    if taped:
        unused_grad = [grad1]  # handed over once: the receiver may own it (a leaf's .grad) and add into it

        def backward(g):
            seed = float(g.numpy())
            if seed == 1.0 and unused_grad[0] is not None:
                first, unused_grad[0] = unused_grad[0], None
                return (first,)
            grad, unused = _core.Tensor(), _core.Tensor()
            _O.xent(unused, grad, xc, tc, form, True, 0.0, seed / (B if mean else 1))  # scale*(softmax - onehot)
            return (grad,)

        record("NllLoss", out, (x,), backward)
    return out


def _cross_entropy_probabilities(input, target, weight, reduction: str, eps: float) -> Tensor:
    x = _as_2d(float_input(input, "input"), target.view(-1) if target.dim() == 1 else target, "cross_entropy")
    y = target.view(1, -1) if input.dim() == 1 else target
    if tuple(y.shape) != tuple(x.shape):
        raise RuntimeError(
            f"Expected floating point type target with the input's shape {list(x.shape)}, got {list(y.shape)}"
        )
    C = x.shape[1]
    if eps > 0.0:
        y = y * (1.0 - eps) + eps / C
    terms = log_softmax(x, 1) * y
    if weight is not None:
        terms = terms * float_input(weight, "weight").view(1, -1)
    rows = -terms.sum(1)
    if input.dim() == 1:
        rows = rows.view(())
    if reduction == "none":
        return rows
    return rows.sum() if reduction == "sum" else rows.sum() / float(x.shape[0])


def _cross_entropy_smoothed(input, target, weight, ignore_index: int, reduction: str, eps: float) -> Tensor:
    x = _as_2d(float_input(input, "input"), target, "cross_entropy")
    B, C = x.shape
    _, labels = _targets(target, B, x.device)
    logp = log_softmax(x, 1)
    nll = nll_loss(logp, target, weight, ignore_index=ignore_index, reduction=reduction)
    keep = (labels != ignore_index).astype(np.float32)
    w = None if weight is None else float_input(weight, "weight")
    per_class = logp if w is None else logp * w.view(1, -1)
    smooth = -per_class.sum(1) * _math.host_result(keep, x.device)  # (B,), 0 on ignored rows
    if reduction == "none":
        smooth_term = smooth
    elif reduction == "sum":
        smooth_term = smooth.sum()
    else:
        if w is None:
            denom = float(keep.sum())
        else:
            wl = w._np()[np.where(keep > 0, labels, 0)] * keep
            denom = float(wl.sum())
        smooth_term = smooth.sum() / denom if denom else smooth.sum() * float("nan")
    if target.dim() == 0 and reduction == "none":
        nll, smooth_term = nll.view(()), smooth_term.view(())
    return nll * (1.0 - eps) + smooth_term * (eps / C)


def nll_loss(input, target, weight=None, ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities (N, C) at class indices (N,); class weights w (C)."""
    _check_reduction(reduction)
    x = _as_2d(float_input(input, "input"), target, "nll_loss")
    B, K = x.shape
    tc, labels = _targets(target, B, x.device)
    _check_labels(labels, K, ignore_index, True, x.device)
    wc = None
    if weight is not None:
        w = float_input(weight, "weight")
        check_same_device(x, w)
        if w.numel() != K:
            raise RuntimeError(
                f"weight tensor should be defined either for all {K} classes or no classes but got "
                f"weight tensor of shape: {w.shape}"
            )
        wc = w._c
    xc = x._c
    rows, wrows = _core.Tensor(), _core.Tensor()
    _T.nll_forward(rows, wrows, xc, tc, wc, int(ignore_index))  # rows[r] = -w[t_r] x[r, t_r]
    if reduction == "none":
        out = wrap(rows, x.device)
        denom = 1.0
    else:
        denom = _O.sum(wrows) if reduction == "mean" else 1.0
        total = _O.sum(rows)
        out = _scalar(total / denom if denom else float("nan"), x.device)
    if autograd._GradMode.enabled and x._rg:

        def backward(g):
            grad = _core.Tensor()
            if reduction == "none":
                _T.nll_backward(grad, g, 1.0, xc, tc, wc, int(ignore_index))
            else:
                _T.nll_backward(grad, None, float(g.numpy()) / denom, xc, tc, wc, int(ignore_index))
            return (grad,)

        record("NllLoss", out, (x,), backward)
    return out


def mse_loss(input, target, reduction: str = "mean") -> Tensor:
    """Mean squared error: mean (default), sum or elementwise ('none') of (input - target)^2."""
    _check_reduction(reduction)
    x = float_input(input, "input")
    y = _math.as_float(target) if isinstance(target, Tensor) else None
    if y is None:
        raise TypeError(f"target must be a Tensor, got {type(target).__name__}")
    check_same_device(x, y)
    if x.shape != y.shape:
        raise ValueError(
            f"mse_loss: target size {y.shape} differs from input size {x.shape}. PyTorch would broadcast "
            "them "
            "(with a warning), which is almost always a bug; reshape one of them."
        )
    if reduction == "none":
        d = x - y
        return d * d
    n = max(x.numel(), 1)
    flat = [1, x.numel()]
    xc, yc = _T.view(x._c, flat), _T.view(y._c, flat)
    rows = _core.Tensor()
    _O.mse(rows, None, xc, yc, 1.0)  # rows[0] = mean (x - y)^2 over all elements
    value = float(rows.numpy()[0]) * (1 if reduction == "mean" else n)
    out = _scalar(value, x.device)
    if autograd._GradMode.enabled and (x._rg or y._rg):
        shape = list(x._c.shape)

        def backward(g):
            scale = float(g.numpy()) * (1 if reduction == "mean" else n)
            grad, unused = _core.Tensor(), _core.Tensor()
            _O.mse(unused, grad, xc, yc, scale)  # grad = scale * 2 (x - y) / numel
            gx = _T.view(grad, shape)
            gy = None
            if y._rg:
                gy = _core.Tensor()
                _T.unary(gy, gx, _T.UnaryOp.Neg)
            return gx if x._rg else None, gy

        record("MseLoss", out, (x, y), backward)
    return out
