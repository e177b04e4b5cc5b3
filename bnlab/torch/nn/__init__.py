"""``bnlab.torch.nn``: modules (layers and models), ``Parameter``, ``functional`` and ``init``.

``import bnlab.torch.nn as nn`` then ``nn.Linear``, ``nn.BatchNorm1d``, ``nn.ReLU``, ``nn.CrossEntropyLoss``,
``nn.Module``... as in PyTorch.
"""

from . import functional, init
from .modules import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNormTrainingModeWarning,
    CrossEntropyLoss,
    Dropout,
    Flatten,
    GroupNorm,
    Identity,
    LayerNorm,
    Linear,
    LogSoftmax,
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
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "functional",
    "init",
]
