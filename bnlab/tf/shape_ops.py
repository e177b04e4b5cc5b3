"""Shape ops: ``shape``, ``size``, ``rank``, ``reshape``, ``expand_dims``, ``squeeze``, ``concat``, ``stack``,
``unstack``, ``split``, ``transpose``, ``tile``, ``broadcast_to``, ``ensure_shape`` and ``newaxis``; the selection
ops (``gather``, ``where``, indexing...) are in ``selection`` and re-exported here.

They move values and do no arithmetic. Reshapes are bnlab.torch views (a Variable's memory is copied first);
transposes, concatenation and stacking are bnlab.torch's (copies, differentiable); ``tile`` and ``broadcast_to``
select elements by index (``_base.select``), so their gradient sums the output gradient over the copies, as
TensorFlow's. Errors are TensorFlow's InvalidArgumentErrors ("Input to reshape is a tensor with 6 values, but the
requested shape has 4").
"""

from __future__ import annotations

import builtins

import numpy as np

from .. import torch as _torch
from . import _record
from ._base import F32, int_dtype, int_list, norm_axis, shape_text, take
from ._base import tensor as _tensor
from .errors import invalid
from .selection import boolean_mask, gather, gather_nd, getitem, pad, repeat, reverse, roll, slice, where
from .tensor import Tensor, array_of, from_array, owned, wrap
from .variables import Variable, as_tensor_like

__all__ = [
    "boolean_mask",
    "broadcast_to",
    "concat",
    "ensure_shape",
    "expand_dims",
    "gather",
    "gather_nd",
    "getitem",
    "newaxis",
    "pad",
    "rank",
    "repeat",
    "reshape",
    "reverse",
    "roll",
    "shape",
    "size",
    "slice",
    "split",
    "squeeze",
    "stack",
    "tile",
    "transpose",
    "unstack",
    "where",
]

newaxis = None


@_record.op
def shape(input, out_type=None, name=None):
    """The shape of ``input`` as a 1-D int32 (or ``out_type``) tensor."""
    d = int_dtype("int32" if out_type is None else out_type)
    return from_array(np.array(tuple(_tensor(input).shape), dtype=d._np), d)


@_record.op
def size(input, out_type=None, name=None):
    """The number of elements of ``input`` (a scalar int32 tensor)."""
    d = int_dtype("int32" if out_type is None else out_type)
    return from_array(np.array(_tensor(input)._t.numel(), dtype=d._np), d)


@_record.op
def rank(input, name=None):
    """The number of dimensions of ``input`` (a scalar int32 tensor)."""
    return from_array(np.array(_tensor(input).ndim, dtype=np.int32), int_dtype("int32"))


def _view(x: Tensor, dims) -> Tensor:
    return wrap(owned(x).reshape(list(dims)), x._dtype)


@_record.op
def reshape(tensor, shape, name=None):
    """The values of ``tensor`` in a new shape (one dimension may be -1: inferred)."""
    x = _tensor(tensor)
    dims = int_list(shape)
    n = x._t.numel()
    unknown = [i for i, d in enumerate(dims) if d == -1]
    if len(unknown) > 1:
        raise invalid(f"Only one input size may be -1, not both {unknown[0]} and {unknown[1]}", "Reshape")
    for i, d in enumerate(dims):
        if d < -1:
            raise invalid(f"Size {i} must be non-negative, not {d}", "Reshape")
    known = int(np.prod([d for d in dims if d != -1], dtype=np.int64))
    if unknown:
        if known == 0 or n % known:
            raise invalid(
                f"Input to reshape is a tensor with {n} values, but the requested shape requires a multiple of {known}",
                "Reshape",
            )
        dims[unknown[0]] = n // known
    elif known != n:
        raise invalid(f"Input to reshape is a tensor with {n} values, but the requested shape has {known}", "Reshape")
    return _view(x, dims)


@_record.op
def expand_dims(input, axis, name=None):
    """``input`` with a dimension of size 1 inserted at ``axis`` (in ``[-rank - 1, rank]``)."""
    x = _tensor(input)
    r = x.ndim
    a = int(np.asarray(axis))
    if not -r - 1 <= a <= r:
        raise invalid(f"Tried to expand dim index {a} for tensor with {r} dimensions.", "ExpandDims")
    a %= r + 1
    dims = list(x.shape)
    return _view(x, [*dims[:a], 1, *dims[a:]])


