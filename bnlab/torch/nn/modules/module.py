"""``nn.Module``: the base class of layers and models, with PyTorch's registration rules.

Assigning to an attribute registers what is assigned: a ``Parameter`` goes to ``_parameters``, a ``Module``
to ``_modules`` (in assignment order, also when created under an ``if``, as in seed 001's
``if use_batch_norm: self.bn1 = nn.BatchNorm1d(...)``), and ``register_buffer`` declares state that is saved
but not trained (BatchNorm's running statistics). Everything else is a plain attribute.

Names follow the attribute path: ``fc1.weight``, ``bn.running_mean``, ``bn.num_batches_tracked`` — the keys
of ``state_dict()`` and of ``named_parameters()``, exactly as PyTorch's. ``train()``/``eval()`` set
``training`` on the module and all its children (BatchNorm and Dropout read it); ``__call__`` runs
``forward``. ``repr`` prints the tree as PyTorch does.
"""

from __future__ import annotations

from collections import OrderedDict, namedtuple

import numpy as np

from ... import _hooks, _types, autograd
from ...tensor import Tensor, parse_to_args
from ..parameter import Parameter
from . import _backward_hooks

__all__ = ["Module"]

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _addindent(s: str, spaces: int) -> str:
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


def _as_array(value) -> np.ndarray:
    """A state_dict value as a NumPy array: bnlab tensors, NumPy arrays, or other frameworks' tensors."""
    if isinstance(value, Tensor):
        return value._np()
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # e.g. a torch.Tensor (used by parity tests)
        return np.asarray(value.detach().cpu().numpy())
    return np.asarray(value)


