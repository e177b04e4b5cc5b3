"""Reading a checkpoint's pickle: the weights-only unpickler (``weights_only=True``) and the full one.

This file owns turning ``data.pkl`` (or an old bnlab plain pickle) into bnlab objects: the allowlist, the
storages (persistent ids), PyTorch's tensor and parameter rebuild calls, and the wording of refusals. The zip
around the pickle is ``_checkpoint_zip``; ``_serialization.load`` picks the unpickler and words the errors.

Both are ``pickle.Unpickler`` subclasses that override ``find_class`` (every ``GLOBAL``, ``STACK_GLOBAL``,
``INST``, ``OBJ`` and extension code goes through it) and ``persistent_load``:

* weights-only: ``find_class`` answers only the names that PyTorch's weights-only unpickler allows for
  weights: ``collections.OrderedDict`` and ``Counter``, ``torch._utils._rebuild_tensor`` / ``_v2`` / ``_v3``,
  ``_rebuild_parameter`` (``_with_state``), ``torch._tensor._rebuild_from_type_v2``,
  ``torch.nn.parameter.Parameter``, ``torch.Tensor``, ``torch.Size``, ``torch.device``, the storage classes
  (``torch.FloatStorage``..., ``torch.storage.UntypedStorage``), the dtypes (``torch.float32``...), and for
  protocol 2's bytes, sets and complex numbers ``_codecs.encode`` (latin-1 only), ``builtins.set``,
  ``bytearray`` (not from an int) and ``complex``. Each answers with bnlab's own function, which checks its
  arguments; nothing is imported. Any other name raises ``pickle.UnpicklingError`` before anything runs, in
  PyTorch's words (``Unsupported global: GLOBAL os.system was not an allowed global by default``; the modules
  ``sys``, ``os``, ``posix`` and ``nt`` are "blocked"). A persistent id must be a storage. So a pickle can only
  build containers, numbers, strings and tensors; ``BUILD`` can set attributes only on what those calls return
  (an ``OrderedDict``'s ``_metadata``, as PyTorch's state dicts carry).
* full (``weights_only=False``, trusted files): PyTorch's names as above, anything else by Python's rules, except
  other names under ``torch`` (a PyTorch module pickled whole), which are refused: bnlab never imports PyTorch.

Old bnlab files (a plain pickle of ``bnlab.torch.tensor._rebuild(array, dtype_name, device, requires_grad)``,
arrays pickled by NumPy) go through the same weights-only unpickler, whose allowlist for them alone adds
``bnlab.torch.tensor._rebuild``, ``bnlab.torch.nn.parameter.Parameter``, ``numpy.dtype`` and NumPy's
``_frombuffer`` (arrays of numbers from bytes; object arrays refused).

Tensors. A storage's elements are read from its record with the archive's byte order; a tensor is the
``(storage_offset, size, stride)`` view of them, bounds checked, then copied: bnlab tensors own their memory,
so tensors that shared a storage in PyTorch (views, ``t.T``, ``t[1:, ::2]``) load as separate tensors with the
same values. float64 and float16 become float32 (bnlab's one floating type; bfloat16 too, exactly), int8, int16,
uint16 and uint32 become int64 (uint64 too when its values fit); complex, quantized and sparse tensors are
refused by name. Each tensor is created on the device its saved location maps to (``map_location``).
"""

from __future__ import annotations

import _compat_pickle
import math
import pickle
import re
from collections import Counter, OrderedDict

import numpy as np

from . import _types, cuda
from ._checkpoint_pickle import STORAGE_TYPES
from ._types import Size, as_device
from .nn.parameter import Parameter
from .tensor import Tensor, host

__all__ = ["CheckpointUnpickler", "Refused", "Unsupported"]

_BLOCKED = ("sys", "os", "posix", "nt")
_INT64_MAX = np.iinfo(np.int64).max


class Refused(pickle.UnpicklingError):
    """A weights-only load met a name or persistent id it does not allow (nothing of it ran)."""


class Unsupported(pickle.UnpicklingError):
    """PyTorch content that bnlab.torch cannot hold (complex or sparse tensors, tensor attributes...)."""


