"""Rearranging a tensor's elements: ``flip``/``fliplr``/``flipud``, ``roll``, ``rot90``, ``repeat``, ``tile``,
``expand``/``expand_as``/``broadcast_to``/``broadcast_tensors``, ``repeat_interleave``, ``unfold``; and the
ones built on views, slicing and ``cat`` (their gradients come from those ops): ``chunk``, ``split``,
``tensor_split``, ``hsplit``/``vsplit``/``dsplit``, ``unbind``, ``select``, ``narrow``, ``movedim``,
``swapaxes``, ``unflatten``, ``ravel``, ``hstack``/``vstack``/``dstack``/``column_stack``, ``atleast_1d``...

The first group computes with NumPy on the host (_host.py), a copy each; backward rules (g = dL/d(out)):

    flip: flip(g)               roll(s): roll(g, -s)          rot90(k): rot90(g, -k)
    repeat, tile: g summed over the copies                    expand, broadcast_to: g summed to the input's shape
    repeat_interleave: g summed over each element's copies    unfold: g added back into each window's elements
"""

from __future__ import annotations

import builtins
import itertools

import numpy as np

from . import _shape
from ._host import check_tensor, result
from ._shape import _shape_args, cat, norm_dim, permute, transpose, view
from ._types import Size
from .tensor import Tensor


def _dims_list(dims, ndim):
    dims = [dims] if isinstance(dims, (int, np.integer)) else list(dims)
    return tuple(norm_dim(d, ndim) for d in dims)


def flip(input, dims):
    """The elements in reverse order along each of ``dims``."""
    check_tensor(input, "flip")
    axes = _dims_list(dims, input.dim())
    a = input._np()
    return result(
        "Flip", np.flip(a, axes) if a.ndim else a.copy(), (input,), lambda g: (np.flip(g, axes) if a.ndim else g,)
    )


def fliplr(input):
    """Columns reversed (dim 1); needs at least 2 dims."""
    if input.dim() < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, [1])


def flipud(input):
    """Rows reversed (dim 0); needs at least 1 dim."""
    if input.dim() < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, [0])


def roll(input, shifts, dims=None):
    """The elements shifted cyclically by ``shifts`` along ``dims`` (of the flattened tensor without dims)."""
    check_tensor(input, "roll")
    a = input._np()
    if dims is None:
        back = -np.asarray(shifts)
        return result("Roll", np.roll(a, shifts), (input,), lambda g: (np.roll(g, back),))
    axes = _dims_list(dims, a.ndim)
    sh = tuple([shifts] if isinstance(shifts, (int, np.integer)) else shifts)
    if len(sh) != len(axes):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(sh)}, dims:{len(axes)}")
    return result("Roll", np.roll(a, sh, axes), (input,), lambda g: (np.roll(g, tuple(-s for s in sh), axes),))


def rot90(input, k: int = 1, dims=(0, 1)):
    """Rotated by 90 degrees k times in the plane of ``dims`` (from the first dim toward the second)."""
    check_tensor(input, "rot90")
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    axes = _dims_list(dims, input.dim())
    if axes[0] == axes[1]:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {axes[0]} and dim1 = {axes[1]}")
    return result("Rot90", np.rot90(input._np(), k, axes), (input,), lambda g: (np.rot90(g, -k, axes),))


def repeat(input, *sizes):
    """``input`` repeated sizes[i] times along dim i (leading sizes add dims)."""
    check_tensor(input, "repeat")
    reps = _shape_args(sizes)
    if len(reps) < input.dim():
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor")
    a = input._np()
    padded = (1,) * (len(reps) - a.ndim) + a.shape
    out = np.tile(a.reshape(padded), reps)

    def backward(g):
        interleaved = [v for r, s in zip(reps, padded, strict=True) for v in (r, s)]
        return (g.reshape(interleaved).sum(axis=tuple(range(0, 2 * len(reps), 2))).reshape(a.shape),)

    return result("Repeat", out, (input,), backward)


def tile(input, dims):
    """``repeat`` with ``dims`` padded with leading ones when shorter than input's dims."""
    dims = _shape_args((dims,))
    return repeat(input, [1] * (input.dim() - len(dims)) + dims)


