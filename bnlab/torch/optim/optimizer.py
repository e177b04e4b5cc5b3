"""``optim.Optimizer``: parameter groups, per-parameter state, ``zero_grad``, ``step`` and ``state_dict``.

An optimizer holds ``param_groups`` (a list of dicts: ``params`` plus hyperparameters such as ``lr``) and
``state`` (a dict from parameter to its slots, e.g. Adam's ``exp_avg``). ``step()`` updates every parameter
that has a ``.grad``, in place, with the engine's update kernel; subclasses define ``_update``.
``state_dict()`` has PyTorch's structure: ``{'state': {index: {...}}, 'param_groups': [{..., 'params':
[indices]}]}``, parameters numbered in group order.
"""

from __future__ import annotations

import copy
from collections import defaultdict

import numpy as np

from .. import autograd
from .._types import CPU
from ..nn.parameter import Parameter
from ..tensor import Tensor, host

__all__ = ["Optimizer"]


class Optimizer:
    """Base class: ``Optimizer(params, defaults)``; ``params`` is an iterable of tensors or of group dicts."""

    def __init__(self, params, defaults: dict) -> None:
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or dicts, but got "
                f"{type(params).__name__}"
            )
        self.defaults = defaults
        self.state: dict = defaultdict(dict)
        self.param_groups: list[dict] = []
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own hyperparameters (the rest from ``defaults``)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the ordering "
                "of tensors in sets will change between runs. Please use a list instead."
            )
        params = list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        group = {**self.defaults, **{k: v for k, v in param_group.items() if k != "params"}, "params": params}
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient: to None (default, as PyTorch 2) or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                autograd.clear_leaf_grad(p, set_to_none)

    def step(self, closure=None):
        """Update every parameter that has a gradient; ``closure`` (recomputing the loss) runs first."""
        loss = None
        if closure is not None:
            with autograd.enable_grad():
                loss = closure()
        with autograd.no_grad():
            for group in self.param_groups:
                self._update_group(group)
        return loss

    def _update_group(self, group: dict) -> None:
        """Update the group's parameters that have a gradient, in order (an optimizer may hoist the group's
        settings out of the loop)."""
        for p in group["params"]:
            if p.grad is not None:
                self._update(group, p, self.state[p])

    def _update(self, group: dict, p: Parameter, state: dict) -> None:
        raise NotImplementedError

    # ---------------------------------------------------------------- state
    def state_dict(self) -> dict:
        """``{'state': {index: slots}, 'param_groups': [...]}`` with parameters replaced by their indices."""
        index, groups = {}, []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: dict(s) for p, s in self.state.items() if id(p) in index and s}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyperparameters and slots saved by ``state_dict()`` (for the same parameters, in order)."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        params = [p for g in self.param_groups for p in g["params"]]
        saved_sizes = [len(g["params"]) for g in groups]
        if saved_sizes != [len(g["params"]) for g in self.param_groups]:
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size of optimizer's group"
            )
        for group, saved in zip(self.param_groups, groups, strict=True):
            group.update({k: copy.deepcopy(v) for k, v in saved.items() if k != "params"})
        self.state = defaultdict(dict)
        for idx, slots in state_dict["state"].items():
            p = params[int(idx)]
            self.state[p] = {k: _slot_copy(v, p, k) for k, v in slots.items()}

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {group[k]}" for k in sorted(group) if k != "params")
        lines.append(")")
        return "\n".join(lines)


def _slot_copy(value, p: Tensor, key: str = ""):
    """A saved slot as a tensor of its own on p's device (values of other frameworks are converted). The ``step``
    counter stays on the CPU, where ``step_tensor`` makes it and PyTorch keeps it (it is read every step)."""
    device = CPU if key == "step" else p.device
    if isinstance(value, Tensor):
        return value.clone().to(device)
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # e.g. a torch.Tensor
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray) or np.isscalar(value):
        return host(np.array(value, dtype=np.float32), device)
    return copy.deepcopy(value)


def zeros_like_param(p: Tensor) -> Tensor:
    """A zero tensor shaped like p, on its device (an optimizer slot)."""
    return host(np.zeros(tuple(p.shape), dtype=np.float32), p.device)


def step_tensor() -> Tensor:
    """The step counter slot: a float32 0-d tensor, as PyTorch keeps it."""
    return host(np.zeros((), dtype=np.float32))
