"""``tf.dtypes``: TensorFlow's element types (``tf.float32``, ``tf.int64``...), ``DType`` and ``as_dtype``.

Which types hold data. bnlab's engine computes in float32, so the TF face stores tensors of

    float32 (engine memory), int8, int16, int32, int64, uint8 and bool (host memory: NumPy arrays)

int8 and int16 tensors are kept in int32 arrays and wrapped into their range after every op (two's complement,
as TensorFlow's kernels overflow). ``tf.float64``, ``tf.float16`` (``tf.double``, ``tf.half``), ``tf.uint16``,
``tf.uint32`` and ``tf.uint64`` exist as ``DType`` objects (they can be named, compared and printed), but asking
for data of one of them (``tf.constant(x, dtype=tf.float64)``, ``tf.cast(x, tf.float64)``) raises a TypeError
naming the ``dtype`` argument. Float64 and float16 NumPy data (``np.random.rand(3)`` is float64) become float32
tensors where TensorFlow would keep float64: the engine has float32 kernels only. NumPy uint16 and uint32 data
become int32 and int64 (every value is kept).

A ``DType`` compares equal to another DType of the same type, to its name (``tf.float32 == "float32"``) and to the
NumPy type (``tf.float32 == np.float32``), as TensorFlow's does; ``repr`` is ``tf.float32`` and ``str`` is
``<dtype: 'float32'>``.
"""

from __future__ import annotations

import builtins

import numpy as np

from .. import torch as _torch

__all__ = [
    "DType",
    "as_dtype",
    "bool",
    "double",
    "float16",
    "float32",
    "float64",
    "half",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
]

# TensorFlow's DataType enum values (types.proto), kept so that ``as_datatype_enum`` prints the same numbers.
_ENUMS = {
    "float32": 1,
    "float64": 2,
    "int32": 3,
    "uint8": 4,
    "int16": 5,
    "int8": 6,
    "int64": 9,
    "bool": 10,
    "uint16": 17,
    "float16": 19,
    "uint32": 22,
    "uint64": 23,
}
# TensorFlow's DataTypeString names, which its op error messages use ("a float tensor", "a double tensor").
_KERNEL_NAMES = {"float32": "float", "float64": "double", "float16": "half"}


class DType:
    """An element type: ``name``, ``as_numpy_dtype`` (the NumPy scalar type), ``is_floating``, ``is_integer``,
    ``is_bool``, ``is_unsigned``, ``size`` (bytes per element), ``min``/``max`` (the range of values)."""

    __slots__ = ("_name", "_np", "_storage")

    def __init__(self, name: str, np_type, storage) -> None:
        self._name = name
        self._np = np.dtype(np_type)
        # the bnlab.torch dtype whose tensors hold this type's data, or None: the type holds no data in bnlab
        self._storage = storage

    # ---------------------------------------------------------------- TensorFlow's properties
    @property
    def name(self) -> str:
        return self._name

    @property
    def as_numpy_dtype(self):
        """The NumPy scalar type, ``np.float32`` for ``tf.float32``."""
        return self._np.type

    @property
    def as_datatype_enum(self) -> int:
        return _ENUMS[self._name]

    @property
    def is_floating(self) -> builtins.bool:
        return self._np.kind == "f"

    @property
    def is_integer(self) -> builtins.bool:
        return self._np.kind in "iu"

    @property
    def is_unsigned(self) -> builtins.bool:
        return self._np.kind == "u"

    @property
    def is_bool(self) -> builtins.bool:
        return self._np.kind == "b"

    @property
    def is_complex(self) -> builtins.bool:
        return False

    @property
    def is_quantized(self) -> builtins.bool:
        return False

    @property
    def is_numpy_compatible(self) -> builtins.bool:
        return True

    @property
    def size(self) -> int:
        """Bytes per element."""
        return self._np.itemsize

    @property
    def base_dtype(self) -> DType:
        return self

    @property
    def real_dtype(self) -> DType:
        return self

    @property
    def min(self):
        """The smallest value of the type (the most negative finite float for floating types)."""
        return self._limit(0)

    @property
    def max(self):
        """The largest value of the type (the largest finite float for floating types)."""
        return self._limit(1)

    @property
    def limits(self):
        """``(min, max)``."""
        return self.min, self.max

    def _limit(self, which: int):
        if self.is_bool:
            raise TypeError(f"Cannot find {('minimum', 'maximum')[which]} value of {self} with type {self}.")
        info = np.finfo(self._np) if self.is_floating else np.iinfo(self._np)
        return self._np.type((info.min, info.max)[which])

    def is_compatible_with(self, other) -> builtins.bool:
        """True when ``other`` names the same type (TensorFlow's reference types do not exist here)."""
        return self == other

    # ---------------------------------------------------------------- bnlab's own
    @property
    def holds_data(self) -> builtins.bool:
        """Whether bnlab's TF face can store tensors of this type (see the module's docstring)."""
        return self._storage is not None

    @property
    def kernel_name(self) -> str:
        """The name TensorFlow's op errors use: ``float`` for float32, ``double`` for float64."""
        return _KERNEL_NAMES.get(self._name, self._name)

    # ---------------------------------------------------------------- Python protocol
    def __repr__(self) -> str:
        return f"tf.{self._name}"

    def __str__(self) -> str:
        return f"<dtype: '{self._name}'>"

    def __eq__(self, other) -> builtins.bool:
        if other is self:
            return True
        if other is None:
            return False
        if not isinstance(other, DType):
            try:
                other = as_dtype(other)
            except TypeError:
                return False
        return self._name == other._name

    def __ne__(self, other) -> builtins.bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return _ENUMS[self._name]

    def __reduce__(self):
        return (as_dtype, (self._name,))


