"""``bnlab.torch``: PyTorch's API on bnlab's C++ engine, for learning batch normalization.

``import bnlab.torch as torch`` (and ``import bnlab.torch.nn as nn``, ``bnlab.torch.optim``,
``bnlab.torch.utils.data``) runs PyTorch notebooks such as the seeds unchanged. What is here:

* tensors (``tensor``, ``from_numpy``, ``zeros``, ``randn``...) with autograd (``requires_grad``,
  ``backward()``, ``no_grad()``, ``register_hook``, ``retain_grad``); float32 maths runs in the engine,
  ``numpy()`` is zero-copy on the CPU; reductions take NumPy's ``axis``/``keepdims`` as PyTorch does;
* ``nn``: ``Module``, ``Linear``, ``BatchNorm1d`` (exactly PyTorch's semantics, running statistics
  included), activations, ``Dropout``, ``Sequential``, the losses, ``functional`` and ``init``;
* ``optim``: ``SGD`` and ``Adam`` whose updates run in the engine;
* ``utils.data``: ``Dataset``, ``TensorDataset``, ``DataLoader`` (batched gathers, no per-sample work for
  in-memory datasets); ``cuda.is_available()``; ``manual_seed``, ``device``, ``Size``;
* module forward and pre-forward hooks with removable handles (``register_forward_hook``);
* the elementwise maths, reductions, indexing, shape and creation functions that teaching code uses
  (``clamp``, ``where``, ``cumsum``, ``logsumexp``, ``topk``, ``gather``, ``masked_fill``, ``einsum``,
  ``tril``, ``randn_like``...), listed in ``_bindings``; they compute on the host with NumPy.
A name bnlab.torch does not have yet raises an AttributeError that says so and names the closest it has.

Every numeric step of training (linear, batch norm, activations, dropout, softmax and losses, optimizer
updates) runs in the C++ engine (``bnlab._core``); Python records the tape and moves data.
"""

from __future__ import annotations

import builtins

from .. import _core

if not hasattr(_core, "tensor_ops"):  # pragma: no cover - a stale build of the engine
    raise ImportError(
        "bnlab._core lacks the tensor_ops module that bnlab.torch needs: rebuild the engine with "
        "cpp/ops/tensor_ops.cpp, cpp/backend/cpu/tensor_kernels_cpu.cpp and bindings/bind_tensor_ops.cpp"
    )

from . import _bindings, _methods, _names, autograd, cuda, nn, optim, utils
from ._elementwise import ceil, cos, cosh, expm1, floor, log1p, log2, log10, round, sin, sinh, tan, trunc
from ._factory import (
    arange,
    as_tensor,
    empty,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from ._math import abs, exp, log, matmul, mean, sqrt, std, sum, var
from ._numeric import bmm, histogram, meshgrid, multinomial, normal
from ._random import Generator, default_generator, initial_seed, manual_seed, seed
from ._serialization import load, save
from ._shape import argmax, argmin, cat, flatten, max, min, permute, squeeze, stack, transpose, unsqueeze
from ._types import Size, bool, device, dtype, float, float32, int, int32, int64, long, uint8
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .nn.functional import log_softmax, relu, sigmoid, softmax, tanh
from .nn.modules.batchnorm import BatchNormTrainingModeWarning
from .tensor import Tensor

_methods.install(Tensor)  # operators and methods: bound here, so that tensor.py imports none of their modules
_MORE = {name: fn for name, fn in _bindings.FUNCTIONS.items() if name not in globals()}
globals().update(_MORE)  # the host-computed functions (clamp, gather, cumsum, einsum...), named in _bindings
__getattr__ = _names.module_getattr("bnlab.torch", globals())  # a missing name says so, and names the closest

__all__ = [
    "BatchNormTrainingModeWarning",
    "Generator",
    "Size",
    "Tensor",
    "abs",
    "arange",
    "argmax",
    "argmin",
    "as_tensor",
    "autograd",
    "bmm",
    "bool",
    "cat",
    "ceil",
    "cos",
    "cosh",
    "cuda",
    "default_generator",
    "device",
    "dtype",
    "empty",
    "enable_grad",
    "exp",
    "expm1",
    "eye",
    "flatten",
    "float",
    "float32",
    "floor",
    "from_numpy",
    "full",
    "full_like",
    "get_num_threads",
    "histogram",
    "initial_seed",
    "int",
    "int32",
    "int64",
    "is_grad_enabled",
    "is_tensor",
    "linspace",
    "load",
    "log",
    "log1p",
    "log2",
    "log10",
    "log_softmax",
    "long",
    "manual_seed",
    "matmul",
    "max",
    "mean",
    "meshgrid",
    "min",
    "mm",
    "multinomial",
    "nn",
    "no_grad",
    "normal",
    "numel",
    "ones",
    "ones_like",
    "optim",
    "permute",
    "rand",
    "randint",
    "randn",
    "randperm",
    "relu",
    "round",
    "save",
    "seed",
    "set_flush_denormal",
    "set_grad_enabled",
    "set_num_threads",
    "sigmoid",
    "sin",
    "sinh",
    "softmax",
    "sqrt",
    "squeeze",
    "stack",
    "std",
    "sum",
    "tan",
    "tanh",
    "tensor",
    "transpose",
    "trunc",
    "uint8",
    "unsqueeze",
    "utils",
    "var",
    "zeros",
    "zeros_like",
]

__all__ += sorted(_MORE)

mm = matmul


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def numel(t: Tensor) -> int:
    return t.numel()


def set_flush_denormal(mode: bool) -> bool:
    """Flush denormal floats to zero in the engine's CPU work (``mode=True``) or keep them (``False``).

    As ``torch.set_flush_denormal``: returns True when this CPU supports it (x86-64: SSE's FTZ and DAZ bits)
    and the mode was set, False (nothing changed) elsewhere. One difference, stated here because it matters
    for speed: bnlab starts with flushing ON (TensorFlow's default), PyTorch with it off. A value below
    2**-126 ~ 1.18e-38 in magnitude then reads and writes as 0 in the engine; every normal value keeps its
    bits. Adam's moments of units whose gradient has gone to zero decay into that range, and each operation on
    a denormal costs ~100 cycles: an unflushed engine slows down epoch after epoch. The setting is shared with
    the Keras face (``bnlab.config.set_flush_denormals``) and applies to the engine's threads and to this
    thread during engine calls only: NumPy code between them keeps IEEE denormals.
    """
    if not isinstance(mode, (builtins.bool, builtins.int)):
        raise TypeError(f"set_flush_denormal(): mode must be a bool, got {type(mode).__name__}")
    if not _core.flush_denormals_supported():
        return False
    _core.set_flush_denormals(builtins.bool(mode))
    return True


def set_num_threads(n: int) -> None:
    """Threads of the engine's matrix products (OpenBLAS), as ``torch.set_num_threads``."""
    _core.set_num_threads(n)


def get_num_threads() -> int:
    return _core.get_num_threads()