class _TorchDType:
    """A PyTorch dtype read from a pickle: the ``dtype`` argument of ``_rebuild_tensor_v3``, and a value that
    ``resolve_dtypes`` replaces by bnlab's dtype of that name (one bnlab lacks, such as ``torch.float64``, stays
    this object). A fresh one per load, so that a ``BUILD`` in the pickle can never alter bnlab's dtypes."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"torch.{self.name}"


class _StorageType:
    """What ``torch.FloatStorage`` (or ``torch.storage.UntypedStorage``: ``dtype_name`` None) loads as."""

    __slots__ = ("dtype_name",)

    def __init__(self, dtype_name: str | None) -> None:
        self.dtype_name = dtype_name


class _LoadedStorage:
    """A storage read from ``data/<key>``: raw bytes (read-only), the dtype of its elements, its location."""

    __slots__ = ("data", "dtype_name", "location")

    def __init__(self, data: np.ndarray, dtype_name: str | None, location: str) -> None:
        self.data, self.dtype_name, self.location = data, dtype_name, location


def _ints(value, what: str) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list)) or not all(type(v) is int and v >= 0 for v in value):
        raise pickle.UnpicklingError(f"a tensor's {what} must be a tuple of non-negative ints, got {value!r:.80}")
    return tuple(value)


def _to_bnlab(a: np.ndarray, name: str) -> np.ndarray:
    """Elements of PyTorch dtype ``name`` (native byte order) as an array of a bnlab dtype."""
    if name == "bfloat16":  # the upper 16 bits of a float32
        return (a.astype(np.uint32) << 16).view(np.float32)
    if name == "bool":
        return a != 0
    if name == "uint64" and a.size and int(a.max()) > _INT64_MAX:
        raise Unsupported("a torch.uint64 tensor holds values above 2**63-1, which bnlab's int64 cannot hold")
    kind = a.dtype.kind
    if kind == "f" and name != "float32":
        with np.errstate(over="ignore"):  # beyond float32's range is inf, as PyTorch's t.float()
            return a.astype(np.float32)
    if kind in "iu" and name not in ("int64", "int32", "uint8"):
        return a.astype(np.int64)
    return a


class _Rebuild:
    """PyTorch's rebuild functions with bnlab's tensors, bound to one load's storages and device mapping."""

    def __init__(self, read_record, byteorder: str, place) -> None:
        self._read, self._order, self._place = read_record, "<" if byteorder == "little" else ">", place
        self._storages: dict[str, _LoadedStorage] = {}
        self._devices: dict[str, object] = {}
        self.classes: dict[int, type] = {}  # id of what this load answers for torch.Tensor / Parameter -> class

    def storage(self, pid) -> _LoadedStorage:
        """``persistent_load`` of ``('storage', storage_type, key, location, numel)``."""
        if type(pid) is not tuple or len(pid) != 5 or pid[0] not in ("storage", b"storage"):
            raise Refused(f"Only persistent_load of storage is allowed, but got {pid!r:.80}")
        _, kind, key, location, numel = pid
        if type(kind) is not _StorageType or type(key) is not str or type(location) is not str:
            raise pickle.UnpicklingError(f"malformed storage id {pid!r:.120}")
        found = self._storages.get(key)
        if found is None:
            if self._read is None:
                raise pickle.UnpicklingError("a storage id in a pickle that has no archive of storages")
            raw = np.frombuffer(self._read(f"data/{key}"), dtype=np.uint8)
            itemsize = np.dtype(STORAGE_TYPES[kind.dtype_name][1]).itemsize if kind.dtype_name else 1
            if type(numel) is not int or raw.size != numel * itemsize:
                raise pickle.UnpicklingError(
                    f"record data/{key} holds {raw.size} bytes, its storage id says {numel!r:.40} elements of "
                    f"{itemsize} bytes"
                )
            found = self._storages[key] = _LoadedStorage(raw, kind.dtype_name, location)
        return found

    def _device(self, location: str):
        d = self._devices.get(location)
        if d is None:
            target = location
            try:
                target = self._place(location) if self._place is not None else location
                d = as_device(target)
            except (RuntimeError, TypeError):
                raise RuntimeError(
                    f"bnlab.torch.load: the checkpoint's tensors are on {location!r}, which maps to {target!r}, a "
                    "device bnlab.torch does not have; pass map_location='cpu'"
                ) from None
            if d.type == "cuda" and not cuda.is_available():
                raise RuntimeError(
                    "Attempting to deserialize object on a CUDA device but torch.cuda.is_available() is False. If "
                    "you are running on a CPU-only machine, please use torch.load with "
                    "map_location=torch.device('cpu') to map your storages to the CPU."
                )
            self._devices[location] = d
        return d

    def _tensor(self, storage, offset, size, stride, requires_grad, name: str, metadata=None) -> Tensor:
        if type(storage) is not _LoadedStorage:
            raise pickle.UnpicklingError(f"a tensor's storage must be a storage, got {type(storage).__name__}")
        size, stride = _ints(size, "size"), _ints(stride, "stride")
        if len(size) != len(stride) or type(offset) is not int or offset < 0:
            raise pickle.UnpicklingError(f"malformed tensor view: offset {offset!r:.40}, size {size}, stride {stride}")
        if name not in STORAGE_TYPES:
            raise Unsupported(f"bnlab.torch has no torch.{name} tensors")
        stored = np.dtype(STORAGE_TYPES[name][1]).newbyteorder(self._order)
        if storage.data.size % stored.itemsize:
            raise pickle.UnpicklingError(f"a storage of {storage.data.size} bytes cannot hold torch.{name} elements")
        elements = storage.data.view(stored)
        numel = math.prod(size)
        if numel == 0:
            a = np.empty(size, stored.newbyteorder("="))
        else:
            last = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
            if last >= elements.size:
                raise pickle.UnpicklingError(
                    f"a tensor of size {size} and stride {stride} at offset {offset} reaches element {last} of a "
                    f"storage of {elements.size}"
                )
            view = np.lib.stride_tricks.as_strided(
                elements[offset:], shape=size, strides=[s * stored.itemsize for s in stride], writeable=False
            )
            a = np.array(view, dtype=stored.newbyteorder("="), order="C")
        a = _to_bnlab(a, name)
        if isinstance(metadata, dict) and metadata.get("neg"):
            a = -a
        t = host(a)
        d = self._device(storage.location)
        if d.type != "cpu":
            t = t.to(d)
        if requires_grad and t.dtype.is_floating_point:
            t.requires_grad_(True)
        return t

    # ---- the functions the pickle calls (``torch._utils`` names)
    def tensor(self, storage, storage_offset, size, stride):
        name = getattr(storage, "dtype_name", None)
        if name is None:
            raise pickle.UnpicklingError("_rebuild_tensor needs a typed storage (torch.FloatStorage...)")
        return self._tensor(storage, storage_offset, size, stride, False, name)

    def tensor_v2(self, storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None):
        name = getattr(storage, "dtype_name", None)
        if name is None:
            raise pickle.UnpicklingError("_rebuild_tensor_v2 needs a typed storage (torch.FloatStorage...)")
        return self._tensor(storage, storage_offset, size, stride, requires_grad, name, metadata)

    def tensor_v3(self, storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype, metadata=None):
        if not isinstance(dtype, (_types.dtype, _TorchDType)):
            raise pickle.UnpicklingError(f"_rebuild_tensor_v3 needs a dtype, got {type(dtype).__name__}")
        return self._tensor(storage, storage_offset, size, stride, requires_grad, dtype.name, metadata)

    def parameter(self, data, requires_grad, backward_hooks=None):
        if not isinstance(data, Tensor):
            raise pickle.UnpicklingError(f"a parameter's data must be a tensor, got {type(data).__name__}")
        return Parameter(data, bool(requires_grad))

    def parameter_with_state(self, data, requires_grad, backward_hooks, state):
        _no_state(state, "parameter")
        return self.parameter(data, requires_grad)

    def from_type_v2(self, func, new_type, args, state):
        if func not in (self.tensor, self.tensor_v2, self.tensor_v3, self.parameter) or type(args) is not tuple:
            raise Refused(f"_rebuild_from_type_v2 may only call a tensor rebuild function, got {func!r:.80}")
        kind = self.classes.get(id(new_type))
        if kind is None:
            raise Unsupported(f"bnlab.torch cannot rebuild a tensor subclass ({new_type!r:.80})")
        _no_state(state, "tensor")
        t = func(*args)
        return Parameter(t, t.requires_grad) if kind is Parameter and type(t) is not Parameter else t

    def legacy_tensor(self, array, dtype_name, device, requires_grad):
        """An old bnlab file's ``bnlab.torch.tensor._rebuild(array, dtype_name, device, requires_grad)``."""
        if not isinstance(array, np.ndarray) or dtype_name not in _types._BY_NAME or type(device) is not str:
            raise pickle.UnpicklingError("malformed bnlab tensor in an old bnlab file")
        t = host(np.array(array, dtype=_types._BY_NAME[dtype_name].np))
        d = self._device(device)
        t = t if d.type == "cpu" else t.to(d)
        return t.requires_grad_(True) if requires_grad and t.dtype.is_floating_point else t


