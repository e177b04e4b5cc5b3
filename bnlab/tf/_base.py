"""Plumbing shared by the TF face's ops: argument conversion, dtype and shape checks, axes, selections by index.

Selections. Every op that only moves values (slicing, ``gather``, ``tile``, ``broadcast_to``, ``where``...) is
written once, as a NumPy function of an array. For integer and bool tensors it runs on the data. For float32
tensors it runs on ``arange(n)`` shaped like the tensor, which gives, for every output element, the flat index of
the input element it copies; bnlab.torch's indexing then gathers those elements (``flat[index]``), so the result is
exact and its gradient is bnlab.torch's: the output gradient scatter-added back to the inputs.

Zero links. A few ops have a value bnlab.torch cannot compute and a derivative that is simple (``mod``, ``pow``
with a tensor exponent, ``reduce_prod``...). They compute the value with NumPy and, while a tape records, add
``z * J`` where ``z = x - stop_gradient(x)`` is exactly zero with derivative 1 and ``J`` is the op's derivative
(a constant): the value is unchanged, the gradient is ``g * J``.
"""

from __future__ import annotations

import numpy as np

from .. import torch as _torch
from . import dtypes as _dt
from .errors import invalid
from .tensor import Tensor, array_of, from_array, wrap
from .variables import as_tensor_like, convert_to_tensor

__all__ = [
    "axes_arg",
    "binary_operands",
    "broadcast_shape",
    "check_dtypes",
    "floating",
    "int_dtype",
    "int_list",
    "norm_axis",
    "numeric",
    "plus_terms",
    "quiet",
    "select",
    "shape_text",
    "take",
    "taping",
    "tensor",
    "zero_link",
]

F32 = _dt.float32


def tensor(x, dtype=None) -> Tensor:
    """An op's tensor argument, converted (Tensor, Variable, number, list, array...)."""
    if isinstance(x, Tensor) and dtype is None:
        return x
    return convert_to_tensor(x, dtype=dtype)


def taping(*tensors) -> bool:
    """Whether bnlab.torch records now and one of ``tensors`` (Tensors) requires grad."""
    return _torch.is_grad_enabled() and any(t._t.requires_grad for t in tensors)


def shape_text(shape) -> str:
    """A shape as TensorFlow's kernels print it: ``[2,3]``."""
    return "[" + ",".join(str(d) for d in shape) + "]"


def numeric(d) -> bool:
    """A DType predicate: every type but bool (TensorFlow's arithmetic types here)."""
    return not d.is_bool


def floating(d) -> bool:
    """A DType predicate: floating types."""
    return d.is_floating


def quiet(fn, *arrays):
    """``fn(*arrays)`` with NumPy's floating-point warnings off (TensorFlow's kernels give inf/NaN silently)."""
    with np.errstate(all="ignore"):
        return fn(*arrays)


def plus_terms(out: Tensor, terms) -> Tensor:
    """``out`` plus zero-valued gradient terms (``zero_link(x) * J``, bnlab.torch tensors) broadcast to its shape."""
    t = out._t
    for term in terms:
        t = t + term
    return wrap(t) if terms else out


def _mismatch(op: str, tx: Tensor, ty: Tensor):
    return invalid(
        f"cannot compute {op} as input #1(zero-based) was expected to be a {tx._dtype.kernel_name} tensor but is a "
        f"{ty._dtype.kernel_name} tensor",
        op,
    )


def binary_operands(op: str, x, y) -> tuple[Tensor, Tensor]:
    """The operands of a binary op function as Tensors of one dtype, by TensorFlow's eager rule: the first operand
    gives the dtype. A tensor ``x`` converts plain data ``y`` (a number, a list, a NumPy array) to its dtype
    (TypeError when it cannot: "Cannot convert 2.5 to EagerTensor of dtype int32"); a plain ``x`` is converted on
    its own (a Python int is int32) and a plain ``y`` follows it where it can; two dtypes then raise
    InvalidArgumentError ("cannot compute AddV2 as input #1(zero-based) was expected to be a int32 tensor but is a
    float tensor"), so ``tf.add(2, tf.constant(1.0))`` fails as in TensorFlow while ``2 + tf.constant(1.0)`` (an
    operator: the plain operand takes the tensor's dtype) works."""
    tx, ty = as_tensor_like(x), as_tensor_like(y)
    if ty is None:
        if tx is not None:
            ty = convert_to_tensor(y, dtype=tx._dtype)
        else:
            tx = convert_to_tensor(x)
            try:
                ty = convert_to_tensor(y, dtype=tx._dtype)
            except (TypeError, ValueError):
                ty = convert_to_tensor(y)
    elif tx is None:
        tx = convert_to_tensor(x)
    if tx._dtype != ty._dtype:
        raise _mismatch(op, tx, ty)
    return tx, ty


