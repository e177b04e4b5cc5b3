"""The argument rules of the convolution and pooling layers and functions: pairs of ints, strides, paddings
('valid', 'same'), pooling windows, the adaptive pool's output size.

The layers validate their configuration when they are built (ValueError, as PyTorch's constructors do for the
arguments they check); the functions validate on every call (RuntimeError, as PyTorch's kernels do). Both use
PyTorch's wording, prefixed by the op's name. bnlab supports dilation 1, groups 1 and ceil_mode=False; other
values raise a ValueError that says so.
"""

from __future__ import annotations

__all__ = ["check_adaptive_output_size", "conv_args", "int_pair", "pool_args"]


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def int_pair(op: str, name: str, value, error) -> tuple[int, int]:
    """``value`` (an int, or a sequence of one or two ints) as a pair."""
    if _is_int(value):
        return (value, value)
    if isinstance(value, (tuple, list)) and len(value) in (1, 2) and all(_is_int(v) for v in value):
        return (value[0], value[-1])
    raise error(f"{op}: {name} must either be a single int, or a tuple of two ints, got {value!r}")


def _require_no_dilation(op: str, dilation, error) -> None:
    d = int_pair(op, "dilation", dilation, error)
    if min(d) <= 0:
        raise error(f"{op}: dilation should be greater than zero, but got dilation={dilation!r}")
    if d != (1, 1):
        raise ValueError(f"{op}: dilation={dilation!r} is not supported by bnlab (only dilation=1)")


def conv_args(op: str, stride, padding, dilation, error):
    """(stride pair, padding pair or 'valid'/'same') of a convolution, checked."""
    stride = int_pair(op, "stride", stride, error)
    if min(stride) <= 0:
        raise error(f"{op}: non-positive stride is not supported (got stride={stride})")
    _require_no_dilation(op, dilation, error)
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise error(f"{op}: Invalid padding string '{padding}', should be one of {{'valid', 'same'}}")
        if padding == "same" and stride != (1, 1):
            raise error(f"{op}: padding='same' is not supported for strided convolutions")
        return stride, padding
    pad = int_pair(op, "padding", padding, error)
    if min(pad) < 0:
        raise error(f"{op}: negative padding is not supported (got padding={pad})")
    return stride, pad


def pool_args(op: str, kernel_size, stride, padding, dilation, ceil_mode, error):
    """(kernel, stride, padding) pairs of a pooling op, checked; a stride of None means the kernel size."""
    kernel = int_pair(op, "kernel_size", kernel_size, error)
    stride = kernel if stride is None or stride in ((), []) else int_pair(op, "stride", stride, error)
    pad = int_pair(op, "padding", padding, error)
    if min(kernel) <= 0:
        raise error(f"{op}: kernel size should be greater than zero, but got kH: {kernel[0]} kW: {kernel[1]}")
    if min(stride) <= 0:
        raise error(f"{op}: stride should be greater than zero, but got dH: {stride[0]} dW: {stride[1]}")
    if min(pad) < 0:
        raise error(f"{op}: pad must be non-negative, but got pad: {min(pad)}")
    if pad[0] > kernel[0] // 2 or pad[1] > kernel[1] // 2:
        raise error(
            f"{op}: pad should be at most half of effective kernel size, but got pad={padding}, "
            f"kernel_size={kernel_size} and dilation=1"
        )
    _require_no_dilation(op, dilation, error)
    if ceil_mode:
        raise ValueError(f"{op}: ceil_mode=True is not supported by bnlab (only ceil_mode=False)")
    return kernel, stride, pad


def check_adaptive_output_size(op: str, output_size, error) -> None:
    """bnlab's adaptive average pooling is global: output size 1 or (1, 1)."""
    if output_size not in (1, (1, 1), [1, 1]):
        raise error(
            f"{op}: bnlab supports output_size=1 or (1, 1) (global average pooling), got output_size={output_size!r}"
        )
