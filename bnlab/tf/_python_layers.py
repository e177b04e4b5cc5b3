"""Keras layers written in Python (``class BatchNorm(tf.keras.layers.Layer)``) on the TF core's tensors.

The Keras side (bnlab/keras/layers/custom.py) keeps the bookkeeping: which weights a layer made, when it is
built. What needs TF's tensors is here, reached through the bridge (``bnlab.keras._eager.handler``):

* ``make_variable``: the ``tf.Variable`` that ``Layer.add_weight`` returns (a ``LayerVariable``: Keras 3's bare
  ``name`` ("gamma") and ``path`` ("batch_norm/gamma"), and the engine tensor bnlab's optimizers update in place,
  so that ``optimizer.apply_gradients`` reaches it as it reaches the engine layers' weights);
* ``call_layer``: a call of such a layer. The inputs become ``tf.Tensor``s (float inputs float32, as Keras
  autocasts them), the layer is built on its first call (``build(input_shape)`` with the input's shape as a
  ``tf.TensorShape``, batch axis included, as in TensorFlow), then ``call`` runs eagerly; ``training`` is passed
  when ``call`` takes it. A call with ``training=None`` inside another layer's or a model's call gets the outer
  call's value (Keras's call context), so a Python block that calls ``self.bn(x)`` trains its BN with the model;
* ``call_model``: a call of a subclassed ``keras.Model`` (bnlab/keras/subclassed.py), run as a Python layer's.
"""

from __future__ import annotations

import inspect

import numpy as np

from . import dtypes as _dtypes
from .tensor import Tensor
from .tensor_shape import TensorShape
from .variables import Variable, as_tensor_like, convert_to_tensor

_context: list = []  # the training flag of each Python layer or model call under way, innermost last
_TAKES_TRAINING: dict = {}  # class -> whether its call accepts training=


class LayerVariable(Variable):
    """A weight made by ``Layer.add_weight``: a ``tf.Variable`` named as Keras 3 names it (``name``, ``path``)."""

    def __init__(self, value, name, path, trainable, dtype):
        super().__init__(value, trainable=trainable, name=name, dtype=dtype)
        self._name = name
        self.path = path

    def __repr__(self) -> str:
        return f"<LayerVariable path={self.path}, shape={self.shape}, dtype={self.dtype.name}, numpy={self.numpy()!r}>"


def make_variable(layer, name, shape, dtype, initializer, trainable):
    """A new ``LayerVariable`` of ``layer``, of ``shape`` and ``dtype``, with ``initializer(shape, dtype=dtype)``."""
    dt = _dtypes.as_dtype(dtype)
    shape = tuple(int(d) for d in shape)
    value = initializer(shape, dtype=dt.name)
    value = convert_to_tensor(value if as_tensor_like(value) is not None else np.asarray(value), dtype=dt)
    if tuple(value.shape) != shape:
        raise ValueError(
            f"add_weight({name!r}): the initializer gave a value of shape {tuple(value.shape)}, expected {shape}"
        )
    return LayerVariable(value, name, f"{layer.name}/{name}", trainable, dt)


def training_now(training):
    """``training`` itself, or the innermost outer call's flag when it is None (None outside every call)."""
    if training is None and _context:
        return _context[-1]
    return training


class calling:  # noqa: N801 - used as a context manager, like TensorFlow's name scopes
    """``with calling(training):`` — the calls made inside see ``training`` as their outer call's flag."""

    def __init__(self, training):
        self.training = training

    def __enter__(self):
        _context.append(self.training)
        return self

    def __exit__(self, *exc):
        _context.pop()
        return False


def _tensor(x):
    """An input as a tf.Tensor: tensors as they are, NumPy data converted (floats to float32)."""
    t = as_tensor_like(x)
    return convert_to_tensor(np.asarray(x)) if t is None else t  # float data converts to float32


def _inputs(inputs):
    if isinstance(inputs, (list, tuple)):
        return type(inputs)(_tensor(x) for x in inputs)
    return _tensor(inputs)


def _shape_of(inputs):
    if isinstance(inputs, (list, tuple)):
        return [TensorShape(x.shape) for x in inputs]
    return TensorShape(inputs.shape)


def takes_training(cls) -> bool:
    """Whether ``cls.call`` accepts a ``training`` argument (by name, or through ``**kwargs``)."""
    found = _TAKES_TRAINING.get(cls)
    if found is None:
        params = inspect.signature(cls.call).parameters.values()
        found = any(p.name == "training" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
        _TAKES_TRAINING[cls] = found
    return found


def call_layer(layer, inputs, training=None, **kwargs):
    """Run the Python layer ``layer`` on ``inputs`` (built first if need be); returns its output as ``call`` gives
    it, a single value as a tf.Tensor."""
    x = _inputs(inputs)
    training = training_now(training)
    if not layer.built:
        layer.build(_shape_of(x))
        layer.built = True
        layer._input_shape = _shape_tuple(_shape_of(x))
    if takes_training(type(layer)):
        kwargs["training"] = training
    with calling(training):
        out = layer.call(x, **kwargs)
    if not isinstance(out, (list, tuple, dict)):
        out = out if isinstance(out, Tensor) else _tensor(out)
        if layer._output_shape is None:
            layer._output_shape = (None, *tuple(out.shape)[1:])
    return out


def call_model(model, inputs, training=None, kwargs=None):
    """Run the subclassed Keras model ``model`` (bnlab/keras/subclassed.py) on ``inputs``: its own ``build`` first
    on the first call (when the subclass defines one), then ``call`` with ``training`` (when it takes it) as the
    flag of the calls made inside; the first call's input and output shapes are recorded on the model."""
    from ..keras.subclassed import Model

    x = _inputs(inputs)
    training = training_now(training)
    kwargs = dict(kwargs or {})
    if not model.built and type(model).build is not Model.build:
        model.build(_shape_of(x))
    if takes_training(type(model)):
        kwargs["training"] = training
    with calling(training):
        out = model.call(x, **kwargs)
    if not isinstance(out, (list, tuple, dict)):
        out = out if isinstance(out, Tensor) else _tensor(out)
        if not isinstance(x, (list, tuple)):
            model._first_call(tuple(x.shape), tuple(out.shape))
    elif not model.built:
        model._mark_built(None)
    return out


def _shape_tuple(shape):
    if isinstance(shape, list):
        return [(None, *tuple(s)[1:]) for s in shape]
    return (None, *tuple(shape)[1:])


def probe_output_shape(layer, input_shape):
    """The output shape of ``layer`` for ``input_shape`` (batch axis None): its ``compute_output_shape`` when its
    class defines one, else the shape of its output on one sample of zeros in inference mode (Keras traces the
    call symbolically instead; bnlab runs it once)."""
    from .creation import zeros

    sample = zeros((1, *tuple(input_shape)[1:]))
    if not layer.built:
        layer.build(TensorShape(input_shape))
        layer.built = True
        layer._input_shape = tuple(input_shape)
    out = call_layer(layer, sample, training=False)
    if isinstance(out, (list, tuple, dict)):
        raise ValueError(f"layer {layer.name!r}: a layer in a Sequential model must return one tensor")
    return (None, *tuple(out.shape)[1:])