def _no_state(state, what: str) -> None:
    """Refuse Python attributes on a tensor or parameter (bnlab's have none); empty state is fine."""
    parts = state if isinstance(state, tuple) else (state,)
    if any(parts):
        raise Unsupported(f"this checkpoint's {what} carries Python attributes ({state!r:.80}); bnlab's have none")


def _encode(text, encoding="utf-8", errors="strict"):
    """``_codecs.encode`` as protocol 2 uses it for bytes: ``encode(str, 'latin1')`` only."""
    if type(text) is not str or encoding not in ("latin1", "latin-1"):
        raise Refused(f"_codecs.encode is allowed for protocol 2's bytes (latin1) only, not {encoding!r:.40}")
    return text.encode("latin1")


def _bytearray(*args):
    if args and isinstance(args[0], int):
        raise Refused("bytearray(int) is not allowed")
    return bytearray(*args)


def _np_dtype(spec, align=False, copy=False):
    """``numpy.dtype`` as NumPy pickles one: a fresh copy (never NumPy's shared built-in descriptor)."""
    if type(spec) is not str:
        raise Refused(f"numpy.dtype of {type(spec).__name__} is not allowed")
    return np.dtype(spec, bool(align), True)


def _frombuffer(buf, dtype, shape, order):
    """NumPy's ``_frombuffer``: an array of numbers from bytes (object arrays refused)."""
    if not isinstance(buf, (bytes, bytearray, pickle.PickleBuffer)) or not isinstance(dtype, np.dtype):
        raise pickle.UnpicklingError("malformed NumPy array in an old bnlab file")
    if dtype.hasobject or order not in ("C", "F"):
        raise Refused("NumPy arrays of Python objects are not allowed")
    return np.frombuffer(buf, dtype=dtype).reshape(_ints(shape, "shape"), order=order).copy()


