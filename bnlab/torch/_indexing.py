"""Selection by index and mask, computed on the host with NumPy (_host.py): ``gather``, ``scatter``,
``scatter_add``, ``index_select``, ``index_add``, ``index_copy``, ``index_fill``, ``masked_fill``,
``masked_select``, ``masked_scatter``, ``take``, ``take_along_dim``, ``nonzero``/``argwhere``, ``tril``/``triu``
(and their index lists), ``diag``, ``diagonal``, ``diag_embed``, ``unique``, ``unique_consecutive``,
``bincount``, ``searchsorted`` and ``bucketize``.

Index tensors must be integer tensors (int64, or int32 as PyTorch also accepts); an index out of range raises
PyTorch's error. Masks must be bool tensors. Backward rules (g = dL/d(out)):

    gather(x, d, i): g scatter-added into zeros at i        take, take_along_dim, index_select: likewise
    scatter(x, d, i, src): x gets g with the written places zeroed, src gets g gathered at i
    scatter_add(x, d, i, src): x gets g, src gets g gathered at i
    index_add(x, d, i, src, alpha): g, alpha g[i]          index_copy(x, d, i, src): g zeroed at i, g[i]
    index_fill(x, d, i, v): g zeroed at i                   masked_fill(x, m, v): g where not m; a tensor v: sum g[m]
    masked_select(x, m): g placed back where m holds        masked_scatter(x, m, src): g where not m; g[m] to src
    tril, triu: tril(g), triu(g)                            diag, diagonal, diag_embed: the inverse placement of g
unique, bincount, searchsorted, bucketize and nonzero give integer (or non-differentiable) results.
"""

from __future__ import annotations

import numpy as np

from . import _types
from ._host import as_array, check_tensor, device_of, is_number, result
from ._shape import norm_dim
from .tensor import Tensor


def _index(index, name, arg="index") -> np.ndarray:
    check_tensor(index, name, arg)
    i = index._np()
    if i.dtype not in (np.int64, np.int32):
        raise RuntimeError(f"{name}(): Expected dtype int32/int64 for {arg}")
    return i.astype(np.int64)


def _in_range(i, n, dim, name=None):
    if i.size and (i.max() >= n or i.min() < -n):
        bad = int(i.max()) if i.max() >= n else int(i.min())
        if name is not None:
            raise IndexError(f"{name}(): index {bad} out of range for dimension {dim} with size {n}")
        raise RuntimeError(f"index {bad} is out of bounds for dimension {dim} with size {n}")
    return np.where(i < 0, i + n, i)


def _grids(idx, axis):
    grids = list(np.indices(idx.shape, sparse=True))
    grids[axis] = idx
    return tuple(grids)


