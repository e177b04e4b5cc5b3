"""Tensor arithmetic with broadcasting and autograd: ``+ - * / ** @``, ``exp``, ``log``, ``sum``, ``mean``...

Float32 tensors compute in the engine (``_core.tensor_ops``: broadcast binary ops, unary ops with a scalar,
sums over axes; ``_core.ops.dense_*`` for matmul), forward and backward. Integer and bool tensors (labels,
masks, counts such as ``(predicted == labels).sum().item()``) compute with NumPy; a float operand turns the
result into float32, as PyTorch's type promotion does. Comparisons return bool tensors.

Backward rules (g = dL/d(out); ``sum_to`` sums a broadcast gradient back to an input's shape):
    a + b: g, g            a - b: g, -g             a * b: g*b, g*a         a / b: g/b, -g*out/b
    -a: -g                 exp a: g*out             log a: g/a              sqrt a: g/(2 out)
    |a|: g*sign(a)         a^s: g*s*a^(s-1)         s / a: -g*out/a
    sum: g broadcast back  mean: g/n broadcast back
    a @ b: g @ b^T, a^T @ g
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import _core
from . import _shape, autograd
from ._names import numpy_aliases
from .autograd import record
from .tensor import Tensor, check_same_device, common_device, host, wrap

_T = _core.tensor_ops
_B = _T.BinaryOp
_U = _T.UnaryOp
_OPS = _core.ops

_NUMPY = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.true_divide}


def _new():
    return _core.Tensor()


def sum_to(g, shape):
    """The gradient ``g`` (a ``_core.Tensor``) summed down to ``shape`` (g itself when it already fits)."""
    if tuple(g.shape) == shape:
        return g
    out = _new()
    _T.sum_to(out, g, list(shape))
    return out


def _unary_core(a, op, s=0.0):
    out = _new()
    _T.unary(out, a, op, s)
    return out


def _binary_core(a, b, op):
    out = _new()
    _T.binary(out, a, b, op)
    return out


def as_float(t: Tensor) -> Tensor:
    """``t`` as a float32 tensor (host tensors are converted; they never require grad)."""
    return t if t._c is not None else host(t._a.astype(np.float32), t.device)


def _is_number(x) -> bool:
    return isinstance(x, numbers.Number) and not isinstance(x, complex)


def _is_bool(x) -> bool:
    """A Python/NumPy bool or a bool tensor (PyTorch refuses them in subtraction)."""
    if isinstance(x, Tensor):
        return x._c is None and x._a.dtype == np.bool_
    return isinstance(x, (bool, np.bool_)) or (isinstance(x, np.ndarray) and x.dtype == np.bool_)


def host_result(array, device) -> Tensor:
    """A NumPy result as a tensor: floats become float32 (engine), the rest stay host data."""
    return host(np.asarray(array), device)


# ---------------------------------------------------------------- binary arithmetic
def arith(name: str, a, b):
    """``a <name> b`` for Add, Sub, Mul, Div where at least one operand is a Tensor; NotImplemented for
    operands of other types."""
    ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
    if name == "Sub" and any(_is_bool(v) for v in (a, b)):
        raise RuntimeError(
            "Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to invert a "
            "mask, use the `~` or `logical_not()` operator instead."
        )
    if ta and tb:
        device = common_device(a, b)
        if a._c is None and b._c is None:
            return host_result(_NUMPY[name](a._a, b._a), device)
        a, b = as_float(a), as_float(b)
        if a.device != device:  # a 0-dim CPU tensor joins the other operand's device (differentiably)
            a = _shape.to_device(a, device)
        if b.device != device:
            b = _shape.to_device(b, device)
        return _tensor_tensor(name, a, b)
    t = a if ta else b
    other = b if ta else a
    if isinstance(other, np.ndarray):
        other = host(other, t.device)
        return arith(name, a if ta else other, other if ta else b)
    if not _is_number(other):
        return NotImplemented
    if t._c is None:
        return host_result(_NUMPY[name](t._a, other) if ta else _NUMPY[name](other, t._a), t.device)
    return _tensor_scalar(name, t, float(other), reverse=not ta)


def _tensor_tensor(name: str, a: Tensor, b: Tensor) -> Tensor:
    check_same_device(a, b)
    ac, bc = a._c, b._c
    out = wrap(_binary_core(ac, bc, getattr(_B, name)), a.device)
    if not autograd._GradMode.enabled or not (a._rg or b._rg):
        return out
    sa, sb = tuple(ac.shape), tuple(bc.shape)
    oc = out._c

    def backward(g):
        ga = gb = None
        if name == "Add" or name == "Sub":
            ga = sum_to(g, sa) if a._rg else None
            if b._rg:
                gb = sum_to(g, sb)
                if name == "Sub":
                    gb = _unary_core(gb, _U.Neg)
                elif gb is g and ga is g:
                    gb = g.to(g.device)  # one receiver per gradient: give b its own copy
        elif name == "Mul":
            ga = sum_to(_binary_core(g, bc, _B.Mul), sa) if a._rg else None
            gb = sum_to(_binary_core(g, ac, _B.Mul), sb) if b._rg else None
        else:  # Div: d(a/b)/da = 1/b, d(a/b)/db = -a/b^2 = -out/b
            ga = sum_to(_binary_core(g, bc, _B.Div), sa) if a._rg else None
            if b._rg:
                t = _binary_core(g, oc, _B.Mul)
                _T.binary(t, t, bc, _B.Div)
                gb = _unary_core(sum_to(t, sb), _U.Neg)
        return ga, gb

    if name == "Mul":  # g * b for a, g * a for b: each is read when the other needs its gradient
        reads = (b._rg, a._rg)
    elif name == "Div":  # g / b for a, -g * out / b for b
        reads = (False, True)
    else:
        reads = (False, False)
    record(name, out, (a, b), backward, reads=reads, reads_output=name == "Div" and b._rg)
    return out


def _tensor_scalar(name: str, t: Tensor, s: float, reverse: bool) -> Tensor:
    if name == "Add":
        op, s2, grad_name = _U.AddScalar, s, "Add"
    elif name == "Sub":
        op, s2, grad_name = (_U.RSubScalar, s, "Rsub") if reverse else (_U.AddScalar, -s, "Sub")
    elif name == "Mul":
        op, s2, grad_name = _U.MulScalar, s, "Mul"
    else:
        op, s2, grad_name = (_U.RDivScalar, s, "Div") if reverse else (_U.DivScalar, s, "Div")
    tc = t._c
    out = wrap(_unary_core(tc, op, s2), t.device)
    if not autograd._GradMode.enabled or not t._rg:
        return out
    oc = out._c

    def backward(g):
        if op == _U.AddScalar:
            return (g,)
        if op == _U.RSubScalar:
            return (_unary_core(g, _U.Neg),)
        if op == _U.MulScalar:
            return (_unary_core(g, _U.MulScalar, s2),)
        if op == _U.DivScalar:
            return (_unary_core(g, _U.DivScalar, s2),)
        d = _binary_core(g, oc, _B.Mul)  # s / t: d/dt = -s/t^2 = -out/t
        _T.binary(d, d, tc, _B.Div)
        _T.unary(d, d, _U.Neg)
        return (d,)

    reverse_div = op == _U.RDivScalar  # s / t reads t and its output; the other scalar ops read nothing
    record(grad_name, out, (t,), backward, reads=(reverse_div,), reads_output=reverse_div)
    return out


# ---------------------------------------------------------------- unary functions
def _unary(name: str, t: Tensor, op, np_fn, grad=None) -> Tensor:
    """``op`` applied to t in the engine (float32) or with ``np_fn`` (integer and bool tensors); ``grad(g, x,
    out)`` gives dL/dx from the engine tensors g, x and out (the rules of Neg, Exp, Log, Sqrt, Abs are here)."""
    if t._c is None:
        return host_result(np_fn(t._a), t.device)
    tc = t._c
    out = wrap(_unary_core(tc, op), t.device)
    if not autograd._GradMode.enabled or not t._rg:
        return out
    oc = out._c

    def backward(g):
        if grad is not None:
            return (grad(g, tc, oc),)
        if op == _U.Neg:
            return (_unary_core(g, _U.Neg),)
        if op == _U.Exp:
            return (_binary_core(g, oc, _B.Mul),)
        if op == _U.Log:
            return (_binary_core(g, tc, _B.Div),)
        if op == _U.Sqrt:
            d = _binary_core(g, oc, _B.Div)
            _T.unary(d, d, _U.MulScalar, 0.5)
            return (d,)
        return (_binary_core(g, _unary_core(tc, _U.Sign), _B.Mul),)  # Abs

    record(name, out, (t,), backward)
    return out


def neg(t):
    return _unary("Neg", t, _U.Neg, np.negative)


def exp(t):
    return _unary("Exp", t, _U.Exp, lambda a: np.exp(a.astype(np.float32)))


def log(t):
    return _unary("Log", t, _U.Log, lambda a: np.log(a.astype(np.float32)))


def sqrt(t):
    return _unary("Sqrt", t, _U.Sqrt, lambda a: np.sqrt(a.astype(np.float32)))


def abs(t):
    return _unary("Abs", t, _U.Abs, np.abs)


def pow(t, exponent):
    """``t ** exponent`` for a number exponent (d/dt = exponent * t^(exponent-1))."""
    if isinstance(exponent, Tensor):
        if exponent.dim() != 0:
            raise TypeError("bnlab.torch supports pow() with a number (or one-element) exponent only")
        exponent = exponent.item()
    if not _is_number(exponent):
        return NotImplemented
    if t._c is None:
        return host_result(np.power(t._a, exponent), t.device)
    s = float(exponent)
    tc = t._c
    out = wrap(_unary_core(tc, _U.PowScalar, s), t.device)
    if autograd._GradMode.enabled and t._rg:

        def backward(g):
            d = _unary_core(tc, _U.PowScalar, s - 1.0)
            _T.unary(d, d, _U.MulScalar, s)
            _T.binary(d, d, g, _B.Mul)
            return (d,)

        record("Pow", out, (t,), backward)
    return out


def rpow(t, base):
    """``base ** t`` for a number base: exp(t * ln(base))."""
    if not _is_number(base):
        return NotImplemented
    return exp(arith("Mul", t, float(np.log(base))))


# ---------------------------------------------------------------- reductions
def reduced_shapes(shape: tuple, dim, keepdim: bool):
    """(shape with the reduced dims kept as 1, the result's shape, the number of values reduced)."""
    n = len(shape)
    if dim is None:
        dims = set(range(n))
    else:
        dims = {d % n if n else 0 for d in ((dim,) if isinstance(dim, int) else tuple(dim))}
        for d in (dim,) if isinstance(dim, int) else tuple(dim):
            if not -max(n, 1) <= d < max(n, 1):
                raise IndexError(
                    f"Dimension out of range (expected to be in range of [{-max(n, 1)}, {max(n, 1) - 1}], but got {d})"
                )
    kd = tuple(1 if i in dims else s for i, s in enumerate(shape))
    out = kd if keepdim else tuple(s for i, s in enumerate(shape) if i not in dims)
    count = 1
    for i in dims:
        if i < n:
            count *= shape[i]
    return kd, out, count


@numpy_aliases
def sum(t, dim=None, keepdim: bool = False, dtype=None):
    """Sum over all elements or over ``dim`` (an int or a tuple); backward broadcasts g back."""
    if dtype is not None and dtype is not t.dtype:
        t = t.to(dtype)
    if t._c is None:
        axis = dim if dim is None or isinstance(dim, int) else tuple(dim)
        arr = t._a.astype(np.int64) if t._a.dtype.kind in "biu" else t._a
        return host_result(np.sum(arr, axis=axis, keepdims=keepdim), t.device)
    return _sum_float(t, dim, keepdim, mean=False)


@numpy_aliases
def mean(t, dim=None, keepdim: bool = False, dtype=None):
    """Mean over all elements or over ``dim``: the sum divided by the number of values."""
    if dtype is not None and dtype is not t.dtype:
        t = t.to(dtype)
    if t._c is None:
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point or complex "
            "dtype. "
            f"Got: {_types_name(t)}"
        )
    return _sum_float(t, dim, keepdim, mean=True)


