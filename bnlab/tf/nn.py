"""``tf.nn``: activations, softmax, losses, batch-normalization helpers, dropout.

Batch normalization (the reason bnlab exists):

    moments(x, axes)                mean = mean(x over axes); variance = mean((x - stop_gradient(mean))^2): the
                                    POPULATION variance (divided by n, not n - 1), as TensorFlow computes it
    batch_normalization(x, mean, variance, offset, scale, variance_epsilon)
                                    inv = scale / sqrt(variance + eps) (scale may be None: 1);
                                    y = x * inv + (offset - mean * inv) (offset may be None: 0)
                                    = scale (x - mean) / sqrt(variance + eps) + offset

Activations (gradients as TensorFlow's kernels define them at the kinks):

    relu max(x, 0) (gradient 0 at 0)    relu6 min(max(x, 0), 6)    leaky_relu x > 0 ? x : alpha x (alpha 0.2)
    elu x < 0 ? e^x - 1 : x             selu scale * elu with alpha, TensorFlow's constants
    gelu 0.5 x erfc(-x / sqrt 2), or the tanh approximation         silu / swish x sigmoid(beta x)
    softsign x / (1 + |x|)              softplus, sigmoid, tanh (tf.math's)
    softmax / log_softmax over ``axis`` (the last by default)

Losses (per example, no reduction):

    sparse_softmax_cross_entropy_with_logits(labels, logits)   -log softmax(logits)[label]; labels are int class
        indices of shape logits.shape[:-1] (a label outside [0, classes) raises InvalidArgumentError)
    softmax_cross_entropy_with_logits(labels, logits, axis=-1)  -sum(labels * log_softmax(logits)); the gradient
        also reaches labels, as TensorFlow 2's
    sigmoid_cross_entropy_with_logits(labels, logits)  max(x, 0) - x z + ln(1 + e^-|x|)
    weighted_cross_entropy_with_logits(labels, logits, pos_weight)
    l2_loss(t) = sum(t^2) / 2

``dropout(x, rate)`` zeroes each element with probability ``rate`` and scales the kept ones by 1 / (1 - rate); its
masks come from ``tf.random``'s streams (``seed`` as there).
"""

from __future__ import annotations

import math

import numpy as np

from .. import torch as _torch
from . import _record
from ._base import F32, check_dtypes, int_list, norm_axis
from ._base import tensor as _tensor
from .errors import invalid
from .math_ops import abs as _abs
from .math_ops import (
    add,
    erfc,
    exp,
    log1p,
    maximum,
    multiply,
    negative,
    rsqrt,
    sigmoid,
    softplus,
    square,
    squared_difference,
    subtract,
    tanh,
    truediv,
)
from .ranking import in_top_k, top_k
from .reduce_ops import reduce_mean, reduce_sum
from .shape_ops import gather, reshape, squeeze, where
from .tensor import array_of, from_array, wrap

__all__ = [
    "batch_normalization",
    "bias_add",
    "dropout",
    "elu",
    "embedding_lookup",
    "gelu",
    "in_top_k",
    "l2_loss",
    "l2_normalize",
    "leaky_relu",
    "log_softmax",
    "moments",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "sigmoid_cross_entropy_with_logits",
    "silu",
    "softmax",
    "softmax_cross_entropy_with_logits",
    "softplus",
    "softsign",
    "sparse_softmax_cross_entropy_with_logits",
    "swish",
    "tanh",
    "top_k",
    "weighted_cross_entropy_with_logits",
]


def _float(x, op: str):
    t = _tensor(x)
    check_dtypes(op, t, lambda d: d.is_floating)
    return t


