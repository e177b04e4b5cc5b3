"""Weight initializers with Keras's names and formulas (fan_in, fan_out from the kernel shape (in, out)).

glorot_uniform: U(-l, l), l = sqrt(6 / (fan_in + fan_out))   (Keras's default for Dense kernels)
glorot_normal:  truncated N(0, s), s = sqrt(2 / (fan_in + fan_out))
he_uniform:     U(-l, l), l = sqrt(6 / fan_in);   he_normal: truncated N(0, sqrt(2 / fan_in))
lecun_uniform:  U(-l, l), l = sqrt(3 / fan_in);   lecun_normal: truncated N(0, sqrt(1 / fan_in))
zeros, ones, constant(value), random_normal(mean, stddev), random_uniform(minval, maxval).
Truncated normals redraw values beyond two standard deviations, and Keras scales s by 1/0.87962566.
Values come from the global generator that ``utils.set_random_seed`` resets.
"""

import math

import numpy as np

from bnlab.keras import random_state
from bnlab.keras.config_args import init_kwargs


def _fans(shape):
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2]) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


def _truncated_normal(rng, shape, std):
    out = rng.normal(0.0, std, size=shape)
    bad = np.abs(out) > 2 * std
    while bad.any():
        out[bad] = rng.normal(0.0, std, size=int(bad.sum()))
        bad = np.abs(out) > 2 * std
    return out


class Initializer:
    """Base class: ``init(shape)`` returns a float32 array of that shape."""

    def __call__(self, shape, dtype=None):
        return np.asarray(self.sample(tuple(int(d) for d in shape), random_state.generator()), dtype=np.float32)

    def sample(self, shape, rng):
        raise NotImplementedError

    def get_config(self):
        return dict(self.__dict__)


class Zeros(Initializer):
    def sample(self, shape, rng):
        return np.zeros(shape)


class Ones(Initializer):
    def sample(self, shape, rng):
        return np.ones(shape)


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = float(value)

    def sample(self, shape, rng):
        return np.full(shape, self.value)


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def sample(self, shape, rng):
        rng = np.random.default_rng(self.seed) if self.seed is not None else rng
        return rng.normal(self.mean, self.stddev, size=shape)


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval, self.seed = minval, maxval, seed

    def sample(self, shape, rng):
        rng = np.random.default_rng(self.seed) if self.seed is not None else rng
        return rng.uniform(self.minval, self.maxval, size=shape)


class VarianceScaling(Initializer):
    """scale / fan (fan by mode) as the variance of a uniform or truncated normal distribution."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"mode must be fan_in, fan_out or fan_avg, got {mode!r}")
        if distribution not in ("uniform", "truncated_normal", "untruncated_normal"):
            raise ValueError(
                f"distribution must be uniform, truncated_normal or untruncated_normal, got {distribution!r}"
            )
        self.scale, self.mode, self.distribution, self.seed = scale, mode, distribution, seed

    def sample(self, shape, rng):
        rng = np.random.default_rng(self.seed) if self.seed is not None else rng
        fan_in, fan_out = _fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, fan)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return rng.uniform(-limit, limit, size=shape)
        if self.distribution == "untruncated_normal":
            return rng.normal(0.0, math.sqrt(variance), size=shape)
        return _truncated_normal(rng, shape, math.sqrt(variance) / 0.87962566103423978)


def _preset(name, scale, mode, distribution):
    """Keras's VarianceScaling preset ``name``: a VarianceScaling class whose only argument is ``seed``."""

    def init(self, seed=None):
        VarianceScaling.__init__(self, scale, mode, distribution, seed)

    doc = f"VarianceScaling(scale={scale}, mode={mode!r}, distribution={distribution!r}, seed=seed)."
    namespace = {"__init__": init, "__doc__": doc, "__module__": __name__, "__qualname__": name}
    return type(name, (VarianceScaling,), namespace)


# The presets (their formulas: the module docstring), as Keras defines them: scale, mode, distribution.
GlorotUniform = _preset("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _preset("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeUniform = _preset("HeUniform", 2.0, "fan_in", "uniform")
HeNormal = _preset("HeNormal", 2.0, "fan_in", "truncated_normal")
LecunUniform = _preset("LecunUniform", 1.0, "fan_in", "uniform")
LecunNormal = _preset("LecunNormal", 1.0, "fan_in", "truncated_normal")


_BY_NAME = {
    "zeros": Zeros,
    "ones": Ones,
    "constant": Constant,
    "random_normal": RandomNormal,
    "random_uniform": RandomUniform,
    "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform,
    "he_normal": HeNormal,
    "lecun_uniform": LecunUniform,
    "lecun_normal": LecunNormal,
    "variance_scaling": VarianceScaling,
}
# Keras also accepts the class names (GlorotUniform) as strings.
_BY_NAME.update({cls.__name__.lower(): cls for cls in list(_BY_NAME.values())})


def get(identifier):
    """An Initializer from a name, an instance, a callable(shape) returning an array, or Keras 3's serialized
    form ``{"class_name": "GlorotUniform", "config": {"seed": None}}`` (as a .keras file stores it)."""
    if isinstance(identifier, Initializer) or (callable(identifier) and not isinstance(identifier, str)):
        return identifier
    if isinstance(identifier, dict):
        cls = _BY_NAME.get(str(identifier.get("class_name")).lower())
        if cls is None:
            raise ValueError(f"Unknown initializer {identifier.get('class_name')!r} in a Keras config")
        return cls(**init_kwargs(cls, identifier.get("config", {}), f"initializer {cls.__name__}"))
    if not isinstance(identifier, str):
        raise TypeError(f"initializer must be a string or an Initializer, got {type(identifier).__name__}")
    key = identifier.lower()
    if key not in _BY_NAME:
        known = ", ".join(sorted(k for k in _BY_NAME if "_" in k or k in ("zeros", "ones", "constant")))
        raise ValueError(f"Unknown initializer {identifier!r}: choose one of {known}")
    return _BY_NAME[key]()


def name_of(init):
    """A Keras-style name for summaries and configs."""
    for name, cls in _BY_NAME.items():
        if type(init) is cls and "_" in name:
            return name
    return type(init).__name__
