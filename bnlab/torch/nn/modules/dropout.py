"""``nn.Dropout`` and ``nn.Flatten``: layers that reshape or mask, without parameters.

Dropout (inverted): in training mode each value is zeroed with probability p and the others are scaled by
1/(1-p), so the expected value is unchanged; in eval mode (and for p = 0) the input passes through. The mask
comes from the engine's counter-based generator, seeded from ``torch.manual_seed``'s default generator.
"""

from __future__ import annotations

from .. import functional as F
from .module import Module

__all__ = ["Dropout", "Flatten"]


class Dropout(Module):
    """Zero values with probability ``p`` while training (scaling the rest by 1/(1-p))."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input):
        return F.dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Flatten(Module):
    """Flatten dimensions start_dim..end_dim into one (by default everything but the batch dimension)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input):
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
