"""``optim.Adam`` and ``optim.AdamW`` with PyTorch's defaults and epsilon placement.

Per parameter w with gradient g at step t (the engine's ``adam_update`` kernel, PyTorch convention):

    g' = g + weight_decay * w                 (L2; AdamW instead decays w *= 1 - lr * weight_decay first)
    m = beta1 m + (1 - beta1) g'              v = beta2 v + (1 - beta2) g'^2
    v_hat = max(v_hat, v) if amsgrad else v
    w -= lr / (1 - beta1^t) * m / (sqrt(v_hat) / sqrt(1 - beta2^t) + eps)

Defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8 (added to the bias-corrected sqrt(v), unlike Keras whose
eps 1e-7 is added before the correction). State: ``step`` (a float32 0-d tensor), ``exp_avg`` (m),
``exp_avg_sq`` (v) and, with amsgrad, ``max_exp_avg_sq``.
"""

from __future__ import annotations

from ... import _core
from .optimizer import Optimizer, step_tensor, zeros_like_param

__all__ = ["Adam", "AdamW"]

_O = _core.ops
_T = _core.tensor_ops


class Adam(Optimizer):
    """``Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *, maximize=False,
    decoupled_weight_decay=False)``."""

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        if not lr >= 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not eps >= 0.0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
        if not weight_decay >= 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if capturable or differentiable:
            raise ValueError("bnlab.torch Adam supports neither capturable=True nor differentiable=True")
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "foreach": foreach,  # implementation choices in PyTorch; the maths is the same
            "capturable": capturable,
            "differentiable": differentiable,
            "fused": fused,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    def _update(self, group: dict, p, state: dict) -> None:
        if not state:
            state["step"] = step_tensor()
            state["exp_avg"] = zeros_like_param(p)
            state["exp_avg_sq"] = zeros_like_param(p)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = zeros_like_param(p)
        step = int(state["step"].item()) + 1
        state["step"]._c.fill(float(step))
        g = p.grad._c
        if group["maximize"]:
            neg = _core.Tensor()
            _T.unary(neg, g, _T.UnaryOp.Neg)
            g = neg
        lr, wd = group["lr"], group["weight_decay"]
        if group["decoupled_weight_decay"] and wd != 0:
            _T.unary(p._c, p._c, _T.UnaryOp.MulScalar, 1.0 - lr * wd)  # w *= 1 - lr * weight_decay
            wd = 0.0
        vmax = state["max_exp_avg_sq"]._c if group["amsgrad"] else None
        beta1, beta2 = group["betas"]
        _O.adam_update(
            p._c,
            state["exp_avg"]._c,
            state["exp_avg_sq"]._c,
            vmax,
            g,
            lr,
            beta1,
            beta2,
            group["eps"],
            step,
            False,
            wd,
        )


class AdamW(Adam):
    """Adam with decoupled weight decay (default 1e-2): w *= 1 - lr * weight_decay before each update."""

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas=(0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach=None,
        capturable: bool = False,
        differentiable: bool = False,
        fused=None,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            foreach=foreach,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=True,
        )
