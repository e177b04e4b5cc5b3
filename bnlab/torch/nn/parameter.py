"""``nn.Parameter``: a tensor that a ``Module`` registers as a learnable weight.

Assigning a Parameter to a module attribute (``self.weight = nn.Parameter(...)``) registers it, so it shows
up in ``parameters()``, ``named_parameters()`` and ``state_dict()``, and optimizers update it. It is a leaf
that requires grad by default: ``backward()`` accumulates into its ``.grad``.
"""

from __future__ import annotations

from ..tensor import Tensor, host

__all__ = ["Parameter"]


class Parameter(Tensor):
    """``Parameter(data, requires_grad=True)``: shares ``data``'s memory; a float32 leaf."""

    __slots__ = ()

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True):
        if data is None:
            from .._factory import empty

            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter data must be a Tensor, got {type(data).__name__}")
        if not data.dtype.is_floating_point:
            data = host(data._np().astype("float32"), data.device)
        p = object.__new__(cls)
        p._c, p._a, p.dtype, p.device = data._c, None, data.dtype, data.device
        p._rg, p.grad, p.grad_fn = bool(requires_grad), None, None
        return p

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __reduce__(self):
        return (Parameter, (self.detach(), self._rg))
