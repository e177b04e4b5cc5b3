"""NumPy float64 references for the engine's ops, written from the formulas of the frameworks bnlab matches.

Used by test_ops_forward.py, test_ops_gradcheck.py and test_batchnorm_behaviour.py. Each function takes
arrays of any float dtype and computes in float64; nothing here calls the engine. Batch norm follows Keras 3
and PyTorch (biased variance for the transform, x viewed as (N, C, L)); cross-entropy follows Keras 3
(probabilities: renormalise, clip to [eps, 1 - eps], -sum y log p; logits: log-softmax); the optimizer steps
follow keras.optimizers and torch.optim, each in its own formulation.
"""

from __future__ import annotations

import numpy as np

KERAS_EPSILON = 1e-7


def f64(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


# ---- dense ----
def dense(x, w, b=None, weight_out_in=False):
    """out = x @ W + b with W (IN, OUT) (Keras kernel) or (OUT, IN) (PyTorch weight)."""
    w = f64(w).T if weight_out_in else f64(w)
    out = f64(x) @ w
    return out if b is None else out + f64(b)


# ---- batch normalisation over (N, C, L) ----
def bn_train(x, gamma=None, beta=None, eps=1e-3):
    """Training transform with the batch's mean and BIASED variance over axes (0, 2) of x (N, C, L).

    Returns out, xhat, mean (C,), var (C,), rstd (C,).
    """
    x = f64(x)
    mean = x.mean(axis=(0, 2))
    var = ((x - mean[None, :, None]) ** 2).mean(axis=(0, 2))
    rstd = 1.0 / np.sqrt(var + eps)
    xhat = (x - mean[None, :, None]) * rstd[None, :, None]
    return _affine(xhat, gamma, beta), xhat, mean, var, rstd


def bn_infer(x, mean, var, gamma=None, beta=None, eps=1e-3):
    """Inference transform with given (moving) statistics."""
    x = f64(x)
    xhat = (x - f64(mean)[None, :, None]) / np.sqrt(f64(var)[None, :, None] + eps)
    return _affine(xhat, gamma, beta)


def _affine(xhat, gamma, beta):
    out = xhat if gamma is None else xhat * f64(gamma)[None, :, None]
    return out if beta is None else out + f64(beta)[None, :, None]


def bn_backward(dout, xhat, rstd, gamma=None):
    """dx = gamma rstd / M (M dy - sum dy - xhat sum(dy xhat)), dgamma = sum(dy xhat), dbeta = sum(dy)."""
    dout, xhat = f64(dout), f64(xhat)
    M = dout.shape[0] * dout.shape[2]
    g = np.ones(dout.shape[1]) if gamma is None else f64(gamma)
    sum_dy = dout.sum(axis=(0, 2))
    sum_dy_xhat = (dout * xhat).sum(axis=(0, 2))
    k = (g * f64(rstd) / M)[None, :, None]
    dx = k * (M * dout - sum_dy[None, :, None] - xhat * sum_dy_xhat[None, :, None])
    return dx, sum_dy_xhat, sum_dy


def blend(moving, batch, keep, batch_scale=1.0):
    """Keras: moving = momentum moving + (1 - momentum) batch. PyTorch: keep = 1 - momentum, unbiased."""
    return f64(moving) * keep + f64(batch) * batch_scale * (1.0 - keep)


# ---- activations ----
def softmax(x):
    x = f64(x)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(x):
    x = f64(x)
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def activation(x, name: str):
    x = f64(x)
    if name == "Linear":
        return x
    if name == "Relu":
        return np.maximum(x, 0.0)
    if name == "Sigmoid":
        return 1.0 / (1.0 + np.exp(-x))
    if name == "Tanh":
        return np.tanh(x)
    if name == "Softmax":
        return softmax(x)
    raise ValueError(name)


# ---- losses and metrics ----
def one_hot(labels, k):
    return np.eye(k)[np.asarray(labels).reshape(-1)]


def xent(pred, target, form: str, eps=KERAS_EPSILON):
    """Per-sample cross-entropy, as Keras computes it, for the four XentForm names."""
    pred = f64(pred)
    y = one_hot(target, pred.shape[1]) if form.startswith("Sparse") else f64(target)
    if form.endswith("Logits"):
        return -(y * log_softmax(pred)).sum(axis=1)
    q = pred / pred.sum(axis=1, keepdims=True)
    return -(y * np.log(np.clip(q, eps, 1.0 - eps))).sum(axis=1)


def mse(pred, target):
    return ((f64(pred) - f64(target)) ** 2).mean(axis=1)


def accuracy(pred, target):
    """1 where argmax(pred) equals the label (int labels) or argmax(target) (one row per sample)."""
    truth = np.asarray(target).reshape(-1) if np.asarray(target).dtype.kind in "iu" else np.argmax(target, axis=1)
    return (np.argmax(pred, axis=1) == truth).astype(np.float64)


# ---- optimizers: one step, state in a dict of float64 arrays ----
def sgd_keras(w, g, state, lr, momentum=0.0, nesterov=False):
    """keras.optimizers.SGD: v = momentum v - lr g; w += v (nesterov: w += momentum v - lr g)."""
    w, g = f64(w), f64(g)
    if momentum == 0.0:
        return w - lr * g
    v = momentum * state.get("v", np.zeros_like(w)) - lr * g
    state["v"] = v
    return w + (momentum * v - lr * g if nesterov else v)


def sgd_torch(w, g, state, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    """torch.optim.SGD."""
    w, g = f64(w), f64(g)
    d = g + weight_decay * w
    if momentum != 0.0:
        buf = d if "buf" not in state else momentum * state["buf"] + (1.0 - dampening) * d
        state["buf"] = buf
        d = d + momentum * buf if nesterov else buf
    return w - lr * d


def adam_keras(w, g, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7, amsgrad=False):
    """keras.optimizers.Adam: the bias correction folded into lr, eps added to sqrt of the raw v."""
    w, g = f64(w), f64(g)
    t = state["t"] = state.get("t", 0) + 1
    m0, v0 = state.get("m", np.zeros_like(w)), state.get("v", np.zeros_like(w))
    m = state["m"] = m0 + (g - m0) * (1.0 - beta1)
    v = state["v"] = v0 + (g * g - v0) * (1.0 - beta2)
    if amsgrad:
        v = state["vhat"] = np.maximum(state.get("vhat", np.zeros_like(w)), v)
    alpha = lr * np.sqrt(1.0 - beta2**t) / (1.0 - beta1**t)
    return w - m * alpha / (np.sqrt(v) + eps)


def adam_torch(w, g, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, amsgrad=False, weight_decay=0.0):
    """torch.optim.Adam: eps added to sqrt of the bias-corrected v; L2 weight decay added to g."""
    w = f64(w)
    g = f64(g) + weight_decay * w
    t = state["t"] = state.get("t", 0) + 1
    m = state["m"] = beta1 * state.get("m", np.zeros_like(w)) + (1.0 - beta1) * g
    v = state["v"] = beta2 * state.get("v", np.zeros_like(w)) + (1.0 - beta2) * g * g
    if amsgrad:
        v = state["vmax"] = np.maximum(state.get("vmax", np.zeros_like(w)), v)
    c1, c2 = 1.0 - beta1**t, 1.0 - beta2**t
    return w - lr / c1 * m / (np.sqrt(v) / np.sqrt(c2) + eps)


def rmsprop_keras(w, g, state, lr=1e-3, rho=0.9, momentum=0.0, eps=1e-7, centered=False):
    """keras.optimizers.RMSprop."""
    w, g = f64(w), f64(g)
    v = state["v"] = rho * state.get("v", np.zeros_like(w)) + (1.0 - rho) * g * g
    denom = v + eps
    if centered:
        avg = state["avg"] = rho * state.get("avg", np.zeros_like(w)) + (1.0 - rho) * g
        denom = denom - avg * avg
    inc = lr * g / np.sqrt(denom)
    if momentum > 0.0:
        mom = state["mom"] = momentum * state.get("mom", np.zeros_like(w)) + inc
        return w - mom
    return w - inc
