"""Loss layers: ``CrossEntropyLoss``, ``NLLLoss``, ``MSELoss`` (call the ``nn.functional`` losses).

``CrossEntropyLoss()(logits, labels)``: logits (N, C) float32, labels (N,) int64 class indices; the mean
over the batch of -log softmax(logits)[label]. ``NLLLoss`` expects log-probabilities (``LogSoftmax``
output). ``MSELoss``: mean of squared differences.
"""

from __future__ import annotations

from .. import functional as F
from .module import Module

__all__ = ["CrossEntropyLoss", "MSELoss", "NLLLoss"]


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"{reduction} is not a valid value for reduction")
        self.reduction = reduction


class _WeightedLoss(_Loss):
    """A loss over class indices with optional class weights (a buffer) and an ignored class index."""

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.register_buffer("weight", weight)
        self.ignore_index = ignore_index


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy of logits against class indices; optional class ``weight``, ``ignore_index``."""

    def forward(self, input, target):
        return F.cross_entropy(input, target, self.weight, self.ignore_index, self.reduction)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities at class indices."""

    def forward(self, input, target):
        return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class MSELoss(_Loss):
    """Mean squared error (``reduction`` 'mean', 'sum' or 'none')."""

    def forward(self, input, target):
        return F.mse_loss(input, target, self.reduction)
