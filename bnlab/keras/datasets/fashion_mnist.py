"""``keras.datasets.fashion_mnist`` for bnlab: ``load_data()``, backed by ``bnlab.datasets.fashion_mnist``."""

from __future__ import annotations

import numpy as np

from bnlab.datasets import fashion_mnist as _fashion_mnist

__all__ = ["load_data"]


def load_data() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load Fashion-MNIST: ``(x_train, y_train), (x_test, y_test)``, uint8, shapes ``(60000, 28, 28)``,
    ``(60000,)``, ``(10000, 28, 28)``, ``(10000,)``, as Keras returns them.

    The files are looked for in ``$BNLAB_DATA_DIR/fashion-mnist``, ``~/.keras/datasets/fashion-mnist``
    and Debian's ``/usr/share/datasets/fashion-mnist``, and downloaded otherwise. See
    :func:`bnlab.datasets.fashion_mnist.load_data` for details and the errors raised.
    """
    return _fashion_mnist.load_data()
