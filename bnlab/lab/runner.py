"""One run: build the network (networks.py) from fresh weights, train it, return its record.

``run_one(spec, data, threads)`` is a pure function of its arguments: it sets the engine's thread count
and ``set_random_seed(spec.seed)`` itself, names every layer explicitly, and never reuses a model, so the
same spec gives the same numbers in this process, in a worker process or on a Dask worker (only the
timings and the host differ). With the same seed, the models of a cell (one per normalization) start from
the same kernels and see the batches in the same order: the comparison is paired. Loss: sparse
categorical cross-entropy. After training: the test set in inference mode, and the deployment
measurements (deploy.py).
"""

import math
import os
import platform
import threading
import time
import traceback
import warnings
from datetime import datetime, timezone

import numpy as np

from bnlab import config
from bnlab.keras import optimizers, utils
from bnlab.keras.layers import BatchNormalization
from bnlab.lab import deploy, recorder
from bnlab.lab.config import CNN_ARCH, LabError
from bnlab.lab.data import scaled
from bnlab.lab.networks import build_model, describe_layers

# The engine's random state and thread count are process-wide: runs in one process go one at a time
# (a Dask worker with several threads would otherwise interleave two runs' seeds).
_RUN_LOCK = threading.Lock()


def _optimizer(spec):
    cls = {"sgd": optimizers.SGD, "adam": optimizers.Adam, "rmsprop": optimizers.RMSprop}[spec.optimizer]
    return cls(learning_rate=spec.learning_rate)


def run_one(spec, data, threads=1, progress=None):
    """Train one model as ``spec`` says on ``data`` (a LabData); return its record (see docs/LAB.md).

    ``progress(event)`` is called after each epoch with a small dict (run_id, epoch, epochs, logs).
    """
    with _RUN_LOCK:
        before = config.get_num_threads()
        try:
            return _run(spec, data, threads, progress)
        finally:
            config.set_num_threads(before)  # the caller's process keeps its own setting


def attempt(spec, data, threads, progress):
    """``run_one`` as an outcome that can cross a process boundary: ("ok", record), or ("failed", spec dict,
    one line naming the exception and where it was raised)."""
    try:
        return ("ok", run_one(spec, data, threads, progress))
    except LabError as e:
        return ("failed", spec.to_dict(), str(e))
    except Exception as e:
        last = traceback.extract_tb(e.__traceback__)[-1]
        where = f"{os.path.basename(last.filename)}:{last.lineno}"
        first = (str(e).splitlines() or [""])[0]
        return ("failed", spec.to_dict(), f"{type(e).__name__}: {first} (at {where})")


def _run(spec, data, threads, progress):
    started, t_start = datetime.now(timezone.utc), time.perf_counter()
    config.set_num_threads(int(threads))
    x, y, x_test, y_test = scaled(data)
    if spec.arch == CNN_ARCH and x.ndim == 3:  # grey images (n, 28, 28): one channel, channels last
        x, x_test = x[..., None], x_test[..., None]
    n_train = math.floor(len(x) * (1.0 - spec.validation_split))
    if n_train < 1 or n_train == len(x):
        raise LabError(
            f"validation split {spec.validation_split} of {len(x)} samples leaves no training or "
            "validation data: raise --limit or change --validation-split"
        )
    steps = math.ceil(n_train / spec.batch_size)
    vbs, last = spec.virtual_batch_size, n_train % spec.batch_size
    if vbs and last % vbs:
        raise LabError(
            f"ghost BN: the last batch of an epoch has {last} samples ({n_train} training samples, batch size "
            f"{spec.batch_size}), which --virtual-batch-size {vbs} does not divide: change --limit or "
            "--virtual-batch-size"
        )
    utils.clear_session()
    utils.set_random_seed(spec.seed)
    model = build_model(spec, x.shape[1:], data.classes)
    model.compile(optimizer=_optimizer(spec), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    probe_x = x[: min(spec.probe_size, n_train)]

    def on_epoch(rec):
        if progress is not None:
            progress(
                {
                    "run_id": spec.run_id,
                    "epoch": rec["epoch"],
                    "epochs": spec.epochs,
                    "loss": rec["loss"],
                    "val_accuracy": rec["val_accuracy"],
                }
            )

    rec = recorder.Recorder(probe_x, steps, spec.probes_per_epoch, on_epoch)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(
            x,
            y,
            batch_size=spec.batch_size,
            epochs=spec.epochs,
            verbose=0,
            validation_split=spec.validation_split,
            shuffle=True,
            callbacks=[rec],
        )
        test_loss, test_acc = model.evaluate(x_test, y_test, batch_size=1024, verbose=0)
        deployment = deploy.measure(model, x[n_train:], y[n_train:], x[:n_train], y[:n_train], spec)
    bn_final = {
        layer.name: {
            k: getattr(layer, k).numpy().astype(float).tolist()
            for k in ("moving_mean", "moving_variance", "gamma", "beta")
        }
        for layer in model.layers
        if isinstance(layer, BatchNormalization)
    }
    losses = [e["loss"] for e in rec.epochs]
    return {
        "run_id": spec.run_id,
        "spec": spec.to_dict(),
        "batch_size": spec.batch_size,
        "seed": spec.seed,
        "norm": spec.norm,
        "learning_rate": spec.learning_rate,
        "init_scale": spec.init_scale,
        "dropout": spec.dropout,
        "threads": int(threads),
        "host": platform.node(),
        "pid": os.getpid(),
        "started": started.isoformat(timespec="milliseconds"),
        "finished": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        "wall_time": time.perf_counter() - t_start,
        "n_train": n_train,
        "n_val": len(x) - n_train,
        "n_test": len(x_test),
        "steps_per_epoch": steps,
        "params": model.count_params(),
        "layers": describe_layers(model),
        "epochs": rec.epochs,
        "trace": rec.trace,
        "test": {"loss": float(test_loss), "accuracy": float(test_acc)},
        "bn_initial": rec.bn_initial,
        "bn_final": bn_final,
        "deploy": deployment,
        "diverged": not all(v is not None and np.isfinite(v) for v in losses),
        "warnings": sorted({str(w.message) for w in caught}),
    }
