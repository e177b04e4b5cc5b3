"""Elementwise functions of two (or three) operands computed on the host with NumPy (_host.py): ``maximum``,
``minimum``, ``fmax``, ``fmin``, ``fmod``, ``remainder``, ``floor_divide``, ``div`` with ``rounding_mode``,
``atan2``, ``hypot``, ``logaddexp``, ``logaddexp2``, ``xlogy``, ``copysign``, ``heaviside``, ``lerp``,
``addcmul``, ``addcdiv``, ``where``; the comparisons as functions (``eq``, ``greater``...), the logical and
bitwise ops, and ``isclose``/``allclose``/``equal``.

Operands broadcast; a number operand promotes as PyTorch's scalars do (``int_tensor * 0.5`` is float32).
Division of integers by an integer 0 raises PyTorch's RuntimeError("ZeroDivisionError"). Backward rules
(g = dL/d(out), each summed back to its operand's shape):

    maximum(a, b): g to the larger, g/2 to each on ties, g to both where one is nan; minimum: the same
    fmax(a, b): g to a where a >= b or b is nan, else to b    fmin: likewise with a <= b
    fmod(a, b): g, -g trunc(a/b)                             remainder(a, b): g, -g floor(a/b)
    atan2(a, b): g b/(a^2+b^2), -g a/(a^2+b^2)              hypot(a, b): g a/out, g b/out
    logaddexp(a, b): g/(1 + e^(b-a)), g/(1 + e^(a-b))        logaddexp2: the same with 2^
    xlogy(x, y): g xlogy(x != 0, y), g x / y             copysign(a, b): g sign(a) sign(out) (0 at a = 0), 0
    lerp(s, e, w) = s + w (e - s): g (1 - w), g w, g (e - s)
    addcmul(x, t1, t2, v) = x + v t1 t2: g, g v t2, g v t1
    addcdiv(x, t1, t2, v) = x + v t1/t2: g, g v/t2, -g v t1/t2^2
    where(c, x, y): g where c, g where not c
floor_divide, heaviside and remainder(number, tensor) are not differentiable: their backward raises, as PyTorch's.
"""

from __future__ import annotations

import numpy as np

from . import _types, _versions
from ._host import as_array, check_tensor, device_of, float_array, inplace, is_number, operands, result
from .tensor import Tensor

_LN2 = np.float32(np.log(2.0))


def _int_division(x, y):
    if np.asarray(x).dtype.kind in "biu" and np.asarray(y).dtype.kind in "biu" and np.any(np.asarray(y) == 0):
        raise RuntimeError("ZeroDivisionError")


def _binary(name, a, b, forward, grad=None, floats=False, int_division=False):
    x, y, device = operands(a, b, name)
    if floats:
        x, y = float_array(x), float_array(y)
    if int_division:
        _int_division(x, y)
    with np.errstate(all="ignore"):
        out = np.asarray(forward(x, y))
    backward = None
    if grad is not None:

        def backward(g):
            with np.errstate(all="ignore"):
                return grad(g, x, y, out)

    return result(name, out, (a, b), backward, device)


def _not_implemented(name):
    def grad(*args):
        raise RuntimeError(f"derivative for aten::{name} is not implemented")

    return grad


def _extreme_grad(larger: bool):
    """PyTorch's rule: g to the chosen operand, g/2 to each on ties; nan (neither larger nor smaller) gets g."""

    def grad(g, x, y, o):
        half = np.where(x == y, g / 2, g)
        lose_x, lose_y = (x < y, x > y) if larger else (x > y, x < y)
        return np.where(lose_x, 0, half), np.where(lose_y, 0, half)

    return grad


def maximum(input, other):
    """The larger of the two, elementwise (nan if either is nan)."""
    return _binary("Maximum", input, other, np.maximum, _extreme_grad(True))


def minimum(input, other):
    """The smaller of the two, elementwise (nan if either is nan)."""
    return _binary("Minimum", input, other, np.minimum, _extreme_grad(False))