@_record.op
def squeeze(input, axis=None, name=None):
    """``input`` without its dimensions of size 1 (only those of ``axis``, an int or a list, when given)."""
    x = _tensor(input)
    dims, r = list(x.shape), x.ndim
    if axis is None:
        return _view(x, [d for d in dims if d != 1])
    axes = set()
    for a in np.atleast_1d(np.asarray(axis)).tolist():
        if not -r <= a < r:
            raise invalid(f"Tried to squeeze dim index {a} for tensor with {r} dimensions.", "Squeeze")
        if dims[a] != 1:
            raise invalid(f"Can not squeeze dim[{a % r}], expected a dimension of 1, got {dims[a]}", "Squeeze")
        axes.add(a % r)
    return _view(x, [d for i, d in enumerate(dims) if i not in axes])


def _tensor_list(values, op: str) -> list[Tensor]:
    """A list of op inputs as Tensors of one dtype (the first tensor's; plain values are converted to it)."""
    if isinstance(values, (Tensor, Variable)):
        values = [values]
    values = list(values)
    if not values:
        raise ValueError(f"{op} needs a non-empty list of tensors")
    first = next((t for t in (as_tensor_like(v) for v in values) if t is not None), None)
    dtype = None if first is None else first._dtype
    out = []
    for v in values:
        t = as_tensor_like(v)
        out.append(t if t is not None else _tensor(v, dtype))
        dtype = out[0]._dtype
    for i, t in enumerate(out):
        if t._dtype != dtype:
            raise invalid(
                f"cannot compute {op} as input #{i}(zero-based) was expected to be a {dtype.kernel_name} tensor but "
                f"is a {t._dtype.kernel_name} tensor",
                op,
            )
    return out


@_record.op
def concat(values, axis, name="concat"):
    """The tensors of ``values`` joined along ``axis`` (every other dimension equal)."""
    ts = _tensor_list(values, "ConcatV2")
    r = ts[0].ndim
    if r == 0:
        raise invalid("Can't concatenate scalars (use tf.stack instead)", "ConcatV2")
    a = int(np.asarray(axis))
    if not -r <= a < r:
        raise invalid(f"ConcatOp : Expected concatenating dimensions in the range [{-r}, {r}), but got {a}", "ConcatV2")
    a %= r
    s0 = list(ts[0].shape)
    for i, t in enumerate(ts[1:], 1):
        s = list(t.shape)
        if len(s) != r:
            raise invalid(
                f"ConcatOp : Ranks of all input tensors should match: shape[0] = {shape_text(s0)} vs. shape[{i}] = "
                f"{shape_text(s)}",
                "ConcatV2",
            )
        for d in builtins.range(r):
            if d != a and s[d] != s0[d]:
                raise invalid(
                    f"ConcatOp : Dimension {d} in both shapes must be equal: shape[0] = {shape_text(s0)} vs. "
                    f"shape[{i}] = {shape_text(s)}",
                    "ConcatV2",
                )
    if len(ts) == 1:
        return wrap(ts[0]._t.clone(), ts[0]._dtype)
    if ts[0]._dtype is F32:
        return wrap(_torch.cat([t._t for t in ts], a))
    return from_array(np.concatenate([array_of(t) for t in ts], axis=a), ts[0]._dtype)


@_record.op
def stack(values, axis=0, name="stack"):
    """The equal-shaped tensors of ``values`` stacked along a new dimension ``axis``."""
    ts = _tensor_list(values, "Pack")
    r = ts[0].ndim
    a = int(np.asarray(axis))
    if not -r - 1 <= a <= r:
        raise ValueError(f"Argument `axis` = {a} not in range [{-r - 1}, {r + 1})")
    a %= r + 1
    for i, t in enumerate(ts[1:], 1):
        if t.shape != ts[0].shape:
            raise invalid(
                f"Shapes of all inputs must match: values[0].shape = {shape_text(ts[0].shape)} != values[{i}].shape = "
                f"{shape_text(t.shape)}",
                "Pack",
            )
    if ts[0]._dtype is F32:
        return wrap(_torch.stack([t._t for t in ts], a))
    return from_array(np.stack([array_of(t) for t in ts], axis=a), ts[0]._dtype)


def _pieces(x: Tensor, axis: int, bounds) -> list[Tensor]:
    """Slices ``[lo, hi)`` of x along ``axis`` for each ``(lo, hi)`` of ``bounds``."""
    if x._dtype is not F32:
        a = array_of(x)
        return [from_array(np.take(a, np.arange(lo, hi), axis=axis), x._dtype) for lo, hi in bounds]
    r = x.ndim
    order = [axis, *(d for d in builtins.range(r) if d != axis)]
    back = list(np.argsort(order))
    xt = x._t if axis == 0 else x._t.permute(order)
    out = []
    for lo, hi in bounds:
        p = xt[lo:hi]
        out.append(wrap(p if axis == 0 else p.permute(back)))
    return out


