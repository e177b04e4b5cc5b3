"""config.json of a .keras archive: the model, its layers and its compile arguments in Keras 3's JSON form.

    {"module": "keras", "class_name": "Sequential", "registered_name": null,
     "config": {"name": ..., "layers": [InputLayer entry, layer entries...], "build_input_shape": [null, ...]},
     "build_config": {"input_shape": [null, ...]},
     "compile_config": {"optimizer": {"module": "keras.optimizers", "class_name": "Adam", "config": {...}},
                        "loss": {...}, "metrics": ["accuracy"], ...}}

Everything here is JSON in and JSON out: a config names classes from fixed tables (layers, optimizers,
losses, and MODEL_CLASSES, which bnlab.keras.models fills) and gives them plain values, so reading a file
never runs code from it.
"""

from bnlab.keras import losses, optimizers
from bnlab.keras.config_args import init_kwargs
from bnlab.keras.layers.serialization import snake_name

_OPTIMIZERS = {"SGD": optimizers.SGD, "Adam": optimizers.Adam, "RMSprop": optimizers.RMSprop}
_LOSSES = {
    "CategoricalCrossentropy": losses.CategoricalCrossentropy,
    "SparseCategoricalCrossentropy": losses.SparseCategoricalCrossentropy,
    "MeanSquaredError": losses.MeanSquaredError,
}
# The model classes a config.json may name, by class name: bnlab.keras.models registers Sequential when it
# is defined (saving sits below the models that use it, as layers/base.py's LAYER_CLASSES does for layers).
MODEL_CLASSES = {}


def _entry(module, obj):
    return {"module": module, "class_name": type(obj).__name__, "config": obj.get_config(), "registered_name": None}


def serialize_model(model, include_compile=True):
    """The whole config.json object of a Sequential or functional model."""
    module, class_name, registered = getattr(model, "_saved_as", ("keras", "Sequential", None))
    out = {"module": module, "class_name": class_name, "config": model.get_config(), "registered_name": registered}
    if model.built:
        out["build_config"] = {"input_shape": list(model.input_shape)}
    if include_compile and getattr(model, "_compiled", False):
        out["compile_config"] = {
            "optimizer": _entry("keras.optimizers", model.optimizer),
            "loss": _entry("keras.losses", model.loss) | {"config": _loss_config(model.loss)},
            "loss_weights": None,
            "metrics": [model._metric_name] if model._metric_name else None,
            "weighted_metrics": None,
            "run_eagerly": False,
            "steps_per_execution": 1,
            "jit_compile": False,
        }
    return out


def _loss_config(loss):
    config = {"name": loss.name, "reduction": "sum_over_batch_size"}
    return config if isinstance(loss, losses.MeanSquaredError) else config | {"from_logits": loss.from_logits}


def deserialize_model(config, where, compile=True):
    """A built (and, with ``compile``, compiled) Sequential model from a config.json object."""
    if config.get("class_name") not in MODEL_CLASSES:
        raise ValueError(
            f"{where}: bnlab loads Sequential and functional models; this file holds a "
            f"{config.get('class_name')!r} (subclassed models are not supported)"
        )
    model = MODEL_CLASSES[config["class_name"]].from_config(config.get("config"), where=where)
    build = (config.get("build_config") or {}).get("input_shape")
    if build and not model.built:
        model.build(tuple(build))
    compile_config = config.get("compile_config")
    if compile and compile_config:
        model.compile(
            optimizer=_optimizer(compile_config.get("optimizer"), where),
            loss=_loss(compile_config.get("loss"), where),
            metrics=_metrics(compile_config.get("metrics"), where),
        )
    return model


def _class_of(entry, table, kind, where):
    if not isinstance(entry, dict) or entry.get("class_name") not in table:
        name = entry.get("class_name") if isinstance(entry, dict) else entry
        raise ValueError(f"{where}: unsupported {kind} {name!r}; bnlab supports {', '.join(table)}")
    return table[entry["class_name"]]


def _optimizer(entry, where):
    if isinstance(entry, str):
        return optimizers.get(entry)
    return _class_of(entry, _OPTIMIZERS, "optimizer", where).from_config(entry.get("config", {}))


def _loss(entry, where):
    if isinstance(entry, str):
        return losses.get(entry)
    cls = _class_of(entry, _LOSSES, "loss", where)
    return cls(**init_kwargs(cls, entry.get("config", {}), f"{where}: loss {cls.__name__}", {"axis": -1}))


def _metrics(metrics, where):
    if metrics is None:
        return None
    if not isinstance(metrics, list):
        raise ValueError(f"{where}: compile_config metrics must be a list, got {metrics!r:.100}")
    names = []
    for m in metrics:
        if isinstance(m, dict):  # a metric object, e.g. {"class_name": "SparseCategoricalAccuracy", ...}
            m = snake_name(str(m.get("class_name")))
        names.append(m)
    return names
