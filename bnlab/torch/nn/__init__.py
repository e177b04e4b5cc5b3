"""``bnlab.torch.nn``: modules (layers and models), ``Parameter``, ``functional`` and ``init``.

``import bnlab.torch.nn as nn`` then ``nn.Linear``, ``nn.Conv2d``, ``nn.BatchNorm1d``, ``nn.BatchNorm2d``,
``nn.MaxPool2d``, ``nn.ReLU``, ``nn.CrossEntropyLoss``, ``nn.Module``... as in PyTorch.
"""

from .. import _names
from . import functional, init, modules
from .modules import *  # noqa: F403  (the layers, modules.__all__; as torch.nn does)
from .parameter import Parameter

__all__ = ["Parameter", "functional", "init"]
__all__ += modules.__all__
__all__.sort()

__getattr__ = _names.module_getattr("bnlab.torch.nn", globals())