def check_dtypes(op: str, x: Tensor, allowed, index: int = 0) -> None:
    """InvalidArgumentError unless x's dtype is one of ``allowed`` (a predicate on DTypes or a tuple of them)."""
    ok = allowed(x._dtype) if callable(allowed) else x._dtype in allowed
    if not ok:
        raise invalid(
            f"Value for attr 'T' of {x._dtype.name} is not in the list of allowed values for input #{index} of {op}",
            op,
        )


def broadcast_shape(op: str, *shapes) -> tuple:
    """NumPy's broadcast of ``shapes``; TensorFlow's "Incompatible shapes" InvalidArgumentError otherwise."""
    try:
        return tuple(np.broadcast_shapes(*[tuple(s) for s in shapes]))
    except ValueError:
        raise invalid("Incompatible shapes: " + " vs. ".join(shape_text(s) for s in shapes), op) from None


def _as_int(value, arg: str) -> int:
    a = np.asarray(value)
    if a.ndim != 0 or a.dtype.kind not in "iu":
        raise TypeError(f"{arg} must be an integer, got {value!r}")
    return int(a)


def norm_axis(axis, rank: int, op: str, arg: str = "axis", extra: int = 0) -> int:
    """``axis`` (an int or a scalar integer tensor) in ``[0, rank + extra)``; negative axes count from the end."""
    a = _as_int(axis, arg)
    n = rank + extra
    if not -n <= a < n:
        raise invalid(f"{arg} {a} is out of range for a tensor of rank {rank}: it must be in [{-n}, {n})", op)
    return a % n


def axes_arg(axis, rank: int, op: str) -> tuple[int, ...]:
    """The axes a reduction reduces: all of them for None, else the (deduplicated, sorted) normalized axes."""
    if axis is None:
        return tuple(range(rank))
    a = np.asarray(axis.numpy() if hasattr(axis, "numpy") else axis)
    if a.dtype.kind not in "iu" and a.size:
        raise TypeError(f"axis must be an integer or a list of integers, got {axis!r}")
    out = set()
    for d in a.reshape(-1).tolist():
        if not -rank <= d < rank:
            raise invalid(f"Invalid reduction dimension ({d} for input with {rank} dimension(s)", op)
        out.add(d % rank)
    return tuple(sorted(out))


def int_dtype(dtype, arg: str = "out_type"):
    """``dtype`` as tf.int32 or tf.int64 (the index types); TypeError naming ``arg`` otherwise."""
    d = _dt.data_dtype(dtype, arg)
    if d not in (_dt.int32, _dt.int64):
        raise TypeError(f"{arg} must be tf.int32 or tf.int64, got {d!r}")
    return d


def int_list(value, arg: str = "shape") -> list[int]:
    """A shape argument (list, tuple, TensorShape, int, 1-D integer tensor) as a list of ints."""
    if hasattr(value, "as_list"):
        return value.as_list()
    a = np.asarray(value.numpy() if hasattr(value, "numpy") else value)
    if a.dtype.kind not in "iu" and a.size:
        raise TypeError(f"{arg} must be a list of integers, got {value!r}")
    if a.ndim > 1:
        raise ValueError(f"{arg} must be a vector (1-D) of integers, got shape {a.shape}")
    return [int(d) for d in a.reshape(-1)]


# ---------------------------------------------------------------------------------------------------- selections
def select(x: Tensor, index: np.ndarray) -> Tensor:
    """The float32 tensor whose element ``i`` is ``flat(x)[index[i]]`` (shape of ``index``); differentiable."""
    index = np.asarray(index)
    n = x._t.numel()
    if index.size == 0 or n == 0:
        return from_array(np.zeros(index.shape, np.float32), F32)
    flat = index.reshape(-1).astype(np.int64, copy=False)
    if flat.size == n and index.shape == tuple(x._t.shape) and (flat == np.arange(n)).all():
        return wrap(x._t.clone()) if x._shared else x
    out = x._t.reshape(-1)[flat]
    return wrap(out.reshape(list(index.shape)))


def take(x: Tensor, fn) -> Tensor:
    """``fn`` (a NumPy function that moves values) applied to x: to the data of an integer or bool tensor, and
    through flat indices (``select``) to a float32 one."""
    if x._dtype is F32:
        return select(x, fn(np.arange(x._t.numel()).reshape(tuple(x._t.shape))))
    return from_array(fn(array_of(x)), x._dtype)


def zero_link(x: Tensor):
    """``x - stop_gradient(x)`` as a bnlab.torch tensor: exactly zero, with derivative 1 with respect to x (non-
    finite elements of x are left out: their derivative is 0)."""
    xt = x._t
    a = xt.numpy(force=True)
    if not np.isfinite(a).all():
        keep = np.isfinite(a)
        idx = np.where(keep, np.arange(a.size).reshape(a.shape), a.size)  # a.size: the appended zero
        zero = _torch.zeros(1)
        xt = _torch.cat([xt.reshape(-1), zero])[idx.reshape(-1)].reshape(list(a.shape))
    return xt - xt.detach()
