"""The Layer and Variable classes of bnlab.keras: Keras's layer contract over engine layers.

``__init__`` stores the configuration; ``build(input_shape)`` creates the engine layer and its weights
(trainable or not); calling a layer runs the engine's forward. A layer's weights are Variables whose
``numpy()`` is a zero-copy view of the engine's memory on the CPU (Keras returns a copy), so writing into it
changes the model. On a GPU it returns a copy, and ``assign`` writes back.
"""

import re

import numpy as np

from bnlab import _core, config
from bnlab.keras import _eager, _symbolic
from bnlab.keras.config_args import init_kwargs
from bnlab.keras.layers import custom

_name_counts: dict[str, int] = {}


def unique_name(base):
    """Keras's automatic names: dense, dense_1, dense_2, ..."""
    n = _name_counts.get(base, 0)
    _name_counts[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def reset_names():
    _name_counts.clear()


def snake_case(name):
    """Keras's naming.to_snake_case: BatchNormalization -> batch_normalization, Conv2D -> conv2d, MyModel ->
    my_model."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


class Variable:
    """A weight of a layer, backed by an engine tensor."""

    def __init__(self, tensor, name, trainable, path):
        self._tensor = tensor
        self.name = name
        self.trainable = trainable
        self.path = path

    @property
    def shape(self):
        return tuple(self._tensor.shape)

    @property
    def dtype(self):
        return "float32"

    def numpy(self):
        """The values: a view sharing the engine's memory on the CPU, a copy on a GPU."""
        return self._tensor.numpy()

    def value(self):
        return self.numpy()

    def assign(self, value):
        arr = np.asarray(value, dtype=np.float32)
        if arr.shape != self.shape:
            raise ValueError(
                f"cannot assign a value of shape {arr.shape} to variable {self.path!r} of shape {self.shape}"
            )
        self._tensor.copy_from(np.ascontiguousarray(arr))
        return self

    def __array__(self, dtype=None, copy=None):
        out = np.array(self.numpy(), copy=True)
        return out if dtype is None else out.astype(dtype)

    def __repr__(self):
        return f"<Variable path={self.path}, shape={self.shape}, dtype=float32, value={self.numpy()!r}>"


# Every Layer subclass, by the name a saved config calls it (see serialization.py). A class of bnlab joins
# under its class name ("Dense"), any other under "module>QualName", as Keras's registered_name does.
LAYER_CLASSES: dict[str, type] = {}


def registered_name(cls):
    return cls.__name__ if cls.__module__.startswith("bnlab.") else f"{cls.__module__}>{cls.__qualname__}"


class Layer(custom.PythonLayerMethods):
    """Base class of every bnlab.keras layer.

    Any layer accepts ``input_shape=`` (per sample, without the batch axis) when it comes first in a
    Sequential model, as Keras does. Subclasses join saving automatically: ``get_config()`` returns the
    ``__init__`` arguments, ``_variables()`` lists the weights in Keras's order. A subclass that defines
    ``call`` instead of an engine layer is a layer written in Python (``add_weight``, ``build``, ``call``:
    bnlab/keras/layers/custom.py).
    """

    _is_python_layer = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        LAYER_CLASSES[registered_name(cls)] = cls
        cls._is_python_layer = custom.is_python_layer_class(cls, Layer)

    def __init__(self, *, name=None, trainable=True, dtype=None, input_shape=None, input_dim=None, **kwargs):
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}")
        if dtype not in (None, "float32", np.float32):
            raise ValueError(f"dtype: bnlab layers compute in float32, got {dtype!r}")
        self.name = name or unique_name(snake_case(type(self).__name__))
        self._trainable = bool(trainable)
        if input_dim is not None:
            input_shape = (input_dim,)
        self._batch_input_shape = None if input_shape is None else (None, *_as_shape(input_shape, "input_shape"))
        self._engine = None
        self._output_shape = None
        self.built = False

    # ---- the contract subclasses implement ----
    def _create_engine(self):
        raise NotImplementedError

    def _initialize(self):
        """Write initial values into the freshly built engine weights."""

    def _variables(self):
        """[(name, engine tensor, trainable)] in Keras's get_weights order."""
        return []

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable, "dtype": "float32"}
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = self._batch_input_shape
        return config

    @classmethod
    def from_config(cls, config):
        """The layer a config describes: bnlab's own, or Keras 3's (whose options bnlab lacks must be off)."""
        config = dict(config)
        owner = f"{cls.__name__} {config.get('name', '')!r}"
        check_float32(config.pop("dtype", None), owner)
        batch_shape = config.pop("batch_input_shape", None)
        if batch_shape is not None:
            config["input_shape"] = tuple(batch_shape[1:])
        return cls(**init_kwargs(cls, config, owner))

    # ---- building ----
    def build(self, input_shape):
        """Create the weights for ``input_shape`` (with or without the leading batch axis None)."""
        if self._is_python_layer:  # super().build(input_shape) in a Python layer's build
            return custom.mark_built(self, input_shape)
        shape = tuple(input_shape)
        if shape and shape[0] is None:
            shape = shape[1:]
        self._engine = self._create_engine()
        self._engine_device = config.engine_device()
        self._engine.trainable = self._trainable
        self._output_shape = (None, *self._engine.build(list(shape), config.engine_device()))
        self._input_shape = (None, *shape)
        self._initialize()
        self.built = True

    def compute_output_shape(self, input_shape):
        if self._is_python_layer:
            return custom.output_shape(self, input_shape)
        if not self.built:
            self.build(input_shape)
        return self._output_shape

    @property
    def output_shape(self):
        if self._output_shape is None:
            raise AttributeError(f"the layer {self.name!r} has not been built yet, so it has no output shape")
        return self._output_shape

    # ---- weights ----
    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        if self._engine is not None:
            self._engine.trainable = self._trainable

    @property
    def weights(self):
        if self._is_python_layer:
            return custom.weights(self)
        return self.trainable_weights + self.non_trainable_weights

    def _var(self, name):
        """The weight called ``name`` (gamma, moving_mean, ...), or None when the layer has none by that name."""
        return next((v for v in self.weights if v.name == name), None)

    def _variable(self, name, tensor, trainable):
        """The layer's Variable object for the weight ``name``: the same object on every access while the weight's
        memory stays the same (as in Keras, ``model.trainable_variables[0] is model.trainable_variables[0]``), so
        that code may key on it (an optimizer's slots, a GradientTape's sources)."""
        cache = self.__dict__.setdefault("_variable_objects", {})
        where = _address(tensor)
        held = cache.get(name)
        if held is None or where is None or held[0] != where:
            held = cache[name] = (where, Variable(tensor, name, trainable, f"{self.name}/{name}"))
        var = held[1]
        var.trainable = trainable
        return var

    @property
    def trainable_weights(self):
        if self._is_python_layer:
            return custom.trainable_weights(self)
        if not self._trainable:
            return []
        return [self._variable(n, t, True) for n, t, tr in self._variables() if tr]

    @property
    def non_trainable_weights(self):
        if self._is_python_layer:
            return custom.non_trainable_weights(self)
        return [self._variable(n, t, False) for n, t, tr in self._variables() if not tr or not self._trainable]

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    @property
    def variables(self):
        return self.weights

    def get_weights(self):
        return copy_values(self.weights)

    def set_weights(self, weights):
        assign_values(self.weights, weights, f"layer {self.name!r}")

    def count_params(self):
        return int(sum(np.prod(v.shape) for v in self.weights))

    # ---- calling a layer on its own ----
    def __call__(self, inputs, training=None, **kwargs):
        """Run the layer on a NumPy batch: training=True uses batch statistics (and updates BN's moving ones).
        A ``tf.Tensor``, or a call while a ``tf.GradientTape`` records, gives a ``tf.Tensor`` and tapes the call
        (bnlab/keras/_eager.py). A ``KerasTensor`` (``keras.Input``) records the call for a functional model.
        A layer written in Python runs its ``call`` on tf.Tensors (other keyword arguments go to it)."""
        if self._is_python_layer:
            return custom.call(self, inputs, training, kwargs)
        if kwargs:
            raise TypeError(f"{type(self).__name__}.__call__ got unexpected keyword arguments {sorted(kwargs)}")
        if _symbolic.is_symbolic(inputs):
            return _symbolic.connect(self, inputs)
        if _eager.takes(inputs):
            return _eager.handler.call_layer(self, inputs, training)
        x = np.ascontiguousarray(inputs, dtype=np.float32)
        if x.ndim < 2:
            raise ValueError(f"inputs: expected a batch with a leading batch axis, got shape {x.shape}")
        if not self.built:
            self.build((None, *x.shape[1:]))
        elif tuple(x.shape[1:]) != tuple(self._input_shape[1:]):
            raise ValueError(
                f"Input of layer {self.name!r} is incompatible: expected shape {self._input_shape}, "
                f"found {(None, *x.shape[1:])}"
            )
        out = self._engine.forward(_core.Tensor.from_numpy(x, self._engine_device), bool(training))
        return np.array(out.numpy(), copy=True)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _address(tensor):
    """Where an engine tensor's memory starts (with its shape), on the CPU; None elsewhere (no stable key)."""
    if tensor.device != _core.Device.CPU:
        return None
    array = tensor.numpy()
    return array.__array_interface__["data"][0], array.shape