def _types_name(t) -> str:
    return {"int64": "Long", "int32": "Int", "uint8": "Byte", "bool": "Bool"}.get(t.dtype.name, t.dtype.name)


def _sum_float(t: Tensor, dim, keepdim: bool, mean: bool) -> Tensor:
    tc = t._c
    shape = tuple(tc.shape)
    kd, out_shape, count = reduced_shapes(shape, dim, keepdim)
    oc = _new()
    _T.sum_to(oc, tc, list(kd))
    if mean:
        _T.unary(oc, oc, _U.DivScalar, float(count))
    if out_shape != kd:
        oc = _T.view(oc, list(out_shape))
    out = wrap(oc, t.device)
    if autograd._GradMode.enabled and t._rg:

        def backward(g):
            d = _new()
            _T.expand(d, _T.view(g, list(kd)), list(shape))
            if mean:
                _T.unary(d, d, _U.DivScalar, float(count))
            return (d,)

        record("Mean" if mean else "Sum", out, (t,), backward)
    return out


@numpy_aliases
def var(t, dim=None, unbiased: bool | None = None, keepdim: bool = False, *, correction=None):
    """Variance: sum((t - mean)^2) / (n - correction); correction 1 (unbiased, the default) or 0 (biased).
    BatchNorm normalizes with the biased variance and tracks the unbiased one in ``running_var``."""
    if unbiased is not None and correction is not None:
        raise TypeError("var(): pass unbiased or correction, not both")
    corr = correction if correction is not None else (0 if unbiased is False else 1)
    t = as_float(t)
    _, _, count = reduced_shapes(tuple(t.shape), dim, keepdim)
    d = arith("Sub", t, mean(t, dim, keepdim=True))
    return arith("Div", sum(arith("Mul", d, d), dim, keepdim), float(max(count - corr, 0)))


