"""Reductions and scans: ``reduce_sum``, ``reduce_mean``, ``reduce_max``, ``reduce_min``, ``reduce_prod``,
``reduce_all``, ``reduce_any``, ``reduce_variance``, ``reduce_std``, ``reduce_logsumexp``,
``reduce_euclidean_norm``, ``count_nonzero``, ``argmax``, ``argmin``, ``cumsum`` and ``add_n``.

Arguments as TensorFlow's: ``input_tensor``, ``axis`` (None: every axis; an int, a list, or an integer tensor;
``[]`` reduces nothing), ``keepdims``. Results and gradients:

    reduce_sum        sum; gradient g broadcast back
    reduce_mean       sum / n; integer tensors give the integer quotient (truncated toward zero, as TensorFlow)
    reduce_max / min  the extreme; the gradient is shared equally by the elements equal to it (TensorFlow's rule)
    reduce_prod       product; gradient g * (product of the other elements), exact where elements are 0
    reduce_variance   mean((x - mean(x))^2), the population variance; reduce_std its square root
    reduce_logsumexp  m + ln(sum(e^(x - m))) with m = max(x) (0 where the max is not finite), without gradient
                      through m
    argmax / argmin   the index of the first extreme along ``axis`` (0 when None), int64 unless ``output_type``
    cumsum            running sums along ``axis`` (``exclusive``: the sum before each element; ``reverse``: from
                      the end); the values are NumPy's sequential sums, the gradient the reverse running sum of g

Reducing an empty set gives 0 (sum), 1 (prod), NaN (mean), the lowest/highest value of the type (max/min).
"""

from __future__ import annotations

import numpy as np

from .. import torch as _torch
from . import _record
from . import dtypes as _dt
from ._base import F32, axes_arg, check_dtypes, norm_axis, select, taping, zero_link
from ._base import tensor as _tensor
from .errors import invalid
from .tensor import Tensor, array_of, from_array, wrap

__all__ = [
    "add_n",
    "argmax",
    "argmin",
    "count_nonzero",
    "cumsum",
    "reduce_all",
    "reduce_any",
    "reduce_euclidean_norm",
    "reduce_logsumexp",
    "reduce_max",
    "reduce_mean",
    "reduce_min",
    "reduce_prod",
    "reduce_std",
    "reduce_sum",
    "reduce_variance",
]


def _numeric(d) -> bool:
    return not d.is_bool


def _out_shape(shape, axes, keepdims: bool) -> list[int]:
    return (
        [1 if i in axes else d for i, d in enumerate(shape)]
        if keepdims
        else [d for i, d in enumerate(shape) if i not in axes]
    )


def _as_rows(x: Tensor, axes):
    """x's bnlab.torch tensor with the reduced axes moved last and flattened: shape (kept elements, reduced)."""
    r = x.ndim
    kept = [d for d in range(r) if d not in axes]
    order = kept + list(axes)
    t = x._t if order == list(range(r)) else x._t.permute(order)
    k = int(np.prod([x.shape[d] for d in axes], dtype=np.int64))
    return t.reshape([-1, k])


def _prepare(op: str, input_tensor, axis, allowed=_numeric):
    x = _tensor(input_tensor)
    check_dtypes(op, x, allowed)
    return x, axes_arg(axis, x.ndim, op)


@_record.op
def reduce_sum(input_tensor, axis=None, keepdims=False, name=None):
    """The sum over ``axis``; integers sum in their own dtype (overflow wraps)."""
    x, axes = _prepare("Sum", input_tensor, axis)
    if not axes:
        return wrap(x._t.clone(), x._dtype)
    if x._dtype is F32:
        return wrap(x._t.sum(dim=axes, keepdim=bool(keepdims)))
    with np.errstate(all="ignore"):
        return from_array(np.sum(array_of(x), axis=axes, keepdims=bool(keepdims), dtype=x._dtype._np), x._dtype)


