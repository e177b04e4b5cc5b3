"""The activations of ``nn.functional`` beyond relu/sigmoid/tanh/softmax (which are in ``_activations``), computed
on the host with NumPy (``_numpy_op.apply``), each with PyTorch's defaults, boundary conventions and backward:

    leaky_relu   x > 0 ? x : s x                        grad  x > 0 ? 1 : s
    elu          x > 0 ? x : a (e^x - 1)                grad  x > 0 ? 1 : a e^x
    selu         scale * elu(x, alpha)                  (alpha 1.6732632423543772, scale 1.0507009873554805)
    celu         x > 0 ? x : a (e^(x/a) - 1)            grad  x > 0 ? 1 : e^(x/a)
    gelu         x Phi(x) = x/2 (1 + erf(x/sqrt 2))     grad  Phi(x) + x phi(x)
                 'tanh': x/2 (1 + tanh(u)), u = sqrt(2/pi)(x + 0.044715 x^3)
    silu         x sigmoid(x)                           grad  s (1 + x (1 - s))
    mish         x tanh(softplus(x))                    grad  t + x sigmoid(x) (1 - t^2)
    softplus     log(1 + e^(b x)) / b; x where b x > threshold          grad  sigmoid(b x)
    softsign     x / (1 + |x|)                          grad  1 / (1 + |x|)^2
    hardtanh     clamp(x, lo, hi)                       grad  1 for lo < x < hi, else 0 (relu6: lo 0, hi 6)
    hardswish    x relu6(x + 3) / 6                     grad  0 (x <= -3), (2x + 3)/6 (x < 3), 1
    hardsigmoid  relu6(x + 3) / 6                       grad  1/6 for -3 < x < 3, else 0
    logsigmoid   -log(1 + e^-x)                         grad  1 - sigmoid(x)
    tanhshrink   x - tanh x                             grad  tanh^2 x
    threshold    x > t ? x : value                      grad  [x > t]
    hardshrink   |x| > l ? x : 0                        grad  [|x| > l]
    softshrink   x - l sign(x) for |x| > l, else 0      grad  [|x| > l]
    prelu        x > 0 ? x : w[c] x  (c the channel, dim 1)   dx = x > 0 ? g : w g;  dw[c] = sum g x [x <= 0]
    glu          a sigmoid(b), (a, b) the halves of x along dim    da = g s;  db = g a s (1 - s)
    softmin      softmax(-x) along dim                  dx = -y (g - sum(g y))

The ``*_`` forms and ``inplace=True`` write the result into the input (``_numpy_op.inplace``).
"""

from __future__ import annotations

import math

import numpy as np

from .._shape import norm_dim
from ..tensor import Tensor
from ._activations import softmax_dim
from ._functional_base import float_input
from ._numpy_op import F64, apply, inplace

__all__ = [
    "celu",
    "celu_",
    "elu",
    "elu_",
    "gelu",
    "glu",
    "hardshrink",
    "hardsigmoid",
    "hardswish",
    "hardtanh",
    "hardtanh_",
    "leaky_relu",
    "leaky_relu_",
    "logsigmoid",
    "mish",
    "prelu",
    "relu6",
    "selu",
    "selu_",
    "silu",
    "softmax_along",
    "softmin",
    "softplus",
    "softshrink",
    "softsign",
    "tanhshrink",
    "threshold",
    "threshold_",
]

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
_erf = np.vectorize(math.erf, otypes=[F64])


def _pointwise(name: str, input, fn, grad) -> Tensor:
    """y = fn(x) elementwise; dL/dx = g * grad(x, y). x and y are float64 arrays."""
    x = float_input(input)

    def compute(a):
        a = a.astype(F64)
        y = fn(a)
        return y, lambda g: (g * grad(a, y),)

    return apply(name, (x,), compute)


def _maybe_inplace(fn, input, inplace_: bool, *args):
    return inplace(fn, input, *args) if inplace_ else fn(input, *args)


def _sigmoid(a):
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


