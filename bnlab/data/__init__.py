"""``bnlab.data``: tf.data-style input pipelines over NumPy arrays (``import bnlab as tf; tf.data.Dataset``).

See :mod:`bnlab.data.dataset` for the semantics of each step and the vectorised fast path.
"""

from .dataset import AUTOTUNE, INFINITE_CARDINALITY, UNKNOWN_CARDINALITY, Dataset, DatasetIterator, FastPlan

__all__ = [
    "AUTOTUNE",
    "INFINITE_CARDINALITY",
    "UNKNOWN_CARDINALITY",
    "Dataset",
    "DatasetIterator",
    "FastPlan",
]