def fmax(input, other):
    """The larger of the two, a nan ignored when the other is a number."""

    def grad(g, x, y, o):
        to_x = (x >= y) | np.isnan(y)
        return g * to_x, g * ~to_x

    return _binary("Fmax", input, other, np.fmax, grad)


def fmin(input, other):
    """The smaller of the two, a nan ignored when the other is a number."""

    def grad(g, x, y, o):
        to_x = (x <= y) | np.isnan(y)
        return g * to_x, g * ~to_x

    return _binary("Fmin", input, other, np.fmin, grad)


def fmod(input, other):
    """The C remainder: a - trunc(a/b) b, with a's sign."""
    return _binary("Fmod", input, other, np.fmod, lambda g, x, y, o: (g, -g * np.trunc(x / y)), int_division=True)


def remainder(input, other):
    """Python's remainder: a - floor(a/b) b, with b's sign (the ``%`` operator)."""
    grad = (
        (lambda g, x, y, o: (g, -g * np.floor(x / y))) if isinstance(input, Tensor) else _not_implemented("remainder")
    )
    return _binary("Remainder", input, other, np.remainder, grad, int_division=True)


def floor_divide(input, other):
    """floor(a / b) (the ``//`` operator); integers stay integers."""
    return _binary("FloorDivide", input, other, np.floor_divide, _not_implemented("floor_divide"), int_division=True)


def div(input, other, *, rounding_mode=None):
    """a / b; ``rounding_mode`` 'trunc' rounds toward zero, 'floor' down (integers then stay integers)."""
    if rounding_mode is None:
        return input / other if isinstance(input, Tensor) else other.__rtruediv__(input)
    if rounding_mode == "floor":
        return floor_divide(input, other)
    if rounding_mode != "trunc":
        raise RuntimeError(
            f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{rounding_mode}'"
        )

    def forward(x, y):
        if np.asarray(x).dtype.kind in "biu" and np.asarray(y).dtype.kind in "biu":
            q = np.floor_divide(x, y)
            return q + ((q < 0) & (q * y != x))
        return np.trunc(np.true_divide(x, y))

    return _binary("DivTrunc", input, other, forward, lambda g, x, y, o: (g * 0, g * 0), int_division=True)


def atan2(input, other):
    """The angle of the point (other, input): arctan(input / other) in the right quadrant."""
    return _binary(
        "Atan2",
        input,
        other,
        np.arctan2,
        lambda g, x, y, o: (g * y / (x * x + y * y), -g * x / (x * x + y * y)),
        floats=True,
    )


def hypot(input, other):
    """sqrt(a^2 + b^2) without overflow."""
    return _binary("Hypot", input, other, np.hypot, lambda g, x, y, o: (g * x / o, g * y / o), floats=True)


def logaddexp(input, other):
    """log(e^a + e^b), computed without overflow."""
    return _binary(
        "Logaddexp",
        input,
        other,
        np.logaddexp,
        lambda g, x, y, o: (g / (1 + np.exp(y - x)), g / (1 + np.exp(x - y))),
        floats=True,
    )


def logaddexp2(input, other):
    """log2(2^a + 2^b)."""
    return _binary(
        "Logaddexp2",
        input,
        other,
        np.logaddexp2,
        lambda g, x, y, o: (g / (1 + np.exp2(y - x)), g / (1 + np.exp2(x - y))),
        floats=True,
    )


def _xlogy(x, y):
    return np.where((x == 0) & ~np.isnan(y), 0, x * np.log(y))


def xlogy(input, other):
    """x log y, 0 where x is 0 (unless y is nan)."""
    return _binary("Xlogy", input, other, _xlogy, lambda g, x, y, o: (g * _xlogy(x != 0, y), g * x / y), floats=True)


def copysign(input, other):
    """|a| with the sign of b (-0.0 counts as negative)."""

    def grad(g, x, y, o):
        return np.where(x == 0, 0, g * o / x), np.zeros_like(g)

    return _binary("Copysign", input, other, np.copysign, grad, floats=True)