@numpy_aliases
def std(t, dim=None, unbiased: bool | None = None, keepdim: bool = False, *, correction=None):
    """Standard deviation: sqrt of ``var`` (same arguments)."""
    return sqrt(var(t, dim, unbiased, keepdim, correction=correction))


# ---------------------------------------------------------------- matmul
def matmul(a: Tensor, b: Tensor) -> Tensor:
    """Matrix product of 1-D and 2-D float tensors; d/da = g @ b^T, d/db = a^T @ g (the dense op pair)."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        return NotImplemented
    check_same_device(a, b)
    a, b = as_float(a), as_float(b)
    da, db = a.dim(), b.dim()
    if not (1 <= da <= 2 and 1 <= db <= 2):
        raise RuntimeError(f"bnlab.torch matmul supports 1-D and 2-D tensors, got {da}-D and {db}-D")
    a2 = a if da == 2 else a.view(1, -1)
    b2 = b if db == 2 else b.view(-1, 1)
    if a2.shape[1] != b2.shape[0]:
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({a2.shape[0]}x{a2.shape[1]} and {b2.shape[0]}x{b2.shape[1]})"
        )
    ac, bc = a2._c, b2._c
    oc = _new()
    _OPS.dense_forward(oc, ac, bc, None, False)
    out = wrap(oc, a.device)
    if autograd._GradMode.enabled and (a2._rg or b2._rg):

        def backward(g):
            dinp = _new() if a2._rg else None
            dweight = _T.empty(list(bc.shape), bc.device)
            _OPS.dense_backward(dinp, dweight, None, g, ac, bc, False, False)
            return dinp, dweight if b2._rg else None

        record("Mm", out, (a2, b2), backward)
    if da == 1 or db == 1:
        out = out.view([s for s, keep in zip(out.shape, (da == 2, db == 2), strict=True) if keep])
    return out


def _host_only(name, np_fn):
    def op(a, b):
        if (isinstance(a, Tensor) and a._rg) or (isinstance(b, Tensor) and b._rg):
            raise RuntimeError(f"{name} is not differentiable in bnlab.torch")
        x = a._np() if isinstance(a, Tensor) else a
        y = b._np() if isinstance(b, Tensor) else b
        if isinstance(a, Tensor) and isinstance(b, Tensor):
            device = common_device(a, b)
        else:
            device = a.device if isinstance(a, Tensor) else b.device
        return host_result(np_fn(x, y), device)

    return op


floor_divide = _host_only("floor_divide", np.floor_divide)
remainder = _host_only("remainder", np.remainder)
