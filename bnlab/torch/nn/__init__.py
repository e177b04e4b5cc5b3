"""``bnlab.torch.nn``: modules (layers and models), ``Parameter``, ``functional`` and ``init``.

``import bnlab.torch.nn as nn`` then ``nn.Linear``, ``nn.Conv2d``, ``nn.BatchNorm1d``, ``nn.BatchNorm2d``,
``nn.MaxPool2d``, ``nn.ReLU``, ``nn.CrossEntropyLoss``, ``nn.Module``... as in PyTorch.

The core layers live in ``modules``; the further activations, losses, containers, 1-D/adaptive pools, paddings,
embeddings, instance norm and dropout variants in ``_activation_layers``, ``_loss_layers``, ``_container_layers``,
``_conv_pool_layers`` and ``_norm_dropout_layers``.
"""

from .. import _names
from . import (
    _activation_layers,
    _container_layers,
    _conv_pool_layers,
    _loss_layers,
    _norm_dropout_layers,
    functional,
    init,
    modules,
)
from ._activation_layers import *  # noqa: F403
from ._container_layers import *  # noqa: F403
from ._conv_pool_layers import *  # noqa: F403
from ._loss_layers import *  # noqa: F403
from ._norm_dropout_layers import *  # noqa: F403
from .modules import *  # noqa: F403  (the layers, modules.__all__; as torch.nn does)
from .parameter import Parameter

__all__ = ["Parameter", "functional", "init"]
__all__ += modules.__all__
for _family in (_activation_layers, _container_layers, _conv_pool_layers, _loss_layers, _norm_dropout_layers):
    __all__ += _family.__all__
__all__.sort()
del _family

__getattr__ = _names.module_getattr("bnlab.torch.nn", globals())
