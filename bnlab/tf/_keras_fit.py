"""fit, evaluate and predict for Keras models that hold layers written in Python: a Python loop on the TF core.

bnlab/keras/training.py sends a model here when one of its layers is a Python layer (``class BatchNorm(
tf.keras.layers.Layer)`` with ``call``): the engine cannot run such a model, so each training step is what a
custom TensorFlow loop does::

    with tf.GradientTape() as tape:
        out = model(x, training=True)      # engine layers taped one by one, Python layers' ops taped directly
        loss = model.loss(y, out)          # the compiled loss: the engine's kernel, taped
    grads = tape.gradient(loss, model.trainable_variables)
    model.optimizer.apply_gradients(zip(grads, model.trainable_variables))

The contract is the engine fit's (training.py): the same arguments and checks, batch_size 32 by default, the
last partial batch kept, ``validation_split`` taking the last fraction before any shuffling, "Epoch i/n" and the
progress bar, training metrics as running means over the epoch weighted by batch size (computed in training
mode, with each batch's output before its update), validation and ``evaluate`` in inference mode, History last
among the callbacks, ``stop_training``. The shuffle order is drawn from bnlab.keras's random state as the
engine's is, but not the same permutation. Metrics: the loss and 'accuracy' (class index of the largest output
against the label; for one-hot targets their largest entry; for one output column, output > 0.5).
"""

from __future__ import annotations

import math

import numpy as np

from .. import teaching
from ..keras import fit_loop
from ..keras.progress import Progbar
from .tape import GradientTape


def _dataset():
    from ..data import Dataset

    return Dataset


def _correct(model, out, targets):
    """How many samples of the batch the model got right (the 'accuracy' metric's count)."""
    pred = out.numpy()
    if model.loss.sparse:
        return int(np.sum(np.argmax(pred, axis=1) == targets.reshape(-1)))
    if targets.ndim == 2 and targets.shape[1] > 1:
        return int(np.sum(np.argmax(pred, axis=1) == np.argmax(targets, axis=1)))
    return int(np.sum((pred.reshape(-1) > 0.5) == (targets.reshape(-1) > 0.5)))


class _Means:
    """Running means of the loss and the correct count, weighted by batch size."""

    def __init__(self, model):
        self.model, self.loss, self.correct, self.seen = model, 0.0, 0, 0

    def add(self, loss, out, targets):
        n = len(targets)
        self.loss += float(loss) * n
        if self.model._metric_name:
            self.correct += _correct(self.model, out, targets)
        self.seen += n

    def read(self):
        seen = max(self.seen, 1)
        return self.loss / seen, self.correct / seen

    def logs(self, prefix=""):
        loss, accuracy = self.read()
        logs = {}
        if self.model._metric_name:
            logs[prefix + self.model._metric_name] = accuracy
        logs[prefix + "loss"] = loss
        return logs


