"""Layers to and from Keras 3's serialized form, the entries of a Sequential config in a .keras file.

    {"module": "keras.layers", "class_name": "Dense", "config": {...get_config()...},
     "registered_name": null, "build_config": {"input_shape": [null, 784]}}

The class is found by name in LAYER_CLASSES (layers/base.py), which every Layer subclass joins when it is
defined, so a new layer needs no change here: its ``get_config()`` must return its ``__init__`` arguments
(JSON values) and its ``_variables()`` its weights in Keras's order. Loading never runs code from the file:
only registered classes are built, from plain JSON values.
"""

from bnlab.keras.layers.base import LAYER_CLASSES, Layer, registered_name, snake_case
from bnlab.keras.layers.core import InputLayer


def serialize(layer):
    """The Keras 3 entry of a layer (or an InputLayer)."""
    cls = type(layer)
    config = layer.get_config()
    config.pop("batch_input_shape", None)  # Keras 3 keeps the input shape in an InputLayer entry instead
    name = registered_name(cls) if isinstance(layer, Layer) else cls.__name__
    entry = {
        "module": "keras.layers",
        "class_name": cls.__name__,
        "config": config,
        "registered_name": None if name == cls.__name__ else name,
    }
    if isinstance(layer, Layer) and layer.built:
        entry["build_config"] = {"input_shape": list(layer._input_shape)}
    return entry


def deserialize(entry, where="config"):
    """A layer (unbuilt) from its Keras 3 entry; ``where`` names the file or object in errors."""
    if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str):
        raise ValueError(f"{where}: a layer entry must be a dict with a 'class_name', got {entry!r:.200}")
    name = entry.get("registered_name") or entry["class_name"]
    if name == "InputLayer":
        return InputLayer.from_config(entry.get("config", {}))
    cls = LAYER_CLASSES.get(name)
    if cls is None:
        known = ", ".join(sorted(n for n in LAYER_CLASSES if ">" not in n))
        raise ValueError(f"{where}: unknown layer class {name!r}; bnlab's layers are InputLayer, {known}")
    config = entry.get("config", {})
    try:
        return cls.from_config(config)
    except (TypeError, ValueError) as e:  # a bad argument value: name the file and the layer
        layer = config.get("name", "?") if isinstance(config, dict) else "?"
        raise ValueError(f"{where}: cannot build layer {layer!r} ({name}) from its config: {e}") from None


snake_name = snake_case  # Keras's naming.to_snake_case: BatchNormalization -> batch_normalization, Conv2D -> conv2d
