"""The selections along a dim, computed on the host with NumPy (_host.py): ``median``, ``kthvalue``, ``mode``,
``sort``/``argsort``/``msort``, ``topk``, ``cummax``/``cummin``. Each returns PyTorch's named (values, indices)
pair (``median()`` of all elements, ``argsort`` and ``msort`` one tensor). ``sort`` is stable and puts nan last
(first when descending), as PyTorch does; ``median`` and ``kthvalue`` pick the lower middle value, a slice holding
nan gives nan (median); ``mode`` gives the smallest of the most frequent values and its last index; ``cummax``
and ``cummin`` the last index on ties. Backward rules (g = dL/d(values)):

    the selections with indices: g scattered (added) to the indices along the dim
    median() of all elements: g shared evenly by the elements equal to the median
"""

from __future__ import annotations

import builtins

import numpy as np

from ._host import check_tensor, result
from ._names import numpy_aliases
from ._reductions import _along
from ._shape import _return_type, norm_dim

_RESULTS = {name: _return_type(name) for name in ("median", "mode", "kthvalue", "sort", "topk", "cummax", "cummin")}


def _scatter_add(shape, idx, g, axis):
    full = np.zeros(shape, np.float32)
    grids = list(np.indices(idx.shape, sparse=True))
    grids[axis] = idx
    np.add.at(full, tuple(grids), np.reshape(g, idx.shape))
    return full


def _selection(name, input, dim, keepdim, pick, rtype=None):
    """(values, indices) of the elements ``pick(a, axis)`` selects (indices with the axis kept), taped."""
    check_tensor(input, name)
    a, axis = _along(input, dim)
    idx = pick(a, axis)
    vals = np.take_along_axis(a, idx, axis)
    if input.dim() == 0:
        vals, idx_out = vals.reshape(()), idx.reshape(())
    elif keepdim:
        idx_out = idx
    else:
        vals, idx_out = np.squeeze(vals, axis), np.squeeze(idx, axis)
    shape = input.shape
    values = result(name.capitalize(), vals, (input,), lambda g: (_scatter_add(a.shape, idx, g, axis).reshape(shape),))
    indices = result(name, idx_out.astype(np.int64), (input,))
    return (rtype or _RESULTS[name])(values, indices)


def _stable_order(a, axis, descending):
    """Indices that sort ``a`` along ``axis``, equal values in their original order, nan last (first when
    descending)."""
    if not descending:
        return np.argsort(a, axis=axis, kind="stable")
    n = a.shape[axis]
    reversed_order = np.argsort(np.flip(a, axis), axis=axis, kind="stable")
    return n - 1 - np.flip(reversed_order, axis)


def _nan_first(a, axis, idx):
    """idx with the slices holding a nan pointing at their first nan (PyTorch's median propagates nan)."""
    if a.dtype.kind != "f":
        return idx
    nan = np.isnan(a)
    has = np.any(nan, axis=axis, keepdims=True)
    return np.where(has, np.argmax(nan, axis=axis, keepdims=True), idx)


@numpy_aliases
def median(input, dim=None, keepdim: bool = False):
    """The lower of the two middle values (of all elements, or ``(values, indices)`` along ``dim``)."""
    check_tensor(input, "median")
    if dim is None:
        flat = input._np().reshape(-1)
        if flat.size == 0:
            return result(
                "Median", np.array(np.nan, flat.dtype) if flat.dtype.kind == "f" else flat[:0].sum(), (input,)
            )
        v = (
            flat[np.argmax(np.isnan(flat))]
            if flat.dtype.kind == "f" and np.isnan(flat).any()
            else np.sort(flat)[(flat.size - 1) // 2]
        )
        shape = input.shape

        def backward(g):
            ties = (flat == v) | (np.isnan(flat) & np.isnan(v))
            return ((g * ties / builtins.max(ties.sum(), 1)).reshape(shape),)

        return result("Median", np.asarray(v), (input,), backward)

    def pick(a, axis):
        order = np.argsort(a, axis=axis, kind="stable")
        k = (a.shape[axis] - 1) // 2
        return _nan_first(a, axis, np.take(order, [k], axis=axis))

    return _selection("median", input, dim, keepdim, pick)


def kthvalue(input, k: int, dim: int = -1, keepdim: bool = False):
    """The k-th smallest value along ``dim`` (k counts from 1) and its index."""
    n = input.shape[norm_dim(dim, input.dim())] if input.dim() else 1
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {dim}")
    return _selection(
        "kthvalue",
        input,
        dim,
        keepdim,
        lambda a, axis: np.take(np.argsort(a, axis=axis, kind="stable"), [k - 1], axis=axis),
    )


def mode(input, dim: int = -1, keepdim: bool = False):
    """The most frequent value along ``dim`` (the smallest of the most frequent) and its last index."""

    def pick(a, axis):
        m = np.moveaxis(a, axis, -1)
        rows = m.reshape(-1, m.shape[-1])
        idx = np.empty(rows.shape[0], np.int64)
        for r, row in enumerate(rows):
            values, counts = np.unique(row, return_counts=True)
            v = values[np.argmax(counts)]
            idx[r] = row.size - 1 - np.argmax(row[::-1] == v)
        return np.expand_dims(idx.reshape(m.shape[:-1]), axis)

    return _selection("mode", input, dim, keepdim, pick)


def sort(input, dim: int = -1, descending: bool = False, stable: bool = False):
    """The values sorted along ``dim`` and the indices they came from (stable: ties keep their order)."""
    return _selection("sort", input, dim, True, lambda a, axis: _stable_order(a, axis, descending))


def argsort(input, dim: int = -1, descending: bool = False, stable: bool = False):
    """The indices that sort ``input`` along ``dim``."""
    return sort(input, dim, descending).indices


def msort(input):
    """``input`` sorted along dim 0."""
    return sort(input, 0).values


def topk(input, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    """The k largest (``largest=False``: smallest) values along ``dim``, in order, and their indices."""
    n = input.shape[norm_dim(dim, input.dim())] if input.dim() else 1
    if not 0 <= k <= n:
        raise RuntimeError("selected index k out of range")
    return _selection(
        "topk", input, dim, True, lambda a, axis: np.take(_stable_order(a, axis, largest), np.arange(k), axis=axis)
    )


def _cumulative(name, input, dim, np_fn):
    def pick(a, axis):
        out = np_fn.accumulate(a, axis=axis)
        mark = a == out
        if a.dtype.kind == "f":
            mark |= np.isnan(a)
        shape = [1] * a.ndim
        shape[axis] = a.shape[axis]
        positions = np.where(mark, np.arange(a.shape[axis]).reshape(shape), 0)
        return np.maximum.accumulate(positions, axis=axis)

    return _selection(name, input, dim, True, pick)


def cummax(input, dim: int):
    """The running maximum along ``dim`` and where it was found (the last index on ties)."""
    return _cumulative("cummax", input, dim, np.maximum)


def cummin(input, dim: int):
    """The running minimum along ``dim`` and where it was found."""
    return _cumulative("cummin", input, dim, np.minimum)


FUNCTIONS = {
    "median": median,
    "kthvalue": kthvalue,
    "mode": mode,
    "sort": sort,
    "argsort": argsort,
    "msort": msort,
    "topk": topk,
    "cummax": cummax,
    "cummin": cummin,
}