@_record.op
def reduce_mean(input_tensor, axis=None, keepdims=False, name=None):
    """The mean over ``axis``: sum / count (integers: the truncated integer quotient)."""
    x, axes = _prepare("Mean", input_tensor, axis)
    if not axes:
        return wrap(x._t.clone(), x._dtype)
    if x._dtype is F32:
        return wrap(x._t.mean(dim=axes, keepdim=bool(keepdims)))
    n = int(np.prod([x.shape[d] for d in axes], dtype=np.int64))
    with np.errstate(all="ignore"):
        s = np.sum(array_of(x), axis=axes, keepdims=bool(keepdims), dtype=x._dtype._np)
    if n == 0:  # TensorFlow's integer mean of nothing is 0
        return from_array(np.zeros(np.shape(s), x._dtype._np), x._dtype)
    q = s // n
    q = q + ((s % n != 0) & (s < 0))  # floor -> toward zero, as C++'s integer division
    return from_array(np.asarray(q).astype(x._dtype._np), x._dtype)


def _extreme(op: str, input_tensor, axis, keepdims, largest: bool):
    x, axes = _prepare(op, input_tensor, axis)
    if not axes:
        return wrap(x._t.clone(), x._dtype)
    a = array_of(x)
    shape = _out_shape(x.shape, axes, bool(keepdims))
    if a.size == 0 or any(x.shape[d] == 0 for d in axes):  # the identity of max / min: lowest / highest value
        if x._dtype.is_floating:
            fill = -np.inf if largest else np.inf
        else:
            fill = np.iinfo(a.dtype).min if largest else np.iinfo(a.dtype).max
        return from_array(np.full(shape, fill, dtype=a.dtype), x._dtype)
    if x._dtype is not F32:
        fn = np.max if largest else np.min
        return from_array(fn(a, axis=axes, keepdims=bool(keepdims)), x._dtype)
    rows = _as_rows(x, axes)
    arr = rows.numpy(force=True)
    m, k = arr.shape
    first = (np.argmax if largest else np.argmin)(arr, axis=1)
    flat = wrap(rows.reshape(-1))
    y = select(flat, np.arange(m) * k + first)
    if taping(x):
        best = arr[np.arange(m), first]
        ties = (arr == best[:, None]) & np.isfinite(best)[:, None]
        ties[np.arange(m), first] = False
        count = ties.sum(axis=1)
        if count.any():  # share the gradient equally among equal extremes: y + sum_j (x_j - y) / (ties + 1)
            r, c = np.nonzero(ties)
            w = (1.0 / (count[r] + 1.0)).astype(np.float32)
            d = (select(flat, r * k + c)._t - select(y, r)._t) * _torch.from_numpy(w)
            width = int(count.max())
            slot = np.full((m, width), r.size, dtype=np.int64)  # r.size: the appended zero
            pos = np.arange(r.size) - np.searchsorted(r, r)
            slot[r, pos] = np.arange(r.size)
            padded = select(wrap(_torch.cat([d, _torch.zeros(1)])), slot)
            y = wrap(y._t + padded._t.sum(dim=1))
    return wrap(y._t.reshape(shape))


@_record.op
def reduce_max(input_tensor, axis=None, keepdims=False, name=None):
    """The maximum over ``axis``; the gradient is shared equally by the elements equal to the maximum."""
    return _extreme("Max", input_tensor, axis, keepdims, True)


@_record.op
def reduce_min(input_tensor, axis=None, keepdims=False, name=None):
    """The minimum over ``axis``; the gradient is shared equally by the elements equal to the minimum."""
    return _extreme("Min", input_tensor, axis, keepdims, False)


@_record.op
def reduce_prod(input_tensor, axis=None, keepdims=False, name=None):
    """The product over ``axis``; gradient g times the product of the other elements."""
    x, axes = _prepare("Prod", input_tensor, axis)
    if not axes:
        return wrap(x._t.clone(), x._dtype)
    a = array_of(x)
    with np.errstate(all="ignore"):
        value = np.prod(a, axis=axes, keepdims=bool(keepdims), dtype=a.dtype)
    out = from_array(value, x._dtype)
    if x._dtype is not F32 or not taping(x):
        return out
    rows = _as_rows(x, axes)
    arr = rows.numpy(force=True).astype(np.float64)
    left = np.cumprod(np.concatenate([np.ones((arr.shape[0], 1)), arr[:, :-1]], axis=1), axis=1)
    right = np.cumprod(np.concatenate([np.ones((arr.shape[0], 1)), arr[:, :0:-1]], axis=1), axis=1)[:, ::-1]
    jac = (left * right).astype(np.float32)  # product of the others, with no division (zeros are fine)
    term = (zero_link(wrap(rows)) * _torch.from_numpy(jac)).sum(dim=1)
    return wrap(out._t + term.reshape(list(out.shape)))


