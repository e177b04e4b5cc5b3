"""``optim.SGD``: stochastic gradient descent with momentum, dampening, Nesterov and weight decay.

Per parameter w with gradient g (PyTorch's rule, run by the engine's ``sgd_update`` kernel):

    g' = g + weight_decay * w
    buf = g'                                  (first step)
    buf = momentum * buf + (1 - dampening) * g'    (later steps; only when momentum != 0)
    step = g' + momentum * buf if nesterov else buf   (g' when momentum == 0)
    w -= lr * step

``maximize=True`` ascends instead (g is negated first). State: ``momentum_buffer`` when momentum != 0.
"""

from __future__ import annotations

from ... import _core
from .. import _versions
from .optimizer import Optimizer, zeros_like_param

__all__ = ["SGD"]

_O = _core.ops
_T = _core.tensor_ops


class SGD(Optimizer):
    """``SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *, maximize)``."""

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        if differentiable:
            raise ValueError("bnlab.torch optimizers are not differentiable (differentiable=True)")
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
            "foreach": foreach,  # an implementation choice in PyTorch; the maths is the same
            "differentiable": differentiable,
            "fused": fused,
        }
        super().__init__(params, defaults)

    def _update(self, group: dict, p, state: dict) -> None:
        g = p.grad._c
        if group["maximize"]:
            neg = _core.Tensor()
            _T.unary(neg, g, _T.UnaryOp.Neg)
            g = neg
        momentum = group["momentum"]
        first = False
        if momentum != 0:
            if "momentum_buffer" not in state or state["momentum_buffer"] is None:
                state["momentum_buffer"] = zeros_like_param(p)
                first = True
            buf = state["momentum_buffer"]._c
        else:
            buf = g  # not read or written when momentum == 0
        _versions.bump(p)  # an in-place write: a graph that still reads p raises at backward, as in PyTorch
        _O.sgd_update(
            p._c,
            buf,
            g,
            group["lr"],
            momentum,
            group["dampening"],
            group["weight_decay"],
            group["nesterov"],
            first,
        )
