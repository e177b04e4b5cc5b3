"""The JSON Schema of ``metrics.json`` (schema_version 2) and a small validator for it.

``SCHEMA`` is standard JSON Schema (draft 2020-12) and is written next to every ``metrics.json`` as
``metrics.schema.json``, so any validator can check the files. ``validate(doc)`` checks a document here
without a dependency; it implements the keywords the schema uses: type, properties, required,
additionalProperties, items, enum, minimum, maximum, minItems, const. docs/LAB.md explains each field.

Version 2 (the sweep axes) replaced the run's ``bn`` flag by ``norm`` and added the axes (learning rate,
init scale, dropout), the ``deploy`` block, and summary rows per cell with one model per norm. ``upgrade``
turns a version-1 document into version 2 (its runs were all ``none`` or ``batch``); its summary is
recomputed from the runs when loaded.
"""

from bnlab.lab.config import NORMS, LabError

SCHEMA_VERSION = 2

NUM = {"type": ["number", "null"]}  # null: not measured, or not finite (a diverged run)
POS_INT = {"type": "integer", "minimum": 1}
NAT = {"type": "integer", "minimum": 0}
STR = {"type": "string"}


def _obj(props, required=None, extra=False):
    return {
        "type": "object",
        "properties": props,
        "required": list(required if required is not None else props),
        "additionalProperties": extra,
    }


def _num_map(keys, required=()):
    return _obj(dict.fromkeys(keys, NUM), required=list(required), extra=False)


_PROBE_KEYS = [f"{kind}_{k}" for kind in ("z", "act", "out") for k in ("mean", "std", "p15", "p50", "p85")] + [
    "relu_zero_frac"
]
TRACE_LAYER = _num_map([*_PROBE_KEYS, "grad_norm", "update_ratio"])
EPOCH_LAYER = _num_map(
    [*_PROBE_KEYS, "grad_norm", "update_ratio_step", "update_ratio_epoch", "weight_norm"],
    required=["grad_norm", "update_ratio_step", "update_ratio_epoch", "weight_norm"],
)
BN_KEYS = [
    "moving_mean_mean",
    "moving_mean_std",
    "moving_var_mean",
    "moving_var_min",
    "moving_var_max",
    *[f"{p}_{s}" for p in ("gamma", "beta") for s in ("mean", "std", "min", "max")],
    "gamma_grad_norm",
]
EPOCH_BN = _num_map(BN_KEYS, required=["moving_mean_mean", "moving_var_mean", "gamma_grad_norm"])

SPEC = _obj(
    {
        "dataset": {"enum": ["fashion_mnist", "mnist", "cifar10"]},
        "arch": STR,
        "hidden": {"type": "array", "items": POS_INT, "minItems": 1},
        "bn_position": {"enum": ["before", "after"]},
        "norm": {"enum": list(NORMS)},
        "groups": {"type": ["integer", "null"], "minimum": 1},
        "virtual_batch_size": {"type": ["integer", "null"], "minimum": 1},
        "init_scale": {"type": "number", "minimum": 0},
        "dropout": {"type": "number", "minimum": 0, "maximum": 1},
        "dropout_position": {"enum": ["before", "after", None]},
        "optimizer": {"enum": ["sgd", "adam", "rmsprop"]},
        "learning_rate": {"type": "number", "minimum": 0},
        "epochs": POS_INT,
        "batch_size": POS_INT,
        "seed": NAT,
        "limit": {"type": ["integer", "null"], "minimum": 1},
        "validation_split": {"type": "number"},
        "probe_size": POS_INT,
        "probes_per_epoch": POS_INT,
    }
)

EPOCH = _obj(
    {
        "epoch": POS_INT,
        "loss": NUM,
        "accuracy": NUM,
        "val_loss": NUM,
        "val_accuracy": NUM,
        "epoch_time": {"type": "number", "minimum": 0},
        "probe_time": {"type": "number", "minimum": 0},
        "layers": {"type": "object", "additionalProperties": EPOCH_LAYER},
        "bn": {"type": "object", "additionalProperties": EPOCH_BN},
    }
)

