"""``nn.functional``: the layers' maths as functions — linear, batch_norm, activations, dropout, softmax.
This file holds linear, batch_norm and dropout, and re-exports the rest: the activations and (log-)softmax
from ``_activations``, the losses (cross_entropy, nll_loss, mse_loss) from ``_losses``, convolution and
pooling (conv2d, max_pool2d, avg_pool2d, adaptive_avg_pool2d) from ``_conv``, layer_norm and group_norm from
``_norm_functional``. What they share (input checks, parameter-gradient buffers) is in ``_functional_base``.

The rest runs on the host with NumPy (``_numpy_op``) and is re-exported from: ``_pointwise_functional`` (leaky_relu,
elu, selu, celu, gelu, silu, mish, softplus, softsign, hardtanh, relu6, hardswish, hardsigmoid, logsigmoid,
tanhshrink, threshold, hard/softshrink, prelu, glu, softmin and their in-place forms), ``_loss_functional``
(l1, smooth_l1, huber, binary cross-entropy with and without logits, kl_div, margin and embedding losses, Poisson
and Gaussian NLL), ``_misc_functional`` (one_hot, pad, normalize, cosine_similarity, pairwise_distance, embedding,
bilinear, pixel_shuffle), ``_pool_functional`` (conv1d, 1-D and adaptive pooling, over the engine's 2-D kernels
where it can) and ``_dropout_norm_functional`` (channel-wise and alpha dropout, instance_norm, rms_norm,
local_response_norm).

Every forward and backward here runs in the C++ engine (``_core.ops`` / ``_core.tensor_ops``); Python only
checks arguments, keeps the caches the backward needs and tapes the op (see ``autograd``).

    linear      y = x W^T + b            W is (out_features, in_features), PyTorch's layout
    batch_norm  y = gamma (x - mu) / sqrt(var + eps) + beta per channel of x (N, C) or (N, C, L)
                training: mu, var (biased) from the batch; running stats blend in the UNBIASED variance
                eval: mu, var = running_mean, running_var
    relu, sigmoid, tanh, softmax, log_softmax, dropout (inverted: kept values scaled by 1/(1-p))
"""

from __future__ import annotations

from ... import _core
from .. import _names, _random
from .._types import Size
from ..autograd import record
from ..tensor import Tensor, check_same_device, wrap
from . import _dropout_norm_functional, _loss_functional, _misc_functional, _pointwise_functional, _pool_functional
from ._activations import log_softmax, relu, relu_, sigmoid, softmax, tanh
from ._conv import adaptive_avg_pool2d, avg_pool2d, conv2d, max_pool2d
from ._dropout_norm_functional import *  # noqa: F403
from ._functional_base import ParamGrads, float_input, needs_tape, taped_unary
from ._loss_functional import *  # noqa: F403
from ._losses import cross_entropy, mse_loss, nll_loss
from ._misc_functional import *  # noqa: F403
from ._norm_functional import group_norm, layer_norm
from ._pointwise_functional import *  # noqa: F403
from ._pool_functional import *  # noqa: F403

__all__ = [
    "adaptive_avg_pool2d",
    "avg_pool2d",
    "batch_norm",
    "conv2d",
    "cross_entropy",
    "dropout",
    "group_norm",
    "layer_norm",
    "linear",
    "log_softmax",
    "max_pool2d",
    "mse_loss",
    "nll_loss",
    "relu",
    "relu_",
    "sigmoid",
    "softmax",
    "tanh",
]
__all__ += [n for n in _pointwise_functional.__all__ if n != "softmax_along"]
__all__ += _loss_functional.__all__ + _misc_functional.__all__ + _dropout_norm_functional.__all__
__all__ += [n for n in _pool_functional.__all__ if n not in __all__]
__all__.sort()

_O = _core.ops
_T = _core.tensor_ops
_Act = _core.Act


# ---------------------------------------------------------------- linear
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x W^T + b for x of shape (*, in_features); W (out_features, in_features), b (out_features)."""
    x = float_input(input)
    check_same_device(x, weight, bias)
    shape = x._c.shape
    w_shape = weight._c.shape
    if not shape or shape[-1] != w_shape[1]:
        rows = 1 if len(shape) < 2 else shape[0] if len(shape) == 2 else Size(shape[:-1]).numel()
        cols = shape[-1] if shape else 1
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{cols} and {w_shape[1]}x{w_shape[0]})")
    xc = x._c
    if len(shape) != 2:
        xc = _T.view(xc, [Size(shape[:-1]).numel(), shape[-1]])
    wc = weight._c
    bc = bias._c if bias is not None else None
    oc = _core.Tensor()
    _O.dense_forward(oc, xc, wc, bc, True)
    if len(shape) != 2:
        oc = _T.view(oc, [*shape[:-1], w_shape[0]])
    out = wrap(oc, x.device)
    if not needs_tape(x, weight, bias):
        return out

    def backward(g):
        if len(shape) != 2:
            g = _T.view(g, [xc.shape[0], w_shape[0]])
        pg = ParamGrads((weight, bias))
        dw, db = pg.buffers
        dx = _core.Tensor() if x._rg else None
        # dx = g W;  dW (+)= g^T x;  db (+)= sum over rows of g
        _O.dense_backward(dx, dw, db, g, xc, wc, True, pg.accumulate)
        if dx is not None and len(shape) != 2:
            dx = _T.view(dx, list(shape))
        return (dx, *pg.hand_over())

    record("Addmm", out, (x, weight) if bias is None else (x, weight, bias), backward)
    return out


# ---------------------------------------------------------------- batch norm
def _verify_batch_size(shape) -> None:
    values = shape[0]
    for s in shape[2:]:
        values *= s
    if values == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size {Size(shape)}")


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalization of x (N, C, *) per channel C (the engine views it as (N, C, L)).

    training=True: normalize with the batch mean and BIASED variance over the N*L values of each channel;
    when running stats are given, update them in place:
        running_mean = (1 - momentum) * running_mean + momentum * mean
        running_var  = (1 - momentum) * running_var  + momentum * var * n / (n - 1)   (unbiased, n = N*L)
    training=False: normalize with running_mean and running_var (which must be given).
    """
    return _batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps, relu=False)


