"""The small value types of ``bnlab.torch``: ``dtype``, ``device`` and ``Size``, printed as PyTorch does.

* ``dtype``: ``float32`` (alias ``float``) is the only floating type; the engine computes in float32, so
  float64 data is converted on the way in. ``int64`` (``long``, the type of class labels), ``int32``
  (``int``), ``uint8`` and ``bool`` are host types: their tensors are NumPy arrays, used for labels,
  indices, masks and metrics, never for training maths.
* ``device``: ``device("cpu")``, ``device("cuda")``, ``device("cuda:0")``; it maps onto the engine's
  ``_core.Device``.
* ``Size``: a tuple subclass; ``str(Size([1, 128]))`` is ``"torch.Size([1, 128])"`` as in PyTorch's messages.
"""

from __future__ import annotations

import builtins

import numpy as np

from .. import _core

__all__ = ["Size", "bool", "device", "dtype", "float", "float32", "int", "int32", "int64", "long", "uint8"]


class dtype:  # noqa: N801 - PyTorch's name
    """An element type: its PyTorch name, the NumPy dtype that holds it and whether it is floating point."""

    __slots__ = ("is_floating_point", "itemsize", "name", "np")

    def __init__(self, name: str, np_dtype) -> None:
        self.name = name
        self.np = np.dtype(np_dtype)
        self.itemsize = self.np.itemsize
        self.is_floating_point = self.np.kind == "f"

    def __repr__(self) -> str:
        return f"torch.{self.name}"

    def __reduce__(self):
        return (_dtype_by_name, (self.name,))


float32 = dtype("float32", np.float32)
int64 = dtype("int64", np.int64)
int32 = dtype("int32", np.int32)
uint8 = dtype("uint8", np.uint8)
bool = dtype("bool", np.bool_)
float = float32
long = int64
int = int32

_BY_NAME = {d.name: d for d in (float32, int64, int32, uint8, bool)}
_BY_NUMPY = {d.np: d for d in (float32, int64, int32, uint8, bool)}


def _dtype_by_name(name: str) -> dtype:
    return _BY_NAME[name]


def dtype_of_numpy(np_dtype) -> dtype:
    """The bnlab dtype for a NumPy dtype: floats become float32, other integers int64, as PyTorch infers."""
    np_dtype = np.dtype(np_dtype)
    if np_dtype in _BY_NUMPY:
        return _BY_NUMPY[np_dtype]
    if np_dtype.kind == "f":
        return float32
    if np_dtype.kind in "iu":
        return int64
    raise TypeError(f"bnlab.torch cannot hold NumPy dtype {np_dtype}: use float32, integer or bool data")


class device:  # noqa: N801 - PyTorch's name
    """Where a tensor lives: ``device("cpu")``, ``device("cuda")`` or ``device("cuda", 0)`` / ``"cuda:0"``."""

    __slots__ = ("index", "type")

    def __init__(self, type: str | device, index: int | None = None) -> None:
        if isinstance(type, device):
            self.type, self.index = type.type, type.index
            return
        if not isinstance(type, str):
            raise TypeError(f"device() expects a string such as 'cpu' or 'cuda:0', got {type!r}")
        name, _, idx = type.partition(":")
        if name not in ("cpu", "cuda"):
            raise RuntimeError(f"Expected one of cpu, cuda device type at start of device string: {type}")
        if idx:
            if index is not None:
                raise RuntimeError(f"device(): type {type!r} already names an index; do not pass index too")
            if not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{type}'")
            index = builtins.int(idx)
        if index is not None and ((name == "cpu" and index != 0) or index < 0):
            raise RuntimeError(f"Invalid device index {index} for device type {name}")
        self.type, self.index = name, index

    @property
    def core(self):
        """The engine's device enum."""
        return _core.Device.CPU if self.type == "cpu" else _core.Device.CUDA

    def __eq__(self, other) -> builtins.bool:
        if other is self:  # the common case: tensors share their device object
            return True
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> builtins.int:
        return hash((self.type, self.index))

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        idx = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{idx})"


CPU = device("cpu")
CUDA = device("cuda", 0)


def as_device(d) -> device:
    """A device from a device, a string or an int (a CUDA index, as PyTorch accepts)."""
    if isinstance(d, device):
        return d
    if isinstance(d, builtins.int) and not isinstance(d, builtins.bool):
        return device("cuda", d)
    return device(d)


class Size(tuple):
    """A tensor's shape: a tuple of ints that prints as ``torch.Size([2, 3])``."""

    def __repr__(self) -> str:
        return f"torch.Size([{', '.join(str(d) for d in self)}])"

    __str__ = __repr__

    def numel(self) -> builtins.int:
        """The number of elements of a tensor of this shape."""
        n = 1
        for d in self:
            n *= d
        return n
