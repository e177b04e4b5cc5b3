"""Elementwise functions of one tensor: ``negative``, ``abs``, ``sign``, ``square``, ``sqrt``, ``rsqrt``,
``reciprocal``, ``exp``, ``log``, ``log1p``, ``expm1``, the trigonometric and hyperbolic functions, ``sigmoid``,
``tanh``, ``floor``, ``ceil``, ``round``, ``is_nan``/``is_inf``/``is_finite``, ``softplus``, ``log_sigmoid``,
``erf`` and ``erfc``.

Float32 tensors compute in bnlab's engine through bnlab.torch (so the ops are on its tape while a GradientTape
records), with the gradients written in each docstring; ``sign``, ``floor``, ``ceil`` and ``round`` have gradient
0. The functions TensorFlow defines for floating types only (``sqrt``, ``exp``, ``log``...) raise
InvalidArgumentError for integer tensors, as TensorFlow does; ``negative``, ``abs``, ``sign``, ``square`` and
``round`` also take integers (NumPy, in the tensor's dtype).
"""

from __future__ import annotations

import math

import numpy as np

from .. import torch as _torch
from . import _record
from . import dtypes as _dt
from ._base import F32, check_dtypes, floating, numeric, plus_terms, quiet, taping, zero_link
from ._base import tensor as _tensor
from .tensor import Tensor, array_of, from_array, wrap

__all__ = [
    "abs",
    "ceil",
    "cos",
    "cosh",
    "erf",
    "erfc",
    "exp",
    "expm1",
    "floor",
    "is_finite",
    "is_inf",
    "is_nan",
    "log",
    "log1p",
    "log_sigmoid",
    "negative",
    "reciprocal",
    "round",
    "rsqrt",
    "sigmoid",
    "sign",
    "sin",
    "sinh",
    "softplus",
    "sqrt",
    "square",
    "tan",
    "tanh",
]


def _unary(op: str, x, float_fn, np_fn=None, allowed=numeric):
    t = _tensor(x)
    check_dtypes(op, t, allowed)
    if t._dtype is F32:
        return wrap(float_fn(t._t))
    return from_array(quiet(np_fn, array_of(t)), t._dtype)


def _zero_gradient(t: Tensor, value) -> Tensor:
    """A float32 tensor of ``value`` (computed from t) whose gradient with respect to t is 0."""
    out = from_array(value, F32)
    return plus_terms(out, [zero_link(t) * 0.0]) if taping(t) else out


def _signed(d) -> bool:
    return d.is_floating or (d.is_integer and not d.is_unsigned)


@_record.op
def negative(x, name=None):
    """-x (float and signed integer types); gradient -g."""
    return _unary("Neg", x, lambda a: -a, np.negative, allowed=_signed)


@_record.op
def abs(x, name=None):
    """|x| (float and signed integer types); gradient g sign(x)."""
    return _unary("Abs", x, _torch.abs, np.abs, allowed=_signed)


@_record.op
def sign(x, name=None):
    """-1, 0 or 1 by the sign of x (NaN stays NaN); gradient 0."""
    t = _tensor(x)
    check_dtypes("Sign", t, numeric)
    if t._dtype is F32:
        return _zero_gradient(t, np.sign(array_of(t)))
    return from_array(np.sign(array_of(t)), t._dtype)


@_record.op
def square(x, name=None):
    """x^2; gradient 2 g x."""
    return _unary("Square", x, lambda a: a * a, np.square)


@_record.op
def sqrt(x, name=None):
    """sqrt(x) (float); gradient g / (2 sqrt(x))."""
    return _unary("Sqrt", x, _torch.sqrt, allowed=floating)


@_record.op
def rsqrt(x, name=None):
    """1 / sqrt(x) (float); gradient -g / (2 x^(3/2))."""
    return _unary("Rsqrt", x, lambda a: 1.0 / _torch.sqrt(a), allowed=floating)


@_record.op
def reciprocal(x, name=None):
    """1 / x (float); gradient -g / x^2."""
    return _unary("Reciprocal", x, lambda a: 1.0 / a, allowed=floating)


def _float_fn(op: str, fn):
    def f(x, name=None):
        return _unary(op, x, fn, allowed=floating)

    return f


