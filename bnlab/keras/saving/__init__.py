"""bnlab.keras.saving: .keras model files and .weights.h5 weight files, in Keras 3's formats.

A ``.keras`` file is a zip archive of config.json (model_config.py), metadata.json and model.weights.h5
(weights.py, optimizer_state.py); files.py writes it atomically and reads it without running code from it.
Files written here load in Keras 3 and Keras 3's load here, for the layers both have (docs/SAVING.md).
"""

import datetime
import json
import os

from bnlab._files import write_atomic
from bnlab.keras.saving import files, weights
from bnlab.keras.saving.model_config import deserialize_model, serialize_model

KERAS_VERSION = "3.15.1"  # the Keras whose format these files follow (metadata.json's keras_version)


def _path(filepath, argname="filepath"):
    try:
        return os.fspath(filepath)
    except TypeError:
        raise TypeError(f"{argname} must be a path (str or os.PathLike), got {type(filepath).__name__}") from None


def _no_custom_objects(custom_objects):
    if custom_objects:
        raise ValueError("custom_objects: bnlab finds layer classes by name (LAYER_CLASSES); pass none")


def _require_built(model, message, path=None, overwrite=True):
    """Build ``model`` if its input shape is known, else raise ``message`` (``{}``: the model's name); with
    ``path``, first check that the file may be written."""
    if path is not None:
        files.check_writable(path, overwrite)
    model._build_if_possible()
    if not model.built:
        raise ValueError(message.format(repr(model.name)))


def save_model(model, filepath, overwrite=True, zipped=None, include_optimizer=True, **kwargs):
    """Write ``model`` to a ``.keras`` archive: architecture, weights, compile arguments, optimizer state."""
    if kwargs:
        raise TypeError(f"save_model() got unexpected keyword arguments {sorted(kwargs)}")
    path = _path(filepath)
    if zipped is False:
        raise ValueError("zipped=False (an unzipped folder) is not supported by bnlab; save to a .keras file")
    if path.endswith(".h5"):
        raise ValueError(f"the legacy Keras 2 .h5 model format is not supported: save to a .keras file ({path})")
    if not path.endswith(".keras"):
        raise ValueError(f"Invalid filepath extension for saving: add a `.keras` extension. Received: filepath={path}")
    _require_built(
        model, "cannot save model {}: it is not built (give the first layer input_shape=...)", path, overwrite
    )
    metadata = {"keras_version": KERAS_VERSION, "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
    members = {
        files.METADATA: json.dumps(metadata).encode(),
        files.CONFIG: json.dumps(serialize_model(model)).encode(),
        files.WEIGHTS: files.h5_bytes(lambda h5: weights.write(h5, model, include_optimizer)),
    }
    write_atomic(path, files.zip_bytes_writer(members))


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """The model of a ``.keras`` archive, built, with its weights and (``compile=True``) optimizer state."""
    _no_custom_objects(custom_objects)
    if not safe_mode:
        raise ValueError("safe_mode=False would allow code in the file (lambdas); bnlab always loads safely")
    path = _path(filepath)
    config, metadata, weights_bytes = files.read_archive(path)
    if "keras_version" not in metadata:
        raise ValueError(f"{path}: metadata.json has no keras_version; this is not a Keras 3 .keras file")
    model = deserialize_model(config, path, compile=compile)
    if not model.built:
        raise ValueError(f"{path}: the config gives no input shape (no build_input_shape or InputLayer)")
    with files.open_h5(weights_bytes, f"{path} ({files.WEIGHTS})") as h5:
        weights.read(h5, model, path, include_optimizer=compile)
    return model


def save_weights(model, filepath, overwrite=True):
    """Write the weights (and optimizer state) to a ``.weights.h5`` file in Keras 3's layout."""
    path = _path(filepath)
    if not path.endswith(".weights.h5"):
        raise ValueError(f"The filename must end in `.weights.h5`. Received: filepath={path}")
    _require_built(model, "cannot save the weights of model {}: it is not built yet", path, overwrite)
    data = files.h5_bytes(lambda h5: weights.write(h5, model))
    write_atomic(path, data)


def load_weights(model, filepath, skip_mismatch=False):
    """Load a ``.weights.h5`` file (or the weights of a ``.keras`` archive) into a built model."""
    if skip_mismatch:
        raise ValueError("skip_mismatch=True is not supported by bnlab: a file must fit the model")
    path = _path(filepath)
    _require_built(model, "model {} is not built: build it (or give input_shape=) before load_weights")
    if path.endswith(".keras"):
        source, where = files.read_archive(path)[2], f"{path} ({files.WEIGHTS})"
    elif path.endswith(".weights.h5"):
        source, where = path, path
    else:
        raise ValueError(f"load_weights reads `.weights.h5` or `.keras` files. Received: filepath={path}")
    with files.open_h5(source, where) as h5:
        weights.read(h5, model, path)


def model_from_json(json_string, custom_objects=None):
    """The model ``model.to_json()`` describes, built and (if the JSON has compile arguments) compiled."""
    _no_custom_objects(custom_objects)
    try:
        config = json.loads(json_string)
    except (TypeError, json.JSONDecodeError) as e:
        raise ValueError(f"model_from_json: not a JSON model config ({e})") from None
    if not isinstance(config, dict):
        raise ValueError("model_from_json: the JSON must be an object")
    return deserialize_model(config, "model_from_json")


__all__ = ["load_model", "load_weights", "model_from_json", "save_model", "save_weights"]
