"""Elementwise maths of the TF face: the binary arithmetic ops (``add``, ``subtract``, ``multiply``, ``truediv``,
``floordiv``, ``floormod``, ``pow``, ``maximum``, ``minimum``...); it also re-exports the comparisons and logical
ops (``compare_ops``) and the functions of one tensor (``unary_ops``), so that its ``__all__`` is all of them.

Operands. A binary op takes its dtype from its first tensor operand; a Python number, list or NumPy array operand
is converted to that dtype (``x * 2`` on an int32 tensor is int32; ``x * 2.5`` raises TensorFlow's TypeError);
two tensors of different dtypes raise InvalidArgumentError ("cannot compute AddV2 as input #1(zero-based) was
expected to be a float tensor but is a int32 tensor"). Shapes broadcast as NumPy's; incompatible ones raise
InvalidArgumentError ("Incompatible shapes: [2] vs. [3]").

Float32 maths runs in bnlab's engine through bnlab.torch (so it is on bnlab.torch's tape while a GradientTape
records); integer and bool maths runs with NumPy in the tensor's dtype, overflowing as TensorFlow's kernels do.

    truediv x / y        float32 for every input type (TensorFlow gives float64 for int32/int64 inputs: bnlab
                         has no float64 tensors)
    floordiv x // y      floor(x / y); integers floor toward -inf; no gradient (as TensorFlow's FloorDiv)
    floormod x % y       x - floor(x / y) * y with the divisor's sign (fmod, then + y when the signs differ);
                         gradient g and -g floor(x / y)
    pow x ** y           gradient g y x^(y-1) and g x^y ln x (0 where x <= 0)
    maximum, minimum     NaN propagates; the gradient goes to x where x >= y (maximum) / x <= y (minimum)
Integer division (``//``, ``%``) by zero raises InvalidArgumentError "Integer division by zero".
"""

from __future__ import annotations

import numpy as np

from .. import torch as _torch
from . import _record
from ._base import (
    F32,
    binary_operands,
    broadcast_shape,
    check_dtypes,
    floating,
    numeric,
    plus_terms,
    quiet,
    taping,
    zero_link,
)
from .compare_ops import (
    equal,
    greater,
    greater_equal,
    less,
    less_equal,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    not_equal,
)
from .errors import invalid
from .tensor import Tensor, array_of, from_array, wrap
from .unary_ops import (
    abs,
    ceil,
    cos,
    cosh,
    erf,
    erfc,
    exp,
    expm1,
    floor,
    is_finite,
    is_inf,
    is_nan,
    log,
    log1p,
    log_sigmoid,
    negative,
    reciprocal,
    round,
    rsqrt,
    sigmoid,
    sign,
    sin,
    sinh,
    softplus,
    sqrt,
    square,
    tan,
    tanh,
)
from .variables import as_tensor_like, convert_to_tensor

__all__ = [
    "abs",
    "add",
    "ceil",
    "cos",
    "cosh",
    "divide",
    "divide_no_nan",
    "equal",
    "erf",
    "erfc",
    "exp",
    "expm1",
    "floor",
    "floordiv",
    "floormod",
    "greater",
    "greater_equal",
    "is_finite",
    "is_inf",
    "is_nan",
    "less",
    "less_equal",
    "log",
    "log1p",
    "log_sigmoid",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "maximum",
    "minimum",
    "mod",
    "multiply",
    "negative",
    "not_equal",
    "pow",
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
    "squared_difference",
    "subtract",
    "tan",
    "tanh",
    "truediv",
]


# ---------------------------------------------------------------------------------------------------- binary
def _binary(op: str, x, y, float_fn, np_fn, allowed=numeric):
    tx, ty = binary_operands(op, x, y)
    check_dtypes(op, tx, allowed)
    broadcast_shape(op, tx.shape, ty.shape)
    if tx._dtype is F32:
        return wrap(float_fn(tx._t, ty._t))
    return from_array(quiet(np_fn, array_of(tx), array_of(ty)), tx._dtype)


@_record.op
def add(x, y, name=None):
    """x + y, elementwise with broadcasting; the gradient of each operand is g summed to its shape."""
    return _binary("AddV2", x, y, lambda a, b: a + b, np.add)


@_record.op
def subtract(x, y, name=None):
    """x - y, elementwise with broadcasting."""
    return _binary("Sub", x, y, lambda a, b: a - b, np.subtract)


@_record.op
def multiply(x, y, name=None):
    """x * y, elementwise with broadcasting; gradients g y and g x."""
    return _binary("Mul", x, y, lambda a, b: a * b, np.multiply)


@_record.op
def truediv(x, y, name=None):
    """x / y in floating point (integer inputs give float32, see the module's docstring); gradients g / y and
    -g x / y^2."""
    tx = as_tensor_like(x)
    tx = tx if tx is not None else convert_to_tensor(x)
    ty = as_tensor_like(y)
    ty = ty if ty is not None else convert_to_tensor(y, dtype_hint=tx._dtype)  # TensorFlow's _truediv_python3
    if tx._dtype != ty._dtype:
        raise TypeError(f"`x` and `y` must have the same dtype, got {tx.dtype!r} != {ty.dtype!r}.")
    check_dtypes("RealDiv", tx, numeric)
    broadcast_shape("RealDiv", tx.shape, ty.shape)
    if tx._dtype is F32:
        return wrap(tx._t / ty._t)
    q = quiet(np.true_divide, array_of(tx).astype(np.float64), array_of(ty).astype(np.float64))
    return from_array(q.astype(np.float32), F32)