# ---------------------------------------------------------------------------------------------------- BN helpers
@_record.op
def moments(x, axes, shift=None, keepdims=False, name=None):
    """``(mean, variance)`` of ``x`` over ``axes``: the mean and the population variance (see the module)."""
    from .creation import stop_gradient

    y = _float(x, "Mean")
    axes_list = int_list(axes, "axes")
    mean = reduce_mean(y, axes_list, keepdims=True)
    variance = reduce_mean(squared_difference(y, stop_gradient(mean)), axes_list, keepdims=True)
    if not keepdims:
        mean, variance = squeeze(mean, axes_list), squeeze(variance, axes_list)
    return mean, variance


@_record.op
def batch_normalization(x, mean, variance, offset, scale, variance_epsilon, name=None):
    """``scale * (x - mean) / sqrt(variance + variance_epsilon) + offset`` (see the module for the exact order)."""
    t = _float(x, "BatchNormalization")
    mean, variance = _tensor(mean, t.dtype), _tensor(variance, t.dtype)
    offset = None if offset is None else _tensor(offset, t.dtype)
    scale = None if scale is None else _tensor(scale, t.dtype)
    inv = rsqrt(add(variance, variance_epsilon))
    if scale is not None:
        inv = multiply(inv, scale)
    shift = negative(multiply(mean, inv)) if offset is None else subtract(offset, multiply(mean, inv))
    return add(multiply(t, inv), shift)


# ---------------------------------------------------------------------------------------------------- activations
@_record.op
def relu(features, name=None):
    """max(x, 0); gradient 1 where x > 0."""
    t = _tensor(features)
    check_dtypes("Relu", t, lambda d: not d.is_bool)
    if t._dtype is F32:
        return wrap(_torch.relu(t._t))
    return from_array(np.maximum(array_of(t), 0), t._dtype)


@_record.op
def relu6(features, name=None):
    """min(max(x, 0), 6); gradient 1 where 0 < x < 6."""
    t = _tensor(features)
    if t._dtype is not F32:
        return from_array(np.clip(array_of(t), 0, 6), t._dtype)
    a = array_of(t)
    return where((a > 0) & (a < 6), t, np.clip(a, 0, 6).astype(np.float32))


@_record.op
def leaky_relu(features, alpha=0.2, name=None):
    """x where x > 0, alpha * x elsewhere (integer input is cast to float32 first)."""
    from .creation import cast

    t = _tensor(features)
    if t._dtype.is_integer:
        t = cast(t, F32)
    return where(array_of(t) > 0, t, multiply(t, float(alpha)))


@_record.op
def elu(features, name=None):
    """x where x >= 0, e^x - 1 elsewhere."""
    t = _float(features, "Elu")
    return where(array_of(t) < 0, subtract(exp(t), 1.0), t)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


@_record.op
def selu(features, name=None):
    """scale * x where x >= 0, scale * alpha * (e^x - 1) elsewhere (alpha ~1.6733, scale ~1.0507)."""
    t = _float(features, "Selu")
    neg = multiply(subtract(exp(t), 1.0), _SELU_SCALE * _SELU_ALPHA)
    return where(array_of(t) < 0, neg, multiply(t, _SELU_SCALE))


@_record.op
def gelu(features, approximate=False, name=None):
    """0.5 x (1 + erf(x / sqrt(2))), computed as TensorFlow does as 0.5 x erfc(-x / sqrt(2)) (no cancellation for
    x < 0); with ``approximate`` 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))."""
    t = _float(features, "Gelu")
    if approximate:
        inner = multiply(add(t, multiply(multiply(multiply(t, t), t), 0.044715)), math.sqrt(2.0 / math.pi))
        return multiply(multiply(t, 0.5), add(tanh(inner), 1.0))
    return multiply(multiply(t, 0.5), erfc(multiply(negative(t), 0.7071067811865476)))


@_record.op
def silu(features, beta=1.0, name=None):
    """x * sigmoid(beta * x) (``swish``)."""
    t = _float(features, "Silu")
    return multiply(t, sigmoid(multiply(t, float(beta))))


swish = silu