@_record.op
def unstack(value, num=None, axis=0, name="unstack"):
    """The slices of ``value`` along ``axis``, as a list of tensors of rank one less."""
    x = _tensor(value)
    r = x.ndim
    if r == 0:
        raise ValueError("Input shape must have rank >= 1 to unstack a scalar")
    a = norm_axis(axis, r, "Unpack")
    n = x.shape[a]
    if num is not None and int(num) != n:
        raise invalid(f"Input shape axis {a} must equal {int(num)}, got shape {shape_text(x.shape)}", "Unpack")
    dims = [d for i, d in enumerate(x.shape) if i != a]
    return [_view(p, dims) for p in _pieces(x, a, [(i, i + 1) for i in builtins.range(n)])]


@_record.op
def split(value, num_or_size_splits, axis=0, num=None, name="split"):
    """``value`` cut along ``axis`` into ``num_or_size_splits`` equal pieces (an int) or pieces of the given sizes
    (a list; one size may be -1: the rest)."""
    x = _tensor(value)
    a = norm_axis(axis, x.ndim, "Split")
    n = x.shape[a]
    spec = np.asarray(num_or_size_splits.numpy() if hasattr(num_or_size_splits, "numpy") else num_or_size_splits)
    if spec.ndim == 0:
        k = int(spec)
        if k <= 0 or n % k:
            raise invalid(
                f"Number of ways to split should evenly divide the split dimension, but got split_dim {a} (size = "
                f"{n}) and num_split {k}",
                "Split",
            )
        sizes = [n // k] * k
    else:
        sizes = [int(s) for s in spec]
        if sizes.count(-1) == 1:
            sizes[sizes.index(-1)] = n - (builtins.sum(sizes) + 1)
        if builtins.sum(sizes) != n or any(s < 0 for s in sizes):
            raise invalid(
                "Determined shape must either match input shape along split_dim exactly if fully specified, or be "
                f"less than the size of the input along split_dim if not fully specified.  Got: {builtins.sum(sizes)}",
                "SplitV",
            )
    ends = np.cumsum([0, *sizes])
    return _pieces(x, a, list(zip(ends[:-1].tolist(), ends[1:].tolist(), strict=True)))


@_record.op
def transpose(a, perm=None, conjugate=False, name="transpose"):
    """``a`` with its dimensions reordered: output dimension i is input dimension ``perm[i]`` (reversed order by
    default, so a matrix is transposed)."""
    x = _tensor(a)
    r = x.ndim
    order = list(builtins.range(r))[::-1] if perm is None else int_list(perm, "perm")
    if len(order) != r:
        raise invalid(
            f"transpose expects a vector of size {r}. But input(1) is a vector of size {len(order)}", "Transpose"
        )
    order = [p % r if -r <= p < r else p for p in order]
    if sorted(order) != list(builtins.range(r)):
        raise invalid(f"perm {order} is not a permutation of the dimensions 0..{r - 1}", "Transpose")
    if x._dtype is F32:
        return wrap(x._t.permute(order))
    return from_array(np.transpose(array_of(x), order), x._dtype)


@_record.op
def tile(input, multiples, name=None):
    """``input`` repeated ``multiples[i]`` times along each dimension i."""
    x = _tensor(input)
    m = int_list(multiples, "multiples")
    if len(m) != x.ndim:
        raise invalid(f"Expected multiples argument to be a vector of length {x.ndim} but got length {len(m)}", "Tile")
    for i, k in enumerate(m):
        if k < 0:
            raise invalid(f"Expected multiples[{i}] >= 0, but got {k}", "Tile")
    return take(x, lambda arr: np.tile(arr, m) if m else arr.copy())


@_record.op
def broadcast_to(input, shape, name=None):
    """``input`` broadcast (NumPy's rules) to ``shape``; the gradient sums over the broadcast dimensions."""
    x = _tensor(input)
    target = tuple(int_list(shape))
    try:
        ok = tuple(np.broadcast_shapes(tuple(x.shape), target)) == target
    except ValueError:
        ok = False
    if not ok:
        raise invalid(f"Incompatible shapes: {shape_text(x.shape)} vs. {shape_text(target)}", "BroadcastTo")
    return take(x, lambda arr: np.broadcast_to(arr, target).copy())


@_record.op
def ensure_shape(x, shape, name=None):
    """``x`` itself, after checking that its shape fits ``shape`` (None entries match anything)."""
    t = _tensor(x)
    if not t.shape.is_compatible_with(shape):
        from .tensor import as_shape

        raise invalid(
            f"Shape of tensor x {shape_text(t.shape)} is not compatible with expected shape "
            f"{shape_text(['?' if d is None else d for d in as_shape(shape)])}.",
            "EnsureShape",
        )
    return t
