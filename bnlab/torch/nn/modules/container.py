"""Containers: ``Sequential`` (layers applied in order) and ``ModuleList`` (a registered list of modules).

Children are registered under their positions ("0", "1", ...) or the names of an OrderedDict, which become
the prefixes of ``state_dict`` keys (``0.weight``), exactly as in PyTorch.
"""

from __future__ import annotations

from collections import OrderedDict

from .activation import ReLU
from .batchnorm import _BatchNorm
from .module import Module

__all__ = ["ModuleList", "Sequential"]


def _has_forward_hooks(module) -> bool:
    """Forward or backward hooks: either must see the module's own output or its gradient."""
    d = module.__dict__
    return bool(
        d.get("_forward_pre_hooks")
        or d.get("_forward_hooks")
        or d.get("_backward_pre_hooks")
        or d.get("_backward_hooks")
    )


def _fuses_with_relu(module, following) -> bool:
    """A library BatchNorm (its own forward) followed by a plain nn.ReLU, neither with forward hooks (a hook
    must see the BatchNorm's own output, which the fused pass never makes)."""
    return (
        not _has_forward_hooks(module)
        and not _has_forward_hooks(following)
        and isinstance(module, _BatchNorm)
        and type(module).forward is _BatchNorm.forward
        and "forward" not in vars(module)
        and type(following) is ReLU
        and "forward" not in vars(following)
    )


class _ModuleSequence(Module):
    """What Sequential and ModuleList share: the children in order, ``len()``, iteration and ``append()``."""

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module: Module):
        """Add ``module`` at the end, named by its position; returns self."""
        self.add_module(str(len(self)), module)
        return self


class Sequential(_ModuleSequence):
    """``Sequential(layer1, layer2, ...)`` or ``Sequential(OrderedDict(name=layer, ...))``."""

    def __init__(self, *args) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(args):
                self.add_module(str(i), module)

    def forward(self, input):
        """The layers in order. A BatchNorm layer followed directly by ``nn.ReLU`` runs as one engine op (the
        ReLU is applied in BatchNorm's normalizing pass and gates its backward): the values and gradients are
        those of the two layers bit for bit, with one pass over memory fewer each way. The pair then shows as
        one node, ``NativeBatchNormReluBackward0``, in the graph. A subclass that overrides ``forward`` of
        either layer is called as it is."""
        modules = list(self._modules.values())
        i = 0
        while i < len(modules):
            module = modules[i]
            if i + 1 < len(modules) and _fuses_with_relu(module, modules[i + 1]):
                input = module._forward(input, relu=True)
                i += 2
                continue
            input = module(input)
            i += 1
        return input

    def __getitem__(self, idx):
        modules = list(self._modules.items())
        if isinstance(idx, slice):
            return Sequential(OrderedDict(modules[idx]))
        if not -len(modules) <= idx < len(modules):
            raise IndexError(f"index {idx} is out of range")
        return modules[idx][1]


class ModuleList(_ModuleSequence):
    """A list of modules whose parameters are registered (a plain Python list would hide them)."""

    def __init__(self, modules=None) -> None:
        super().__init__()
        for module in modules or ():
            self.append(module)

    def __getitem__(self, idx):
        modules = list(self._modules.values())
        if isinstance(idx, slice):
            return ModuleList(modules[idx])
        return modules[idx]

    def extend(self, modules) -> ModuleList:
        for module in modules:
            self.append(module)
        return self
