"""The plumbing of the ``nn.functional`` ops that compute on the host with NumPy (the activations of
``_pointwise_functional``, the losses of ``_loss_functional``, padding, embedding, 1-D and adaptive pooling,
instance norm...): reading float tensors as arrays, making the result tensor on their device, taping a backward
written in NumPy, the in-place forms, and the loss reductions.

* ``apply(name, inputs, compute)``: ``compute(*arrays)`` gets the inputs' data as NumPy arrays (float32, None for
  a None input) and returns ``(y, grads)``: the result and a function ``grads(g)`` that maps dL/dy (a NumPy
  array shaped like y) to one gradient per input (a NumPy array or None). The result becomes a float32 tensor
  on the inputs' device; when gradients are recorded and an input requires grad the op is taped, its
  gradients summed down to each input's shape (``unbroadcast``) and moved to the input's device. The arithmetic
  runs in float64 and is rounded to float32 once, so results agree with PyTorch's float32 kernels to about one
  unit in the last place.
* ``inplace(fn, input, *args)``: ``fn(input, *args)`` written into the input's memory, taped through
  ``_rebase.rebase`` when the input is in the graph (its history then ends in ``fn``, as PyTorch's ``relu_``).
* ``reduce(loss, reduction)``: the 'mean' / 'sum' / 'none' reduction of an elementwise loss and the seed of its
  backward (dL/d(loss elementwise) = g / n, g or g).
"""

from __future__ import annotations

import warnings

import numpy as np

from ... import _core
from .. import _versions, autograd
from .._rebase import rebase, recorded
from .._shape import check_inplace
from ..autograd import record
from ..tensor import Tensor, check_same_device, host
from ._functional_base import float_input

__all__ = ["apply", "core_of", "inplace", "legacy_reduction", "reduce", "unbroadcast"]

_T = _core.tensor_ops
F64 = np.float64


def core_of(array, device):
    """The engine tensor (float32) over a NumPy array, on ``device``."""
    c = _core.Tensor.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    return c if device.type == "cpu" else c.to(device.core)


def unbroadcast(g: np.ndarray, shape: tuple) -> np.ndarray:
    """``g`` summed down to ``shape`` (the inverse of broadcasting ``shape`` up to g's shape)."""
    shape = tuple(shape)
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


def apply(name: str, inputs: tuple, compute) -> Tensor:
    """The op ``compute`` on ``inputs`` (float tensors or None), taped for autograd; see the module docstring."""
    present = tuple(t for t in inputs if t is not None)
    check_same_device(*present)
    arrays = [None if t is None else t._np() for t in inputs]
    y, grads = compute(*arrays)
    device = present[0].device
    out = host(np.asarray(y, dtype=np.float32), device)
    if autograd._GradMode.enabled and any(t._rg for t in present):

        def backward(g):
            gs = grads(g.numpy().astype(F64))
            result = []
            for t, gt in zip(inputs, gs, strict=True):
                if t is None:
                    continue
                if gt is None or not t._rg:
                    result.append(None)
                else:
                    gt = np.broadcast_to(gt, np.broadcast_shapes(np.shape(gt), tuple(t.shape)))
                    result.append(core_of(unbroadcast(gt, tuple(t.shape)), t.device))
            return tuple(result)

        record(name, out, present, backward)
    return out


def inplace(fn, input, *args, **kwargs) -> Tensor:
    """``fn(input, *args)`` written into ``input``'s memory; ``input`` is returned."""
    x = float_input(input)
    check_inplace(x, recorded=True)
    if recorded(x, None):
        return rebase(x, lambda old: fn(old, *args, **kwargs))
    result = fn(x.detach(), *args, **kwargs)
    _T.copy(x._c, result._c)  # into x's own memory: its views and NumPy arrays see the result
    _versions.bump(x)
    return x


def f64(a) -> np.ndarray:
    return np.asarray(a, dtype=F64)


# ---------------------------------------------------------------- reductions
_REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction: str, allowed=_REDUCTIONS) -> None:
    if reduction not in allowed:
        raise ValueError(f"{reduction} is not a valid value for reduction")


def legacy_reduction(size_average, reduce_, reduction: str, emit_warning: bool = True) -> str:
    """PyTorch's mapping of the deprecated ``size_average`` and ``reduce`` arguments to ``reduction``, with its
    warning: both None keep ``reduction``; reduce=False gives 'none', else size_average=False gives 'sum'."""
    if size_average is None and reduce_ is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce_ = True if reduce_ is None else reduce_
    ret = ("mean" if size_average else "sum") if reduce_ else "none"
    if emit_warning:
        warnings.warn(
            f"size_average and reduce args will be deprecated, please use reduction='{ret}' instead.",
            UserWarning,
            stacklevel=3,
        )
    return ret


def reduce(loss: np.ndarray, reduction: str):
    """(the reduced loss, seed) where ``seed(g)`` is dL/d(loss) elementwise for the incoming gradient g."""
    check_reduction(reduction)
    if reduction == "none":
        return loss, lambda g: g
    n = loss.size
    if reduction == "sum":
        return loss.sum(), lambda g: np.broadcast_to(g, loss.shape)
    return (loss.sum() / n if n else F64("nan")), lambda g: np.broadcast_to(g / n if n else g * np.nan, loss.shape)


def same_size_warning(input: Tensor, target: Tensor, stacklevel: int = 3) -> None:
    """PyTorch's warning for a regression loss whose target size differs from the input size (it broadcasts)."""
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(
            f"Using a target size ({target.shape}) that is different to the input size ({input.shape}). This will "
            "likely lead to incorrect results due to broadcasting. Please ensure they have the same size.",
            UserWarning,
            stacklevel=stacklevel,
        )


def as_float_tensor(t, name: str = "target") -> Tensor:
    """A tensor operand as float32 (integer targets are converted, as PyTorch promotes them)."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{name} must be a Tensor, got {type(t).__name__}")
    return t if t._c is not None else host(t._np().astype(np.float32), t.device)
