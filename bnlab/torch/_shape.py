"""Shape and selection ops: views, transposes, indexing, concatenation, max/argmax, dtype and device moves.

These move data, they do no arithmetic. ``view``/``reshape``/``flatten``/``squeeze``/``unsqueeze`` share
memory (an engine view; backward views g back). Transposes, indexing and ``cat``/``stack`` copy with NumPy
(PyTorch would return views for some of them); their backward scatters or splits g with NumPy as well.
``max(dim)`` returns ``(values, indices)`` as PyTorch's named tuple; ``max``/``argmax`` use the first
maximum, as PyTorch does on the CPU.
"""

from __future__ import annotations

import builtins
from collections import namedtuple

import numpy as np

from .. import _core
from . import _types, _versions, autograd
from ._names import numpy_aliases
from ._types import Size
from .autograd import record
from .tensor import Tensor, check_same_device, host, wrap

_T = _core.tensor_ops


def _return_type(name: str):
    """PyTorch's named (values, indices) pair, printed as ``torch.return_types.max(values=..., ...)``."""
    base = namedtuple(name, ["values", "indices"])

    def as_text(self) -> str:
        return f"torch.return_types.{name}(\nvalues={self.values!r},\nindices={self.indices!r})"

    return type(name, (base,), {"__slots__": (), "__repr__": as_text})


max_result = _return_type("max")
min_result = _return_type("min")


def norm_dim(dim: int, ndim: int) -> int:
    """``dim`` in ``[0, ndim)``; negative dims count from the end. IndexError as PyTorch words it."""
    n = builtins.max(ndim, 1)
    if not isinstance(dim, (int, np.integer)) or not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return int(dim) % n


def _shape_args(args) -> list[int]:
    if len(args) == 1 and isinstance(args[0], (tuple, list, Size)):
        args = tuple(args[0])
    return [int(a) for a in args]


def infer_shape(shape: list[int], numel: int) -> list[int]:
    """Resolve one -1 in ``shape`` so that it holds ``numel`` elements (RuntimeError as PyTorch)."""
    unknown = [i for i, s in enumerate(shape) if s == -1]
    if len(unknown) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise RuntimeError(f"invalid shape dimension {s}")
            known *= s
    if unknown:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = list(shape)
        shape[unknown[0]] = numel // known
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


def view(t: Tensor, *shape) -> Tensor:
    """The same memory seen with another shape (one dimension may be -1)."""
    if not shape:  # PyTorch: view() needs a shape; view(()) is the 0-dim one
        raise TypeError("view() missing 1 required positional argument: 'size'")
    new = infer_shape(_shape_args(shape), t.numel())
    if t._c is None:
        return _versions.share(t, host(t._a.reshape(new), t.device))
    tc = t._c
    old = list(tc.shape)
    out = _versions.share(t, wrap(_T.view(tc, new), t.device))
    if autograd._GradMode.enabled and t._rg:
        record("View", out, (t,), lambda g: (_T.view(g, old),))
    return out


