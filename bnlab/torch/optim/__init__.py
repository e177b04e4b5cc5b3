"""``bnlab.torch.optim``: ``SGD``, ``Adam`` and ``AdamW``; every update runs in the engine's kernels."""

from .adam import Adam, AdamW
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer"]
