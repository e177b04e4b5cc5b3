"""MaxPooling2D, AveragePooling2D and GlobalAveragePooling2D: Keras's 2-D pooling, channels-last.

Each output value pools one channel over a (PH, PW) window moved by ``strides`` (default: the pool size):
    max:     y = max over the window (padding never wins);  the gradient goes to the winner only.
    average: y = mean over the window's INPUT values: with padding='same', border windows divide by the number
             of values they cover, not PH*PW (Keras/TensorFlow; PyTorch's AvgPool2d counts the padding).
Output sizes and 'same' padding follow Conv2D's rule (see convolutional.py).
GlobalAveragePooling2D: (batch, H, W, C) -> (batch, C), the mean of each channel over the image.
"""

from bnlab import _core
from bnlab.keras.layers.base import Layer
from bnlab.keras.layers.convolutional import (
    check_data_format,
    check_image_input,
    standardize_padding,
    standardize_tuple,
)


class _Pooling2D(Layer):
    _mode = None

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = standardize_tuple(pool_size, "pool_size")
        self.strides = standardize_tuple(self.pool_size if strides is None else strides, "strides")
        self.padding = standardize_padding(padding)
        self.data_format = check_data_format(data_format, type(self).__name__)

    def build(self, input_shape):
        check_image_input(self, input_shape)
        super().build(input_shape)

    def _create_engine(self):
        return _core.Pooling2D(self._mode, self.pool_size, self.strides, self.padding == "same")

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": self.pool_size,
            "padding": self.padding,
            "strides": self.strides,
            "data_format": self.data_format,
        }


class MaxPooling2D(_Pooling2D):
    """The maximum of each (PH, PW) window of each channel."""

    _mode = _core.Pooling2D.Mode.Max


class AveragePooling2D(_Pooling2D):
    """The mean of each (PH, PW) window of each channel; padding is not counted. pool_size is required (Keras 3)."""

    _mode = _core.Pooling2D.Mode.Average

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class GlobalAveragePooling2D(Layer):
    """(batch, H, W, C) -> (batch, C): the mean of each channel over the image."""

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = check_data_format(data_format, "GlobalAveragePooling2D")
        if keepdims:
            raise ValueError("GlobalAveragePooling2D: bnlab supports keepdims=False only")
        self.keepdims = False

    def build(self, input_shape):
        check_image_input(self, input_shape)
        super().build(input_shape)

    def _create_engine(self):
        return _core.GlobalAveragePooling2D()

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}
