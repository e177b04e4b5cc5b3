"""``bnlab.torch.nn``: modules (layers and models), ``Parameter``, ``functional`` and ``init``.

``import bnlab.torch.nn as nn`` then ``nn.Linear``, ``nn.Conv2d``, ``nn.BatchNorm1d``, ``nn.BatchNorm2d``,
``nn.MaxPool2d``, ``nn.ReLU``, ``nn.CrossEntropyLoss``, ``nn.Module``... as in PyTorch.
"""

from . import functional, init
from .modules import (
    AdaptiveAvgPool2d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    BatchNormTrainingModeWarning,
    Conv2d,
    CrossEntropyLoss,
    Dropout,
    Flatten,
    GroupNorm,
    Identity,
    LayerNorm,
    Linear,
    LogSoftmax,
    MaxPool2d,
    Module,
    ModuleList,
    MSELoss,
    NLLLoss,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
)
from .parameter import Parameter

__all__ = [
    "AdaptiveAvgPool2d",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNormTrainingModeWarning",
    "Conv2d",
    "CrossEntropyLoss",
    "Dropout",
    "Flatten",
    "GroupNorm",
    "Identity",
    "LayerNorm",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "MaxPool2d",
    "Module",
    "ModuleList",
    "NLLLoss",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "functional",
    "init",
]
