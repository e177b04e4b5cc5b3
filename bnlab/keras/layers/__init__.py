"""bnlab.keras.layers: the layers of the seeds, with Keras's names, defaults and weight layouts."""

from bnlab.keras.layers.base import Layer, Variable
from bnlab.keras.layers.convolutional import Conv2D
from bnlab.keras.layers.core import Activation, Dense, Dropout, Flatten, Input, InputLayer
from bnlab.keras.layers.merging import Add
from bnlab.keras.layers.normalization import BatchNormalization
from bnlab.keras.layers.normalization_family import GroupNormalization, LayerNormalization
from bnlab.keras.layers.pooling import AveragePooling2D, GlobalAveragePooling2D, MaxPooling2D

AvgPool2D, MaxPool2D = AveragePooling2D, MaxPooling2D  # Keras's aliases

__all__ = [
    "Activation",
    "Add",
    "AveragePooling2D",
    "AvgPool2D",
    "BatchNormalization",
    "Conv2D",
    "Dense",
    "Dropout",
    "Flatten",
    "GlobalAveragePooling2D",
    "GroupNormalization",
    "Input",
    "InputLayer",
    "Layer",
    "LayerNormalization",
    "MaxPool2D",
    "MaxPooling2D",
    "Variable",
]
