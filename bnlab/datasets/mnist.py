"""MNIST handwritten digits: ``load_data()`` (Keras-compatible) and ``load_idx_dir()``.

60,000 training and 10,000 test images of the digits 0-9, 28x28 grayscale, uint8 (0 = background).
See ``bnlab.datasets`` for where the files are looked for; the formats are described in ``_idx`` (the
original IDX files) and ``_npz`` (Keras's ``mnist.npz``). Downloads fetch ``mnist.npz`` from the
tf-keras-datasets bucket (override the folder with ``$BNLAB_MNIST_URL``).

License: Yann LeCun and Corinna Cortes hold the copyright of MNIST, a derivative work of the NIST
datasets; it is available under the Creative Commons Attribution-Share Alike 3.0 license.
"""

from __future__ import annotations

import os

import numpy as np

from . import _mnist_like
from ._mnist_like import load_idx_dir

__all__ = ["FAMILY", "load_data", "load_idx_dir"]

FAMILY = _mnist_like.Family(key="mnist", subdir="mnist", npz_name="mnist.npz", keras_idx=False)


def load_data(
    path: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load MNIST as ``((x_train, y_train), (x_test, y_test))``, exactly as ``keras.datasets.mnist``.

    Shapes: ``(60000, 28, 28)``, ``(60000,)``, ``(10000, 28, 28)``, ``(10000,)``; all uint8, in the
    order of the files.

    Args:
        path: a folder (holding the IDX files, an ``mnist/`` folder of them, or ``mnist.npz``) or a file
            (``mnist.npz`` or one of the IDX files), searched first. A bare relative name is also looked
            up in the data directory and Keras's cache.
        download: whether to download ``mnist.npz`` when no local copy is found.
        cache_dir: bnlab's data directory; default ``$BNLAB_DATA_DIR``, else ``~/.bnlab/datasets``.

    Search order: ``path``; ``<data dir>/mnist/`` (IDX, gzipped or raw); ``<data dir>/mnist.npz``;
    ``~/.keras/datasets/mnist.npz``; then a download into the data directory.

    Raises:
        DatasetFileError: a file was found but is malformed (the message names it).
        DatasetNotFoundError: nothing was found and the download failed or was disabled.
    """
    return _mnist_like.load(FAMILY, path, download=download, cache_dir=cache_dir)
