"""The losses of ``nn.functional`` beyond cross_entropy / nll_loss / mse_loss (``_losses``), computed on the host
with NumPy (``_numpy_op.apply``). Each computes an elementwise loss l and its derivatives, then reduces it
('mean' over all elements by default, 'sum', or 'none'; kl_div also 'batchmean'); ``size_average`` and
``reduce`` are PyTorch's deprecated spellings of ``reduction``, with its warning. With d = x - y:

    l1_loss          |d|                                      dl/dx = sign(d)
    smooth_l1_loss   |d| < b ? d^2 / (2b) : |d| - b/2          dl/dx = |d| < b ? d / b : sign(d)
    huber_loss       |d| < D ? d^2 / 2 : D (|d| - D/2)         dl/dx = clamp(d, -D, D)
    binary_cross_entropy  -w (y log x + (1 - y) log(1 - x)), each log clamped >= -100
                     dl/dx = w (x - y) / max(x (1 - x), 1e-12)
    binary_cross_entropy_with_logits  w ((1 - y) x + (1 + (p - 1) y) softplus(-x)), p = pos_weight
                     dl/dx = w ((1 + (p - 1) y) sigmoid(x) - p y)
    kl_div           y (log y - x) (0 where y = 0); log_target: e^y (y - x)        dl/dx = -y (or -e^y)
    soft_margin_loss log(1 + e^(-y x))                        dl/dx = -y sigmoid(-y x)
    margin_ranking_loss  max(0, -y (x1 - x2) + margin)
    hinge_embedding_loss y = 1: x;  y = -1: max(0, margin - x)
    cosine_embedding_loss  y = 1: 1 - cos(x1, x2);  y = -1: max(0, cos(x1, x2) - margin), along dim 1
    poisson_nll_loss log_input: e^x - y x, else x - y log(x + eps) (+ Stirling's term for y > 1 with full=True)
    gaussian_nll_loss  (log(max(var, eps)) + (x - y)^2 / max(var, eps)) / 2 (+ log(2 pi) / 2 with full=True)

The targets' gradients are computed too (PyTorch differentiates these losses in their targets).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..tensor import Tensor
from ._functional_base import float_input
from ._numpy_op import (
    F64,
    apply,
    as_float_tensor,
    check_reduction,
    legacy_reduction,
    reduce,
    same_size_warning,
)

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cosine_embedding_loss",
    "gaussian_nll_loss",
    "hinge_embedding_loss",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "margin_ranking_loss",
    "poisson_nll_loss",
    "smooth_l1_loss",
    "soft_margin_loss",
]


def _sigmoid(a):
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softplus(a):
    return np.maximum(a, 0.0) + np.log1p(np.exp(-np.abs(a)))


def _elementwise(name: str, inputs: tuple, fn, reduction: str) -> Tensor:
    """``fn(*float64 arrays) -> (l, grads)``, grads(dl) giving each input's gradient from dL/dl; reduced."""

    def compute(*arrays):
        loss, grads = fn(*(None if a is None else a.astype(F64) for a in arrays))
        value, seed = reduce(loss, reduction)
        return value, lambda g: grads(seed(g))

    return apply(name, inputs, compute)


def _pair(input, target, warn: bool = True):
    x = float_input(input)
    y = as_float_tensor(target)
    if warn:
        same_size_warning(x, y, stacklevel=4)
    return x, y