def _fresh(f):
    """A new function calling ``f``: what a weights-only load answers for a class or module function, so that
    no ``BUILD`` in the pickle can set attributes on anything that outlives the load."""
    return lambda *args: f(*args)


_OTHER_TORCH_DTYPE = re.compile(r"c?complex\d*|chalf|cfloat|cdouble|q?u?int\d+(x\d+)?|float[48]_\w+|bits\w+")


def _torch_names(rebuild: _Rebuild, weights_only: bool) -> dict[str, object]:
    """PyTorch's global names (those its weights-only unpickler allows) -> what this load answers with."""
    wrap = _fresh if weights_only else (lambda f: f)
    names = {
        "collections.OrderedDict": OrderedDict,
        "collections.Counter": wrap(Counter),
        "torch._utils._rebuild_tensor": rebuild.tensor,
        "torch._utils._rebuild_tensor_v2": rebuild.tensor_v2,
        "torch._utils._rebuild_tensor_v3": rebuild.tensor_v3,
        "torch._utils._rebuild_parameter": rebuild.parameter,
        "torch._utils._rebuild_parameter_with_state": rebuild.parameter_with_state,
        "torch._tensor._rebuild_from_type_v2": rebuild.from_type_v2,
        "torch.nn.parameter.Parameter": wrap(Parameter),
        "torch.Tensor": wrap(Tensor),
        "torch.Size": wrap(Size),
        "torch.device": wrap(_types.device),
        "torch.storage.UntypedStorage": _StorageType(None),
        "torch.UntypedStorage": _StorageType(None),
        "_codecs.encode": wrap(_encode),
        "builtins.bytearray": wrap(_bytearray),
        "builtins.set": set,
        "builtins.complex": complex,
    }
    rebuild.classes = {id(names["torch.Tensor"]): Tensor, id(names["torch.nn.parameter.Parameter"]): Parameter}
    for name, (storage_class, _) in STORAGE_TYPES.items():
        own = _types._BY_NAME.get(name)
        names[f"torch.{name}"] = own if own is not None and not weights_only else _TorchDType(name)
        if storage_class is not None:
            names[f"torch.{storage_class}"] = names[f"torch.cuda.{storage_class}"] = _StorageType(name)
    return names