DEPLOY = _obj(
    {
        "samples": NAT,
        "batch_size": POS_INT,
        "train_accuracy": NUM,
        "inference_accuracy": NUM,
        "train_mode_accuracy": NUM,
        "shifted_inference_accuracy": NUM,
        "shifted_train_mode_accuracy": NUM,
        "moving_stats": {"type": "object", "additionalProperties": _num_map(["mean_error", "log_var_error"])},
    }
)

RUN = _obj(
    {
        "run_id": STR,
        "spec": SPEC,
        "batch_size": POS_INT,
        "seed": NAT,
        "norm": {"enum": list(NORMS)},
        "learning_rate": {"type": "number", "minimum": 0},
        "init_scale": {"type": "number", "minimum": 0},
        "dropout": {"type": "number", "minimum": 0},
        "threads": POS_INT,
        "host": STR,
        "pid": NAT,
        "started": STR,
        "finished": STR,
        "wall_time": {"type": "number", "minimum": 0},
        "n_train": POS_INT,
        "n_val": NAT,
        "n_test": NAT,
        "steps_per_epoch": POS_INT,
        "params": POS_INT,
        "layers": {
            "type": "array",
            "items": _obj(
                {
                    "name": STR,
                    "kind": {"enum": ["dense", "conv", "batchnorm", "layernorm", "groupnorm", "output"]},
                    "units": POS_INT,
                }
            ),
        },
        "epochs": {"type": "array", "items": EPOCH, "minItems": 1},
        "trace": {
            "type": "array",
            "minItems": 1,
            "items": _obj(
                {
                    "step": NAT,
                    "epoch": {"type": "number", "minimum": 0},
                    "layers": {"type": "object", "additionalProperties": TRACE_LAYER},
                }
            ),
        },
        "test": _obj({"loss": NUM, "accuracy": NUM}),
        "bn_initial": {"type": "object", "additionalProperties": _num_map(BN_KEYS)},
        "bn_final": {
            "type": "object",
            "additionalProperties": _obj(
                {k: {"type": "array", "items": NUM} for k in ("moving_mean", "moving_variance", "gamma", "beta")}
            ),
        },
        "deploy": DEPLOY,
        "diverged": {"type": "boolean"},
        "warnings": {"type": "array", "items": STR},
    }
)
RUN["required"].remove("deploy")  # absent in runs upgraded from version 1

MODEL_ROW = _obj(
    {
        "val_accuracy_epoch1": NUM,
        "val_accuracy_final": NUM,
        "val_accuracy_final_std": NUM,
        "val_accuracy_final_min": NUM,
        "val_accuracy_final_max": NUM,
        "val_loss_final": NUM,
        "test_accuracy": NUM,
        "epochs_to_target": {"type": ["integer", "null"], "minimum": 1},
        "time_to_target": NUM,
        "epoch_time": NUM,
        "diverged": NAT,
        "seeds": POS_INT,
    }
)

SUMMARY = _obj(
    {
        "target_accuracy": NUM,
        "target_source": {"enum": ["given", "auto"]},
        "rows": {
            "type": "array",
            "items": _obj(
                {
                    "batch_size": POS_INT,
                    "learning_rate": {"type": "number"},
                    "init_scale": {"type": "number"},
                    "dropout": {"type": "number"},
                    "baseline": {"enum": list(NORMS)},
                    "models": {"type": "object", "additionalProperties": MODEL_ROW},
                    "vs_baseline": {
                        "type": "object",
                        "additionalProperties": _obj({"gap_epoch1": NUM, "gap_final": NUM, "time_overhead": NUM}),
                    },
                }
            ),
        },
        "drift": {"type": "object"},
        "conclusions": {"type": "array", "items": STR},
    }
)

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "bnlab compare: metrics of a normalization sweep",
    **_obj(
        {
            "schema": {"const": "bnlab.lab.metrics"},
            "schema_version": {"const": SCHEMA_VERSION},
            "bnlab_version": STR,
            "created": STR,
            "config": {
                "type": "object",
                "required": [
                    "dataset",
                    "arch",
                    "hidden",
                    "bn_position",
                    "norms",
                    "optimizer",
                    "learning_rates",
                    "init_scales",
                    "dropouts",
                    "epochs",
                    "batch_sizes",
                    "seed_list",
                ],
            },
            "execution": _obj({"jobs": POS_INT, "threads": POS_INT, "scheduler": {"type": ["string", "null"]}}),
            "dataset": _obj(
                {
                    "name": STR,
                    "classes": POS_INT,
                    "input_shape": {"type": "array", "items": POS_INT},
                    "n_samples": POS_INT,
                    "n_test": POS_INT,
                }
            ),
            "runs": {"type": "array", "items": RUN},
            "failed": {"type": "array", "items": _obj({"run_id": STR, "error": STR})},
            "summary": SUMMARY,
        }
    ),
}

