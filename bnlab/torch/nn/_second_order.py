"""The differentiable backward rules of ``nn.functional``'s engine ops (for ``create_graph=True``; the machinery and
its rules are in ``bnlab/torch/_double_backward.py``).

Explicit rules (g = dL/d(out), y the output recomputed from x):
    relu: g [y > 0] (the mask a constant)      sigmoid: g y (1 - y)        tanh: g (1 - y^2)
    softmax: y (g - sum(g y))                  log_softmax: g - softmax(x) sum(g)      dropout: g mask / (1 - p)
    linear: g W, g^T x, sum(g) over rows       mse_loss: 2 (x - y) g / n (mean), -that for the target
    cross_entropy (fused kernel): (softmax(x) - onehot(t)) g / B       nll_loss: g times its constant Jacobian
Recomputed rules: batch_norm (training: batch mean and biased variance of x per channel, so the statistics'
dependence on x is differentiated too; eval: the running statistics, constants), the fused BatchNorm -> ReLU,
layer_norm and group_norm are run again in primitive ops from the node's inputs and differentiated with
``create_graph`` (``subgrad``). A BatchNorm module's internals (``dx``, ``dgamma``...) see this step's g and dx.
"""

from __future__ import annotations

import numpy as np

from ... import _core
from .. import _math, _shape
from .._double_backward import constant, rule, scaled, subgrad, unsupported
from ..tensor import wrap
from . import _activations, _functional_base, _losses, _norm_functional, functional

_O = _core.ops
_T = _core.tensor_ops


def _ones(like) -> _core.Tensor:
    c = _T.empty(list(like.shape), like.device)
    c.fill(1.0)
    return c


@rule(_functional_base, "taped_unary.<locals>.backward")
def _taped_unary(node, g, c):
    x = node.parents[0]
    name = node.name
    if name == "Relu":
        return (scaled(g, _math.as_float(wrap(c["saved"][0], x.device) > 0), x),)
    if name == "Sigmoid":
        y = _activations.sigmoid(x)
        return (g * y * (1.0 - y),)
    if name == "Tanh":
        y = _activations.tanh(x)
        return (g * (1.0 - y * y),)
    if name == "Softmax":
        y = _activations.softmax(x, -1)
        return (y * (g - _math.sum(g * y, -1, keepdim=True)),)
    if name == "LogSoftmax":
        return (g - _activations.softmax(x, -1) * _math.sum(g, -1, keepdim=True),)
    if name == "NativeDropout":  # the backward is g times a constant: that constant is its result for g = 1
        scale = _core.Tensor()
        c["backward_op"](scale, _ones(x._c), *c["saved"])
        return (g * wrap(scale, x.device),)
    raise unsupported(node)


@rule(functional, "linear.<locals>.backward")
def _linear(node, g, c):
    x, weight, bias = c["x"], c["weight"], c["bias"]
    shape, (out_f, in_f) = tuple(c["shape"]), tuple(c["w_shape"])
    g2 = g if len(shape) == 2 else g.view(-1, out_f)
    dx = dw = db = None
    if x._rg:
        dx = _math.matmul(g2, weight)
        dx = dx if len(shape) == 2 else dx.view(shape)
    if weight._rg:
        dw = _math.matmul(_shape.t_(g2), x if len(shape) == 2 else x.view(-1, in_f))
    if bias is not None and bias._rg:
        db = _math.sum(g2, 0)
    return (dx, dw) if bias is None else (dx, dw, db)


@rule(functional, "_batch_norm.<locals>.backward")
def _batch_norm(node, g, c):
    x, weight, bias = c["x"], c["weight"], c["bias"]
    N, C, L, eps = c["N"], c["C"], c["L"], c["eps"]
    x3 = x.view(N, C, L)
    if c["training"]:
        mean = _math.mean(x3, (0, 2), keepdim=True)
        xm = x3 - mean
        var = _math.mean(xm * xm, (0, 2), keepdim=True)
    else:
        xm = x3 - wrap(c["mc"], x.device).view(1, C, 1)
        var = wrap(c["vc"], x.device).view(1, C, 1)
    y = xm / _math.sqrt(var + eps)
    if weight is not None:
        y = y * weight.view(1, C, 1)
    if bias is not None:
        y = y + bias.view(1, C, 1)
    if c["relu"]:
        y = _activations.relu(y)
    grads = subgrad(y.view(tuple(x.shape)), g, node.parents)
    step = c.get("step")
    if c["training"] and step is not None:
        dx = grads[0]._c if grads[0] is not None else None
        step.backward_seen(g._c, dx, c["oc"] if c["relu"] else None)
    return grads


@rule(_norm_functional, "_norm.<locals>.backward")
def _group_norm(node, g, c):
    x, weight, bias = c["x"], c["weight"], c["bias"]
    N, A, G, K, L = c["view"]
    eps = node.backward.__defaults__[0]  # the closure's default argument (_norm_functional._norm)
    x5 = x.view(N, A, G, K, L)
    mean = _math.mean(x5, (3, 4), keepdim=True)
    xm = x5 - mean
    y = xm / _math.sqrt(_math.mean(xm * xm, (3, 4), keepdim=True) + eps)
    if weight is not None:
        y = y * weight.reshape(1, 1, G, K, 1)
    if bias is not None:
        y = y + bias.reshape(1, 1, G, K, 1)
    return subgrad(y.view(tuple(x.shape)), g, node.parents)


@rule(_losses, "cross_entropy.<locals>.backward")
def _cross_entropy(node, g, c):
    x = node.parents[0]
    B = c["B"]
    labels = c["tc"].numpy().astype(np.int64)
    onehot = np.zeros(tuple(x.shape), dtype=np.float32)
    onehot[np.arange(B), labels] = 1.0
    diff = _activations.softmax(x, -1) - constant(onehot, x)
    return (diff * (g / float(B)) if c["mean"] and B else diff * g,)


@rule(_losses, "nll_loss.<locals>.backward")
def _nll_loss(node, g, c):
    x = node.parents[0]
    xc, tc, wc, ignore = c["xc"], c["tc"], c["wc"], int(c["ignore_index"])
    jac = _core.Tensor()
    if c["reduction"] == "none":
        ones = _T.empty([xc.shape[0]], xc.device)
        ones.fill(1.0)
        _T.nll_backward(jac, ones, 1.0, xc, tc, wc, ignore)
        return (scaled(g.reshape(-1, 1), wrap(jac, x.device), x),)
    denom = c["denom"]
    _T.nll_backward(jac, None, 1.0 / denom if denom else float("nan"), xc, tc, wc, ignore)
    return (scaled(g, wrap(jac, x.device), x),)


@rule(_losses, "mse_loss.<locals>.backward")
def _mse_loss(node, g, c):
    x, y = c["x"], c["y"]
    scale = g * 2.0 if c["reduction"] == "sum" else g * (2.0 / c["n"])
    gx = (x - y) * scale
    return (gx if x._rg else None, -gx if y._rg else None)
