"""``bnlab.data.Dataset``: a NumPy implementation of the ``tf.data.Dataset`` input pipelines students use.

A dataset is a lazy chain of steps, built with methods that each return a new dataset::

    ds = Dataset.from_tensor_slices((x, y)).shuffle(60000, seed=0).batch(64).prefetch(1)
    for images, labels in ds:        # NumPy arrays: (64, 28, 28, 1) and (64, 10)
        ...
    images, labels = iter(ds).next() # Python-2 style, as in some notebooks; next(iter(ds)) works too

Elements are NumPy arrays, or tuples / dicts of them mirroring what was passed to ``from_tensor_slices``
(a list of arrays is treated like a tuple). Conventions, following tf.data:

* ``map(f)`` calls ``f(*element)`` for tuple elements and ``f(element)`` otherwise (dicts are passed
  whole). Lists returned by ``f`` become tuples; values become arrays.
* ``shuffle(buffer_size)`` implements tf's buffer algorithm: keep ``buffer_size`` elements, emit a
  random one, refill from the input. When the buffer holds the whole (finite) input this is a uniform
  random permutation, computed at once with NumPy. With ``reshuffle_each_iteration=True`` (the
  default) each pass (each ``iter()``, each ``repeat``) uses a new order; a ``seed`` makes the sequence
  of orders reproducible.
* ``batch(n)`` stacks ``n`` consecutive elements along a new first axis; the last batch is smaller
  unless ``drop_remainder=True``. ``take``, ``repeat``, ``unbatch`` behave as in tf.data;
  ``prefetch`` does nothing (there is no background thread) and exists so tf code runs unchanged.
* ``len(ds)`` and ``ds.cardinality()`` give the number of elements; ``len`` raises TypeError when it
  is infinite or unknown, ``cardinality()`` returns ``INFINITE_CARDINALITY`` (-1) or
  ``UNKNOWN_CARDINALITY`` (-2).

Speed: until a ``map``, the pipeline works on *index arrays* into the source arrays. from_tensor_slices
-> shuffle -> batch permutes ``arange(n)`` and gathers each batch with one fancy-indexing operation per
array, with no per-sample Python work. (A shuffle buffer smaller than the data loops over sample
*indices* in Python, which is cheap but not free.) ``map`` and what follows it work element by element.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

__all__ = [
    "AUTOTUNE",
    "INFINITE_CARDINALITY",
    "UNKNOWN_CARDINALITY",
    "Dataset",
    "DatasetIterator",
    "FastPlan",
]

AUTOTUNE = -1
INFINITE_CARDINALITY = -1
UNKNOWN_CARDINALITY = -2
_CHUNK = 1024  # elements gathered at once when iterating an unbatched dataset


# ----------------------------------------------------------------------------------------- structures
def _flatten(s) -> list:
    if isinstance(s, tuple):
        return [leaf for item in s for leaf in _flatten(item)]
    if isinstance(s, dict):
        return [leaf for item in s.values() for leaf in _flatten(item)]
    return [s]


def _pack(template, leaves: Iterator):
    if isinstance(template, tuple):
        return tuple(_pack(t, leaves) for t in template)
    if isinstance(template, dict):
        return {k: _pack(t, leaves) for k, t in template.items()}
    return next(leaves)


def _structure(value, lists_are_tuples: bool = False):
    """Normalise a structure: tuple -> tuple, dict -> dict, leaf -> ndarray. A list becomes a tuple if
    ``lists_are_tuples`` (map results, as tf.data does) or if it holds arrays, tuples or dicts (inputs);
    otherwise (``[1, 2, 3]``) it is one array."""
    if isinstance(value, list) and (lists_are_tuples or any(isinstance(v, (np.ndarray, tuple, dict)) for v in value)):
        value = tuple(value)
    if isinstance(value, tuple):
        return tuple(_structure(v, lists_are_tuples) for v in value)
    if isinstance(value, dict):
        return {k: _structure(v, lists_are_tuples) for k, v in value.items()}
    return np.asarray(value)


def _check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    value = operator.index(value)
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _check_bool(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return bool(value)


def _buffer_shuffle(items, size: int, rng: np.random.Generator):
    """tf.data's shuffle buffer: fill ``size`` slots, emit a random slot and refill it, drain at the end."""
    it = iter(items)
    buf = list(itertools.islice(it, size))
    draws = iter(())
    for item in it:
        u = next(draws, None)
        if u is None:
            draws = iter(rng.random(4096).tolist())
            u = next(draws)
        j = int(u * len(buf))
        yield buf[j]
        buf[j] = item
    for j in rng.permutation(len(buf)).tolist():
        yield buf[j]


