"""``nn.Parameter``: a tensor that a ``Module`` registers as a learnable weight.

Assigning a Parameter to a module attribute (``self.weight = nn.Parameter(...)``) registers it, so it shows
up in ``parameters()``, ``named_parameters()`` and ``state_dict()``, and optimizers update it. It is a leaf
that requires grad by default: ``backward()`` accumulates into its ``.grad``.
"""

from __future__ import annotations

from ..tensor import Tensor, host

__all__ = ["Parameter", "UninitializedBuffer", "UninitializedParameter"]


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


class UninitializedParameter(Parameter):
    """A parameter whose shape a lazy module learns from its first input (``nn.LazyLinear``...): it holds no
    values until ``materialize(shape)``, which gives it memory and turns it into a plain ``Parameter`` (the same
    object, so an optimizer made before the first forward updates it)."""

    __slots__ = ()
    cls_to_become = Parameter

    def __new__(cls, requires_grad: bool = True, device=None, dtype=None):
        from .._factory import empty

        return Parameter.__new__(cls, empty(0, device=device), requires_grad)

    def materialize(self, shape, device=None, dtype=None) -> None:
        """Give the parameter uninitialized memory of ``shape`` (the lazy module's reset_parameters fills it)."""
        from .._factory import empty

        t = empty(*shape, device=device if device is not None else self.device)
        self._c, self.device = t._c, t.device
        self.__class__ = self.cls_to_become

    def __repr__(self) -> str:
        return "<UninitializedParameter>"


class UninitializedBuffer(Tensor):
    """A buffer (a lazy BatchNorm's running statistics) whose shape comes from the first input."""

    __slots__ = ()

    def __new__(cls, requires_grad: bool = False, device=None, dtype=None):
        from .._factory import empty

        t = empty(0, device=device)
        b = object.__new__(cls)
        b._c, b._a, b.dtype, b.device = t._c, None, t.dtype, t.device
        b._rg, b.grad, b.grad_fn = False, None, None
        return b

    def materialize(self, shape, device=None, dtype=None) -> None:
        from .._factory import empty

        t = empty(*shape, device=device if device is not None else self.device, dtype=dtype)
        self._c, self._a, self.dtype, self.device = t._c, t._a, t.dtype, t.device
        self.__class__ = Tensor

    def __repr__(self) -> str:
        return "<UninitializedBuffer>"