def _array_batches(x, y, batch_size, shuffle, seed, epoch, drop_last=False):
    n = len(x)
    order = np.random.default_rng([seed, epoch]).permutation(n) if shuffle else np.arange(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        idx = order[start : start + batch_size]
        yield x[idx], y[idx]


def _prepared(model, batches):
    for xb, yb in batches:
        yield model._prepare_xy(xb, yb)


def _pairs(element):
    if not isinstance(element, (tuple, list)) or len(element) < 2:
        raise ValueError("a Dataset given to fit or evaluate must yield (x, y) pairs")
    return element[0], element[1]


def _source(model, x, y, batch_size, argname="x"):
    """(arrays or None, dataset or None, batch_size, shuffle, seed, drop_last) for x (and y)."""
    if isinstance(x, _dataset()):
        if y is not None:
            raise ValueError("y must be None when x is a Dataset (the dataset yields (x, y) pairs)")
        plan = x._fast_plan()
        if plan is None:
            return None, x, model._check_batch_size(batch_size), False, None, False
        xs, ys = model._prepare_xy(*plan.arrays)
        return (xs, ys), None, plan.batch_size, plan.shuffle, plan.seed, plan.drop_remainder
    return model._prepare_xy(x, y), None, model._check_batch_size(batch_size), None, None, False


def _evaluate_logs(model, arrays, dataset, batch_size, prefix="", bar=None):
    means = _Means(model)
    batches = _array_batches(*arrays, batch_size, False, 0, 0) if arrays is not None else (_pairs(e) for e in dataset)
    for i, (xb, yb) in enumerate(_prepared(model, batches)):
        out = model(xb, training=False)
        means.add(model.loss(yb, out), out, yb)
        if bar is not None:
            bar.update(i + 1)
    return means.logs(prefix)


def fit(model, x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data, shuffle,
        initial_epoch, **kwargs):  # fmt: skip
    """``model.fit`` in Python (see the module docstring); returns the History."""
    fit_loop.check_fit_arguments(model, epochs, validation_split, kwargs)
    if isinstance(x, _dataset()) and validation_split:
        raise ValueError("validation_split is not supported when x is a Dataset; pass validation_data")
    arrays, dataset, batch_size, plan_shuffle, plan_seed, drop_last = _source(model, x, y, batch_size)
    if plan_shuffle is not None:
        shuffle = plan_shuffle
    if arrays is not None and validation_split:
        xs, ys = arrays
        split_at = math.floor(len(xs) * (1.0 - validation_split))
        if split_at in (0, len(xs)):
            raise ValueError(
                f"validation_split={validation_split} leaves no training or no validation samples out of {len(xs)}"
            )
        validation_data = (xs[split_at:], ys[split_at:])
        arrays = (xs[:split_at], ys[:split_at])
    if model._has_batchnorm() and (batch_size == 1 or (arrays is not None and len(arrays[0]) % batch_size == 1)):
        teaching.warn_single_sample_batch(last_batch_only=batch_size > 1, stacklevel=3)
    val = None
    if validation_data is not None:
        if isinstance(validation_data, _dataset()):
            val = _source(model, validation_data, None, batch_size)
        elif isinstance(validation_data, (tuple, list)) and len(validation_data) in (2, 3):
            val = _source(model, validation_data[0], validation_data[1], batch_size)
        else:
            raise ValueError("validation_data must be (x_val, y_val) or a Dataset")
    verbose = 1 if verbose == "auto" else int(verbose)
    steps = fit_loop.count_steps(None if arrays is None else len(arrays[0]), dataset, batch_size, drop_last)

    def run_epoch(epoch, seed, on_batch):
        if arrays is not None:
            batches = _array_batches(*arrays, batch_size, bool(shuffle), seed, epoch, drop_last)
        else:
            batches = (_pairs(e) for e in dataset)
        return _train_epoch(model, _prepared(model, batches), on_batch)

    def validate():
        return _evaluate_logs(model, val[0], val[1], val[2], "val_")

    return fit_loop.run_epochs(
        model, epochs=epochs, initial_epoch=initial_epoch, verbose=verbose, steps=steps, callbacks=callbacks,
        plan_seed=plan_seed, run_epoch=run_epoch, validate=None if val is None else validate,
    )  # fmt: skip


def _train_epoch(model, batches, on_batch):
    means = _Means(model)
    optimizer = model.optimizer
    for i, (xb, yb) in enumerate(batches):
        variables = model.trainable_variables
        with GradientTape() as tape:
            out = model(xb, training=True)
            loss = model.loss(yb, out)
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables, strict=True))
        means.add(loss, out, yb)
        if on_batch(i, means.read):
            break
    return means.logs()


def evaluate(model, x, y, batch_size, verbose, return_dict):
    """``model.evaluate`` in Python: the loss (and accuracy) in inference mode, as the engine's evaluate gives."""
    arrays, dataset, batch_size, _, _, _ = _source(model, x, y, batch_size)
    verbose = 1 if verbose == "auto" else int(verbose)
    steps = fit_loop.count_steps(None if arrays is None else len(arrays[0]), dataset, batch_size, False)
    bar = Progbar(steps, verbose)
    logs = _evaluate_logs(model, arrays, dataset, batch_size, bar=bar)
    bar.update(steps if steps is not None else 0, logs, final=True)
    if return_dict:
        return logs
    return [logs["loss"], logs[model._metric_name]] if model._metric_name else logs["loss"]


def predict(model, x, batch_size, verbose):
    """``model.predict`` in Python: the outputs in inference mode, batch by batch, as one NumPy array."""
    if isinstance(x, _dataset()):
        plan = x._fast_plan()
        parts = [np.asarray(e[0] if isinstance(e, (tuple, list)) else e) for e in x] if plan is None else None
        x = plan.arrays[0] if plan is not None else np.concatenate(parts)
    batch_size = model._check_batch_size(batch_size)
    xs = model._prepare_x(x)
    verbose = 1 if verbose == "auto" else int(verbose)
    steps = math.ceil(len(xs) / batch_size)
    bar = Progbar(steps, verbose)
    outs = []
    for i, start in enumerate(range(0, len(xs), batch_size)):
        outs.append(model(xs[start : start + batch_size], training=False).numpy())
        bar.update(i + 1)
    bar.update(steps, None, final=True)
    return np.concatenate(outs)
