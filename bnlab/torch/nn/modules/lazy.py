"""Lazy modules: ``LazyLinear``, ``LazyConv2d``, ``LazyBatchNorm1d``, ``LazyBatchNorm2d`` (d2l writes its BN chapter
with them). Each is made without its input size; its first forward reads it from the input, gives the
parameters (and BN's buffers) their shapes, initialises them as the eager layer does, and turns the module into
that layer (``type(m)`` becomes ``nn.Linear``...), as PyTorch does:

    LazyLinear(out)           in_features  = input.shape[-1]
    LazyConv2d(out, k, ...)   in_channels  = input.shape[1] (batched) or input.shape[0] (unbatched (C, H, W))
    LazyBatchNorm1d/2d()      num_features = input.shape[1]

Until then the parameters are ``nn.parameter.UninitializedParameter`` (printed ``<UninitializedParameter>``) and
``in_features`` / ``in_channels`` / ``num_features`` is 0. An optimizer may be made before the first forward: it
holds the same parameter objects, which the first forward fills. The initialization draws from the default
generator at that first forward (PyTorch's order of draws), not at construction.
"""

from __future__ import annotations

from ... import autograd
from ..parameter import UninitializedBuffer, UninitializedParameter
from .batchnorm import BatchNorm1d, BatchNorm2d
from .conv import Conv2d
from .linear import Linear

__all__ = ["LazyBatchNorm1d", "LazyBatchNorm2d", "LazyConv2d", "LazyLinear", "LazyModuleMixin"]


def _infer_on_first_call(module, args):
    if module.has_uninitialized_params():
        with autograd.no_grad():
            module.initialize_parameters(*args)
    if module.has_uninitialized_params():
        raise RuntimeError(f"module {module._get_name()} has not been fully initialized")
    module._lazy_hook.remove()
    del module._lazy_hook
    module.__class__ = module.cls_to_become


class LazyModuleMixin:
    """What the lazy modules share: the first-forward hook and the uninitialized check."""

    cls_to_become = None

    def _start_lazy(self) -> None:
        self._lazy_hook = self.register_forward_pre_hook(_infer_on_first_call)

    def has_uninitialized_params(self) -> bool:
        """True while a parameter or buffer still waits for the first input's shape."""
        tensors = list(self._parameters.values()) + list(self._buffers.values())
        return any(isinstance(t, (UninitializedParameter, UninitializedBuffer)) for t in tensors)


def _uninitialized_weight_and_bias(layer, weight_shape, bias, device=None, dtype=None) -> None:
    layer.weight = UninitializedParameter(device=device)
    if bias:
        layer.bias = UninitializedParameter(device=device)
    else:
        layer.register_parameter("bias", None)


class LazyLinear(LazyModuleMixin, Linear):
    """``LazyLinear(out_features, bias=True)``: a Linear whose in_features is the first input's last size."""

    cls_to_become = Linear
    _make_parameters = _uninitialized_weight_and_bias

    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(0, out_features, bias, device, dtype)
        self._start_lazy()

    def initialize_parameters(self, input, *args) -> None:
        """The shapes from the first input (called once, under no_grad, by the first forward's hook)."""
        self.in_features = input.shape[-1]
        self.weight.materialize((self.out_features, self.in_features))
        if self.bias is not None:
            self.bias.materialize((self.out_features,))
        self.reset_parameters()


class LazyConv2d(LazyModuleMixin, Conv2d):
    """``LazyConv2d(out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
    padding_mode='zeros')``: a Conv2d whose in_channels is the first input's channel count."""

    cls_to_become = Conv2d
    _make_parameters = _uninitialized_weight_and_bias

    def __init__(
        self,
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
        # Conv2d checks every argument; in_channels = groups passes its divisibility checks until the input says
        super().__init__(groups, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode)
        self.in_channels = 0
        if device is not None:
            self.to(device)
        self._start_lazy()

    def initialize_parameters(self, input, *args) -> None:
        if input.dim() not in (3, 4):
            raise RuntimeError(
                f"Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: {list(input.shape)}"
            )
        self.in_channels = input.shape[0] if input.dim() == 3 else input.shape[1]
        self.weight.materialize((self.out_channels, self.in_channels // self.groups, *self.kernel_size))
        if self.bias is not None:
            self.bias.materialize((self.out_channels,))
        self.reset_parameters()


class _LazyBatchNorm(LazyModuleMixin):
    def __init__(self, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, device=None, dtype=None):
        super().__init__(1, eps, momentum, affine, track_running_stats)  # 1: a placeholder the input replaces
        self.num_features = 0
        if affine:
            self.weight = UninitializedParameter()
            self.bias = UninitializedParameter()
        if track_running_stats:
            self.running_mean = UninitializedBuffer()
            self.running_var = UninitializedBuffer()
        if device is not None:
            self.to(device)
        self._start_lazy()

    def initialize_parameters(self, input, *args) -> None:
        self.num_features = input.shape[1]
        for t in (self.weight, self.bias, self.running_mean, self.running_var):
            if t is not None:
                t.materialize((self.num_features,))
        self.reset_parameters()


class LazyBatchNorm1d(_LazyBatchNorm, BatchNorm1d):
    """``LazyBatchNorm1d(eps=1e-5, momentum=0.1, affine=True, track_running_stats=True)``."""

    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyBatchNorm, BatchNorm2d):
    """``LazyBatchNorm2d(eps=1e-5, momentum=0.1, affine=True, track_running_stats=True)``."""

    cls_to_become = BatchNorm2d
