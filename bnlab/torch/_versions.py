"""Version counters: how bnlab.torch knows that an in-place write changed a tensor backward still needs.

Every tensor has a version (``t._version``, 0 when made); each in-place write (``+=``, ``add_``, ``relu_``,
``copy_``, ``fill_``, ``t[i] = v``, an optimizer's update) adds 1. A tensor and the tensors sharing its memory
(``view``/``reshape``/``flatten``, ``detach()``, ``.data``) share one counter, a one-element list made on first
use. A taped op remembers its inputs' versions when its backward reads their values (``autograd.record``);
``backward()`` compares them and raises PyTorch's error when one changed, instead of computing a gradient from
the overwritten values.
"""

from __future__ import annotations

__all__ = ["bump", "current", "modified_error", "share"]


def _cell(t) -> list:
    c = getattr(t, "_vc", None)
    if c is None:
        c = t._vc = [0]
    return c


def current(t) -> int:
    """t's version (0 while nothing wrote it in place)."""
    c = getattr(t, "_vc", None)
    return 0 if c is None else c[0]


def bump(t) -> None:
    """One in-place write to t (and to every tensor sharing its counter)."""
    _cell(t)[0] += 1


def share(src, dst):
    """dst sees src's memory: one counter for both. Returns dst."""
    dst._vc = _cell(src)
    return dst


_SCALAR_NAMES = {
    "float32": "Float",
    "float64": "Double",
    "int64": "Long",
    "int32": "Int",
    "uint8": "Byte",
    "bool": "Bool",
}


def scalar_name(dtype) -> str:
    """PyTorch's name of a dtype's scalar type in messages: "Float" for float32, "Long" for int64..."""
    return _SCALAR_NAMES.get(str(dtype).replace("torch.", ""), str(dtype))


def _type_name(t) -> str:
    base = scalar_name(t.dtype) + "Tensor"
    return f"torch.cuda.{base}" if t.device.type == "cuda" else f"torch.{base}"


def modified_error(t, expected: int, producer: str | None = None) -> RuntimeError:
    """PyTorch's error for a saved tensor written in place after the op that saved it. PyTorch names the node
    that made the tensor: its current one for a saved input (after ``h.add_(1)``: "Add"), the saving op itself
    for a saved output (``producer``: "Exp")."""
    name = producer if producer is not None else (t.grad_fn.name if t.grad_fn is not None else None)
    which = f", which is output 0 of {name}," if name is not None else ""
    return RuntimeError(
        "one of the variables needed for gradient computation has been modified by an inplace operation: "
        f"[{_type_name(t)} {list(t.shape)}]{which} is at version {current(t)}; expected version {expected} "
        "instead. Hint: enable anomaly detection to find the operation that failed to compute its gradient, "
        "with torch.autograd.set_detect_anomaly(True, check_nan=False)."
    )
