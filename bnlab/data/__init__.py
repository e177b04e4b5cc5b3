"""``bnlab.data``: tf.data-style input pipelines over NumPy arrays (``import bnlab as tf; tf.data.Dataset``).

See :mod:`bnlab.data.dataset` for the semantics of each step and the vectorised fast path; its ``__all__``
is this package's.
"""

from .dataset import *  # noqa: F403
from .dataset import __all__  # noqa: F401


def __getattr__(name):
    """``tf.data.experimental`` (``cardinality``, ``AUTOTUNE``...): bnlab/tf/data_experimental.py, which needs the TF
    core's tensors; loading it loads the TF core, and it stays here as ``bnlab.data.experimental``."""
    if name == "experimental":
        from bnlab.tf import data_experimental  # the TF core's __init__ registers it here

        return data_experimental
    raise AttributeError(f"module 'bnlab.data' has no attribute {name!r}")