@dataclass(frozen=True)
class _IndexStream:
    """A pipeline still expressed as indices into ``source``: ``chunks()`` yields int arrays, each one
    batch (``batched``) or a run of consecutive elements (not batched)."""

    source: _TensorSlices
    batched: bool
    chunks: Callable[[], Iterator[np.ndarray]]

    def elements(self) -> Iterator:
        leaves, template = self.source.leaves, self.source.template
        for idx in self.chunks():
            if self.batched:
                yield _pack(template, iter([a[idx] for a in leaves]))
                continue
            for start in range(0, len(idx), _CHUNK):
                block = [a[idx[start : start + _CHUNK]] for a in leaves]
                for i in range(len(block[0])):
                    yield _pack(template, iter([b[i] for b in block]))


@dataclass(frozen=True, eq=False)
class FastPlan:
    """A pipeline that a training loop may run directly on the arrays, without iterating the dataset.

    ``Dataset._fast_plan()`` returns one exactly when the dataset is ``from_tensor_slices((x, y))``
    [``.shuffle(buffer_size >= len(x))``] ``.batch(batch_size, drop_remainder)`` [``.prefetch(...)``],
    with the shuffle's default ``reshuffle_each_iteration=True``. Iterating such a dataset gives, each
    epoch: a uniform random permutation of the samples if ``shuffle`` (else file order), cut into
    consecutive batches of ``batch_size``, the last one smaller unless ``drop_remainder``. A consumer
    that runs the plan itself must produce batches with these semantics; with ``seed`` set it should
    derive its permutations from the seed (bit-identical orders to iterating the dataset are not
    required). Any other pipeline (a ``map``, a small shuffle buffer, a ``repeat``...) gives None and
    must be iterated batch by batch.

    Attributes:
        arrays: ``(x, y)``, the NumPy arrays passed to from_tensor_slices (not copied).
        batch_size: samples per batch.
        shuffle: whether every epoch uses a fresh uniform permutation.
        seed: the shuffle's seed (None: not seeded, the consumer picks its own randomness).
        drop_remainder: whether a last, smaller batch is dropped.
    """

    arrays: tuple
    batch_size: int
    shuffle: bool
    seed: int | None
    drop_remainder: bool

    def __repr__(self) -> str:
        shapes = ", ".join(str(a.shape) for a in self.arrays)
        return (
            f"FastPlan(arrays=[{shapes}], batch_size={self.batch_size}, shuffle={self.shuffle}, "
            f"seed={self.seed}, drop_remainder={self.drop_remainder})"
        )


class DatasetIterator:
    """Iterator over a dataset's elements; ``.next()`` and ``.get_next()`` are aliases of ``__next__``."""

    def __init__(self, elements: Iterator) -> None:
        self._elements = elements

    def __iter__(self) -> DatasetIterator:
        return self

    def __next__(self):
        return next(self._elements)

    next = __next__
    get_next = __next__


