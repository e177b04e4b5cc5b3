"""In-place operations recorded in the graph: ``rebase(t, compute)`` gives t the history of ``compute(old t)``.

PyTorch rewrites a tensor's history when an in-place op changes it (``out += residual``: out's ``grad_fn``
becomes AddBackward0, whose input is out's old history). bnlab.torch does the same in three steps: the op runs
out of place on a copy of t's old value that carries t's old history, the result is written into t's memory
(so views of it and NumPy arrays over it see the new values), and t's ``grad_fn`` becomes the result's. Nodes
recorded before keep t's old node (autograd's ``edges``), and those whose backward reads t's old values see its
version change (_versions.py) and raise PyTorch's error instead of using the new ones.
"""

from __future__ import annotations

from .. import _core
from . import _shape, _types, _versions, autograd
from .tensor import Tensor

__all__ = ["rebase", "recorded"]

_T = _core.tensor_ops


def recorded(t: Tensor, other) -> bool:
    """Whether an in-place op on t must be taped: gradients are recorded and t or the other operand needs them."""
    return autograd._GradMode.enabled and (t._rg or (isinstance(other, Tensor) and other._rg))


def rebase(t: Tensor, compute) -> Tensor:
    """t = compute(old t), taped: ``compute`` gets a copy of t's value that carries t's history (so the op's
    backward reads the value it was given, whatever happens to t later) and returns the out-of-place result,
    which is written into t's memory; t's ``grad_fn`` becomes the result's. Nodes recorded earlier keep
    t's old node (autograd's ``edges``), and those that read t's old values see its version change."""
    if t._c is None or t.dtype is not _types.float32:
        raise RuntimeError(f"bnlab.torch records in-place operations on float32 tensors only, got {t.dtype}")
    old = _shape.clone(t.detach())
    old.grad_fn, old._rg = t.grad_fn, t._rg
    result = compute(old)
    if tuple(result.shape) != tuple(t.shape):
        raise RuntimeError(f"output with shape {list(t.shape)} doesn't match the broadcast shape {list(result.shape)}")
    _T.copy(t._c, result._c)
    t.grad_fn, t._rg = result.grad_fn, result._rg
    _versions.bump(t)
    return t
