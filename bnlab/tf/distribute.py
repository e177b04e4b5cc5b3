"""``tf.distribute``: the one-device strategies, which is all bnlab has (one process, the TF face on the CPU).

``tf.distribute.OneDeviceStrategy("/GPU:0")`` and the default strategy (``tf.distribute.get_strategy()``) accept
TensorFlow's device names; ``with strategy.scope():`` runs its block inside ``tf.device(device)`` (placement on
the CPU as everywhere in bnlab's TF face), so models and optimizers created there are ordinary ones, as in
TensorFlow with one device. ``num_replicas_in_sync`` is 1; ``run(fn, args)`` calls ``fn(*args)``;
``experimental_distribute_dataset(ds)`` returns ``ds``; ``reduce`` returns the value (one replica).
``MirroredStrategy`` over more than one device is refused (bnlab has no multi-device runtime).
"""

from __future__ import annotations

import contextlib

from .device import DeviceSpec
from .device import device as _device

__all__ = [
    "MirroredStrategy",
    "OneDeviceStrategy",
    "ReduceOp",
    "Strategy",
    "get_strategy",
    "has_strategy",
    "in_cross_replica_context",
]

_current: list = []


class ReduceOp:
    """``tf.distribute.ReduceOp.SUM`` / ``MEAN``."""

    SUM = "SUM"
    MEAN = "MEAN"


class Strategy:
    """A distribution strategy over one device (``device`` None: wherever the ops run)."""

    def __init__(self, device=None):
        if device is not None:
            DeviceSpec.from_string(device)  # TensorFlow's check of the name
        self._device = device

    @property
    def num_replicas_in_sync(self) -> int:
        return 1

    @property
    def extended(self):
        return self

    @contextlib.contextmanager
    def scope(self):
        """``with strategy.scope():`` — the block runs with this strategy current, inside ``tf.device``."""
        _current.append(self)
        try:
            if self._device is None:
                yield self
            else:
                with _device(self._device):
                    yield self
        finally:
            _current.pop()

    def run(self, fn, args=(), kwargs=None):
        return fn(*args, **(kwargs or {}))

    def reduce(self, reduce_op, value, axis=None):
        if axis is None:
            return value
        from .reduce_ops import reduce_mean, reduce_sum

        op = getattr(reduce_op, "value", reduce_op)
        return (reduce_mean if str(op).upper() == "MEAN" else reduce_sum)(value, axis=axis)

    def experimental_distribute_dataset(self, dataset, options=None):
        return dataset

    def __repr__(self) -> str:
        return f"<{type(self).__name__} device={self._device!r}>"


class OneDeviceStrategy(Strategy):
    """``tf.distribute.OneDeviceStrategy(device)``: everything on ``device`` (a name such as ``"/GPU:0"``)."""

    def __init__(self, device):
        if not isinstance(device, str):
            raise TypeError(f"OneDeviceStrategy: device must be a device name such as '/CPU:0', got {device!r}")
        super().__init__(device)


class MirroredStrategy(Strategy):
    """``tf.distribute.MirroredStrategy``: over one device only (none named: the default device)."""

    def __init__(self, devices=None, cross_device_ops=None):
        devices = list(devices or [])
        if len(devices) > 1:
            raise ValueError(f"MirroredStrategy: bnlab runs on one device; got {len(devices)} ({devices})")
        super().__init__(devices[0] if devices else None)


_DEFAULT = Strategy()


def get_strategy() -> Strategy:
    """The strategy of the innermost ``scope()`` block, or the default (one-device) strategy."""
    return _current[-1] if _current else _DEFAULT


def has_strategy() -> bool:
    """Whether a strategy's ``scope()`` block is open."""
    return bool(_current)


def in_cross_replica_context() -> bool:
    return True
