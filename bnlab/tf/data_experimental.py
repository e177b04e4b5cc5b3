"""``tf.data.experimental``: ``cardinality(dataset)`` and the constants TensorFlow keeps there.

``tf.data`` is bnlab.data (``import bnlab as tf``); its ``Dataset.cardinality()`` returns a Python int, while
TensorFlow's ``tf.data.experimental.cardinality(ds)`` returns a 0-d int64 tensor, so that code such as d2l's
``tf.data.experimental.cardinality(train_iter).numpy()`` runs. This namespace joins bnlab.data as
``bnlab.data.experimental`` when the TF core loads (bnlab/tf/__init__.py), or on first access of
``bnlab.data.experimental`` (bnlab/data/__init__.py loads it then): it needs the TF core's tensors.
"""

from __future__ import annotations

import numpy as np

from ..data import AUTOTUNE, INFINITE_CARDINALITY, UNKNOWN_CARDINALITY, Dataset
from .variables import constant

__all__ = ["AUTOTUNE", "INFINITE_CARDINALITY", "UNKNOWN_CARDINALITY", "cardinality"]


def cardinality(dataset):
    """The number of elements of ``dataset`` as a 0-d int64 tensor (-1: infinite, -2: unknown)."""
    if not isinstance(dataset, Dataset):
        raise TypeError(f"cardinality: expected a tf.data.Dataset, got {type(dataset).__name__}")
    return constant(np.int64(dataset.cardinality()))


def register() -> None:
    """Make this module ``bnlab.data.experimental`` (unless bnlab.data has its own)."""
    from .. import data

    if "experimental" not in vars(data):  # (hasattr would ask bnlab.data's __getattr__, which loads this module)
        data.experimental = __import__(__name__, fromlist=["cardinality"])