def l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean", weight=None) -> Tensor:
    """mean |x - y| (or sum / elementwise); with an elementwise ``weight`` the mean is sum(w |d|) / sum(w)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    x, y = _pair(input, target)
    w = _weight_like(weight, x)

    def fn(a, b, wa):
        d = a - b
        wv = 1.0 if wa is None else wa
        return np.abs(d) * wv, lambda dl: (dl * np.sign(d) * wv, -dl * np.sign(d) * wv, dl * np.abs(d))

    if w is not None and reduction == "mean":
        return _elementwise("L1Loss", (x, y, w), fn, "sum") / float(w._np().sum())
    return _elementwise("L1Loss", (x, y, w), fn, reduction)


def _weight_like(weight, x):
    if weight is None:
        return None
    w = float_input(weight, "weight")
    if tuple(w.shape) != tuple(x.shape):
        raise ValueError("Weights and input must have the same size.")
    return w


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0):
    """|d| < beta ? 0.5 d^2 / beta : |d| - 0.5 beta (beta = 0 gives l1_loss)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    x, y = _pair(input, target)
    b = float(beta)

    def fn(a, t):
        d = a - t
        small = np.abs(d) < b
        loss = np.where(small, 0.5 * d * d / (b if b else 1.0), np.abs(d) - 0.5 * b)
        dd = np.where(small, d / (b if b else 1.0), np.sign(d))
        return loss, lambda dl: (dl * dd, -dl * dd)

    return _elementwise("SmoothL1Loss", (x, y), fn, reduction)


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0, weight=None) -> Tensor:
    """|d| < delta ? 0.5 d^2 : delta (|d| - 0.5 delta)."""
    check_reduction(reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    x, y = _pair(input, target)
    D = float(delta)

    def fn(a, t, w):
        d = a - t
        wv = 1.0 if w is None else w
        loss = np.where(np.abs(d) < D, 0.5 * d * d, D * (np.abs(d) - 0.5 * D)) * wv
        dd = np.clip(d, -D, D) * wv
        unweighted = np.where(np.abs(d) < D, 0.5 * d * d, D * (np.abs(d) - 0.5 * D))
        return loss, lambda dl: (dl * dd, -dl * dd, dl * unweighted)

    w = _weight_like(weight, x)
    return _elementwise("HuberLoss", (x, y, w), fn, reduction)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction: str = "mean"):
    """-w (y log x + (1 - y) log(1 - x)) for probabilities x in [0, 1] (each log clamped at -100)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    x = float_input(input)
    y = as_float_tensor(target)
    if tuple(y.shape) != tuple(x.shape):
        raise ValueError(
            f"Using a target size ({y.shape}) that is different to the input size ({x.shape}) is deprecated. "
            "Please ensure they have the same size."
        )
    xa = x._np()
    if xa.size and (np.nanmin(xa) < 0 or np.nanmax(xa) > 1):
        raise RuntimeError("all elements of input should be between 0 and 1")
    w = None if weight is None else float_input(weight, "weight")

    def fn(a, t, wa):
        wv = 1.0 if wa is None else wa
        with np.errstate(divide="ignore"):
            log_x, log_1mx = np.maximum(np.log(a), -100.0), np.maximum(np.log1p(-a), -100.0)
        loss = -wv * (t * log_x + (1.0 - t) * log_1mx)

        def grads(dl):
            gx = dl * wv * (a - t) / np.maximum((1.0 - a) * a, 1e-12)
            gt = dl * wv * (log_1mx - log_x)
            return gx, gt, None

        return loss, grads

    return _elementwise("BinaryCrossEntropy", (x, y, w), fn, reduction)


def binary_cross_entropy_with_logits(
    input, target, weight=None, size_average=None, reduce=None, reduction: str = "mean", pos_weight=None
) -> Tensor:
    """sigmoid + binary cross-entropy in one stable formula, on logits x; ``pos_weight`` weighs the positives."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    x = float_input(input)
    y = as_float_tensor(target)
    if tuple(y.shape) != tuple(x.shape):
        raise ValueError(f"Target size ({y.shape}) must be the same as input size ({x.shape})")
    w = None if weight is None else float_input(weight, "weight")
    pw = None if pos_weight is None else float_input(pos_weight, "pos_weight")

    def fn(a, t, wa, pa):
        wv = 1.0 if wa is None else wa
        p = 1.0 if pa is None else pa
        lw = 1.0 + (p - 1.0) * t
        sp = _softplus(-a)
        loss = wv * ((1.0 - t) * a + lw * sp)

        def grads(dl):
            gx = dl * wv * (lw * _sigmoid(a) - p * t)
            gt = dl * wv * (-a + (p - 1.0) * sp)
            return gx, gt, None, None

        return loss, grads

    return _elementwise("BinaryCrossEntropyWithLogits", (x, y, w, pw), fn, reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction: str = "mean", log_target: bool = False):
    """KL(target || exp(input)) pointwise: y (log y - x), x log-probabilities; 'batchmean' divides the sum by
    the batch size (the mathematical KL divergence), 'mean' by the number of elements (with PyTorch's warning)."""
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce, reduction)
    elif reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support size."
            "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
            "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
            UserWarning,
            stacklevel=2,
        )
    check_reduction(reduction, ("mean", "sum", "none", "batchmean"))
    x, y = _pair(input, target, warn=False)
    batch = x.shape[0] if x.dim() else 1

    def fn(a, t):
        if log_target:
            e = np.exp(t)
            loss = e * (t - a)
            return loss, lambda dl: (-dl * e, dl * e * (t - a + 1.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            log_t = np.where(t > 0, np.log(np.where(t > 0, t, 1.0)), 0.0)
        loss = np.where(t > 0, t * log_t, 0.0) - t * a
        return loss, lambda dl: (-dl * t, dl * (np.where(t > 0, log_t + 1.0, 0.0) - a))

    if reduction != "batchmean":
        return _elementwise("KlDiv", (x, y), fn, reduction)
    return _elementwise("KlDiv", (x, y), fn, "sum") / batch


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """log(1 + exp(-y x)) for labels y in {1, -1}."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    x, y = _pair(input, target, warn=False)

    def fn(a, t):
        s = _sigmoid(-t * a)
        return _softplus(-t * a), lambda dl: (-dl * t * s, None)  # PyTorch: not differentiable in the target

    return _elementwise("SoftMarginLoss", (x, y), fn, reduction)


def margin_ranking_loss(input1, input2, target, margin: float = 0, size_average=None, reduce=None, reduction="mean"):
    """max(0, -y (x1 - x2) + margin): y = 1 wants x1 ranked higher than x2 by ``margin``."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    x1, x2, y = float_input(input1, "input1"), float_input(input2, "input2"), as_float_tensor(target)
    if x1.dim() != x2.dim() or x1.dim() != y.dim():
        raise RuntimeError(
            f"margin_ranking_loss : All input tensors should have same dimension but got sizes: input1: "
            f"{x1.shape}, input2: {x2.shape}, target: {y.shape} "
        )
    m = float(margin)

    def fn(a, b, t):
        z = -t * (a - b) + m
        on = z >= 0  # clamp_min passes the gradient at the kink, as PyTorch's
        return np.where(on, z, 0.0), lambda dl: (-dl * t * on, dl * t * on, -dl * (a - b) * on)

    return _elementwise("MarginRankingLoss", (x1, x2, y), fn, reduction)


def hinge_embedding_loss(input, target, margin: float = 1.0, size_average=None, reduce=None, reduction="mean"):
    """x where y = 1, max(0, margin - x) where y = -1 (PyTorch adds both terms for other labels)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    x, y = _pair(input, target, warn=False)
    m = float(margin)

    def fn(a, t):
        hinge = np.maximum(m - a, 0.0)
        neg, pos = t != 1, t != -1  # PyTorch's masks: a label other than 1 and -1 gets both terms
        loss = np.where(neg, hinge, 0.0) + np.where(pos, a, 0.0)
        dx = np.where(neg, -1.0 * (m - a >= 0.0), 0.0) + pos  # clamp_min passes the gradient at the kink
        return loss, lambda dl: (dl * dx, None)

    return _elementwise("HingeEmbeddingLoss", (x, y), fn, reduction)


def cosine_embedding_loss(input1, input2, target, margin: float = 0, size_average=None, reduce=None, reduction="mean"):
    """1 - cos(x1, x2) where y = 1, max(0, cos(x1, x2) - margin) where y = -1; rows of (N, D) or one (D,) pair.
    cos = x1.x2 / sqrt((|x1|^2 + 1e-12)(|x2|^2 + 1e-12)), PyTorch's EPSILON."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    x1, x2, y = float_input(input1, "input1"), float_input(input2, "input2"), as_float_tensor(target)
    if x1.dim() not in (1, 2) or x1.shape != x2.shape:
        raise RuntimeError(
            f"cosine_embedding_loss: 1D target tensor expects 2D input tensors, but found inputs with sizes "
            f"{list(x1.shape)} and {list(x2.shape)}."
        )
    m, eps = float(margin), 1e-12
    d = x1.dim() - 1

    def fn(a, b, t):
        s = (a * b).sum(axis=d)
        m1, m2 = (a * a).sum(axis=d) + eps, (b * b).sum(axis=d) + eps
        den = np.sqrt(m1 * m2)
        cos = s / den
        pos, neg = t == 1, t == -1
        over = neg & (cos - m >= 0)
        loss = np.where(pos, 1.0 - cos, 0.0) + np.where(over, np.maximum(cos - m, 0.0), 0.0)

        def grads(dl):
            dcos = dl * (over.astype(F64) - pos)  # dL/dcos per row
            e = (lambda v: np.expand_dims(v, d)) if d else (lambda v: v)
            ga = e(dcos) * (b / e(den) - a * e(cos / m1))
            gb = e(dcos) * (a / e(den) - b * e(cos / m2))
            return ga, gb, None

        return loss, grads

    return _elementwise("CosineEmbeddingLoss", (x1, x2, y), fn, reduction)


def poisson_nll_loss(
    input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None, reduction="mean"
) -> Tensor:
    """Negative log-likelihood of a Poisson target: e^x - y x (log_input) or x - y log(x + eps)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    x, y = _pair(input, target, warn=False)

    def fn(a, t):
        if log_input:
            loss, gx, gt = np.exp(a) - t * a, np.exp(a) - t, -a
        else:
            loss, gx, gt = a - t * np.log(a + eps), 1.0 - t / (a + eps), -np.log(a + eps)
        if full:
            big = t > 1
            safe = np.where(big, t, 2.0)
            loss = loss + np.where(big, safe * np.log(safe) - safe + 0.5 * np.log(2 * math.pi * safe), 0.0)
            gt = gt + np.where(big, np.log(safe) + 0.5 / safe, 0.0)
        return loss, lambda dl: (dl * gx, dl * gt)

    return _elementwise("PoissonNllLoss", (x, y), fn, reduction)


def gaussian_nll_loss(input, target, var, full: bool = False, eps: float = 1e-6, reduction: str = "mean"):
    """0.5 (log(max(var, eps)) + (x - y)^2 / max(var, eps)), var broadcast over the input (one per sample or
    per element); the clamp is not differentiated (PyTorch clamps under no_grad)."""
    check_reduction(reduction)
    x, y, v = float_input(input), as_float_tensor(target), float_input(var, "var")
    if tuple(v.shape) != tuple(x.shape):
        if v.dim() == x.dim() - 1 or (v.dim() == x.dim() and v.shape[-1] == 1):
            v = v.view(*x.shape[:-1], 1)
        else:
            raise ValueError("var is of incorrect size")
    if v._np().size and np.min(v._np()) < 0:
        raise ValueError("var has negative entry/entries")

    def fn(a, t, va):
        vc = np.maximum(va, eps)
        d = a - t
        loss = 0.5 * (np.log(vc) + d * d / vc) + (0.5 * math.log(2 * math.pi) if full else 0.0)
        gx = d / vc
        gv = 0.5 * (1.0 / vc - d * d / (vc * vc))
        return loss, lambda dl: (dl * gx, -dl * gx, dl * gv)

    return _elementwise("GaussianNllLoss", (x, y, v), fn, reduction)
