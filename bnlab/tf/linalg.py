"""``tf.linalg`` (the part bnlab has): ``matmul``, ``matvec``, ``tensordot``, ``norm``, ``matrix_transpose``,
``trace`` and ``eye``.

``matmul(a, b)`` multiplies matrices: both operands have rank >= 2 (TensorFlow has no vector case), the leading
dimensions are batch dimensions that broadcast, ``transpose_a``/``adjoint_a`` (the same for real data) transpose
the last two dimensions first. Float32 products run in the engine (bnlab.torch's ``matmul``, and ``bmm`` for
batches), whose gradients are ``g @ b^T`` and ``a^T @ g``; integer products run with NumPy in the input dtype.

``norm(x, ord, axis)``: ``'euclidean'``/``'fro'``/2 is sqrt(sum(x^2)) (over every element when ``axis`` is None,
over ``axis`` otherwise, a pair of axes for a matrix), ``1`` and ``np.inf`` are the vector 1- and max-norms or,
for a pair of axes, the matrix ones (largest column sum, largest row sum), ``2`` over a pair of axes the spectral
norm (the largest singular value, from NumPy's SVD in float64; gradient u1 v1^T), other p > 0 (sum |x|^p)^(1/p).
"""

from __future__ import annotations

import numpy as np

from .. import torch as _torch
from . import _record
from ._base import (
    F32,
    binary_operands,
    check_dtypes,
    int_list,
    norm_axis,
    plus_terms,
    shape_text,
    take,
    taping,
    zero_link,
)
from ._base import tensor as _tensor
from .creation import eye
from .errors import invalid
from .tensor import array_of, from_array, wrap

__all__ = ["eye", "matmul", "matrix_transpose", "matvec", "norm", "tensordot", "trace"]


def _swap_last(t):
    r = t.dim()
    return t.permute([*range(r - 2), r - 1, r - 2])


@_record.op
def matmul(
    a,
    b,
    transpose_a=False,
    transpose_b=False,
    adjoint_a=False,
    adjoint_b=False,
    a_is_sparse=False,
    b_is_sparse=False,
    output_type=None,
    grad_a=False,
    grad_b=False,
    name=None,
):
    """The matrix product of the last two dimensions of ``a`` and ``b`` (batch dimensions broadcast)."""
    from .shape_ops import broadcast_to

    x, y = binary_operands("MatMul", a, b)
    check_dtypes("MatMul", x, lambda d: not d.is_bool)
    xs, ys = list(x.shape), list(y.shape)
    batched = len(xs) > 2 or len(ys) > 2
    if not batched and len(xs) != len(ys):
        raise invalid(f"In[0] and In[1] has different ndims: {shape_text(xs)} vs. {shape_text(ys)}", "MatMul")
    if not batched and len(xs) != 2:
        raise invalid(f"In[0] and In[1] ndims must be == 2: {len(xs)}", "MatMul")
    for i, t in enumerate((xs, ys)):
        if len(t) < 2:
            raise invalid(f"In[{i}] ndims must be >= 2: {len(t)}", "BatchMatMulV2")
    ta, tb = bool(transpose_a or adjoint_a), bool(transpose_b or adjoint_b)
    m, k = (xs[-1], xs[-2]) if ta else (xs[-2], xs[-1])
    k2, n = (ys[-1], ys[-2]) if tb else (ys[-2], ys[-1])
    if k != k2:
        op = "BatchMatMulV2" if batched else "MatMul"
        raise invalid(f"Matrix size-incompatible: In[0]: {shape_text(xs)}, In[1]: {shape_text(ys)}", op)
    try:
        batch = list(np.broadcast_shapes(tuple(xs[:-2]), tuple(ys[:-2])))
    except ValueError:
        raise invalid(
            f"In[0] and In[1] must have compatible batch dimensions: {shape_text(xs)} vs. {shape_text(ys)}",
            "BatchMatMulV2",
        ) from None
    if x._dtype is not F32:
        pa, pb = array_of(x), array_of(y)
        pa = np.swapaxes(pa, -1, -2) if ta else pa
        pb = np.swapaxes(pb, -1, -2) if tb else pb
        with np.errstate(all="ignore"):
            return from_array(np.matmul(pa, pb).astype(x._dtype._np), x._dtype)
    xt = _swap_last(x._t) if ta else x._t
    yt = _swap_last(y._t) if tb else y._t
    if not batched:
        return wrap(_torch.matmul(xt, yt))
    if list(xt.shape[:-2]) != batch:
        xt = broadcast_to(wrap(xt), [*batch, m, k])._t
    if list(yt.shape[:-2]) != batch:
        yt = broadcast_to(wrap(yt), [*batch, k, n])._t
    nb = int(np.prod(batch, dtype=np.int64))
    out = _torch.bmm(xt.reshape([nb, m, k]), yt.reshape([nb, k, n]))
    return wrap(out.reshape([*batch, m, n]))


@_record.op
def matvec(a, b, transpose_a=False, adjoint_a=False, a_is_sparse=False, b_is_sparse=False, name=None):
    """The product of the matrices ``a`` (..., m, k) with the vectors ``b`` (..., k): shape (..., m)."""
    from .shape_ops import expand_dims, squeeze

    return squeeze(matmul(a, expand_dims(b, -1), transpose_a=transpose_a, adjoint_a=adjoint_a), -1)


@_record.op
def matrix_transpose(a, name="matrix_transpose", conjugate=False):
    """``a`` with its last two dimensions swapped."""
    from .shape_ops import transpose

    x = _tensor(a)
    if x.ndim < 2:
        raise ValueError(f"Argument `a` should be a (batch) matrix with rank >= 2.  Received `a` = {x!r}")
    r = x.ndim
    return transpose(x, [*range(r - 2), r - 1, r - 2])