def _check_gather_shapes(name, a, idx, d):
    if idx.ndim != a.ndim and not (a.ndim == 0 and idx.ndim <= 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    for k in range(idx.ndim):
        if k != d and idx.shape[k] > a.shape[k]:
            raise RuntimeError(
                f"Size does not match at dimension {k} expected index {list(idx.shape)} to be no larger than self "
                f"{list(a.shape)} apart from dimension {d}"
            )


def gather(input, dim, index, *, sparse_grad: bool = False):
    """out[i][j] = input[index[i][j]][j] (dim 0), and so on for the other dims."""
    check_tensor(input, "gather")
    a = input._np()
    d = norm_dim(dim, a.ndim)
    idx = _index(index, "gather")
    a1 = a.reshape(1) if a.ndim == 0 else a
    idx = idx.reshape(-1) if a.ndim == 0 else idx
    _check_gather_shapes("gather", a1, idx, d)
    idx = _in_range(idx, a1.shape[d], d)
    grids = _grids(idx, d)
    out = a1[grids].reshape(index.shape)

    def backward(g):
        full = np.zeros(a1.shape, np.float32)
        np.add.at(full, grids, g.reshape(idx.shape))
        return (full.reshape(a.shape),)

    return result("Gather", out, (input,), backward)


def _scatter(name, input, dim, index, src, add):
    check_tensor(input, name)
    a = input._np()
    d = norm_dim(dim, a.ndim)
    idx = _index(index, name)
    _check_gather_shapes(name, a, idx, d)
    idx = _in_range(idx, a.shape[d], d)
    grids = _grids(idx, d)
    s = as_array(src)
    if isinstance(src, Tensor):
        if src.dim() != idx.ndim:
            raise RuntimeError("Index tensor must have the same number of dimensions as src tensor")
        s = s[tuple(slice(0, n) for n in idx.shape)]
        if s.shape != idx.shape:
            raise RuntimeError(f"Expected index {list(idx.shape)} to be no larger than src {list(src.shape)}")
    elif not is_number(src):
        raise TypeError(f"{name}(): argument 'src' must be Tensor or Number, not {type(src).__name__}")
    out = a.copy()
    if add:
        np.add.at(out, grids, s)
    else:
        out[grids] = s
    parents = (input, src) if isinstance(src, Tensor) else (input,)

    def backward(g):
        gx = g
        if not add:
            gx = g.copy()
            gx[grids] = 0
        if not isinstance(src, Tensor):
            return (gx,)
        gs = np.zeros(src.shape, np.float32)
        gs[tuple(slice(0, n) for n in idx.shape)] = g[grids]
        return gx, gs

    return result(name.capitalize(), out, parents, backward, device_of(*parents))


def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    """input with src (a tensor, or the number ``value``) written at ``index`` along ``dim``."""
    if reduce is not None:
        if reduce != "add":
            raise RuntimeError(f"bnlab.torch scatter supports reduce='add' (or scatter_add), got {reduce!r}")
        return scatter_add(input, dim, index, src)
    return _scatter("scatter", input, dim, index, value if src is None else src, add=False)


def scatter_add(input, dim, index, src):
    """input with src added at ``index`` along ``dim`` (repeated indices add up)."""
    return _scatter("scatter_add", input, dim, index, src, add=True)


def _rows(name, input, dim, index):
    check_tensor(input, name)
    a = input._np()
    d = norm_dim(dim, a.ndim)
    idx = _index(index, name)
    if idx.ndim > 1:
        raise IndexError(f"{name}(): Index is supposed to be a vector")
    n = a.shape[d] if a.ndim else 1
    if idx.size and (idx.max() >= n or idx.min() < -n):
        raise IndexError("index out of range in self")
    return a, d, np.where(idx < 0, idx + n, idx).reshape(-1)


def index_select(input, dim, index):
    """The slices of ``input`` along ``dim`` at the positions of the 1-D ``index``."""
    a, d, idx = _rows("index_select", input, dim, index)
    a1 = a.reshape(1) if a.ndim == 0 else a
    out = np.take(a1, idx, axis=d)

    def backward(g):
        full = np.zeros(a1.shape, np.float32)
        np.add.at(np.moveaxis(full, d, 0), idx, np.moveaxis(g.reshape(out.shape), d, 0))
        return (full.reshape(a.shape),)

    return result("IndexSelect", out.reshape(out.shape if a.ndim else index.shape), (input,), backward)


def _index_source(name, a, d, idx, source):
    s = source._np()
    want = list(a.shape)
    if a.ndim:
        want[d] = idx.size
    if list(s.shape) != want and not (a.ndim == 0 and s.size == idx.size):
        raise RuntimeError(f"{name}(): source has shape {list(s.shape)}, expected {want}")
    return s.reshape(want)


def index_add(input, dim, index, source, *, alpha=1):
    """input with alpha * source's slices added at the positions ``index`` along ``dim``."""
    a, d, idx = _rows("index_add", input, dim, index)
    s = _index_source("index_add", a, d, idx, source)
    out = a.copy().reshape(a.shape or (1,))
    np.add.at(
        np.moveaxis(out, d, 0),
        idx,
        alpha * np.moveaxis(s.reshape((*out.shape[:d], idx.size, *out.shape[d + 1 :])), d, 0),
    )
    parents = (input, source)
    return result(
        "IndexAdd",
        out.reshape(a.shape),
        parents,
        lambda g: (g, alpha * np.take(g.reshape(out.shape), idx, axis=d).reshape(source.shape)),
        device_of(*parents),
    )


def index_copy(input, dim, index, source):
    """input with source's slices written at the positions ``index`` along ``dim``."""
    a, d, idx = _rows("index_copy", input, dim, index)
    s = _index_source("index_copy", a, d, idx, source)
    out = a.copy().reshape(a.shape or (1,))
    np.moveaxis(out, d, 0)[idx] = np.moveaxis(s.reshape((*out.shape[:d], idx.size, *out.shape[d + 1 :])), d, 0)

    def backward(g):
        g = g.reshape(out.shape)
        gx = g.copy()
        np.moveaxis(gx, d, 0)[idx] = 0
        return gx.reshape(a.shape), np.take(g, idx, axis=d).reshape(source.shape)

    parents = (input, source)
    return result("IndexCopy", out.reshape(a.shape), parents, backward, device_of(*parents))


def index_fill(input, dim, index, value):
    """input with the slices at ``index`` along ``dim`` set to ``value``."""
    a, d, idx = _rows("index_fill", input, dim, index)
    v = value.item() if isinstance(value, Tensor) else value
    out = a.copy().reshape(a.shape or (1,))
    np.moveaxis(out, d, 0)[idx] = v

    def backward(g):
        gx = g.copy().reshape(out.shape)
        np.moveaxis(gx, d, 0)[idx] = 0
        return (gx.reshape(a.shape),)

    return result("IndexFill", out.reshape(a.shape), (input,), backward)


def _mask(mask, name):
    check_tensor(mask, name, "mask")
    if mask.dtype is not _types.bool:
        raise RuntimeError(f"{name} only supports boolean masks, but got mask with dtype {mask.dtype.name}")
    return mask._np()


def masked_fill(input, mask, value):
    """input with ``value`` (a number or a 0-dim tensor) where ``mask`` holds (mask broadcasts)."""
    check_tensor(input, "masked_fill")
    m = _mask(mask, "masked_fill_")
    if isinstance(value, Tensor) and value.dim() != 0:
        raise RuntimeError(
            f"masked_fill_ only supports a 0-dimensional value tensor, but got tensor with {value.dim()} dimension(s)."
        )
    a = input._np()
    v = value._np() if isinstance(value, Tensor) else value
    shape = np.broadcast_shapes(a.shape, m.shape)
    out = np.where(m, np.asarray(v).astype(a.dtype), a)
    parents = (input, value) if isinstance(value, Tensor) else (input,)

    def backward(g):
        mb = np.broadcast_to(m, shape)
        return (g * ~mb, g[mb].sum()) if isinstance(value, Tensor) else (g * ~mb,)

    return result("MaskedFill", out, parents, backward, device_of(input, mask))


def masked_select(input, mask):
    """The elements where ``mask`` holds, as a 1-D tensor (input and mask broadcast)."""
    check_tensor(input, "masked_select")
    m = _mask(mask, "masked_select")
    a = input._np()
    shape = np.broadcast_shapes(a.shape, m.shape)
    mb = np.broadcast_to(m, shape)
    out = np.broadcast_to(a, shape)[mb]

    def backward(g):
        full = np.zeros(shape, np.float32)
        full[mb] = g
        return (full,)

    return result("MaskedSelect", out, (input,), backward, device_of(input, mask))


def masked_scatter(input, mask, source):
    """input with the elements of ``source``, in order, written where ``mask`` holds."""
    check_tensor(input, "masked_scatter")
    m = np.broadcast_to(_mask(mask, "masked_scatter_"), input.shape)
    a, s = input._np(), source._np().reshape(-1)
    count = int(m.sum())
    if s.size < count:
        raise RuntimeError("masked_scatter: expected source to have at least as many elements as ones in mask")
    out = a.copy()
    out[m] = s[:count]

    def backward(g):
        gs = np.zeros(s.size, np.float32)
        gs[:count] = g[m]
        return g * ~m, gs.reshape(source.shape)

    parents = (input, source)
    return result("MaskedScatter", out, parents, backward, device_of(*parents))


def take(input, index):
    """The elements of the flattened input at ``index`` (any shape)."""
    check_tensor(input, "take")
    a = input._np().reshape(-1)
    idx = _in_range(_index(index, "take"), a.size, 0)
    shape = input.shape

    def backward(g):
        full = np.zeros(a.size, np.float32)
        np.add.at(full, idx, g)
        return (full.reshape(shape),)

    return result("Take", a[idx], (input,), backward)


def take_along_dim(input, indices, dim=None):
    """``gather`` with broadcasting of the other dims; without ``dim``, along the flattened input."""
    check_tensor(input, "take_along_dim")
    idx = _index(indices, "take_along_dim", "indices")
    if dim is None:
        return take(input, indices.reshape(-1))
    a = input._np()
    d = norm_dim(dim, a.ndim)
    if idx.ndim != a.ndim:
        raise RuntimeError("torch.take_along_dim(): input and indices should have the same number of dimensions")
    sa, si = list(a.shape), list(idx.shape)
    sa[d] = si[d] = 1
    common = list(np.broadcast_shapes(tuple(sa), tuple(si)))
    ab = np.broadcast_to(a, [*common[:d], a.shape[d], *common[d + 1 :]])
    ib = _in_range(np.broadcast_to(idx, [*common[:d], idx.shape[d], *common[d + 1 :]]), a.shape[d], d)
    grids = _grids(ib, d)

    def backward(g):
        full = np.zeros(ab.shape, np.float32)
        np.add.at(full, grids, g)
        return (full,)

    return result("TakeAlongDim", ab[grids], (input,), backward)


def nonzero(input, *, as_tuple: bool = False):
    """The indices of the nonzero elements: an (n, ndim) int64 tensor, or one 1-D tensor per dim."""
    check_tensor(input, "nonzero")
    a = input._np()
    if as_tuple:
        return tuple(
            result("nonzero", i.astype(np.int64), (input,)) for i in np.nonzero(a.reshape(-1) if a.ndim == 0 else a)
        )
    return result("nonzero", np.argwhere(a).astype(np.int64), (input,))


def argwhere(input):
    """``nonzero(input)``: an (n, ndim) int64 tensor of indices."""
    return nonzero(input)


def _triangle(name, input, diagonal, np_fn):
    check_tensor(input, name)
    a = input._np()
    if a.ndim < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
    return result(name.capitalize(), np_fn(a, diagonal), (input,), lambda g: (np_fn(g, diagonal),))


def tril(input, diagonal: int = 0):
    """The lower triangle of the last two dims (at and below ``diagonal``), zeros elsewhere."""
    return _triangle("tril", input, diagonal, np.tril)


def triu(input, diagonal: int = 0):
    """The upper triangle of the last two dims (at and above ``diagonal``), zeros elsewhere."""
    return _triangle("triu", input, diagonal, np.triu)


def _triangle_indices(np_fn, row, col, offset, dtype, device):
    r, c = np_fn(row, offset, col)
    out = np.stack([r, c]).astype((dtype or _types.int64).np)
    t = result("indices", out, ())
    return t if device is None else t.to(device)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None, layout=None):
    """The (2, N) row and column indices of the lower triangle of a row x col matrix."""
    return _triangle_indices(np.tril_indices, row, col, offset, dtype, device)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None, layout=None):
    """The (2, N) row and column indices of the upper triangle of a row x col matrix."""
    return _triangle_indices(np.triu_indices, row, col, offset, dtype, device)


