"""``keras.Model``: the base class of every model, and the model one writes by subclassing it.

``keras.Model(inputs, outputs)`` makes a functional model (bnlab/keras/functional.py) and ``keras.Sequential`` a
stack of layers (bnlab/keras/models.py); both derive from ``Model``. A subclass written as in TensorFlow's
tutorials::

    class MyModel(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.conv1 = Conv2D(32, 3, activation="relu")
            self.flatten = Flatten()
            self.d1 = Dense(128, activation="relu")
            self.d2 = Dense(10)

        def call(self, x, training=None):
            return self.d2(self.d1(self.flatten(self.conv1(x))))

is a model run in Python, as a layer written in Python is (bnlab/keras/layers/custom.py): calling it runs its
``call`` on the TF core's tensors (bnlab/tf/_python_layers.py), each engine layer taped by the GradientTape, so a
custom training loop differentiates it; ``compile``/``fit``/``evaluate``/``predict`` run the Python loop of
bnlab/tf/_keras_fit.py. Keras 3's contract kept:

* ``model.layers``: the layers (and models) held as attributes, alone or in lists, tuples and dicts, in the order
  they were assigned; ``weights``: the model's own ``add_weight`` variables, then each layer's weights in that
  order (each layer's trainable before its non-trainable ones); ``trainable_variables`` the trainable ones of
  that list, ``non_trainable_variables`` the others;
* ``training``: passed to ``call`` when it takes it; a layer called inside with ``training=None`` gets the
  model call's value (so ``self.bn(x)`` trains its BatchNormalization when the model does); a call without it
  is an inference call (``training=None``: BN uses its moving statistics);
* the model is built by its first call (a ``build(input_shape)`` of the subclass runs first, as in Keras), by
  ``model.build(input_shape)`` (one inference call on zeros), or by ``fit``/``evaluate``/``predict`` from the
  data's shape; ``summary()`` lists the tracked layers with the output shapes of the first call (batch axis
  included, as Keras prints them) and "?" / "0 (unbuilt)" for layers not called yet.

Not supported for subclassed models: saving (``save``, ``get_config``), and calling one on ``keras.Input``.
"""

import functools

import numpy as np

from bnlab.keras import _symbolic
from bnlab.keras.layers import custom
from bnlab.keras.layers.base import snake_case, unique_name
from bnlab.keras.training import Trainer


def _is_functional_call(args, kwargs):
    return "outputs" in kwargs or (len(args) >= 2 and _symbolic.is_symbolic(args[0]))


def _marking_build(build):
    """A subclass's ``build`` that leaves the model built, as Keras's build wrapper does."""

    @functools.wraps(build)
    def wrapper(self, input_shape=None, *args, **kwargs):
        result = build(self, input_shape, *args, **kwargs)
        self._mark_built(input_shape)
        return result

    wrapper._marks_built = True
    return wrapper


