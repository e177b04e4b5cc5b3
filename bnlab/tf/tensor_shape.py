"""``tf.TensorShape``: a tensor's shape, TensorFlow's tuple-like class; and ``tf.TensorSpec``, a shape and a dtype.

Dimensions are ints, or None where unknown (eager tensors always have known shapes; ``TensorShape([None, 3])``
describes a batch of any size). ``str`` is ``(2, 3)`` (``(3,)`` for rank 1, ``<unknown>`` for an unknown rank),
``repr`` ``TensorShape([2, 3])``; a shape equals another shape or a list/tuple with the same dimensions;
``s[i]`` is an int (or None), ``s[i:j]`` a TensorShape; ``as_list()``, ``rank``, ``num_elements()``,
``is_compatible_with``, ``merge_with``, ``concatenate`` (also ``+``) as in TensorFlow.
"""

from __future__ import annotations

import numpy as np

__all__ = ["TensorShape", "TensorSpec", "as_shape"]


class TensorShape:
    """A tensor's shape: dimensions that are ints (or None where unknown); ``None`` for an unknown rank.

    Tuple-like: ``len``, iteration, ``s[i]`` (an int) and ``s[i:j]`` (a TensorShape); equal to another shape or to
    a list/tuple with the same dimensions. ``str`` is ``(2, 3)`` (``(3,)`` for rank 1), ``repr``
    ``TensorShape([2, 3])``."""

    __slots__ = ("_dims",)

    def __init__(self, dims) -> None:
        if dims is None:
            self._dims = None
        elif isinstance(dims, TensorShape):
            self._dims = dims._dims
        elif isinstance(dims, (int, np.integer)):
            self._dims = (int(dims),)
        else:
            try:
                self._dims = tuple(None if d is None else int(d) for d in dims)
            except TypeError:
                raise TypeError(f"Cannot convert {dims!r} to a TensorShape") from None

    @property
    def dims(self):
        """The dimensions as a list (None for an unknown rank)."""
        return None if self._dims is None else list(self._dims)

    @property
    def rank(self):
        return None if self._dims is None else len(self._dims)

    ndims = rank

    def as_list(self) -> list:
        if self._dims is None:
            raise ValueError("as_list() is not defined on an unknown TensorShape.")
        return list(self._dims)

    def num_elements(self):
        """The number of elements, or None when a dimension (or the rank) is unknown."""
        if self._dims is None or None in self._dims:
            return None
        n = 1
        for d in self._dims:
            n *= d
        return n

    def is_fully_defined(self) -> bool:
        return self._dims is not None and None not in self._dims

    def is_compatible_with(self, other) -> bool:
        """Whether some shape fits both: equal ranks, and dimensions equal where both are known."""
        other = as_shape(other)
        if self._dims is None or other._dims is None:
            return True
        if len(self._dims) != len(other._dims):
            return False
        return all(a is None or b is None or a == b for a, b in zip(self._dims, other._dims, strict=True))

    def assert_is_compatible_with(self, other) -> None:
        if not self.is_compatible_with(other):
            raise ValueError(f"Shapes {self} and {as_shape(other)} are incompatible")

    def merge_with(self, other) -> TensorShape:
        other = as_shape(other)
        self.assert_is_compatible_with(other)
        if self._dims is None:
            return other
        if other._dims is None:
            return self
        return TensorShape([a if a is not None else b for a, b in zip(self._dims, other._dims, strict=True)])

    def concatenate(self, other) -> TensorShape:
        other = as_shape(other)
        if self._dims is None or other._dims is None:
            return TensorShape(None)
        return TensorShape(self._dims + other._dims)

    def with_rank(self, rank: int) -> TensorShape:
        if self._dims is not None and len(self._dims) != rank:
            raise ValueError(f"Shape {self} must have rank {rank}")
        return self if self._dims is not None else TensorShape([None] * rank)

    def __add__(self, other) -> TensorShape:
        return self.concatenate(other)

    def __radd__(self, other) -> TensorShape:
        return as_shape(other).concatenate(self)

    def __len__(self) -> int:
        if self._dims is None:
            raise ValueError("Cannot take the length of shape with unknown rank.")
        return len(self._dims)

    def __iter__(self):
        if self._dims is None:
            raise ValueError("Cannot iterate over a shape with unknown rank.")
        return iter(self._dims)

    def __getitem__(self, key):
        if self._dims is None:
            return TensorShape(None) if isinstance(key, slice) else None
        if isinstance(key, slice):
            return TensorShape(self._dims[key])
        return self._dims[key]

    def __bool__(self) -> bool:
        return self._dims is not None

    def __eq__(self, other) -> bool:
        try:
            other = as_shape(other)
        except TypeError:
            return NotImplemented
        return self._dims == other._dims

    def __ne__(self, other) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __hash__(self) -> int:
        return hash(self._dims)

    def __str__(self) -> str:
        if self._dims is None:
            return "<unknown>"
        if len(self._dims) == 1:
            return f"({self._dims[0]},)"
        return "(" + ", ".join(str(d) for d in self._dims) + ")"

    def __repr__(self) -> str:
        return "TensorShape(None)" if self._dims is None else f"TensorShape({list(self._dims)})"

    def __reduce__(self):
        return (TensorShape, (self.dims,))


def as_shape(shape) -> TensorShape:
    return shape if isinstance(shape, TensorShape) else TensorShape(shape)


class TensorSpec:
    """A description of a tensor: ``TensorSpec(shape, dtype=tf.float32, name=None)`` (``tf.function``'s
    ``input_signature`` takes them; bnlab runs functions eagerly and only checks what is asked of a spec here)."""

    __slots__ = ("dtype", "name", "shape")

    def __init__(self, shape, dtype=None, name=None) -> None:
        from . import dtypes as _dtypes

        self.shape = as_shape(shape)
        self.dtype = _dtypes.float32 if dtype is None else _dtypes.as_dtype(dtype)
        self.name = name

    def is_compatible_with(self, spec_or_tensor) -> bool:
        """Whether a tensor (or spec) of ``spec_or_tensor``'s dtype and shape fits this spec."""
        return self.dtype == spec_or_tensor.dtype and self.shape.is_compatible_with(spec_or_tensor.shape)

    @classmethod
    def from_tensor(cls, tensor, name=None) -> TensorSpec:
        return cls(tensor.shape, tensor.dtype, name)

    def __eq__(self, other) -> bool:
        return isinstance(other, TensorSpec) and (self.shape, self.dtype, self.name) == (
            other.shape,
            other.dtype,
            other.name,
        )

    def __hash__(self) -> int:
        return hash((self.shape, self.dtype, self.name))

    def __repr__(self) -> str:
        return f"TensorSpec(shape={self.shape}, dtype={self.dtype!r}, name={self.name!r})"
