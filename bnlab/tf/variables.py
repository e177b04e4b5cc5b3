"""``tf.Variable``, ``tf.convert_to_tensor``, ``tf.constant`` and ``tf.is_tensor``.

Conversion (``convert_to_tensor``, which every op applies to its tensor arguments) follows TensorFlow:

    Tensor                    itself
    Variable                  its value: a Tensor over the variable's own memory, so gradients reach it
    a Keras variable          a Tensor over its weight (bnlab.tf._keras_bridge.keras_variable_tensor)
    Python bool / int / float bool / int32 (int64 when the value needs it) / float32
    nested lists              the same rules over the elements; lists holding tensors are stacked (tf.stack)
    NumPy data                its own dtype, except float64 and float16 -> float32 (bnlab's engine computes in
                              float32; TensorFlow would keep float64), uint16 -> int32, uint32 -> int64

With ``dtype=``, NumPy data is cast to it (``tf.cast``: floats truncate toward zero), a Python value converts
when TensorFlow's rule allows it (ints and bools to any number type, floats to float types; a float never to an
integer type, only a bool to bool: TypeError "Cannot convert 1.5 to EagerTensor of dtype int32"), and a Tensor
must already have that dtype (ValueError "Tensor conversion requested dtype ..."). ``dtype=tf.float64`` (or
float16) raises a TypeError naming ``dtype``.

Variables. A ``tf.Variable`` holds its value in a bnlab.torch LEAF tensor (``_t``), created with ``requires_grad``
when the variable is trainable, which a float variable is by default (an integer or bool variable never is: it
cannot have gradients; TensorFlow reports ``trainable=True`` for it but never differentiates it). ``assign``,
``assign_add`` and ``assign_sub`` write the new values into that same leaf, outside any tape, and return the
variable. One difference from TensorFlow: ``v.value()`` (and ``tf.convert_to_tensor(v)``) is a Tensor over the
variable's memory, not a snapshot, so it shows later assignments; ops never return such a view (``tf.identity(v)``
and ``v + 0`` are copies). An assignment between a recorded read of the variable and ``tape.gradient`` makes
bnlab.torch's backward refuse (the value it saved was modified in place).
"""

from __future__ import annotations

import copy as _copy
import numbers

import numpy as np

from .. import torch as _torch
from . import _record
from . import dtypes as _dtypes
from .device import CPU_DEVICE
from .errors import invalid
from .tensor import Tensor, TensorOperators, array_of, from_array, numpy_text, wrap

__all__ = ["Variable", "constant", "convert_to_tensor", "is_tensor"]

_INT32 = np.iinfo(np.int32)
_INT64 = np.iinfo(np.int64)
_BRIDGE = []  # [module or None] once looked up


def _keras_tensor(value):
    """The bnlab.torch tensor of a Keras variable (the other face's weights), or None."""
    if not _BRIDGE:
        try:
            from . import _keras_bridge
        except ImportError:
            _keras_bridge = None
        _BRIDGE.append(_keras_bridge)
    fn = getattr(_BRIDGE[0], "keras_variable_tensor", None)
    return None if fn is None else fn(value)


_PLAIN = (numbers.Number, str, bytes, list, tuple, np.ndarray, np.generic, type(None))


