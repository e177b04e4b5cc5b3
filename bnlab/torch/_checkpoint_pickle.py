"""Pickling an object into a checkpoint's ``data.pkl`` as ``torch.save`` does, without importing PyTorch.

This file owns the writing side of the pickle (the archive around it is ``_checkpoint_zip``, reading is
``_weights_unpickler``) and the table of PyTorch's storage types that both sides use.

The format, as PyTorch 2.13 writes it (what ``torch.load(f, weights_only=True)`` accepts):

* pickle protocol 2 (``GLOBAL`` opcodes naming ``module name``, no frames);
* a tensor pickles as ``torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
  backward_hooks)`` with ``backward_hooks`` an empty ``collections.OrderedDict`` and ``size``/``stride`` tuples in
  elements; bnlab writes every tensor contiguous from offset 0 (strides as PyTorch computes them for a
  contiguous tensor, a dimension of size 0 counting as 1);
* the storage is a persistent id ``('storage', torch.FloatStorage, key, location, numel)``: the storage class of
  the dtype (table below), the key of its record ``data/<key>`` (``'0'``, ``'1'``... in the order first met),
  where it lives (``'cpu'``, ``'cuda:0'``) and its number of elements; tensors sharing memory share a storage;
* an ``nn.Parameter`` pickles as ``torch._utils._rebuild_parameter(tensor, requires_grad, OrderedDict())``;
* dtypes as the globals ``torch.float32``...; ``torch.Size(tuple)`` and ``torch.device('cuda', 0)`` as calls.

Python's pickler cannot write a ``GLOBAL torch._utils _rebuild_tensor_v2`` without importing that module, so
the pickler writes stand-ins of this module (and bnlab's dtypes as ``bnlab.torch._types float32``), and
``retarget`` then rewrites exactly those ``GLOBAL`` opcodes to PyTorch's names: protocol 2 has no frames or
offsets, so the rest of the stream is untouched. Everything else pickles by Python's rules (as in PyTorch, any
picklable object can be saved; ``weights_only=True`` loads then accept only the plain containers and numbers).
"""

from __future__ import annotations

import io
import pickle
from collections import OrderedDict

import numpy as np

from ._types import Size, device, dtype
from .nn.parameter import Parameter
from .tensor import Tensor

__all__ = ["STORAGE_TYPES", "contiguous_strides", "dumps"]

# PyTorch dtype name -> (its storage class in torch, the NumPy type of its stored little-endian elements);
# bfloat16 elements are read as their 16 raw bits. uint16/32/64 have no typed storage: PyTorch pickles them
# with _rebuild_tensor_v3 over a torch.storage.UntypedStorage of bytes.
STORAGE_TYPES = {
    "float32": ("FloatStorage", "<f4"),
    "float64": ("DoubleStorage", "<f8"),
    "float16": ("HalfStorage", "<f2"),
    "bfloat16": ("BFloat16Storage", "<u2"),
    "int64": ("LongStorage", "<i8"),
    "int32": ("IntStorage", "<i4"),
    "int16": ("ShortStorage", "<i2"),
    "int8": ("CharStorage", "i1"),
    "uint8": ("ByteStorage", "u1"),
    "bool": ("BoolStorage", "u1"),
    "uint16": (None, "<u2"),
    "uint32": (None, "<u4"),
    "uint64": (None, "<u8"),
}


class _TorchName:
    """A stand-in for a PyTorch global while pickling: a module attribute of this file named ``_torch_<name>``,
    so that it pickles as a ``GLOBAL`` that ``retarget`` rewrites to ``module name``. Never called."""

    __slots__ = ("attr", "module", "name")

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name, self.attr = module, name, f"_torch_{name}"

    def __reduce__(self):
        return self.attr  # a string: pickle writes a GLOBAL of this module's attribute

    def __call__(self, *args):  # pickle wants the first item of a reduce tuple callable
        raise RuntimeError(f"{self.module}.{self.name} is PyTorch's; bnlab only pickles its name")


_TARGETS: dict[tuple[bytes, bytes], bytes] = {}  # (module, name) as pickled -> "module\nname\n" to write


def _stand_in(module: str, name: str) -> _TorchName:
    obj = _TorchName(module, name)
    globals()[obj.attr] = obj
    _TARGETS[(__name__.encode(), obj.attr.encode())] = f"{module}\n{name}\n".encode()
    return obj


_REBUILD_TENSOR = _stand_in("torch._utils", "_rebuild_tensor_v2")
_REBUILD_PARAMETER = _stand_in("torch._utils", "_rebuild_parameter")
_SIZE = _stand_in("torch", "Size")
_DEVICE = _stand_in("torch", "device")
_STORAGE_CLASS = {
    name: _stand_in("torch", STORAGE_TYPES[name][0]) for name in ("float32", "int64", "int32", "uint8", "bool")
}
for _name in _STORAGE_CLASS:  # bnlab's dtypes pickle as "bnlab.torch._types float32": write "torch float32"
    _TARGETS[(dtype.__module__.encode(), _name.encode())] = f"torch\n{_name}\n".encode()


