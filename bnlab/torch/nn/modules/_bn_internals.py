"""BatchNorm1d/2d's internals of the last training step, as NumPy arrays (the Keras face's names):

    batch_mean      mu_B = mean of x over (N, *) per channel                          (C,)
    batch_variance  var_B = biased variance over (N, *)                              (C,)
    inv_std         rstd = 1 / sqrt(var_B + eps)                                     (C,)
    x_hat           (x - mu_B) * rstd                                                 x's shape
    dx              dL/dx of the last backward through that step                      x's shape
    dgamma, dbeta   sum over (N, *) of g * x_hat and of g (g = dL/dy, this step's share of weight.grad, bias.grad)
    dx_hat          dL/dx_hat = g * gamma                                             x's shape
    dbatch_variance dL/dvar_B = sum(dx_hat * (x - mu_B)) * (-1/2) rstd^3 = -1/2 rstd^2 sum(dx_hat * x_hat)
    dbatch_mean     dL/dmu_B = -rstd * sum(dx_hat)  (the other term, dvar * mean(-2 (x - mu_B)), is 0)

batch_mean, batch_variance, inv_std, x_hat and dx are views of the engine's own memory on the CPU (the cache the
forward wrote and the backward read; a later step writes new arrays, so read them again after it); on a GPU they
are copies taken when read. The gradient sums (dgamma ... dbatch_mean) are computed when read, in float64, from
the step's g and x_hat: the engine adds dgamma and dbeta straight into weight.grad and bias.grad. Eval-mode
calls leave them alone (no batch statistics are computed), and before the first training step they are None.
With nn.Sequential's fused BatchNorm -> ReLU, g is the gradient after the ReLU's gate, as for a separate ReLU.
"""

from __future__ import annotations

import numpy as np

from .... import _core

__all__ = ["BatchNormInternals", "StepRecord"]


def _array(t):
    """An engine tensor as NumPy: a view on the CPU, a copy from another device."""
    if t is None or not t.defined:
        return None
    return t.numpy() if t.device == _core.Device.CPU else t.to(_core.Device.CPU).numpy()


class StepRecord:
    """What one training forward (and its backward) leaves for the internals: filled by ``F._batch_norm``."""

    __slots__ = ("cache", "dx", "g", "gate", "shape")

    def __init__(self, cache, shape) -> None:
        self.cache, self.shape = cache, tuple(shape)
        self.dx = self.g = self.gate = None

    def backward_seen(self, g, dx, gate) -> None:
        self.g, self.dx, self.gate = g, dx, gate


class BatchNormInternals:
    """Mixed into _BatchNorm: properties over ``self._last_step`` (a StepRecord, or None)."""

    _last_step: StepRecord | None = None

    def __getstate__(self):
        """A copy (copy.deepcopy, pickle, torch.save of the module) leaves the last step's arrays behind: they
        are the engine's scratch of one step, not the module's state."""
        state = self.__dict__.copy()
        state.pop("_last_step", None)
        return state

    def _cached(self, name):
        step = self._last_step
        return None if step is None else _array(getattr(step.cache, name))

    @property
    def batch_mean(self):
        """mu_B of the last training step, shape (C,)."""
        return self._cached("mean")

    @property
    def batch_variance(self):
        """The biased variance var_B of the last training step, shape (C,)."""
        return self._cached("var")

    @property
    def inv_std(self):
        """1 / sqrt(var_B + eps) of the last training step, shape (C,)."""
        return self._cached("rstd")

    @property
    def x_hat(self):
        """(x - mu_B) / sqrt(var_B + eps) of the last training step, the input's shape."""
        xhat = self._cached("xhat")
        return None if xhat is None else xhat.reshape(self._last_step.shape)

    @property
    def dx(self):
        """dL/dx of the last backward through the last training step, the input's shape."""
        step = self._last_step
        return None if step is None or step.dx is None else _array(step.dx).reshape(step.shape)

    # ---- sums computed when read: the channel axis is 1, every other axis is summed ----
    def _g_and_xhat(self):
        step = self._last_step
        if step is None or step.g is None:
            return None, None
        g = _array(step.g).reshape(step.shape).astype(np.float64)
        if step.gate is not None:  # fused BN -> ReLU: the ReLU's gate [out > 0] first
            g = g * (_array(step.gate).reshape(step.shape) > 0)
        return g, self.x_hat.astype(np.float64)

    def _channel_sum(self, a):
        axes = tuple(i for i in range(a.ndim) if i != 1)
        return a.sum(axis=axes)

    def _as_f32(self, a):
        return None if a is None else a.astype(np.float32)

    @property
    def dgamma(self):
        """sum(g * x_hat) per channel: the last step's contribution to weight.grad, shape (C,)."""
        g, xhat = self._g_and_xhat()
        return None if g is None else self._as_f32(self._channel_sum(g * xhat))

    @property
    def dbeta(self):
        """sum(g) per channel: the last step's contribution to bias.grad, shape (C,)."""
        g, _ = self._g_and_xhat()
        return None if g is None else self._as_f32(self._channel_sum(g))

    def _dx_hat64(self, g):
        gamma = np.ones(g.shape[1]) if self.weight is None else self.weight.detach().cpu().numpy().astype(np.float64)
        return g * gamma.reshape((1, -1) + (1,) * (g.ndim - 2))

    @property
    def dx_hat(self):
        """dL/dx_hat = g * gamma, the input's shape."""
        g, _ = self._g_and_xhat()
        return None if g is None else self._as_f32(self._dx_hat64(g))

    @property
    def dbatch_variance(self):
        """dL/dvar_B = -1/2 rstd^2 sum(dx_hat * x_hat) per channel, shape (C,)."""
        g, xhat = self._g_and_xhat()
        if g is None:
            return None
        rstd = self.inv_std.astype(np.float64)
        return self._as_f32(-0.5 * rstd**2 * self._channel_sum(self._dx_hat64(g) * xhat))

    @property
    def dbatch_mean(self):
        """dL/dmu_B = -rstd * sum(dx_hat) per channel, shape (C,)."""
        g, _ = self._g_and_xhat()
        if g is None:
            return None
        return self._as_f32(-self.inv_std.astype(np.float64) * self._channel_sum(self._dx_hat64(g)))
