"""``nn.Linear`` (y = x W^T + b) and ``nn.Identity``.

Initialization is PyTorch's: ``kaiming_uniform_(weight, a=sqrt(5))``, i.e. W ~ U(-1/sqrt(in), 1/sqrt(in)),
and b ~ U(-1/sqrt(in), 1/sqrt(in)), drawn from the default generator (``torch.manual_seed``). The weight is
stored (out_features, in_features), PyTorch's layout, which the engine's dense op reads directly.
"""

from __future__ import annotations

import math

from .. import functional as F
from .. import init
from ._parameters import weight_and_bias
from .module import Module

__all__ = ["Identity", "Linear"]


class Linear(Module):
    """A fully connected layer: ``Linear(in_features, out_features, bias=True)``."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"Linear: {name} must be a non-negative int, got {value!r}")
        self.in_features = in_features
        self.out_features = out_features
        self._make_parameters((out_features, in_features), bias, device, dtype)

    _make_parameters = weight_and_bias  # LazyLinear's makes uninitialized ones (lazy.py)

    def reset_parameters(self) -> None:
        """W, b ~ U(-1/sqrt(in_features), 1/sqrt(in_features)) (kaiming_uniform_ with a = sqrt(5))."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    """Returns its input unchanged (a placeholder layer)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()

    def forward(self, input):
        return input