divide = truediv


def _int_divisor(op: str, ty: Tensor) -> None:
    if ty._dtype.is_integer and (array_of(ty) == 0).any():
        raise invalid("Integer division by zero", op)


@_record.op
def floordiv(x, y, name=None):
    """floor(x / y) in x's dtype (integers: Python's //); not differentiable (no gradient, as TensorFlow)."""
    tx, ty = binary_operands("FloorDiv", x, y)
    check_dtypes("FloorDiv", tx, numeric)
    broadcast_shape("FloorDiv", tx.shape, ty.shape)
    if tx._dtype is F32:
        return wrap(_torch.floor(tx._t.detach() / ty._t.detach()))
    _int_divisor("FloorDiv", ty)
    return from_array(quiet(np.floor_divide, array_of(tx), array_of(ty)), tx._dtype)


@_record.op
def floormod(x, y, name=None):
    """x mod y with the sign of y (Python's %); gradients g and -g floor(x / y)."""
    tx, ty = binary_operands("FloorMod", x, y)
    check_dtypes("FloorMod", tx, numeric)
    broadcast_shape("FloorMod", tx.shape, ty.shape)
    a, b = array_of(tx), array_of(ty)
    if tx._dtype is not F32:
        _int_divisor("FloorMod", ty)
        return from_array(quiet(np.remainder, a, b), tx._dtype)
    out = from_array(quiet(np.remainder, a, b), F32)
    terms = []
    if taping(tx):
        terms.append(zero_link(tx))
    if taping(ty):
        terms.append(zero_link(ty) * _torch.from_numpy(-quiet(np.floor_divide, a, b)))
    return plus_terms(out, terms)


mod = floormod


@_record.op
def pow(x, y, name=None):
    """x ** y elementwise; gradients g y x^(y-1) and g x^y ln(x) (0 where x <= 0). A scalar exponent runs in the
    engine; a tensor exponent is computed with NumPy (and its gradient is 0 where the derivative is infinite)."""
    tx, ty = binary_operands("Pow", x, y)
    check_dtypes("Pow", tx, numeric)
    broadcast_shape("Pow", tx.shape, ty.shape)
    a, b = array_of(tx), array_of(ty)
    if tx._dtype is not F32:
        if tx._dtype.is_integer and (b < 0).any():
            raise invalid("Integers to negative integer powers are not allowed", "Pow")
        return from_array(quiet(np.power, a, b), tx._dtype)
    if ty.ndim == 0 and not taping(ty):
        return wrap(tx._t ** float(b))
    value = quiet(np.power, a, b).astype(np.float32)
    terms = []
    if taping(tx):
        jac = quiet(lambda p, q: q * np.power(p, q - 1), a, b)
        terms.append(zero_link(tx) * _torch.from_numpy(np.where(np.isfinite(jac), jac, 0).astype(np.float32)))
    if taping(ty):
        jac = np.where(a > 0, value * quiet(np.log, np.where(a > 0, a, 1)), 0)
        terms.append(zero_link(ty) * _torch.from_numpy(np.where(np.isfinite(jac), jac, 0).astype(np.float32)))
    return plus_terms(from_array(value, F32), terms)


def _pick(op: str, x, y, larger: bool):
    from .shape_ops import where

    tx, ty = binary_operands(op, x, y)
    check_dtypes(op, tx, numeric)
    broadcast_shape(op, tx.shape, ty.shape)
    a, b = array_of(tx), array_of(ty)
    if tx._dtype is not F32:
        return from_array((np.maximum if larger else np.minimum)(a, b), tx._dtype)
    with np.errstate(invalid="ignore"):
        mask = ((a >= b) if larger else (a <= b)) | np.isnan(a)
    return where(mask, tx, ty)


@_record.op
def maximum(x, y, name=None):
    """The larger of x and y, elementwise with broadcasting (NaN if either is NaN)."""
    return _pick("Maximum", x, y, True)


@_record.op
def minimum(x, y, name=None):
    """The smaller of x and y, elementwise with broadcasting (NaN if either is NaN)."""
    return _pick("Minimum", x, y, False)


@_record.op
def squared_difference(x, y, name=None):
    """(x - y)^2 elementwise; gradients 2 g (x - y) and -2 g (x - y)."""
    d = subtract(x, y)
    return multiply(d, d)


@_record.op
def divide_no_nan(x, y, name=None):
    """x / y, and 0 where y == 0 (even when x is 0 or NaN there)."""
    from .shape_ops import where

    tx, ty = binary_operands("DivNoNan", x, y)
    check_dtypes("DivNoNan", tx, floating)
    zero = array_of(ty) == 0
    safe = where(zero, np.ones((), np.float32), ty)
    return where(zero, np.zeros((), np.float32), truediv(tx, safe))