def heaviside(input, values):
    """0 where x < 0, 1 where x > 0, ``values`` where x == 0."""
    check_tensor(values, "heaviside", "values")
    if input.dtype is not values.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes")
    return _binary(
        "Heaviside",
        input,
        values,
        lambda x, y: np.heaviside(x, y).astype(np.result_type(x, y)),
        _not_implemented("heaviside"),
    )


def lerp(input, end, weight):
    """input + weight (end - input), weight a number or a tensor (computed from the nearer end, as PyTorch)."""
    check_tensor(input, "lerp")
    check_tensor(end, "lerp", "end")
    if input.dtype is not end.dtype:
        raise RuntimeError(f"expected dtype {input.dtype} for `end` but got dtype {end.dtype}")
    s, e, w = input._np(), end._np(), as_array(weight)
    with np.errstate(all="ignore"):
        out = np.where(np.abs(w) < 0.5, s + w * (e - s), e - (e - s) * (1 - np.asarray(w, np.float32)))
    parents = (input, end, weight) if isinstance(weight, Tensor) else (input, end)

    def backward(g):
        grads = [g * (1 - w), g * w]
        return [*grads, g * (e - s)] if isinstance(weight, Tensor) else grads

    return result("Lerp", out.astype(np.float32), parents, backward, device_of(*parents))


def _addc(name, input, tensor1, tensor2, value, divide):
    for x, arg in ((input, "input"), (tensor1, "tensor1"), (tensor2, "tensor2")):
        check_tensor(x, name, arg)
    if divide and tensor1._c is None and tensor2._c is None:
        raise RuntimeError(
            "Integer division with addcdiv is no longer supported, and in a future release addcdiv will perform a "
            "true division of tensor1 and tensor2."
        )
    x, t1, t2 = input._np(), tensor1._np(), tensor2._np()
    with np.errstate(all="ignore"):
        out = x + value * (t1 / t2 if divide else t1 * t2)

    def backward(g):
        if divide:
            return g, g * value / t2, -g * value * t1 / (t2 * t2)
        return g, g * value * t2, g * value * t1

    parents = (input, tensor1, tensor2)
    return result(name, out, parents, backward, device_of(*parents))


