"""Dense, Activation, Flatten, Dropout and Input: the feed-forward layers of the seeds.

Dense computes y = activation(x @ kernel + bias) with kernel (in, units), glorot_uniform by default, and
zero bias — Keras's layout and defaults. Dropout is inverted: in training each value is kept with
probability 1 - rate and scaled by 1 / (1 - rate), so inference is the identity.
"""

import numpy as np

from bnlab import _core
from bnlab.keras import activations, initializers, random_state
from bnlab.keras._symbolic import KerasTensor
from bnlab.keras.config_args import init_kwargs
from bnlab.keras.layers.base import KernelBiasMixin, Layer, _as_shape, check_float32, unique_name


class Dense(KernelBiasMixin, Layer):
    """Fully connected layer: ``y = activation(x @ kernel + bias)``."""

    def __init__(
        self,
        units,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(units, int) or isinstance(units, bool) or units < 1:
            raise ValueError(f"units must be a positive integer, got {units!r}")
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def _create_engine(self):
        return _core.Dense(self.units, self.use_bias, self.activation)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.name_of(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.name_of(self.kernel_initializer),
            "bias_initializer": initializers.name_of(self.bias_initializer),
        }


class Activation(Layer):
    """Applies an activation function by name."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def _create_engine(self):
        return _core.Activation(self.activation)

    def get_config(self):
        return {**super().get_config(), "activation": activations.name_of(self.activation)}


class Flatten(Layer):
    """(batch, d1, d2, ...) -> (batch, d1 * d2 * ...)."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last", "channels_first"):
            raise ValueError(f"data_format must be channels_last or channels_first, got {data_format!r}")
        self.data_format = data_format or "channels_last"

    def build(self, input_shape):
        # Keras moves the channel axis last before flattening channels_first data; bnlab flattens in memory
        # order only, so it refuses what it would otherwise get silently wrong.
        shape = tuple(input_shape)
        per_sample = shape[1:] if shape and shape[0] is None else shape
        if self.data_format == "channels_first" and len(per_sample) > 1:
            raise ValueError(f"Flatten {self.name!r}: data_format='channels_first' is not supported for {input_shape}")
        super().build(input_shape)

    def _create_engine(self):
        return _core.Flatten()

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class Dropout(Layer):
    """Inverted dropout: zero a fraction ``rate`` of the values in training, scale the rest by 1/(1-rate)."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= float(rate) < 1:
            raise ValueError(f"rate must be in [0, 1), got {rate!r}")
        if noise_shape is not None:
            raise ValueError("noise_shape is not supported by bnlab's Dropout; leave it None")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"seed must be None or an int >= 0, got {seed!r}")
        self.rate = float(rate)
        self.seed = seed

    def _create_engine(self):
        seed = random_state.draw_seed() if self.seed is None else int(self.seed)
        return _core.Dropout(self.rate, seed)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class InputLayer:
    """Marks the per-sample input shape of a model (``keras.Input`` makes one); no weights, no engine layer."""

    def __init__(self, shape=None, batch_size=None, name=None, input_shape=None, **kwargs):
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments passed to InputLayer: {kwargs}")
        shape = shape if shape is not None else input_shape
        if shape is None:
            raise ValueError("Input needs shape=, the per-sample shape, e.g. Input(shape=(784,))")
        self.shape = (batch_size, *_as_shape(shape, "shape"))
        self.name = name or "input_layer"
        self.built, self.trainable = True, True

    # no weights: what model.layers' entries all answer (a functional model lists its InputLayer first)
    weights = trainable_weights = non_trainable_weights = property(lambda self: [])
    output_shape = property(lambda self: (None, *self.shape[1:]))

    def _variables(self):
        return []

    def count_params(self):
        return 0

    def get_config(self):
        """Keras 3's InputLayer config (the batch axis first, None when free)."""
        return {
            "batch_shape": list(self.shape),
            "dtype": "float32",
            "sparse": False,
            "ragged": False,
            "name": self.name,
            "optional": False,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        owner = f"InputLayer {config.get('name', '')!r}"
        check_float32(config.pop("dtype", None), owner)
        batch_shape = config.pop("batch_shape", None) or config.pop("batch_input_shape", None)
        if not isinstance(batch_shape, (list, tuple)) or len(batch_shape) < 2:
            raise ValueError(
                f"{owner}: batch_shape must list the batch axis and the per-sample axes, got {batch_shape!r}"
            )
        kwargs = init_kwargs(cls, config, owner)
        return cls(shape=tuple(batch_shape[1:]), batch_size=batch_shape[0], **kwargs)


def Input(shape=None, batch_size=None, name=None, **kwargs):  # noqa: N802 (Keras's name)
    """``keras.Input(shape=(784,))``: a symbolic tensor, the input of a functional model (``keras.Model(inputs,
    outputs)``) or the first entry of a Sequential model."""
    layer = InputLayer(shape=shape, batch_size=batch_size, name=name or unique_name("input_layer"), **kwargs)
    layer._functional_output = KerasTensor(layer.shape, layer)
    return layer._functional_output
