"""The plumbing of the ops that compute on the host with NumPy (``_pointwise``, ``_reductions``, ``_indexing``,
``_creation``): reading operands as arrays, making the result tensor on the operands' device, taping a backward
written in NumPy, and the in-place forms.

* ``operands(a, b)``: the arrays of two operands (tensors or numbers, numbers kept as Python numbers so that
  NumPy's promotion of weak scalars gives PyTorch's result types) and the device of the result.
* ``result(name, array, parents, backward)``: the tensor over ``array`` on the parents' device (float data
  becomes float32 in the engine, integer and bool data stay NumPy). When gradients are recorded and a parent
  requires grad, the op is taped: ``backward(g)`` receives dL/d(out) as a float32 NumPy array and returns one
  NumPy gradient (or None) per parent, which is summed down to the parent's shape (``unbroadcast``) and moved to
  its device. The backward reads the inputs' arrays as they were (a write in place afterwards raises PyTorch's
  "modified by an inplace operation" error, _versions.py).
* ``inplace(fn)``: ``t.<fn>_(...)``: fn out of place, written into t's memory; taped through ``_rebase.rebase``
  when t or another tensor operand requires grad.
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import _core
from . import _versions, autograd
from ._rebase import rebase
from ._shape import check_inplace
from .autograd import record
from .tensor import Tensor, common_device, host

__all__ = ["as_array", "float_array", "inplace", "needs_grad", "operands", "result", "unbroadcast"]

_T = _core.tensor_ops


def is_number(x) -> bool:
    return isinstance(x, (numbers.Number, np.number, np.bool_)) and not isinstance(x, complex)


def check_tensor(x, name: str, arg: str = "input") -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument '{arg}' must be Tensor, not {type(x).__name__}")
    return x


def as_array(x):
    """A tensor's data as a NumPy array (a host copy off the CPU); numbers and arrays as they are."""
    return x._np() if isinstance(x, Tensor) else x


def float_array(a):
    """``a`` as floats: integer and bool arrays become float32 (PyTorch's promotion for float-valued ops)."""
    if isinstance(a, np.ndarray):
        return a if a.dtype.kind == "f" else a.astype(np.float32)
    if isinstance(a, (bool, np.bool_)):
        return float(a)
    return a


def device_of(*xs):
    """The device of an op's result: the common device of its tensor operands (PyTorch's rule, tensor.py)."""
    ts = [x for x in xs if isinstance(x, Tensor)]
    ref = ts[0]
    for t in ts[1:]:
        if common_device(ref, t) != ref.device:
            ref = t
    return ref.device


def operands(a, b, name: str):
    """(array of a, array of b, device) for a binary op; TypeError unless one is a tensor and the other a tensor
    or a number."""
    for x, arg in ((a, "input"), (b, "other")):
        if not isinstance(x, Tensor) and not is_number(x):
            raise TypeError(f"{name}(): argument '{arg}' must be Tensor or Number, not {type(x).__name__}")
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{name}(): expected at least one Tensor argument")
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        device = common_device(a, b)
    else:
        device = a.device if isinstance(a, Tensor) else b.device
    return as_array(a), as_array(b), device


def needs_grad(*xs) -> bool:
    return autograd._GradMode.enabled and any(isinstance(x, Tensor) and x._rg for x in xs)


def unbroadcast(g: np.ndarray, shape) -> np.ndarray:
    """``g`` summed down to ``shape`` (the inverse of broadcasting)."""
    shape = tuple(shape)
    g = np.asarray(g)
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    if lead > 0:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return np.broadcast_to(g, shape)


def _core_like(array, like: Tensor):
    c = _core.Tensor.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    return c if like.device.type == "cpu" else c.to(like.device.core)


def result(name: str, array, parents=(), backward=None, device=None) -> Tensor:
    """The tensor over the NumPy ``array`` (see the module docstring), taped when ``backward`` is given."""
    tensors = tuple(p for p in parents if isinstance(p, Tensor))
    if device is None:
        device = tensors[0].device if tensors else None
    out = host(np.asarray(array), device) if device is not None else host(np.asarray(array))
    if backward is None or out._c is None or not needs_grad(*tensors):
        return out

    def taped(gc):
        grads = backward(gc.numpy())
        got = []
        for p, gp in zip(parents, grads, strict=True):
            if not isinstance(p, Tensor):
                continue
            if gp is None or not p._rg:
                got.append(None)
            else:
                got.append(_core_like(unbroadcast(np.asarray(gp, dtype=np.float32), p.shape), p))
        return tuple(got)

    record(name, out, tensors, taped)
    return out


def write(t: Tensor, value: Tensor, cast: bool = False) -> Tensor:
    """``value`` written into t's memory (the untaped half of an in-place op); returns t."""
    if tuple(value.shape) != tuple(t.shape):
        raise RuntimeError(f"output with shape {list(t.shape)} doesn't match the broadcast shape {list(value.shape)}")
    if value.dtype is not t.dtype:
        if not cast and (value.dtype.is_floating_point and not t.dtype.is_floating_point):
            raise RuntimeError(
                f"result type {_versions.scalar_name(value.dtype)} can't be cast to the desired output type "
                f"{_versions.scalar_name(t.dtype)}"
            )
        value = host(value._np().astype(t.dtype.np), t.device)
    if t._c is None:
        np.copyto(t._a, value._np())
    else:
        _T.copy(t._c, value.to(t.device)._c)
    _versions.bump(t)
    return t


def _zero_grad(value: Tensor, source: Tensor) -> Tensor:
    """``value`` (a comparison's result, converted to source's float dtype) taped with a zero gradient, as
    PyTorch tapes ``h.eq_(0)`` on a tensor in the graph."""
    return value if value._rg else result("Compare", value._np(), (source,), lambda g: (np.zeros_like(g),))


def inplace(fn, cast: bool = False):
    """The in-place form of ``fn`` (``t.clamp_(0, 1)``), taped when t or a tensor operand requires grad. With
    ``cast`` the result is converted to t's dtype (comparisons: ``t.eq_(u)`` writes 1.0 and 0.0 into a float t)."""

    def op(t, *args, **kwargs):
        check_inplace(t, recorded=True)
        if needs_grad(t, *args, *kwargs.values()):
            if cast:
                return rebase(t, lambda old: _zero_grad(fn(old, *args, **kwargs).to(t.dtype), old))
            return rebase(t, lambda old: fn(old, *args, **kwargs))
        with autograd.no_grad():
            value = fn(t.detach(), *args, **kwargs)
        return write(t, value, cast)

    op.__name__ = fn.__name__ + "_"
    op.__doc__ = f"In place: ``t.{fn.__name__}_(...)`` writes {fn.__name__}(t, ...) into t and returns t."
    return op
