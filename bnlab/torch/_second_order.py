"""The differentiable backward rules of the arithmetic, elementwise and shape ops (for ``create_graph=True``;
the machinery is in ``_double_backward``).

Rules (g = dL/d(out) as a Tensor; ``sum_to`` sums a broadcast gradient back, differentiably):
    a + b: g, g           a - b: g, -g          a * b: g b, g a        a / b: g / b, -(g (a / b)) / b
    a + s, a - s: g       s - a: -g             a * s: g s             a / s: g / s      s / a: -(g (s / a)) / a
    -a: -g                exp a: g exp a        log a: g / a           sqrt a: (g / sqrt a) / 2
    |a|: g sign(a)        a^s: a^(s-1) s g      sin a: g cos a         cos a: -(g sin a)    tan a: g (tan^2 a + 1)
    sinh a: g cosh a      cosh a: g sinh a      log2 a: g / (a ln 2)   log10 a: g / (a ln 10)
    log1p a: g / (a + 1)  expm1 a: g (expm1 a + 1)                     floor, ceil, trunc, round: g * 0
    sum: g broadcast back (mean: / n)           a @ b (2-D): g @ b^T, a^T @ g
    view: g viewed back   permute: g permuted back     a[k]: g scattered into zeros at k (``index_backward``,
    whose own rule is g[k])  cat: slices of g   max/min: g at the extreme (shared evenly on ties without dim)
    to, clone: g (moved back to the source device)
Each product is written in the order the engine's closure computes it, so the first derivative it gives
matches the ordinary backward's to a rounding or two. The ops a rule uses all have rules, so any order of
derivative works. s / a and a / b recompute the quotient from the inputs (the closures read the output).
"""

from __future__ import annotations

import math

import numpy as np

from .. import _core
from . import _elementwise, _function, _math, _shape, autograd
from ._double_backward import constant, expand, rule, scaled, sum_to, unsupported
from .tensor import Tensor, host, wrap

_T = _core.tensor_ops
_U = _T.UnaryOp


@rule(_math, "_tensor_tensor.<locals>.backward")
def _binary(node, g, c):
    a, b = node.parents
    name = c["name"]
    ga = gb = None
    if name == "Add" or name == "Sub":
        ga = sum_to(g, a.shape) if a._rg else None
        if b._rg:
            gb = sum_to(g, b.shape)
            gb = -gb if name == "Sub" else gb
    elif name == "Mul":
        ga = sum_to(g * b, a.shape) if a._rg else None
        gb = sum_to(g * a, b.shape) if b._rg else None
    else:
        ga = sum_to(g / b, a.shape) if a._rg else None
        gb = -sum_to(g * (a / b) / b, b.shape) if b._rg else None
    return ga, gb


@rule(_math, "_tensor_scalar.<locals>.backward")
def _scalar(node, g, c):
    op, s = c["op"], c["s2"]
    if op == _U.AddScalar:
        return (g,)
    if op == _U.RSubScalar:
        return (-g,)
    if op == _U.MulScalar:
        return (g * s,)
    if op == _U.DivScalar:
        return (g / s,)
    (t,) = node.parents
    return (-(g * (s / t) / t),)


def _sign(x: Tensor) -> Tensor:
    c = _core.Tensor()
    _T.unary(c, x._c, _U.Sign, 0.0)
    return wrap(c, x.device)


_UNARY = {
    "Neg": lambda g, x: -g,
    "Exp": lambda g, x: g * _math.exp(x),
    "Log": lambda g, x: g / x,
    "Sqrt": lambda g, x: g / _math.sqrt(x) * 0.5,
    "Abs": lambda g, x: scaled(g, _sign(x), x),
    "Sin": lambda g, x: g * _elementwise.cos(x),
    "Cos": lambda g, x: -(g * _elementwise.sin(x)),
    "Tan": lambda g, x: g * (_math.pow(_elementwise.tan(x), 2.0) + 1.0),
    "Sinh": lambda g, x: g * _elementwise.cosh(x),
    "Cosh": lambda g, x: g * _elementwise.sinh(x),
    "Log2": lambda g, x: g / (x * math.log(2.0)),
    "Log10": lambda g, x: g / (x * math.log(10.0)),
    "Log1p": lambda g, x: g / (x + 1.0),
    "Expm1": lambda g, x: g * (_elementwise.expm1(x) + 1.0),
}
for _name in ("Floor", "Ceil", "Trunc", "Round"):
    _UNARY[_name] = lambda g, x: g * 0.0


