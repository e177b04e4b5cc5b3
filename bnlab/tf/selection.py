"""Selection ops: ``gather``, ``gather_nd``, ``boolean_mask``, ``where``, ``reverse``, ``slice``, ``pad``,
``repeat``, ``roll`` and tensor indexing (``t[...]``).

Each picks elements by index (``_base.select``): the result is exact and the gradient is the output gradient
scatter-added back to the elements picked, as TensorFlow's. Index checks are TensorFlow's CPU ones: an index out
of range raises InvalidArgumentError (``gather``: "indices[1] = 5 is not in [0, 3)"), it never wraps. Indexing
takes what TensorFlow's ``__getitem__`` takes: ints, slices, ``...``, ``tf.newaxis`` (None), scalar integer
tensors, and a bool tensor or array as the whole key (``boolean_mask``); a list is read as a tuple, as TensorFlow
does (``t[[0, 1]]`` is ``t[0, 1]``: use ``tf.gather`` to pick rows). ``where(c, x, y)`` picks x where c is True
and y elsewhere, the three broadcast together, and the gradient reaches x and y only where they were picked (so a
NaN in the branch not taken does not leak into it).
"""

from __future__ import annotations

import builtins

import numpy as np

from .. import torch as _torch
from . import _record
from ._base import F32, binary_operands, broadcast_shape, int_dtype, int_list, norm_axis, select, shape_text, take
from ._base import tensor as _tensor
from .errors import invalid
from .tensor import array_of, from_array, wrap
from .variables import as_tensor_like

__all__ = [
    "boolean_mask",
    "gather",
    "gather_nd",
    "getitem",
    "pad",
    "repeat",
    "reverse",
    "roll",
    "slice",
    "where",
]


def _index_array(indices, op: str) -> np.ndarray:
    idx = _tensor(indices)
    if idx._dtype.name not in ("int16", "int32", "int64"):
        raise invalid(
            f"Value for attr 'Tindices' of {idx.dtype.name} is not in the list of allowed values: int16, int32, int64",
            op,
        )
    return array_of(idx).astype(np.int64)


def _check_range(i: np.ndarray, n: int, op: str) -> None:
    bad = (i < 0) | (i >= n)
    if bad.any():
        pos = np.argwhere(bad)[0]
        where_ = ",".join(str(p) for p in pos.tolist())
        raise invalid(f"indices[{where_}] = {i[tuple(pos)]} is not in [0, {n})", op)


@_record.op
def gather(params, indices, validate_indices=None, axis=None, batch_dims=0, name=None):
    """Slices of ``params`` along ``axis`` at ``indices``: shape ``params.shape[:axis] + indices.shape[batch_dims:] +
    params.shape[axis + 1:]``; with ``batch_dims`` b, the first b dimensions of both are batch dimensions."""
    p = _tensor(params)
    i = _index_array(indices, "GatherV2")
    bd = int(batch_dims)
    if bd < 0:
        bd += i.ndim
    ax = bd if axis is None else norm_axis(axis, p.ndim, "GatherV2")
    if ax < bd:
        raise ValueError(f"batch_dims ({bd}) must be less than or equal to axis ({ax}).")
    if tuple(p.shape)[:bd] != i.shape[:bd]:
        raise invalid(
            f"params.shape[:{bd}] {shape_text(p.shape[:bd])} must equal indices.shape[:{bd}] "
            f"{shape_text(i.shape[:bd])}",
            "GatherV2",
        )
    _check_range(i, p.shape[ax], "GatherV2")
    if bd == 0:
        return take(p, lambda arr: np.take(arr, i, axis=ax))

    def batched(arr):
        lead = arr.shape[:bd]
        a2 = arr.reshape((-1, *arr.shape[bd:]))
        i2 = i.reshape((-1, *i.shape[bd:]))
        parts = [np.take(a2[b], i2[b], axis=ax - bd) for b in builtins.range(a2.shape[0])]
        return np.stack(parts).reshape((*lead, *parts[0].shape)) if parts else np.zeros((0,), arr.dtype)

    return take(p, batched)


@_record.op
def gather_nd(params, indices, batch_dims=0, name=None):
    """``params`` at the index vectors of the last dimension of ``indices``: output
    ``[...] = params[indices[..., 0], ..., indices[..., K-1]]`` (the leading K dimensions of params)."""
    if int(batch_dims) != 0:
        raise NotImplementedError("bnlab's tf.gather_nd supports batch_dims=0 only; use tf.gather with batch_dims")
    p = _tensor(params)
    i = _index_array(indices, "GatherNd")
    if i.ndim == 0:
        raise invalid("indices must be at least a vector", "GatherNd")
    k = i.shape[-1]
    if k > p.ndim:
        raise invalid(f"index innermost dimension length must be <= params rank; saw: {k} vs. {p.ndim}", "GatherNd")
    dims = np.array(tuple(p.shape)[:k], dtype=np.int64)
    bad = ((i < 0) | (i >= dims)).any(axis=-1)
    if bad.any():
        pos = tuple(np.argwhere(bad)[0].tolist())
        raise invalid(
            f"indices{list(pos)} = {i[pos].tolist()} does not index into param shape {shape_text(p.shape)}", "GatherNd"
        )
    lead = i.shape[:-1]
    return take(
        p, lambda arr: arr[tuple(np.moveaxis(i, -1, 0))] if k else np.broadcast_to(arr, lead + arr.shape).copy()
    )