def _expanded_shape(shape, sizes):
    sizes = list(sizes)
    if len(sizes) < len(shape):
        raise RuntimeError(
            f"expand(torch.FloatTensor{{{list(shape)}}}, size={sizes}): the number of sizes provided "
            f"({len(sizes)}) must be greater or equal to the number of dimensions in the tensor ({len(shape)})"
        )
    lead = len(sizes) - len(shape)
    out = []
    for i, s in enumerate(sizes):
        if i < lead:
            if s < 0:
                raise RuntimeError(
                    f"The expanded size of the tensor ({s}) isn't allowed in a leading, non-existing dimension {i}"
                )
            out.append(s)
            continue
        have = shape[i - lead]
        if s == -1:
            s = have
        elif have != 1 and have != s:
            raise RuntimeError(
                f"The expanded size of the tensor ({s}) must match the existing size ({have}) at non-singleton "
                f"dimension {i}.  Target sizes: {sizes}.  Tensor sizes: {list(shape)}"
            )
        out.append(s)
    return tuple(out)


def expand(input, *sizes):
    """``input`` broadcast to ``sizes`` (-1 keeps a dim; size-1 dims stretch; new dims go in front)."""
    check_tensor(input, "expand")
    shape = _expanded_shape(tuple(input.shape), _shape_args(sizes))
    return result("Expand", np.broadcast_to(input._np(), shape), (input,), lambda g: (g,))


def expand_as(input, other):
    """``input.expand(other.size())``."""
    return expand(input, other.shape)


def broadcast_to(input, size):
    """``input.expand(size)``."""
    return expand(input, size)


def broadcast_shapes(*shapes) -> Size:
    """The shape that tensors of ``shapes`` broadcast to."""
    try:
        return Size(np.broadcast_shapes(*[(s,) if isinstance(s, int) else tuple(s) for s in shapes]))
    except ValueError:
        raise RuntimeError(f"Shape mismatch: objects cannot be broadcast to a single shape: {list(shapes)}") from None


def broadcast_tensors(*tensors):
    """The tensors expanded to their common shape."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    shape = broadcast_shapes(*[t.shape for t in tensors])
    return tuple(expand(t, shape) for t in tensors)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Each element (each slice along ``dim``) repeated ``repeats`` times (an int or one count per element);
    ``repeat_interleave(counts)`` repeats 0, 1, 2... by counts."""
    check_tensor(input, "repeat_interleave")
    if repeats is None:
        counts = input._np()
        return result("repeat_interleave", np.repeat(np.arange(counts.size), counts).astype(np.int64), (input,))
    r = repeats._np() if isinstance(repeats, Tensor) else int(repeats)
    if np.any(np.asarray(r) < 0):
        raise RuntimeError("repeats can not be negative")
    a = input._np()
    axis = 0 if dim is None else norm_dim(dim, a.ndim)
    src = a.reshape(-1) if dim is None or a.ndim == 0 else a
    out = np.repeat(src, r, axis=axis)
    owner = np.repeat(np.arange(src.shape[axis]), r)

    def backward(g):
        full = np.zeros(src.shape, np.float32)
        np.add.at(np.moveaxis(full, axis, 0), owner, np.moveaxis(g, axis, 0))
        return (full.reshape(a.shape),)

    return result("RepeatInterleave", out, (input,), backward)


