"""``bnlab.torch.Tensor``: PyTorch's tensor on bnlab's engine.

Storage. A float32 tensor wraps an engine tensor (``_core.Tensor``, attribute ``_c``) on its device; on the
CPU, ``numpy()`` is a zero-copy view of that memory (cached in ``_a``), so reading or writing the array reads
or writes the tensor. Integer and bool tensors (labels, indices, masks, metrics) are NumPy arrays (``_a``);
the engine sees them only as int32 class indices for the losses. Tensors are always contiguous: ``view``,
``reshape`` and ``flatten`` share memory; indexing and transposes copy (PyTorch would return views).

Devices. A float32 tensor's engine memory is on its device (``cpu`` or ``cuda:0``, one GPU); integer and bool
tensors are NumPy arrays labelled with their device (moving one copies it). As in PyTorch, an op on tensors of
two devices raises RuntimeError, except that a 0-dim CPU tensor (a scalar) joins the other operand's device.

Autograd. ``requires_grad``, ``grad``, ``grad_fn``, ``is_leaf``, ``backward()``, ``detach()`` and ``.data``
behave as in PyTorch; see ``autograd``. The arithmetic lives in ``_math`` (engine kernels), shape ops and
selection in ``_shape``, printing in ``_format``; this file holds the class and its plumbing. The operators
and the methods built on ``_math``, ``_shape`` and ``nn.functional`` (``+``, ``to``, ``size``, indexing,
``relu``...) are bound onto the class by ``_methods``, which ``bnlab.torch`` runs on import: those modules
import this one, never the other way round.
"""

from __future__ import annotations

import weakref

import numpy as np

from .. import _core
from . import _format, _hooks, _types, _versions, autograd
from ._types import CPU, Size, as_device, dtype_of_numpy

__all__ = ["Tensor"]

_T = _core.tensor_ops
_F32 = _types.float32


def wrap(c, device=CPU) -> Tensor:
    """A float32 Tensor over the engine tensor ``c`` (no copy)."""
    t = _new(Tensor)
    t._c, t._a, t.dtype, t.device = c, None, _F32, device
    t._rg, t.grad, t.grad_fn = False, None, None
    return t


def host(array, device=CPU) -> Tensor:
    """A Tensor over a NumPy array: float data becomes a float32 engine tensor (a copy), integer and bool data
    stay NumPy (shared, not copied)."""
    array = np.asarray(array)
    dt = dtype_of_numpy(array.dtype)
    if dt is _F32:
        c = _core.Tensor.from_numpy(np.asarray(array, dtype=np.float32, order="C"))
        return wrap(c if device.type == "cpu" else c.to(device.core), device)
    t = _new(Tensor)
    t._c, t._a, t.dtype, t.device = None, array if array.dtype == dt.np else array.astype(dt.np), dt, device
    t._rg, t.grad, t.grad_fn = False, None, None
    return t


_new = object.__new__


