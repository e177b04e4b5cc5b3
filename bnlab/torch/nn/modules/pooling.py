"""Pooling layers over (N, C, H, W): ``nn.MaxPool2d``, ``nn.AvgPool2d`` and ``nn.AdaptiveAvgPool2d``.

    max pool:  out[n, c, i, j] = max  over the kh x kw window at (i*sh - ph, j*sw - pw)
    avg pool:  out[n, c, i, j] = mean over that window; padded positions count as zeros in the mean when
               count_include_pad=True (PyTorch's default), else the divisor is the number of real values
    adaptive average pool to 1 x 1 (global average pooling): out[n, c] = mean over H*W

Each window covers H_out = floor((H + 2 ph - kh) / sh) + 1 positions per axis (ceil_mode=False). The
configuration is stored exactly as given (``stride`` defaults to ``kernel_size``), as PyTorch stores it,
and validated when the layer is built: a ValueError names the argument.
"""

from __future__ import annotations

from .. import _conv_args
from .. import functional as F
from .module import Module

__all__ = ["AdaptiveAvgPool2d", "AvgPool2d", "MaxPool2d"]


class _Pool2d(Module):
    """What MaxPool2d and AvgPool2d share: the window, checked (``pool_args``, ValueError naming the argument)
    and stored as given, ``stride`` defaulting to ``kernel_size``."""

    def __init__(self, layer: str, kernel_size, stride, padding, dilation, ceil_mode: bool) -> None:
        super().__init__()
        _conv_args.pool_args(layer, kernel_size, stride, padding, dilation, ceil_mode, ValueError)
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None or stride in ((), []) else stride
        self.padding = padding
        self.ceil_mode = ceil_mode

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """``MaxPool2d(kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False)``."""

    def __init__(
        self, kernel_size, stride=None, padding=0, dilation=1, return_indices: bool = False, ceil_mode: bool = False
    ) -> None:
        super().__init__("MaxPool2d", kernel_size, stride, padding, dilation, ceil_mode)
        if return_indices:
            raise ValueError("MaxPool2d: return_indices=True is not supported by bnlab")
        self.dilation = dilation
        self.return_indices = return_indices

    def forward(self, input):
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, dilation={self.dilation}, ceil_mode={self.ceil_mode}"


class AvgPool2d(_Pool2d):
    """``AvgPool2d(kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
    divisor_override=None)``."""

    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override=None,
    ) -> None:
        super().__init__("AvgPool2d", kernel_size, stride, padding, 1, ceil_mode)
        if divisor_override is not None:
            raise ValueError("AvgPool2d: divisor_override is not supported by bnlab (leave it None)")
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input):
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)


class AdaptiveAvgPool2d(Module):
    """``AdaptiveAvgPool2d(output_size)``; bnlab supports output size 1 (or (1, 1)): global average pooling,
    (N, C, H, W) -> (N, C, 1, 1)."""

    def __init__(self, output_size) -> None:
        super().__init__()
        _conv_args.check_adaptive_output_size("AdaptiveAvgPool2d", output_size, ValueError)
        self.output_size = output_size

    def forward(self, input):
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
