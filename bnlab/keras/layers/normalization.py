"""BatchNormalization with Keras 3's exact semantics, and its internals exposed for teaching.

Training (per feature, over the batch and every axis but ``axis``):
    mu_B = mean(x),  var_B = mean((x - mu_B)^2)  (biased),  x_hat = (x - mu_B) / sqrt(var_B + epsilon)
    y = gamma * x_hat + beta
    moving_mean     = momentum * moving_mean     + (1 - momentum) * mu_B
    moving_variance = momentum * moving_variance + (1 - momentum) * var_B      (biased, as Keras)
Inference (``training=False``: evaluate, predict, fit's validation, or a layer with trainable=False):
    y = gamma * (x - moving_mean) / sqrt(moving_variance + epsilon) + beta
Backward (per feature, N values): dgamma = sum(dy * x_hat), dbeta = sum(dy),
    dx = gamma / sqrt(var_B + epsilon) / N * (N * dy - sum(dy) - x_hat * sum(dy * x_hat)).

Conventions: Keras's momentum 0.99 is PyTorch's momentum 0.01 (PyTorch weights the NEW batch by momentum);
Keras's epsilon is 1e-3, PyTorch's 1e-5; PyTorch blends the UNBIASED variance into running_var.
A batch of one in training has variance 0, so x_hat = 0 and y = beta: no error, but no signal either.

Exposed arrays (NumPy views of the engine's memory on the CPU; copies on a GPU): ``gamma``, ``beta``,
``moving_mean``, ``moving_variance`` (Variables), and after a training step ``batch_mean``,
``batch_variance`` (biased), ``inv_std`` = 1/sqrt(var_B + eps), ``x_hat``, ``dgamma``, ``dbeta`` and ``dx``.
"""

import math

from bnlab import _core
from bnlab.keras import initializers
from bnlab.keras.layers.base import Layer

_REMOVED = ("virtual_batch_size", "fused", "adjustment", "renorm", "renorm_clipping", "renorm_momentum")


class BatchNormalization(Layer):
    """Normalise each feature with the batch's statistics in training and moving averages in inference."""

    def __init__(
        self,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        synchronized=False,
        **kwargs,
    ):
        removed = [k for k in _REMOVED if k in kwargs]
        if removed:
            raise TypeError(
                f"Unrecognized keyword arguments passed to BatchNormalization: {removed} (Keras 3 removed them)"
            )
        super().__init__(**kwargs)
        if not isinstance(axis, int):
            raise TypeError(f"axis must be an int, got {axis!r}")
        if not 0.0 <= float(momentum) <= 1.0:
            raise ValueError(f"momentum must be in [0, 1], got {momentum!r}")
        if not 0.0 < float(epsilon) < math.inf:  # NaN fails too: it would turn every output into NaN
            raise ValueError(f"epsilon must be a finite number > 0, got {epsilon!r}")
        if synchronized:
            raise ValueError("synchronized=True needs several devices; bnlab trains on one")
        self.axis, self.momentum, self.epsilon = axis, float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)

    def build(self, input_shape):
        rank = len(input_shape) - (1 if input_shape and input_shape[0] is None else 0)
        axis = self.axis
        # Keras counts axes with the batch axis included; the engine counts per-sample axes.
        per_sample_axis = axis + rank if axis < 0 else axis - 1
        if not 0 <= per_sample_axis < rank:
            raise ValueError(f"axis {self.axis} is out of range for input shape {tuple(input_shape)}")
        self._per_sample_axis = per_sample_axis
        super().build(input_shape)

    def _create_engine(self):
        return _core.BatchNorm(self._per_sample_axis, self.momentum, self.epsilon, self.center, self.scale)

    def _initialize(self):
        e = self._engine
        e.gamma.copy_from(self.gamma_initializer(e.gamma.shape))
        e.beta.copy_from(self.beta_initializer(e.beta.shape))
        e.moving_mean.copy_from(self.moving_mean_initializer(e.moving_mean.shape))
        e.moving_variance.copy_from(self.moving_variance_initializer(e.moving_variance.shape))

    def _variables(self):
        if self._engine is None:
            return []
        e = self._engine
        out = []
        if self.scale:
            out.append(("gamma", e.gamma, True))
        if self.center:
            out.append(("beta", e.beta, True))
        return [*out, ("moving_mean", e.moving_mean, False), ("moving_variance", e.moving_variance, False)]

    def _var(self, name):
        return next((v for v in self.weights if v.name == name), None)

    @property
    def gamma(self):
        return self._var("gamma")

    @property
    def beta(self):
        return self._var("beta")

    @property
    def moving_mean(self):
        return self._var("moving_mean")

    @property
    def moving_variance(self):
        return self._var("moving_variance")

    # ---- internals of the last training step ----
    def _cache(self, name):
        if self._engine is None:
            return None
        t = getattr(self._engine.cache, name)
        return t.numpy() if t.defined else None

    @property
    def batch_mean(self):
        """mu_B of the last training step, shape (C,)."""
        return self._cache("mean")

    @property
    def batch_variance(self):
        """The biased variance var_B of the last training step, shape (C,)."""
        return self._cache("var")

    @property
    def inv_std(self):
        """1 / sqrt(var_B + epsilon) of the last training step, shape (C,)."""
        return self._cache("rstd")

    @property
    def x_hat(self):
        """The normalised input of the last training step, shape (batch, ...)."""
        return self._cache("xhat")

    def _grad(self, name):
        if self._engine is None:
            return None
        t = getattr(self._engine, name)
        return t.numpy() if t.defined else None

    @property
    def dgamma(self):
        """d(loss)/d(gamma) of the last training step (the batch mean loss)."""
        return self._grad("dgamma")

    @property
    def dbeta(self):
        """d(loss)/d(beta) of the last training step."""
        return self._grad("dbeta")

    @property
    def dx(self):
        """d(loss)/d(input) of the last training step, shape (batch, ...)."""
        return self._grad("dx")

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
        }