def check_float32(dtype, owner):
    """A config's dtype: None, "float32", or Keras 3's DTypePolicy named float32; anything else is refused."""
    name = dtype
    if isinstance(dtype, dict):  # {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}}
        name = dtype.get("config", {}).get("name") if dtype.get("class_name") == "DTypePolicy" else dtype
    if name not in (None, "float32"):
        raise ValueError(f"{owner}: dtype {name!r} is not supported; bnlab layers compute in float32")


def copy_values(variables):
    """NumPy copies of the variables' values (get_weights)."""
    return [np.array(v.numpy(), copy=True) for v in variables]


def assign_values(variables, values, owner):
    """Assign each value to its variable (set_weights); ``owner`` names the layer or model in errors."""
    if len(values) != len(variables):
        raise ValueError(f"set_weights: {owner} expects {len(variables)} weights, got {len(values)}")
    for var, value in zip(variables, values, strict=True):
        var.assign(value)


def _as_shape(shape, argname):
    if isinstance(shape, int):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        raise TypeError(f"{argname} must be a tuple of ints, got {shape!r}") from None
    if not all(isinstance(d, (int, np.integer)) and d > 0 for d in dims):
        raise ValueError(f"{argname} must be a tuple of positive ints, got {shape!r}")
    return tuple(int(d) for d in dims)