@rule(_math, "_unary.<locals>.backward")
def _unary(node, g, c):
    fn = _UNARY.get(node.name)
    if fn is None:
        raise unsupported(node)
    return (fn(g, node.parents[0]),)


@rule(_math, "pow.<locals>.backward")
def _pow(node, g, c):
    s = c["s"]
    return (_math.pow(node.parents[0], s - 1.0) * s * g,)


@rule(_math, "_sum_float.<locals>.backward")
def _sum(node, g, c):
    d = expand(g.view(c["kd"]), c["shape"])
    return (d / float(c["count"]) if c["mean"] else d,)


@rule(_math, "matmul.<locals>.backward")
def _mm(node, g, c):
    a, b = node.parents
    return (
        _math.matmul(g, _shape.t_(b)) if a._rg else None,
        _math.matmul(_shape.t_(a), g) if b._rg else None,
    )


@rule(_shape, "view.<locals>.<lambda>")
def _view(node, g, c):
    return (g.view(c["old"]),)


@rule(_shape, "permute.<locals>.<lambda>")
def _permute(node, g, c):
    return (_shape.permute(g, [int(d) for d in c["inverse"]]),)


def index_backward(g: Tensor, key, shape) -> Tensor:
    """zeros(shape) with g added at ``key`` (the gradient of ``t[key]``), taped: its backward is ``gg[key]``."""
    full = np.zeros(tuple(shape), dtype=np.float32)
    np.add.at(full, key, g._np())
    out = host(full, g.device)
    if autograd._GradMode.enabled and g._rg:

        def backward(gg):
            picked = np.ascontiguousarray(gg.numpy()[key], dtype=np.float32)
            c = _core.Tensor.from_numpy(picked)
            return (c if g.device.type == "cpu" else c.to(g.device.core),)

        autograd.record("IndexBackward", out, (g,), backward, reads=(False,), reads_output=False)
    return out


@rule(_shape, "getitem.<locals>.backward")
def _index(node, g, c):
    return (index_backward(g, c["k"], c["shape"]),)


@rule(__name__, "index_backward.<locals>.backward")
def _index_backward(node, g, c):
    return (_shape.getitem(g, c["key"]),)


@rule(_shape, "cat.<locals>.backward")
def _cat(node, g, c):
    d, bounds = c["d"], c["bounds"]
    grads = []
    for i, x in enumerate(c["tensors"]):
        if x._c is not None:
            key = (slice(None),) * d + (slice(int(bounds[i]), int(bounds[i + 1])),)
            grads.append(_shape.getitem(g, key) if x._rg else None)
    return tuple(grads)


@rule(_shape, "_extreme.<locals>.backward")
def _extreme(node, g, c):
    t = node.parents[0]
    if "kd_idx" in c:
        d = c["d"]
        mask = np.zeros(c["shape"], dtype=np.float32)
        np.put_along_axis(mask, c["kd_idx"], 1.0, axis=d)
        gk = g if c["keepdim"] else _shape.unsqueeze(g, d)
        return (gk * constant(mask, t),)
    a = c["a"]
    mask = (a == a.reshape(-1)[c["idx"]]).astype(np.float32)
    return (constant(mask, t) * (g / float(mask.sum())),)


@rule(_shape, "astype.<locals>.<lambda>", "clone.<locals>.<lambda>")
def _identity(node, g, c):
    return (g,)


@rule(_shape, "to_device.<locals>.<lambda>")
def _to_device(node, g, c):
    return (_shape.to_device(g, c["src"]),)


@rule(_function, "_delayed_error.<locals>.backward")
def _delayed_error(node, g, c):
    raise RuntimeError(_function.ONCE_DIFFERENTIABLE)
