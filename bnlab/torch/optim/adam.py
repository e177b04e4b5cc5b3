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
from .. import _versions
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

    def _update_group(self, group: dict) -> None:
        # the group's settings read once, then one adam_update per parameter (seed 000's six parameters
        # took about a third of the optimizer step's Python time in the per-parameter form)
        lr, wd, eps, amsgrad = group["lr"], group["weight_decay"], group["eps"], group["amsgrad"]
        beta1, beta2 = group["betas"]
        maximize = group["maximize"]
        decoupled = group["decoupled_weight_decay"] and wd != 0
        wd_kernel = 0.0 if decoupled else wd  # decoupled: w *= 1 - lr * weight_decay first, then plain Adam
        states = self.state
        for p in group["params"]:
            grad = p.grad
            if grad is None:
                continue
            state = states[p]
            if not state:
                self._init_state(state, p, amsgrad)
            counter = state["step"]
            step = int(counter.item()) + 1
            counter._c.fill(float(step))
            g = grad._c
            if maximize:
                neg = _core.Tensor()
                _T.unary(neg, g, _T.UnaryOp.Neg)
                g = neg
            w = p._c
            _versions.bump(p)  # an in-place write: a graph that still reads p raises at backward, as in PyTorch
            if decoupled:
                _T.unary(w, w, _T.UnaryOp.MulScalar, 1.0 - lr * wd)
            vmax = state["max_exp_avg_sq"]._c if amsgrad else None
            _O.adam_update(
                w, state["exp_avg"]._c, state["exp_avg_sq"]._c, vmax, g, lr, beta1, beta2, eps, step, False, wd_kernel
            )

    @staticmethod
    def _init_state(state: dict, p, amsgrad: bool) -> None:
        state["step"] = step_tensor()
        state["exp_avg"] = zeros_like_param(p)
        state["exp_avg_sq"] = zeros_like_param(p)
        if amsgrad:
            state["max_exp_avg_sq"] = zeros_like_param(p)


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