@_record.op
def boolean_mask(tensor, mask, axis=None, name="boolean_mask"):
    """The elements (or slices) of ``tensor`` where ``mask`` is True (nonzero): ``mask`` covers dimensions
    ``axis .. axis + mask.ndim`` of tensor, which become one dimension of length ``count_nonzero(mask)``."""
    x, m = _tensor(tensor), _tensor(mask)
    k = m.ndim
    if k == 0:
        raise ValueError("mask cannot be scalar.")
    ax = 0 if axis is None else norm_axis(axis, x.ndim, "BooleanMask")
    if tuple(x.shape)[ax : ax + k] != tuple(m.shape):
        raise ValueError(f"Shapes {x.shape[ax : ax + k]} and {m.shape} are incompatible")
    nz = np.nonzero(array_of(m))
    return take(x, lambda arr: arr[(builtins.slice(None),) * ax + nz])


@_record.op
def where(condition, x=None, y=None, name=None):
    """With ``x`` and ``y``: elements of x where the bool ``condition`` is True and of y elsewhere (the three
    broadcast together); the gradient reaches x and y where they were picked. With only ``condition``: the
    coordinates of its True (nonzero) elements, an int64 tensor of shape ``(count, rank)``."""
    c = _tensor(condition)
    if x is None and y is None:
        return from_array(np.argwhere(array_of(c)).astype(np.int64), int_dtype("int64"))
    if x is None or y is None:
        raise ValueError("x and y must both be non-None or both be None.")
    if not c._dtype.is_bool:
        raise invalid(
            "cannot compute SelectV2 as input #0(zero-based) was expected to be a bool tensor but is a "
            f"{c._dtype.kernel_name} tensor",
            "SelectV2",
        )
    tx, ty = binary_operands("SelectV2", x, y)
    out_shape = broadcast_shape("SelectV2", c.shape, tx.shape, ty.shape)
    cm = np.broadcast_to(array_of(c), out_shape)
    if tx._dtype is not F32:
        return from_array(np.where(cm, array_of(tx), array_of(ty)), tx._dtype)
    nx, ny = tx._t.numel(), ty._t.numel()
    ix = np.broadcast_to(np.arange(nx).reshape(tuple(tx.shape)), out_shape)
    if cm.all():
        return select(tx, ix)
    iy = np.broadcast_to(np.arange(ny).reshape(tuple(ty.shape)), out_shape)
    if not cm.any():
        return select(ty, iy)
    both = wrap(_torch.cat([tx._t.reshape(-1), ty._t.reshape(-1)]))
    return select(both, np.where(cm, ix, iy + nx))


@_record.op
def reverse(tensor, axis, name=None):
    """``tensor`` with the order of its elements reversed along each dimension of ``axis``."""
    x = _tensor(tensor)
    axes = tuple(norm_axis(a, x.ndim, "ReverseV2") for a in int_list(axis, "axis"))
    return take(x, lambda arr: np.flip(arr, axes) if axes else arr.copy())


@_record.op
def slice(input_, begin, size, name=None):
    """The block of ``input_`` starting at ``begin`` with extent ``size`` (-1: to the end) in each dimension."""
    x = _tensor(input_)
    b, s = int_list(begin, "begin"), int_list(size, "size")
    r = x.ndim
    if len(b) != r or len(s) != r:
        raise invalid(
            f"Expected begin and size arguments to be 1-D tensors of size {r}, but got shapes [{len(b)}] and "
            f"[{len(s)}] instead.",
            "Slice",
        )
    key = []
    for i, (lo, n) in enumerate(zip(b, s, strict=True)):
        dim = x.shape[i]
        n = dim - lo if n == -1 else n
        if not (0 <= lo <= dim and 0 <= n <= dim - lo):
            raise invalid(f"Expected size[{i}] in [0, {dim - lo}], but got {n}", "Slice")
        key.append(builtins.slice(lo, lo + n))
    return take(x, lambda arr: arr[tuple(key)])


