"""Hooks, as PyTorch's: the removable handle, and running a tensor's gradient hooks.

* ``t.register_hook(fn)``: ``fn(grad)`` runs when the gradient with respect to ``t`` has been summed over
  every path, before it flows on (to ``t``'s inputs, or into a leaf's ``.grad``); a returned tensor
  replaces the gradient (its shape may not change). Hooks run in the order they were registered.
* ``t.retain_grad()``: a non-leaf tensor keeps that gradient in ``t.grad`` too (after its hooks, as PyTorch
  runs the retain-grad hook last), accumulating over backward calls like a leaf's. No-op on a leaf.
* Module hooks (``register_forward_pre_hook``, ``register_forward_hook``) live in modules/module.py.
Each registration returns a ``RemovableHandle``: ``handle.remove()``, or a ``with`` block.
"""

from __future__ import annotations

import itertools

_ids = itertools.count()


class RemovableHandle:
    """Removes the hook it was returned for from ``hooks`` (a dict id -> hook): ``remove()`` or ``with``."""

    def __init__(self, hooks: dict) -> None:
        self.id = next(_ids)
        self._hooks = hooks

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def add(hooks: dict, fn) -> RemovableHandle:
    """Register ``fn`` in ``hooks`` and return its handle."""
    if not callable(fn):
        raise TypeError(f"a hook must be callable, got {type(fn).__name__}")
    handle = RemovableHandle(hooks)
    hooks[handle.id] = fn
    return handle


def run_tensor_hooks(hooks: dict, g, wrap):
    """Pass the gradient ``g`` (a ``_core.Tensor``) through each hook; ``wrap(c)`` makes the Tensor a hook
    sees. Returns the gradient as it leaves the last hook."""
    for fn in list(hooks.values()):
        out = fn(wrap(g))
        if out is None:
            continue
        c = getattr(out, "_c", None)
        if c is None:
            raise TypeError(f"a tensor hook must return None or a float Tensor, got {type(out).__name__}")
        if list(c.shape) != list(g.shape):
            raise RuntimeError(
                f"hook '{getattr(fn, '__name__', 'hook')}' has changed the size of value: expected "
                f"{list(g.shape)}, got {list(c.shape)}"
            )
        g = c
    return g
