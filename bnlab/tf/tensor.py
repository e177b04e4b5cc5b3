"""``tf.Tensor``: TensorFlow's eager tensor over a bnlab.torch tensor (its shape is a ``TensorShape``,
``tensor_shape``), and the helpers every op uses to make and read tensors (``wrap``, ``from_array``, ``array_of``).

Storage. A Tensor wraps a bnlab.torch tensor (attribute ``_t``) and its TF ``DType`` (``_dtype``): float32 data
lives in the engine, integer and bool data in host memory (NumPy arrays), as bnlab.torch keeps them; int8 and
int16 are stored as int32 (see ``dtypes``). Eager tensors are immutable: no op writes into a tensor's memory. The
only mutable memory is a ``tf.Variable``'s; a Tensor over it (``v.value()``) has ``_shared`` set, and the ops that
would return a view of their input (``reshape``, ``expand_dims``, ``squeeze``...) copy such a tensor first.

Autograd. The TF face has one autograd, bnlab.torch's: every op computes with bnlab.torch's functions, so that
its result's ``_t`` is on bnlab.torch's tape while a GradientTape records (``_record``).

The Python protocol follows TensorFlow 2's EagerTensor: ``repr`` is
``<tf.Tensor: shape=(2,), dtype=float32, numpy=array([1., 2.], dtype=float32)>`` (a newline after ``numpy=`` when
NumPy's text has several lines), ``str`` is ``tf.Tensor([1. 2.], shape=(2,), dtype=float32)``; ``==`` compares
elementwise, so tensors are unhashable (``t.ref()`` is the hashable key); ``bool``/``float``/``int`` convert as
the NumPy value does; ``len`` and iteration need rank >= 1. The operators (``+ - * / // % ** @``, comparisons,
``& | ^ ~``, ``t[...]``) call the ops of ``math`` and ``shape_ops``, which this module imports lazily.
"""

from __future__ import annotations

import importlib

import numpy as np

from . import dtypes as _dtypes
from .device import CPU_DEVICE
from .tensor_shape import TensorShape, as_shape

__all__ = ["Reference", "Tensor", "TensorShape"]


# ---------------------------------------------------------------------------------------------------- Reference
class Reference:
    """A hashable reference to a tensor or variable (``t.ref()``): equal only to a reference to the same object;
    ``deref()`` gives the object back. The key to use in sets and dicts, as in TensorFlow."""

    __slots__ = ("_obj",)

    def __init__(self, obj) -> None:
        self._obj = obj

    def deref(self):
        return self._obj

    def __eq__(self, other) -> bool:
        return isinstance(other, Reference) and other._obj is self._obj

    def __hash__(self) -> int:
        return id(self._obj)

    def __repr__(self) -> str:
        return f"<Reference at 0x{id(self):x} with wrapped object {self._obj!r}>"


# ---------------------------------------------------------------------------------------------------- helpers
_OPS = {}


def _op(module: str, name: str):
    """The op ``name`` of ``bnlab.tf.<module>`` (imported on first use: those modules import this one)."""
    key = (module, name)
    fn = _OPS.get(key)
    if fn is None:
        fn = _OPS[key] = getattr(importlib.import_module(f"bnlab.tf.{module}"), name)
    return fn


def numpy_text(value, is_repr: bool) -> str:
    """TensorFlow's text of a value in reprs and strs: NumPy's repr (or str) of the array, the Python value's repr
    for a scalar in a repr (``numpy=1.0``, ``numpy=0.10000000149011612`` for float32 0.1), after a newline when the
    text has several lines."""
    text = (repr(value.item()) if np.isscalar(value) else repr(value)) if is_repr else str(value)
    return "\n" + text if "\n" in text else text


def narrowed(array: np.ndarray, dtype) -> np.ndarray:
    """Integer values of an int8/int16 tensor, stored as int32, wrapped into the type's range (two's complement)."""
    info = np.iinfo(dtype._np)
    if array.size and (array.min() < info.min or array.max() > info.max):
        array = array.astype(dtype._np).astype(np.int32)
    return array