# ---------------------------------------------------------------- rectifiers
def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x for x > 0, negative_slope * x otherwise."""
    if inplace:
        return leaky_relu_(input, negative_slope)
    s = float(negative_slope)
    return _pointwise("LeakyRelu", input, lambda a: np.where(a > 0, a, a * s), lambda a, y: np.where(a > 0, 1.0, s))


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    return inplace(leaky_relu, input, negative_slope)


def _elu_family(name: str, input, neg: float, pos: float, inner: float) -> Tensor:
    """x <= 0 ? neg (e^(inner x) - 1) : pos x, PyTorch's shared kernel of elu, selu and celu."""
    return _pointwise(
        name,
        input,
        lambda a: np.where(a <= 0, np.expm1(np.minimum(a, 0) * inner) * neg, a * pos),
        lambda a, y: np.where(a <= 0, inner * neg * np.exp(np.minimum(a, 0) * inner), pos),
    )


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, alpha (e^x - 1) otherwise."""
    if inplace:
        return elu_(input, alpha)
    return _elu_family("Elu", input, float(alpha), 1.0, 1.0)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return inplace(elu, input, alpha)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * (x for x > 0, alpha (e^x - 1) otherwise), Klambauer et al.'s constants."""
    if inplace:
        return selu_(input)
    return _elu_family("Elu", input, SELU_ALPHA * SELU_SCALE, SELU_SCALE, 1.0)


def selu_(input: Tensor) -> Tensor:
    return inplace(selu, input)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, alpha (e^(x / alpha) - 1) otherwise."""
    if inplace:
        return celu_(input, alpha)
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError")
    return _elu_family("Celu", input, float(alpha), 1.0, 1.0 / float(alpha))


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return inplace(celu, input, alpha)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x where x > threshold, else value."""
    if inplace:
        return threshold_(input, threshold, value)
    t, v = float(threshold), float(value)
    return _pointwise("Threshold", input, lambda a: np.where(a <= t, v, a), lambda a, y: np.where(a <= t, 0.0, 1.0))


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    return inplace(globals()["threshold"], input, threshold, value)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """x clamped to [min_val, max_val]; gradient 1 strictly inside, 0 outside and on the edges."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    if inplace:
        return hardtanh_(input, min_val, max_val)
    lo, hi = float(min_val), float(max_val)
    return _pointwise(
        "Hardtanh",
        input,
        lambda a: np.minimum(np.maximum(a, lo), hi),
        lambda a, y: np.where((a <= lo) | (a >= hi), 0.0, 1.0),
    )


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return inplace(hardtanh, input, min_val, max_val)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6): hardtanh(x, 0, 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


# ---------------------------------------------------------------- smooth activations
def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x Phi(x), Phi the standard normal CDF; approximate='tanh' uses Hendrycks and Gimpel's tanh formula."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"approximate argument must be either none or tanh, got {approximate}")
    if approximate == "none":

        def fn(a):
            return 0.5 * a * (1.0 + _erf(a / math.sqrt(2.0)))

        def grad(a, y):
            return 0.5 * (1.0 + _erf(a / math.sqrt(2.0))) + a * np.exp(-0.5 * a * a) / math.sqrt(2.0 * math.pi)

    else:
        k, c = math.sqrt(2.0 / math.pi), 0.044715

        def fn(a):
            return 0.5 * a * (1.0 + np.tanh(k * (a + c * a**3)))

        def grad(a, y):
            t = np.tanh(k * (a + c * a**3))
            return 0.5 * (1.0 + t) + 0.5 * a * (1.0 - t * t) * k * (1.0 + 3.0 * c * a * a)

    return _pointwise("Gelu", input, fn, grad)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x sigmoid(x) (swish)."""

    def fn(x):
        def grad(a, y):
            s = _sigmoid(a)
            return s * (1.0 + a * (1.0 - s))

        return _pointwise("Silu", x, lambda a: a * _sigmoid(a), grad)

    return _maybe_inplace(fn, input, inplace)


