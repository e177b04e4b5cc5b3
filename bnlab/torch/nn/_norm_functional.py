"""``F.layer_norm`` and ``F.group_norm``: per-sample normalization with PyTorch's exact semantics.

    layer_norm  x (*, *normalized_shape): each leading index normalised over the trailing normalized_shape
                values; weight, bias of shape normalized_shape
    group_norm  x (N, C, *): the C channels split into num_groups groups; each (sample, group) normalised
                over its C/num_groups channels and every position; weight, bias (C)
    y = weight * (x - mean) / sqrt(var + eps) + bias, mean and the BIASED var per sample (and group)

As PyTorch, group_norm refuses (ValueError) an input with N*C//num_groups * positions == 1, a single value per
group, in training and eval alike; num_groups must be an int > 0 (TypeError, RuntimeError).

No running statistics: training and eval are the same. Both run on the engine's group-norm op (layer norm is
its one-group case) and tape one node whose backward is the op's backward.
"""

from __future__ import annotations

import numbers

from ... import _core
from .._types import Size
from ..autograd import record
from ..tensor import Tensor, check_same_device, wrap
from ._functional_base import ParamGrads, float_input, needs_tape

__all__ = ["group_norm", "layer_norm"]

_O = _core.ops


def _norm(name, x, weight, bias, view, eps):
    """Run the engine's group norm over ``view`` = (N, A, G, K, L) and tape its backward."""
    x = float_input(x)
    check_same_device(x, weight, bias)
    xc = x._c
    gc = weight._c if weight is not None else None
    bc = bias._c if bias is not None else None
    oc, cache = _core.Tensor(), _O.NormCache()
    _O.groupnorm_forward(oc, cache, xc, gc, bc, *view, eps)
    out = wrap(oc, x.device)
    params = tuple(p for p in (weight, bias) if p is not None)
    if not needs_tape(x, weight, bias):
        return out

    def backward(g, eps=eps):  # eps, unused here, is kept for the double backward's rule (nn/_second_order.py)
        pg = ParamGrads((weight, bias), accumulate=True)  # the kernel accumulates
        dx = _core.Tensor()
        # dx = rstd / M * (M*w*g - sum(w*g) - xhat * sum(w*g*xhat)) per group;  dweight += sum(g * xhat)
        _O.groupnorm_backward(dx, *pg.buffers, g, cache, gc, *view)
        return (dx if x._rg else None, *pg.hand_over())

    record(name, out, (x, *params), backward)
    return out


def layer_norm(
    input: Tensor,
    normalized_shape,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Layer normalization over the trailing ``normalized_shape`` of x (see the module docstring)."""
    shape = tuple(input.shape) if isinstance(input, Tensor) else ()
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    for i, d in enumerate(ns):
        if isinstance(d, bool) or not isinstance(d, numbers.Integral):
            raise TypeError(
                f"layer_norm(): argument 'normalized_shape' (position 2) must be tuple of ints, but found element "
                f"of type {type(d).__name__} at pos {i}"
            )
    ns = tuple(int(d) for d in ns)
    if not ns or len(ns) > len(shape) or shape[len(shape) - len(ns) :] != ns:
        raise RuntimeError(
            f"Given normalized_shape={list(ns)}, expected input with shape [*, {', '.join(map(str, ns))}], "
            f"but got input of size{Size(shape)}"
        )
    for pname, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(p.shape) != ns:
            raise RuntimeError(f"layer_norm: {pname} must have shape {list(ns)}, got {list(p.shape)}")
    D = Size(ns).numel()
    R = Size(shape[: len(shape) - len(ns)]).numel()
    return _norm("NativeLayerNorm", input, weight, bias, (R, 1, 1, D, 1), eps)


def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Group normalization of x (N, C, *) with ``num_groups`` groups of channels (see the module docstring)."""
    shape = tuple(input.shape) if isinstance(input, Tensor) else ()
    if len(shape) < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {len(shape)}")
    N, C = shape[0], shape[1]
    if isinstance(num_groups, bool) or not isinstance(num_groups, numbers.Integral):
        raise TypeError(
            f"group_norm(): argument 'num_groups' (position 2) must be int, not {type(num_groups).__name__}"
        )
    num_groups = int(num_groups)
    if num_groups <= 0:
        raise RuntimeError(f"Expected num groups to be greater than 0, got {num_groups}")
    # PyTorch's _verify_batch_size, before the divisibility check and in eval too: N*C//G * positions == 1 is
    # one sample whose every group normalises a single value.
    if N * C // num_groups * Size(shape[2:]).numel() == 1:
        raise ValueError(
            f"Expected more than 1 value per channel when training, got input size "
            f"{[N * C // num_groups, num_groups, *shape[2:]]}"
        )
    if C % num_groups:
        raise RuntimeError(
            f"Expected number of channels in input to be divisible by num_groups, but got input of shape "
            f"{list(shape)} and num_groups={num_groups}"
        )
    for pname, p in (("weight", weight), ("bias", bias)):
        if p is not None and p.numel() != C:
            raise RuntimeError(f"group_norm: {pname} should contain {C} elements not {p.numel()}")
    L = Size(shape[2:]).numel()
    return _norm("NativeGroupNorm", input, weight, bias, (N, 1, num_groups, C // num_groups, L), eps)
