"""Printing tensors the way PyTorch prints them.

``tensor([[ 0.1235, -1.0000]])``: floats with 4 decimals in a common width (scientific notation when the
magnitudes span too much, ``1.`` style when every value is a whole number), ints as ints, then the
suffixes PyTorch adds: ``dtype=`` for non-default types, ``device=`` off the CPU, ``requires_grad=True``
on leaves and ``grad_fn=<...Backward0>`` on computed tensors.
"""

from __future__ import annotations

import numpy as np

__all__ = ["tensor_repr"]

_DEFAULT_DTYPES = ("float32", "int64", "bool")


def _float_formatter(values: np.ndarray):
    finite = values[np.isfinite(values)]
    if finite.size and np.all(finite == np.round(finite)) and np.abs(finite).max() < 1e8:
        fmt = "{:.0f}."
    else:
        nonzero = np.abs(finite[finite != 0])
        big = nonzero.size and (nonzero.max() >= 1e8 or nonzero.max() / max(nonzero.min(), 1e-300) > 1e3)
        small = nonzero.size and nonzero.min() < 1e-4
        fmt = "{:.4e}" if big or small else "{:.4f}"
    width = max((len(fmt.format(v)) for v in values.ravel()), default=1)

    def format_one(v) -> str:
        if np.isnan(v):
            return "nan".rjust(width)
        if np.isinf(v):
            return ("inf" if v > 0 else "-inf").rjust(width)
        return fmt.format(v).rjust(width)

    return format_one


def tensor_repr(t) -> str:
    """``repr`` of a bnlab Tensor."""
    a = t._np()
    suffixes = []
    if t.dtype.name not in _DEFAULT_DTYPES:
        suffixes.append(f"dtype={t.dtype!r}")
    if t.device.type != "cpu":
        suffixes.append(f"device='{t.device}'")
    if a.size == 0:
        body = "[]"
        if a.ndim != 1:
            suffixes.insert(0, f"size={tuple(a.shape)}")
    elif a.dtype.kind == "f":
        body = np.array2string(
            a,
            separator=", ",
            prefix="tensor(",
            formatter={"float_kind": _float_formatter(a)},
            threshold=1000,
            edgeitems=3,
            max_line_width=80,
        )
    else:
        body = np.array2string(a, separator=", ", prefix="tensor(", threshold=1000, edgeitems=3, max_line_width=80)
    if t.grad_fn is not None:
        # a custom autograd.Function's node prints its class name (SquareBackward), as PyTorch's does
        fn = getattr(t.grad_fn, "fn", t.grad_fn)  # one output of several hands over to the Function's node
        custom = getattr(fn, "_forward_cls", None) is not None
        suffixes.append(f"grad_fn=<{type(fn).__name__ if custom else t.grad_fn.name + 'Backward0'}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return "tensor(" + body + "".join(", " + s for s in suffixes) + ")"
