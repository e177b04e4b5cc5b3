"""Fashion-MNIST (Zalando): ``load_data()`` (Keras-compatible) and ``load_idx_dir()``.

60,000 training and 10,000 test images of clothing, 28x28 grayscale, uint8, 6,000 training images per
class. A drop-in replacement for MNIST, with the same four IDX files. The classes are::

    0 T-shirt/top   1 Trouser   2 Pullover   3 Dress   4 Coat
    5 Sandal        6 Shirt     7 Sneaker    8 Bag     9 Ankle boot

See ``bnlab.datasets`` for where the files are looked for (this includes Debian's
``/usr/share/datasets/fashion-mnist``). Downloads fetch the four ``.gz`` files from the tf-keras-datasets
bucket (override the folder with ``$BNLAB_FASHION_MNIST_URL``).

License: the copyright of Fashion-MNIST is held by Zalando SE; it is available under the MIT license.
"""

from __future__ import annotations

import os

import numpy as np

from . import _mnist_like
from ._mnist_like import load_idx_dir

__all__ = ["CLASS_NAMES", "FAMILY", "load_data", "load_idx_dir"]

FAMILY = _mnist_like.Family(key="fashion_mnist", subdir="fashion-mnist", npz_name=None, keras_idx=True)

CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


def load_data(
    path: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load Fashion-MNIST as ``((x_train, y_train), (x_test, y_test))``, as ``keras.datasets.fashion_mnist``.

    Shapes: ``(60000, 28, 28)``, ``(60000,)``, ``(10000, 28, 28)``, ``(10000,)``; all uint8, in file order.

    Args:
        path: a folder holding the four IDX files (or a ``fashion-mnist/`` folder of them), or one of the
            IDX files; searched first.
        download: whether to download the missing ``.gz`` files when no complete local copy is found.
        cache_dir: bnlab's data directory; default ``$BNLAB_DATA_DIR``, else ``~/.bnlab/datasets``.

    Search order: ``path``; ``<data dir>/fashion-mnist/``; ``~/.keras/datasets/fashion-mnist/``;
    ``/usr/share/datasets/fashion-mnist``; then a download into ``<data dir>/fashion-mnist/``.

    Raises:
        DatasetFileError: a file was found but is malformed (the message names it).
        DatasetNotFoundError: nothing was found and the download failed or was disabled.
    """
    return _mnist_like.load(FAMILY, path, download=download, cache_dir=cache_dir)
