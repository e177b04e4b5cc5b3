"""Layers written in Python: ``class BatchNorm(tf.keras.layers.Layer)`` with ``build``, ``add_weight`` and ``call``.

A subclass of ``Layer`` that defines ``call`` (and no engine layer: no ``_create_engine``) is a Python layer.
Keras's contract, as Keras 3 keeps it:

* ``__init__`` calls ``super().__init__(**kwargs)`` (``name``, ``trainable``, ``dtype``, ``input_shape``);
* ``build(input_shape)`` runs on the first call (or when a Sequential model learns its input shape) and makes
  the weights with ``self.add_weight(shape=..., initializer=..., trainable=..., name=...)`` (TF 2's positional
  order, ``add_weight('gamma', shape)``, is accepted too); ``super().build(input_shape)`` marks the layer built,
  which it is after ``build`` in any case;
* ``call(inputs, training=None)`` is written with the TF core's ops (``import bnlab as tf``: ``tf.reduce_mean``,
  ``tf.math.rsqrt``...) and runs eagerly on ``tf.Tensor``s (bnlab/tf/_python_layers.py); a GradientTape records
  it, so its weights get gradients;
* weights: ``add_weight`` returns a ``tf.Variable`` (``variable.assign(...)`` updates a moving statistic);
  ``trainable_weights`` lists the trainable ones in creation order, then those of the layers held as attributes
  (``self.conv = Conv2D(...)``, or lists of layers); ``non_trainable_weights`` the others; ``weights`` the
  layer's own trainable then non-trainable ones, then its sublayers' (Keras 3's order); ``get_weights`` /
  ``set_weights`` / ``count_params`` work on them. ``add_update`` (TF 2) is accepted and does nothing: eager
  assignments have already happened.

A Sequential or functional model holding a Python layer has no engine model (``PythonChain`` stands in its
place): its fit, evaluate and predict run a Python loop over the layers (bnlab/tf/_keras_fit.py). In a functional
graph (``Affine()(keras.Input(...))``) a Python layer's output shape is that of one call on zeros, unless its class
defines ``compute_output_shape``. Subclassed models (bnlab/keras/subclassed.py) track their layers as Python layers
do. Not supported yet: ``add_loss``, regularizers and constraints on ``add_weight``, saving such layers.
"""

import inspect

from bnlab import _core
from bnlab.keras import _eager, _symbolic

_TF2_ORDER = ("name", "shape", "dtype", "initializer", "regularizer", "trainable", "constraint")
_KERAS3_ORDER = (
    "shape",
    "initializer",
    "dtype",
    "trainable",
    "autocast",
    "regularizer",
    "constraint",
    "aggregation",
    "overwrite_with_gradient",
    "name",
)
_IGNORED = ("autocast", "aggregation", "synchronization", "use_resource", "caching_device", "partitioner")


def _tf():
    """The TF core's side of Python layers (bnlab/tf/_python_layers.py), through the handler of _eager.py."""
    return _eager.tf_core().python_layers


def is_python_layer_class(cls, base):
    """Whether ``cls`` (a subclass of Layer ``base``) is written in Python: it defines ``call``, not an engine layer."""
    return callable(getattr(cls, "call", None)) and cls._create_engine is base._create_engine


def _initializer(init, dtype):
    from bnlab.keras import initializers

    if init is None:
        init = "glorot_uniform" if str(dtype).startswith("float") else "zeros"
    if inspect.isclass(init):  # tf.initializers.ones is a class in TensorFlow: Keras instantiates it
        return init()
    if isinstance(init, (str, dict)):
        return initializers.get(init)
    if callable(init):
        return init
    raise TypeError(f"add_weight: initializer must be a name, an initializer or a callable, got {init!r}")


class PythonLayerMethods:
    """The methods of ``Layer`` that Python layers use (``Layer`` derives from this class)."""

    def add_weight(self, *args, **kwargs):
        """A new weight of this layer: a ``tf.Variable`` of ``shape`` (default ``()``), ``dtype`` (float32),
        ``initializer`` (a name, an initializer, an initializer class, or ``f(shape, dtype=...)``; default
        glorot_uniform for floats, zeros otherwise), ``trainable`` (default True) and ``name``."""
        order = _TF2_ORDER if args and isinstance(args[0], str) else _KERAS3_ORDER
        if len(args) > len(order):
            raise TypeError(f"add_weight takes at most {len(order)} positional arguments, got {len(args)}")
        for key, value in zip(order, args, strict=False):
            if key in kwargs:
                raise TypeError(f"add_weight got multiple values for argument {key!r}")
            kwargs[key] = value
        for key in ("regularizer", "constraint"):
            if kwargs.pop(key, None) is not None:
                raise ValueError(f"add_weight: {key}= is not supported by bnlab's Python layers")
        if kwargs.pop("overwrite_with_gradient", False):
            raise ValueError("add_weight: overwrite_with_gradient=True is not supported by bnlab")
        for key in _IGNORED:
            kwargs.pop(key, None)
        shape = kwargs.pop("shape", None)
        dtype = kwargs.pop("dtype", None) or "float32"
        trainable = kwargs.pop("trainable", None)
        own = self.__dict__.setdefault("_python_weights", [])
        name = kwargs.pop("name", None) or ("variable" if not own else f"variable_{len(own)}")
        init = kwargs.pop("initializer", None)
        if kwargs:
            raise TypeError(f"add_weight got unexpected keyword arguments {sorted(kwargs)}")
        shape = () if shape is None else tuple(shape)
        variable = _tf().make_variable(
            self, name, shape, dtype, _initializer(init, dtype), True if trainable is None else bool(trainable)
        )
        own.append(variable)
        return variable

    add_variable = add_weight  # TensorFlow 2's older name

    def add_update(self, updates, inputs=None):
        """TensorFlow 2's ``add_update``: eager assignments (``variable.assign``) have already run, so nothing is
        left to do (TensorFlow does the same in eager mode)."""


