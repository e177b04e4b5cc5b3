"""How the layers create their parameters: the weight and bias of ``Linear`` and ``Conv2d`` (PyTorch's
initialization, drawn by the layer's ``reset_parameters``) and the affine weight and bias of the normalization
layers (ones and zeros). Each then moves the layer to ``device`` when one is given, as PyTorch's ``device=``
argument does.
"""

from __future__ import annotations

from ... import _factory
from ..parameter import Parameter

__all__ = ["affine_parameters", "weight_and_bias"]


def weight_and_bias(layer, weight_shape: tuple, bias: bool, device=None, dtype=None) -> None:
    """``layer.weight`` of ``weight_shape`` and ``layer.bias`` of ``weight_shape[0]`` (registered as None when
    ``bias`` is False), filled by ``layer.reset_parameters()``."""
    layer.weight = Parameter(_factory.empty(*weight_shape, dtype=dtype))
    if bias:
        layer.bias = Parameter(_factory.empty(weight_shape[0], dtype=dtype))
    else:
        layer.register_parameter("bias", None)
    layer.reset_parameters()
    if device is not None:
        layer.to(device)


def affine_parameters(layer, shape: tuple, affine: bool, bias: bool = True, device=None) -> None:
    """When ``affine``: ``layer.weight`` (ones) and ``layer.bias`` (zeros; None when ``bias`` is False) of
    ``shape``; otherwise both registered as None."""
    if affine:
        layer.weight = Parameter(_factory.ones(*shape))
        if bias:
            layer.bias = Parameter(_factory.zeros(*shape))
        else:
            layer.register_parameter("bias", None)
    else:
        layer.register_parameter("weight", None)
        layer.register_parameter("bias", None)
    if device is not None:
        layer.to(device)
