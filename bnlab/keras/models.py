"""Sequential models: a list of layers plus the engine model that runs them (see training.py for fit).

Keras's contract: layers are built once the input shape is known (from ``input_shape=`` on the first layer,
an ``Input``, or the first data seen); ``model.layers`` lists the layers (not the Input); weights are listed
layer by layer, each layer's trainable weights before its non-trainable ones (BN: gamma, beta,
moving_mean, moving_variance); ``summary()`` prints Keras's table and parameter counts. ``Sequential`` derives
from ``keras.Model`` (bnlab/keras/subclassed.py), whose methods for subclassed models it replaces with its own.
"""

import json

import numpy as np

from bnlab import _core
from bnlab.keras import saving
from bnlab.keras._symbolic import KerasTensor
from bnlab.keras.layers import custom
from bnlab.keras.layers.base import Layer, assign_values, copy_values, unique_name
from bnlab.keras.layers.core import InputLayer
from bnlab.keras.layers.serialization import deserialize, serialize
from bnlab.keras.saving.model_config import MODEL_CLASSES, serialize_model
from bnlab.keras.subclassed import Model, print_table, size_text
from bnlab.keras.training import Trainer


class Sequential(Model):
    """A linear stack of layers: ``Sequential([Flatten(input_shape=(28, 28)), Dense(10, 'softmax')])``."""

    _subclassed_api = False  # Model's methods for subclassed models are replaced by this class's own
    __call__ = Trainer.__call__
    _runs_in_python = Trainer._runs_in_python

    def __init__(self, layers=None, name=None, trainable=True):
        self.name = name or unique_name("sequential")
        self._layers = []
        self._input_shape = None
        self._engine = None
        self.trainable = trainable
        Trainer.__init__(self)
        for layer in layers or []:
            self.add(layer)
        self._build_if_possible()  # as Keras: built as soon as the input shape is known

    # ---- structure ----
    def add(self, layer):
        if isinstance(layer, KerasTensor) and isinstance(layer._layer, InputLayer):
            layer = layer._layer  # keras.Input(...) as the first entry
        if isinstance(layer, InputLayer):
            if self._layers:
                raise ValueError("an Input must come first in a Sequential model")
            self._input_shape = layer.shape
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a bnlab.keras layer, got {type(layer).__name__}")
        # Adding to a built model rebuilds it lazily; layers already built keep their weights.
        self._engine = None
        if not self._layers and self._input_shape is None and layer._batch_input_shape is not None:
            self._input_shape = layer._batch_input_shape
        self._layers.append(layer)  # built lazily (summary, fit, ...), once every layer is known

    def pop(self):
        if self._engine is not None:
            raise ValueError("cannot pop layers from a model that has already been built")
        return self._layers.pop()

    @property
    def layers(self):
        return list(self._layers)

    @property
    def built(self):
        return self._engine is not None

    def build(self, input_shape=None):
        """Build every layer for ``input_shape`` (with the batch axis, e.g. (None, 28, 28))."""
        if self._engine is not None:
            return
        shape = tuple(input_shape) if input_shape is not None else self._input_shape
        if shape is None:
            raise ValueError(
                "the model's input shape is unknown: give the first layer input_shape=..., "
                "start with Input(shape=...), or call fit/predict with data"
            )
        if not self._layers:
            raise ValueError("the model has no layers")
        if shape[0] is not None and len(shape) > 1:
            shape = (None, *shape[1:])
        if any(layer._is_python_layer for layer in self._layers):  # no engine model: fit runs in Python
            return custom.build_chain(self, shape)
        engine = _core.Sequential()
        current = shape
        for layer in self._layers:
            if not layer.built:
                layer.build(current)
            elif tuple(layer._input_shape) != tuple(current):
                raise ValueError(
                    f"layer {layer.name!r} was built for input {layer._input_shape}, but here it receives {current}"
                )
            engine.add(layer._engine)
            current = layer._output_shape
        engine.build(list(shape[1:]), self._layers[0]._engine_device)  # layers are built; this records shapes
        self._input_shape = shape
        self._engine = engine

    def _ensure_built(self, x_shape):
        """Build from the declared input shape, or else from the first data seen."""
        if self._engine is None:
            self.build(self._input_shape or (None, *x_shape[1:]))

    @property
    def input_shape(self):
        return self._input_shape

    @property
    def output_shape(self):
        return self._layers[-1].output_shape if self.built else None

    # ---- weights ----
    def _build_if_possible(self):
        if self._engine is None and self._input_shape is not None and self._layers:
            self.build()

    @property
    def weights(self):
        self._build_if_possible()
        return [w for layer in self._layers for w in layer.weights]

    @property
    def trainable_weights(self):
        self._build_if_possible()
        return [w for layer in self._layers for w in layer.trainable_weights] if self.trainable else []

    @property
    def non_trainable_weights(self):
        if not self.trainable:
            return self.weights
        return [w for layer in self._layers for w in layer.non_trainable_weights]

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights
    variables = weights

    def get_weights(self):
        return copy_values(self.weights)

    def set_weights(self, weights):
        assign_values(self.weights, weights, f"model {self.name!r}")

    def count_params(self):
        self._build_if_possible()
        if not self.built:
            raise ValueError("count_params: the model is not built yet (its input shape is unknown)")
        return int(sum(layer.count_params() for layer in self._layers))

    def get_layer(self, name=None, index=None):
        if index is not None:
            return self._layers[index]
        for layer in self._layers:
            if layer.name == name:
                return layer
        raise ValueError(f"no layer named {name!r}; layers: {[layer.name for layer in self._layers]}")

    # ---- summary ----
    def summary(self, print_fn=None):
        """Keras's table: each layer's output shape and parameter count, then the totals."""
        self._build_if_possible()
        rows = [
            (
                f"{layer.name} ({type(layer).__name__})",
                str(layer.output_shape) if layer.built else "?",
                f"{layer.count_params():,}" if layer.built else "0 (unbuilt)",
            )
            for layer in self._layers
        ]
        total = train = None
        if self.built:
            total = self.count_params()
            train = int(sum(np.prod(v.shape) for v in self.trainable_weights))
        print_table(self.name, rows, total, train, print_fn)

    # ---- configuration and saving (Keras 3's formats; see bnlab/keras/saving and docs/SAVING.md) ----
    def get_config(self):
        """Keras 3's Sequential config: an InputLayer entry when the input shape is known, then the layers."""
        entries = (
            [] if self._input_shape is None else [serialize(InputLayer(self._input_shape[1:], self._input_shape[0]))]
        )
        config = {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": "float32",
            "layers": entries + [serialize(layer) for layer in self._layers],
        }
        if self.built:
            config["build_input_shape"] = list(self._input_shape)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None, where="config"):
        """A Sequential model (built when the config gives its input shape) from get_config's or Keras 3's form."""
        if custom_objects:
            raise ValueError("custom_objects: bnlab finds layer classes by name; custom objects are not supported")
        if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
            raise ValueError(f"{where}: a Sequential config must be a dict with a 'layers' list")
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for entry in config["layers"]:
            model.add(deserialize(entry, where))
        shape = config.get("build_input_shape")
        if shape:
            model.build(tuple(shape))
        else:
            model._build_if_possible()
        return model

    def to_json(self, **kwargs):
        """The model's architecture as Keras 3's JSON (what config.json of a .keras file holds, less compile)."""
        return json.dumps(serialize_model(self, include_compile=False), **kwargs)

    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        """Save architecture, weights (BN's moving statistics too), compile arguments and optimizer state."""
        saving.save_model(self, filepath, overwrite=overwrite, zipped=zipped, **kwargs)

    def save_weights(self, filepath, overwrite=True):
        """Save the weights (and optimizer state) to a ``.weights.h5`` file in Keras 3's layout."""
        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch=False):
        """Load weights from a ``.weights.h5`` or ``.keras`` file into this (built) model."""
        saving.load_weights(self, filepath, skip_mismatch=skip_mismatch)

    def __repr__(self):
        return f"<Sequential name={self.name}, built={self.built}>"


_size = size_text  # (bnlab/keras/functional.py uses it)
MODEL_CLASSES["Sequential"] = Sequential  # what a .keras file's config.json may name


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """``keras.models.load_model``: a model saved by ``model.save`` (bnlab's or Keras 3's .keras file)."""
    return saving.load_model(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)


def model_from_json(json_string, custom_objects=None):
    """``keras.models.model_from_json``: the (untrained) model ``model.to_json()`` describes."""
    return saving.model_from_json(json_string, custom_objects=custom_objects)
