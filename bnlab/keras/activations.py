"""Activation functions by name, as Keras accepts them in ``Dense(activation=...)`` and ``Activation(...)``.

relu(x) = max(x, 0); sigmoid(x) = 1 / (1 + e^-x); tanh; softmax(x)_j = e^x_j / sum_k e^x_k over the last axis;
linear (None) = identity. The engine computes them; this module only maps names.
"""

from bnlab import _core

_BY_NAME = {
    None: _core.Act.Linear,
    "linear": _core.Act.Linear,
    "relu": _core.Act.Relu,
    "sigmoid": _core.Act.Sigmoid,
    "tanh": _core.Act.Tanh,
    "softmax": _core.Act.Softmax,
}
_NAMES = {v: k for k, v in _BY_NAME.items() if k is not None}


def get(identifier):
    """The engine activation for a name (or None for linear). Unknown names raise ValueError."""
    if isinstance(identifier, _core.Act):
        return identifier
    if callable(identifier) and getattr(identifier, "__name__", None) in _BY_NAME:
        identifier = identifier.__name__
    if identifier is not None and not isinstance(identifier, str):
        raise TypeError(f"activation must be a string or None, got {type(identifier).__name__}")
    key = identifier.lower() if isinstance(identifier, str) else None
    if key not in _BY_NAME:
        known = ", ".join(sorted(k for k in _BY_NAME if k))
        raise ValueError(f"Unknown activation {identifier!r}: choose one of {known}")
    return _BY_NAME[key]


def name_of(act):
    """The Keras name of an engine activation."""
    return _NAMES[act]


def _apply(act, x):
    import numpy as np

    arr = np.ascontiguousarray(x, dtype=np.float32)
    out = _core.Tensor()
    _core.ops.activation_forward(out, _core.Tensor.from_numpy(arr), act)
    return out.numpy().copy()


def linear(x):
    """Identity."""
    return _apply(_core.Act.Linear, x)


def relu(x):
    """max(x, 0), elementwise."""
    return _apply(_core.Act.Relu, x)


def sigmoid(x):
    """1 / (1 + exp(-x)), elementwise."""
    return _apply(_core.Act.Sigmoid, x)


def tanh(x):
    """Hyperbolic tangent, elementwise."""
    return _apply(_core.Act.Tanh, x)


def softmax(x):
    """exp(x) / sum(exp(x)) over the last axis."""
    return _apply(_core.Act.Softmax, x)