@_record.op
def pad(tensor, paddings, mode="CONSTANT", constant_values=0, name=None):
    """``tensor`` padded by ``paddings[i] = [before, after]`` elements in dimension i: with ``constant_values``
    (CONSTANT), or mirrored without (REFLECT) or with (SYMMETRIC) the edge element."""
    x = _tensor(tensor)
    p = np.asarray(paddings.numpy() if hasattr(paddings, "numpy") else paddings, dtype=np.int64)
    if p.shape != (x.ndim, 2) or (p < 0).any():
        raise invalid(
            f"The first dimension of paddings must be the rank of inputs[{x.ndim},2], got {p.tolist()}", "Pad"
        )
    kind = str(mode).upper()
    if kind not in ("CONSTANT", "REFLECT", "SYMMETRIC"):
        raise ValueError(
            f'Value of argument `mode` expected to be one of "CONSTANT", "REFLECT", or "SYMMETRIC". '
            f"Received `mode` = {mode}"
        )
    if kind != "CONSTANT":
        limit = [d - (kind == "REFLECT") for d in x.shape]
        if any(before > lim or after > lim for (before, after), lim in zip(p.tolist(), limit, strict=True)):
            raise invalid(
                f"paddings must be less than{' or equal to' * (kind == 'SYMMETRIC')} the dimension size", "MirrorPad"
            )
        return take(x, lambda arr: np.pad(arr, p, mode=kind.lower()))
    c = _tensor(constant_values, x._dtype)
    if x._dtype is not F32:
        return from_array(np.pad(array_of(x), p, constant_values=array_of(c)), x._dtype)
    n = x._t.numel()
    both = wrap(_torch.cat([x._t.reshape(-1), c._t.reshape(-1)]))
    return select(both, np.pad(np.arange(n).reshape(tuple(x.shape)), p, constant_values=n))


@_record.op
def repeat(input, repeats, axis=None, name=None):
    """Each element (slice along ``axis``) of ``input`` repeated ``repeats`` times (an int or one count per
    element); ``axis=None`` repeats the flattened tensor."""
    x = _tensor(input)
    reps = np.asarray(repeats.numpy() if hasattr(repeats, "numpy") else repeats)
    ax = None if axis is None else norm_axis(axis, x.ndim, "Repeat")
    return take(x, lambda arr: np.repeat(arr, reps, axis=ax))


@_record.op
def roll(input, shift, axis, name=None):
    """``input`` with its elements shifted by ``shift`` along ``axis`` (ints or lists), wrapping around."""
    x = _tensor(input)
    sh, axes = int_list(shift, "shift"), [norm_axis(a, x.ndim, "Roll") for a in int_list(axis, "axis")]
    return take(x, lambda arr: np.roll(arr, sh, axes))


# ---------------------------------------------------------------------------------------------------- indexing
_INDEX_TYPES = (
    "Only integers, slices (`:`), ellipsis (`...`), tf.newaxis (`None`) and scalar tf.int32/tf.int64 tensors are "
    "valid indices, got {!r}"
)


def _key_int(k):
    """An int index from an int, a NumPy integer or a scalar integer tensor; None for other keys."""
    if isinstance(k, (bool, np.bool_)):
        return None
    if isinstance(k, (int, np.integer)):
        return int(k)
    t = as_tensor_like(k)
    if t is not None and t.ndim == 0 and t._dtype.is_integer:
        return int(array_of(t))
    return None


def _slice_part(s: builtins.slice) -> builtins.slice:
    parts = []
    for v in (s.start, s.stop, s.step):
        if v is None:
            parts.append(None)
            continue
        i = _key_int(v)
        if i is None:
            raise TypeError(_INDEX_TYPES.format(s))
        parts.append(i)
    if parts[2] == 0:
        raise ValueError("slice step cannot be zero")
    return builtins.slice(*parts)


@_record.op
def getitem(tensor, key):
    """``tensor[key]`` with TensorFlow's indexing rules (see the module's docstring)."""
    x = _tensor(tensor)
    if isinstance(key, (bool, np.bool_)) or (isinstance(key, np.ndarray) and key.dtype == np.bool_):
        return boolean_mask(x, key)
    t = as_tensor_like(key)
    if t is not None and t._dtype.is_bool:
        return boolean_mask(x, t)
    parts = tuple(key) if isinstance(key, (tuple, list)) else (key,)  # TensorFlow reads a list as a tuple
    norm = []
    for k in parts:
        if k is None or k is Ellipsis:
            norm.append(k)
        elif isinstance(k, builtins.slice):
            norm.append(_slice_part(k))
        else:
            i = _key_int(k)
            if i is None:
                raise TypeError(_INDEX_TYPES.format(k))
            norm.append(i)
    if builtins.sum(k is Ellipsis for k in norm) > 1:
        raise ValueError("Multiple ellipses in slice spec not allowed")
    dims = list(x.shape)
    consuming = builtins.sum(1 for k in norm if k is not None and k is not Ellipsis)
    if consuming > len(dims):
        raise invalid(
            f"Index out of range using input dim {len(dims)}; input has only {len(dims)} dims", "StridedSlice"
        )
    d = 0
    for k in norm:
        if k is Ellipsis:
            d += len(dims) - consuming
        elif k is not None:
            if isinstance(k, int) and not -dims[d] <= k < dims[d]:
                raise invalid(f"slice index {k} of dimension {d} out of bounds.", "StridedSlice")
            d += 1
    key_t = tuple(norm)
    return take(x, lambda arr: np.array(arr[key_t]))
