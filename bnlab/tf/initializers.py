"""``tf.initializers``: TensorFlow 2's alias of the Keras initializers, with its lower-case names.

In TensorFlow 2, ``tf.initializers.ones`` is the class ``Ones`` (``tf.initializers.zeros`` is ``Zeros``...), so
``add_weight(initializer=tf.initializers.ones)`` passes a class, which Keras instantiates. Here the classes are
bnlab.keras's (bnlab/keras/initializers.py: Keras's formulas and the global random state).
"""

from ..keras.initializers import (
    Constant,
    GlorotNormal,
    GlorotUniform,
    HeNormal,
    HeUniform,
    Initializer,
    LecunNormal,
    LecunUniform,
    Ones,
    RandomNormal,
    RandomUniform,
    VarianceScaling,
    Zeros,
    get,
)

constant, ones, zeros = Constant, Ones, Zeros
glorot_normal, glorot_uniform = GlorotNormal, GlorotUniform
he_normal, he_uniform, lecun_normal, lecun_uniform = HeNormal, HeUniform, LecunNormal, LecunUniform
random_normal, random_uniform, variance_scaling = RandomNormal, RandomUniform, VarianceScaling

__all__ = [
    "Constant",
    "GlorotNormal",
    "GlorotUniform",
    "HeNormal",
    "HeUniform",
    "Initializer",
    "LecunNormal",
    "LecunUniform",
    "Ones",
    "RandomNormal",
    "RandomUniform",
    "VarianceScaling",
    "Zeros",
    "constant",
    "get",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "lecun_normal",
    "lecun_uniform",
    "ones",
    "random_normal",
    "random_uniform",
    "variance_scaling",
    "zeros",
]
