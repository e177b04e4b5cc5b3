"""``tf.random``: random tensors (``normal``, ``uniform``, ``truncated_normal``, ``shuffle``, ``categorical``, the
stateless forms), seeding (``set_seed``) and ``tf.random.Generator``.

Seeds follow TensorFlow's rules: after ``tf.random.set_seed(s)`` the sequence of values that the ops produce is
the same in every run; an op given ``seed=k`` draws from its own stream for the pair (global seed, k), which
``set_seed`` restarts (the default global seed 87654321 is used when none was set, as TensorFlow does); with no
seed at all the values differ from run to run. The numbers come from NumPy's PCG64 generator: they are NOT
TensorFlow's (Philox), so a seeded script gives other values than under TensorFlow, with the same
distributions. ``tf.random.Generator.from_seed(s)`` is an independent stream with the same methods.

    normal(shape, mean, stddev)      mean + stddev * z, z ~ N(0, 1); differentiable in mean and stddev
    uniform(shape, minval, maxval)   floats in [minval, maxval) (maxval 1 by default); integers (int32,
                                     int64) in [minval, maxval), maxval required
    truncated_normal                 as normal, with draws beyond 2 standard deviations drawn again
"""

from __future__ import annotations

import typing

import numpy as np

from . import _record
from . import dtypes as _dt
from ._base import int_list
from ._base import tensor as _tensor
from .errors import invalid
from .tensor import array_of, from_array

__all__ = [
    "Generator",
    "categorical",
    "get_global_generator",
    "normal",
    "set_global_generator",
    "set_seed",
    "shuffle",
    "stateless_normal",
    "stateless_uniform",
    "truncated_normal",
    "uniform",
]

DEFAULT_GLOBAL_SEED = 87654321
_MASK = 0xFFFFFFFFFFFFFFFF


class _Seeds:
    """The global seed (None until ``set_seed``), the stream of ops without a seed, and each op seed's stream."""

    global_seed = None
    rng = np.random.default_rng()
    op_streams: typing.ClassVar[dict] = {}


def set_seed(seed) -> None:
    """Set the global random seed (None: unseeded again); restarts every stream of the ops."""
    if seed is None:
        _Seeds.global_seed, _Seeds.rng = None, np.random.default_rng()
    else:
        try:
            seed = int(seed)
        except (TypeError, ValueError):
            raise TypeError(f"seed must be an int, got {seed!r}") from None
        _Seeds.global_seed, _Seeds.rng = seed, np.random.default_rng([seed & _MASK])
    _Seeds.op_streams = {}


def _stream(seed) -> np.random.Generator:
    """The NumPy generator an op with op seed ``seed`` draws from."""
    if seed is None:
        return _Seeds.rng
    key = int(seed)
    g = _Seeds.op_streams.get(key)
    if g is None:
        base = DEFAULT_GLOBAL_SEED if _Seeds.global_seed is None else _Seeds.global_seed
        g = _Seeds.op_streams[key] = np.random.default_rng([base & _MASK, key & _MASK])
    return g


def _float_dtype(dtype):
    d = _dt.data_dtype(dtype)
    if not d.is_floating:
        raise ValueError(f"Invalid dtype {d!r}: expected a floating point type (tf.float32)")
    return d


def _normal(rng, shape, mean, stddev, dtype, truncated=False):
    from .math_ops import add, multiply

    d = _float_dtype(dtype)
    dims = int_list(shape)
    z = rng.standard_normal(dims, dtype=np.float32)
    if truncated:
        bad = np.abs(z) > 2
        while bad.any():
            z[bad] = rng.standard_normal(int(bad.sum()), dtype=np.float32)
            bad = np.abs(z) > 2
    return add(multiply(from_array(z, d), _tensor(stddev, d)), _tensor(mean, d))


def _uniform(rng, shape, minval, maxval, dtype):
    from .math_ops import add, multiply, subtract

    d = _dt.data_dtype(dtype)
    dims = int_list(shape)
    if d.is_floating:
        lo = _tensor(minval, d)
        hi = _tensor(1 if maxval is None else maxval, d)
        u = from_array(rng.random(dims, dtype=np.float32), d)
        return add(multiply(u, subtract(hi, lo)), lo)
    if d not in (_dt.int32, _dt.int64):
        raise ValueError(f"Invalid dtype {d!r} for tf.random.uniform: use a float or tf.int32/tf.int64")
    if maxval is None:
        raise ValueError(f"Must specify maxval for integer dtype {d!r}")
    lo, hi = int(array_of(_tensor(minval, d))), int(array_of(_tensor(maxval, d)))
    if lo >= hi:
        raise invalid(f"Need minval < maxval: {lo} >= {hi}", "RandomUniformInt")
    return from_array(rng.integers(lo, hi, size=dims, dtype=np.int64).astype(d._np), d)


@_record.op
def normal(shape, mean=0.0, stddev=1.0, dtype=_dt.float32, seed=None, name=None):
    """Samples of N(mean, stddev^2) of ``shape``: ``mean + stddev * z``."""
    return _normal(_stream(seed), shape, mean, stddev, dtype)