def contiguous_strides(shape) -> tuple[int, ...]:
    """PyTorch's strides (in elements) of a contiguous tensor of ``shape``: ``(3, 4) -> (4, 1)``, ``(0, 3) ->
    (3, 1)`` (a dimension of size 0 multiplies as 1)."""
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= max(int(n), 1)
    return tuple(reversed(strides))


class _Storage:
    """One ``data/<key>`` record: the elements as a flat little-endian C-contiguous array."""

    __slots__ = ("array", "key", "location", "torch_class")

    def __init__(self, array: np.ndarray, key: str, location: str, torch_class: _TorchName) -> None:
        self.array, self.key, self.location, self.torch_class = array, key, location, torch_class


class _Pickler(pickle.Pickler):
    """Protocol 2 with tensors as PyTorch's rebuild calls and their data collected as storages."""

    def __init__(self, file) -> None:
        super().__init__(file, protocol=2)
        self.storages: list[_Storage] = []
        self._by_memory: dict[tuple, _Storage] = {}

    def persistent_id(self, obj):
        if type(obj) is _Storage:
            return ("storage", obj.torch_class, obj.key, obj.location, int(obj.array.size))
        return None

    def reducer_override(self, obj):
        if isinstance(obj, Tensor):
            if isinstance(obj, Parameter):
                return (_REBUILD_PARAMETER, (obj.detach(), obj.requires_grad, OrderedDict()))
            shape = tuple(obj.shape)
            storage = self._storage(obj)
            return (_REBUILD_TENSOR, (storage, 0, shape, contiguous_strides(shape), obj.requires_grad, OrderedDict()))
        if isinstance(obj, dtype):
            return obj.name  # with obj.__module__, a GLOBAL bnlab.torch._types <name>, retargeted to torch
        if isinstance(obj, Size):
            return (_SIZE, (tuple(int(d) for d in obj),))
        if isinstance(obj, device):
            return (_DEVICE, (obj.type,) if obj.index is None else (obj.type, obj.index))
        kind = type(obj)
        if kind.__module__.split(".")[0] == "torch" and hasattr(obj, "untyped_storage"):
            raise TypeError(
                f"bnlab.torch.save got a PyTorch {kind.__module__}.{kind.__name__}; it saves bnlab tensors: "
                "convert it first, e.g. bnlab.torch.from_numpy(t.detach().cpu().numpy())"
            )
        return NotImplemented

    def _storage(self, t: Tensor) -> _Storage:
        """The storage of ``t``'s data (on the host; a GPU tensor is copied), shared with any tensor saved
        before over the same memory."""
        a = np.ascontiguousarray(t._np())
        a = a.astype(a.dtype.newbyteorder("<"), copy=False).reshape(-1)
        location = "cpu" if t.device.type == "cpu" else f"cuda:{t.device.index or 0}"
        memory = (a.__array_interface__["data"][0], a.nbytes, a.dtype.str, location)
        found = self._by_memory.get(memory)
        if found is None:
            # the table keeps every array alive while pickling, so no address is reused for other data
            found = _Storage(a, str(len(self.storages)), location, _STORAGE_CLASS[t.dtype.name])
            self.storages.append(found)
            self._by_memory[memory] = found
        return found


def retarget(data: bytes) -> bytes:
    """``data`` with the ``GLOBAL`` opcodes of this module's stand-ins (and of bnlab's dtypes) rewritten to
    PyTorch's ``module\\nname\\n``; the opcodes are found by walking the pickle, never by searching bytes."""
    import pickletools

    out, last = [], 0
    for op, _arg, pos in pickletools.genops(data):
        if op.code != "c":
            continue
        end_module = data.index(b"\n", pos + 1)
        end_name = data.index(b"\n", end_module + 1)
        target = _TARGETS.get((data[pos + 1 : end_module], data[end_module + 1 : end_name]))
        if target is not None:
            out += [data[last : pos + 1], target]
            last = end_name + 1
    out.append(data[last:])
    return b"".join(out)


def dumps(obj) -> tuple[bytes, list[np.ndarray]]:
    """``obj`` as PyTorch's ``data.pkl`` bytes and the storages' data (flat uint8 arrays, keys ``0, 1...``)."""
    buf = io.BytesIO()
    pickler = _Pickler(buf)
    pickler.dump(obj)
    data = retarget(buf.getvalue())
    return data, [s.array.view(np.uint8) for s in pickler.storages]