def wrap(t, dtype=None, shared: bool = False) -> Tensor:
    """A Tensor over the bnlab.torch tensor ``t`` (no copy). ``dtype`` (a DType) defaults to t's own; for int8 and
    int16 the int32 values are wrapped into that type's range. ``shared``: t is a Variable's memory."""
    if dtype is None:
        dtype = _dtypes.of_torch(t.dtype)
    elif dtype in _dtypes.NARROW:
        a = t.numpy(force=True)
        b = narrowed(a, dtype)
        if b is not a:
            t = _torch().from_numpy(b)
    out = _new(Tensor)
    out._t, out._dtype, out._shared = t, dtype, shared
    return out


def from_array(array, dtype) -> Tensor:
    """A new Tensor holding ``array`` converted to ``dtype`` (a DType that holds data)."""
    array = np.asarray(array)
    with np.errstate(all="ignore"):
        if dtype._storage is _torch().float32:
            return wrap(_torch().from_numpy(np.asarray(array, dtype=np.float32, order="C")), dtype)
        if array.dtype != dtype._np:
            array = array.astype(dtype._np)
    storage = array if array.dtype == dtype._storage.np else array.astype(dtype._storage.np)
    return wrap(_torch().from_numpy(np.array(storage, order="C")), dtype)


def array_of(x) -> np.ndarray:
    """The data of Tensor ``x`` as a NumPy array of its dtype: a read-only view for float32 (do not write to it), a
    copy for int8/int16."""
    a = x._t.numpy(force=True)
    return a.astype(x._dtype._np) if x._dtype in _dtypes.NARROW else a


def owned(x):
    """The bnlab.torch tensor of ``x``, copied (differentiably) when it is a Variable's memory: for the ops whose
    bnlab.torch form would return a view of their input."""
    return x._t.clone() if x._shared else x._t


_new = object.__new__
_TORCH = []


def _torch():
    if not _TORCH:
        from .. import torch

        _TORCH.append(torch)
    return _TORCH[0]


# ---------------------------------------------------------------------------------------------------- operators
class TensorOperators:
    """The Python operators of tensors and variables, each one TF op (``+`` is ``tf.math.add``...); in a reflected
    operator (``2 * t``) the plain operand is converted to the tensor's dtype first, as TensorFlow does."""

    __array_priority__ = 100  # NumPy defers to these operators: ndarray + tensor gives a tensor

    def _reflected(self, other):
        """The left operand of a reflected operator (``2 + t``): plain data takes this tensor's dtype first, as
        TensorFlow's operators convert it (TypeError when it cannot)."""
        t = _op("variables", "as_tensor_like")(other)
        return t if t is not None else _op("variables", "convert_to_tensor")(other, dtype=self.dtype)

    def __add__(self, other):
        return _op("math_ops", "add")(self, other)

    def __radd__(self, other):
        return _op("math_ops", "add")(self._reflected(other), self)

    def __sub__(self, other):
        return _op("math_ops", "subtract")(self, other)

    def __rsub__(self, other):
        return _op("math_ops", "subtract")(self._reflected(other), self)

    def __mul__(self, other):
        return _op("math_ops", "multiply")(self, other)

    def __rmul__(self, other):
        return _op("math_ops", "multiply")(self._reflected(other), self)

    def __truediv__(self, other):
        return _op("math_ops", "truediv")(self, other)

    def __rtruediv__(self, other):
        return _op("math_ops", "truediv")(self._reflected(other), self)

    def __floordiv__(self, other):
        return _op("math_ops", "floordiv")(self, other)

    def __rfloordiv__(self, other):
        return _op("math_ops", "floordiv")(self._reflected(other), self)

    def __mod__(self, other):
        return _op("math_ops", "floormod")(self, other)

    def __rmod__(self, other):
        return _op("math_ops", "floormod")(self._reflected(other), self)

    def __pow__(self, other):
        return _op("math_ops", "pow")(self, other)

    def __rpow__(self, other):
        return _op("math_ops", "pow")(self._reflected(other), self)

    def __matmul__(self, other):
        return _op("linalg", "matmul")(self, other)

    def __rmatmul__(self, other):
        return _op("linalg", "matmul")(self._reflected(other), self)

    def __neg__(self):
        return _op("math_ops", "negative")(self)

    def __abs__(self):
        return _op("math_ops", "abs")(self)

    def __invert__(self):
        return _op("compare_ops", "invert_")(self)

    def __and__(self, other):
        return _op("compare_ops", "and_")(self, other)

    def __rand__(self, other):
        return _op("compare_ops", "and_")(self._reflected(other), self)

    def __or__(self, other):
        return _op("compare_ops", "or_")(self, other)

    def __ror__(self, other):
        return _op("compare_ops", "or_")(self._reflected(other), self)

    def __xor__(self, other):
        return _op("compare_ops", "xor_")(self, other)

    def __rxor__(self, other):
        return _op("compare_ops", "xor_")(self._reflected(other), self)

    def __lt__(self, other):
        return _op("math_ops", "less")(self, other)

    def __le__(self, other):
        return _op("math_ops", "less_equal")(self, other)

    def __gt__(self, other):
        return _op("math_ops", "greater")(self, other)

    def __ge__(self, other):
        return _op("math_ops", "greater_equal")(self, other)

    def __eq__(self, other):
        return _op("compare_ops", "tensor_equals")(self, other)

    def __ne__(self, other):
        return _op("compare_ops", "tensor_not_equals")(self, other)

    def __getitem__(self, key):
        return _op("shape_ops", "getitem")(self, key)

    def ref(self) -> Reference:
        """A hashable reference to this object (the key for sets and dicts)."""
        return Reference(self)

    experimental_ref = ref