def flatten(t: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    shape = list(t.shape)
    s, e = norm_dim(start_dim, len(shape)), norm_dim(end_dim, len(shape))  # a 0-dim tensor counts as 1 dim
    if not shape:
        return view(t, 1)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    n = 1
    for d in shape[s : e + 1]:
        n *= d
    return view(t, [*shape[:s], n, *shape[e + 1 :]])


def squeeze(t: Tensor, dim=None) -> Tensor:
    shape = list(t.shape)
    if dim is None:
        return view(t, [s for s in shape if s != 1])
    d = norm_dim(dim, len(shape))
    return view(t, shape[:d] + shape[d + 1 :]) if shape and shape[d] == 1 else t


def unsqueeze(t: Tensor, dim: int) -> Tensor:
    shape = list(t.shape)
    d = norm_dim(dim, len(shape) + 1)
    return view(t, [*shape[:d], 1, *shape[d:]])


def _from_numpy_like(array: np.ndarray, like: Tensor) -> Tensor:
    return host(np.asarray(array, order="C"), like.device)


def permute(t: Tensor, *dims) -> Tensor:
    """Dimensions reordered (a copy); backward applies the inverse order to g."""
    if not dims:  # PyTorch: permute() needs the dims; permute(()) is the empty order of a 0-dim tensor
        raise TypeError('permute() missing 1 required positional argument: "dims"')
    order = [norm_dim(d, t.dim()) for d in _shape_args(dims)]
    if sorted(order) != list(range(t.dim())):
        raise RuntimeError(f"permute(): dims {order} are not a permutation of the {t.dim()} dimensions")
    out = _from_numpy_like(np.transpose(t._np(), order), t)
    if autograd._GradMode.enabled and t._rg:
        inverse = list(np.argsort(order))
        record("Permute", out, (t,), lambda g: (_core_of(np.transpose(_np_of(g), inverse), t),))
    return out


def transpose(t: Tensor, dim0: int, dim1: int) -> Tensor:
    order = list(range(t.dim()))
    a, b = norm_dim(dim0, t.dim()), norm_dim(dim1, t.dim())
    order[a], order[b] = order[b], order[a]
    return permute(t, order)


def t_(t: Tensor) -> Tensor:
    """The transpose of a tensor of at most 2 dimensions."""
    if t.dim() > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {t.dim()}D")
    return transpose(t, 0, 1) if t.dim() == 2 else t


def _np_of(c) -> np.ndarray:
    return c.numpy()


def _core_of(array: np.ndarray, like: Tensor):
    c = _core.Tensor.from_numpy(np.asarray(array, dtype=np.float32, order="C"))
    return c if like.device.type == "cpu" else c.to(like.device.core)


def _index_key(key):
    """An index with Tensors replaced by NumPy arrays (integer or bool tensors only)."""
    if isinstance(key, tuple):
        return tuple(_index_key(k) for k in key)
    if isinstance(key, Tensor):
        if key.dtype.is_floating_point:
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        return key._np()
    if isinstance(key, list):
        return np.asarray([k._np() if isinstance(k, Tensor) else k for k in key])
    return key


def getitem(t: Tensor, key) -> Tensor:
    """``t[key]`` with NumPy's basic and advanced indexing (a copy); backward scatter-adds g (NumPy).
    Rows picked by an integer index (``x[perm[i:i + 100]]``, a batch) are gathered by the engine."""
    k = _index_key(key)
    if t._c is not None and isinstance(k, np.ndarray) and k.ndim == 1 and k.dtype.kind == "i":
        n = t._c.shape[0]
        lo, hi = (int(k.min()), int(k.max())) if k.size else (0, 0)  # one reduction each, reused below
        if hi >= n or lo < -n:
            raise IndexError(f"index {hi if hi >= n else lo} is out of bounds for dimension 0 with size {n}")
        c = _core.Tensor()  # host indices on every device
        _T.gather_rows(c, t._c, np.where(k < 0, k + n, k) if lo < 0 else k)
        out = wrap(c, t.device)
    elif t._c is None:
        return host(t._np()[k], t.device)
    else:
        out = _from_numpy_like(t._np()[k], t)
    if autograd._GradMode.enabled and t._rg:
        shape = tuple(t.shape)

        def backward(g):
            full = np.zeros(shape, dtype=np.float32)
            np.add.at(full, k, _np_of(g))
            return (_core_of(full, t),)

        record("Index", out, (t,), backward)
    return out


def check_inplace(t: Tensor, recorded: bool = False) -> None:
    """An in-place write to t is refused while gradients are recorded when t is a leaf that requires grad
    (PyTorch's rule), and, for the writes bnlab.torch does not tape (``recorded`` False: fill_, zero_, copy_,
    t[i] = v), when t is in the graph. Otherwise it is allowed; the caller bumps t's version (_versions.py)."""
    if t._rg and autograd._GradMode.enabled:
        if t.grad_fn is None:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
        if not recorded:
            raise RuntimeError(
                "bnlab.torch records in-place arithmetic (+=, add_, sub_, mul_, div_) and ReLU(inplace=True) in "
                "the graph, but not fill_, zero_, copy_ or indexed assignment on a tensor that requires grad; "
                "write the out-of-place form (x = x + y, torch.where) instead"
            )
        if t.grad_fn.name == "View":
            raise RuntimeError(
                "bnlab.torch does not record an in-place operation on a view (view, reshape, flatten) of a tensor "
                "that requires grad: its base would not see it. Write the out-of-place form (x = x + y) instead"
            )


def setitem(t: Tensor, key, value) -> None:
    """``t[key] = value`` in place (the zero-copy NumPy view on the CPU)."""
    check_inplace(t)
    _versions.bump(t)
    v = value._np() if isinstance(value, Tensor) else value
    if t.device.type == "cpu" or t._c is None:  # host memory (integer and bool tensors live there on any device)
        t._np()[_index_key(key)] = v
    else:
        a = t._np()
        a[_index_key(key)] = v
        t._c.copy_from(np.ascontiguousarray(a))


def cat(tensors, dim: int = 0) -> Tensor:
    """Concatenate along ``dim`` (a copy); backward splits g into the inputs' slices."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("torch.cat(): expected a non-empty list of Tensors")
    d = norm_dim(dim, tensors[0].dim())
    check_same_device(*tensors)
    floats = any(x._c is not None for x in tensors)
    arrays = [x._np().astype(np.float32) if floats else x._np() for x in tensors]
    out = host(np.concatenate(arrays, axis=d), tensors[0].device)
    parents = tuple(x for x in tensors if x._c is not None)
    if floats and autograd._GradMode.enabled and any(x._rg for x in parents):
        bounds = np.cumsum([0] + [x.shape[d] for x in tensors])

        def backward(g):
            ga = _np_of(g)
            grads = []
            for i, x in enumerate(tensors):
                if x._c is not None:
                    part = np.take(ga, np.arange(bounds[i], bounds[i + 1]), axis=d)
                    grads.append(_core_of(part, x) if x._rg else None)
            return tuple(grads)

        record("Cat", out, parents, backward)
    return out


def stack(tensors, dim: int = 0) -> Tensor:
    """Stack equal-shaped tensors along a new dimension ``dim``."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    d = norm_dim(dim, tensors[0].dim() + 1)
    return cat([unsqueeze(x, d) for x in tensors], d)


def _extreme(name: str, t: Tensor, dim, keepdim: bool, arg_fn, result_type):
    a = t._np()
    if dim is None:
        if a.size == 0:
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0.")
        idx = int(arg_fn(a.reshape(-1)))
        values = host(a.reshape(-1)[idx], t.device)
        if t._c is not None and autograd._GradMode.enabled and t._rg:
            shape = tuple(t.shape)

            def backward(g):  # the gradient is shared evenly by every element equal to the extreme
                mask = (a == a.reshape(-1)[idx]).astype(np.float32)
                return (_core_of(mask * (_np_of(g) / mask.sum()), t),)

            record(name.capitalize(), values, (t,), backward)
        return values
    d = norm_dim(dim, a.ndim)
    idx = np.expand_dims(arg_fn(a, axis=d), d)
    vals = np.take_along_axis(a, idx, axis=d)
    if not keepdim:
        vals, idx = vals.squeeze(d), idx.squeeze(d)
    values = host(vals, t.device)
    indices = host(idx.astype(np.int64), t.device)
    if t._c is not None and autograd._GradMode.enabled and t._rg:
        shape = tuple(t.shape)
        kd_idx = idx if keepdim else np.expand_dims(idx, d)

        def backward(g):
            full = np.zeros(shape, dtype=np.float32)
            gk = _np_of(g) if keepdim else np.expand_dims(_np_of(g), d)
            np.put_along_axis(full, kd_idx, gk, axis=d)
            return (_core_of(full, t),)

        record(name.capitalize(), values, (t,), backward)
    return result_type(values, indices)


@numpy_aliases
def max(t: Tensor, dim=None, keepdim: bool = False):
    """The largest value, or ``(values, indices)`` of the largest along ``dim`` (first one on ties)."""
    if isinstance(dim, Tensor):
        raise TypeError("bnlab.torch.max(input, other) (elementwise maximum) is not supported; use max(input, dim)")
    return _extreme("max", t, dim, keepdim, np.argmax, max_result)


@numpy_aliases
def min(t: Tensor, dim=None, keepdim: bool = False):
    """The smallest value, or ``(values, indices)`` of the smallest along ``dim``."""
    if isinstance(dim, Tensor):
        raise TypeError("bnlab.torch.min(input, other) (elementwise minimum) is not supported; use min(input, dim)")
    return _extreme("min", t, dim, keepdim, np.argmin, min_result)


def _arg_extreme(t: Tensor, dim, keepdim: bool, arg_fn) -> Tensor:
    a = t._np()
    if dim is None:
        return host(np.asarray(arg_fn(a), dtype=np.int64), t.device)
    d = norm_dim(dim, a.ndim)
    return host(arg_fn(a, axis=d, keepdims=keepdim).astype(np.int64), t.device)


@numpy_aliases
def argmax(t: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Index of the largest value (of the flattened tensor when ``dim`` is None), int64."""
    return _arg_extreme(t, dim, keepdim, np.argmax)


@numpy_aliases
def argmin(t: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Index of the smallest value (of the flattened tensor when ``dim`` is None), int64."""
    return _arg_extreme(t, dim, keepdim, np.argmin)


def astype(t: Tensor, dtype) -> Tensor:
    """A copy converted to ``dtype`` (float to int truncates toward zero, as PyTorch)."""
    if not isinstance(dtype, _types.dtype):
        raise TypeError(f"expected a bnlab.torch dtype, got {dtype!r}")
    if dtype is t.dtype:
        return t
    out = host(t._np().astype(dtype.np), t.device)
    if dtype.is_floating_point and autograd._GradMode.enabled and t._rg:
        record("ToCopy", out, (t,), lambda g: (g,))
    return out


def to_device(t: Tensor, device) -> Tensor:
    """A copy on ``device``; differentiable (the gradient moves back)."""
    if t._c is None:
        return host(t._a.copy(), device)  # a copy, as on a real move: writes to one do not show in the other
    src = t.device
    out = wrap(t._c.to(device.core), device)
    if autograd._GradMode.enabled and t._rg:
        record("ToCopy", out, (t,), lambda g: (g.to(src.core),))
    return out


def clone(t: Tensor) -> Tensor:
    """A copy with its own memory; differentiable (g passes through)."""
    if t._c is None:
        return host(t._a.copy(), t.device)
    out = wrap(t._c.to(t._c.device), t.device)
    if autograd._GradMode.enabled and t._rg:
        record("Clone", out, (t,), lambda g: (g,))
    return out
