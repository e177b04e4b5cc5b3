"""bnlab.keras: the tf.keras API of the seeds on bnlab's C++ engine.

``import bnlab as tf`` then ``tf.keras.models.Sequential``, ``tf.keras.layers.BatchNormalization``,
``tf.keras.optimizers.Adam``, ``tf.keras.datasets.mnist.load_data()`` ... behave as in Keras 3.
"""

from bnlab.keras import (
    activations,
    backend,
    callbacks,
    datasets,
    functional,  # noqa: F401 (registers Functional for load_model)
    initializers,
    layers,
    losses,
    metrics,
    models,
    optimizers,
    saving,
    utils,
)
from bnlab.keras.layers import Input
from bnlab.keras.models import Model, Sequential

__all__ = [
    "Input",
    "Model",
    "Sequential",
    "activations",
    "backend",
    "callbacks",
    "datasets",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "models",
    "optimizers",
    "saving",
    "utils",
]
