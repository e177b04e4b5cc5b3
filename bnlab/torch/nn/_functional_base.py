"""What every op of ``nn.functional`` shares: the input check, the taping of one-input ops, and the
parameter-gradient buffers of ops with weights (linear, conv2d, batch/layer/group norm).

This module sits below ``functional``, ``_activations``, ``_conv``, ``_losses`` and ``_norm_functional``
(which import it, never the other way round).

Parameter gradients. PyTorch ACCUMULATES into ``.grad`` of a leaf. bnlab lets the engine's backward kernel
write a parameter's gradient straight into a buffer and then hands that buffer over, so no gradient is
copied: when a leaf already has a ``.grad``, the kernel accumulates into ``.grad``'s own memory; otherwise it
writes a fresh buffer that becomes ``.grad`` (a leaf) or goes back to the tape (an interior tensor, and
every parameter while ``autograd.grad()`` sweeps: it returns the gradients and leaves ``.grad`` alone).
"""

from __future__ import annotations

from ... import _core
from .. import autograd
from ..autograd import accumulate_leaf, record
from ..tensor import Tensor, wrap

__all__ = ["ParamGrads", "float_input", "needs_tape", "taped_unary"]

_T = _core.tensor_ops


def float_input(x, name: str = "input") -> Tensor:
    """``x`` checked to be a float32 tensor (engine ops compute in float32)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a Tensor, got {type(x).__name__}")
    if x._c is None:
        raise TypeError(f"{name} must be a float32 tensor, got {x.dtype} (convert it with .float())")
    return x


def needs_tape(*tensors) -> bool:
    """Whether an op on ``tensors`` (None entries skipped) is taped: gradient mode is on and one requires grad."""
    return autograd._GradMode.enabled and any(t is not None and t._rg for t in tensors)


def taped_unary(name: str, x: Tensor, oc, backward_op, *saved) -> Tensor:
    """The output tensor over ``oc``, the engine result of a one-input op on ``x``, taped (when x requires
    grad) with the backward ``backward_op(dx, g, *saved)``, an engine op that writes dx."""
    out = wrap(oc, x.device)
    if autograd._GradMode.enabled and x._rg:

        def backward(g):
            dx = _core.Tensor()
            backward_op(dx, g, *saved)
            return (dx,)

        record(name, out, (x,), backward)
    return out


class ParamGrads:
    """The gradient buffers of an op's parameters for one backward call, and their hand-over.

    ``ParamGrads((weight, bias))``: ``buffers`` has one engine tensor per parameter (None for a None
    parameter) and ``accumulate`` tells the kernel whether to add into them. With ``accumulate=None`` (kernels
    that can overwrite: linear, conv2d) it accumulates only when some leaf already has a ``.grad``, and then
    every buffer is either that ``.grad``'s memory or zeros; ``accumulate=True`` (the norm kernels, which always
    add) gives zeros or ``.grad``'s memory. After the kernel ran, ``hand_over()`` returns the gradients to give
    back to the tape, one per non-None parameter: None for a leaf (its ``.grad`` now holds the gradient) or
    for a parameter that does not require grad, the buffer for an interior tensor.
    """

    __slots__ = ("accumulate", "buffers", "had", "params")

    def __init__(self, params: tuple, accumulate: bool | None = None) -> None:
        # While autograd.grad() sweeps, leaves are treated as interior tensors: their gradient goes back to the
        # tape (grad() returns it), never into .grad
        into_leaves = not autograd._GradMode.capturing
        had = tuple(into_leaves and p is not None and p.grad_fn is None and p.grad is not None for p in params)
        acc = any(had) if accumulate is None else accumulate
        self.params, self.had, self.accumulate = params, had, acc
        self.buffers = tuple(None if p is None else _buffer(p, acc, h) for p, h in zip(params, had, strict=True))

    def hand_over(self) -> tuple:
        into_leaves = not autograd._GradMode.capturing
        return tuple(
            _hand_over(p, g, had, into_leaves)
            for p, g, had in zip(self.params, self.buffers, self.had, strict=True)
            if p is not None
        )


def _buffer(p, acc: bool, had_grad: bool):
    """The buffer a backward writes p's gradient into: p.grad's own memory when p is a leaf that has a
    gradient (the kernel accumulates into it), else a new one (zeros when the kernel accumulates)."""
    if had_grad:
        return p.grad._c
    shape = list(p._c.shape)
    return _core.Tensor(shape, p._c.device) if acc else _T.empty(shape, p._c.device)


def _hand_over(p, g, had_grad: bool, into_leaves: bool = True):
    """After a kernel wrote p's gradient into g: adopt it as p.grad (leaf) or return it (interior, or any
    parameter while autograd.grad() sweeps)."""
    if not p._rg:
        return None
    if p.grad_fn is None and into_leaves:
        if not had_grad:
            accumulate_leaf(p, g)
        return None
    return g
