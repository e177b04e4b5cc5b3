"""The epoch driver shared by both ways ``fit`` trains: the engine's whole-epoch C++ loop (training.py) and
the Python GradientTape loop of models holding Python layers (bnlab/tf/_keras_fit.py).

What is the same for both, and so lives here once:

* ``check_fit_arguments``: fit's keyword arguments bnlab does not take (TypeError for an unknown one,
  ValueError for a Keras one bnlab does not support), a compiled model, ``epochs`` a non-negative int,
  ``validation_split`` in [0, 1).
* ``count_steps``: steps per epoch, from the sample count (the last partial batch kept unless the pipeline
  drops it) or from a dataset's length (None when the pipeline's length is unknown).
* ``run_epochs``: Keras 3's callback order: History last among the callbacks (so it records what the others
  add to the logs), ``set_model``/``set_params``, ``on_train_begin``, then the shuffle seed drawn from
  bnlab.keras's random state (or the dataset's own), and per epoch ``on_epoch_begin``, "Epoch i/n", the
  progress bar, the epoch itself (``run_epoch(epoch, seed, on_batch)``, which returns the training logs),
  the validation logs, ``on_epoch_end``, the bar's last line (after the callbacks, so it shows what they
  set, e.g. learning_rate; for a pipeline of unknown length, the batches seen) and ``stop_training``;
  ``on_train_end`` last.

What differs stays with the caller: how one epoch runs (``run_epoch``) and how validation is computed.
"""

from __future__ import annotations

import math

import numpy as np

from . import callbacks as callbacks_module
from . import random_state
from .progress import Progbar

__all__ = ["FIT_OPTIONS", "check_fit_arguments", "count_steps", "run_epochs"]

# Keras fit arguments that bnlab accepts only as None
FIT_OPTIONS = (
    "steps_per_epoch",
    "validation_steps",
    "validation_batch_size",
    "validation_freq",
    "class_weight",
    "sample_weight",
)


def check_fit_arguments(model, epochs, validation_split, kwargs) -> None:
    for k, v in kwargs.items():
        if v is not None and k not in FIT_OPTIONS:
            raise TypeError(f"fit() got an unexpected keyword argument {k!r}")
        if v is not None:
            raise ValueError(f"fit: {k} is not supported by bnlab")
    model._require_compiled()
    if not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative int, got {epochs!r}")
    if not 0.0 <= float(validation_split) < 1.0:
        raise ValueError(f"validation_split must be in [0, 1), got {validation_split!r}")


def count_steps(n_samples, dataset, batch_size: int, drop_last: bool):
    """Steps per epoch: over ``n_samples`` arrays, or over ``dataset`` (when n_samples is None)."""
    if n_samples is not None:
        return n_samples // batch_size if drop_last else math.ceil(n_samples / batch_size)
    try:
        return len(dataset)
    except TypeError:  # a pipeline whose length is unknown (take/filter/repeat...)
        return None


def run_epochs(model, *, epochs, initial_epoch, verbose, steps, callbacks, plan_seed, run_epoch, validate):
    """Train ``epochs`` epochs with ``run_epoch(epoch, seed, on_batch) -> logs``; ``validate()`` gives the
    "val_" logs (or None: no validation). Returns the History, also set as ``model.history``."""
    history = callbacks_module.History()
    cbs = [*(callbacks or []), history]
    params = {"verbose": verbose, "epochs": epochs, "steps": steps}
    for cb in cbs:
        cb.set_model(model)
        cb.set_params(params)
    history.params = params
    model.stop_training = False
    for cb in cbs:
        cb.on_train_begin()
    seed = random_state.draw_seed() if plan_seed is None else int(plan_seed)
    logs = {}
    for epoch in range(initial_epoch, epochs):
        for cb in cbs:
            cb.on_epoch_begin(epoch)
        if verbose:
            print(f"Epoch {epoch + 1}/{epochs}", flush=True)
        bar = Progbar(steps, verbose)
        on_batch, seen = model._batch_callback(cbs, bar), [0]

        def counted(batch, read, on_batch=on_batch, seen=seen):
            seen[0] = batch + 1
            return on_batch(batch, read)

        logs = run_epoch(epoch, seed, counted)
        if validate is not None:
            logs.update(validate())
        for cb in cbs:
            cb.on_epoch_end(epoch, logs)
        bar.update(steps if steps is not None else seen[0], logs, final=True)
        if model.stop_training:
            break
    for cb in cbs:
        cb.on_train_end(logs)
    model.history = history
    return history
