"""Conv2D: Keras's 2-D convolution, channels-last, on the engine's conv2d op (im2col + sgemm).

For an input x (batch, H, W, C) and kernel (KH, KW, C, filters) (Keras's layout):
    y[n, i, j, k] = activation(bias[k] + sum_{a, b, c} kernel[a, b, c, k] * x_pad[n, i*SH + a, j*SW + b, c])
padding='valid': no padding, output floor((H - KH) / SH) + 1;  padding='same': output ceil(H / SH), the
total padding max((out - 1)*SH + KH - H, 0) split with the odd pixel at the bottom/right (TensorFlow's rule).
Defaults as Keras: glorot_uniform kernel with fan_in = KH*KW*C and fan_out = KH*KW*filters, zero bias.
"""

from bnlab import _core
from bnlab.keras import activations, initializers
from bnlab.keras.layers.base import KernelBiasMixin, Layer


def standardize_tuple(value, name, allow_zero=False):
    """An int or a pair of ints as a pair, with Keras's message for anything else."""
    message = f"The `{name}` argument must be a tuple of 2 integers. Received {name}={value}"
    pair = (value, value) if isinstance(value, int) and not isinstance(value, bool) else value
    try:
        pair = tuple(pair)
    except TypeError:
        raise ValueError(message) from None
    if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair):
        raise ValueError(message)
    bad = {v for v in pair if v < 0 or (v == 0 and not allow_zero)}
    if bad:
        rule = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{message}, including values {bad} that do not satisfy `value {rule}`")
    return pair


def standardize_padding(value):
    if not isinstance(value, str) or value.lower() not in ("valid", "same"):
        raise ValueError(f"The `padding` argument must be one of {{'valid', 'same'}}. Received: {value}")
    return value.lower()


def check_data_format(data_format, layer):
    if data_format not in (None, "channels_last"):
        if data_format == "channels_first":
            raise ValueError(f"{layer}: bnlab.keras computes channels_last only (use bnlab.torch for NCHW)")
        raise ValueError(
            f"The `data_format` argument must be one of {{'channels_first', 'channels_last'}}. Received: {data_format}"
        )
    return "channels_last"


def check_image_input(layer, input_shape):
    """Keras's InputSpec(ndim=4) message for a per-sample input that is not (H, W, C)."""
    shape = tuple(input_shape)
    full = shape if shape and shape[0] is None else (None, *shape)
    if len(full) != 4:
        raise ValueError(
            f'Input 0 of layer "{layer.name}" is incompatible with the layer: expected ndim=4, found '
            f"ndim={len(full)}. Full shape received: {full}"
        )


_UNSUPPORTED = {  # Keras arguments that bnlab accepts only at their defaults
    "dilation_rate": (1, 1),
    "groups": 1,
    "kernel_regularizer": None,
    "bias_regularizer": None,
    "activity_regularizer": None,
    "kernel_constraint": None,
    "bias_constraint": None,
    "lora_rank": None,
}


class Conv2D(KernelBiasMixin, Layer):
    """2-D convolution over (batch, height, width, channels): ``Conv2D(32, 3, padding='same', activation='relu')``."""

    config_passthrough = tuple(_UNSUPPORTED)  # accepted by from_config, checked by __init__

    def __init__(
        self,
        filters,
        kernel_size,
        strides=(1, 1),
        padding="valid",
        data_format=None,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        fixed = {k: kwargs.pop(k) for k in list(kwargs) if k in _UNSUPPORTED}
        super().__init__(**kwargs)
        for key, value in fixed.items():
            default = _UNSUPPORTED[key]
            same = (standardize_tuple(value, key) == default) if key == "dilation_rate" else value == default
            if not same:
                raise ValueError(f"Conv2D: bnlab supports only {key}={default!r}, got {value!r}")
        if not isinstance(filters, int) or isinstance(filters, bool) or filters <= 0:
            raise ValueError(
                f"Invalid value for argument `filters`. Expected a strictly positive value. Received filters={filters}."
            )
        self.filters = filters
        self.kernel_size = standardize_tuple(kernel_size, "kernel_size")
        self.strides = standardize_tuple(strides, "strides")
        self.padding = standardize_padding(padding)
        self.data_format = check_data_format(data_format, "Conv2D")
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def build(self, input_shape):
        check_image_input(self, input_shape)
        super().build(input_shape)

    def _create_engine(self):
        same = self.padding == "same"
        return _core.Conv2D(self.filters, self.kernel_size, self.strides, same, self.use_bias, self.activation)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": (1, 1),
            "groups": 1,
            "activation": activations.name_of(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.name_of(self.kernel_initializer),
            "bias_initializer": initializers.name_of(self.bias_initializer),
            "kernel_regularizer": None,
            "bias_regularizer": None,
            "activity_regularizer": None,
            "kernel_constraint": None,
            "bias_constraint": None,
        }