@_record.op
def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=_dt.float32, seed=None, name=None):
    """Samples of N(mean, stddev^2) with every draw farther than 2 stddev from the mean drawn again."""
    return _normal(_stream(seed), shape, mean, stddev, dtype, truncated=True)


@_record.op
def uniform(shape, minval=0, maxval=None, dtype=_dt.float32, seed=None, name=None):
    """Samples uniform in ``[minval, maxval)``: floats (``maxval`` 1 by default) or integers (``maxval`` needed)."""
    return _uniform(_stream(seed), shape, minval, maxval, dtype)


@_record.op
def shuffle(value, seed=None, name=None):
    """``value`` with its slices along the first dimension in a random order."""
    from .shape_ops import gather

    x = _tensor(value)
    if x.ndim == 0:
        raise invalid("value must be at least 1-D", "RandomShuffle")
    return gather(x, _stream(seed).permutation(x.shape[0]))


def _categorical(rng, logits, num_samples, dtype):
    lg = _tensor(logits)
    if lg.ndim != 2:
        raise invalid(f"logits should be a matrix, got shape {list(lg.shape)}", "Multinomial")
    d = _dt.data_dtype(dtype)
    a = array_of(lg).astype(np.float64)
    a = a - a.max(axis=1, keepdims=True)
    p = np.exp(a)
    cdf = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
    u = rng.random((a.shape[0], int(num_samples)))
    idx = (u[:, :, None] > cdf[:, None, :]).sum(axis=2)
    return from_array(np.minimum(idx, a.shape[1] - 1).astype(d._np), d)


@_record.op
def categorical(logits, num_samples, dtype=None, seed=None, name=None):
    """``num_samples`` class indices per row of ``logits`` (batch, classes), drawn with probabilities
    softmax(logits); int64 unless ``dtype``."""
    return _categorical(_stream(seed), logits, num_samples, _dt.int64 if dtype is None else dtype)


def _stateless(seed) -> np.random.Generator:
    s = np.asarray(array_of(_tensor(seed)) if not isinstance(seed, (list, tuple)) else seed).reshape(-1)
    if s.size != 2:
        raise ValueError(f"seed must be a shape-[2] integer tensor, got {list(s.shape)}")
    return np.random.default_rng([int(v) & _MASK for v in s])


@_record.op
def stateless_normal(shape, seed, mean=0.0, stddev=1.0, dtype=_dt.float32, name=None, alg="auto_select"):
    """As ``normal``, determined by ``seed`` (a pair of ints) alone: the same seed gives the same values."""
    return _normal(_stateless(seed), shape, mean, stddev, dtype)


@_record.op
def stateless_uniform(shape, seed, minval=0, maxval=None, dtype=_dt.float32, name=None, alg="auto_select"):
    """As ``uniform``, determined by ``seed`` (a pair of ints) alone."""
    return _uniform(_stateless(seed), shape, minval, maxval, dtype)


class Generator:
    """A random stream of its own: ``tf.random.Generator.from_seed(1234)``; methods ``normal``, ``uniform``,
    ``truncated_normal``, ``make_seeds``, ``split``, ``reset_from_seed``."""

    def __init__(self, copy_from=None, state=None, alg=None) -> None:
        if copy_from is not None:
            self._rng = np.random.default_rng()
            self._rng.bit_generator.state = copy_from._rng.bit_generator.state
        elif state is not None:
            self._rng = np.random.default_rng([int(v) & _MASK for v in np.asarray(state).reshape(-1)])
        else:
            self._rng = np.random.default_rng()
        self.algorithm = alg

    @classmethod
    def from_seed(cls, seed, alg=None) -> Generator:
        g = cls(alg=alg)
        g.reset_from_seed(seed)
        return g

    @classmethod
    def from_non_deterministic_state(cls, alg=None) -> Generator:
        return cls(alg=alg)

    def reset_from_seed(self, seed) -> None:
        self._rng = np.random.default_rng([int(seed) & _MASK])

    @_record.op
    def normal(self, shape, mean=0.0, stddev=1.0, dtype=_dt.float32, name=None):
        return _normal(self._rng, shape, mean, stddev, dtype)

    @_record.op
    def truncated_normal(self, shape, mean=0.0, stddev=1.0, dtype=_dt.float32, name=None):
        return _normal(self._rng, shape, mean, stddev, dtype, truncated=True)

    @_record.op
    def uniform(self, shape, minval=0, maxval=None, dtype=_dt.float32, name=None):
        return _uniform(self._rng, shape, minval, maxval, dtype)

    def make_seeds(self, count=1):
        """A (2, count) int64 tensor of seeds for the stateless ops."""
        return from_array(self._rng.integers(0, 2**63 - 1, size=(2, int(count)), dtype=np.int64), _dt.int64)

    def split(self, count=1) -> list:
        """``count`` new generators, each seeded from this one."""
        return [Generator(state=self._rng.integers(0, 2**63 - 1, size=2)) for _ in range(int(count))]


_global_generator: list = []


def get_global_generator() -> Generator:
    if not _global_generator:
        _global_generator.append(Generator.from_non_deterministic_state())
    return _global_generator[0]


def set_global_generator(generator) -> None:
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be a tf.random.Generator, got {type(generator).__name__}")
    _global_generator[:] = [generator]