class Dataset:
    """A lazy pipeline of elements; create one with :meth:`from_tensor_slices` (see the module docstring)."""

    # -------------------------------------------------------------------------------- construction
    @staticmethod
    def from_tensor_slices(tensors) -> Dataset:
        """A dataset of the slices of ``tensors`` along their first axis.

        ``tensors`` is an array (or array-like) or a tuple / list / dict of them, possibly nested; all
        must have at least one dimension and the same first dimension.
        """
        return _TensorSlices(tensors)

    # -------------------------------------------------------------------------------- transformations
    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=True) -> Dataset:
        """Shuffle with a buffer of ``buffer_size`` elements (>= the dataset size: a full shuffle)."""
        return _Shuffle(self, buffer_size, seed, reshuffle_each_iteration)

    def batch(self, batch_size, drop_remainder=False, num_parallel_calls=None, deterministic=None) -> Dataset:
        """Stack ``batch_size`` consecutive elements (``num_parallel_calls`` is accepted and ignored)."""
        return _Batch(self, batch_size, drop_remainder)

    def map(self, map_func, num_parallel_calls=None, deterministic=None) -> Dataset:
        """Apply ``map_func`` to each element (``map_func(*element)`` for tuples)."""
        return _Map(self, map_func)

    def take(self, count) -> Dataset:
        """The first ``count`` elements (``count=-1``: all of them)."""
        return _Take(self, count)

    def repeat(self, count=None) -> Dataset:
        """Repeat the dataset ``count`` times (None or -1: forever)."""
        return _Repeat(self, count)

    def prefetch(self, buffer_size) -> Dataset:
        """Accepted for compatibility with tf.data (``AUTOTUNE`` = -1 allowed); does nothing."""
        return _Prefetch(self, buffer_size)

    def unbatch(self) -> Dataset:
        """Split each element along its first axis into separate elements (the inverse of ``batch``)."""
        return _Unbatch(self)

    # -------------------------------------------------------------------------------- iteration & size
    def __iter__(self) -> DatasetIterator:
        stream = self._index_stream()
        return DatasetIterator(stream.elements() if stream is not None else self._generic())

    def as_numpy_iterator(self) -> DatasetIterator:
        """As in tf.data; elements are already NumPy arrays."""
        return iter(self)

    def cardinality(self) -> int:
        """Number of elements, or INFINITE_CARDINALITY (-1) / UNKNOWN_CARDINALITY (-2)."""
        raise NotImplementedError

    def __len__(self) -> int:
        n = self.cardinality()
        if n == INFINITE_CARDINALITY:
            raise TypeError("The dataset length is infinite.")
        if n == UNKNOWN_CARDINALITY:
            raise TypeError("The dataset length is unknown.")
        return n

    def _index_stream(self) -> _IndexStream | None:
        return None

    def _generic(self) -> Iterator:
        raise NotImplementedError

    def _fast_plan(self) -> FastPlan | None:
        """A :class:`FastPlan` if this is from_tensor_slices((x, y)) [-> shuffle(>= n)] -> batch
        [-> prefetch], else None. A training loop may then run on ``plan.arrays`` directly
        (see :class:`FastPlan`)."""
        node = self
        while isinstance(node, _Prefetch):
            node = node.parent
        if not isinstance(node, _Batch):
            return None
        batch, node = node, node.parent
        shuffle = node if isinstance(node, _Shuffle) else None
        if shuffle is not None:
            node = shuffle.parent
        if not isinstance(node, _TensorSlices) or not node.is_pair:
            return None
        if shuffle is not None and (shuffle.buffer_size < node.n or not shuffle.reshuffle):
            return None
        return FastPlan(
            arrays=node.structure,
            batch_size=batch.batch_size,
            shuffle=shuffle is not None,
            seed=None if shuffle is None else shuffle.seed,
            drop_remainder=batch.drop_remainder,
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__.lstrip('_')}Dataset cardinality={self.cardinality()}>"


class _TensorSlices(Dataset):
    def __init__(self, tensors) -> None:
        self.structure = _structure(tensors)
        self.leaves = _flatten(self.structure)
        if not self.leaves:
            raise ValueError("tensors must contain at least one array, got an empty structure")
        shapes = [leaf.shape for leaf in self.leaves]
        if any(len(shape) == 0 for shape in shapes):
            raise ValueError(f"tensors must all have at least one dimension to slice; got shapes {shapes}")
        if len({shape[0] for shape in shapes}) > 1:
            raise ValueError(f"tensors must all have the same first dimension; got shapes {shapes}")
        self.template = _pack(self.structure, iter([None] * len(self.leaves)))
        self.n = shapes[0][0]
        self.is_pair = isinstance(self.structure, tuple) and len(self.structure) == 2 and len(self.leaves) == 2

    def cardinality(self) -> int:
        return self.n

    def _index_stream(self) -> _IndexStream:
        return _IndexStream(self, False, lambda: iter([np.arange(self.n)]))


