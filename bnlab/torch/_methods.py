"""Tensor methods and operators: attaches ``_math``, ``_shape`` and the activations of ``nn.functional`` to the
class, plus ``to``, ``size``, indexing, comparisons, logical ops and the in-place ops (``add_``, ``-=``,
``zero_``, ``copy_``...), and the host-computed ops named in ``_bindings`` (``clamp``, ``gather``,
``cumsum``...). ``bnlab.torch`` calls :func:`install` once, on import; ``tensor`` (the class) imports none of
these modules, so the imports point one way.

In-place ops run in the engine on float32 tensors (``_core.tensor_ops`` with the output aliasing the input),
and with NumPy on host tensors; each adds 1 to the tensor's version (_versions.py). They refuse, as PyTorch
does, to overwrite a leaf that requires grad while gradients are being recorded: a manual update is written
``with torch.no_grad(): w -= lr * w.grad``. In-place arithmetic on a tensor in the graph (``out += residual``,
``h.mul_(mask)``) is recorded: the op runs on a copy of the old value, taped as the out-of-place op would be,
and its result is written into the tensor's memory, whose history now ends in that op (``_rebase.rebase``).
"""

from __future__ import annotations

import numpy as np

from .. import _core, config
from . import _bindings, _elementwise, _inplace_unary, _math, _names, _numeric, _shape, _types, _versions, cuda
from ._rebase import rebase, recorded
from ._shape import check_inplace
from ._types import as_device
from .nn import _activations
from .tensor import Tensor, common_device, host, parse_to_args

_T = _core.tensor_ops
_B = _T.BinaryOp
_U = _T.UnaryOp


_TINY = np.finfo(np.float32).tiny  # the smallest normal float32, 1.18e-38


def _as_the_engine_reads(x):
    """x as the engine reads a float input while it flushes denormals (DAZ, bnlab.config.set_flush_denormals):
    a denormal reads as 0. Comparisons run in NumPy, outside the engine's float mode, so they apply it here
    when flushing is on: 0 == 1e-41 is True then, as in PyTorch after torch.set_flush_denormal(True)."""
    arr = np.asarray(x)
    if arr.dtype.kind != "f":
        return x
    denormal = (arr != 0) & (np.abs(arr) < _TINY)
    return np.where(denormal, np.zeros_like(arr), arr) if denormal.any() else x


def _compare(np_fn):
    def op(a, b):
        device = a.device
        if isinstance(b, Tensor):
            device = common_device(a, b)
            y = b._np()
        elif isinstance(b, (int, float, bool, np.number, np.ndarray)):
            y = b
        else:
            return NotImplemented
        x = a._np()
        if config.get_flush_denormals():  # asked once per comparison
            x, y = _as_the_engine_reads(x), _as_the_engine_reads(y)
        return host(np_fn(x, y), device)

    return op


def _logical(np_fn, name):
    def op(a, b=None):
        arrays = [a._np()] if b is None else [a._np(), b._np() if isinstance(b, Tensor) else b]
        if any(isinstance(x, np.ndarray) and x.dtype.kind == "f" for x in arrays):
            raise TypeError(f"{name} is only supported for integer and bool tensors")
        return host(np_fn(*arrays), common_device(a, b) if isinstance(b, Tensor) else a.device)

    return op


def _inplace(name: str):
    """``t.<name>_(other, alpha=1)``: t = t op (alpha * other), written into t's memory."""

    def op(t, other, *, alpha=None):
        check_inplace(t, recorded=True)
        if isinstance(other, Tensor) and common_device(t, other) != t.device:
            raise RuntimeError(
                f"Expected all tensors to be on the same device, but found at least two devices, {t.device} and "
                f"{other.device}!"
            )
        if alpha is not None and alpha != 1:
            other = _math.arith("Mul", other, alpha)
        if recorded(t, other):
            return rebase(t, lambda old: _math.arith(name, old, other))
        _versions.bump(t)
        if t._c is None:
            y = other._np() if isinstance(other, Tensor) else other
            np_fn = _math._NUMPY[name]
            try:
                np_fn(t._a, y, out=t._a, casting="same_kind")
            except TypeError as exc:
                raise RuntimeError(f"result type can't be cast to the desired output type {t.dtype}") from exc
            return t
        if isinstance(other, Tensor):
            oc = _math.as_float(other.to(t.device))._c
            _T.binary(t._c, t._c, oc, getattr(_B, name))
        else:
            s = float(other)
            op_, s = {
                "Add": (_U.AddScalar, s),
                "Sub": (_U.AddScalar, -s),
                "Mul": (_U.MulScalar, s),
                "Div": (_U.DivScalar, s),
            }[name]
            _T.unary(t._c, t._c, op_, s)
        return t

    return op


def zero_(t: Tensor) -> Tensor:
    return fill_(t, 0)


def fill_(t: Tensor, value) -> Tensor:
    check_inplace(t)
    _versions.bump(t)
    value = value.item() if isinstance(value, Tensor) else value
    if t._c is None:
        t._a[...] = value
    else:
        t._c.fill(float(value))
    return t


def copy_(t: Tensor, src) -> Tensor:
    """Copy ``src`` (broadcast to t's shape, converted to t's dtype and device) into t's memory."""
    check_inplace(t)
    _versions.bump(t)
    src = src if isinstance(src, Tensor) else host(np.asarray(src), t.device)
    if t._c is None:
        np.copyto(t._a, src._np(), casting="unsafe")
        return t
    sc = _math.as_float(src.to(t.device))._c
    if tuple(sc.shape) != tuple(t._c.shape):
        full = _core.Tensor()
        _T.expand(full, sc, list(t._c.shape))
        sc = full
    _T.copy(t._c, sc)
    return t


