"""Keras models, layers and losses on the TF core's tensors: each engine layer call taped on bnlab.torch's tape.

Registered as ``bnlab.keras._eager.handler`` when ``bnlab.tf`` loads. A Keras call with a ``tf.Tensor``, or while
a ``GradientTape`` records, comes here. Each engine layer runs its own forward (``layer._engine.forward``); the
tape gets one node per layer whose parents are the input and the layer's trainable weights (as bnlab.torch leaf
tensors sharing the engine's memory: ``keras_variable_tensor``) and whose backward is the engine layer's own
backward (d input, and the parameter gradients it fills). So ``tape.gradient(loss, model.trainable_variables)``
gives the engine's gradients, and BN's batch statistics, x_hat and moving statistics are the same as in ``fit``.

A layer written in Python (``tf.keras.layers.Layer`` with ``call``) runs its own ``call`` on TF tensors, so the tape
records its ops directly (``_python_layers``); in a Sequential or functional model the two kinds follow each other.
An engine layer called with ``training=None`` inside a Python layer's call gets the outer call's flag, as in Keras.

An engine layer keeps the cache of its LAST forward only: a node checks at backward time that its layer has not
run again since (another call, fit, predict) and raises otherwise, instead of differentiating a stale cache.
"""

from __future__ import annotations

import weakref

import numpy as np

from .. import teaching
from ..torch import autograd
from ..torch.tensor import _F32
from ..torch.tensor import wrap as _torch_wrap
from . import _python_layers, _record

_leaves: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def keras_variable_tensor(obj):
    """The bnlab.torch leaf of a Keras Variable (shared memory, requires_grad), or None for other objects."""
    from ..keras.layers.base import Variable

    if not isinstance(obj, Variable):
        return None
    leaf = _leaves.get(obj)
    if leaf is None:
        leaf = _leaves[obj] = _torch_wrap(obj._tensor)
        leaf.requires_grad_(True)
    return leaf


def _runs(layer) -> int:
    return layer.__dict__.get("_engine_runs", 0)


def _ran(layer) -> int:
    n = layer.__dict__["_engine_runs"] = _runs(layer) + 1
    return n


def _as_input(x):
    """x as a float32 bnlab.torch tensor (a tf.Tensor's own, so that gradients reach it)."""
    from .variables import convert_to_tensor

    t = convert_to_tensor(x)._t
    if t.dtype is not _F32:
        t = t.float()
    return t


def _run_layer(layer, h, training, tape_calls):
    engine = layer._engine
    out = _torch_wrap(engine.forward(h._c, bool(training)), h.device)
    stamp = _ran(layer)
    weights = list(layer.trainable_weights)
    leaves = tuple(keras_variable_tensor(v) for v in weights)
    parents = (h, *leaves)
    if _record.recording() and any(p._rg for p in parents):
        names = [v.name for v in weights]
        if tape_calls is not None:
            tape_calls.append(layer)

        def backward(g):
            if _runs(layer) != stamp:
                raise RuntimeError(
                    f"GradientTape.gradient: layer {layer.name!r} ran again after this call was recorded (another "
                    "call, fit or predict). bnlab's engine layers keep the cache of their last forward only: take "
                    "the gradient before running the model again."
                )
            dx = engine.backward(g)
            grads = {name: grad for name, _, grad in engine.params()}
            return (dx, *(grads[n].to(grads[n].device) for n in names))

        with _record.scope():
            autograd.record(f"Keras{type(layer).__name__}", out, parents, backward, reads=(False,) * len(parents))
    return out


def _wrap(t):
    from .tensor import wrap

    return wrap(t)


def _note_mode(owner, training, has_bn, weights):
    """Note a BN call in inference mode on the recording tapes (``weights``: the caller's trainable Variables,
    so that the tape warns only when it differentiates with respect to them), or warn for training mode with no
    tape recording."""
    if not has_bn:
        return
    if _record.recording():
        if not training:
            ids = frozenset(id(w) for w in weights)
            for tape in _record._active:
                tape._bn_inference_calls.append((owner, ids))
    elif training:
        teaching.warn_bn_training_mode_outside_tape(owner, stacklevel=4)


def call_model(model, x, training):
    h = _as_input(x)
    model._prepare_x(h.numpy(force=True))  # the model's checks on x, and its build
    _note_mode(f"model {model.name!r}", training, model._has_batchnorm(), model.trainable_variables)

    def run(layer, v):
        if layer._is_python_layer:
            return _as_input(_python_layers.call_layer(layer, _wrap(v), training))
        return _run_layer(layer, v, training, None)

    with _python_layers.calling(training):
        if hasattr(model, "_run_graph"):  # a functional model: its graph, each Add a sum on the tape
            return _wrap(model._run_graph(h, run))
        for layer in model.layers:
            h = run(layer, h)
    return _wrap(h)


def call_layer(layer, x, training):
    from ..keras.layers.normalization import BatchNormalization

    h = _as_input(x)
    training = _python_layers.training_now(training)
    if not layer.built:
        layer.build((None, *h.shape[1:]))
    _note_mode(f"layer {layer.name!r}", training, isinstance(layer, BatchNormalization), layer.trainable_variables)
    return _wrap(_run_layer(layer, h, training, None))


def call_loss(loss, y_true, y_pred):
    """The batch-mean loss as a 0-d tf.Tensor, taped: the engine's loss kernel gives the rows and d loss / d pred."""
    from .. import _core
    from ..keras import losses as _losses

    pred = _as_input(y_pred)
    if len(pred.shape) != 2:
        raise ValueError(f"y_pred must be 2-D (batch, classes), got shape {tuple(pred.shape)}")
    target = _losses.prepare_targets(loss, np.asarray(y_true), pred.shape[1], "y_true")
    if len(target) != pred.shape[0]:
        raise ValueError(f"y_true has {len(target)} samples but y_pred has {pred.shape[0]}")
    rows, dpred = _core.Tensor(), _core.Tensor()
    t = _core.Tensor.from_numpy(target)
    scale = 1.0 / max(1, pred.shape[0])
    if loss.kind == _core.LossSpec.Kind.MSE:
        _core.ops.mse(rows, dpred, pred._c, t, scale)
    else:
        _core.ops.xent(rows, dpred, pred._c, t, loss.form(), False, _losses.EPSILON, scale)
    value = np.float32(np.mean(rows.numpy(), dtype=np.float64))
    out = _torch_wrap(_core.Tensor.from_numpy(np.array(value, dtype=np.float32)), pred.device)

    def backward(g):
        # d mean / d pred = dpred (already scaled by 1 / batch), times the incoming scalar gradient
        res = _core.Tensor.from_numpy(dpred.numpy() * np.float32(g.numpy()))
        return (res,)

    with _record.scope():
        autograd.record("KerasLoss", out, (pred,), backward, reads=(False,))
    return _wrap(out)


class _Handler:
    @staticmethod
    def takes(*values) -> bool:
        if _record.recording():
            return True
        from .tensor import Tensor
        from .variables import Variable

        return any(isinstance(v, (Tensor, Variable)) for v in values)

    recording = staticmethod(_record.recording)
    call_model = staticmethod(call_model)
    call_layer = staticmethod(call_layer)
    call_loss = staticmethod(call_loss)


def register() -> None:
    from ..keras import _eager
    from . import _keras_fit, _python_layers
    from .variables import constant

    _Handler.python_layers = _python_layers
    _Handler.keras_fit = _keras_fit
    _Handler.constant = staticmethod(constant)
    _eager.handler = _Handler
