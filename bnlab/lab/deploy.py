"""After training: how the network behaves at deployment (the run record's ``deploy`` block).

A BN network computes two different functions: in training mode each batch is normalized with its own
mean and variance, in inference mode with the moving averages. On ``samples`` held-out images (the first
of the validation split) this measures:

* ``train_accuracy`` — inference mode on as many of the first training images: with
  ``inference_accuracy``, the generalization gap measured the same way on both sides;
* ``inference_accuracy`` — the deployed network (moving statistics; what evaluate/predict compute);
* ``train_mode_accuracy`` — the same images in batches of ``batch_size`` (8, a small serving batch; for
  ghost BN the first multiple of its virtual batch size from 8 up) with
  every BatchNormalization layer in training mode (batch statistics), everything else in inference mode
  (dropout off). The moving statistics are restored afterwards. For a model without batch statistics
  (none, layer, group) both are the same function, so the two numbers agree up to float rounding;
* ``shifted_inference_accuracy``, ``shifted_train_mode_accuracy`` — the same on shifted inputs,
  x' = 0.6 x + 0.3 (less contrast, brighter): a deployment whose data moved away from the training data;
* ``moving_stats`` — per BatchNormalization layer, how far its moving averages lag the statistics of its
  input on these images (a forward pass in inference mode): ``mean_error`` = mean over features of
  |moving_mean − μ| / sqrt(σ² + ε), ``log_var_error`` = mean over features of |log((moving_var + ε) /
  (σ² + ε))|. With momentum 0.99 the moving averages remember about the last 100 batches, of weights that
  have since moved: they lag.
"""

import math

import numpy as np

from bnlab.keras import layers

DEPLOY_SAMPLES = 2000
DEPLOY_BATCH = 8
SHIFT_SCALE, SHIFT_OFFSET = 0.6, 0.3


def _batch_layers(model):
    return [layer for layer in model.layers if isinstance(layer, layers.BatchNormalization)]


def _forward(model, x, batch_stats, collect=None):
    """Layer by layer: BatchNormalization in training mode when ``batch_stats``, the rest in inference.
    ``collect`` (a dict) receives each BN layer's input."""
    h = x
    for layer in model.layers:
        is_bn = isinstance(layer, layers.BatchNormalization)
        if collect is not None and is_bn:
            collect[layer.name] = h
        h = layer(h, training=batch_stats and is_bn)
    return h


def _accuracy(model, x, y, batch_stats, batch):
    saved = [(bn, bn.get_weights()) for bn in _batch_layers(model)]
    try:
        if batch_stats:
            probs = np.concatenate([_forward(model, x[i : i + batch], True) for i in range(0, len(x), batch)])
        else:
            probs = _forward(model, x, False)
    finally:
        for bn, weights in saved:  # training mode moved the moving averages: put them back
            bn.set_weights(weights)
    return float(np.mean(np.argmax(probs, axis=1) == y))


def _lag(model, x):
    inputs = {}
    _forward(model, x, False, collect=inputs)
    out = {}
    for bn in _batch_layers(model):
        h = inputs[bn.name].reshape(-1, inputs[bn.name].shape[-1]).astype(np.float64)
        mu, var = h.mean(axis=0), h.var(axis=0)
        mm, mv = bn.moving_mean.numpy().astype(np.float64), bn.moving_variance.numpy().astype(np.float64)
        eps = bn.epsilon
        out[bn.name] = {
            "mean_error": float(np.mean(np.abs(mm - mu) / np.sqrt(var + eps))),
            "log_var_error": float(np.mean(np.abs(np.log((mv + eps) / (var + eps))))),
        }
    return out


def measure(model, x, y, x_train, y_train, spec):
    """The ``deploy`` block for ``model`` on held-out images ``x`` (float32, scaled) and labels ``y``, and
    training images ``x_train``, ``y_train``."""
    k = spec.virtual_batch_size or 1  # ghost BN needs whole virtual batches: the multiple of k from 8 up
    batch = k * math.ceil(DEPLOY_BATCH / k)
    n = min(DEPLOY_SAMPLES, len(x)) // batch * batch  # whole batches only
    x, y = x[:n], y[:n]
    shifted = (x * np.float32(SHIFT_SCALE) + np.float32(SHIFT_OFFSET)).astype(np.float32)
    with np.errstate(all="ignore"):
        return {
            "samples": len(x),
            "batch_size": batch,
            "train_accuracy": _accuracy(model, x_train[:n], y_train[:n], False, batch),
            "inference_accuracy": _accuracy(model, x, y, False, batch),
            "train_mode_accuracy": _accuracy(model, x, y, True, batch),
            "shifted_inference_accuracy": _accuracy(model, shifted, y, False, batch),
            "shifted_train_mode_accuracy": _accuracy(model, shifted, y, True, batch),
            "moving_stats": _lag(model, x),
        }