def _diag_positions(rows, cols, offset):
    n = max(0, min(rows + min(offset, 0), cols - max(offset, 0)))
    r = np.arange(n) + max(-offset, 0)
    return r, r + offset


def diagonal(input, offset: int = 0, dim1: int = 0, dim2: int = 1):
    """The diagonal ``offset`` of the (dim1, dim2) matrices, as the last dim."""
    check_tensor(input, "diagonal")
    a = input._np()
    d1, d2 = norm_dim(dim1, a.ndim), norm_dim(dim2, a.ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    m = np.moveaxis(a, (d1, d2), (-2, -1))
    r, c = _diag_positions(m.shape[-2], m.shape[-1], offset)

    def backward(g):
        full = np.zeros(a.shape, np.float32)
        np.moveaxis(full, (d1, d2), (-2, -1))[..., r, c] = g
        return (full,)

    return result("Diagonal", m[..., r, c], (input,), backward)


_diagonal = diagonal


def diag_embed(input, offset: int = 0, dim1: int = -2, dim2: int = -1):
    """Matrices (in dims dim1, dim2) whose diagonal ``offset`` holds the last dim of input."""
    check_tensor(input, "diag_embed")
    a = input._np()
    n = a.shape[-1] + abs(offset)
    nd = a.ndim + 1
    d1, d2 = norm_dim(dim1, nd), norm_dim(dim2, nd)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    r, c = _diag_positions(n, n, offset)
    base = np.zeros((*a.shape[:-1], n, n), a.dtype)
    base[..., r, c] = a
    return result(
        "DiagEmbed",
        np.moveaxis(base, (-2, -1), (d1, d2)),
        (input,),
        lambda g: (np.moveaxis(g, (d1, d2), (-2, -1))[..., r, c],),
    )


def diag(input, diagonal: int = 0):
    """A 1-D input's values on the diagonal of a square matrix; a 2-D input's diagonal as a 1-D tensor."""
    check_tensor(input, "diag")
    if input.dim() == 2:
        return _diagonal(input, diagonal)
    if input.dim() != 1:
        raise RuntimeError("diag(): Supports 1D or 2D tensors. Got " + f"{input.dim()}D")
    return diag_embed(input, diagonal)


def unique(input, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False, dim=None):
    """The distinct values in ascending order (with the inverse indices and the counts when asked)."""
    check_tensor(input, "unique")
    a = input._np()
    axis = None if dim is None else norm_dim(dim, a.ndim)
    values, inverse, counts = np.unique(
        a if axis is not None else a.reshape(-1), return_inverse=True, return_counts=True, axis=axis
    )
    out = [result("unique", values, (input,))]
    if return_inverse:
        out.append(result("unique", inverse.reshape(a.shape if axis is None else -1).astype(np.int64), (input,)))
    if return_counts:
        out.append(result("unique", counts.astype(np.int64), (input,)))
    return out[0] if len(out) == 1 else tuple(out)


def unique_consecutive(input, return_inverse: bool = False, return_counts: bool = False, dim=None):
    """The values with each run of equal consecutive values kept once (of the flattened input)."""
    check_tensor(input, "unique_consecutive")
    if dim is not None:
        raise NotImplementedError("bnlab.torch unique_consecutive works on the flattened input (dim=None)")
    a = input._np().reshape(-1)
    starts = np.concatenate([[True], a[1:] != a[:-1]]) if a.size else np.zeros(0, bool)
    out = [result("unique", a[starts], (input,))]
    if return_inverse:
        out.append(result("unique", (np.cumsum(starts) - 1).reshape(input.shape).astype(np.int64), (input,)))
    if return_counts:
        out.append(result("unique", np.diff(np.append(np.flatnonzero(starts), a.size)).astype(np.int64), (input,)))
    return out[0] if len(out) == 1 else tuple(out)


def bincount(input, weights=None, minlength: int = 0):
    """The number of times each value 0, 1, ... occurs in the 1-D non-negative integer input (or the sum of
    their ``weights``)."""
    check_tensor(input, "bincount")
    a = input._np()
    if a.ndim != 1 or a.dtype.kind not in "iub":
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if a.size and a.min() < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    w = None if weights is None else weights._np()
    out = np.bincount(a, weights=w, minlength=minlength)
    return result("bincount", out.astype(np.float32) if w is not None else out.astype(np.int64), (input,))


def searchsorted(sorted_sequence, input, *, out_int32: bool = False, right: bool = False, side=None, sorter=None):
    """Where each value of ``input`` would go in the last dim of ``sorted_sequence`` to keep it sorted."""
    check_tensor(sorted_sequence, "searchsorted", "sorted_sequence")
    if side is not None:
        if right and side == "left":
            raise RuntimeError(
                "torch.searchsorted(): side and right can't be set to opposites, got side of left while right was True"
            )
        right = side == "right"
    s = sorted_sequence._np()
    if sorter is not None:
        s = np.take_along_axis(s, _index(sorter, "searchsorted", "sorter"), -1)
    x = as_array(input)
    how = "right" if right else "left"
    if s.ndim <= 1:
        out = np.searchsorted(s.reshape(-1), x, side=how)
    else:
        xs = np.asarray(x)
        if xs.shape[:-1] != s.shape[:-1]:
            raise RuntimeError(
                "torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 dimensions of "
                "boundaries tensor and input value tensor must match"
            )
        rows_s, rows_x = s.reshape(-1, s.shape[-1]), xs.reshape(-1, xs.shape[-1])
        out = np.stack([np.searchsorted(r, v, side=how) for r, v in zip(rows_s, rows_x, strict=True)]).reshape(xs.shape)
    device = device_of(sorted_sequence, *([input] if isinstance(input, Tensor) else []))
    return result("searchsorted", np.asarray(out).astype(np.int32 if out_int32 else np.int64), (), device=device)


def bucketize(input, boundaries, *, out_int32: bool = False, right: bool = False):
    """The bucket of each value: i with boundaries[i-1] < x <= boundaries[i] (``right``: <= x <)."""
    check_tensor(boundaries, "bucketize", "boundaries")
    if boundaries.dim() != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries.dim()})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


FUNCTIONS = {
    "gather": gather,
    "scatter": scatter,
    "scatter_add": scatter_add,
    "index_select": index_select,
    "index_add": index_add,
    "index_copy": index_copy,
    "index_fill": index_fill,
    "masked_fill": masked_fill,
    "masked_select": masked_select,
    "masked_scatter": masked_scatter,
    "take": take,
    "take_along_dim": take_along_dim,
    "nonzero": nonzero,
    "argwhere": argwhere,
    "tril": tril,
    "triu": triu,
    "diag": diag,
    "diagonal": diagonal,
    "diag_embed": diag_embed,
    "unique": unique,
    "unique_consecutive": unique_consecutive,
    "bincount": bincount,
}
