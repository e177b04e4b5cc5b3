"""``nn.LayerNorm`` and ``nn.GroupNorm``: per-sample normalization with PyTorch's exact semantics.

    LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=True, bias=True)
        x (*, *normalized_shape): each leading index normalised over its trailing values;
        weight (ones) and bias (zeros) of shape normalized_shape
    GroupNorm(num_groups, num_channels, eps=1e-5, affine=True, *, bias=True)
        x (N, C, *): each sample's group of C/num_groups channels normalised over those channels and every
        position; weight (ones), bias (zeros) of shape (C)
    y = weight * (x - mean) / sqrt(var + eps) + bias      (mean, biased var per sample and group)

Unlike BatchNorm1d: statistics never mix samples, so there are no running statistics (no buffers),
``model.train()`` and ``model.eval()`` give the same result, and a batch of one is fine (but GroupNorm refuses,
as PyTorch, a sample whose every group holds a single value: N*C//num_groups * positions == 1). GroupNorm(C, C) is
instance norm; GroupNorm(1, C) normalises the whole sample. Keras's equivalents default to eps = 1e-3 and, for
GroupNormalization, channels-last input.

Argument errors: num_groups <= 0 is a ValueError naming it (PyTorch 2.13's constructor computes
num_channels % num_groups first, a ZeroDivisionError for 0, and refuses a negative count that divides
num_channels only in forward); a bool in normalized_shape is a TypeError, as PyTorch's.
"""

from __future__ import annotations

import numbers

from .. import _norm_functional as NF
from ._parameters import affine_parameters
from .module import Module

__all__ = ["GroupNorm", "LayerNorm"]


class LayerNorm(Module):
    """Layer normalization over the trailing ``normalized_shape`` (see the module docstring)."""

    def __init__(
        self,
        normalized_shape,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        ns = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else tuple(normalized_shape)
        if not all(isinstance(d, numbers.Integral) and not isinstance(d, bool) for d in ns):  # PyTorch: TypeError
            raise TypeError(f"LayerNorm: normalized_shape must be an int or a tuple of ints, got {normalized_shape!r}")
        if not ns or not all(d > 0 for d in ns):
            raise ValueError(f"LayerNorm: normalized_shape must be positive ints, got {normalized_shape!r}")
        ns = tuple(int(d) for d in ns)
        self.normalized_shape = ns
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        affine_parameters(self, ns, elementwise_affine, bias, device)

    def forward(self, input):
        return NF.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
            f"bias={self.bias is not None}"
        )


class GroupNorm(Module):
    """Group normalization of (N, C, *) inputs (see the module docstring)."""

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        device=None,
        dtype=None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        # Checked before the division (num_channels % 0 would be a ZeroDivisionError). PyTorch 2.13's constructor
        # divides first, and a negative count that divides num_channels passes until forward ("Expected num groups
        # to be greater than 0").
        if isinstance(num_groups, numbers.Real) and not num_groups > 0:
            raise ValueError(f"GroupNorm: expected num_groups to be greater than 0, got num_groups={num_groups!r}")
        if num_channels % num_groups:
            raise ValueError("num_channels must be divisible by num_groups")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        affine_parameters(self, (num_channels,), affine, bias, device=device)

    def forward(self, input):
        return NF.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )
