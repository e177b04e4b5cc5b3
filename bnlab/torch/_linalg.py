"""Products: ``dot``, ``vdot``, ``inner``, ``outer``/``ger``, ``mv``, ``addmm``, ``addmv``, ``einsum`` and
``tensordot``.

``dot``, ``outer``, ``mv``, ``addmm`` and ``addmv`` are compositions of engine ops (``*``, ``sum``, ``@``), taped
there. ``einsum`` computes with NumPy on the host (_host.py); ``inner`` and ``tensordot`` are einsums. Backward of
einsum (g = dL/d(out)): operand i gets the einsum of the other operands and g into operand i's subscripts;
a subscript only operand i has (summed over in the forward) is broadcast back. ``addmm``/``addmv`` with
``beta=0`` ignore ``input``, its values and its gradient, as PyTorch ignores its values. An operand with a repeated
subscript (a diagonal, ``'ii->i'``) has no backward here: NotImplementedError when its gradient is needed.
"""

from __future__ import annotations

import string

import numpy as np

from . import _versions
from ._host import check_tensor, device_of, result
from ._math import matmul
from .tensor import Tensor


def _same_dtype(name, a, b):
    if a.dtype is not b.dtype:
        raise RuntimeError(
            f"{name} : expected both vectors to have same dtype, but found {_versions.scalar_name(a.dtype)} and "
            f"{_versions.scalar_name(b.dtype)}"
        )


def dot(input, tensor):
    """The inner product of two 1-D tensors of the same size and dtype."""
    check_tensor(input, "dot")
    check_tensor(tensor, "dot", "tensor")
    if input.dim() != 1 or tensor.dim() != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.dim()}D and {tensor.dim()}D tensors")
    _same_dtype("dot", input, tensor)
    n, m = input.shape[0], tensor.shape[0]
    if n != m:
        raise RuntimeError(
            f"inconsistent tensor size, expected tensor [{n}] and src [{m}] to have the same number of elements, "
            f"but got {n} and {m} elements respectively"
        )
    return (input * tensor).sum()


vdot = dot  # the same for real tensors


def outer(input, vec2):
    """The (n, m) matrix input[i] * vec2[j] of two 1-D tensors."""
    check_tensor(input, "outer")
    check_tensor(vec2, "outer", "vec2")
    if input.dim() != 1 or vec2.dim() != 1:
        raise RuntimeError(f"outer: expected 1D tensors, but got {input.dim()}D and {vec2.dim()}D tensors")
    return input.view(-1, 1) * vec2.view(1, -1)


ger = outer


def mv(input, vec):
    """The product of an (n, m) matrix and an m-vector."""
    check_tensor(input, "mv")
    check_tensor(vec, "mv", "vec")
    if input.dim() != 2 or vec.dim() != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {input.dim()}, {vec.dim()}")
    return matmul(input, vec)


def _scaled_sum(input, product, beta, alpha):
    scaled = product if alpha == 1 else product * alpha
    if beta == 0:  # PyTorch ignores input then: nan and inf in it do not propagate (nor does a gradient here)
        return scaled + _zeros_like(input)
    return scaled + (input if beta == 1 else input * beta)


def _zeros_like(t):
    return result("zeros", np.zeros(t.shape, np.float32), (t,))


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """beta * input + alpha * (mat1 @ mat2), input broadcast to the product's shape."""
    check_tensor(input, "addmm")
    if mat1.dim() != 2 or mat2.dim() != 2:
        raise RuntimeError(
            f"mat1 must be a matrix, got {mat1.dim()}-D tensor"
            if mat1.dim() != 2
            else f"mat2 must be a matrix, got {mat2.dim()}-D tensor"
        )
    return _scaled_sum(input, matmul(mat1, mat2), beta, alpha)


def addmv(input, mat, vec, *, beta=1, alpha=1):
    """beta * input + alpha * (mat @ vec)."""
    check_tensor(input, "addmv")
    return _scaled_sum(input, mv(mat, vec), beta, alpha)


def _tokens(sub: str):
    """Subscripts as tokens: letters, and '...' as one token."""
    out, i = [], 0
    while i < len(sub):
        if sub.startswith("...", i):
            out.append("...")
            i += 3
        else:
            out.append(sub[i])
            i += 1
    return out


def _implicit_output(inputs):
    counts = {}
    for sub in inputs:
        for t in _tokens(sub):
            counts[t] = counts.get(t, 0) + 1
    ellipsis = "..." if "..." in counts else ""
    return ellipsis + "".join(sorted(t for t, c in counts.items() if c == 1 and t != "..."))