def as_tensor_like(value):
    """``value`` as a Tensor when it already is tensor data (Tensor, Variable, bnlab.torch tensor, Keras variable);
    None for plain data (numbers, lists, NumPy arrays...)."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, Variable):
        return value.value()
    if isinstance(value, _torch.Tensor):
        return wrap(value)
    if isinstance(value, _PLAIN):
        return None
    t = _keras_tensor(value)
    return None if t is None else wrap(t)


def _holds_tensor(value) -> bool:
    if isinstance(value, (list, tuple)):
        return any(_holds_tensor(v) for v in value)
    return as_tensor_like(value) is not None


def _unsupported(value) -> ValueError:
    return ValueError(f"Attempt to convert a value ({value!r}) with an unsupported type ({type(value)}) to a Tensor.")


def _python_array(value) -> np.ndarray:
    """Python numbers and (nested) lists as a NumPy array of TensorFlow's inferred type."""
    if isinstance(value, bool):
        return np.array(value)
    if isinstance(value, int):
        if _INT32.min <= value <= _INT32.max:
            return np.array(value, dtype=np.int32)
        if _INT64.min <= value <= _INT64.max:
            return np.array(value, dtype=np.int64)
        raise ValueError(f"Can't convert Python int {value} to an int64 tensor: it is out of range.")
    if isinstance(value, float):
        return np.array(value, dtype=np.float32)
    try:
        a = np.array(value)
    except (ValueError, TypeError):
        raise ValueError("Can't convert non-rectangular Python sequence to Tensor.") from None
    if a.dtype.kind in "iu":
        fits = a.size == 0 or (a.min() >= _INT32.min and a.max() <= _INT32.max)
        return a.astype(np.int32 if fits else np.int64)
    if a.dtype.kind == "f":
        return a.astype(np.float32)
    if a.dtype.kind == "b":
        return a
    if a.dtype.kind in "US":
        raise TypeError("bnlab's TF face has no string tensors")
    raise _unsupported(value)


def _compatible(desired, source) -> bool:
    """TensorFlow's rule for converting Python data inferred as ``source`` to ``desired`` (both DTypes): integers
    (and bools) to any number type, floats to float types, only bools to bool."""
    if desired == source:
        return True
    if desired.is_integer:
        return source.is_integer or source.is_bool
    return bool(desired.is_floating)


def _convert(value, dtype):
    t = as_tensor_like(value)
    if t is not None:
        if dtype is not None and t._dtype != dtype:
            raise ValueError(
                f"Tensor conversion requested dtype {dtype.name} for Tensor with dtype {t.dtype.name}: {t!r}"
            )
        return t
    if isinstance(value, (list, tuple)) and value and _holds_tensor(value):
        from .shape_ops import stack

        return stack([_convert(v, dtype) for v in value])
    if value is None:
        raise _unsupported(value)
    if isinstance(value, (str, bytes)):
        raise TypeError("bnlab's TF face has no string tensors")
    if isinstance(value, (np.ndarray, np.generic)):
        a = np.asarray(value)
        if a.dtype.kind in "OUSV":
            raise TypeError(f"bnlab's TF face cannot convert NumPy data of dtype {a.dtype}")
        inferred = _dtypes.of_numpy(a.dtype)
    elif isinstance(value, (numbers.Number, list, tuple)):
        if not isinstance(value, (bool, int, float, list, tuple)):  # Fraction, Decimal, complex...
            if not isinstance(value, numbers.Real):
                raise TypeError(f"bnlab's TF face has no complex tensors: cannot convert {value!r}")
            value = int(value) if isinstance(value, numbers.Integral) else float(value)
        a = _python_array(value)
        inferred = _dtypes.of_numpy(a.dtype)
    elif hasattr(value, "__array__"):
        return _convert(np.asarray(value), dtype)
    else:
        raise _unsupported(value)
    if dtype is None:
        return from_array(a, inferred)
    if isinstance(value, (np.ndarray, np.generic)):  # NumPy data is cast (TensorFlow's Cast: floats truncate)
        from .creation import cast

        return cast(from_array(a, inferred), dtype)
    if not _compatible(dtype, inferred):
        raise TypeError(f"Cannot convert {value!r} to EagerTensor of dtype {dtype.kernel_name}")
    return from_array(a, dtype)


@_record.op
def convert_to_tensor(value, dtype=None, dtype_hint=None, name=None, preferred_dtype=None) -> Tensor:
    """``value`` as a Tensor (see the module's docstring for the rules). ``dtype`` is required of the result;
    ``dtype_hint`` (alias ``preferred_dtype``) is tried first and dropped when the value does not convert to it."""
    dtype = _dtypes.data_dtype(dtype)
    hint = dtype_hint if dtype_hint is not None else preferred_dtype
    if dtype is None and hint is not None:
        try:
            return _convert(value, _dtypes.data_dtype(hint, "dtype_hint"))
        except (TypeError, ValueError):
            pass
    return _convert(value, dtype)


