"""Ops that make tensors or change their dtype: ``cast``, ``identity``, ``stop_gradient``, ``zeros``, ``ones``,
``zeros_like``, ``ones_like``, ``fill``, ``range``, ``linspace``, ``eye`` and ``one_hot``.

Conventions as TensorFlow's: ``tf.range(5)`` is int32 (the widest type of start, limit and delta, Python ints being
int32 and floats float32), its length is ``ceil((limit - start) / delta)`` and its values ``start + i * delta``;
``tf.linspace`` gives float32 values ``start + i * (stop - start) / (num - 1)`` ending exactly at ``stop``;
``cast`` truncates floats toward zero when converting to an integer type and maps nonzero values to True for
bool; ``one_hot`` puts ``on_value`` (1) where ``indices == k`` and ``off_value`` (0) elsewhere, indices outside
``[0, depth)`` giving an all-off row. ``identity`` copies (its gradient is the output gradient), ``stop_gradient``
cuts the tape.
"""

from __future__ import annotations

import builtins
import math

import numpy as np

from . import _record
from . import dtypes as _dt
from ._base import F32, int_list, take, tensor
from .errors import invalid
from .tensor import array_of, from_array, wrap

__all__ = [
    "cast",
    "eye",
    "fill",
    "identity",
    "linspace",
    "one_hot",
    "ones",
    "ones_like",
    "range",
    "stop_gradient",
    "zeros",
    "zeros_like",
]


@_record.op
def cast(x, dtype, name=None):
    """``x`` as ``dtype``: floats to integers truncate toward zero, any type to bool is ``x != 0``, bool to numbers
    is 0/1. Differentiable between float types only (here: float32 to float32, the identity)."""
    dtype = _dt.data_dtype(dtype)
    x = tensor(x)
    if x._dtype == dtype:
        return x
    a = array_of(x)
    with np.errstate(all="ignore"):
        if dtype.is_bool:
            out = a != 0
        elif x._dtype.is_floating and dtype.is_integer:
            out = np.trunc(a).astype(dtype._np)
        else:
            out = a.astype(dtype._np)
    return from_array(out, dtype)


@_record.op
def identity(input, name=None):
    """A copy of ``input`` (a new tensor with the same values); the gradient passes through unchanged."""
    x = tensor(input)
    return wrap(x._t.clone(), x._dtype)


@_record.op
def stop_gradient(input, name=None):
    """``input`` with no gradient: tapes treat the result as a constant."""
    x = tensor(input)
    t = x._t.detach()
    return wrap(t.clone() if x._shared else t, x._dtype)


def _filled(shape, value, dtype, arg="dtype"):
    dtype = _dt.data_dtype(dtype, arg)
    dims = int_list(shape)
    if any(d < 0 for d in dims):
        raise invalid(f"Dimension -1 must be >= 0: shape {dims} has a negative dimension", "Fill")
    return from_array(np.full(dims, value, dtype=dtype._np), dtype)


@_record.op
def zeros(shape, dtype=_dt.float32, name=None):
    """A tensor of ``shape`` filled with 0 (False for bool)."""
    return _filled(shape, 0, dtype)


@_record.op
def ones(shape, dtype=_dt.float32, name=None):
    """A tensor of ``shape`` filled with 1 (True for bool)."""
    return _filled(shape, 1, dtype)


@_record.op
def zeros_like(input, dtype=None, name=None):
    """Zeros of ``input``'s shape and (unless ``dtype`` is given) dtype."""
    x = tensor(input)
    return _filled(x.shape, 0, dtype if dtype is not None else x._dtype)


@_record.op
def ones_like(input, dtype=None, name=None):
    """Ones of ``input``'s shape and (unless ``dtype`` is given) dtype."""
    x = tensor(input)
    return _filled(x.shape, 1, dtype if dtype is not None else x._dtype)


@_record.op
def fill(dims, value, name=None):
    """A tensor of shape ``dims`` with every element ``value`` (a scalar, whose dtype the result takes). The
    gradient with respect to ``value`` is the sum of the output gradient."""
    v = tensor(value)
    if v.ndim != 0:
        raise invalid(f"value must be a scalar, got a tensor of shape {v.shape}", "Fill")
    shape = int_list(dims, "dims")
    if any(d < 0 for d in shape):
        raise invalid(f"dims must not be negative, got {shape}", "Fill")
    return take(v, lambda a: np.broadcast_to(a, shape).copy())


_RANGE_ORDER = (_dt.int32, _dt.int64, _dt.float32)