def sublayers(layer):
    """The layers and models held as attributes of ``layer`` (alone, or in lists, tuples and dicts), in the order
    the attributes were first assigned (Keras's tracking order)."""
    from bnlab.keras.layers.base import Layer
    from bnlab.keras.training import Trainer

    found, seen = [], {id(layer)}
    for value in vars(layer).values():
        items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else [value]
        for item in items:
            if isinstance(item, (Layer, Trainer)) and id(item) not in seen:
                seen.add(id(item))
                found.append(item)
    return found


def _unique(variables):
    seen, out = set(), []
    for v in variables:
        if id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    return out


def own_weights(layer):
    return layer.__dict__.get("_python_weights", [])


def weights(layer):
    own = own_weights(layer)
    out = [v for v in own if v.trainable] + [v for v in own if not v.trainable]
    for sub in sublayers(layer):
        out += sub.weights
    return _unique(out)


def trainable_weights(layer):
    if not layer.trainable:
        return []
    out = [v for v in own_weights(layer) if v.trainable]
    for sub in sublayers(layer):
        out += sub.trainable_weights
    return _unique(out)


def non_trainable_weights(layer):
    if not layer.trainable:
        return weights(layer)
    out = [v for v in own_weights(layer) if not v.trainable]
    for sub in sublayers(layer):
        out += sub.non_trainable_weights
    return _unique(out)


def mark_built(layer, input_shape):
    """``Layer.build`` of a Python layer (``super().build(input_shape)``): it is built, for that input shape."""
    shape = tuple(input_shape) if input_shape is not None else None
    if shape and (shape[0] is None or isinstance(shape[0], int)):  # one input (a list of shapes: several)
        shape = (None, *shape[1:])
    layer._input_shape = shape
    layer.built = True


def call(layer, inputs, training, kwargs):
    if _symbolic.is_symbolic(inputs):  # a functional model's graph: its fit then runs in Python
        if kwargs:
            raise TypeError(f"layer {layer.name!r}: keyword arguments of a call on keras.Input are not supported")
        return _symbolic.connect(layer, inputs)
    return _tf().call_layer(layer, inputs, training, **kwargs)


def output_shape(layer, input_shape):
    """The output shape of Python layer ``layer`` for ``input_shape`` (batch axis None); builds it if need be."""
    from bnlab.keras.layers.base import Layer

    shape = (None, *tuple(input_shape)[1:])
    if type(layer).compute_output_shape is not Layer.compute_output_shape:  # the class's own rule
        if not layer.built:
            layer.build(shape)
            mark_built(layer, shape)
        out = tuple(layer.compute_output_shape(shape))
    else:
        out = _tf().probe_output_shape(layer, shape)
    layer._input_shape, layer._output_shape = shape, (None, *out[1:])
    return layer._output_shape


class PythonChain:
    """What a Sequential model holding Python layers keeps where the others keep their engine model: there is
    none (its fit, evaluate and predict run in Python), so any other use of the engine model fails clearly."""

    device = _core.Device.CPU

    def __init__(self, model):
        self._model_name = model.name
        self._python = [layer.name for layer in model._layers if layer._is_python_layer]

    def __getattr__(self, name):
        raise NotImplementedError(
            f"model {self._model_name!r} holds layers written in Python ({', '.join(self._python)}), which bnlab's "
            f"engine cannot run; this operation (engine model .{name}) is not supported for such models yet"
        )


def build_chain(model, shape):
    """``Sequential.build`` for a model holding Python layers: each layer is built for the output of the one
    before (a Python layer's output shape from ``output_shape``), and ``PythonChain`` stands for the engine."""
    current = shape
    for layer in model._layers:
        known = getattr(layer, "_input_shape", None)
        if layer.built and known is not None and tuple(known[1:]) != tuple(current[1:]):
            raise ValueError(f"layer {layer.name!r} was built for input {known}, but here it receives {current}")
        if layer._is_python_layer:
            current = output_shape(layer, current)
        else:
            if not layer.built:
                layer.build(current)
            current = layer._output_shape
    model._input_shape = shape
    model._engine = PythonChain(model)
