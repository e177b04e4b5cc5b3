"""Keras 3's MonitorCallback rule, shared by EarlyStopping, ModelCheckpoint and ReduceLROnPlateau.

``mode='min'``: a value improves on ``best`` when ``value + min_delta < best``; ``mode='max'``: when
``value - min_delta > best``; ``mode='auto'`` takes min for a loss and max for an accuracy (Keras reads the
metric's direction; bnlab's metrics are the loss and the accuracies). ``best is None`` (nothing seen yet)
always counts as an improvement. A monitored metric missing from the logs is warned about, as in Keras.
"""

import warnings

from bnlab.keras.callbacks.base import Callback

_MAXIMIZED = ("accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy")


class MonitorCallback(Callback):
    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"{type(self).__name__}: mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.monitor, self.mode, self.best = monitor, mode, baseline
        self.min_delta = abs(min_delta)
        self._maximize = self._direction_is_up()

    def _direction_is_up(self):
        if self.mode != "auto":
            return self.mode == "max"
        metric = self.monitor.removeprefix("val_")
        if metric == "loss":
            return False
        if metric in _MAXIMIZED:
            return True
        raise ValueError(
            f"{type(self).__name__} callback received monitor={self.monitor}, but bnlab isn't able to "
            "automatically determine whether that metric should be maximized or minimized. Pass `mode='max'` in "
            "order to monitor based on the highest metric value, or pass `mode='min'` in order to use the lowest value."
        )

    def _monitored(self, logs, what, end=""):
        """The monitored value in ``logs``; None, after Keras's warning that names ``what`` the callback does
        ("Early stopping"), when the logs lack it."""
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                f"{what} conditioned on metric `{self.monitor}` which is not available. "
                f"Available metrics are: {','.join(logs)}{end}",
                stacklevel=3,  # the caller of on_epoch_end, as Keras's
            )
        return current

    def _is_improvement(self, value, reference):
        if reference is None:
            return True
        if self._maximize:
            return value - self.min_delta > reference
        return value + self.min_delta < reference
