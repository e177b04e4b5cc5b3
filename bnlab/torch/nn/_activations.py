"""The activations of ``nn.functional`` (re-exported there, and bound as ``Tensor.relu``, ``Tensor.softmax``...):
relu, sigmoid, tanh, softmax and log_softmax, forward and backward in the engine, taped for autograd.

    relu        max(x, 0)                  gradient [y > 0]
    sigmoid     1 / (1 + e^-x)             gradient y (1 - y)
    tanh        tanh x                     gradient 1 - y^2
    softmax     e^x / sum(e^x)             backward y (g - sum(g y))
    log_softmax x - log(sum(e^x))          backward g - softmax(x) sum(g)

Every backward reads the forward's output (not its input). (Log-)softmax runs over the last dimension only;
``dim=None`` picks PyTorch's deprecated implicit dimension, with its warning.
"""

from __future__ import annotations

import warnings

from ... import _core
from .. import _versions
from .._names import numpy_aliases
from .._rebase import rebase, recorded
from .._shape import check_inplace
from ..tensor import Tensor
from ._functional_base import float_input, taped_unary

__all__ = ["log_softmax", "relu", "relu_", "sigmoid", "softmax", "softmax_dim", "tanh"]

_O = _core.ops
_T = _core.tensor_ops
_Act = _core.Act


def _activation(name: str, x: Tensor, act) -> Tensor:
    x = float_input(x)
    oc = _core.Tensor()
    _O.activation_forward(oc, x._c, act)
    # from the output: relu' = [y > 0], sigmoid' = y(1-y), ...
    return taped_unary(name, x, oc, _O.activation_backward, oc, act)


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0); gradient 1 where the output is positive, else 0. With ``inplace=True`` the result is written
    into the input's memory and the input itself is returned, its history ending in the ReLU (_rebase.py)."""
    if not inplace:
        return _activation("Relu", input, _Act.Relu)
    return relu_(input)


def relu_(input: Tensor) -> Tensor:
    """max(x, 0) written into x (``x.relu_()``, ``F.relu(x, inplace=True)``, ``nn.ReLU(inplace=True)``)."""
    x = float_input(input)
    check_inplace(x, recorded=True)
    if recorded(x, None):
        return rebase(x, lambda old: _activation("Relu", old, _Act.Relu))
    oc = _core.Tensor()
    _O.activation_forward(oc, x._c, _Act.Relu)
    _T.copy(x._c, oc)  # into x's own memory: its views and NumPy arrays see the result
    _versions.bump(x)
    return x


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + e^-x); gradient y (1 - y)."""
    return _activation("Sigmoid", input, _Act.Sigmoid)


def tanh(input: Tensor) -> Tensor:
    """tanh x; gradient 1 - y^2."""
    return _activation("Tanh", input, _Act.Tanh)


def softmax_dim(ndim: int, name: str) -> int:
    """PyTorch's implicit choice of dimension (deprecated there too): 0 for 0-, 1- and 3-D, else 1."""
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X as an argument.",
        UserWarning,
        stacklevel=3,
    )
    return 0 if ndim in (0, 1, 3) else 1


def _last_dim(x: Tensor, dim, name: str) -> None:
    n = x.dim()
    if dim is None:
        dim = softmax_dim(n, name)
    if not -max(n, 1) <= dim < max(n, 1):
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-max(n, 1)}, {max(n, 1) - 1}], but got {dim})"
        )
    if n and dim % n != n - 1:
        raise NotImplementedError(
            f"bnlab.torch computes {name} over the last dimension only (dim={n - 1} or -1 here, got "
            f"dim={dim}); "
            "move the dimension last with permute() first"
        )


@numpy_aliases
def softmax(input: Tensor, dim: int | None = None) -> Tensor:
    """e^x / sum(e^x) over ``dim`` (the last dimension); backward y (g - sum(g y))."""
    x = float_input(input)
    _last_dim(x, dim, "softmax")
    return _activation("Softmax", x, _Act.Softmax)


@numpy_aliases
def log_softmax(input: Tensor, dim: int | None = None) -> Tensor:
    """x - log(sum(e^x)) over ``dim`` (the last dimension); backward g - softmax(x) sum(g)."""
    x = float_input(input)
    _last_dim(x, dim, "log_softmax")
    oc = _core.Tensor()
    _T.log_softmax_forward(oc, x._c)
    return taped_unary("LogSoftmax", x, oc, _T.log_softmax_backward, oc)
