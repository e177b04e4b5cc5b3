"""``bnlab.data``: tf.data-style input pipelines over NumPy arrays (``import bnlab as tf; tf.data.Dataset``).

See :mod:`bnlab.data.dataset` for the semantics of each step and the vectorised fast path; its ``__all__``
is this package's.
"""

from .dataset import *  # noqa: F403
from .dataset import __all__  # noqa: F401

# Set by the package above that provides tf.data.experimental (bnlab/__init__.py: the TF core's module); bnlab.data
# sits below the TF core and never imports it.
experimental_loader = None


def __getattr__(name):
    """``tf.data.experimental`` (``cardinality``, ``AUTOTUNE``...): bnlab/tf/data_experimental.py, which needs the TF
    core's tensors; loaded on first use through ``experimental_loader``."""
    if name == "experimental" and experimental_loader is not None:
        return experimental_loader()
    raise AttributeError(f"module 'bnlab.data' has no attribute {name!r}")