def einsum(equation: str, *operands):
    """Einstein summation: ``einsum('ij,jk->ik', a, b)`` is a @ b; implicit output (no '->') as NumPy."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    for t in operands:
        check_tensor(t, "einsum", "operands")
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    inputs = lhs.split(",")
    if len(inputs) != len(operands):
        raise RuntimeError(
            "einsum(): more operands were provided than specified in the equation"
            if len(operands) > len(inputs)
            else "einsum(): fewer operands were provided than specified in the equation"
        )
    if not arrow:
        rhs = _implicit_output(inputs)
    arrays = [t._np() for t in operands]
    floats = any(a.dtype.kind == "f" for a in arrays)
    if floats:
        arrays = [a if a.dtype == np.float32 else a.astype(np.float32) for a in arrays]
    try:
        out = np.einsum(f"{lhs}->{rhs}", *arrays, optimize=len(arrays) > 2)
    except ValueError as exc:
        raise RuntimeError(f"einsum(): {exc}") from None

    def backward(g):
        grads = []
        for i, (sub, a, t) in enumerate(zip(inputs, arrays, operands, strict=True)):
            if not t._rg:
                grads.append(None)
                continue
            toks = _tokens(sub)
            letters = [c for c in toks if c != "..."]
            if len(set(letters)) != len(letters):
                raise NotImplementedError("bnlab.torch einsum has no backward for a repeated subscript in one operand")
            others = inputs[:i] + inputs[i + 1 :]
            seen = set(_tokens("".join(others))) | set(_tokens(rhs))
            kept = [c for c in toks if c == "..." or c in seen]
            gi = np.einsum(
                ",".join([*others, rhs]) + "->" + "".join(kept),
                *(arrays[:i] + arrays[i + 1 :]),
                g,
                optimize=len(arrays) > 1,
            )
            axis, ell = 0, a.ndim - (len(toks) - 1) if "..." in toks else 0
            for c in toks:
                width = ell if c == "..." else 1
                if c != "..." and c not in seen:
                    gi = np.expand_dims(gi, axis)
                axis += width
            grads.append(np.broadcast_to(gi, a.shape))
        return grads

    return result("Einsum", out, operands, backward if floats else None, device_of(*operands))


def tensordot(a, b, dims=2):
    """The sum of products over the last ``dims`` dims of a and the first of b (or the listed dim pairs)."""
    check_tensor(a, "tensordot", "a")
    check_tensor(b, "tensordot", "b")
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        da, db = list(range(a.dim() - dims, a.dim())), list(range(dims))
    else:
        da, db = ([d] if isinstance(d, int) else list(d) for d in dims)
    if len(da) != len(db):
        raise RuntimeError("both dimension lists should have same length")
    da, db = [d % a.dim() for d in da], [d % b.dim() for d in db]
    letters = iter(string.ascii_letters)
    sa = [next(letters) for _ in range(a.dim())]
    sb = [next(letters) for _ in range(b.dim())]
    for x, y in zip(da, db, strict=True):
        if a.shape[x] != b.shape[y]:
            raise RuntimeError(
                f"contracted dimensions need to match, but first has size {a.shape[x]} in dim {x} and second has "
                f"size {b.shape[y]} in dim {y}"
            )
        sb[y] = sa[x]
    out = [c for i, c in enumerate(sa) if i not in da] + [c for i, c in enumerate(sb) if i not in db]
    return einsum(f"{''.join(sa)},{''.join(sb)}->{''.join(out)}", a, b)


def inner(input, other):
    """The sum of products over the last dim of both (a number times a tensor for 0-dim inputs)."""
    check_tensor(input, "inner")
    check_tensor(other, "inner", "other")
    if input.dim() == 0 or other.dim() == 0:
        return input * other
    if input.shape[-1] != other.shape[-1]:
        raise RuntimeError(
            f"inner() the last dimension must match on both input tensors but got shapes {list(input.shape)} and "
            f"{list(other.shape)}"
        )
    return tensordot(input, other, ([-1], [-1]))


FUNCTIONS = {
    "dot": dot,
    "vdot": vdot,
    "inner": inner,
    "outer": outer,
    "ger": ger,
    "mv": mv,
    "addmm": addmm,
    "addmv": addmv,
}
TORCH_ONLY = {"einsum": einsum, "tensordot": tensordot}
