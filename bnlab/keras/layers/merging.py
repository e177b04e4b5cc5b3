"""Add: the merge layer of residual blocks, ``layers.Add()([x, shortcut])`` = x + shortcut.

In a functional model (bnlab/keras/functional.py) the engine runs an Add whose two inputs fork from one tensor
as one Residual block (cpp/nn/residual.hpp): out = main(x) + shortcut(x), and in the backward the gradient
of the sum reaches both branches unchanged, d(out)/d(a) = d(out)/d(b) = identity. On NumPy arrays (or
tf.Tensors) it is the element-wise sum, as in Keras. Inputs must have equal shapes.
"""

import numpy as np

from bnlab.keras import _eager, _symbolic
from bnlab.keras.layers.base import Layer


class Add(Layer):
    """``keras.layers.Add()``: the element-wise sum of a list of tensors of one shape."""

    _merges = True

    def compute_output_shape(self, input_shape):
        shapes = [tuple(s) for s in input_shape]
        if any(s[1:] != shapes[0][1:] for s in shapes):
            raise ValueError(
                f"layer {self.name!r} (Add): inputs must have the same shape, got {', '.join(map(str, shapes))}"
            )
        self._input_shape = shapes[0]
        self._output_shape = shapes[0]
        self.built = True
        return self._output_shape

    def build(self, input_shape):
        self.compute_output_shape(input_shape)

    def __call__(self, inputs, training=None):
        if _symbolic.is_symbolic(inputs):
            return _symbolic.connect(self, inputs)
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
            raise ValueError(f"layer {self.name!r} (Add) takes a list of at least 2 inputs")
        if _eager.takes(inputs[0]):
            total = inputs[0]
            for t in inputs[1:]:
                total = total + t
            return total
        arrays = [np.asarray(a, dtype=np.float32) for a in inputs]
        self.compute_output_shape([a.shape for a in arrays])
        return np.add.reduce(arrays) if len(arrays) > 2 else arrays[0] + arrays[1]