@_record.op
def constant(value, dtype=None, shape=None, name="Const") -> Tensor:
    """A tensor from ``value`` (converted as ``convert_to_tensor``; an eager Tensor is returned as it is).
    With ``shape``: a value with as many elements is reshaped, a one-element value fills the shape."""
    dtype = _dtypes.data_dtype(dtype)
    t = as_tensor_like(value)
    if t is not None and dtype is not None and t._dtype != dtype:
        raise TypeError(f"Expected tensor {t.numpy()} with dtype {dtype!r}, but got dtype {t.dtype!r}.")
    t = _convert(value, dtype)
    if t._shared:  # a Variable's value: the constant is a snapshot (a differentiable copy)
        t = wrap(t._t.clone(), t._dtype)
    if shape is None:
        return t
    from .creation import fill
    from .shape_ops import reshape

    target = [int(d) for d in (shape.as_list() if hasattr(shape, "as_list") else np.atleast_1d(shape))]
    if list(t.shape) == target:
        return t
    n, want = t.shape.num_elements(), int(np.prod(target, dtype=np.int64))
    if n == want:
        return reshape(t, target)
    if n == 1:
        return fill(target, reshape(t, []))
    raise TypeError(
        f"Eager execution of tf.constant with unsupported shape. Tensor {t.numpy()} (converted from {value!r}) has {n} "
        f"elements, but got `shape` {tuple(target)} with {want} elements)."
    )


def is_tensor(x) -> bool:
    """True for tensors and variables (TensorFlow counts a variable as tensor-like)."""
    return isinstance(x, (Tensor, Variable)) or bool(getattr(x, "is_tensor_like", False))


# ---------------------------------------------------------------------------------------------------- Variable
def _shape_text(shape) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