float32 = DType("float32", np.float32, _torch.float32)
float64 = DType("float64", np.float64, None)
float16 = DType("float16", np.float16, None)
int8 = DType("int8", np.int8, _torch.int32)
int16 = DType("int16", np.int16, _torch.int32)
int32 = DType("int32", np.int32, _torch.int32)
int64 = DType("int64", np.int64, _torch.int64)
uint8 = DType("uint8", np.uint8, _torch.uint8)
uint16 = DType("uint16", np.uint16, None)
uint32 = DType("uint32", np.uint32, None)
uint64 = DType("uint64", np.uint64, None)
bool = DType("bool", np.bool_, _torch.bool)
double = float64
half = float16

_ALL = (float32, float64, float16, int8, int16, int32, int64, uint8, uint16, uint32, uint64, bool)
_BY_NAME = {d.name: d for d in _ALL}
_BY_NAME.update(float=float32, double=float64, half=float16)
_BY_NUMPY = {d._np: d for d in _ALL}
_BY_TORCH_NAME = {"float32": float32, "int32": int32, "int64": int64, "uint8": uint8, "bool": bool}
_PYTHON = {builtins.float: float32, builtins.int: int32, builtins.bool: bool}
# the types whose narrow integers are stored wider (int32) and wrapped into their range after each op
NARROW = (int8, int16)


def as_dtype(type_value) -> DType:
    """The DType named by ``type_value``: a DType, a name (``"float32"``, ``"float"``, ``"double"``), a NumPy type
    or dtype (``np.int64``), or a Python type (``float`` is float32, ``int`` int32, ``bool`` bool)."""
    if isinstance(type_value, DType):
        return type_value
    if isinstance(type_value, str):
        found = _BY_NAME.get(type_value)
        if found is not None:
            return found
    elif isinstance(type_value, type) and type_value in _PYTHON:
        return _PYTHON[type_value]
    elif isinstance(type_value, _torch.dtype):
        found = _BY_TORCH_NAME.get(type_value.name)
        if found is not None:
            return found
    else:
        try:
            found = _BY_NUMPY.get(np.dtype(type_value))
        except TypeError:
            found = None
        if found is not None:
            return found
    raise TypeError(f"Cannot convert the argument `type_value`: {type_value!r} to a TensorFlow DType.")


_HELD = "float32, int8, int16, int32, int64, uint8 and bool"


def data_dtype(dtype, arg: str = "dtype") -> DType | None:
    """``dtype`` (None stays None) as a DType that holds data; TypeError naming the argument ``arg`` otherwise."""
    if dtype is None:
        return None
    d = as_dtype(dtype)
    if d._storage is not None:
        return d
    if d.is_floating:
        raise TypeError(
            f"{arg}={d!r}: bnlab's TF face computes in float32 (its engine has float32 kernels only) and holds no "
            f"{d.name} tensors; cast to tf.float32 (tf.cast(x, tf.float32)) or pass {arg}=tf.float32"
        )
    raise TypeError(f"{arg}={d!r}: bnlab's TF face holds {_HELD} tensors, not {d.name}; use tf.int32 or tf.int64")


def of_numpy(np_dtype) -> DType:
    """The DType a NumPy array of ``np_dtype`` becomes: its own type, except float64/float16 -> float32 (the engine
    computes in float32), uint16 -> int32 and uint32 -> int64; TypeError for other kinds (strings, complex...)."""
    np_dtype = np.dtype(np_dtype)
    found = _BY_NUMPY.get(np_dtype)
    if found is not None and found._storage is not None:
        return found
    if np_dtype.kind == "f":
        return float32
    if np_dtype == np.uint16:
        return int32
    if np_dtype == np.uint32:
        return int64
    raise TypeError(f"bnlab's TF face holds {_HELD} tensors; cannot convert NumPy data of dtype {np_dtype}")


def of_torch(torch_dtype) -> DType:
    """The DType of a bnlab.torch tensor's dtype."""
    return _BY_TORCH_NAME[torch_dtype.name]


def __getattr__(name):
    # tf.dtypes.cast is tf.cast; it lives with the other ops and loads on first use (the ops import this module)
    if name == "cast":
        from .creation import cast

        return cast
    raise AttributeError(f"module 'bnlab.tf.dtypes' has no attribute {name!r}")
