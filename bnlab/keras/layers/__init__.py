"""bnlab.keras.layers: the layers of the seeds, with Keras's names, defaults and weight layouts."""

from bnlab.keras.layers.base import Layer, Variable
from bnlab.keras.layers.core import Activation, Dense, Dropout, Flatten, Input, InputLayer
from bnlab.keras.layers.normalization import BatchNormalization
from bnlab.keras.layers.normalization_family import GroupNormalization, LayerNormalization

__all__ = [
    "Activation",
    "BatchNormalization",
    "Dense",
    "Dropout",
    "Flatten",
    "GroupNormalization",
    "Input",
    "InputLayer",
    "Layer",
    "LayerNormalization",
    "Variable",
]