class Variable(TensorOperators):
    """A mutable tensor: ``tf.Variable(initial_value, trainable=True, name=None, dtype=None, ...)``.

    ``name`` is TensorFlow's ``"<name>:0"`` (``"Variable:0"`` by default: eager variables are not uniquified);
    ``value()``/``read_value()`` are Tensors over the variable's memory; ``assign*`` write into it."""

    def __init__(
        self,
        initial_value=None,
        trainable=None,
        validate_shape=True,
        caching_device=None,
        name=None,
        variable_def=None,
        dtype=None,
        import_scope=None,
        constraint=None,
        synchronization=None,
        aggregation=None,
        shape=None,
        experimental_enable_variable_lifting=True,
    ) -> None:
        if initial_value is None:
            raise ValueError(
                "The `initial_value` arg to `tf.Variable` must be specified except when you are not providing a "
                "`variable_def`. You provided neither."
            )
        if constraint is not None and not callable(constraint):
            raise ValueError(f"The `constraint` argument must be a callable. Received: {constraint!r}")
        if callable(initial_value):
            initial_value = initial_value()
        with _torch.no_grad():
            init = convert_to_tensor(initial_value, dtype=dtype)
        if shape is not None and not init.shape.is_compatible_with(shape):
            raise ValueError(
                f"The initial value's shape ({init.shape}) is not compatible with the explicitly "
                f"supplied `shape` argument ({shape})."
            )
        self._dtype = init._dtype
        self._trainable = (True if trainable is None else bool(trainable)) and self._dtype.is_floating
        data = np.array(init._t.numpy(force=True))  # a copy: the leaf owns its memory
        leaf = _torch.tensor(data) if self._dtype.is_floating else _torch.from_numpy(data)
        self._t = leaf.requires_grad_(True) if self._trainable else leaf
        self._name = f"{name if name else 'Variable'}:0"
        self._initial = init
        self.constraint = constraint
        self.synchronization = synchronization
        self.aggregation = aggregation

    # ---------------------------------------------------------------- properties
    @property
    def name(self) -> str:
        return self._name

    @property
    def dtype(self):
        return self._dtype

    @property
    def shape(self):
        return self.value().shape

    def get_shape(self):
        return self.shape

    @property
    def trainable(self) -> bool:
        return self._trainable

    @property
    def device(self) -> str:
        return CPU_DEVICE

    @property
    def initial_value(self) -> Tensor:
        return self._initial

    @property
    def is_tensor_like(self) -> bool:
        return True

    def _engine_tensor(self):
        """The engine tensor under the variable's leaf, for a float32 variable (None otherwise): what a Keras
        optimizer's ``apply_gradients`` updates in place, so that it reaches a plain ``tf.Variable`` as it
        reaches a layer's weights."""
        if self._dtype != _dtypes.float32:
            return None
        return getattr(self._t, "_c", None)

    # ---------------------------------------------------------------- reading
    def value(self) -> Tensor:
        """A Tensor over the variable's own bnlab.torch leaf (gradients flow to the variable)."""
        return wrap(self._t, self._dtype, shared=True)

    def read_value(self) -> Tensor:
        return self.value()

    def numpy(self):
        return self.value().numpy()

    def __array__(self, dtype=None, copy=None):
        return self.value().__array__(dtype)

    # ---------------------------------------------------------------- writing
    def _write(self, new: Tensor, read_value: bool):
        with _torch.no_grad():
            self._t.copy_(new._t.detach())
        return self if read_value else None

    def assign(self, value, use_locking=None, name=None, read_value=True):
        """Write ``value`` (converted to the variable's dtype; same shape) into the variable; returns it."""
        new = convert_to_tensor(value, dtype=self._dtype)
        if new.shape != self.shape:
            raise ValueError(
                f"Cannot assign value to variable ' {self._name}': Shape mismatch.The variable shape {self.shape}, "
                f"and the assigned value shape {new.shape} are incompatible."
            )
        return self._write(new, read_value)

    def _update(self, delta, op_name: str, sign, read_value: bool):
        from .math import add, subtract

        delta = convert_to_tensor(delta, dtype=self._dtype)
        if delta.shape != self.shape:
            raise invalid(
                f"Cannot update variable with shape {_shape_text(self.shape)} using a Tensor with shape "
                f"{_shape_text(delta.shape)}, shapes must be equal.",
                op_name,
            )
        new = (add if sign > 0 else subtract)(self.value(), delta)
        return self._write(new, read_value)

    def assign_add(self, delta, use_locking=None, name=None, read_value=True):
        """variable <- variable + delta (delta of the variable's shape); returns the variable."""
        return self._update(delta, "AssignAddVariableOp", 1, read_value)

    def assign_sub(self, delta, use_locking=None, name=None, read_value=True):
        """variable <- variable - delta (delta of the variable's shape); returns the variable."""
        return self._update(delta, "AssignSubVariableOp", -1, read_value)

    # ---------------------------------------------------------------- Python protocol
    def __repr__(self) -> str:
        text = numpy_text(self.numpy(), True)
        return f"<tf.Variable '{self._name}' shape={self.shape} dtype={self._dtype.name}, numpy={text}>"

    def __hash__(self):
        raise TypeError(f"Variable is unhashable. Instead, use variable.ref() as the key. (Variable: {self!r})")

    def __bool__(self) -> bool:
        return bool(self.numpy())

    def __float__(self) -> float:
        return float(self.numpy())

    def __int__(self) -> int:
        return int(self.numpy())

    def __index__(self) -> int:
        return self.numpy().__index__()

    def __iter__(self):
        """Iterates over the value of the variable (its rows)."""
        return iter(self.value())

    def __format__(self, format_spec: str) -> str:
        return format(self.numpy(), format_spec) if format_spec else repr(self)

    def __deepcopy__(self, memo) -> Variable:
        out = Variable(array_of(self.value()).copy(), trainable=self._trainable, dtype=self._dtype)
        out._name, out.constraint = self._name, _copy.deepcopy(self.constraint, memo)
        return out

    def __reduce__(self):
        return (_rebuild, (self.numpy(), self._dtype.name, self._name, self._trainable))


def _rebuild(value, dtype_name, name, trainable) -> Variable:
    v = Variable(from_array(value, _dtypes.as_dtype(dtype_name)), trainable=trainable)
    v._name = name
    return v