exp = _record.op(_float_fn("Exp", _torch.exp))
log = _record.op(_float_fn("Log", _torch.log))
log1p = _record.op(_float_fn("Log1p", _torch.log1p))
expm1 = _record.op(_float_fn("Expm1", _torch.expm1))
sin = _record.op(_float_fn("Sin", _torch.sin))
cos = _record.op(_float_fn("Cos", _torch.cos))
tan = _record.op(_float_fn("Tan", _torch.tan))
sinh = _record.op(_float_fn("Sinh", _torch.sinh))
cosh = _record.op(_float_fn("Cosh", _torch.cosh))
sigmoid = _record.op(_float_fn("Sigmoid", _torch.sigmoid))
tanh = _record.op(_float_fn("Tanh", _torch.tanh))
floor = _record.op(_float_fn("Floor", _torch.floor))
ceil = _record.op(_float_fn("Ceil", _torch.ceil))
for _fn, _doc in (
    (exp, "e^x; gradient g e^x."),
    (log, "ln x; gradient g / x."),
    (log1p, "ln(1 + x), accurate for small x; gradient g / (1 + x)."),
    (expm1, "e^x - 1, accurate for small x; gradient g e^x."),
    (sin, "sin x (radians); gradient g cos x."),
    (cos, "cos x (radians); gradient -g sin x."),
    (tan, "tan x (radians); gradient g (1 + tan^2 x)."),
    (sinh, "sinh x; gradient g cosh x."),
    (cosh, "cosh x; gradient g sinh x."),
    (sigmoid, "1 / (1 + e^-x); gradient g y (1 - y)."),
    (tanh, "tanh x; gradient g (1 - y^2)."),
    (floor, "The largest integer <= x (float); gradient 0."),
    (ceil, "The smallest integer >= x (float); gradient 0."),
):
    _fn.__doc__ = _doc
for _fn, _name in (
    (exp, "exp"),
    (log, "log"),
    (log1p, "log1p"),
    (expm1, "expm1"),
    (sin, "sin"),
    (cos, "cos"),
    (tan, "tan"),
    (sinh, "sinh"),
    (cosh, "cosh"),
    (sigmoid, "sigmoid"),
    (tanh, "tanh"),
    (floor, "floor"),
    (ceil, "ceil"),
):
    _fn.__name__ = _fn.__qualname__ = _name


@_record.op
def round(x, name=None):
    """x rounded to the nearest integer, half to even (``round(2.5) == 2``); integers unchanged; gradient 0."""
    t = _tensor(x)
    check_dtypes("Round", t, numeric)
    return wrap(_torch.round(t._t)) if t._dtype is F32 else t


def _is(op: str, np_fn):
    def f(x, name=None):
        t = _tensor(x)
        check_dtypes(op, t, floating)
        return from_array(np_fn(array_of(t)), _dt.bool)

    return f


is_nan = _record.op(_is("IsNan", np.isnan))
is_inf = _record.op(_is("IsInf", np.isinf))
is_finite = _record.op(_is("IsFinite", np.isfinite))
for _fn, _name in ((is_nan, "is_nan"), (is_inf, "is_inf"), (is_finite, "is_finite")):
    _fn.__name__ = _fn.__qualname__ = _name
    _fn.__doc__ = f"Whether each element of x (float) is {_name[3:]} (a bool tensor)."


@_record.op
def softplus(features, name=None):
    """ln(1 + e^x), computed as TensorFlow's kernel does: x above t = -(ln(eps) + 2) ~ 13.9 for float32, e^x
    below -t, log1p(e^x) between; gradient g sigmoid(x)."""
    from .selection import where

    t = _tensor(features)
    check_dtypes("Softplus", t, floating)
    threshold = np.float32(np.log(np.finfo(np.float32).eps) + 2.0)
    a = array_of(t)
    e = exp(t)
    mid = log1p(e)
    return where(a > -threshold, t, where(a < threshold, e, mid))


@_record.op
def log_sigmoid(x, name=None):
    """ln(sigmoid(x)) = -softplus(-x)."""
    return negative(softplus(negative(x)))


@_record.op
def erf(x, name=None):
    """The error function 2/sqrt(pi) * integral_0^x e^(-t^2) dt, computed in float64 and rounded; gradient
    g * 2/sqrt(pi) * e^(-x^2)."""
    t = _tensor(x)
    check_dtypes("Erf", t, floating)
    a = array_of(t).astype(np.float64)
    value = np.vectorize(math.erf, otypes=[np.float64])(a) if a.size else a
    out = from_array(value.astype(np.float32), F32)
    if not taping(t):
        return out
    jac = (2.0 / math.sqrt(math.pi) * np.exp(-a * a)).astype(np.float32)
    return plus_terms(out, [zero_link(t) * _torch.from_numpy(jac)])


@_record.op
def erfc(x, name=None):
    """The complementary error function 1 - erf(x), accurate where erf(x) is close to 1; gradient
    -g * 2/sqrt(pi) * e^(-x^2)."""
    t = _tensor(x)
    check_dtypes("Erfc", t, floating)
    a = array_of(t).astype(np.float64)
    value = np.vectorize(math.erfc, otypes=[np.float64])(a) if a.size else a
    out = from_array(value.astype(np.float32), F32)
    if not taping(t):
        return out
    jac = (-2.0 / math.sqrt(math.pi) * np.exp(-a * a)).astype(np.float32)
    return plus_terms(out, [zero_link(t) * _torch.from_numpy(jac)])
