"""LayerNormalization and GroupNormalization: per-sample statistics, with Keras 3's semantics.

Both compute, for each SAMPLE separately (never across the batch),
    mu = mean(x over the normalised values),  var = mean((x - mu)^2)  (biased)
    y  = gamma * (x - mu) / sqrt(var + epsilon) + beta
with gamma and beta per feature (LayerNormalization: of the normalised axes; GroupNormalization: per channel).

How they differ from BatchNormalization:
* what is averaged: BN averages one feature over the BATCH; LN averages one sample over its features
  (``axis``, default the last); GN splits the channels of ``axis`` into ``groups`` groups and averages one
  sample's group over its channels and every other position (``groups=-1``: one channel per group, instance
  norm; ``groups=1``: the whole sample, which for a 2-D input is layer norm);
* training = inference: there are no moving statistics, so ``training`` changes nothing, the batch size
  does not matter (a batch of one is fine), and there is nothing to fold into a preceding layer;
* weights: gamma, beta only (BN also keeps moving_mean and moving_variance).
Backward (per sample's group of M values, g = gamma * dy): dgamma = sum over the batch of dy * x_hat,
dbeta = sum of dy, dx = 1 / sqrt(var + eps) / M * (M g - sum(g) - x_hat * sum(g * x_hat)).

Settings: ``epsilon`` is read at every call in both (set it after build and the next call uses it), ``center``
and ``scale`` at every call in GroupNormalization and only at build in LayerNormalization, as in Keras 3
(normalization_settings.py).

Conventions: Keras's epsilon is 1e-3 for both; PyTorch's LayerNorm and GroupNorm use 1e-5. Keras's
GroupNormalization is channels-last by default (axis=-1), PyTorch's GroupNorm channels-first (N, C, *).

Exposed arrays (NumPy views on the CPU, copies on a GPU) after a call: ``mean`` and ``inv_std`` per sample
(and group), ``x_hat``, and after a training step ``dgamma``, ``dbeta``, ``dx``.
"""

from bnlab import _core
from bnlab.keras import initializers
from bnlab.keras.layers.base import Layer
from bnlab.keras.layers.normalization_arrays import NormalizationArrays, cached_array
from bnlab.keras.layers.normalization_settings import live, live_flag, positive_finite


class _PerSampleNorm(NormalizationArrays, Layer):
    """What LayerNormalization and GroupNormalization share: the weights, the initialisers, the internals."""

    def __init__(self, epsilon, center, scale, beta_initializer, gamma_initializer, **kwargs):
        for k in ("beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint"):
            if kwargs.get(k) is not None:
                raise ValueError(f"{k}: bnlab's normalization layers take no regularizers or constraints")
            kwargs.pop(k, None)
        super().__init__(**kwargs)
        self.epsilon, self.center, self.scale = epsilon, center, scale
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)

    def _initialize(self):
        e = self._engine
        e.gamma.copy_from(self.gamma_initializer(e.gamma.shape))
        e.beta.copy_from(self.beta_initializer(e.beta.shape))

    def _variables(self):
        return [] if self._engine is None else self._gamma_beta_variables()

    # Read at every call, as Keras 3 reads them (normalization_settings.py); LayerNormalization overrides
    # center and scale, which Keras 3 reads only in build.
    epsilon = live("epsilon", positive_finite, "Added to the variance: x_hat = (x - mu) / sqrt(var + epsilon).")
    center = live_flag("center", "Whether beta is added: y = gamma * x_hat + beta (else y = gamma * x_hat).")
    scale = live_flag("scale", "Whether gamma multiplies: y = gamma * x_hat + beta (else y = x_hat + beta).")

    # x_hat, dgamma, dbeta, dx: NormalizationArrays
    mean = cached_array("mean", "The per-sample (per group) means of the last call, shape (rows, groups).")
    inv_std = cached_array(
        "rstd", "1 / sqrt(var + epsilon) per sample (per group) of the last call, shape (rows, groups)."
    )

    def _per_sample_axis(self, axis, input_shape):
        rank = len(input_shape) - (1 if input_shape and input_shape[0] is None else 0)
        a = axis + rank if axis < 0 else axis - 1  # Keras counts the batch axis; the engine does not
        if not 0 <= a < rank:
            raise ValueError(f"axis {axis} is out of range for input shape {tuple(input_shape)}")
        return a

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon, "center": self.center, "scale": self.scale}


class LayerNormalization(_PerSampleNorm):
    """Normalise each sample over ``axis`` (an int or a list of the LAST axes): per-sample mean and variance."""

    def __init__(
        self,
        axis=-1,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        **kwargs,
    ):
        if kwargs.pop("rms_scaling", False):
            raise ValueError("rms_scaling: deprecated in Keras 3 (it scaled by the variance); not supported")
        super().__init__(epsilon, center, scale, beta_initializer, gamma_initializer, **kwargs)
        if isinstance(axis, (list, tuple)):
            if not axis or not all(isinstance(a, int) for a in axis):
                raise TypeError(f"axis must be an int or a non-empty list of ints, got {axis!r}")
            self.axis = list(axis)
        elif isinstance(axis, int):
            self.axis = axis
        else:
            raise TypeError(f"Expected an int or a list/tuple of ints for the argument 'axis', but received: {axis!r}")

    def build(self, input_shape):
        given = self.axis if isinstance(self.axis, list) else [self.axis]
        axes = sorted(self._per_sample_axis(a, input_shape) for a in given)
        rank = len(input_shape) - (1 if input_shape and input_shape[0] is None else 0)
        if axes != list(range(axes[0], rank)):
            raise ValueError(
                f"axis {self.axis}: bnlab's LayerNormalization normalises the last axes of the input "
                f"(a contiguous run ending at -1), got input shape {tuple(input_shape)}"
            )
        self._first_axis = axes[0]
        super().build(input_shape)

    center = live_flag("center", "Whether beta is added (read in build, as Keras 3's LayerNormalization).", True)
    scale = live_flag("scale", "Whether gamma multiplies (read in build, as Keras 3's LayerNormalization).", True)

    def _create_engine(self):
        return _core.LayerNorm(self._first_axis, self.epsilon, self.center, self.scale)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class GroupNormalization(_PerSampleNorm):
    """Split the channels of ``axis`` into ``groups``; normalise each sample's group over its channels and
    every other position."""

    def __init__(
        self,
        groups=32,
        axis=-1,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        **kwargs,
    ):
        super().__init__(epsilon, center, scale, beta_initializer, gamma_initializer, **kwargs)
        if not isinstance(groups, int) or isinstance(groups, bool) or (groups <= 0 and groups != -1):
            raise ValueError(
                f"groups must be a positive integer (or -1 for instance normalization), got groups={groups!r}"
            )
        if not isinstance(axis, int):
            raise TypeError(f"axis must be an int, got {axis!r}")
        self.groups, self.axis = groups, axis

    def build(self, input_shape):
        self._axis = self._per_sample_axis(self.axis, input_shape)
        channels = tuple(input_shape)[self.axis]
        if self.groups > channels:
            raise ValueError(f"groups={self.groups}: cannot be more than the number of channels ({channels})")
        if self.groups != -1 and channels % self.groups:
            raise ValueError(f"groups={self.groups} must divide the number of channels ({channels}) evenly")
        super().build(input_shape)

    def _create_engine(self):
        return _core.GroupNorm(self.groups, self._axis, self.epsilon, self.center, self.scale)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups, "axis": self.axis}