def addcmul(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 * tensor2."""
    return _addc("Addcmul", input, tensor1, tensor2, value, divide=False)


def addcdiv(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 / tensor2 (Adam's update is one)."""
    return _addc("Addcdiv", input, tensor1, tensor2, value, divide=True)


def where(condition, input=None, other=None):
    """``input`` where ``condition`` holds, else ``other`` (tensors or numbers, broadcast); ``where(c)`` is
    ``nonzero(c, as_tuple=True)``."""
    check_tensor(condition, "where", "condition")
    if input is None and other is None:
        return tuple(result("Nonzero", i.astype(np.int64), (condition,)) for i in np.nonzero(condition._np()))
    if condition.dtype is not _types.bool:
        raise RuntimeError(
            "where expected condition to be a boolean tensor, but got a tensor with dtype "
            f"{_versions.scalar_name(condition.dtype)}"
        )
    for v, arg in ((input, "input"), (other, "other")):
        if not isinstance(v, Tensor) and not is_number(v):
            raise TypeError(f"where(): argument '{arg}' must be Tensor or Number, not {type(v).__name__}")
    c, x, y = condition._np(), as_array(input), as_array(other)
    dtype = np.result_type(x, y)
    out = np.where(c, x, y).astype(np.float32 if dtype.kind == "f" else dtype)
    parents = (condition, input, other)
    return result("Where", out, parents, lambda g: (None, g * c, g * ~c), device_of(*parents))


# ---------------------------------------------------------------- comparisons, logical and bitwise ops
def _comparison(dunder, name):
    def op(input, other):
        check_tensor(input, name)
        out = getattr(input, dunder)(other)
        if out is NotImplemented:
            raise TypeError(f"{name}(): argument 'other' must be Tensor or Number, not {type(other).__name__}")
        return out

    op.__name__ = name
    return op


eq = _comparison("__eq__", "eq")
ne = _comparison("__ne__", "ne")
lt = _comparison("__lt__", "lt")
le = _comparison("__le__", "le")
gt = _comparison("__gt__", "gt")
ge = _comparison("__ge__", "ge")
COMPARISONS = {
    "eq": eq,
    "ne": ne,
    "lt": lt,
    "le": le,
    "gt": gt,
    "ge": ge,
    "not_equal": ne,
    "greater": gt,
    "greater_equal": ge,
    "less": lt,
    "less_equal": le,
}


def _logical(np_fn, name):
    def op(input, other):
        x, y, device = operands(input, other, name)
        return result(name, np_fn(x, y), (), device=device)

    op.__name__ = name
    return op


logical_and = _logical(np.logical_and, "logical_and")
logical_or = _logical(np.logical_or, "logical_or")
logical_xor = _logical(np.logical_xor, "logical_xor")


def logical_not(input):
    check_tensor(input, "logical_not")
    return result("logical_not", np.logical_not(input._np()), (input,))


def _bitwise(np_fn, name):
    def op(input, other=None):
        x, y, device = (input._np(), None, input.device) if other is None else operands(input, other, name)
        for v in (x, y):
            if np.asarray(v).dtype.kind == "f":
                raise RuntimeError(f"\"{name}_cpu\" not implemented for 'Float'")
        return result(name, np_fn(x) if other is None else np_fn(x, y), (), device=device)

    op.__name__ = name
    return op


bitwise_and = _bitwise(np.bitwise_and, "bitwise_and")
bitwise_or = _bitwise(np.bitwise_or, "bitwise_or")
bitwise_xor = _bitwise(np.bitwise_xor, "bitwise_xor")
bitwise_not = _bitwise(np.invert, "bitwise_not")


def isclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False):
    """|input - other| <= atol + rtol |other|, elementwise (bool)."""
    check_tensor(input, "isclose")
    check_tensor(other, "isclose", "other")
    if input.dtype is not other.dtype:
        raise RuntimeError(f"{_versions.scalar_name(input.dtype)} did not match {_versions.scalar_name(other.dtype)}")
    x, y = input._np(), other._np()
    with np.errstate(all="ignore"):
        close = np.isclose(x, y, rtol=rtol, atol=atol, equal_nan=equal_nan) if x.dtype.kind == "f" else x == y
    return result("isclose", close, (), device=device_of(input, other))


def allclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    """Whether every element of input is close to other's (``isclose``)."""
    return bool(isclose(input, other, rtol, atol, equal_nan)._np().all())


def equal(input, other) -> bool:
    """True when both have the same shape and the same values."""
    check_tensor(input, "equal")
    check_tensor(other, "equal", "other")
    device_of(input, other)
    return tuple(input.shape) == tuple(other.shape) and bool(np.array_equal(input._np(), other._np()))


FUNCTIONS = {
    "maximum": maximum,
    "minimum": minimum,
    "fmax": fmax,
    "fmin": fmin,
    "fmod": fmod,
    "remainder": remainder,
    "floor_divide": floor_divide,
    "atan2": atan2,
    "arctan2": atan2,
    "hypot": hypot,
    "logaddexp": logaddexp,
    "logaddexp2": logaddexp2,
    "xlogy": xlogy,
    "copysign": copysign,
    "heaviside": heaviside,
    "lerp": lerp,
    "addcmul": addcmul,
    "addcdiv": addcdiv,
    "logical_and": logical_and,
    "logical_or": logical_or,
    "logical_xor": logical_xor,
    "logical_not": logical_not,
    "bitwise_and": bitwise_and,
    "bitwise_or": bitwise_or,
    "bitwise_xor": bitwise_xor,
    "bitwise_not": bitwise_not,
    **COMPARISONS,
}
_NOT_INPLACE = {"maximum", "minimum", "fmax", "fmin", "logaddexp", "logaddexp2"}
INPLACE = {
    name + "_": inplace(fn) for name, fn in FUNCTIONS.items() if name not in _NOT_INPLACE and name not in COMPARISONS
}
INPLACE.update({name + "_": inplace(fn, cast=True) for name, fn in COMPARISONS.items()})
