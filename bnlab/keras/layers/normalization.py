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

Batch renormalization (``renorm=True``, Ioffe 2017; Keras 3.14+'s semantics, which are Keras 2's): training
normalises with the batch statistics but corrects them towards moving ones, with r and d constants in the
backward (no gradient flows through them):
    sigma_B = sqrt(var_B + epsilon),  sigma_R = max(renorm_stddev, sqrt(epsilon))
    r = clip(sigma_B / sigma_R, rmin, rmax),  d = clip((mu_B - renorm_mean) / sigma_R, -dmax, dmax)
    y = gamma * (x_hat * r + d) + beta
then renorm_mean, renorm_stddev blend mu_B, sigma_B with ``renorm_momentum``; moving_mean and moving_stddev
blend them with ``momentum``, and moving_variance = max(moving_stddev^2 - epsilon, 0). r and d use the renorm
statistics from BEFORE this batch. ``renorm_clipping`` maps rmax (>= 1), rmin (<= 1), dmax (>= 0); missing keys
mean no clipping (inf, 0, inf). With r = 1, d = 0 it is plain BN. Inference is plain BN's.
Extra weights, after BN's four: moving_stddev, renorm_mean, renorm_stddev.

Ghost batch norm (``virtual_batch_size=k``, Keras 2's; Keras 3 removed it): in training, the batch of B is
reshaped to (k, B/k, ...) and each of the B/k virtual batches (samples j, j + B/k, j + 2B/k, ...) is
normalised with its own mean and variance; the moving statistics blend the averages over the virtual batches
of their means and biased variances. k must divide every training batch. Inference is plain BN's.

Conventions: Keras's momentum 0.99 is PyTorch's momentum 0.01 (PyTorch weights the NEW batch by momentum);
Keras's epsilon is 1e-3, PyTorch's 1e-5; PyTorch blends the UNBIASED variance into running_var.
A batch of one in training has variance 0, so x_hat = 0 and y = beta: no error, but no signal either.
``momentum``, ``epsilon``, ``center``, ``scale``, ``renorm_momentum`` and ``renorm_clipping`` may be changed after
the model is built (``bn.momentum = 0.0`` between two fits): the next step uses the new value, as Keras 3 reads
them at every call (normalization_settings.py says how center and scale behave then).

Exposed arrays (NumPy views of the engine's memory on the CPU; copies on a GPU): ``gamma``, ``beta``,
``moving_mean``, ``moving_variance`` (Variables), and after a training step ``batch_mean``,
``batch_variance`` (biased), ``inv_std`` = 1/sqrt(var_B + eps), ``x_hat``, ``dgamma``, ``dbeta`` and ``dx``;
with renorm also ``r`` and ``d``. With virtual_batch_size the batch statistics are per virtual batch, shape
(B/k * C,), v-major.
"""

import math

import numpy as np

from bnlab import _core
from bnlab.keras import initializers
from bnlab.keras.layers.base import Layer
from bnlab.keras.layers.normalization_arrays import NormalizationArrays, cached_array, weight
from bnlab.keras.layers.normalization_settings import LiveClipping, live, live_flag, positive_finite, unit_interval

_REMOVED = ("fused", "adjustment")
_CLIP_KEYS = ("rmax", "rmin", "dmax")


class BatchNormalization(NormalizationArrays, Layer):
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
        renorm=False,
        renorm_clipping=None,
        renorm_momentum=0.99,
        virtual_batch_size=None,
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
        if synchronized:
            raise ValueError("synchronized=True needs several devices; bnlab trains on one")
        self.axis, self.momentum, self.epsilon = axis, momentum, epsilon
        self.center, self.scale = center, scale
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self._renorm = bool(renorm)
        self.renorm_clipping = renorm_clipping
        self.renorm_momentum = renorm_momentum
        if virtual_batch_size is not None:
            k = virtual_batch_size
            if not isinstance(k, int) or isinstance(k, bool) or k < 1:
                raise ValueError(f"virtual_batch_size must be a positive integer, got {virtual_batch_size!r}")
            if renorm:
                raise ValueError("virtual_batch_size with renorm=True: bnlab supports one or the other")
        self.virtual_batch_size = virtual_batch_size

    # momentum, epsilon, center, scale and the renorm settings are live, as in Keras 3 (which reads them at
    # every call): set after the model is built, they apply from the next step on (normalization_settings.py).
    # A teacher who sets bn.momentum = 0.0 between two fits sees the moving mean become the last batch's mean.
    momentum = live(
        "momentum",
        unit_interval,
        "The moving statistics' weight of the OLD value: moving = momentum * moving + (1 - momentum) * batch.",
    )
    epsilon = live(
        "epsilon",
        positive_finite,
        "Added to the variance before the square root: x_hat = (x - mu) / sqrt(var + epsilon).",
    )
    center = live_flag("center", "Whether beta is added: y = gamma * x_hat + beta (else y = gamma * x_hat).")
    scale = live_flag("scale", "Whether gamma multiplies: y = gamma * x_hat + beta (else y = x_hat + beta).")
    renorm_momentum = live(
        "renorm_momentum",
        unit_interval,
        "Batch renormalization's weight of the old renorm_mean / renorm_stddev (renorm=True).",
    )

    @property
    def renorm(self):
        """Whether training uses batch renormalization (fixed: it decides which weights the layer has)."""
        return self._renorm

    @renorm.setter
    def renorm(self, value):
        if bool(value) != self._renorm:
            raise ValueError(
                f"renorm: the layer {self.name!r} was created with renorm={self._renorm}, which decides its weights "
                f"(renorm adds moving_stddev, renorm_mean, renorm_stddev); create a new layer with renorm={value}"
            )

    @property
    def renorm_clipping(self):
        """rmax, rmin, dmax of batch renormalization's r and d; live, also when changed in place."""
        return self._renorm_clipping

    @renorm_clipping.setter
    def renorm_clipping(self, value):
        if not self._renorm:  # unused, as in Keras, which checks it only with renorm=True
            self._renorm_clipping = value
            return
        self._renorm_clipping = LiveClipping(_check_clipping(value), _check_clipping, self._push_clipping)
        self._push_clipping()

    def _engine_clip(self):
        c = self._renorm_clipping
        return _core.RenormClip(c.get("rmin", 0.0), c.get("rmax", math.inf), c.get("dmax", math.inf))

    def _push_clipping(self):
        if self._engine is not None:
            self._engine.clip = self._engine_clip()

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
        args = (self._per_sample_axis, self.momentum, self.epsilon, self.center, self.scale)
        if self.renorm:
            return _core.BatchRenorm(*args, self._engine_clip(), self.renorm_momentum)
        if self.virtual_batch_size is not None:
            if self._per_sample_axis != 0:
                raise ValueError(
                    f"virtual_batch_size needs the feature axis right after the batch axis, got axis={self.axis}"
                )
            return _core.GhostBatchNorm(*args, self.virtual_batch_size)
        return _core.BatchNorm(*args)

    def _initialize(self):
        e = self._engine
        e.gamma.copy_from(self.gamma_initializer(e.gamma.shape))
        e.beta.copy_from(self.beta_initializer(e.beta.shape))
        e.moving_mean.copy_from(self.moving_mean_initializer(e.moving_mean.shape))
        e.moving_variance.copy_from(self.moving_variance_initializer(e.moving_variance.shape))
        if self.renorm:  # as Keras: the standard deviations start at sqrt(moving_variance_initializer)
            std = np.sqrt(np.asarray(self.moving_variance_initializer(e.moving_variance.shape), dtype=np.float32))
            e.moving_stddev.copy_from(std)
            e.renorm_stddev.copy_from(std)
            e.renorm_mean.copy_from(self.moving_mean_initializer(e.moving_mean.shape))

    def _variables(self):
        if self._engine is None:
            return []
        e = self._engine
        out = self._gamma_beta_variables()
        out += [("moving_mean", e.moving_mean, False), ("moving_variance", e.moving_variance, False)]
        if self.renorm:
            out += [(n, getattr(e, n), False) for n in ("moving_stddev", "renorm_mean", "renorm_stddev")]
        return out

    moving_mean = weight("moving_mean")
    moving_variance = weight("moving_variance")

    # ---- internals of the last training step (x_hat, dgamma, dbeta, dx: NormalizationArrays) ----
    def _last_cache(self, engine):
        return engine.ghost_cache if self.virtual_batch_size is not None else engine.cache

    batch_mean = cached_array("mean", "mu_B of the last training step, shape (C,).")
    batch_variance = cached_array("var", "The biased variance var_B of the last training step, shape (C,).")
    inv_std = cached_array("rstd", "1 / sqrt(var_B + epsilon) of the last training step, shape (C,).")

    @property
    def r(self):
        """Batch renorm's r = clip(sigma_B / sigma_R, rmin, rmax) of the last training step, shape (C,)."""
        return self._engine_array(lambda engine: engine, "r") if self.renorm else None

    @property
    def d(self):
        """Batch renorm's d = clip((mu_B - renorm_mean) / sigma_R, -dmax, dmax) of the last training step."""
        return self._engine_array(lambda engine: engine, "d") if self.renorm else None

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.name_of(self.beta_initializer),
            "gamma_initializer": initializers.name_of(self.gamma_initializer),
            "moving_mean_initializer": initializers.name_of(self.moving_mean_initializer),
            "moving_variance_initializer": initializers.name_of(self.moving_variance_initializer),
            "renorm": self.renorm,
            "renorm_clipping": dict(self.renorm_clipping) if self.renorm else self.renorm_clipping,
            "renorm_momentum": self.renorm_momentum,
            # Keras 3 has no virtual_batch_size and refuses the key: written only when set (Keras 2's ghost BN).
            **({"virtual_batch_size": self.virtual_batch_size} if self.virtual_batch_size is not None else {}),
        }


def _check_clipping(clipping):
    """renorm_clipping checked: known keys, rmax >= 1 >= rmin >= 0, dmax >= 0 (else r = 1, d = 0 is unreachable)."""
    clipping = dict(clipping or {})
    unknown = sorted(set(clipping) - set(_CLIP_KEYS))
    if unknown:
        raise ValueError(f"renorm_clipping: unknown keys {unknown}; supported: {list(_CLIP_KEYS)}")
    for key, value in clipping.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value):
            raise ValueError(f"renorm_clipping[{key!r}] must be a number, got {value!r}")
    rmax, rmin, dmax = clipping.get("rmax"), clipping.get("rmin"), clipping.get("dmax")
    if rmax is not None and rmax < 1.0:
        raise ValueError(f"renorm_clipping: rmax must be >= 1 (r = 1 is plain batch norm), got rmax={rmax}")
    if rmin is not None and not 0.0 <= rmin <= 1.0:
        raise ValueError(f"renorm_clipping: rmin must be in [0, 1] (r = 1 is plain batch norm), got rmin={rmin}")
    if dmax is not None and dmax < 0.0:
        raise ValueError(f"renorm_clipping: dmax must be >= 0, got dmax={dmax}")
    return clipping
