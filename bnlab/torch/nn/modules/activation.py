"""Activation layers: ``ReLU``, ``Sigmoid``, ``Tanh``, ``Softmax``, ``LogSoftmax`` (no parameters).

Each calls its ``nn.functional`` counterpart, which runs in the engine:
relu(x) = max(x, 0); sigmoid(x) = 1 / (1 + e^-x); tanh; softmax over ``dim`` = e^x / sum(e^x);
log_softmax = x - log(sum(e^x)). bnlab computes (log-)softmax over the last dimension only.
"""

from __future__ import annotations

from .. import functional as F
from .module import Module

__all__ = ["LogSoftmax", "ReLU", "Sigmoid", "Softmax", "Tanh"]


class ReLU(Module):
    """max(x, 0). With ``inplace=True`` the result overwrites the input (recorded in the graph, as PyTorch)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.relu(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Sigmoid(Module):
    """1 / (1 + e^-x)."""

    def forward(self, input):
        return F.sigmoid(input)


class Tanh(Module):
    """tanh x."""

    def forward(self, input):
        return F.tanh(input)


class _AlongDim(Module):
    """An activation along one dimension, ``dim``; None picks PyTorch's deprecated implicit one (with its
    warning)."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_AlongDim):
    """e^x / sum(e^x) along ``dim`` (which must be the last dimension of the input)."""

    def forward(self, input):
        return F.softmax(input, self.dim)


class LogSoftmax(_AlongDim):
    """x - log(sum(e^x)) along ``dim`` (the last dimension); pair it with ``NLLLoss``."""

    def forward(self, input):
        return F.log_softmax(input, self.dim)