# ---------------------------------------------------------------------------------------------------- Tensor
class Tensor(TensorOperators):
    """An immutable multi-dimensional array with a ``shape`` (TensorShape), a ``dtype`` (DType) and a ``device``.

    Made by ops (``tf.constant``, ``tf.zeros``, ``x + y``...), not by calling the class."""

    def __init__(self, *args, **kwargs) -> None:
        raise TypeError("tf.Tensor objects are made by ops: use tf.constant(value) or tf.convert_to_tensor(value)")

    # ---------------------------------------------------------------- properties
    @property
    def dtype(self):
        return self._dtype

    @property
    def shape(self) -> TensorShape:
        return TensorShape(self._t.shape)

    def get_shape(self) -> TensorShape:
        return self.shape

    def set_shape(self, shape) -> None:
        """Check that ``shape`` fits this tensor's (an eager tensor's shape is known and cannot change)."""
        if not self.shape.is_compatible_with(shape):
            raise ValueError(f"Tensor's shape {self.shape} is not compatible with supplied shape {as_shape(shape)}.")

    @property
    def ndim(self) -> int:
        return self._t.dim()

    @property
    def device(self) -> str:
        """TensorFlow's full device name; bnlab's TF face computes on the CPU."""
        return CPU_DEVICE

    @property
    def backing_device(self) -> str:
        return CPU_DEVICE

    @property
    def name(self):
        raise AttributeError("Tensor.name is undefined when eager execution is enabled.")

    @property
    def is_tensor_like(self) -> bool:
        return True

    def numpy(self):
        """The value as a new NumPy array (a NumPy scalar for a rank-0 tensor), as TensorFlow's ``numpy()``."""
        a = np.array(array_of(self))
        return a[()] if a.ndim == 0 else a

    def cpu(self) -> Tensor:
        return self

    def __array__(self, dtype=None, copy=None):
        a = array_of(self)
        return np.array(a, dtype=dtype) if dtype is not None or copy else a.copy()

    # ---------------------------------------------------------------- Python protocol
    def __repr__(self) -> str:
        return f"<tf.Tensor: shape={self.shape}, dtype={self._dtype.name}, numpy={numpy_text(self.numpy(), True)}>"

    def __str__(self) -> str:
        return f"tf.Tensor({numpy_text(self.numpy(), False)}, shape={self.shape}, dtype={self._dtype.name})"

    def __format__(self, format_spec: str) -> str:
        return format(self.numpy(), format_spec)

    def __hash__(self):
        raise TypeError("Tensor is unhashable. Instead, use tensor.ref() as the key.")

    def __bool__(self) -> bool:
        return bool(self.numpy())

    def __float__(self) -> float:
        return float(self.numpy())

    def __int__(self) -> int:
        return int(self.numpy())

    def __index__(self) -> int:
        return self.numpy().__index__()

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("Scalar tensor has no `len()`")
        return self._t.shape[0]

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("Cannot iterate over a scalar tensor.")
        return (self[i] for i in range(self._t.shape[0]))

    def __copy__(self) -> Tensor:
        return self  # immutable

    def __deepcopy__(self, memo) -> Tensor:
        return self if not self._shared else from_array(array_of(self), self._dtype)

    def __reduce__(self):
        from .variables import constant

        return (constant, (self.numpy(), self._dtype.name))