@_record.op
def range(start, limit=None, delta=1, dtype=None, name="range"):
    """``[start, start + delta, ...)`` up to ``limit`` (excluded); ``range(n)`` is ``range(0, n)``."""
    if limit is None:
        start, limit = 0, start
    dtype = _dt.data_dtype(dtype)
    args = [tensor(v) if dtype is None else tensor(v, dtype) for v in (start, limit, delta)]
    for a, arg in zip(args, ("start", "limit", "delta"), strict=True):
        if a.ndim != 0:
            raise invalid(f"{arg} must be a scalar, not shape {a.shape}", "Range")
    if dtype is None:
        dtype = builtins.max((a._dtype for a in args), key=lambda d: _RANGE_ORDER.index(d) if d in _RANGE_ORDER else 0)
    s, lim, d = (array_of(a).astype(dtype._np)[()] for a in args)
    if d == 0:
        raise invalid(f"Requires delta != 0: {d}", "Range")
    if (d > 0 and s > lim) or (d < 0 and s < lim):
        raise invalid(
            f"Requires start {'<=' if d > 0 else '>='} limit when delta {'>' if d > 0 else '<'} 0: {s}/{lim}", "Range"
        )
    if dtype.is_integer:
        n = (abs(int(lim) - int(s)) + abs(int(d)) - 1) // abs(int(d))
        values = np.asarray(int(s) + np.arange(n, dtype=np.int64) * int(d))
    else:
        n = math.ceil(abs(float(np.float32(np.float32(lim) - np.float32(s)) / np.float32(d))))
        values = np.float32(s) + np.arange(n, dtype=np.float32) * np.float32(d)
    return from_array(values, dtype)


@_record.op
def linspace(start, stop, num, name=None, axis=0):
    """``num`` evenly spaced float32 values from ``start`` to ``stop`` (both included). For tensors ``start`` and
    ``stop`` (broadcast together) the new dimension is inserted at ``axis``."""
    a = array_of(tensor(start)).astype(np.float32)
    b = array_of(tensor(stop)).astype(np.float32)
    n = int(np.asarray(num))
    if n < 0:
        raise invalid(f"Requires num >= 0: {n}", "LinSpace")
    a, b = np.broadcast_arrays(a, b)
    steps = np.float32(max(n - 1, 1))
    delta = (b - a) / steps
    i = np.arange(n, dtype=np.float32).reshape((n,) + (1,) * a.ndim)
    values = (a + i * delta).astype(np.float32)
    if n > 1:
        values[-1] = b
    return from_array(np.moveaxis(values, 0, axis if axis >= 0 else a.ndim + 1 + axis), F32)


@_record.op
def eye(num_rows, num_columns=None, batch_shape=None, dtype=_dt.float32, name=None):
    """The identity matrix (``num_rows`` x ``num_columns``), repeated over ``batch_shape`` when given."""
    dtype = _dt.data_dtype(dtype)
    m = np.eye(int(num_rows), None if num_columns is None else int(num_columns), dtype=dtype._np)
    if batch_shape is not None:
        m = np.broadcast_to(m, (*int_list(batch_shape, "batch_shape"), *m.shape)).copy()
    return from_array(m, dtype)


@_record.op
def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None, name=None):
    """A one-hot tensor: ``indices.shape`` with a new dimension of size ``depth`` at ``axis`` (last by default);
    ``on_value`` where the index equals the position, ``off_value`` elsewhere. The dtype is ``dtype``, else that
    of ``on_value``/``off_value``, else float32. Differentiable with respect to ``on_value`` and ``off_value``."""
    from .shape_ops import where

    idx = tensor(indices)
    if not idx._dtype.is_integer:
        raise invalid(f"indices must be an integer tensor (uint8, int32 or int64), got {idx.dtype.name}", "OneHot")
    dtype = _dt.data_dtype(dtype)
    given = [tensor(v) for v in (on_value, off_value) if v is not None]
    if dtype is None:
        dtype = given[0]._dtype if given else F32
    for v, arg in zip(given, ("on_value", "off_value"), strict=False):
        if v._dtype != dtype:
            raise TypeError(f"dtype {v.dtype!r} of {arg} does not match dtype parameter {dtype!r}")
    on = tensor(1 if on_value is None else on_value, dtype)
    off = tensor(0 if off_value is None else off_value, dtype)
    n = int(np.asarray(depth))
    if n < 0:
        raise invalid(f"depth must be non-negative, got: {n}", "OneHot")
    a = array_of(idx)
    ax = -1 if axis is None else int(axis)
    if not -1 <= ax <= a.ndim:
        raise invalid(f"Expected axis to be -1 or between [0, {a.ndim}).  But received: {ax}", "OneHot")
    hot = a[..., None] == np.arange(n)
    if ax != -1:
        hot = np.moveaxis(hot, -1, ax)
    return where(hot, on, off)
