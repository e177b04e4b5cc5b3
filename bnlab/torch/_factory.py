"""Creating tensors: ``tensor``, ``from_numpy``, ``zeros``, ``ones``, ``full``, ``randn``, ``arange``...

Types are inferred as PyTorch infers them: Python floats give float32, ints int64, bools bool. Float data is
copied into engine memory (float64 arrays are converted to float32: the engine computes in float32);
``from_numpy`` shares integer and bool arrays. Random tensors draw from a ``Generator`` (the default one
unless ``generator=`` is given), so ``torch.manual_seed`` makes them reproducible.
"""

from __future__ import annotations

import numpy as np

from . import _types
from ._random import rng_of
from ._shape import _shape_args
from ._types import CPU, as_device
from .tensor import Tensor, host

__all__ = [
    "arange",
    "as_tensor",
    "empty",
    "eye",
    "from_numpy",
    "full",
    "full_like",
    "linspace",
    "ones",
    "ones_like",
    "rand",
    "randint",
    "randn",
    "randperm",
    "tensor",
    "zeros",
    "zeros_like",
]


def _finish(array: np.ndarray, dtype, device, requires_grad: bool) -> Tensor:
    if dtype is not None:
        if not isinstance(dtype, _types.dtype):
            raise TypeError(f"dtype must be a bnlab.torch dtype such as torch.float32, got {dtype!r}")
        array = array.astype(dtype.np, copy=False)
    t = host(array, CPU)
    if device is not None:
        t = t.to(as_device(device))
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, numbers, a NumPy array or a tensor)."""
    if isinstance(data, Tensor):
        array = data._np().copy()
        device = data.device if device is None else device  # PyTorch keeps the source's device
    else:
        array = np.array(data)
        if array.dtype == object:
            raise TypeError(f"tensor(): could not convert {type(data).__name__} data to numbers")
    return _finish(array, dtype, device, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """``data`` as a tensor, without a copy when it already is one of that dtype and device."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype) if (device or dtype) else data
    return tensor(data, dtype=dtype, device=device)


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor from a NumPy array. Integer and bool arrays are shared (writes show on both sides); float
    data is copied into engine memory once (float64 becomes float32)."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    return host(ndarray, CPU)


def _filled(size, value, dtype, device, requires_grad) -> Tensor:
    shape = _shape_args(size)
    dtype = dtype or (_types.float32 if isinstance(value, float) else None)
    array = np.full(shape, value, dtype=(dtype or _types.float32).np)
    return _finish(array, None, device, requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled(size, 0.0, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled(size, 1.0, dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of the given size (zero-filled here; PyTorch leaves it uninitialized)."""
    return _filled(size, 0.0, dtype, device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    if dtype is None:
        dtype = (
            _types.bool
            if isinstance(fill_value, bool)
            else (_types.int64 if isinstance(fill_value, int) else _types.float32)
        )
    return _filled((size,) if isinstance(size, int) else size, fill_value, dtype, device, requires_grad)


def zeros_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled(t.shape, 0.0, dtype or t.dtype, device or t.device, requires_grad)


def ones_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled(t.shape, 1.0, dtype or t.dtype, device or t.device, requires_grad)


def full_like(t: Tensor, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled(t.shape, fill_value, dtype or t.dtype, device or t.device, requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Samples of the standard normal distribution N(0, 1)."""
    array = rng_of(generator).standard_normal(_shape_args(size), dtype=np.float32)
    return _finish(array, dtype, device, requires_grad)


def rand(*size, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Samples of the uniform distribution on [0, 1)."""
    array = rng_of(generator).random(_shape_args(size), dtype=np.float32)
    return _finish(array, dtype, device, requires_grad)


def randint(low, high=None, size=None, *, generator=None, dtype=None, device=None) -> Tensor:
    """Integers uniform in [low, high) (``randint(high, size)`` or ``randint(low, high, size)``)."""
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError("randint() needs a size tuple: randint(high, size) or randint(low, high, size)")
        low, high, size = 0, low, high
    array = rng_of(generator).integers(low, high, size=_shape_args((size,)))
    return _finish(array.astype(np.int64), dtype, device, False)


def randperm(n: int, *, generator=None, dtype=None, device=None) -> Tensor:
    """A random permutation of 0..n-1 (int64)."""
    return _finish(rng_of(generator).permutation(int(n)).astype(np.int64), dtype, device, False)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Values from start (default 0) to end (excluded) by step; int64 when all three are ints."""
    if end is None:
        start, end = 0, start
    ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
    array = np.arange(start, end, step, dtype=np.int64 if ints else np.float32)
    return _finish(array, dtype, device, requires_grad)


def linspace(start, end, steps: int, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _finish(np.linspace(start, end, int(steps), dtype=np.float32), dtype, device, requires_grad)


def eye(n: int, m: int | None = None, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _finish(np.eye(n, m, dtype=np.float32), dtype, device, requires_grad)