@_record.op
def tensordot(a, b, axes, name=None):
    """The sum over the pairs of axes ``axes`` of a and b of their products: ``axes`` N contracts the last N axes
    of a with the first N of b; ``axes=[[i, ...], [j, ...]]`` contracts a's axis i with b's axis j. The result has
    a's free axes, then b's."""
    from .shape_ops import reshape, transpose

    x, y = binary_operands("Tensordot", a, b)
    if isinstance(axes, (int, np.integer)) or np.ndim(axes) == 0:
        n_ax = int(np.asarray(axes))
        if n_ax < 0 or n_ax > min(x.ndim, y.ndim):
            raise ValueError(f"`axes` must be at most the rank of a and b, got {n_ax}")
        ax_a, ax_b = list(range(x.ndim - n_ax, x.ndim)), list(range(n_ax))
    else:
        if len(axes) != 2:
            raise ValueError(f"`axes` must be an integer or have length 2. Received {axes}.")
        ax_a = [norm_axis(v, x.ndim, "Tensordot") for v in np.atleast_1d(axes[0]).tolist()]
        ax_b = [norm_axis(v, y.ndim, "Tensordot") for v in np.atleast_1d(axes[1]).tolist()]
    if len(ax_a) != len(ax_b) or any(x.shape[i] != y.shape[j] for i, j in zip(ax_a, ax_b, strict=False)):
        raise ValueError(f"Dimensions of the contracted axes must match: {x.shape} axes {ax_a}, {y.shape} axes {ax_b}")
    free_a = [d for d in range(x.ndim) if d not in ax_a]
    free_b = [d for d in range(y.ndim) if d not in ax_b]
    size = lambda t, dims: int(np.prod([t.shape[d] for d in dims], dtype=np.int64))  # noqa: E731
    a2 = reshape(transpose(x, free_a + ax_a), [size(x, free_a), size(x, ax_a)])
    b2 = reshape(transpose(y, ax_b + free_b), [size(y, ax_b), size(y, free_b)])
    out = matmul(a2, b2)
    return reshape(out, [x.shape[d] for d in free_a] + [y.shape[d] for d in free_b])


@_record.op
def trace(x, name=None):
    """The sum of the diagonal of the last two dimensions: ``sum_i x[..., i, i]``."""
    from .reduce_ops import reduce_sum

    t = _tensor(x)
    if t.ndim < 2:
        raise ValueError(f"x must have rank >= 2, got shape {t.shape}")
    return reduce_sum(take(t, lambda a: np.diagonal(a, axis1=-2, axis2=-1).copy()), axis=-1)


@_record.op
def norm(tensor, ord="euclidean", axis=None, keepdims=None, name=None):
    """The vector or matrix norm of ``tensor`` (see the module's docstring)."""
    from .math_ops import abs as _abs
    from .math_ops import multiply, pow, sqrt
    from .reduce_ops import reduce_max, reduce_sum
    from .shape_ops import reshape

    x = _tensor(tensor)
    if not x._dtype.is_floating:
        raise TypeError(f"norm needs a float tensor, got {x.dtype!r}")
    keep = bool(keepdims)
    if axis is None:
        axes = list(range(x.ndim))
        matrix = False
    else:
        axes = [norm_axis(v, x.ndim, "Norm") for v in int_list(axis, "axis")]
        matrix = len(axes) == 2
        if len(axes) > 2 or (matrix and axes[0] == axes[1]):
            raise ValueError(f"'axis' must be None, an integer, or a tuple of 2 unique integers, got {axis}")
    if ord in ("euclidean", "fro") or (ord == 2 and not matrix):
        out = sqrt(reduce_sum(multiply(x, x), axes, keepdims=True))
    elif ord == 1 or ord == np.inf:
        a = _abs(x)
        if not matrix:
            out = reduce_sum(a, axes, keepdims=True) if ord == 1 else reduce_max(a, axes, keepdims=True)
        else:
            inner, outer = (axes[0], axes[1]) if ord == 1 else (axes[1], axes[0])
            out = reduce_max(reduce_sum(a, inner, keepdims=True), outer, keepdims=True)
    elif ord == 2 and matrix:
        out = _spectral(x, axes)
    elif isinstance(ord, (int, float)) and ord > 0 and not matrix:
        out = pow(reduce_sum(pow(_abs(x), float(ord)), axes, keepdims=True), 1.0 / float(ord))
    else:
        raise ValueError(f"'ord' must be a supported vector or matrix norm, got {ord!r} (axis {axis})")
    if keep:
        return out
    return reshape(out, [d for i, d in enumerate(x.shape) if i not in axes])


def _spectral(x, axes):
    """The largest singular value of the matrices on ``axes`` (kept as size-1 dimensions); gradient u1 v1^T."""
    a = np.moveaxis(array_of(x).astype(np.float64), axes, (-2, -1))
    u, s, vt = np.linalg.svd(a)
    value = np.expand_dims(s[..., 0], (-2, -1))
    out = from_array(np.moveaxis(value, (-2, -1), axes).astype(np.float32), F32)
    if not taping(x):
        return out
    jac = np.moveaxis(u[..., :, :1] * vt[..., :1, :], (-2, -1), axes).astype(np.float32)
    return plus_terms(out, [(zero_link(x) * _torch.from_numpy(jac)).sum(dim=tuple(axes), keepdim=True)])