class KernelBiasMixin:
    """For a layer with a ``kernel`` and an optional ``bias`` (Dense, Conv2D; listed before ``Layer`` in its
    bases): their initialisation, their place in Keras's weight order, and the last training step's gradients
    ``dkernel``/``dbias`` as engine views. The subclass sets ``kernel_initializer``, ``bias_initializer`` and
    ``use_bias``; its engine layer has ``kernel``, ``bias``, ``dkernel`` and ``dbias`` tensors."""

    def _initialize(self):
        e = self._engine
        e.kernel.copy_from(self.kernel_initializer(e.kernel.shape))
        if self.use_bias:
            e.bias.copy_from(self.bias_initializer(e.bias.shape))

    def _variables(self):
        if self._engine is None:
            return []
        out = [("kernel", self._engine.kernel, True)]
        if self.use_bias:
            out.append(("bias", self._engine.bias, True))
        return out

    @property
    def kernel(self):
        return self.weights[0]

    @property
    def bias(self):
        return self.weights[1] if self.use_bias else None

    @property
    def dkernel(self):
        """d(loss)/d(kernel) of the last training step (a view of the engine's buffer), or None before one."""
        return self._engine.dkernel.numpy() if self._engine is not None else None

    @property
    def dbias(self):
        """d(loss)/d(bias) of the last training step, or None."""
        return self._engine.dbias.numpy() if self._engine is not None and self.use_bias else None
