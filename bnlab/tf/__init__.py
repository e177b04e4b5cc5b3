"""``bnlab.tf``: TensorFlow 2's core on bnlab's engine — tensors, variables, ops and ``GradientTape``.

``import bnlab as tf`` reaches these names at the top level (``tf.constant``, ``tf.Variable``,
``tf.GradientTape``, ``tf.reduce_mean``, ``tf.float32``...), next to ``tf.keras`` and ``tf.data``. Every op runs on
bnlab.torch's tensors, so there is one autograd (bnlab.torch's tape; ``_record`` says when this face records);
Keras models called inside a tape are taped layer by layer (``_keras_bridge``); Keras layers written in Python run
here (``_python_layers``, and ``_keras_fit`` for the fit of a model holding one). Also ``tf.distribute`` (one-device
strategies), ``tf.initializers`` and ``tf.data.experimental.cardinality``.
"""

from . import _keras_bridge, data_experimental, distribute, initializers, ops  # noqa: F401 - in __all__
from .ops import *  # noqa: F403
from .tape import GradientTape, UnconnectedGradients  # noqa: F401 - in __all__
from .tensor import Tensor, TensorShape  # noqa: F401 - in __all__

__all__ = sorted(
    {*ops.__all__, "GradientTape", "Tensor", "TensorShape", "UnconnectedGradients", "distribute", "initializers"}
)

_keras_bridge.register()
data_experimental.register()  # tf.data.experimental.cardinality (tf.data is bnlab.data)
