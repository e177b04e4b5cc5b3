"""``keras.datasets.cifar10`` for bnlab: ``load_data()``, backed by ``bnlab.datasets.cifar10``."""

from __future__ import annotations

import numpy as np

from bnlab.datasets import cifar10 as _cifar10

__all__ = ["load_data"]


def load_data() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load CIFAR-10: ``(x_train, y_train), (x_test, y_test)``, uint8, shapes ``(50000, 32, 32, 3)``,
    ``(50000, 1)``, ``(10000, 32, 32, 3)``, ``(10000, 1)`` (channels-last), as Keras returns them.

    The files are looked for in ``$BNLAB_DATA_DIR`` (``cifar-10-batches-py/``, ``cifar-10-python.tar.gz``
    or the binary version) and ``~/.keras/datasets``, and downloaded otherwise. See
    :func:`bnlab.datasets.cifar10.load_data` for details and the errors raised.
    """
    return _cifar10.load_data()
