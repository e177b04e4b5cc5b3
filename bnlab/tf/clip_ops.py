"""Clipping: ``clip_by_value``, ``clip_by_norm``, ``clip_by_global_norm`` and ``linalg.global_norm``.

clip_by_value(t, lo, hi)      max(min(t, hi), lo), TensorFlow's order (so lo wins where lo > hi); the
                              gradient reaches t where lo <= t <= hi, and lo / hi where they were picked
clip_by_norm(t, c, axes)      t * c / max(||t||, c), with ||t|| the L2 norm over ``axes`` (all by default)
global_norm(ts)               sqrt(sum over the tensors of sum(t^2)) (None entries skipped)
clip_by_global_norm(ts, c)    ([t * c * min(1 / n, 1 / c) for t in ts], n) with n the global norm; NaN
                              values when n is not finite
"""

from __future__ import annotations

import numpy as np

from . import _record
from ._base import tensor as _tensor
from .tensor import array_of

__all__ = ["clip_by_global_norm", "clip_by_norm", "clip_by_value", "global_norm"]


@_record.op
def clip_by_value(t, clip_value_min, clip_value_max, name=None):
    """``t`` with values below ``clip_value_min`` raised to it and above ``clip_value_max`` lowered to it."""
    from .math_ops import maximum, minimum

    x = _tensor(t)
    out = maximum(minimum(x, clip_value_max), clip_value_min)
    if out.shape != x.shape:
        raise ValueError(f"Shapes {out.shape} and {x.shape} are incompatible: clip values must not broadcast t")
    return out


@_record.op
def clip_by_norm(t, clip_norm, axes=None, name=None):
    """``t`` scaled down so that its L2 norm over ``axes`` is at most ``clip_norm``."""
    from .math_ops import divide, maximum, multiply, sqrt
    from .reduce_ops import reduce_sum
    from .shape_ops import where

    x = _tensor(t)
    l2sum = reduce_sum(multiply(x, x), axes, keepdims=True)
    positive = array_of(l2sum) > 0
    safe = where(positive, l2sum, np.ones((), np.float32))
    l2norm = where(positive, sqrt(safe), l2sum)
    return divide(multiply(x, clip_norm), maximum(l2norm, clip_norm))


@_record.op
def global_norm(t_list, name=None):
    """sqrt of the sum of the squares of every element of every tensor of ``t_list`` (None entries skipped)."""
    from .math_ops import multiply, sqrt
    from .reduce_ops import add_n, reduce_sum

    parts = [reduce_sum(multiply(_tensor(v), _tensor(v))) for v in t_list if v is not None]
    if not parts:
        return _tensor(0.0)
    return sqrt(add_n(parts))


@_record.op
def clip_by_global_norm(t_list, clip_norm, use_norm=None, name=None):
    """``(clipped, norm)``: every tensor of ``t_list`` times ``clip_norm / max(norm, clip_norm)``, with ``norm`` the
    global norm of the list (``use_norm`` when given); None entries stay None."""
    from .math_ops import add, minimum, multiply, reciprocal, subtract

    if isinstance(t_list, (str, bytes)) or not hasattr(t_list, "__iter__"):
        raise TypeError("`t_list` should be a sequence of tensors")
    items = list(t_list)
    norm = global_norm(items) if use_norm is None else _tensor(use_norm)
    c = _tensor(clip_norm, norm.dtype)
    scale = multiply(c, minimum(reciprocal(norm), reciprocal(c)))
    scale = add(scale, subtract(norm, norm))  # NaN when the norm is not finite, as TensorFlow
    return [None if v is None else multiply(v, scale) for v in items], norm