def _softplus64(a, beta: float, threshold: float):
    z = a * beta
    return np.where(z > threshold, a, (np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))) / beta)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x tanh(softplus(x)) (Misra, 2019)."""

    def fn(x):
        def grad(a, y):
            t = np.tanh(_softplus64(a, 1.0, 20.0))
            return t + a * _sigmoid(a) * (1.0 - t * t)

        return _pointwise("Mish", x, lambda a: a * np.tanh(_softplus64(a, 1.0, 20.0)), grad)

    return _maybe_inplace(fn, input, inplace)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + e^(beta x)) / beta, and x itself where beta x > threshold (for numerical stability)."""
    b, t = float(beta), float(threshold)
    return _pointwise(
        "Softplus",
        input,
        lambda a: _softplus64(a, b, t),
        lambda a, y: np.where(a * b > t, 1.0, _sigmoid(a * b)),
    )


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    return _pointwise("Softsign", input, lambda a: a / (1.0 + np.abs(a)), lambda a, y: 1.0 / (1.0 + np.abs(a)) ** 2)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x relu6(x + 3) / 6 (MobileNetV3)."""

    def fn(x):
        return _pointwise(
            "Hardswish",
            x,
            lambda a: a * np.minimum(np.maximum(a + 3.0, 0.0), 6.0) / 6.0,
            lambda a, y: np.where(a <= -3.0, 0.0, np.where(a < 3.0, a / 3.0 + 0.5, 1.0)),
        )

    return _maybe_inplace(fn, input, inplace)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6."""

    def fn(x):
        return _pointwise(
            "Hardsigmoid",
            x,
            lambda a: np.minimum(np.maximum(a + 3.0, 0.0), 6.0) / 6.0,
            lambda a, y: np.where((a > -3.0) & (a < 3.0), 1.0 / 6.0, 0.0),
        )

    return _maybe_inplace(fn, input, inplace)


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)) = min(x, 0) - log(1 + e^-|x|)."""
    return _pointwise(
        "LogSigmoid",
        input,
        lambda a: np.minimum(a, 0.0) - np.log1p(np.exp(-np.abs(a))),
        lambda a, y: _sigmoid(-a),
    )


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh x."""
    return _pointwise("Tanhshrink", input, lambda a: a - np.tanh(a), lambda a, y: np.tanh(a) ** 2)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x where |x| > lambd, else 0."""
    lam = float(lambd)
    inside = lambda a: (a >= -lam) & (a <= lam)  # noqa: E731
    return _pointwise(
        "Hardshrink", input, lambda a: np.where(inside(a), 0.0, a), lambda a, y: np.where(inside(a), 0.0, 1.0)
    )


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x - lambd for x > lambd, x + lambd for x < -lambd, else 0."""
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    lam = float(lambd)
    return _pointwise(
        "Softshrink",
        input,
        lambda a: np.where(a > lam, a - lam, np.where(a < -lam, a + lam, 0.0)),
        lambda a, y: np.where((a >= -lam) & (a <= lam), 0.0, 1.0),
    )


# ---------------------------------------------------------------- with a weight, or along a dimension
def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """x for x > 0, weight[c] x otherwise, c the channel (dim 1; one weight for all when weight has one value)."""
    x, w = float_input(input), float_input(weight, "weight")
    n = w.numel()
    if n != 1:
        channels = x.shape[1] if x.dim() > 1 else 1
        if channels != n:
            raise RuntimeError(
                f"Mismatch of parameter numbers and input channel size. Found parameter numbers = {n} and channel "
                f"size = {channels}."
            )
    nd = x.dim()
    w_shape = (1, n) + (1,) * (nd - 2) if n != 1 and nd >= 2 else ()

    def compute(a, wa):
        a, wv = a.astype(F64), wa.astype(F64).reshape(w_shape) if n != 1 else F64(wa.reshape(()))
        pos = a > 0

        def grads(g):
            gw = (g * a * ~pos).reshape(g.shape)
            gw = gw.sum(axis=tuple(i for i in range(nd) if i != 1)) if n != 1 else gw.sum()
            return np.where(pos, g, g * wv), gw.reshape(wa.shape)

        return np.where(pos, a, a * wv), grads

    return apply("PreluKernel", (x, w), compute)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """a * sigmoid(b), where a and b are the first and second halves of the input along ``dim``."""
    x = float_input(input)
    if x.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = norm_dim(dim, x.dim())
    size = x.shape[d]
    if size % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {size}")

    def compute(arr):
        a, b = np.split(arr.astype(F64), 2, axis=d)
        s = _sigmoid(b)
        return a * s, lambda g: (np.concatenate([g * s, g * a * s * (1.0 - s)], axis=d),)

    return apply("Glu", (x,), compute)


def softmax_along(input: Tensor, dim: int, negate: bool = False, name: str = "Softmax") -> Tensor:
    """softmax(x) (or softmax(-x)) along any dimension ``dim``; backward y (g - sum(g y)) (negated for -x)."""
    x = float_input(input)
    d = norm_dim(dim, x.dim()) if x.dim() else None
    sign = -1.0 if negate else 1.0

    def compute(arr):
        z = sign * arr.astype(F64)
        if d is None:
            y = np.ones_like(z)
        else:
            e = np.exp(z - z.max(axis=d, keepdims=True))
            y = e / e.sum(axis=d, keepdims=True)

        def grads(g):
            if d is None:
                return (np.zeros_like(g),)
            return (sign * y * (g - (g * y).sum(axis=d, keepdims=True)),)

        return y, grads

    return apply(name, (x,), compute)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """softmax(-x) along ``dim`` (any dimension); dim=None picks PyTorch's deprecated implicit one."""
    x = float_input(input)
    if dtype is not None and not getattr(dtype, "is_floating_point", False):
        raise TypeError(f"softmin(): dtype must be a floating point dtype, got {dtype}")
    if dim is None:
        dim = softmax_dim(x.dim(), "softmin")
    return softmax_along(x, dim, negate=True)
