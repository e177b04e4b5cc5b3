"""Module backward hooks: ``register_full_backward_hook`` and ``register_full_backward_pre_hook``, PyTorch's way
to see (and change) the gradients at a module's boundary, e.g. a BN layer's dL/d(input) and dL/d(output):

    pre_hook(module, grad_output) -> None or a new grad_output        runs first, when dL/d(outputs) is known
    hook(module, grad_input, grad_output) -> None or a new grad_input runs when dL/d(inputs) is known

grad_input has one entry per positional argument (None for one that is not a tensor requiring grad),
grad_output one per tensor output. As PyTorch does, the module's call wraps its tensor inputs and outputs in
identity ops (named BackwardHookFunction) whose backward steps collect those gradients; a module whose inputs
need no gradient gets its hook called with grad_input all None, right after the pre-hooks (with PyTorch's
UserWarning saying so).
"""

from __future__ import annotations

import warnings

from ... import _versions, autograd
from ...tensor import Tensor, wrap

__all__ = ["call_with_backward_hooks"]


def _tensor(g, like):
    return None if g is None else wrap(g, like.device)


def _identity(t: Tensor, on_grad) -> Tensor:
    """t seen through an identity op whose backward hands its gradient to ``on_grad`` (which may replace it)."""
    out = _versions.share(t, wrap(t._c, t.device))  # the same memory

    def backward(g):
        return (on_grad(g),)

    autograd.record("BackwardHookFunction", out, (t,), backward, reads=(False,), reads_output=False)
    return out


class _Boundary:
    """One call's gradients: the outputs' as they arrive, then the inputs'; calls the hooks once each."""

    def __init__(self, module, args, pre_hooks, hooks) -> None:
        self.module, self.pre_hooks, self.hooks = module, pre_hooks, hooks
        self.inputs = [a if isinstance(a, Tensor) and a._rg else None for a in args]
        self.grad_input = [None] * len(args)
        self.waiting_inputs = sum(a is not None for a in self.inputs)
        self.outputs = []
        self.grad_output = []
        self.waiting_outputs = 0
        self.output_done = False

    def output_gradient(self, i, g):
        self.grad_output[i] = _tensor(g, self.outputs[i])
        self.waiting_outputs -= 1
        if self.waiting_outputs:
            return g
        grads = tuple(self.grad_output)
        for hook in list(self.pre_hooks.values()):
            new = hook(self.module, grads)
            if new is not None:
                grads = tuple(new) if isinstance(new, (tuple, list)) else (new,)
        self.grad_output = list(grads)
        self.output_done = True
        if not self.waiting_inputs:  # no input needs a gradient: the hooks see grad_input all None
            if self.hooks:
                warnings.warn(
                    "Full backward hook is firing when gradients are computed with respect to module outputs since "
                    "no inputs require gradients. See https://docs.pytorch.org/docs/main/generated/"
                    "torch.nn.Module.html#torch.nn.Module.register_full_backward_hook for more details.",
                    UserWarning,
                    stacklevel=2,
                )
            self._call_hooks()
        changed = self.grad_output[i]
        return g if changed is None else changed._c

    def input_gradient(self, i, g):
        self.grad_input[i] = _tensor(g, self.inputs[i])
        self.waiting_inputs -= 1
        if self.waiting_inputs:
            return g
        new = self._call_hooks()
        if new is not None and new[i] is not None:
            return new[i]._c
        return g

    def _call_hooks(self):
        result = None
        grads = tuple(self.grad_input)
        for hook in list(self.hooks.values()):
            new = hook(self.module, grads, tuple(self.grad_output))
            if new is not None:
                grads = tuple(new) if isinstance(new, (tuple, list)) else (new,)
                if len(grads) != len(self.grad_input):
                    raise RuntimeError(
                        f"backward hook returned an invalid number of grad_input, got {len(grads)}, "
                        f"but expected {len(self.grad_input)}"
                    )
                result = grads
        return result


def call_with_backward_hooks(module, forward, args, kwargs, pre_hooks: dict, hooks: dict):
    """forward(*args, **kwargs) with its tensor inputs and outputs wrapped for the module's backward hooks."""
    if not autograd.is_grad_enabled():
        return forward(*args, **kwargs)
    boundary = _Boundary(module, args, pre_hooks, hooks)
    wrapped = tuple(
        _identity(a, lambda g, i=i: boundary.input_gradient(i, g)) if boundary.inputs[i] is not None else a
        for i, a in enumerate(args)
    )
    out = forward(*wrapped, **kwargs)
    outs = out if isinstance(out, tuple) else (out,)
    result = []
    for o in outs:
        if isinstance(o, Tensor) and o._rg:
            boundary.outputs.append(o)
            boundary.grad_output.append(None)
            boundary.waiting_outputs += 1
            k = len(boundary.outputs) - 1
            result.append(_identity(o, lambda g, k=k: boundary.output_gradient(k, g)))
        else:
            result.append(o)
    return tuple(result) if isinstance(out, tuple) else result[0]
