"""Elementwise maths beyond ``_math``'s core: trigonometric and hyperbolic functions, other logarithms,
``log1p``/``expm1``, and rounding (``floor``, ``ceil``, ``trunc``, ``round``), each one engine op (float32; the
CUDA backend computes them in double and rounds once) with PyTorch's backward rule:

    sin x: g cos x          cos x: -g sin x          tan x: g (1 + out^2)
    sinh x: g cosh x        cosh x: g sinh x
    log2 x: g / (x ln 2)    log10 x: g / (x ln 10)   log1p x: g / (x + 1)    expm1 x: g (out + 1)
    floor, ceil, trunc, round: 0 (piecewise constant)

Integer and bool tensors compute with NumPy: the functions give float32 (PyTorch's promotion), the rounding
functions return the tensor's values unchanged in its dtype.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _core
from ._math import _binary_core, _unary, _unary_core

_T = _core.tensor_ops
_B = _T.BinaryOp
_U = _T.UnaryOp

__all__ = ["ceil", "cos", "cosh", "expm1", "floor", "log1p", "log2", "log10", "round", "sin", "sinh", "tan", "trunc"]


def _f32(np_fn):
    return lambda a: np_fn(a.astype(np.float32))


def _times(op):  # g * op(x)
    return lambda g, x, out: _binary_core(g, _unary_core(x, op), _B.Mul)


def _over_x_times(c):  # g / (x * c), with c rounded to float32 as PyTorch's scalar is
    return lambda g, x, out: _binary_core(g, _unary_core(x, _U.MulScalar, c), _B.Div)


def _cos_grad(g, x, out):
    d = _binary_core(g, _unary_core(x, _U.Sin), _B.Mul)
    _T.unary(d, d, _U.Neg, 0.0)
    return d


def _tan_grad(g, x, out):
    d = _unary_core(out, _U.PowScalar, 2.0)
    _T.unary(d, d, _U.AddScalar, 1.0)
    return _binary_core(g, d, _B.Mul)


def _plus_one(g, x, out, divide):
    d = _unary_core(x if divide else out, _U.AddScalar, 1.0)
    return _binary_core(g, d, _B.Div if divide else _B.Mul)


def _zero(g, x, out):
    return _unary_core(g, _U.MulScalar, 0.0)


def sin(input):
    """sin x, elementwise (radians)."""
    return _unary("Sin", input, _U.Sin, _f32(np.sin), _times(_U.Cos))


def cos(input):
    """cos x, elementwise (radians)."""
    return _unary("Cos", input, _U.Cos, _f32(np.cos), _cos_grad)


def tan(input):
    """tan x, elementwise (radians)."""
    return _unary("Tan", input, _U.Tan, _f32(np.tan), _tan_grad)


def sinh(input):
    """sinh x = (e^x - e^-x) / 2."""
    return _unary("Sinh", input, _U.Sinh, _f32(np.sinh), _times(_U.Cosh))


def cosh(input):
    """cosh x = (e^x + e^-x) / 2."""
    return _unary("Cosh", input, _U.Cosh, _f32(np.cosh), _times(_U.Sinh))


def log2(input):
    """log2 x = ln x / ln 2."""
    return _unary("Log2", input, _U.Log2, _f32(np.log2), _over_x_times(math.log(2.0)))


def log10(input):
    """log10 x = ln x / ln 10."""
    return _unary("Log10", input, _U.Log10, _f32(np.log10), _over_x_times(math.log(10.0)))


def log1p(input):
    """ln(1 + x), accurate for small x."""
    return _unary("Log1p", input, _U.Log1p, _f32(np.log1p), lambda g, x, out: _plus_one(g, x, out, True))


def expm1(input):
    """e^x - 1, accurate for small x."""
    return _unary("Expm1", input, _U.Expm1, _f32(np.expm1), lambda g, x, out: _plus_one(g, x, out, False))


def floor(input):
    """The largest integer <= x (integer tensors unchanged)."""
    return _unary("Floor", input, _U.Floor, np.floor, _zero)


def ceil(input):
    """The smallest integer >= x (integer tensors unchanged)."""
    return _unary("Ceil", input, _U.Ceil, np.ceil, _zero)


def trunc(input):
    """x rounded toward zero (integer tensors unchanged)."""
    return _unary("Trunc", input, _U.Trunc, np.trunc, _zero)


def round(input, *, decimals: int = 0):
    """x rounded half to even (``round(2.5) == 2``, as PyTorch and NumPy). With ``decimals`` d > 0 PyTorch
    computes round(x * 10^d) / 10^d, with d < 0 round(x / 10^-d) * 10^-d; so does this."""
    if not isinstance(decimals, int) or isinstance(decimals, bool):
        raise TypeError(f"round(): argument 'decimals' must be int, not {type(decimals).__name__}")
    if decimals == 0:
        return _unary("Round", input, _U.Round, np.round, _zero)
    scale = float(10 ** abs(decimals))
    scaled = input * scale if decimals > 0 else input / scale
    rounded = _unary("Round", scaled, _U.Round, np.round, _zero)
    return rounded / scale if decimals > 0 else rounded * scale
