"""Comparisons (``equal``, ``less``...), logical ops (``logical_and``...) and the ``&``, ``|``, ``^``, ``~`` and
``==``/``!=`` operators of tensors.

Comparisons broadcast and give bool tensors; their operands follow the binary ops' dtype rule (``math_ops``). For
float32 tensors they read denormal values as bnlab's engine does (as zero while it flushes denormals, its default
and TensorFlow's on the CPU). The logical ops take bool tensors only (InvalidArgumentError otherwise, as
TensorFlow); ``&``, ``|``, ``^``, ``~`` are logical on bool tensors and bitwise on integer ones. ``t == other`` is
elementwise (TensorFlow 2), False against None, and a scalar False (True for ``!=``) when the shapes do not
broadcast. None of these ops has a gradient.
"""

from __future__ import annotations

import operator

import numpy as np

from . import _record
from . import dtypes as _dt
from ._base import F32, binary_operands, broadcast_shape, check_dtypes, numeric
from ._base import tensor as _tensor
from .errors import invalid
from .tensor import array_of, from_array, wrap
from .variables import as_tensor_like

__all__ = [
    "equal",
    "greater",
    "greater_equal",
    "less",
    "less_equal",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "not_equal",
]


_OPERATOR = {"less": "lt", "less_equal": "le", "greater": "gt", "greater_equal": "ge", "equal": "eq", "not_equal": "ne"}


def _compare(op: str, x, y, np_fn, allowed=numeric):
    tx, ty = binary_operands(op, x, y)
    check_dtypes(op, tx, allowed)
    broadcast_shape(op, tx.shape, ty.shape)
    if tx._dtype is F32:  # bnlab.torch's comparison reads denormals as the engine does (flushed or not)
        return wrap(getattr(operator, _OPERATOR[np_fn])(tx._t, ty._t))
    return from_array(getattr(np, np_fn)(array_of(tx), array_of(ty)), _dt.bool)


@_record.op
def equal(x, y, name=None):
    """x == y elementwise (a bool tensor)."""
    return _compare("Equal", x, y, "equal", lambda d: True)


@_record.op
def not_equal(x, y, name=None):
    """x != y elementwise (a bool tensor)."""
    return _compare("NotEqual", x, y, "not_equal", lambda d: True)


@_record.op
def less(x, y, name=None):
    return _compare("Less", x, y, "less")


@_record.op
def less_equal(x, y, name=None):
    return _compare("LessEqual", x, y, "less_equal")


@_record.op
def greater(x, y, name=None):
    return _compare("Greater", x, y, "greater")


@_record.op
def greater_equal(x, y, name=None):
    return _compare("GreaterEqual", x, y, "greater_equal")


def _equality(self, other, negate: bool):
    """``==`` / ``!=`` of tensors (TensorFlow 2: elementwise; False against None; a scalar False or True for
    shapes that do not broadcast)."""
    if other is None:
        return negate
    try:
        tx, ty = binary_operands("NotEqual" if negate else "Equal", self, other)
    except (TypeError, ValueError) as exc:
        if as_tensor_like(other) is not None:
            raise
        del exc
        return NotImplemented
    try:
        np.broadcast_shapes(tuple(tx.shape), tuple(ty.shape))
    except ValueError:
        return from_array(np.array(negate), _dt.bool)
    return (not_equal if negate else equal)(tx, ty)


def tensor_equals(self, other):
    return _equality(self, other, False)


def tensor_not_equals(self, other):
    return _equality(self, other, True)


# ---------------------------------------------------------------------------------------------------- logical
def _bool_op(op: str, np_fn, *xs):
    ts = [as_tensor_like(v) for v in xs]  # the inputs are bool: plain values convert to bool
    ts = [t if t is not None else _tensor(v, _dt.bool) for t, v in zip(ts, xs, strict=True)]
    for i, t in enumerate(ts):
        if not t._dtype.is_bool:
            raise invalid(
                f"cannot compute {op} as input #{i}(zero-based) was expected to be a bool tensor but is a "
                f"{t._dtype.kernel_name} tensor",
                op,
            )
    if len(ts) == 2:
        broadcast_shape(op, ts[0].shape, ts[1].shape)
    return from_array(np_fn(*[array_of(t) for t in ts]), _dt.bool)


@_record.op
def logical_and(x, y, name=None):
    return _bool_op("LogicalAnd", np.logical_and, x, y)


@_record.op
def logical_or(x, y, name=None):
    return _bool_op("LogicalOr", np.logical_or, x, y)


@_record.op
def logical_xor(x, y, name="LogicalXor"):
    return _bool_op("LogicalXor", np.logical_xor, x, y)


@_record.op
def logical_not(x, name=None):
    return _bool_op("LogicalNot", np.logical_not, x)


def _bitwise(op: str, logical, np_fn, x, y=None):
    """``&``, ``|``, ``^``, ``~``: logical for bool tensors, bitwise for integer ones (TensorFlow's operators)."""
    t = as_tensor_like(x)
    t = t if t is not None else as_tensor_like(y)
    if t is not None and t._dtype.is_bool:
        return logical(x) if y is None else logical(x, y)
    ts = [_tensor(x)] if y is None else list(binary_operands(op, x, y))
    check_dtypes(op, ts[0], lambda d: d.is_integer)
    return from_array(np_fn(*[array_of(v) for v in ts]), ts[0]._dtype)


@_record.op
def and_(x, y):
    return _bitwise("BitwiseAnd", logical_and, np.bitwise_and, x, y)


@_record.op
def or_(x, y):
    return _bitwise("BitwiseOr", logical_or, np.bitwise_or, x, y)


@_record.op
def xor_(x, y):
    return _bitwise("BitwiseXor", logical_xor, np.bitwise_xor, x, y)


@_record.op
def invert_(x):
    return _bitwise("Invert", logical_not, np.invert, x)
