"""compile, fit, evaluate and predict: Keras's training API over the engine's C++ epoch loop.

fit follows Keras 3: batch_size 32 by default; the last partial batch is kept; ``validation_split`` takes
the LAST fraction of the samples, before any shuffling; training metrics are running means over the epoch
computed with batch statistics (training mode), while validation runs in inference mode (moving
statistics). NaN in the inputs is not refused: it propagates into the loss as in Keras (the loss turns nan).

A model holding a layer written in Python (bnlab/keras/layers/custom.py), Sequential or functional, and a
subclassed ``keras.Model`` (bnlab/keras/subclassed.py) have no engine model: their fit, evaluate and predict run
as a Python loop on the TF core's tensors under a GradientTape (bnlab/tf/_keras_fit.py), with the same
arguments, progress output, logs, History and callbacks.
"""

import math
import time

import numpy as np

from bnlab import _core, teaching
from bnlab.keras import _eager, fit_loop, losses, optimizers
from bnlab.keras.progress import Progbar

_ACCURACY_NAMES = ("accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy")


class Trainer:
    """Mixed into every model (bnlab/keras/subclassed.py's Model): everything that runs data through it."""

    def __init__(self):
        self.optimizer = None
        self.loss = None
        self._metric_name = None
        self.stop_training = False
        self.history = None

    # ---- compile ----
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, **kwargs):
        """Choose the optimizer, the loss and the metrics (one accuracy: 'accuracy' or an accuracy object of
        keras.metrics)."""
        unsupported = {k: v for k, v in kwargs.items() if v is not None and k != "run_eagerly" and k != "jit_compile"}
        if unsupported:
            raise TypeError(f"compile: unsupported arguments {sorted(unsupported)}")
        if loss is None:
            raise ValueError("compile: loss is required, e.g. loss='sparse_categorical_crossentropy'")
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses.get(loss)
        names = []
        for m in (m for m in metrics or [] if m is not None):
            name = _metric_name(m)
            if name is m and (not isinstance(m, str) or m.lower() not in _ACCURACY_NAMES):
                raise ValueError(f"metrics: unknown metric {m!r}; bnlab supports {', '.join(_ACCURACY_NAMES)}")
            names.append(name)
        if len(names) > 1:
            raise ValueError(f"metrics: give one accuracy metric, got {names}")
        self._metric_name = names[0] if names else None
        self._compiled = True

    def _require_compiled(self):
        if getattr(self, "_compiled", False) is not True:
            raise RuntimeError("You must call compile() before training or evaluating the model")

    def _engine_compile(self):
        self._require_compiled()
        last = self._layers[-1].activation if hasattr(self._layers[-1], "activation") else None
        if getattr(self.loss, "from_logits", False) and last == _core.Act.Softmax:
            teaching.warn_logits_after_softmax(self.loss.name, stacklevel=3)  # the caller of fit
        self._engine.compile(self.optimizer._engine, self.loss.spec())

    # ---- data ----
    def _prepare_x(self, x, argname="x"):
        if x is None:
            raise ValueError(f"{argname} is required")
        arr = np.asarray(x)
        if arr.dtype.kind not in "biuf":  # object, str, complex (casting would drop the imaginary part)...
            raise TypeError(f"{argname} must be a numeric array of real numbers, got dtype {arr.dtype}")
        if arr.ndim < 2:
            raise ValueError(f"{argname} must have a batch axis and at least one feature axis, got shape {arr.shape}")
        if arr.shape[0] == 0:
            raise ValueError(f"{argname} is empty (0 samples)")
        self._ensure_built(arr.shape)
        expected = tuple(self._input_shape[1:])
        if tuple(arr.shape[1:]) != expected:
            raise ValueError(
                f"{argname}: input shape {(None, *arr.shape[1:])} is incompatible with the model's input "
                f"shape {(None, *expected)}"
            )
        return np.ascontiguousarray(arr, dtype=np.float32)

    def _prepare_xy(self, x, y, prefix=""):
        xs = self._prepare_x(x, prefix + "x")
        if y is None:
            raise ValueError(f"{prefix}y is required for training and evaluation")
        classes = int(np.prod(self.output_shape[1:]))
        ys = losses.prepare_targets(self.loss, y, classes, prefix + "y")
        if len(xs) != len(ys):
            raise ValueError(f"{prefix}x and {prefix}y have different lengths: {len(xs)} samples and {len(ys)} targets")
        return xs, ys

    def _tensor(self, array):
        """An engine tensor on the model's device. On the CPU it shares the (float32 or int32, C-contiguous)
        array's memory, as torch.from_numpy does, so a fit starts without copying the dataset; on a GPU it is a
        copy that stays on the device for the whole fit."""
        shareable = array.flags.c_contiguous and array.dtype in (np.float32, np.int32)
        if self._engine.device == _core.Device.CPU and shareable:
            return _core.Tensor.borrow_numpy(array)
        return _core.Tensor.from_numpy(array, self._engine.device)

    @staticmethod
    def _check_batch_size(batch_size, argname="batch_size"):
        if batch_size is None:
            return 32
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool):
            raise TypeError(f"{argname} must be an int, got {type(batch_size).__name__}")
        if batch_size < 1:
            raise ValueError(f"{argname} must be >= 1, got {batch_size}")
        return int(batch_size)

    def _logs(self, metrics, prefix=""):
        logs = {}
        if self._metric_name:
            logs[prefix + self._metric_name] = metrics.accuracy
        logs[prefix + "loss"] = metrics.loss
        return logs

    def _runs_in_python(self):
        """Whether a layer of the model is written in Python (then fit, evaluate and predict run in Python)."""
        return any(getattr(layer, "_is_python_layer", False) for layer in self._layers)

    def _python_loop(self):
        return _eager.tf_core().keras_fit

    # ---- fit ----
    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs=1,
        verbose="auto",
        callbacks=None,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        initial_epoch=0,
        **kwargs,
    ):
        """Train for ``epochs`` epochs; returns a History (``.history``, ``.epoch``, ``.params``)."""
        if self._runs_in_python():
            return self._python_loop().fit(
                self, x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data, shuffle,
                initial_epoch, **kwargs,
            )  # fmt: skip
        fit_loop.check_fit_arguments(self, epochs, validation_split, kwargs)
        from bnlab.data import Dataset

        batches, drop_last, plan_seed = None, False, None
        if isinstance(x, Dataset):
            if y is not None:
                raise ValueError("y must be None when x is a Dataset (the dataset yields (x, y) pairs)")
            if validation_split:
                raise ValueError("validation_split is not supported when x is a Dataset; pass validation_data")
            plan = x._fast_plan()
            if plan is None:
                batches = x
                self._ensure_built((None, *np.asarray(next(iter(x))[0]).shape[1:]))
            else:
                x, y = plan.arrays
                batch_size, shuffle, drop_last = plan.batch_size, plan.shuffle, plan.drop_remainder
                plan_seed = plan.seed
        batch_size = self._check_batch_size(batch_size)
        if batches is None:
            x, y = self._prepare_xy(x, y)
            if validation_split:
                split_at = math.floor(len(x) * (1.0 - validation_split))
                if split_at in (0, len(x)):
                    raise ValueError(
                        f"validation_split={validation_split} leaves no training or no validation samples "
                        f"out of {len(x)}"
                    )
                validation_data = (x[split_at:], y[split_at:])
                x, y = x[:split_at], y[:split_at]
        if self._has_batchnorm() and (batch_size == 1 or (batches is None and len(x) % batch_size == 1)):
            teaching.warn_single_sample_batch(last_batch_only=batch_size > 1, stacklevel=2)
        self._engine_compile()
        val = self._validation_arrays(validation_data)
        verbose = 1 if verbose == "auto" else int(verbose)
        steps = fit_loop.count_steps(None if batches is not None else len(x), batches, batch_size, drop_last)
        X = Y = None
        if batches is None:
            X, Y = self._tensor(x), self._tensor(y)

        def run_epoch(epoch, seed, on_batch):
            if batches is None:
                metrics = self._engine.train_epoch(X, Y, batch_size, bool(shuffle), seed, epoch, on_batch, drop_last)
                return self._logs(metrics)
            return self._fit_batches(batches, on_batch)

        def validate():
            return self._logs(self._engine.evaluate(val[0], val[1], batch_size, None), "val_")

        return fit_loop.run_epochs(
            self, epochs=epochs, initial_epoch=initial_epoch, verbose=verbose, steps=steps, callbacks=callbacks,
            plan_seed=plan_seed, run_epoch=run_epoch, validate=None if val is None else validate,
        )  # fmt: skip

    def _batch_callback(self, cbs, bar):
        """The engine's per-batch hook. ``read()`` returns (loss, accuracy) so far; on a GPU it waits for the
        device, so it is called only when a callback wants batch logs or the progress bar is due to redraw."""
        wants = [cb for cb in cbs if cb._wants_batches()]

        def on_batch(batch, read):
            if not wants and not bar.due():
                return bool(self.stop_training)
            loss, accuracy = read()
            logs = {self._metric_name: accuracy, "loss": loss} if self._metric_name else {"loss": loss}
            for cb in wants:
                cb.on_train_batch_end(batch, logs)
            bar.update(batch + 1, logs)
            return bool(self.stop_training)

        return on_batch

    def _fit_batches(self, dataset, on_batch):
        """A generic Dataset: one engine step per batch it yields (the map/take/... pipeline runs in Python)."""
        loss_sum = correct = seen = 0.0
        for i, (xb, yb) in enumerate(dataset):
            xs, ys = self._prepare_xy(xb, yb)
            m = self._engine.train_epoch(self._tensor(xs), self._tensor(ys), len(xs), False, 0, 0, None)
            loss_sum, correct, seen = (
                loss_sum + m.loss * m.samples,
                correct + m.accuracy * m.samples,
                seen + m.samples,
            )
            means = (loss_sum / seen, correct / seen)
            if on_batch(i, lambda means=means: means):
                break
        logs = {"loss": loss_sum / max(seen, 1)}
        if self._metric_name:
            logs = {self._metric_name: correct / max(seen, 1), **logs}
        return logs

    def _validation_arrays(self, validation_data):
        from bnlab.data import Dataset

        if validation_data is None:
            return None
        if isinstance(validation_data, Dataset):
            plan = validation_data._fast_plan()
            parts = plan.arrays if plan is not None else _collect(validation_data)
            validation_data = tuple(parts)
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError("validation_data must be (x_val, y_val) or a Dataset")
        xv, yv = self._prepare_xy(validation_data[0], validation_data[1], "validation ")
        return self._tensor(xv), self._tensor(yv)

    # ---- evaluate / predict / call ----
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", return_dict=False, **kwargs):
        """Loss (and accuracy) in inference mode: returns [loss, accuracy], or the loss alone without metrics."""
        from bnlab.data import Dataset

        if kwargs:
            raise TypeError(f"evaluate() got unexpected keyword arguments {sorted(kwargs)}")
        self._require_compiled()
        if self._runs_in_python():
            return self._python_loop().evaluate(self, x, y, batch_size, verbose, return_dict)
        if isinstance(x, Dataset):
            plan = x._fast_plan()
            (x, y), batch_size = (plan.arrays, plan.batch_size) if plan is not None else (_collect(x), batch_size)
        batch_size = self._check_batch_size(batch_size)
        xs, ys = self._prepare_xy(x, y)
        self._engine_compile()
        verbose = 1 if verbose == "auto" else int(verbose)
        steps = math.ceil(len(xs) / batch_size)
        bar = Progbar(steps, verbose)
        m = self._engine.evaluate(
            self._tensor(xs), self._tensor(ys), batch_size, lambda b, read: bar.update(b + 1) or False
        )
        logs = self._logs(m)
        bar.update(steps, logs, final=True)
        if return_dict:
            return logs
        return [logs["loss"], logs[self._metric_name]] if self._metric_name else logs["loss"]

    def predict(self, x, batch_size=None, verbose="auto", **kwargs):
        """Outputs in inference mode, batch by batch."""
        from bnlab.data import Dataset

        if kwargs:
            raise TypeError(f"predict() got unexpected keyword arguments {sorted(kwargs)}")
        if self._runs_in_python():
            return self._python_loop().predict(self, x, batch_size, verbose)
        if isinstance(x, Dataset):
            plan = x._fast_plan()
            x = plan.arrays[0] if plan is not None else _collect(x)[0]
        batch_size = self._check_batch_size(batch_size)
        xs = self._prepare_x(x)
        verbose = 1 if verbose == "auto" else int(verbose)
        start = time.perf_counter()
        out = self._engine.predict(self._tensor(xs), batch_size).numpy()
        if verbose:
            steps = math.ceil(len(xs) / batch_size)
            bar = Progbar(steps, verbose)
            bar.start = start
            bar.update(steps, None, final=True)
        return out

    def __call__(self, x, training=False):
        """One forward pass over the whole of x: training=True uses (and updates) batch statistics.

        A NumPy batch gives a NumPy array. A ``tf.Tensor`` (``import bnlab as tf``), or any call while a
        ``tf.GradientTape`` records, gives a ``tf.Tensor`` and tapes the call, so that ``tape.gradient(loss,
        model.trainable_variables)`` reaches the weights (bnlab/keras/_eager.py). In a custom training loop
        pass ``training=True``: without it BatchNormalization normalizes with its moving statistics and
        leaves them untouched, as in TensorFlow; and evaluate with ``training=False``.
        """
        if _eager.takes(x) or self._runs_in_python():  # Python layers: always a tf.Tensor, as in Keras
            return _eager.tf_core().call_model(self, x, training)
        if training and self._has_batchnorm():
            teaching.warn_bn_training_mode_outside_tape(f"model {self.name!r}", stacklevel=2)
        xs = self._prepare_x(x)
        return np.array(self._engine.forward(self._tensor(xs), bool(training)).numpy(), copy=True)

    def _has_batchnorm(self):
        """Whether a layer of the model normalizes with batch statistics in training mode (BN and its variants)."""
        from bnlab.keras.layers.normalization import BatchNormalization

        return any(isinstance(layer, BatchNormalization) for layer in self.layers)


def _metric_name(metric):
    """A compile metric as the name the logs carry: a name as given, an accuracy object (bnlab/keras/metrics.py)
    by its name."""
    from bnlab.keras import metrics as metrics_module

    accuracies = (metrics_module.SparseCategoricalAccuracy, metrics_module.CategoricalAccuracy)
    if isinstance(metric, metrics_module.Metric):
        if not isinstance(metric, accuracies):
            raise ValueError(
                f"metrics: bnlab's compile computes accuracy only; got the metric object {metric!r} (use it in a "
                "custom training loop, or pass 'accuracy')"
            )
        return metric.name
    return metric


def _collect(dataset):
    xs, ys = zip(*((np.asarray(a), np.asarray(b)) for a, b in dataset), strict=True)
    return np.concatenate(xs), np.concatenate(ys)