class Tensor:
    """A multi-dimensional array with autograd: float32 (engine) or int64/int32/uint8/bool (host)."""

    # _hooks (a leaf's gradient hooks, id -> fn) is set only by register_hook: read it with getattr(t, "_hooks", None)
    # _vc (the version counter's cell, bnlab/torch/_versions.py) is set on the first in-place write or view
    __slots__ = ("__weakref__", "_a", "_c", "_hooks", "_rg", "_vc", "device", "dtype", "grad", "grad_fn")

    def __new__(cls, *args):
        """``torch.Tensor(2, 3)`` (zeros of that shape), ``torch.Tensor(data)`` (a float32 copy of data) or
        ``torch.Tensor()`` (empty, shape (0,))."""
        if len(args) == 1 and not isinstance(args[0], (int, np.integer)):
            src = host(np.asarray(args[0], dtype=np.float32))
        else:
            src = host(np.zeros([int(a) for a in args] if args else [0], dtype=np.float32))
        t = _new(cls)
        t._c, t._a, t.dtype, t.device = src._c, None, _F32, CPU
        t._rg, t.grad, t.grad_fn = False, None, None
        return t

    # ---------------------------------------------------------------- storage and conversion
    def _np(self) -> np.ndarray:
        """The data as a NumPy array: a zero-copy view on the CPU, a host copy from other devices."""
        a = self._a
        if a is None:
            a = self._c.numpy()
            if self.device.type == "cpu":
                self._a = a
        return a

    def _wrap_grad(self, g) -> Tensor:
        return wrap(g, self.device)

    def _set_core(self, c, device) -> None:
        self._c, self._a, self.device = c, None, device

    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The data as a NumPy array, sharing memory on the CPU (writes show in the tensor)."""
        if self._rg and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        if self.device.type != "cpu" and not force:
            raise TypeError(
                f"can't convert {self.device} device type tensor to numpy. Use Tensor.cpu() to copy the "
                "tensor to host memory first."
            )
        return self._np()

    def __array__(self, dtype=None, copy=None):
        a = self._np()
        return a if dtype is None else a.astype(dtype)

    def item(self):
        """The value of a one-element tensor as a Python number (``f"{loss.item():.4f}"``)."""
        n = self.numel()
        if n != 1:
            raise RuntimeError(f"a Tensor with {n} elements cannot be converted to Scalar")
        return self._np().item()

    def tolist(self):
        return self._np().tolist()

    def cpu(self) -> Tensor:
        return self.to(CPU)

    def cuda(self, device=None) -> Tensor:
        """A copy on the GPU; raises RuntimeError when bnlab was built without CUDA or no GPU is present."""
        return self.to(_types.CUDA if device is None else as_device(device))

    def float(self) -> Tensor:
        return self.to(_F32)

    def long(self) -> Tensor:
        return self.to(_types.int64)

    def int(self) -> Tensor:
        return self.to(_types.int32)

    def bool(self) -> Tensor:
        return self.to(_types.bool)

    def type(self, dtype=None):
        if dtype is None:
            return {
                "float32": "torch.FloatTensor",
                "int64": "torch.LongTensor",
                "int32": "torch.IntTensor",
                "uint8": "torch.ByteTensor",
                "bool": "torch.BoolTensor",
            }[self.dtype.name]
        return self.to(dtype)

    def contiguous(self) -> Tensor:
        return self

    # ---------------------------------------------------------------- shape
    @property
    def shape(self) -> Size:
        return Size(self._c.shape if self._c is not None else self._a.shape)

    def dim(self) -> int:
        return len(self._c.shape) if self._c is not None else self._a.ndim

    ndim = property(dim)

    def numel(self) -> int:
        return self._c.numel() if self._c is not None else self._a.size

    nelement = numel

    def element_size(self) -> int:
        return self.dtype.itemsize

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def is_floating_point(self) -> bool:
        return self.dtype.is_floating_point

    def __len__(self) -> int:
        shape = self.shape
        if not shape:
            raise TypeError("len() of a 0-d tensor")
        return shape[0]

    def __iter__(self):
        if self.dim() == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self)))

    # ---------------------------------------------------------------- autograd
    @property
    def requires_grad(self) -> bool:
        return self._rg

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        value = bool(value)
        if value and not self.dtype.is_floating_point:
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        if not value and self.grad_fn is not None:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use a computed "
                "variable in a subgraph that doesn't require differentiation use var_no_grad = var.detach()."
            )
        self._rg = value

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    # ---------------------------------------------------------------- hooks (bnlab/torch/_hooks.py)
    def register_hook(self, hook):
        """Run ``hook(grad)`` each time the gradient with respect to this tensor is computed; a returned tensor
        replaces it. Returns a handle whose ``remove()`` unregisters the hook."""
        if not self._rg:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        node = self.grad_fn
        if node is None:  # a leaf: its hooks run before its .grad accumulates
            hooks = getattr(self, "_hooks", None)
            if hooks is None:
                hooks = self._hooks = {}
            return _hooks.add(hooks, hook)
        if node.hooks is None:
            node.hooks, node.wrap = {}, self._wrap_grad
        return _hooks.add(node.hooks, hook)

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in ``.grad`` at the next backward (a leaf keeps it anyway)."""
        if not self._rg:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is not None and self.grad_fn.retained is None:
            self.grad_fn.retained = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        """True for a non-leaf tensor after ``retain_grad()``."""
        node = self.grad_fn
        return node is not None and node.retained is not None and node.retained() is self

    def backward(self, gradient=None, retain_graph: bool | None = None, create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``. ``gradient`` is required unless ``self`` is
        a scalar (it then defaults to 1). With ``create_graph=True`` the gradients are tensors of the graph, to
        be differentiated again (double backward, _double_backward.py); ``retain_graph`` then defaults to True."""
        if not self._rg:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
        if gradient is None:
            if self.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
        else:
            if not isinstance(gradient, Tensor):
                gradient = host(np.asarray(gradient, dtype=np.float32), self.device)
            if gradient.device != self.device:
                raise RuntimeError(
                    f"invalid gradient at index 0 - expected device {self.device} but got {gradient.device}"
                )
            if gradient.shape != self.shape:
                raise RuntimeError(
                    f"Mismatch in shape: grad_output[0] has a shape of {gradient.shape} and output[0] has a "
                    f"shape of {self.shape}."
                )
        if create_graph:
            from . import _double_backward

            _double_backward.backward(self, gradient, retain_graph)
            return
        if gradient is None:
            seed = _T.empty(list(self._c.shape), self._c.device)
            seed.fill(1.0)
        else:
            seed = gradient._c.to(gradient._c.device)  # the tape owns its gradients: copy the caller's
        autograd.run_backward(self, seed, retain_graph=bool(retain_graph))

    def detach(self) -> Tensor:
        """The same data (shared memory, one version counter), cut from the graph: ``requires_grad`` False, no
        ``grad_fn``."""
        out = host(self._a, self.device) if self._c is None else wrap(self._c, self.device)
        return _versions.share(self, out)

    @property
    def _version(self) -> int:
        """How many in-place writes this tensor's memory has had (bnlab/torch/_versions.py)."""
        return _versions.current(self)

    def detach_(self) -> Tensor:
        self.grad_fn, self._rg = None, False
        return self

    @property
    def data(self) -> Tensor:
        """The data without autograd history (shares memory), as ``detach()``."""
        return self.detach()

    @data.setter
    def data(self, other: Tensor) -> None:
        if not isinstance(other, Tensor):
            raise TypeError(f"data must be a Tensor, got {type(other).__name__}")
        if other.dtype is not self.dtype:
            raise TypeError(f"data: cannot assign a {other.dtype} tensor to a {self.dtype} tensor")
        if other._c is None:
            self._a, self.device = other._a, other.device
        else:
            self._set_core(other._c, other.device)

    # ---------------------------------------------------------------- Python protocol
    def __repr__(self) -> str:
        return _format.tensor_repr(self)

    def __format__(self, spec: str) -> str:
        if self.dim() == 0 and spec:
            return format(self.item(), spec)
        return format(repr(self), spec)

    def __bool__(self) -> bool:
        if self.numel() != 1:
            raise RuntimeError(f"Boolean value of Tensor with more than one value is ambiguous ({self.shape})")
        return bool(self.item())

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.dtype.is_floating_point or self.numel() != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    __hash__ = object.__hash__

    def __reduce__(self):
        return (_rebuild, (self._np().copy(), self.dtype.name, str(self.device), self._rg))


def _rebuild(array, dtype_name, device, requires_grad) -> Tensor:
    t = host(np.asarray(array, dtype=_types._BY_NAME[dtype_name].np)).to(device)
    return t.requires_grad_(requires_grad) if requires_grad else t


def parse_to_args(args, kwargs):
    """(device, dtype) from the arguments of ``Tensor.to`` / ``Module.to``: a device, a dtype, both, or a tensor
    to match; ``non_blocking`` is accepted and ignored (bnlab copies synchronously)."""
    device, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
    kwargs.pop("non_blocking", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, _types.dtype):
            dtype = a
        elif isinstance(a, Tensor):
            device, dtype = a.device, a.dtype
        else:
            device = a
    return device, dtype


def _mixed_devices(a, b) -> RuntimeError:
    return RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, {a} and {b}!")


def common_device(a: Tensor, b: Tensor):
    """The device of an elementwise op on tensors ``a`` and ``b``: theirs, or, as PyTorch allows, the other's when
    one is a 0-dim CPU tensor (a scalar); RuntimeError (PyTorch's wording) for any other mix."""
    if a.device is b.device or a.device == b.device:
        return a.device
    if a.device.type == "cpu" and a.dim() == 0:
        return b.device
    if b.device.type == "cpu" and b.dim() == 0:
        return a.device
    raise _mixed_devices(a.device, b.device)


def check_same_device(*tensors) -> None:
    """RuntimeError (PyTorch's wording) unless every tensor given (None entries skipped) is on one device."""
    first = None
    for t in tensors:
        if t is None:
            continue
        d = t.device
        if first is None:
            first = d
        elif d is not first and d != first:
            raise _mixed_devices(first, d)