class Module:
    """Base class of layers and models: subclass it, create layers in ``__init__``, compute in ``forward``."""

    training: bool

    def __init__(self, *args, **kwargs) -> None:
        if args or kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected arguments; Module takes none")
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = {}

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    def __call__(self, *args, **kwargs):
        d = self.__dict__
        pre, post = d.get("_forward_pre_hooks"), d.get("_forward_hooks")
        back_pre, back = d.get("_backward_pre_hooks"), d.get("_backward_hooks")
        if not pre and not post and not back_pre and not back:
            return self.forward(*args, **kwargs)
        for hook in list((pre or {}).values()):  # hook(module, args) -> None, or new args
            new = hook(self, args)
            if new is not None:
                args = new if isinstance(new, tuple) else (new,)
        if back_pre or back:
            out = _backward_hooks.call_with_backward_hooks(self, self.forward, args, kwargs, back_pre or {}, back or {})
        else:
            out = self.forward(*args, **kwargs)
        for hook in list((post or {}).values()):  # hook(module, args, output) -> None, or a new output
            new = hook(self, args, out)
            if new is not None:
                out = new
        return out

    # ---------------------------------------------------------------- hooks (bnlab/torch/_hooks.py)
    def register_forward_pre_hook(self, hook):
        """``hook(module, args)`` runs before each ``forward``; returning a value (a tuple, or one input)
        replaces the positional inputs. Returns a removable handle."""
        return _hooks.add(self.__dict__.setdefault("_forward_pre_hooks", {}), hook)

    def register_forward_hook(self, hook):
        """``hook(module, args, output)`` runs after each ``forward``; returning a value replaces the output.
        The usual way to record activations (a BN layer's input and output, for a histogram). Returns a
        removable handle."""
        return _hooks.add(self.__dict__.setdefault("_forward_hooks", {}), hook)

    def register_full_backward_pre_hook(self, hook):
        """``hook(module, grad_output)`` runs when dL/d(output) is known; returning a tuple replaces it.
        Returns a removable handle (_backward_hooks.py)."""
        return _hooks.add(self.__dict__.setdefault("_backward_pre_hooks", {}), hook)

    def register_full_backward_hook(self, hook):
        """``hook(module, grad_input, grad_output)`` runs when dL/d(input) is known; returning a tuple
        replaces grad_input. The way to record a BN layer's input and output gradients. Returns a removable
        handle (_backward_hooks.py)."""
        return _hooks.add(self.__dict__.setdefault("_backward_hooks", {}), hook)

    # ---------------------------------------------------------------- registration
    def _remove(self, name: str, *stores: str) -> None:
        self.__dict__.pop(name, None)
        for store in stores:
            self.__dict__[store].pop(name, None)
        self.__dict__["_non_persistent_buffers_set"].discard(name)

    def __setattr__(self, name: str, value) -> None:
        d = self.__dict__
        for kind, key, kinds, as_what, expected, others in _REGISTERED:
            store = d.get(key)
            if isinstance(value, kind):
                if store is None:
                    raise AttributeError(f"cannot assign {kinds} before Module.__init__() call")
                self._remove(name, *others)
                store[name] = value
                return
            if store is not None and name in store:
                if value is not None:
                    raise TypeError(
                        f"cannot assign '{type(value).__name__}' as {as_what} '{name}' ({expected} or None expected)"
                    )
                store[name] = None
                return
        buffers = d.get("_buffers")
        if buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as buffer '{name}' (torch.Tensor or None expected)"
                )
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str):
        # called for every parameter, buffer and submodule read (they live in these dicts, as in PyTorch),
        # several times a training step: the three lookups are written out
        d = self.__dict__
        params = d.get("_parameters")
        if params is not None:
            if name in params:
                return params[name]
            buffers = d["_buffers"]
            if name in buffers:
                return buffers[name]
            modules = d["_modules"]
            if name in modules:
                return modules[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if name in d.get(store, ()):
                del d[store][name]
                d["_non_persistent_buffers_set"].discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        d = self.__dict__
        return sorted(set(super().__dir__()) | set(d["_parameters"]) | set(d["_buffers"]) | set(d["_modules"]))

    def _check_registrable(self, kind: str, store: str, name) -> None:
        """AttributeError before ``Module.__init__()`` ran, KeyError for a bad name (PyTorch's words)."""
        if store not in self.__dict__:
            raise AttributeError(f"cannot assign {kind} before Module.__init__() call")
        _check_name(kind, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        self._check_registrable("parameter", "_parameters", name)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                "(torch.nn.Parameter or None required)"
            )
        self._remove(name, "_buffers", "_modules")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Declare state that ``state_dict`` saves (if persistent) and ``to()`` moves; not trained."""
        self._check_registrable("buffer", "_buffers", name)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' (torch Tensor or None required)"
            )
        self._remove(name, "_parameters", "_modules")
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        _check_name("module", name)
        self._remove(name, "_parameters", "_buffers")
        self._modules[name] = module

    register_module = add_module

    # ---------------------------------------------------------------- traversal
    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        memo = set() if memo is None else memo
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(memo, f"{prefix}.{name}" if prefix else name, remove_duplicate)

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self):
        for _, module in self.named_children():
            yield module

    def _named_members(self, store: str, prefix: str, recurse: bool, remove_duplicate: bool = True):
        seen = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in module.__dict__[store].items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn) -> Module:
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ---------------------------------------------------------------- modes and devices
    def train(self, mode: bool = True) -> Module:
        """Training mode (``mode=True``) or evaluation mode, for this module and every submodule."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: BatchNorm uses its running statistics, Dropout passes inputs through."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of every parameter (to None by default, as PyTorch 2)."""
        for p in self.parameters():
            autograd.clear_leaf_grad(p, set_to_none)

    def to(self, *args, **kwargs) -> Module:
        """Move parameters (keeping their identity, so optimizers still hold them) and buffers in place."""
        device, dtype = parse_to_args(args, kwargs)
        if dtype is not None and dtype is not _types.float32:
            raise TypeError(
                f"nn.Module.to only accepts floating point dtypes, and bnlab computes in float32, got {dtype}"
            )
        if device is None:
            return self
        for module in self.modules():
            for p in module._parameters.values():
                if p is not None:
                    moved = p.detach().to(device)
                    p._set_core(moved._c, moved.device)
                    if p.grad is not None:
                        p.grad = p.grad.to(device)
            for name, b in module._buffers.items():
                if b is not None:
                    module._buffers[name] = b.to(device)
        return self

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self, device=None) -> Module:
        return self.to("cuda" if device is None else device)

    def float(self) -> Module:
        return self

    # ---------------------------------------------------------------- state
    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False):
        """An OrderedDict from names (``fc1.weight``, ``bn.running_mean``...) to tensors sharing memory."""
        out = OrderedDict() if destination is None else destination
        for name, p in self._parameters.items():
            if p is not None:
                out[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                out[prefix + name] = b if keep_vars else b.detach()
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(out, prefix + name + ".", keep_vars)
        return out

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy values into the parameters and buffers in place; returns ``(missing_keys, unexpected_keys)``.
        Raises RuntimeError listing every problem (PyTorch's wording) when ``strict``, or on a size mismatch.
        """
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = _as_array(state_dict[key])
            if tuple(value.shape) != tuple(target.shape):
                errors.append(
                    f"size mismatch for {key}: copying a param with shape {_types.Size(value.shape)} from "
                    "checkpoint, "
                    f"the shape in current model is {target.shape}."
                )
                continue
            _copy_into(target, value)
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ". ")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ". ")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))
        return IncompatibleKeys(missing, unexpected)

    # ---------------------------------------------------------------- printing
    def extra_repr(self) -> str:
        """The configuration printed inside ``Name(...)``; layers override it."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({key}): " + _addindent(repr(module), 2) for key, module in self._modules.items()]
        lines = extra_lines + child_lines
        body = ""
        if lines:
            body = extra_lines[0] if len(extra_lines) == 1 and not child_lines else "\n  " + "\n  ".join(lines) + "\n"
        return f"{self._get_name()}({body})"


def _check_name(kind: str, name) -> None:
    """KeyError (PyTorch's wording) unless ``name`` can name a parameter, buffer or module."""
    if not isinstance(name, str) or not name or "." in name:
        raise KeyError(f'{kind} name must be a non-empty string without ".", got {name!r}')


# What __setattr__ registers, in the order it checks: the class of a value it registers, its store, and the
# words of its errors; a name registered in one store leaves the other two.
_REGISTERED = (
    (Parameter, "_parameters", "parameters", "parameter", "torch.nn.Parameter", ("_buffers", "_modules")),
    (Module, "_modules", "module", "child module", "torch.nn.Module", ("_parameters", "_buffers")),
)


def _copy_into(target: Tensor, value: np.ndarray) -> None:
    """Overwrite ``target``'s memory with ``value`` (converted to its dtype), outside autograd."""
    if target._c is None:
        target._a[...] = value.astype(target._a.dtype)
    elif target.device.type == "cpu":
        target._np()[...] = value
    else:
        target._c.copy_from(np.ascontiguousarray(value, dtype=np.float32))