@_record.op
def softsign(features, name=None):
    """x / (1 + |x|)."""
    t = _float(features, "Softsign")
    return truediv(t, add(_abs(t), 1.0))


def _last_axis(fn, logits, axis, op: str):
    t = _float(logits, op)
    if t.ndim == 0:
        raise invalid("logits must have >= 1 dimension, got shape []", op)
    ax = norm_axis(-1 if axis is None else axis, t.ndim, op)
    r = t.ndim
    if ax == r - 1:
        return wrap(fn(t._t))
    order = [d for d in range(r) if d != ax] + [ax]
    return wrap(fn(t._t.permute(order)).permute(list(np.argsort(order))))


@_record.op
def softmax(logits, axis=None, name=None):
    """e^x / sum(e^x) over ``axis`` (the last one by default)."""
    return _last_axis(lambda t: _torch.softmax(t, -1), logits, axis, "Softmax")


@_record.op
def log_softmax(logits, axis=None, name=None):
    """x - ln(sum(e^x)) over ``axis`` (the last one by default)."""
    return _last_axis(lambda t: _torch.log_softmax(t, -1), logits, axis, "LogSoftmax")


# ---------------------------------------------------------------------------------------------------- losses
@_record.op
def sparse_softmax_cross_entropy_with_logits(labels, logits, name=None):
    """Per-example -log softmax(logits)[label]: ``labels`` (int) of shape ``logits.shape[:-1]``."""
    lg = _float(logits, "SparseSoftmaxCrossEntropyWithLogits")
    lb = _tensor(labels)
    if not lb._dtype.is_integer:
        raise TypeError(f"labels must be an integer tensor (int32 or int64), got {lb.dtype!r}")
    if lb.ndim != lg.ndim - 1:
        raise ValueError(
            "`labels.shape.rank` must equal `logits.shape.rank - 1`. Received: "
            f"labels.shape={lb.shape} of rank {lb.ndim} and logits.shape={lg.shape} of rank {lg.ndim}"
        )
    if tuple(lb.shape) != tuple(lg.shape)[:-1]:
        raise ValueError(
            f"Shape mismatch: The shape of labels (received {lb.shape}) should equal the shape of logits except for "
            f"the last dimension (received {lg.shape})."
        )
    c = lg.shape[-1]
    lab = array_of(lb).astype(np.int64).reshape(-1)
    bad = lab[(lab < 0) | (lab >= c)]
    if bad.size:
        values = " ".join(str(v) for v in lab.tolist())
        raise invalid(
            f"Received a label value of {bad[0]} which is outside the valid range of [0, {c}).  Label values: {values}",
            "SparseSoftmaxCrossEntropyWithLogits",
        )
    if lab.size == 0:
        return from_array(np.zeros(tuple(lb.shape), np.float32), F32)
    rows = _torch.nn.functional.cross_entropy(lg._t.reshape([-1, c]), _torch.from_numpy(lab), reduction="none")
    return wrap(rows.reshape(list(lb.shape)))


@_record.op
def softmax_cross_entropy_with_logits(labels, logits, axis=-1, name=None):
    """Per-example -sum(labels * log_softmax(logits)) over ``axis``; ``labels`` are probabilities, shaped as logits."""
    lg = _float(logits, "SoftmaxCrossEntropyWithLogits")
    lb = _tensor(labels, lg.dtype)
    if lb.shape != lg.shape:
        raise ValueError(f"`labels` and `logits` must have the same shape, received ({lb.shape} vs {lg.shape}).")
    return negative(reduce_sum(multiply(lb, log_softmax(lg, axis)), axis))


