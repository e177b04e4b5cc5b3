"""``tf.keras.backend``: the few backend functions TensorFlow-era Keras code calls.

``floatx()`` is "float32" (bnlab computes in float32), ``epsilon()`` Keras's fuzz factor 1e-7,
``image_data_format()`` "channels_last" (bnlab's layers are channels-last), ``clear_session()`` resets the automatic
layer names (dense, dense_1, ... start again), ``learning_phase()`` is 0 (TensorFlow 2's value outside fit: layers
get ``training`` from their call, never from a global phase), ``int_shape(x)`` a tensor's or array's shape as a
tuple.
"""

import numpy as np

from bnlab.keras.layers.base import reset_names

__all__ = ["clear_session", "epsilon", "floatx", "image_data_format", "int_shape", "learning_phase"]


def floatx():
    return "float32"


def epsilon():
    return 1e-7


def image_data_format():
    return "channels_last"


def clear_session(free_memory=True):
    """Forget the automatic layer names, as Keras's ``clear_session`` resets its name counters."""
    reset_names()


def learning_phase():
    return 0


def int_shape(x):
    shape = getattr(x, "shape", None)
    return tuple(None if d is None else int(d) for d in (shape if shape is not None else np.shape(x)))