def _logical(op: str, input_tensor, axis, keepdims, np_fn):
    x = _tensor(input_tensor)
    if not x._dtype.is_bool:
        raise invalid(
            f"cannot compute {op} as input #0(zero-based) was expected to be a bool tensor but is a "
            f"{x._dtype.kernel_name} tensor",
            op,
        )
    axes = axes_arg(axis, x.ndim, op)
    return from_array(np_fn(array_of(x), axis=axes, keepdims=bool(keepdims)), _dt.bool)


@_record.op
def reduce_all(input_tensor, axis=None, keepdims=False, name=None):
    """Logical and over ``axis`` (a bool tensor)."""
    return _logical("All", input_tensor, axis, keepdims, np.all)


@_record.op
def reduce_any(input_tensor, axis=None, keepdims=False, name=None):
    """Logical or over ``axis`` (a bool tensor)."""
    return _logical("Any", input_tensor, axis, keepdims, np.any)


def _float_only(name: str, x: Tensor) -> None:
    if not x._dtype.is_floating:
        raise TypeError(f"Input must be either real or complex. Received integer type {x.dtype}.")


@_record.op
def reduce_variance(input_tensor, axis=None, keepdims=False, name=None):
    """mean((x - mean(x))^2) over ``axis``: the population (biased) variance, TensorFlow's; floats only."""
    from .math_ops import square, subtract

    x = _tensor(input_tensor)
    _float_only("reduce_variance", x)
    means = reduce_mean(x, axis, keepdims=True)
    return reduce_mean(square(subtract(x, means)), axis, keepdims=keepdims)


@_record.op
def reduce_std(input_tensor, axis=None, keepdims=False, name=None):
    """sqrt(reduce_variance(x)): the population standard deviation."""
    from .math_ops import sqrt

    x = _tensor(input_tensor)
    _float_only("reduce_std", x)
    return sqrt(reduce_variance(x, axis, keepdims=keepdims))


@_record.op
def reduce_logsumexp(input_tensor, axis=None, keepdims=False, name=None):
    """ln(sum(e^x)) over ``axis``, computed stably as m + ln(sum(e^(x - m))) with m the (finite) maximum."""
    from .math_ops import add, exp, log, subtract

    x = _tensor(input_tensor)
    _float_only("reduce_logsumexp", x)
    raw = array_of(reduce_max(x, axis, keepdims=True))
    m = from_array(np.where(np.isfinite(raw), raw, 0).astype(np.float32), F32)
    s = reduce_sum(exp(subtract(x, m)), axis, keepdims=keepdims)
    shift = m if keepdims else from_array(array_of(m).reshape(tuple(s.shape)), F32)
    return add(log(s), shift)


@_record.op
def reduce_euclidean_norm(input_tensor, axis=None, keepdims=False, name=None):
    """sqrt(sum(x^2)) over ``axis``."""
    from .math_ops import multiply, sqrt

    x = _tensor(input_tensor)
    if not x._dtype.is_floating:
        with np.errstate(all="ignore"):
            a = array_of(x).astype(np.float64)
            v = np.sqrt(np.sum(a * a, axis=axes_arg(axis, x.ndim, "EuclideanNorm"), keepdims=bool(keepdims)))
        return from_array(v.astype(x._dtype._np), x._dtype)
    return sqrt(reduce_sum(multiply(x, x), axis, keepdims=keepdims))


@_record.op
def count_nonzero(input, axis=None, keepdims=None, dtype=_dt.int64, name=None):
    """The number of nonzero (True) elements over ``axis``, as ``dtype`` (int64)."""
    x = _tensor(input)
    dtype = _dt.data_dtype(dtype)
    axes = axes_arg(axis, x.ndim, "CountNonzero")
    n = np.count_nonzero(array_of(x), axis=axes, keepdims=bool(keepdims))
    return from_array(np.asarray(n).astype(dtype._np), dtype)


