"""``keras.datasets.mnist`` for bnlab: ``load_data(path="mnist.npz")``, backed by ``bnlab.datasets.mnist``."""

from __future__ import annotations

import os

import numpy as np

from bnlab.datasets import mnist as _mnist

__all__ = ["load_data"]

_KERAS_DEFAULT = "mnist.npz"


def load_data(
    path: str | os.PathLike[str] = _KERAS_DEFAULT,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load MNIST: ``(x_train, y_train), (x_test, y_test)``, uint8, shapes ``(60000, 28, 28)``,
    ``(60000,)``, ``(10000, 28, 28)``, ``(10000,)``, as Keras returns them.

    Args:
        path: as in Keras, the name of the cached file (default ``"mnist.npz"``, looked up in
            ``$BNLAB_DATA_DIR`` and ``~/.keras/datasets``). Any other name, or a path to an ``.npz`` file
            or to a folder of IDX files, is searched first.

    Without a local copy, ``mnist.npz`` is downloaded (and verified) into ``$BNLAB_DATA_DIR``. See
    :func:`bnlab.datasets.mnist.load_data` for the full search order and the errors raised.
    """
    if isinstance(path, (str, os.PathLike)) and os.fspath(path) == _KERAS_DEFAULT:
        return _mnist.load_data()
    return _mnist.load_data(path)