def _batch_norm(
    input, running_mean, running_var, weight, bias, training, momentum, eps, relu: bool, record_step=None
) -> Tensor:
    """batch_norm, and with relu=True relu(batch_norm(...)) in the same engine passes (nn.Sequential's
    BatchNorm -> ReLU pairs): the forward writes max(y, 0) in its normalizing pass, and the backward gates the
    incoming gradient by [out > 0] on the fly; the results equal the two separate ops' bit for bit.
    ``record_step(cache, shape)`` (BatchNorm modules: their internals) is called with a training step's cache and
    returns an object whose ``backward_seen(g, dx, gate)`` the backward calls."""
    x = float_input(input)
    check_same_device(x, running_mean, running_var, weight, bias)
    shape = x._c.shape
    if len(shape) < 2:
        raise ValueError(f"batch_norm expects an input of shape (N, C, *), got {Size(shape)}")
    if training:
        _verify_batch_size(shape)
        if eps <= 0.0:
            raise ValueError(f"batch_norm eps must be positive during training, but got {eps}")
    elif eps < 0.0:
        raise ValueError(f"batch_norm eps must be non-negative, but got {eps}")
    N, C = shape[0], shape[1]
    L = Size(shape[2:]).numel()
    for name, t in (
        ("running_mean", running_mean),
        ("running_var", running_var),
        ("weight", weight),
        ("bias", bias),
    ):
        if t is not None and t.numel() != C:
            raise RuntimeError(f"{name} should contain {C} elements not {t.numel()}")
    xc = x._c
    gc = weight._c if weight is not None else None
    bc = bias._c if bias is not None else None
    oc = _core.Tensor()
    params = tuple(p for p in (weight, bias) if p is not None)
    if training:
        cache = _O.BNCache()
        _O.batchnorm_forward_train(oc, cache, xc, gc, bc, N, C, L, eps, relu)
        step = record_step(cache, shape) if record_step is not None else None
        if running_mean is not None and momentum is not None:
            n = N * L
            _O.blend(running_mean._c, cache.mean, 1.0 - momentum, 1.0)
            _O.blend(running_var._c, cache.var, 1.0 - momentum, n / (n - 1))
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
        mc, vc = running_mean._c.to(xc.device), running_var._c.to(xc.device)  # constants of this graph
        _O.batchnorm_forward_infer(oc, xc, mc, vc, gc, bc, N, C, L, eps, relu)
    out = wrap(oc, x.device)
    if not needs_tape(x, weight, bias):
        return out

    def backward(g):
        pg = ParamGrads((weight, bias), accumulate=True)  # the kernels accumulate
        dg, db = pg.buffers
        dx = _core.Tensor()
        if training:
            # dx = gamma * rstd / M * (M*g - sum(g) - xhat * sum(g*xhat))
            # dgamma += sum(g * xhat);  dbeta += sum(g)
            _O.batchnorm_backward(dx, dg, db, g, cache, gc, N, C, L, oc if relu else None)
            if step is not None:
                step.backward_seen(g, dx, oc if relu else None)
        else:
            if relu:  # the ReLU's backward first: g * [out > 0]
                gated = _core.Tensor()
                _O.activation_backward(gated, g, oc, _Act.Relu)
                g = gated
            # running statistics are constants: dx = g * gamma * rstd
            _T.batchnorm_backward_eval(dx, dg, db, g, xc, mc, vc, gc, N, C, L, eps)
        return (dx if x._rg else None, *pg.hand_over())

    record("NativeBatchNormRelu" if relu else "NativeBatchNorm", out, (x, *params), backward)
    return out


# ---------------------------------------------------------------- dropout
def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Inverted dropout: zero each value with probability p, scale the others by 1/(1-p).
    Identity when not training or p == 0 (the input itself is returned, as PyTorch does)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    x = float_input(input)
    if not training or p == 0.0 or x.numel() == 0:
        return x
    if p == 1.0:
        return x * 0.0
    oc, mask = _core.Tensor(), _core.Tensor()
    _O.dropout_forward(oc, mask, x._c, float(p), _random.default_generator.draw_seed(), 0)
    return taped_unary("NativeDropout", x, oc, _O.dropout_backward, mask)


__getattr__ = _names.module_getattr("bnlab.torch.nn.functional", globals())
