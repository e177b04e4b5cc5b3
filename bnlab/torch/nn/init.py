"""``nn.init``: filling weights in place, with PyTorch's formulas. Every draw uses the default generator
(``torch.manual_seed``) unless ``generator=`` is given.

``kaiming_uniform_(w, a)`` draws U(-bound, bound) with bound = gain * sqrt(3 / fan_in) and
gain = sqrt(2 / (1 + a^2)). ``nn.Linear`` uses a = sqrt(5): gain = sqrt(1/3), so bound = 1 / sqrt(fan_in),
the same bound as its bias. For a weight of shape (OUT, IN), fan_in = IN and fan_out = OUT.
"""

from __future__ import annotations

import math

import numpy as np

from .. import autograd
from .._random import rng_of
from ..tensor import Tensor

__all__ = [
    "calculate_gain",
    "constant_",
    "eye_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "ones_",
    "trunc_normal_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]


def _write(t: Tensor, values: np.ndarray) -> Tensor:
    with autograd.no_grad():
        if t.device.type == "cpu":
            t._np()[...] = values
        else:
            t._c.copy_from(np.ascontiguousarray(values, dtype=np.float32))
    return t


def calculate_fan_in_and_fan_out(t: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight: (IN, OUT) for (OUT, IN); times the receptive field for convolutions."""
    shape = t.shape
    if len(shape) < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    receptive = 1
    for s in shape[2:]:
        receptive *= s
    return shape[1] * receptive, shape[0] * receptive


def calculate_gain(nonlinearity: str, param=None) -> float:
    """PyTorch's recommended gains: 1 (linear, sigmoid), 5/3 (tanh), sqrt(2) (relu),
    sqrt(2 / (1 + a^2)) (leaky_relu with slope a, default 0.01)."""
    if nonlinearity in ("linear", "conv1d", "conv2d", "conv3d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "selu":
        return 3.0 / 4
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """Fill with U(a, b)."""
    return _write(t, rng_of(generator).uniform(a, b, size=t.shape).astype(np.float32))


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Fill with N(mean, std^2)."""
    return _write(t, rng_of(generator).normal(mean, std, size=t.shape).astype(np.float32))


def constant_(t: Tensor, val: float) -> Tensor:
    return _write(t, np.full(t.shape, val, dtype=np.float32))


def zeros_(t: Tensor) -> Tensor:
    return constant_(t, 0.0)


def ones_(t: Tensor) -> Tensor:
    return constant_(t, 1.0)


def _fan(t: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of ['fan_in', 'fan_out']")
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    return fan_in if mode == "fan_in" else fan_out


def kaiming_uniform_(
    t: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator=None
) -> Tensor:
    """Fill with U(-bound, bound), bound = gain * sqrt(3 / fan) (He et al., 2015)."""
    fan = _fan(t, mode)
    if fan == 0:
        return t
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(t, -bound, bound, generator)


def kaiming_normal_(
    t: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator=None
) -> Tensor:
    """Fill with N(0, std^2), std = gain / sqrt(fan) (He et al., 2015): torchvision's ResNets use
    ``mode='fan_out', nonlinearity='relu'``, std = sqrt(2 / (out_channels * kh * kw))."""
    fan = _fan(t, mode)
    if fan == 0:
        return t
    return normal_(t, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan), generator)


def xavier_uniform_(t: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Fill with U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot and Bengio, 2010)."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -bound, bound, generator)


def xavier_normal_(t: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Fill with N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)) (Glorot and Bengio, 2010)."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def trunc_normal_(
    t: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0, generator=None
) -> Tensor:
    """Fill with N(mean, std^2) truncated to [a, b] (absolute bounds, as PyTorch's): inverse-CDF sampling of
    U(Phi((a - mean) / std), Phi((b - mean) / std)), then clipped to [a, b] against rounding."""
    lo, hi = (_phi((a - mean) / std), _phi((b - mean) / std))
    u = rng_of(generator).uniform(2 * lo - 1, 2 * hi - 1, size=t.shape)
    values = mean + std * math.sqrt(2.0) * _erfinv(u)
    return _write(t, np.clip(values, a, b).astype(np.float32))


def eye_(t: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity (ones on the diagonal, as many as fit)."""
    if len(t.shape) != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    return _write(t, np.eye(*t.shape, dtype=np.float32))


def _phi(x: float) -> float:
    return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0


def _erfinv(y: np.ndarray) -> np.ndarray:
    """erf^-1 by Newton's method from Giles' (2012) single-precision starting point, in float64."""
    y = np.asarray(y, dtype=np.float64)
    w = -np.log((1.0 - y) * (1.0 + y))
    x = y * np.where(w < 5.0, 1.50140941 + 0.246640727 * (w - 2.5), 2.83297682 + 1.00167406 * (np.sqrt(w) - 3.0))
    erf = np.vectorize(math.erf)
    for _ in range(3):  # Newton on erf(x) = y: each step roughly doubles the correct digits
        x = x - (erf(x) - y) / (2.0 / math.sqrt(math.pi) * np.exp(-x * x))
    return x