def to(t: Tensor, *args, **kwargs) -> Tensor:
    """``to(device)``, ``to(dtype)``, ``to(device, dtype)`` or ``to(other_tensor)``; returns ``t`` when
    nothing changes, as PyTorch does."""
    device, dtype = parse_to_args(args, kwargs)
    out = t
    if dtype is not None and dtype is not t.dtype:
        out = _shape.astype(out, dtype)
    if device is not None:
        device = as_device(device)
        if device.type == "cuda" and device.index is None:
            device = _types.CUDA
        if device != out.device:
            if device.type == "cuda":
                cuda.require_available()
                if device.index != 0:  # the engine drives one GPU
                    raise RuntimeError(f"CUDA error: invalid device ordinal (bnlab uses one GPU, cuda:0; got {device})")
            out = _shape.to_device(out, device)
    return out


def size(t: Tensor, dim: int | None = None):
    """The shape as a ``torch.Size``, or the size of dimension ``dim``."""
    shape = t.shape
    if dim is None:
        return shape
    return shape[_shape.norm_dim(dim, len(shape))]


def install(cls) -> None:
    """Attach the operators and methods to ``cls`` (the Tensor class)."""
    arith = _math.arith
    methods = {
        "__add__": lambda a, b: arith("Add", a, b),
        "__radd__": lambda a, b: arith("Add", b, a),
        "__sub__": lambda a, b: arith("Sub", a, b),
        "__rsub__": lambda a, b: arith("Sub", b, a),
        "__mul__": lambda a, b: arith("Mul", a, b),
        "__rmul__": lambda a, b: arith("Mul", b, a),
        "__truediv__": lambda a, b: arith("Div", a, b),
        "__rtruediv__": lambda a, b: arith("Div", b, a),
        "__floordiv__": _math.floor_divide,
        "__rfloordiv__": lambda a, b: _math.floor_divide(b, a),
        "__mod__": _math.remainder,
        "__neg__": _math.neg,
        "__pos__": lambda a: a,
        "__abs__": _math.abs,
        "__pow__": _math.pow,
        "__rpow__": _math.rpow,
        "__matmul__": _math.matmul,
        "__rmatmul__": lambda a, b: _math.matmul(b, a),
        "__eq__": _compare(np.equal),
        "__ne__": _compare(np.not_equal),
        "__lt__": _compare(np.less),
        "__le__": _compare(np.less_equal),
        "__gt__": _compare(np.greater),
        "__ge__": _compare(np.greater_equal),
        "__and__": _logical(np.logical_and, "&"),
        "__or__": _logical(np.logical_or, "|"),
        "__xor__": _logical(np.logical_xor, "^"),
        "__invert__": _logical(np.logical_not, "~"),
        "__iadd__": _inplace("Add"),
        "__isub__": _inplace("Sub"),
        "__imul__": _inplace("Mul"),
        "__itruediv__": _inplace("Div"),
        "add": lambda a, b, *, alpha=1: arith("Add", a, arith("Mul", b, alpha) if alpha != 1 else b),
        "sub": lambda a, b, *, alpha=1: arith("Sub", a, arith("Mul", b, alpha) if alpha != 1 else b),
        "mul": lambda a, b: arith("Mul", a, b),
        "div": lambda a, b: arith("Div", a, b),
        "add_": _inplace("Add"),
        "sub_": _inplace("Sub"),
        "mul_": lambda t, other: _inplace("Mul")(t, other),
        "div_": lambda t, other: _inplace("Div")(t, other),
        "zero_": zero_,
        "fill_": fill_,
        "copy_": copy_,
        "eq": _compare(np.equal),
        "ne": _compare(np.not_equal),
        "lt": _compare(np.less),
        "le": _compare(np.less_equal),
        "gt": _compare(np.greater),
        "ge": _compare(np.greater_equal),
        "neg": _math.neg,
        "exp": _math.exp,
        "log": _math.log,
        "sqrt": _math.sqrt,
        "abs": _math.abs,
        "pow": _math.pow,
        "sum": _math.sum,
        "mean": _math.mean,
        "var": _math.var,
        "std": _math.std,
        "matmul": _math.matmul,
        "mm": _math.matmul,
        "view": _shape.view,
        "reshape": _shape.view,
        "view_as": lambda a, other: _shape.view(a, other.shape),
        "reshape_as": lambda a, other: _shape.view(a, other.shape),
        "flatten": _shape.flatten,
        "squeeze": _shape.squeeze,
        "unsqueeze": _shape.unsqueeze,
        "permute": _shape.permute,
        "transpose": _shape.transpose,
        "t": _shape.t_,
        "T": property(_shape.t_),
        "max": _shape.max,
        "min": _shape.min,
        "argmax": _shape.argmax,
        "argmin": _shape.argmin,
        "to": to,
        "size": size,
        "clone": _shape.clone,
        "__getitem__": _shape.getitem,
        "__setitem__": _shape.setitem,
        "relu": _activations.relu,
        "relu_": _activations.relu_,
        "sigmoid": _activations.sigmoid,
        "tanh": _activations.tanh,
        "softmax": _activations.softmax,
        "log_softmax": _activations.log_softmax,
    }
    methods.update({name: getattr(_elementwise, name) for name in _elementwise.__all__})
    methods.update(bmm=_numeric.bmm, histogram=_numeric.histogram, multinomial=_numeric.multinomial)
    methods.update(_inplace_unary.METHODS)
    methods.update({name: fn for name, fn in _bindings.METHODS.items() if name not in methods})
    methods.update(_bindings.OPERATORS)
    methods["div"] = _bindings.METHODS["div"]  # with rounding_mode
    for name, fn in methods.items():
        setattr(cls, name, fn)
    cls.__getattr__ = _names.tensor_getattr  # a missing method says so, and names the closest