class _Unary(Dataset):
    def __init__(self, parent: Dataset) -> None:
        if not isinstance(parent, Dataset):
            raise TypeError(f"expected a Dataset, got {type(parent).__name__}")
        self.parent = parent

    def cardinality(self) -> int:
        return self.parent.cardinality()

    def _elements(self) -> Iterator:
        return iter(self.parent)


class _Shuffle(_Unary):
    def __init__(self, parent, buffer_size, seed, reshuffle) -> None:
        super().__init__(parent)
        self.buffer_size = _check_int(buffer_size, "buffer_size", 1)
        self.seed = None if seed is None else _check_int(seed, "seed", 0)
        self.reshuffle = _check_bool(reshuffle, "reshuffle_each_iteration")
        self._base = self.seed if self.seed is not None else np.random.SeedSequence().entropy
        self._epochs = itertools.count()

    def _rng(self) -> np.random.Generator:
        epoch = next(self._epochs) if self.reshuffle else 0
        return np.random.default_rng([self._base, epoch])

    def _index_stream(self) -> _IndexStream | None:
        parent = self.parent._index_stream()
        if parent is None:
            return None
        n = self.parent.cardinality()

        def chunks():
            rng = self._rng()
            if not parent.batched and 0 <= n <= self.buffer_size:
                order = np.concatenate([np.arange(0), *parent.chunks()])
                yield order[rng.permutation(len(order))]
            elif parent.batched:
                yield from _buffer_shuffle(parent.chunks(), self.buffer_size, rng)
            else:
                flat = (i for chunk in parent.chunks() for i in chunk.tolist())
                yield from _chunked(_buffer_shuffle(flat, self.buffer_size, rng))

        return _IndexStream(parent.source, parent.batched, chunks)

    def _generic(self) -> Iterator:
        return _buffer_shuffle(self._elements(), self.buffer_size, self._rng())


def _chunked(ints: Iterator[int]) -> Iterator[np.ndarray]:
    while block := list(itertools.islice(ints, _CHUNK)):
        yield np.asarray(block, dtype=np.intp)


class _Batch(_Unary):
    def __init__(self, parent, batch_size, drop_remainder) -> None:
        super().__init__(parent)
        self.batch_size = _check_int(batch_size, "batch_size", 1)
        self.drop_remainder = _check_bool(drop_remainder, "drop_remainder")

    def cardinality(self) -> int:
        n = self.parent.cardinality()
        if n < 0:
            return n
        return n // self.batch_size if self.drop_remainder else math.ceil(n / self.batch_size)

    def _index_stream(self) -> _IndexStream | None:
        parent = self.parent._index_stream()
        if parent is None or parent.batched:
            return None
        size = self.batch_size

        def chunks():
            pending = np.arange(0)
            for chunk in parent.chunks():
                chunk = np.concatenate([pending, chunk]) if len(pending) else chunk
                full = len(chunk) // size * size
                for start in range(0, full, size):
                    yield chunk[start : start + size]
                pending = chunk[full:]
            if len(pending) and not self.drop_remainder:
                yield pending

        return _IndexStream(parent.source, True, chunks)

    def _generic(self) -> Iterator:
        elements = self._elements()
        while group := list(itertools.islice(elements, self.batch_size)):
            if len(group) < self.batch_size and self.drop_remainder:
                return
            template = _pack(group[0], iter([None] * len(_flatten(group[0]))))
            columns = zip(*(_flatten(element) for element in group), strict=True)
            stacked = []
            for column in columns:
                shapes = {np.shape(value) for value in column}
                if len(shapes) > 1:
                    raise ValueError(f"batch: cannot stack elements of different shapes {sorted(shapes)}")
                stacked.append(np.stack(column))
            yield _pack(template, iter(stacked))


