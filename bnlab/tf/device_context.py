"""``tf.device`` as ``import bnlab as tf`` exports it: bnlab/tf/device.py's block, plus the name it was given.

TensorFlow's eager device context keeps the name as given in ``_device_name``, and code reads it: d2l's
``train_ch6`` does ``tf.distribute.OneDeviceStrategy(device._device_name)`` with ``device = d2l.try_gpu()``,
a ``tf.device("/CPU:0")`` or ``tf.device("/GPU:0")``. Placement is unchanged: every op runs on the CPU.
"""

from __future__ import annotations

from . import device as _device_module

__all__ = ["device"]


class device(_device_module.device):  # noqa: N801 - TensorFlow's name
    __slots__ = ("_device_name",)
    __doc__ = _device_module.device.__doc__

    def __init__(self, device_name) -> None:
        super().__init__(device_name)
        self._device_name = device_name

    def __repr__(self) -> str:
        return f"<tf.device {self._device_name!r}>"
