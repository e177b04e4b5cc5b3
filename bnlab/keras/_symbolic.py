"""Keras's symbolic tensors: what ``keras.Input`` returns and what calling a layer on one gives.

A functional model is written as calls on symbolic tensors::

    inputs = keras.Input(shape=(32, 32, 3))
    x = layers.Conv2D(32, 3, padding="same")(inputs)    # a KerasTensor of shape (None, 32, 32, 32)
    y = layers.Add()([x, shortcut])                     # merges two
    model = keras.Model(inputs, outputs)

Each call builds the layer for the tensor's shape (as Keras does) and records the call: the output tensor
remembers its layer and that layer's input tensors, which is the graph ``keras.Model`` reads
(bnlab/keras/functional.py). Nothing is computed here, except for a layer written in Python, whose output shape
is that of one call on zeros unless its class has a ``compute_output_shape`` (bnlab/keras/layers/custom.py).
"""

_count = [0]


class KerasTensor:
    """A symbolic float32 tensor: a shape with the batch axis None, and the layer call that produced it."""

    def __init__(self, shape, layer, inputs=()):
        self.shape = tuple(shape)
        self.dtype = "float32"
        self._layer = layer  # the producing layer (an InputLayer for keras.Input)
        self._inputs = tuple(inputs)  # the KerasTensors that layer was called on
        n = _count[0]
        _count[0] += 1
        self.name = "keras_tensor" if n == 0 else f"keras_tensor_{n}"

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype=float32, sparse=False, ragged=False, name={self.name}>"

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "a KerasTensor is symbolic (the input of a functional model): it has no values. Build the model with "
            "keras.Model(inputs, outputs) and call the model on data instead"
        )

    def _no_operator(self, *args):
        raise TypeError(
            "bnlab.keras builds functional models from layers only: write layers.Add()([a, b]) instead of a + b"
        )

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __matmul__ = _no_operator


def is_symbolic(inputs):
    """Whether a layer call is a functional-API call (on a KerasTensor, or a list of them)."""
    if isinstance(inputs, KerasTensor):
        return True
    return isinstance(inputs, (list, tuple)) and any(isinstance(t, KerasTensor) for t in inputs)


def connect(layer, inputs):
    """Record ``layer(inputs)`` on symbolic inputs: build the layer for their shape and return its output tensor."""
    if getattr(layer, "_functional_output", None) is not None:
        raise ValueError(
            f"layer {layer.name!r} is already called once in a functional model: bnlab.keras does not share a "
            "layer between two places of a graph yet; create a second layer"
        )
    if getattr(layer, "_merges", False):
        tensors = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if len(tensors) < 2 or not all(isinstance(t, KerasTensor) for t in tensors):
            raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}) merges a list of at least 2 KerasTensors")
        shape = layer.compute_output_shape([t.shape for t in tensors])
    else:
        if not isinstance(inputs, KerasTensor):
            raise TypeError(
                f"layer {layer.name!r} takes one KerasTensor in a functional model, got {type(inputs).__name__}"
            )
        tensors = [inputs]
        known = getattr(layer, "_input_shape", None) if layer.built else None
        if known is not None and tuple(known[1:]) != tuple(inputs.shape[1:]):
            raise ValueError(
                f"Input of layer {layer.name!r} is incompatible: expected shape {known}, found {inputs.shape}"
            )
        if getattr(layer, "_is_python_layer", False):  # built (and run once on zeros) if need be
            shape = layer.compute_output_shape(inputs.shape)
        else:
            if not layer.built:
                layer.build(inputs.shape)
            shape = layer._output_shape
    out = KerasTensor(shape, layer, tensors)
    layer._functional_output = out
    return out