@_record.op
def sigmoid_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """Per-element max(x, 0) - x z + ln(1 + e^-|x|) for logits x and labels z (TensorFlow's stable form)."""
    if labels is None or logits is None:
        raise ValueError("Both `labels` and `logits` must be provided.")
    x = _float(logits, "SigmoidCrossEntropyWithLogits")
    z = _tensor(labels, x.dtype)
    if z.shape != x.shape:
        raise ValueError(f"`logits` and `labels` must have the same shape, received ({x.shape} vs {z.shape}).")
    positive = array_of(x) >= 0
    zero = np.zeros((), np.float32)
    relu_logits = where(positive, x, zero)
    neg_abs = where(positive, negative(x), x)
    return add(subtract(relu_logits, multiply(x, z)), log1p(exp(neg_abs)))


@_record.op
def weighted_cross_entropy_with_logits(labels, logits, pos_weight, name=None):
    """Sigmoid cross-entropy with the positive term weighted by ``pos_weight``:
    (1 - z) x + (1 + (q - 1) z) (ln(1 + e^-|x|) + max(-x, 0))."""
    x = _float(logits, "WeightedCrossEntropyWithLogits")
    z = _tensor(labels, x.dtype)
    log_weight = add(multiply(subtract(pos_weight, 1.0), z), 1.0)
    tail = add(log1p(exp(negative(_abs(x)))), relu(negative(x)))
    return add(multiply(subtract(1.0, z), x), multiply(log_weight, tail))


@_record.op
def l2_loss(t, name=None):
    """sum(t^2) / 2."""
    x = _float(t, "L2Loss")
    return truediv(reduce_sum(square(x)), 2.0)


@_record.op
def l2_normalize(x, axis=None, epsilon=1e-12, name=None, dim=None):
    """x / sqrt(max(sum(x^2 over axis), epsilon))."""
    t = _float(x, "L2Normalize")
    ax = dim if axis is None else axis
    square_sum = reduce_sum(square(t), ax, keepdims=True)
    return multiply(t, rsqrt(maximum(square_sum, epsilon)))


@_record.op
def bias_add(value, bias, data_format=None, name=None):
    """value + bias, ``bias`` (1-D) added along the channel dimension: the last one (``NHWC``, the default) or
    dimension 1 (``NCHW``/``NC...``)."""
    v, b = _tensor(value), _tensor(bias)
    if b.ndim != 1:
        raise invalid(f"Biases must be 1D: {list(b.shape)}", "BiasAdd")
    if v.ndim < 2:
        raise invalid(f"Input tensor must be at least 2D: {list(v.shape)}", "BiasAdd")
    channels_first = data_format is not None and str(data_format).startswith("NC")
    c = v.shape[1] if channels_first else v.shape[-1]
    if b.shape[0] != c:
        raise invalid(
            f"Must provide as many biases as the {'channel' if channels_first else 'last'} dimension of the input "
            f"tensor: {list(b.shape)} vs. {list(v.shape)}",
            "BiasAdd",
        )
    if channels_first:
        b = reshape(b, [c] + [1] * (v.ndim - 2))
    return add(v, b)


# ---------------------------------------------------------------------------------------------------- dropout
@_record.op
def dropout(x, rate, noise_shape=None, seed=None, name=None):
    """Each element zeroed with probability ``rate``, the others scaled by 1 / (1 - rate); ``noise_shape`` (which
    broadcasts to x's shape) shares one keep/drop decision along its size-1 dimensions."""
    from .random import _stream

    t = _float(x, "Dropout")
    r = float(np.asarray(rate))
    if not 0 <= r < 1:
        raise ValueError(f"`rate` must be a scalar tensor or a float in the range [0, 1). Received: rate={rate}")
    if r == 0:
        return t
    shape = tuple(t.shape) if noise_shape is None else tuple(int_list(noise_shape, "noise_shape"))
    keep = _stream(seed).random(shape, dtype=np.float32) >= np.float32(r)
    scaled = multiply(t, 1.0 / (1.0 - r))
    return multiply(scaled, keep.astype(np.float32))


@_record.op
def embedding_lookup(params, ids, max_norm=None, name=None):
    """The rows of ``params`` at ``ids`` (``tf.gather(params, ids)``)."""
    return gather(params, ids)
