"""How bnlab.torch answers for the names it does not have, and PyTorch's NumPy-style argument aliases.

* A missing name raises an AttributeError that says bnlab.torch does not have it yet and names the closest
  name it does have (``torch.sinh`` -> "did you mean 'sin'?", when it has that), for ``bnlab.torch``,
  ``bnlab.torch.nn``, ``bnlab.torch.nn.functional`` and Tensor attributes.
* PyTorch accepts NumPy's ``axis`` for ``dim`` and ``keepdims`` for ``keepdim`` in its reductions
  (``Y_hat.argmax(axis=1)``, d2l's accuracy); ``numpy_aliases`` gives a function the same. Both at once
  raise PyTorch's TypeError.
"""

from __future__ import annotations

import difflib
import functools

_ALIASES = {"axis": "dim", "keepdims": "keepdim"}


def numpy_aliases(fn):
    """``fn`` that also takes ``axis=`` for ``dim=`` and ``keepdims=`` for ``keepdim=``, as PyTorch does."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        for alias, name in _ALIASES.items():
            if alias in kwargs:
                if name in kwargs:
                    raise TypeError(f"{fn.__name__}() received both {name}= and its alias {alias}=; give one")
                kwargs[name] = kwargs.pop(alias)
        return fn(*args, **kwargs)

    return wrapper


def missing(owner: str, name: str, have) -> AttributeError:
    """The AttributeError for ``owner.name``: not in bnlab.torch yet, and the closest of the names ``have``."""
    public = sorted({n for n in have if not n.startswith("_")})
    close = difflib.get_close_matches(name, public, n=1, cutoff=0.6)
    hint = f"; the closest it has is {owner}.{close[0]}" if close else ""
    return AttributeError(
        f"{owner} has no attribute {name!r}: bnlab.torch does not have it yet (it implements the part of "
        f"PyTorch that BN teaching code uses){hint}"
    )


def module_getattr(owner: str, namespace: dict):
    """A module-level ``__getattr__`` for the module whose globals are ``namespace``."""

    def getattr_of_module(name):
        if name.startswith("__"):  # dunder probes (__path__, __wrapped__...) get Python's plain error
            raise AttributeError(f"module {owner!r} has no attribute {name!r}")
        raise missing(owner, name, namespace)

    return getattr_of_module


def tensor_getattr(self, name):
    """Tensor.__getattr__: runs only when normal lookup fails."""
    cls = type(self)
    if name.startswith("_") or hasattr(cls, name):  # private names, and a slot not yet set (t.grad_fn, say)
        raise AttributeError(f"{cls.__name__!r} object has no attribute {name!r}")
    raise missing("bnlab.torch.Tensor", name, dir(cls))
