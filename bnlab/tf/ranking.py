"""Ordering ops: ``sort``, ``argsort``, ``math.top_k``, ``math.in_top_k`` and ``math.confusion_matrix``.

Ties keep the lower index first in every direction (TensorFlow's ``top_k``, and its stable sorts); the values of
``sort`` and ``top_k`` are gathered from the input, so their gradient is the output gradient scattered back to the
elements picked. Indices are int32, as TensorFlow's. ``in_top_k(targets, predictions, k)`` counts a target as in
the top k when fewer than k classes have a strictly larger prediction (so classes tied at the boundary are all in),
and never when its prediction is not finite.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from . import _record
from . import dtypes as _dt
from ._base import F32, norm_axis, take
from ._base import tensor as _tensor
from .errors import invalid
from .tensor import array_of, from_array

__all__ = ["argsort", "confusion_matrix", "in_top_k", "sort", "top_k"]

TopKV2 = namedtuple("TopKV2", ["values", "indices"])


def _order(a: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    """Stable argsort of ``a`` along ``axis``; descending keeps ties in their original order too."""
    if descending:
        key = -a if a.dtype.kind == "f" else np.invert(a.astype(np.int64) if a.dtype.kind in "iu" else a)
    else:
        key = a
    return np.argsort(key, axis=axis, kind="stable")


def _direction(direction) -> bool:
    if direction not in ("ASCENDING", "DESCENDING"):
        raise ValueError(f"`direction` should be one of ASCENDING, DESCENDING. Received: {direction}")
    return direction == "DESCENDING"


@_record.op
def argsort(values, axis=-1, direction="ASCENDING", stable=False, name=None):
    """The int32 indices that sort ``values`` along ``axis``."""
    x = _tensor(values)
    ax = norm_axis(axis, x.ndim, "ArgSort")
    return from_array(_order(array_of(x), ax, _direction(direction)).astype(np.int32), _dt.int32)


@_record.op
def sort(values, axis=-1, direction="ASCENDING", name=None):
    """``values`` sorted along ``axis``."""
    x = _tensor(values)
    ax = norm_axis(axis, x.ndim, "Sort")
    order = _order(array_of(x), ax, _direction(direction))
    return take(x, lambda a: np.take_along_axis(a, order, axis=ax))


@_record.op
def top_k(input, k=1, sorted=True, index_type=_dt.int32, name=None):
    """The ``k`` largest entries of the last dimension and their int32 indices, as ``(values, indices)``."""
    x = _tensor(input)
    if x.ndim == 0:
        raise invalid("input must be at least 1-D", "TopKV2")
    k = int(np.asarray(k))
    n = x.shape[-1]
    if k < 0:
        raise invalid(f"Need k >= 0, got {k}", "TopKV2")
    if k > n:
        raise invalid(f"input must have at least k columns. Had {n}, needed {k}", "TopKV2")
    idx = _order(array_of(x), x.ndim - 1, True)[..., :k]
    values = take(x, lambda a: np.take_along_axis(a, idx, axis=-1))
    it = _dt.data_dtype(index_type, "index_type")
    return TopKV2(values, from_array(idx.astype(it._np), it))


@_record.op
def in_top_k(targets, predictions, k, name=None):
    """Whether ``targets[i]`` is among the ``k`` largest of ``predictions[i]`` (a bool vector)."""
    p, t = _tensor(predictions), _tensor(targets)
    if p._dtype is not F32 or p.ndim != 2:
        raise invalid(f"predictions must be a float32 matrix, got {p.dtype.name} of shape {list(p.shape)}", "InTopKV2")
    if t.ndim != 1 or t.shape[0] != p.shape[0] or not t._dtype.is_integer:
        raise invalid(f"targets must be an integer vector of length {p.shape[0]}", "InTopKV2")
    a, ti = array_of(p), array_of(t).astype(np.int64)
    n = a.shape[1]
    valid = (ti >= 0) & (ti < n)
    target = a[np.arange(a.shape[0]), np.where(valid, ti, 0)]
    larger = (a > target[:, None]).sum(axis=1)
    return from_array(valid & np.isfinite(target) & (larger < int(k)), _dt.bool)


@_record.op
def confusion_matrix(labels, predictions, num_classes=None, weights=None, dtype=_dt.int32, name=None):
    """The (num_classes, num_classes) matrix whose [i, j] counts (or sums ``weights`` over) the examples with
    label i and prediction j; ``num_classes`` defaults to the largest label or prediction + 1."""
    lab = array_of(_tensor(labels)).astype(np.int64).reshape(-1)
    pred = array_of(_tensor(predictions)).astype(np.int64).reshape(-1)
    if lab.shape != pred.shape:
        raise ValueError(f"labels and predictions must have the same shape, got {lab.shape} and {pred.shape}")
    if (lab < 0).any() or (pred < 0).any():
        raise invalid("`labels` and `predictions` must be non-negative", "ConfusionMatrix")
    n = int(max(lab.max(initial=-1), pred.max(initial=-1)) + 1) if num_classes is None else int(num_classes)
    if (lab >= n).any() or (pred >= n).any():
        raise invalid(f"`labels` and `predictions` must be less than num_classes ({n})", "ConfusionMatrix")
    d = _dt.data_dtype(dtype)
    w = np.ones(lab.shape) if weights is None else array_of(_tensor(weights)).reshape(-1).astype(np.float64)
    out = np.zeros((n, n), dtype=np.float64)
    np.add.at(out, (lab, pred), w)
    return from_array(out.astype(d._np), d)
