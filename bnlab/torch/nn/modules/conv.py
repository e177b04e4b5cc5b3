"""``nn.Conv2d``: 2-D convolution (cross-correlation, as in every framework) over (N, C, H, W) inputs.

    out[n, o, i, j] = bias[o] + sum_{c, u, v} weight[o, c, u, v] * x_pad[n, c, i*sh + u, j*sw + v]

The weight is stored (out_channels, in_channels, kh, kw), PyTorch's layout, which the engine's NCHW
convolution reads directly. Initialization is PyTorch's: ``kaiming_uniform_(weight, a=sqrt(5))``, i.e.
W ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in_channels * kh * kw, and b ~ U(-1/sqrt(fan_in),
1/sqrt(fan_in)), drawn from the default generator (``torch.manual_seed``).

Supported: stride, padding (ints, pairs, 'valid' or 'same'), bias. Not supported (ValueError naming the
argument): dilation != 1, groups != 1, padding_mode other than 'zeros'.
"""

from __future__ import annotations

import math

from .. import _conv_args, init
from .. import functional as F
from ._parameters import weight_and_bias
from .module import Module

__all__ = ["Conv2d"]

_PADDING_MODES = ("zeros", "circular", "replicate", "reflect")


def _positive_int(layer: str, name: str, value) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{layer}: {name} must be a positive int, got {value!r}")
    return value


def check_groups(in_channels, out_channels, groups, *, int_groups: bool = True) -> None:
    """PyTorch's checks of ``groups`` against the channel counts (its ``_ConvNd`` messages), which Conv2d and Conv1d
    (``_conv_pool_layers``) share. With ``int_groups`` a groups that is not an int fails the first check; Conv1d
    passes False and compares groups as given."""
    if (int_groups and not isinstance(groups, int)) or groups <= 0:
        raise ValueError("groups must be a positive integer")
    if in_channels % groups != 0:
        raise ValueError("in_channels must be divisible by groups")
    if out_channels % groups != 0:
        raise ValueError("out_channels must be divisible by groups")


class Conv2d(Module):
    """``Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
    padding_mode='zeros')``: weight (out_channels, in_channels, kh, kw), bias (out_channels)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        _positive_int("Conv2d", "in_channels", in_channels)
        _positive_int("Conv2d", "out_channels", out_channels)
        check_groups(in_channels, out_channels, groups)
        if groups != 1:
            raise ValueError(f"Conv2d: groups={groups} is not supported by bnlab (only groups=1)")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(
                f"padding_mode must be one of {{'zeros', 'circular', 'replicate', 'reflect'}}, but got "
                f"padding_mode='{padding_mode}'"
            )
        if padding_mode != "zeros":
            raise ValueError(f"Conv2d: padding_mode='{padding_mode}' is not supported by bnlab (only 'zeros')")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _conv_args.int_pair("Conv2d", "kernel_size", kernel_size, ValueError)
        if min(self.kernel_size) <= 0:
            raise ValueError(f"Conv2d: kernel_size must be positive, got {kernel_size!r}")
        self.stride, self.padding = _conv_args.conv_args("Conv2d", stride, padding, dilation, ValueError)
        self.dilation = (1, 1)
        self.groups = groups
        self.padding_mode = padding_mode
        self.transposed = False
        self.output_padding = (0, 0)
        self._make_parameters((out_channels, in_channels, *self.kernel_size), bias, device, dtype)

    _make_parameters = weight_and_bias  # LazyConv2d's makes uninitialized ones (lazy.py)

    def reset_parameters(self) -> None:
        """W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in_channels * kh * kw (kaiming_uniform_ with
        a = sqrt(5): gain sqrt(2 / (1 + 5)) = sqrt(1/3), bound = gain * sqrt(3 / fan_in))."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init.calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        return F.conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.bias is None:
            s += ", bias=False"
        return s