class Model(custom.PythonLayerMethods, Trainer):
    """A model: subclass it with ``__init__`` (layers as attributes) and ``call(inputs, training=None)``; or
    ``keras.Model(inputs, outputs)`` for a functional model. See the module docstring."""

    _subclassed_api = True  # False for Sequential (and so Functional): their methods are their own

    def __new__(cls, *args, **kwargs):
        if cls is Model and _is_functional_call(args, kwargs):
            from bnlab.keras.functional import Functional

            return Functional(*args, **kwargs)
        return super().__new__(cls)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("build")
        subclassed = cls.__dict__.get("_subclassed_api", cls._subclassed_api)
        if subclassed and own is not None and not getattr(own, "_marks_built", False):
            cls.build = _marking_build(own)

    def __init__(self, *args, name=None, trainable=True, dtype=None, **kwargs):
        if args or "inputs" in kwargs or "outputs" in kwargs:
            raise NotImplementedError(
                "bnlab.keras: a subclass of keras.Model that passes inputs and outputs to Model.__init__ (a "
                "functional subclass) is not supported; build the graph and call keras.Model(inputs, outputs)"
            )
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}")
        if dtype not in (None, "float32", np.float32):
            raise ValueError(f"dtype: bnlab models compute in float32, got {dtype!r}")
        Trainer.__init__(self)
        self.name = name or unique_name(snake_case(type(self).__name__))
        self.trainable = bool(trainable)
        self.built = False
        self._input_shape = None
        self._output_shape = None
        self._build_batch = None

    # ---- calling ----
    def call(self, inputs, training=None):
        raise NotImplementedError(
            f"Model {type(self).__name__} does not have a `call()` method implemented: a subclass of keras.Model "
            "defines call(self, inputs, training=None)"
        )

    def __call__(self, inputs, training=None, **kwargs):
        """Run ``call`` on ``inputs`` (as tf.Tensors) and return its output as ``call`` gives it."""
        if _symbolic.is_symbolic(inputs):
            raise NotImplementedError(
                f"model {self.name!r} is a subclassed model: bnlab does not call one on keras.Input (a functional "
                "graph); call it on data"
            )
        return custom._tf().call_model(self, inputs, training, kwargs)

    def _runs_in_python(self):
        return True

    def _mark_built(self, input_shape):
        self.built = True
        if input_shape is not None and self._input_shape is None:
            shape = tuple(input_shape)
            if shape and not isinstance(shape[0], (list, tuple)):  # one input
                self._input_shape = (None, *shape[1:])

    def build(self, input_shape=None):
        """Build the model for ``input_shape`` (batch axis included): one inference call on zeros, which builds
        every layer ``call`` reaches. A subclass's own ``build`` runs instead, on the first call."""
        if type(self).build is not Model.build:  # super().build(input_shape) from a subclass's build
            return self._mark_built(input_shape)
        if input_shape is None:
            raise ValueError(f"model {self.name!r}: build needs an input_shape, e.g. (None, 28, 28, 1)")
        if self._output_shape is None:
            self._probe(tuple(input_shape))

    def _probe(self, shape):
        """One inference call on a sample of zeros: builds the layers and records the output shape."""
        self(np.zeros((1, *shape[1:]), np.float32), training=False)
        self._build_batch = shape[0]

    def _ensure_built(self, x_shape):
        if self._output_shape is None:
            self._probe((None, *tuple(x_shape)[1:]))

    def _first_call(self, x_shape, out_shape):
        """Record what the first call saw (done by bnlab/tf/_python_layers.py after ``call`` returns)."""
        self._mark_built(x_shape)
        if self._output_shape is None:
            self._output_shape = (None, *tuple(out_shape)[1:])
            self._build_batch = x_shape[0]

    @property
    def input_shape(self):
        return self._input_shape

    @property
    def output_shape(self):
        return self._output_shape

    # ---- layers and weights ----
    @property
    def layers(self):
        """The layers and models held as attributes, in the order they were assigned (Keras's tracking)."""
        return custom.sublayers(self)

    @property
    def weights(self):
        return custom.weights(self)

    @property
    def trainable_weights(self):
        return custom.trainable_weights(self)

    @property
    def non_trainable_weights(self):
        return custom.non_trainable_weights(self)

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights
    variables = weights

    def get_weights(self):
        from bnlab.keras.layers.base import copy_values

        return copy_values(self.weights)

    def set_weights(self, weights):
        from bnlab.keras.layers.base import assign_values

        assign_values(self.weights, weights, f"model {self.name!r}")

    def count_params(self):
        return int(sum(int(np.prod(v.shape)) for v in self.weights))

    def get_layer(self, name=None, index=None):
        layers = self.layers
        if index is not None:
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"no layer named {name!r}; layers: {[layer.name for layer in layers]}")

    def summary(self, print_fn=None):
        """Keras's table of the tracked layers: each one's output shape on the model's first call (or "?") and
        its parameter count (or "0 (unbuilt)"), then the totals."""
        rows = []
        for layer in self.layers:
            out = getattr(layer, "_output_shape", None)
            shape = "?" if out is None or not layer.built else str((self._build_batch, *tuple(out)[1:]))
            params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
            rows.append((f"{layer.name} ({type(layer).__name__})", shape, params))
        train = int(sum(int(np.prod(v.shape)) for v in self.trainable_weights))
        print_table(self.name, rows, self.count_params(), train, print_fn)

    # ---- saving: not for subclassed models ----
    def _no_saving(self, *args, **kwargs):
        raise NotImplementedError(
            f"model {self.name!r} is a subclassed model: bnlab saves Sequential and functional models only"
        )

    get_config = to_json = save = save_weights = load_weights = _no_saving

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def size_text(n_params):
    """Keras's size of ``n_params`` float32 parameters: "5.23 KB"."""
    b = n_params * 4
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if b >= scale:
            return f"{b / scale:.2f} {unit}"
    return f"{b:.2f} B"


def print_table(name, rows, total=None, trainable=None, print_fn=None):
    """Keras's summary table of (layer, output shape, parameters) rows; the totals when ``total`` is known."""
    w = [max(33, *(len(r[0]) + 2 for r in rows)) if rows else 33, 24, 15]

    def line(left, mid, right, fill):
        return left + mid.join(fill * n for n in w) + right

    out = [f'Model: "{name}"', line("┏", "┳", "┓", "━")]
    out.append(
        "┃" + " Layer (type)".ljust(w[0]) + "┃" + " Output Shape".ljust(w[1]) + "┃" + "Param # ".rjust(w[2]) + "┃"
    )
    out.append(line("┡", "╇", "┩", "━"))
    for i, (layer, shape, params) in enumerate(rows):
        out.append(
            "│" + (" " + layer).ljust(w[0]) + "│" + (" " + shape).ljust(w[1]) + "│" + (params + " ").rjust(w[2]) + "│"
        )
        if i < len(rows) - 1:
            out.append(line("├", "┼", "┤", "─"))
    out.append(line("└", "┴", "┘", "─"))
    if total is not None:
        out += [
            f" Total params: {total:,} ({size_text(total)})",
            f" Trainable params: {trainable:,} ({size_text(trainable)})",
            f" Non-trainable params: {total - trainable:,} ({size_text(total - trainable)})",
        ]
    (print_fn or print)("\n".join(out))