_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def _is(value, name):
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, _TYPES[name])


def validate(doc, schema=None, path="$"):
    """The list of problems of ``doc`` against ``schema`` (default: SCHEMA), each 'path: what'."""
    schema = SCHEMA if schema is None else schema
    errors = []
    if "const" in schema and doc != schema["const"]:
        return [f"{path}: expected {schema['const']!r}, got {doc!r}"]
    if "enum" in schema and doc not in schema["enum"]:
        return [f"{path}: {doc!r} is not one of {schema['enum']}"]
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is(doc, n) for n in names):
            return [f"{path}: expected {' or '.join(names)}, got {type(doc).__name__}"]
    if _is(doc, "number") and doc is not None:
        if "minimum" in schema and doc < schema["minimum"]:
            errors.append(f"{path}: {doc} is below the minimum {schema['minimum']}")
        if "maximum" in schema and doc > schema["maximum"]:
            errors.append(f"{path}: {doc} is above the maximum {schema['maximum']}")
    if isinstance(doc, dict):
        props = schema.get("properties", {})
        errors += [f"{path}: missing {k!r}" for k in schema.get("required", []) if k not in doc]
        extra = schema.get("additionalProperties", True)
        for k, v in doc.items():
            if k in props:
                errors += validate(v, props[k], f"{path}.{k}")
            elif extra is False:
                errors.append(f"{path}: unexpected key {k!r}")
            elif isinstance(extra, dict):
                errors += validate(v, extra, f"{path}.{k}")
    if isinstance(doc, list):
        if len(doc) < schema.get("minItems", 0):
            errors.append(f"{path}: fewer than {schema['minItems']} items")
        if "items" in schema:
            for i, v in enumerate(doc):
                errors += validate(v, schema["items"], f"{path}[{i}]")
    return errors


def check(doc):
    """Raise ValueError listing the first problems when ``doc`` does not match the schema."""
    errors = validate(doc)
    if errors:
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise ValueError("metrics.json does not match its schema: " + "; ".join(errors[:5]) + more)


def upgrade(doc):
    """A metrics document in the current version: version 2 as it is, version 1 converted (its runs were
    trained without dropout, at scale 1, with ``none`` or ``batch``; the summary is left to be recomputed);
    anything else raises LabError."""
    version = doc.get("schema_version") if isinstance(doc, dict) else None
    if doc.get("schema") != "bnlab.lab.metrics" if isinstance(doc, dict) else True:
        raise LabError("not a bnlab metrics.json (no 'schema': 'bnlab.lab.metrics'): point at a bnlab compare folder")
    if version == SCHEMA_VERSION:
        return doc
    if version != 1:
        raise LabError(
            f"metrics.json has schema version {version!r}, which this bnlab (version {SCHEMA_VERSION}) cannot read: "
            "upgrade bnlab, or run the sweep again into a new --out folder"
        )
    config = dict(doc["config"])
    lr = config.pop("learning_rate")
    config.update(
        norms=["none", "batch"],
        groups=4,
        virtual_batch_size=8,
        init_scales=[1.0],
        dropouts=[0.0],
        dropout_position="before",
        learning_rates=[lr],
    )
    runs = []
    for r in doc["runs"]:
        spec = dict(r["spec"])
        norm = "batch" if spec.pop("bn") else "none"
        spec.update(norm=norm, groups=None, virtual_batch_size=None, init_scale=1.0, dropout=0.0, dropout_position=None)
        run = {k: v for k, v in r.items() if k != "bn"}
        run.update(spec=spec, norm=norm, learning_rate=spec["learning_rate"], init_scale=1.0, dropout=0.0)
        runs.append(run)
    return {**doc, "schema_version": SCHEMA_VERSION, "config": config, "runs": runs, "summary": None}