def resolve_dtypes(obj, seen: dict | None = None):
    """``obj`` with the ``_TorchDType`` values of bnlab's dtypes (in dicts, lists, tuples, sets) replaced by
    those dtypes: mutable containers in place, tuples rebuilt; shared and cyclic containers are visited once."""
    if isinstance(obj, _TorchDType):
        return _types._BY_NAME.get(obj.name, obj)
    if seen is None:
        seen = {}
    if not isinstance(obj, (dict, list, tuple, set)) or id(obj) in seen:
        return seen.get(id(obj), obj)
    seen[id(obj)] = obj
    if isinstance(obj, list):
        obj[:] = [resolve_dtypes(v, seen) for v in obj]
    elif isinstance(obj, dict):
        items = [(resolve_dtypes(k, seen), resolve_dtypes(v, seen)) for k, v in obj.items()]
        obj.clear()
        obj.update(items)
    elif isinstance(obj, set):
        items = [resolve_dtypes(v, seen) for v in obj]
        obj.clear()
        obj.update(items)
    else:
        items = [resolve_dtypes(v, seen) for v in obj]
        if any(a is not b for a, b in zip(items, obj, strict=True)):
            seen[id(obj)] = type(obj)(items) if isinstance(obj, Size) else tuple(items)
    return seen[id(obj)]


_LEGACY = ("bnlab.torch.tensor._rebuild", "bnlab.torch.nn.parameter.Parameter", "numpy.dtype")
_LEGACY_FROMBUFFER = ("numpy._core.numeric._frombuffer", "numpy.core.numeric._frombuffer")


class CheckpointUnpickler(pickle.Unpickler):
    """``weights_only`` restricts globals as the module docstring says; ``legacy`` (an old bnlab plain pickle)
    adds, for a weights-only load, bnlab's old tensor rebuild and NumPy's array reconstruction;
    ``read_record(name)`` gives a record's bytes (None for a plain pickle); ``place(location)`` maps a saved
    device string (None: keep it). ``load()`` returns the object with bnlab's dtypes in it."""

    def __init__(self, file, *, weights_only: bool, legacy: bool, read_record=None, byteorder="little", place=None):
        super().__init__(file, encoding="utf-8")
        self._rebuild = _Rebuild(read_record, byteorder, place)
        self._weights_only, self._gave_dtype = weights_only, False
        self._names = _torch_names(self._rebuild, weights_only)
        if legacy and weights_only:
            self._names.update(dict.fromkeys(_LEGACY_FROMBUFFER, _fresh(_frombuffer)))
            self._names.update(
                zip(_LEGACY, (self._rebuild.legacy_tensor, _fresh(Parameter), _fresh(_np_dtype)), strict=True)
            )

    def load(self):
        obj = super().load()
        return resolve_dtypes(obj) if self._gave_dtype else obj

    def persistent_load(self, pid):
        return self._rebuild.storage(pid)

    def find_class(self, module: str, name: str):
        if (module, name) in _compat_pickle.NAME_MAPPING:  # protocol 2 spells builtins as __builtin__
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        full = f"{module}.{name}"
        found = self._names.get(full)
        if found is not None:
            self._gave_dtype = self._gave_dtype or type(found) is _TorchDType
            return found
        if not self._weights_only:
            if full == "bnlab.torch.tensor._rebuild":
                return self._rebuild.legacy_tensor
            if module != "torch" and not module.startswith("torch."):
                return super().find_class(module, name)
        elif module.split(".")[0] in _BLOCKED:
            raise Refused(f"Trying to load unsupported GLOBAL {full} whose module {module} is blocked.")
        if module == "torch" and (name.endswith("Storage") or _OTHER_TORCH_DTYPE.fullmatch(name)):
            raise Unsupported(f"bnlab.torch has no tensors of PyTorch's {full}")
        if full.startswith("torch._utils._rebuild") or full == "torch.serialization._get_layout":
            raise Unsupported(f"bnlab.torch has only dense tensors of its dtypes: it cannot rebuild {full}")
        if not self._weights_only:
            raise Unsupported(
                f"the checkpoint pickles {full}, a PyTorch object that bnlab.torch cannot rebuild (a whole "
                "PyTorch module?): save its state_dict() in PyTorch and load that"
            )
        shown = full[len("builtins.") :] if module == "builtins" else full
        raise Refused(f"Unsupported global: GLOBAL {shown} was not an allowed global by default.")
