"""The in-place forms of the elementwise functions: ``t.exp_()``, ``t.sigmoid_()``, ``t.floor_()``... (20 of
them). Each computes the function out of place and writes the result into t's memory; while gradients are
recorded and t is in the graph, through ``_rebase.rebase`` (t's history then ends in the function, as in
PyTorch). A float result does not go into an integer tensor: PyTorch's "result type Float can't be cast to the
desired output type Long".
"""

from __future__ import annotations

import numpy as np

from .. import _core
from . import _elementwise, _math, _versions
from ._rebase import rebase, recorded
from ._shape import check_inplace
from .nn import _activations

__all__ = ["METHODS"]

_T = _core.tensor_ops


def _inplace(fn):
    def op(t, *args, **kwargs):
        check_inplace(t, recorded=True)
        if recorded(t, None):
            return rebase(t, lambda old: fn(old, *args, **kwargs))
        result = fn(t.detach(), *args, **kwargs)
        if result.dtype is not t.dtype:
            raise RuntimeError(
                f"result type {_versions.scalar_name(result.dtype)} can't be cast to the desired output type "
                f"{_versions.scalar_name(t.dtype)}"
            )
        if t._c is None:
            np.copyto(t._a, result._np())
        else:
            _T.copy(t._c, result._c)
        _versions.bump(t)
        return t

    op.__name__ = fn.__name__ + "_"
    op.__doc__ = f"In place: ``t.{fn.__name__}_()`` writes {fn.__name__}(t) into t and returns t."
    return op


_FUNCTIONS = {name: getattr(_elementwise, name) for name in _elementwise.__all__}
_FUNCTIONS.update(
    neg=_math.neg,
    exp=_math.exp,
    log=_math.log,
    sqrt=_math.sqrt,
    abs=_math.abs,
    sigmoid=_activations.sigmoid,
    tanh=_activations.tanh,
)
METHODS = {name + "_": _inplace(fn) for name, fn in _FUNCTIONS.items()}
