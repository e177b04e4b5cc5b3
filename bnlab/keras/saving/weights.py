"""The weights of a model in Keras 3's HDF5 layout (model.weights.h5 in a .keras archive, or a .weights.h5 file).

    vars                          the model's own (none; attribute name=<model name>)
    layers/<key>/vars/0, 1, ...   each layer's variables in Keras's order, e.g. Dense: kernel, bias;
                                  BatchNormalization: gamma, beta, moving_mean, moving_variance
    optimizer/vars/0, 1, ...      iteration, learning_rate, the slots (optimizer_state.py)

<key> is the layer's class name in snake_case, numbered by position: dense, dense_1, batch_normalization, ...
(Keras does not use the layer's name, which differs between two instances of one architecture; the name is
kept as the group's ``name`` attribute). Loading checks every count and shape before it changes anything,
so a file that does not fit leaves the model as it was.
"""

import h5py
import numpy as np

from bnlab.keras.layers.serialization import snake_name
from bnlab.keras.saving import optimizer_state


def layer_keys(layers):
    """The group name of each layer: the first Dense is 'dense', the next 'dense_1', ..."""
    counts, keys = {}, []
    for layer in layers:
        base = snake_name(type(layer).__name__)
        n = counts.get(base, -1) + 1
        counts[base] = n
        keys.append(base if n == 0 else f"{base}_{n}")
    return keys


def _trainable_params(model):
    return [v._tensor for v in model.trainable_weights]


def write(h5, model, include_optimizer=True):
    """Fill an HDF5 file opened for writing with the model's (and its optimizer's) variables."""
    h5.create_group("vars").attrs["name"] = model.name
    for key, layer in zip(layer_keys(model.layers), model.layers, strict=True):
        group = h5.create_group(f"layers/{key}").create_group("vars")
        group.attrs["name"] = layer.name
        for i, (_, tensor, _) in enumerate(layer._variables()):
            group.create_dataset(str(i), data=np.asarray(tensor.numpy(), dtype=np.float32))
    if include_optimizer and model.optimizer is not None:
        group = h5.create_group("optimizer").create_group("vars")
        group.attrs["name"] = model.optimizer.name
        for i, value in enumerate(optimizer_state.keras_variables(model.optimizer, _trainable_params(model))):
            group.create_dataset(str(i), data=value)


def _group_datasets(h5, path, where):
    """The datasets 0, 1, ... of ``path``/vars (none when the group is absent), not yet read: shapes are
    checked before any data is, so a file cannot make the loader read a huge array it will refuse."""
    node = h5.get(f"{path}/vars") if path in h5 else None
    if node is None:
        return []
    if not isinstance(node, h5py.Group):
        raise ValueError(f"{where}: {path}/vars is not an HDF5 group")
    names = sorted(node.keys(), key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k))
    if names != [str(i) for i in range(len(names))]:
        raise ValueError(f"{where}: {path}/vars must hold datasets named 0, 1, ...; found {names}")
    datasets = [node[name] for name in names]
    for name, ds in zip(names, datasets, strict=True):
        if not isinstance(ds, h5py.Dataset) or not np.issubdtype(ds.dtype, np.number):
            raise ValueError(f"{where}: {path}/vars/{name} is not a numeric dataset")
    return datasets


def read(h5, model, where, include_optimizer=True):
    """Load the variables of an HDF5 file into a built model; ``where`` names the file in errors."""
    keys = layer_keys(model.layers)
    in_file = set(h5["layers"].keys()) if isinstance(h5.get("layers"), h5py.Group) else set()
    extra = sorted(in_file - set(keys))
    if extra:
        raise ValueError(f"{where}: the file holds layers the model lacks: {extra} (the model has {keys})")
    assignments = []
    for key, layer in zip(keys, model.layers, strict=True):
        variables = layer._variables()
        values = _group_datasets(h5, f"layers/{key}", where)
        if len(values) != len(variables):
            raise ValueError(
                f"{where}: layer {layer.name!r} ({type(layer).__name__}) expects {len(variables)} variables "
                f"{[n for n, _, _ in variables]}, but layers/{key} in the file holds {len(values)}"
            )
        for (name, tensor, _), value in zip(variables, values, strict=True):
            if tuple(value.shape) != tuple(tensor.shape):
                raise ValueError(
                    f"{where}: weight {layer.name}/{name} has shape {tuple(tensor.shape)} in the model but "
                    f"{tuple(value.shape)} in the file (layers/{key})"
                )
            assignments.append((tensor, value))
    optimizer_datasets = []
    if include_optimizer and model.optimizer is not None:
        optimizer_datasets = _group_datasets(h5, "optimizer", where)  # none: the file was saved without one
        if optimizer_datasets:
            optimizer_state.check(model.optimizer, _trainable_params(model), optimizer_datasets, where)
    try:  # read everything before assigning anything: a damaged dataset leaves the model as it was
        arrays = [np.ascontiguousarray(ds[()], dtype=np.float32) for _, ds in assignments]
        optimizer_values = [np.asarray(ds[()]) for ds in optimizer_datasets]
    except OSError as e:
        raise ValueError(f"{where}: cannot read the weights ({e})") from None
    for (tensor, _), array in zip(assignments, arrays, strict=True):
        tensor.copy_from(array)
    if optimizer_values:
        optimizer_state.restore(model.optimizer, _trainable_params(model), optimizer_values)
