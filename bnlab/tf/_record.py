"""When the TensorFlow face records ops: only while a ``GradientTape`` is recording.

The TF face runs every op on bnlab.torch's tensors, so it has ONE autograd: bnlab.torch's tape
(``bnlab.torch.autograd``: a ``Node`` per op, with the op's backward closure over the engine's kernels). TensorFlow
records an op only inside a ``with tf.GradientTape():`` block and only when an input is watched (a trainable
``tf.Variable``, or a tensor passed to ``tape.watch``). The same rule here: a watched tensor is a bnlab.torch
tensor with ``requires_grad``, and each op of this face runs with bnlab.torch's gradient mode switched on exactly
while some tape records (``recording()``), and off otherwise, whatever bnlab.torch's own mode is. So a
Variable used outside every tape builds no graph, as in TensorFlow.
"""

from __future__ import annotations

import functools

from ..torch import autograd as _autograd

__all__ = ["op", "pop", "push", "recording", "scope"]

# The tapes that are recording now, innermost last (a tape inside ``stop_recording()`` is taken off).
_active: list = []


def recording() -> bool:
    """Whether an op run now is taped (some GradientTape records)."""
    return bool(_active)


def push(tape) -> None:
    _active.append(tape)


def pop(tape) -> None:
    # The innermost occurrence: tapes nest (``with`` blocks), and a tape may be re-entered.
    for i in range(len(_active) - 1, -1, -1):
        if _active[i] is tape:
            del _active[i]
            return


class scope:  # noqa: N801 - used as a context manager, like no_grad
    """``with scope():`` — run bnlab.torch ops with gradient mode on exactly while a tape records."""

    __slots__ = ("prev",)

    def __enter__(self) -> None:
        self.prev = _autograd._GradMode.enabled
        _autograd._GradMode.enabled = bool(_active)

    def __exit__(self, *exc) -> None:
        _autograd._GradMode.enabled = self.prev


def op(fn):
    """Decorator for a TF-face op: its bnlab.torch ops are taped only while a GradientTape records."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        mode = _autograd._GradMode
        prev = mode.enabled
        mode.enabled = bool(_active)
        try:
            return fn(*args, **kwargs)
        finally:
            mode.enabled = prev

    return wrapper
