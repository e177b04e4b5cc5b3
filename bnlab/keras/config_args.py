"""Keyword arguments from a Keras config: what bnlab's classes take, and which Keras 3 options are no-ops.

A Keras 3 config lists every option of a class, also those bnlab does not have (regularizers, constraints,
renorm, EMA, gradient clipping...). ``init_kwargs`` keeps the keys the bnlab class's ``__init__`` accepts
and drops the others only when they hold Keras's "off" value below; any other value raises a ValueError
naming the object and the option, so a config is either reproduced exactly or refused. ``from_identifier``
is the ``get(identifier)`` of optimizers and losses: an instance, or a class by name.
"""

import inspect

_ANY = object()  # the option means nothing while another one is off (renorm_momentum without renorm, ...)

KERAS_OFF_VALUES = {
    # layers
    "kernel_regularizer": None,
    "bias_regularizer": None,
    "activity_regularizer": None,
    "kernel_constraint": None,
    "bias_constraint": None,
    "beta_regularizer": None,
    "gamma_regularizer": None,
    "beta_constraint": None,
    "gamma_constraint": None,
    "quantization_config": None,
    "lora_rank": None,
    "lora_alpha": None,
    "renorm": False,
    "renorm_clipping": None,
    "renorm_momentum": _ANY,
    "sparse": False,
    "ragged": False,
    "optional": False,
    # initializers
    "input_axes": None,
    "output_axes": None,
    # optimizers
    "weight_decay": None,
    "clipnorm": None,
    "global_clipnorm": None,
    "clipvalue": None,
    "use_ema": False,
    "ema_momentum": _ANY,
    "ema_overwrite_frequency": None,
    "loss_scale_factor": None,
    "gradient_accumulation_steps": None,
    # losses
    "label_smoothing": 0.0,
    "ignore_class": None,
    "dtype": None,
}


def accepted_parameters(cls):
    """The keyword names ``cls(...)`` accepts, following ``**kwargs`` up the class hierarchy."""
    names = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        names |= {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)} - {"self"}
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break
    return names


def init_kwargs(cls, config, owner, extra_off_values=None):
    """``config`` reduced to the arguments of ``cls``; ``owner`` names the object in errors."""
    if not isinstance(config, dict):
        raise ValueError(f"{owner}: the config must be a dict, got {type(config).__name__}")
    # A class may take further Keras options through **kwargs and check them itself (Conv2D's dilation_rate...).
    accepted = accepted_parameters(cls) | set(getattr(cls, "config_passthrough", ()))
    off_values = {**KERAS_OFF_VALUES, **(extra_off_values or {})}
    kwargs = {}
    for key, value in config.items():
        if key in accepted:
            kwargs[key] = value
        elif key in off_values and (off_values[key] is _ANY or _same(value, off_values[key])):
            continue
        elif key in off_values:
            raise ValueError(f"{owner}: the Keras option {key}={value!r} is not supported by bnlab")
        else:
            raise ValueError(f"{owner}: unknown option {key!r} for {cls.__name__} (bnlab accepts {sorted(accepted)})")
    return kwargs


def _same(value, off):
    return value is off if off is None or isinstance(off, bool) else value == off


def from_identifier(identifier, base, by_name, kind):
    """Keras's ``get(identifier)`` of optimizers and losses: an instance of ``base`` as it is, a name (any
    case) as a new ``by_name[name]()``; ``kind`` names the thing in errors."""
    if isinstance(identifier, base):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in by_name:
        return by_name[identifier.lower()]()
    if isinstance(identifier, str):
        raise ValueError(f"Unknown {kind} {identifier!r}: choose one of {', '.join(by_name)}")
    raise TypeError(f"{kind} must be a string or a bnlab.keras {kind}, got {type(identifier).__name__}")
