"""The names of the host-computed ops (``_pointwise``, ``_binary``, ``_reductions``, ``_selections``,
``_indexing``, ``_layout``, ``_linalg``, ``_creation``) as Tensor methods (``METHODS``, bound by
``_methods.install``) and as functions of the ``bnlab.torch`` namespace (``FUNCTIONS``, added by
``bnlab.torch``'s ``__init__``), each under the names and aliases PyTorch gives it (``clip`` for ``clamp``,
``arccos`` for ``acos``, ``swapdims`` for ``transpose``...). A method takes the tensor as its first argument, as
the function does, except where PyTorch's method puts its arguments in another order
(``t.where(condition, other)``).
"""

from __future__ import annotations

from . import (
    _binary,
    _creation,
    _indexing,
    _inplace_unary,
    _layout,
    _linalg,
    _math,
    _pointwise,
    _reductions,
    _selections,
    _shape,
)
from ._host import inplace
from .nn import _activations

__all__ = ["FUNCTIONS", "METHODS", "OPERATORS"]


def _positive(t):
    if t.dtype.name == "bool":
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return t


def _add(input, other, *, alpha=1):
    return _math.arith("Add", input, _math.arith("Mul", other, alpha) if alpha != 1 else other)


def _sub(input, other, *, alpha=1):
    return _math.arith("Sub", input, _math.arith("Mul", other, alpha) if alpha != 1 else other)


def _mul(input, other):
    return _math.arith("Mul", input, other)


def _rsub(input, other, *, alpha=1):
    return _sub(other, input, alpha=alpha)


def _pow(input, exponent):
    return _math.pow(input, exponent) if not isinstance(input, (int, float)) else _math.rpow(exponent, input)


_ELEMENTWISE = {**_pointwise.FUNCTIONS, **_pointwise.TESTS, **_binary.FUNCTIONS}
_SHARED = {
    **_ELEMENTWISE,
    **_reductions.FUNCTIONS,
    **_selections.FUNCTIONS,
    **_indexing.FUNCTIONS,
    **_layout.FUNCTIONS,
    **_linalg.FUNCTIONS,
    "isclose": _binary.isclose,
    "allclose": _binary.allclose,
    "equal": _binary.equal,
    "div": _binary.div,
    "divide": _binary.div,
    "true_divide": lambda input, other: _binary.div(input, other),
    "multiply": _mul,
    "subtract": _sub,
    "negative": _math.neg,
    "positive": _positive,
    "absolute": _math.abs,
    "bernoulli": _creation.bernoulli,
    "var_mean": _reductions.var_mean,
    "std_mean": _reductions.std_mean,
}

METHODS = {
    **_SHARED,
    **_layout.METHOD_ONLY,
    **_creation.METHODS,
    **_pointwise.INPLACE,
    **_binary.INPLACE,
    "where": lambda t, condition, other: _binary.where(condition, t, other),
    "pow_": inplace(_math.pow),
    "cumsum_": inplace(_reductions.cumsum),
    "cumprod_": inplace(_reductions.cumprod),
    "absolute_": _inplace_unary.METHODS["abs_"],
    "negative_": _inplace_unary.METHODS["neg_"],
    "divide_": inplace(_binary.div),
    "true_divide_": inplace(lambda input, other: _binary.div(input, other)),
    "multiply_": inplace(_mul),
    "subtract_": inplace(_sub),
    "swapaxes": _layout.swapaxes,
    "swapdims": _layout.swapaxes,
    **{
        name + "_": inplace(getattr(_indexing, name))
        for name in (
            "scatter",
            "scatter_add",
            "index_add",
            "index_copy",
            "index_fill",
            "masked_fill",
            "masked_scatter",
            "tril",
            "triu",
        )
    },
}
# the operators whose meaning the host ops extend: // and % differentiable where PyTorch's are, on any dtype
OPERATORS = {
    "__floordiv__": _binary.floor_divide,
    "__rfloordiv__": lambda a, b: _binary.floor_divide(b, a),
    "__mod__": _binary.remainder,
    "__rmod__": lambda a, b: _binary.remainder(b, a),
}

_TORCH_INPLACE = {
    name: METHODS.get(name) or _inplace_unary.METHODS.get(name)
    for name in " ".join(
        [
            "abs_ acos_ acosh_ arccos_ arccosh_ arcsin_ arcsinh_ arctan_ arctanh_ asin_ asinh_ atan_ atanh_",
            "ceil_ clamp_ clamp_max_ clamp_min_ clip_ cos_ cosh_ deg2rad_ erf_ erfc_ exp2_ exp_ expm1_ fix_",
            "floor_ frac_ log10_ log1p_ log2_ log_ logit_ nan_to_num_ neg_ negative_ rad2deg_ reciprocal_ round_",
            "rsqrt_ sigmoid_ sin_ sinc_ sinh_ sqrt_ square_ tan_ tanh_ trunc_ xlogy_",
        ]
    ).split()
}
FUNCTIONS = {
    **_SHARED,
    **_layout.TORCH_ONLY,
    **_linalg.TORCH_ONLY,
    **_creation.FUNCTIONS,
    **_TORCH_INPLACE,
    "add": _add,
    "sub": _sub,
    "mul": _mul,
    "rsub": _rsub,
    "pow": _pow,
    "neg": _math.neg,
    "tril_indices": _indexing.tril_indices,
    "triu_indices": _indexing.triu_indices,
    "searchsorted": _indexing.searchsorted,
    "bucketize": _indexing.bucketize,
    "where": _binary.where,
    "clone": lambda input, *, memory_format=None: _shape.clone(input),
    "detach": lambda input: input.detach(),
    "t": _shape.t_,
    "reshape": lambda input, shape: _shape.view(input, shape),
    "relu_": _activations.relu_,
    "zero_": lambda input: input.zero_(),
    "einsum": _linalg.einsum,
    "tensordot": _linalg.tensordot,
    "expand_copy": _layout.expand,
}