class _Map(_Unary):
    def __init__(self, parent, map_func) -> None:
        super().__init__(parent)
        if not callable(map_func):
            raise TypeError(f"map_func must be callable, got {type(map_func).__name__}")
        self.map_func = map_func

    def _generic(self) -> Iterator:
        for element in self._elements():
            out = self.map_func(*element) if isinstance(element, tuple) else self.map_func(element)
            yield _structure(out, lists_are_tuples=True)


class _Take(_Unary):
    def __init__(self, parent, count) -> None:
        super().__init__(parent)
        self.count = _check_int(count, "count", -1)

    def cardinality(self) -> int:
        n = self.parent.cardinality()
        if self.count == -1 or n == UNKNOWN_CARDINALITY:
            return n
        return self.count if n == INFINITE_CARDINALITY else min(n, self.count)

    def _index_stream(self) -> _IndexStream | None:
        parent = self.parent._index_stream()
        if parent is None or self.count == -1:
            return parent

        def chunks():
            left = self.count
            for chunk in parent.chunks():
                if left <= 0:
                    return
                if parent.batched:
                    left -= 1
                    yield chunk
                else:
                    yield chunk[:left]
                    left -= len(chunk[:left])

        return _IndexStream(parent.source, parent.batched, chunks)

    def _generic(self) -> Iterator:
        elements = self._elements()
        return elements if self.count == -1 else itertools.islice(elements, self.count)


class _Repeat(_Unary):
    def __init__(self, parent, count) -> None:
        super().__init__(parent)
        self.count = -1 if count is None else _check_int(count, "count", -1)

    def cardinality(self) -> int:
        n = self.parent.cardinality()
        if self.count == -1:
            return 0 if n == 0 else INFINITE_CARDINALITY
        if self.count == 0:
            return 0
        return n if n < 0 else n * self.count

    def _epochs(self) -> Iterator[int]:
        return itertools.count() if self.count == -1 else iter(range(self.count))

    def _index_stream(self) -> _IndexStream | None:
        parent = self.parent._index_stream()
        if parent is None:
            return None

        def chunks():
            for _ in self._epochs():
                seen = False
                for chunk in parent.chunks():
                    seen = seen or len(chunk) > 0
                    yield chunk
                if not seen:  # an empty dataset repeated forever stays empty
                    return

        return _IndexStream(parent.source, parent.batched, chunks)

    def _generic(self) -> Iterator:
        for _ in self._epochs():
            seen = False
            for element in self._elements():
                seen = True
                yield element
            if not seen:
                return


class _Prefetch(_Unary):
    def __init__(self, parent, buffer_size) -> None:
        super().__init__(parent)
        self.buffer_size = _check_int(buffer_size, "buffer_size", -1)

    def _index_stream(self) -> _IndexStream | None:
        return self.parent._index_stream()

    def _generic(self) -> Iterator:
        return self._elements()


class _Unbatch(_Unary):
    def cardinality(self) -> int:
        parent = self.parent
        if isinstance(parent, _Batch) and parent.parent.cardinality() >= 0:
            n = parent.parent.cardinality()
            return n // parent.batch_size * parent.batch_size if parent.drop_remainder else n
        return UNKNOWN_CARDINALITY

    def _index_stream(self) -> _IndexStream | None:
        parent = self.parent._index_stream()
        if parent is None or not parent.batched:
            return None
        return _IndexStream(parent.source, False, parent.chunks)

    def _generic(self) -> Iterator:
        for element in self._elements():
            leaves = [np.asarray(leaf) for leaf in _flatten(element)]
            if any(leaf.ndim == 0 for leaf in leaves) or len({len(leaf) for leaf in leaves}) > 1:
                raise ValueError(f"unbatch: components need a common first dimension, got {[a.shape for a in leaves]}")
            template = _pack(element, iter([None] * len(leaves)))
            for i in range(len(leaves[0])):
                yield _pack(template, iter([leaf[i] for leaf in leaves]))