def unfold(input, dimension: int, size: int, step: int):
    """The windows of ``size`` elements every ``step`` along ``dimension``, as a new last dim."""
    check_tensor(input, "unfold")
    a = input._np()
    a1 = a.reshape(1) if a.ndim == 0 else a
    d = norm_dim(dimension, a1.ndim)
    n = a1.shape[d]
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    idx = np.arange((n - size) // step + 1)[:, None] * step + np.arange(size)[None, :]
    out = np.moveaxis(np.take(a1, idx, axis=d), d + 1, -1)

    def backward(g):
        full = np.zeros(a1.shape, np.float32)
        gm = np.moveaxis(np.moveaxis(g, -1, d + 1), (d, d + 1), (0, 1))
        np.add.at(np.moveaxis(full, d, 0), idx, gm)
        return (full.reshape(a.shape),)

    return result("Unfold", out if a.ndim else out.reshape(out.shape[1:]), (input,), backward)


# ---------------------------------------------------------------- built on slicing, views and cat (taped there)
def _slice(input, d, start, stop):
    return input[(slice(None),) * d + (slice(start, stop),)]


def narrow(input, dim: int, start, length: int):
    """``length`` elements along ``dim`` from ``start`` (a copy here; PyTorch returns a view)."""
    check_tensor(input, "narrow")
    d = norm_dim(dim, input.dim())
    n = input.shape[d]
    start = int(start)
    if not -n <= start <= n:
        raise IndexError(f"start out of range (expected to be in range of [{-n}, {n}], but got {start})")
    if start < 0:
        start += n
    if start + length > n:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    return _slice(input, d, start, start + length)


def select(input, dim: int, index: int):
    """The slice at ``index`` along ``dim``, without that dim."""
    check_tensor(input, "select")
    d = norm_dim(dim, input.dim())
    n = input.shape[d]
    if not -n <= index < n:
        raise IndexError(
            f"select(): index {index} out of range for tensor of size {list(input.shape)} at dimension {d}"
        )
    return input[(slice(None),) * d + (index,)]


def _split_at(input, bounds, d):
    return tuple(_slice(input, d, lo, hi) for lo, hi in itertools.pairwise(bounds))


def split(tensor, split_size_or_sections, dim: int = 0):
    """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or of the listed sizes."""
    check_tensor(tensor, "split")
    d = norm_dim(dim, tensor.dim())
    n = tensor.shape[d]
    if isinstance(split_size_or_sections, (int, np.integer)):
        s = int(split_size_or_sections)
        if s <= 0 and n:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {n}")
        bounds = [*range(0, n, s), n] if n else [0, 0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if builtins.sum(sizes) != n:
            raise RuntimeError(
                f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size at dimension "
                f"{d}), but got split_sizes={sizes}"
            )
        bounds = list(np.cumsum([0, *sizes]))
    return _split_at(tensor, bounds, d)


def chunk(input, chunks: int, dim: int = 0):
    """At most ``chunks`` pieces of ceil(size / chunks) along ``dim`` (fewer when they run out)."""
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    n = input.shape[norm_dim(dim, input.dim())]
    return split(input, builtins.max(-(-n // chunks), 1) if n else 1, dim)


def tensor_split(input, indices_or_sections, dim: int = 0):
    """``sections`` nearly equal pieces (the first n % sections one longer), or pieces cut at ``indices``."""
    check_tensor(input, "tensor_split")
    d = norm_dim(dim, input.dim())
    n = input.shape[d]
    if isinstance(indices_or_sections, Tensor):
        indices_or_sections = indices_or_sections.tolist()
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if k <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {k}")
        sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
        bounds = list(np.cumsum([0, *sizes]))
    else:
        cuts = [builtins.min(builtins.max(int(i), 0), n) for i in indices_or_sections]
        bounds = [0, *cuts, n]  # a cut before the previous one gives an empty piece, as in PyTorch
    return _split_at(input, bounds, d)


def _numpy_split(name, input, sections, dim):
    if isinstance(sections, (int, np.integer)):
        n = input.shape[dim]
        if sections == 0 or n % sections:
            raise RuntimeError(
                f"torch.{name} attempted to split along dimension {dim}, but the size of the dimension {n} is not "
                f"divisible by the split_size {sections}!"
            )
    return tensor_split(input, sections, dim)


def hsplit(input, sections):
    """``tensor_split`` along dim 1 (dim 0 of a 1-D tensor); an int must divide the size."""
    return _numpy_split("hsplit", input, sections, 1 if input.dim() > 1 else 0)


def vsplit(input, sections):
    """``tensor_split`` along dim 0 of a tensor of at least 2 dims."""
    if input.dim() < 2:
        raise RuntimeError(
            f"torch.vsplit requires a tensor with at least 2 dimension, but got a tensor with {input.dim()} dimensions!"
        )
    return _numpy_split("vsplit", input, sections, 0)


def dsplit(input, sections):
    """``tensor_split`` along dim 2 of a tensor of at least 3 dims."""
    if input.dim() < 3:
        raise RuntimeError(
            f"torch.dsplit requires a tensor with at least 3 dimension, but got a tensor with {input.dim()} dimensions!"
        )
    return _numpy_split("dsplit", input, sections, 2)


def unbind(input, dim: int = 0):
    """The slices along ``dim``, each without that dim."""
    d = norm_dim(dim, input.dim())
    return tuple(select(input, d, i) for i in range(input.shape[d]))


def movedim(input, source, destination):
    """The dims ``source`` moved to the positions ``destination``, the others keeping their order."""
    n = input.dim()
    src, dst = _dims_list(source, n), _dims_list(destination, n)
    if len(src) != len(dst):
        raise RuntimeError(
            f"movedim: Invalid source or destination dims: source ({list(src)} dims) should contain the same number "
            f"of dims as destination ({list(dst)} dims)"
        )
    order = [d for d in range(n) if d not in src]
    for s, d in sorted(zip(dst, src, strict=True)):
        order.insert(s, d)
    return permute(input, order) if n else input


def swapaxes(input, axis0: int, axis1: int):
    """``transpose(input, axis0, axis1)``."""
    return transpose(input, axis0, axis1)


def unflatten(input, dim: int, sizes):
    """Dim ``dim`` split into ``sizes`` (one may be -1)."""
    shape = list(input.shape)
    d = norm_dim(dim, len(shape))
    inner = _shape.infer_shape(list(sizes), shape[d])
    return view(input, shape[:d] + inner + shape[d + 1 :])


def ravel(input):
    """The elements as a 1-D tensor."""
    return view(input, -1)


def _at_least(n, *tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    out = []
    for t in tensors:
        shape = list(t.shape)
        if len(shape) < n:
            shape = {0: [1] * n, 1: [1, *shape] if n == 2 else [1, *shape, 1], 2: [*shape, 1]}[len(shape)]
            t = view(t, shape[:n] if len(shape) > n else shape)
        out.append(t)
    return out[0] if len(out) == 1 else tuple(out)


def atleast_1d(*tensors):
    """Each tensor viewed with at least 1 dim."""
    return _at_least(1, *tensors)


def atleast_2d(*tensors):
    """Each tensor viewed with at least 2 dims (a 1-D one becomes a row)."""
    return _at_least(2, *tensors)


def atleast_3d(*tensors):
    """Each tensor viewed with at least 3 dims (a 1-D one as (1, n, 1), a 2-D one as (m, n, 1))."""
    return _at_least(3, *tensors)


def _as_tuple(tensors):
    tensors = list(tensors)
    return [atleast_1d(t) for t in tensors]


def hstack(tensors):
    """``cat`` along dim 1 (dim 0 for 1-D tensors)."""
    ts = _as_tuple(tensors)
    return cat(ts, 0 if ts[0].dim() == 1 else 1)


def vstack(tensors):
    """``cat`` of the tensors made at least 2-D, along dim 0."""
    return cat([atleast_2d(t) for t in tensors], 0)


def dstack(tensors):
    """``cat`` of the tensors made at least 3-D, along dim 2."""
    return cat([atleast_3d(t) for t in tensors], 2)


def column_stack(tensors):
    """1-D tensors (and 0-dim ones) as columns, then ``hstack``."""
    cols = [view(t, -1, 1) if t.dim() <= 1 else t for t in tensors]
    return cat(cols, 1)


def concat(tensors, dim: int = 0, *, axis=None):
    """``cat`` (also named ``concatenate``; ``axis`` is accepted for ``dim``)."""
    return cat(tensors, dim if axis is None else axis)


FUNCTIONS = {
    "flip": flip,
    "fliplr": fliplr,
    "flipud": flipud,
    "roll": roll,
    "rot90": rot90,
    "tile": tile,
    "broadcast_to": broadcast_to,
    "repeat_interleave": repeat_interleave,
    "narrow": narrow,
    "select": select,
    "split": split,
    "chunk": chunk,
    "tensor_split": tensor_split,
    "hsplit": hsplit,
    "vsplit": vsplit,
    "dsplit": dsplit,
    "unbind": unbind,
    "movedim": movedim,
    "moveaxis": movedim,
    "swapaxes": swapaxes,
    "swapdims": swapaxes,
    "unflatten": unflatten,
    "ravel": ravel,
}
TORCH_ONLY = {
    "broadcast_shapes": broadcast_shapes,
    "broadcast_tensors": broadcast_tensors,
    "atleast_1d": atleast_1d,
    "atleast_2d": atleast_2d,
    "atleast_3d": atleast_3d,
    "hstack": hstack,
    "vstack": vstack,
    "row_stack": vstack,
    "dstack": dstack,
    "column_stack": column_stack,
    "concat": concat,
    "concatenate": concat,
}
METHOD_ONLY = {"repeat": repeat, "expand": expand, "expand_as": expand_as, "unfold": unfold}
