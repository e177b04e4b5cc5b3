"""Keras-compatible dataset modules: ``bnlab.keras.datasets.mnist``, ``.fashion_mnist``, ``.cifar10``.

Each has a ``load_data()`` with Keras's signature that returns what Keras returns,
``((x_train, y_train), (x_test, y_test))`` as uint8 NumPy arrays. They are thin wrappers around
``bnlab.datasets``, which documents where the files are looked for and how they are checked.
"""

from . import cifar10, fashion_mnist, mnist

__all__ = ["cifar10", "fashion_mnist", "mnist"]
