"""The layers of ``bnlab.torch.nn``, one file per family (module, linear, batchnorm, activation, dropout,
loss, container)."""

from .activation import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .batchnorm import BatchNorm1d, BatchNorm2d, BatchNormTrainingModeWarning
from .container import ModuleList, Sequential
from .dropout import Dropout, Flatten
from .linear import Identity, Linear
from .loss import CrossEntropyLoss, MSELoss, NLLLoss
from .module import Module
from .normalization import GroupNorm, LayerNorm

__all__ = [
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNormTrainingModeWarning",
    "CrossEntropyLoss",
    "Dropout",
    "Flatten",
    "GroupNorm",
    "Identity",
    "LayerNorm",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "Module",
    "ModuleList",
    "NLLLoss",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
]
