"""``tf.GradientTape``: reverse-mode gradients of the TF face, on bnlab.torch's one autograd.

    with tf.GradientTape() as tape:
        logits = model(x, training=True)         # Keras model: each engine layer call is taped
        loss = loss_fn(y, logits)
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))

While the ``with`` block runs, the TF face's ops are recorded on bnlab.torch's tape (``_record``): those with a
watched input, i.e. a trainable ``tf.Variable``, a Keras model's weights, or a tensor passed to ``watch``.
``gradient(target, sources)`` is then d(sum of target)/d(each source) (``output_gradients`` seed it), computed
by ``bnlab.torch.autograd.grad`` without touching any ``.grad``; sources may be nested (lists, tuples, dicts)
and come back in the same structure. A source the target does not depend on gives None
(``unconnected_gradients="zero"``: zeros). A tape gives one set of gradients unless ``persistent=True``.
"""

from __future__ import annotations

import enum

from .. import teaching
from ..torch import autograd
from . import _keras_bridge, _record

__all__ = ["GradientTape", "UnconnectedGradients"]


class UnconnectedGradients(enum.Enum):
    """What ``gradient`` returns for a source the target does not depend on."""

    NONE = "none"
    ZERO = "zero"


def _flatten(structure, out):
    if isinstance(structure, dict):
        for k in sorted(structure):
            _flatten(structure[k], out)
    elif isinstance(structure, (list, tuple)):
        for s in structure:
            _flatten(s, out)
    else:
        out.append(structure)
    return out


def _pack(structure, flat):
    if isinstance(structure, dict):
        return {k: _pack(structure[k], flat) for k in sorted(structure)}
    if isinstance(structure, (list, tuple)):
        items = [_pack(s, flat) for s in structure]
        return items if isinstance(structure, list) else tuple(items)
    return flat.pop(0)


def _torch_of(obj, what):
    """The bnlab.torch tensor behind a TF tensor, a tf.Variable or a Keras Variable."""
    leaf = _keras_bridge.keras_variable_tensor(obj)
    if leaf is not None:
        return leaf
    t = getattr(obj, "_t", None)
    if t is None:
        raise TypeError(f"GradientTape: {what} must be tensors or variables, got {type(obj).__name__}")
    return t


class GradientTape:
    """Records the TF face's operations for automatic differentiation (TensorFlow's ``tf.GradientTape``)."""

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self._persistent = bool(persistent)
        self._watch_accessed = bool(watch_accessed_variables)
        self._used = False
        self._watched = []
        self._bn_inference_calls = []
        self._open = False

    def __enter__(self):
        self._open = True
        _record.push(self)
        return self

    def __exit__(self, *exc):
        _record.pop(self)
        self._open = False
        return False

    def stop_recording(self):
        """``with tape.stop_recording():`` — ops inside are not taped."""
        tape = self

        class _Pause:
            def __enter__(self):
                _record.pop(tape)

            def __exit__(self, *exc):
                _record.push(tape)
                return False

        return _Pause()

    def reset(self):
        """Forget what was watched (the tape keeps recording if it is open)."""
        self._watched = []
        self._bn_inference_calls = []

    def watch(self, tensor):
        """Record the ops on ``tensor`` (a tensor, a variable, or a nested structure of them) from now on."""
        for t in _flatten(tensor, []):
            tt = _torch_of(t, "watched values")
            if tt.dtype.is_floating_point and not tt._rg and tt.grad_fn is None:
                tt.requires_grad_(True)
            self._watched.append(t)

    def watched_variables(self):
        return tuple(self._watched)

    def gradient(self, target, sources, output_gradients=None, unconnected_gradients=UnconnectedGradients.NONE):
        """d(sum of ``target``)/d(each of ``sources``), in the structure of ``sources``."""
        from .tensor import wrap
        from .variables import convert_to_tensor

        if self._used and not self._persistent:
            raise RuntimeError(
                "A non-persistent GradientTape can only be used to compute one set of gradients (or jacobians)"
            )
        mode = UnconnectedGradients(getattr(unconnected_gradients, "value", unconnected_gradients))
        self._used = True
        flat_sources = _flatten(sources, [])
        if self._bn_inference_calls:  # BN models called in inference mode whose weights are differentiated
            asked = {id(s) for s in flat_sources}
            for owner in dict.fromkeys(o for o, ids in self._bn_inference_calls if ids & asked):
                teaching.warn_bn_inference_mode_in_tape(owner, stacklevel=2)
            self._bn_inference_calls = []
        src = [_torch_of(s, "sources") for s in flat_sources]
        targets = [_torch_of(convert_to_tensor(t), "targets") for t in _flatten(target, [])]
        seeds = None
        if output_gradients is not None:
            seeds = [convert_to_tensor(g)._t for g in _flatten(output_gradients, [])]
        live = [t for t in targets if t._rg]
        wanted = [i for i, s in enumerate(src) if s._rg]
        found = [None] * len(src)
        if live and wanted:
            if seeds is None:
                from ..torch import ones_like

                seeds_live = [ones_like(t.detach()) for t in live]
            else:
                seeds_live = [s for s, t in zip(seeds, targets, strict=True) if t._rg]
            with autograd.no_grad():
                grads = autograd.grad(
                    live, [src[i] for i in wanted], grad_outputs=seeds_live, retain_graph=True, allow_unused=True
                )
            for i, g in zip(wanted, grads, strict=True):
                found[i] = g
        out = []
        for s, g in zip(src, found, strict=True):
            if g is None and mode is UnconnectedGradients.ZERO:
                from ..torch import zeros_like

                g = zeros_like(s.detach())
            out.append(None if g is None else wrap(g.detach()))
        return _pack(sources, out) if isinstance(sources, (list, tuple, dict)) else out[0]
