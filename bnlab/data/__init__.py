"""``bnlab.data``: tf.data-style input pipelines over NumPy arrays (``import bnlab as tf; tf.data.Dataset``).

See :mod:`bnlab.data.dataset` for the semantics of each step and the vectorised fast path; its ``__all__``
is this package's.
"""

from .dataset import *  # noqa: F403
from .dataset import __all__  # noqa: F401