def _arg(op: str, input, axis, output_type, largest: bool):
    x = _tensor(input)
    check_dtypes(op, x, lambda d: True)
    out = _dt.data_dtype(output_type, "output_type")
    if out not in (_dt.int32, _dt.int64):
        raise TypeError(f"output_type must be tf.int32 or tf.int64, got {out!r}")
    if x.ndim == 0:
        raise invalid(f"Expected dimension in the range [0, 0), but got {0 if axis is None else axis}", op)
    a = norm_axis(0 if axis is None else axis, x.ndim, op)
    if x.shape[a] == 0:
        raise invalid(f"Reduction axis {a} is empty in shape {list(x.shape)}", op)
    idx = (np.argmax if largest else np.argmin)(array_of(x), axis=a)
    return from_array(np.asarray(idx).astype(out._np), out)


@_record.op
def argmax(input, axis=None, output_type=_dt.int64, name=None):
    """The index of the largest value along ``axis`` (0 when None; the first one on ties)."""
    return _arg("ArgMax", input, axis, output_type, True)


@_record.op
def argmin(input, axis=None, output_type=_dt.int64, name=None):
    """The index of the smallest value along ``axis`` (0 when None; the first one on ties)."""
    return _arg("ArgMin", input, axis, output_type, False)


def _scan(t, n: int):
    """Running sums along the last dimension of a bnlab.torch tensor, in log2(n) shifted additions."""
    lead = list(t.shape[:-1])
    shift = 1
    while shift < n:
        pad = _torch.zeros([*lead, shift])
        t = t + _torch.cat([pad, t[..., : n - shift]], dim=len(lead))
        shift *= 2
    return t


@_record.op
def cumsum(x, axis=0, exclusive=False, reverse=False, name=None):
    """Running sums along ``axis``: ``[a, a + b, a + b + c]`` (``exclusive``: ``[0, a, a + b]``; ``reverse``: from
    the end)."""
    t = _tensor(x)
    check_dtypes("Cumsum", t, _numeric)
    if t.ndim == 0:
        raise invalid("input must be at least rank 1", "Cumsum")
    ax = norm_axis(axis, t.ndim, "Cumsum")
    a = np.moveaxis(array_of(t), ax, -1)
    if reverse:
        a = a[..., ::-1]
    if exclusive:
        a = np.concatenate([np.zeros_like(a[..., :1]), a[..., :-1]], axis=-1)
    with np.errstate(all="ignore"):
        v = np.cumsum(a, axis=-1, dtype=a.dtype)
    if reverse:
        v = v[..., ::-1]
    out = from_array(np.moveaxis(v, -1, ax), t._dtype)
    if t._dtype is not F32 or not taping(t):
        return out
    order = [d for d in range(t.ndim) if d != ax] + [ax]
    z = zero_link(t).permute(order)
    n = t.shape[ax]
    if reverse:
        z = _flip_last(z)
    if exclusive:
        z = _torch.cat([_torch.zeros([*z.shape[:-1], 1]), z[..., : n - 1]], dim=t.ndim - 1)
    s = _scan(z, n)
    if reverse:
        s = _flip_last(s)
    return wrap(out._t + s.permute(list(np.argsort(order))))


def _flip_last(t):
    n = t.shape[-1]
    return t[..., np.arange(n - 1, -1, -1)]


@_record.op
def add_n(inputs, name=None):
    """The elementwise sum of a list of tensors of one shape and dtype."""
    from .math_ops import add

    ts = [_tensor(v) for v in inputs]
    if not ts:
        raise ValueError("inputs must be a list of at least one Tensor with the same dtype and shape")
    for t in ts[1:]:
        if t.shape != ts[0].shape or t._dtype != ts[0]._dtype:
            raise ValueError("inputs must be a list of at least one Tensor with the same dtype and shape")
    out = ts[0] if len(ts) > 1 else wrap(ts[0]._t.clone(), ts[0]._dtype)
    for t in ts[1:]:
        out = add(out, t)
    return out
