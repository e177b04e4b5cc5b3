"""``nn.functional`` utilities computed on the host with NumPy (``_numpy_op.apply``): one_hot, pad, normalize,
cosine_similarity, pairwise_distance, embedding, bilinear, pixel_shuffle / pixel_unshuffle.

    pad              constant: the input inside a border of ``value`` (a negative pad crops);   dx = g's inner part
                     reflect / replicate / circular: out = x[idx] along each padded dim;     dx = scatter-add of g
    normalize        y = x / max(|x|_p, eps) along dim;  dx = g / n' - [|x|_p >= eps] sum(g x) / n'^2 d|x|_p/dx
    cosine_similarity  sum(x1/n1' * x2/n2') along dim, n' = max(|x|_2, eps) (PyTorch clamps without tracking);
                     dx1 = g (x2/(n1' n2') - y x1 / (n1' |x1|))
    pairwise_distance  |x1 - x2 + eps|_p over the last dim;  d|d|_p/dd = sign(d) |d|^(p-1) / |d|_p^(p-1)
    embedding        y = W[idx] (rows with max_norm renormalized in place first);  dW[i] += g rows with idx i
                     (0 for padding_idx; divided by i's count in the batch with scale_grad_by_freq)
    bilinear         y[n, o] = x1[n] W[o] x2[n] + b[o]
    pixel_shuffle    (*, C r^2, H, W) -> (*, C, H r, W r), a permutation (its inverse for the gradient)
"""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor, host
from ._functional_base import float_input
from ._numpy_op import F64, apply

__all__ = [
    "bilinear",
    "cosine_similarity",
    "embedding",
    "normalize",
    "one_hot",
    "pad",
    "pairwise_distance",
    "pixel_shuffle",
    "pixel_unshuffle",
]


def _dim(dim: int, ndim: int) -> int:
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim % n


# ---------------------------------------------------------------- one_hot
def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 (*, num_classes) with a 1 at each index of ``tensor`` (int64); num_classes=-1 uses max + 1."""
    if not isinstance(tensor, Tensor) or tensor.dtype.name != "int64":
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    idx = tensor._np()
    if num_classes == -1:
        if idx.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(idx.max()) + 1
    if idx.size and idx.min() < 0:
        raise RuntimeError("Class values must be non-negative.")
    if idx.size and idx.max() >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    out = np.zeros((*idx.shape, num_classes), dtype=np.int64)
    np.put_along_axis(out, idx[..., None], 1, axis=-1)
    return host(out, tensor.device)


# ---------------------------------------------------------------- pad
_MODES = ("constant", "reflect", "replicate", "circular")


def _pad_index(n: int, before: int, after: int, mode: str, dim: int, shape) -> np.ndarray:
    j = np.arange(-before, n + after)
    if mode == "reflect":
        if before >= n or after >= n:
            raise RuntimeError(
                f"Argument #4: Padding size should be less than the corresponding input dimension, but got: "
                f"padding ({before}, {after}) at dimension {dim} of input {list(shape)}"
            )
        j = np.abs(j)
        return np.where(j > n - 1, 2 * (n - 1) - j, j)
    if mode == "replicate":
        return np.clip(j, 0, n - 1)
    if before > n or after > n:
        raise RuntimeError("Padding value causes wrapping around more than once.")
    return j % n


def pad(input: Tensor, pad, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last len(pad) // 2 dimensions: pad = (left, right) for the last one, then (top, bottom)...
    mode 'constant' (with ``value``, default 0; negative pads crop), 'reflect', 'replicate' or 'circular'."""
    x = float_input(input)
    pad = [int(p) for p in pad]
    nd = x.dim()
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) > 2 * nd:
        raise RuntimeError(
            f"Padding length should be less than or equal to two times the input dimension but got padding length "
            f"{len(pad)} and input of dimension {nd}"
        )
    if mode not in _MODES:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    shape = tuple(x.shape)
    pairs = [(nd - 1 - i, pad[2 * i], pad[2 * i + 1]) for i in range(len(pad) // 2)]  # (dim, before, after)
    if mode == "constant":
        out_shape = list(shape)
        for d, b, a in pairs:
            out_shape[d] = shape[d] + b + a
            if out_shape[d] < 0:
                raise RuntimeError(
                    f"The input size {shape[d]}, plus negative padding {b} and {a} resulted in a negative output "
                    f"size, which is invalid. Check dimension {d} of your input."
                )
        src, dst = [slice(None)] * nd, [slice(None)] * nd
        for d, b, a in pairs:
            src[d] = slice(max(-b, 0), shape[d] - max(-a, 0))
            dst[d] = slice(max(b, 0), out_shape[d] - max(a, 0))
        fill = 0.0 if value is None else float(value)

        def compute(arr):
            y = np.full(out_shape, fill, dtype=np.float32)
            y[tuple(dst)] = arr[tuple(src)]

            def grads(g):
                gx = np.zeros(shape, dtype=F64)
                gx[tuple(src)] = g[tuple(dst)]
                return (gx,)

            return y, grads

        return apply("ConstantPadNd", (x,), compute)
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    k = len(pad) // 2
    if k not in (1, 2, 3) or nd not in (k + 1, k + 2):
        raise NotImplementedError(
            f"Padding size {len(pad)} is not supported for {nd}D input tensor.\n"
            "Supported combinations for non-constant padding:\n"
            "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
            "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
            "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)"
        )
    if min(pad) < 0:
        raise NotImplementedError(f"bnlab.torch pads with mode '{mode}' by non-negative amounts only, got {pad}")
    index = [(d, _pad_index(shape[d], b, a, mode, d, shape)) for d, b, a in pairs]

    def compute(arr):
        y = arr
        for d, idx in index:
            y = np.take(y, idx, axis=d)

        def grads(g):
            for d, idx in reversed(index):
                moved = np.moveaxis(g, d, 0)
                acc = np.zeros((shape[d], *moved.shape[1:]), dtype=F64)
                np.add.at(acc, idx, moved)
                g = np.moveaxis(acc, 0, d)
            return (g,)

        return y, grads

    name = {"reflect": "ReflectionPad", "replicate": "ReplicationPad", "circular": "CircularPad"}[mode]
    return apply(f"{name}{len(pad) // 2}D", (x,), compute)


# ---------------------------------------------------------------- norms and distances
def _pnorm(a, p: float, axis: int, keepdims: bool = True):
    """(|a|_p along axis, d|a|_p / da); the derivative is 0 where the norm is 0, as PyTorch's norm backward."""
    absa = np.abs(a)
    if p == float("inf"):
        n = absa.max(axis=axis, keepdims=True)
        hit = (absa == n).astype(F64)
        d = np.sign(a) * hit / hit.sum(axis=axis, keepdims=True)
    elif p == 0:
        n = (a != 0).sum(axis=axis, keepdims=True).astype(F64)
        d = np.zeros_like(a)
    elif p == 1:
        n = absa.sum(axis=axis, keepdims=True)
        d = np.sign(a)
    elif p == 2:
        n = np.sqrt((a * a).sum(axis=axis, keepdims=True))
        with np.errstate(invalid="ignore", divide="ignore"):
            d = np.where(n > 0, a / np.where(n > 0, n, 1.0), 0.0)
    else:
        n = (absa**p).sum(axis=axis, keepdims=True) ** (1.0 / p)
        with np.errstate(invalid="ignore", divide="ignore"):
            d = np.where(n > 0, np.sign(a) * absa ** (p - 1) / np.where(n > 0, n, 1.0) ** (p - 1), 0.0)
    return (n if keepdims else np.squeeze(n, axis)), d


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out=None) -> Tensor:
    """x / max(|x|_p, eps) along ``dim`` (rows of unit p-norm)."""
    if out is not None:
        raise NotImplementedError("bnlab.torch's normalize does not write into out=")
    x = float_input(input)
    d = _dim(dim, x.dim())

    def compute(arr):
        a = arr.astype(F64)
        n, dn = _pnorm(a, float(p), d) if a.ndim else (np.abs(a), np.sign(a))
        nc = np.maximum(n, eps)

        def grads(g):
            through = (n >= eps) * (g * a).sum(axis=d, keepdims=True) / (nc * nc) if a.ndim else 0.0
            return (g / nc - through * dn,)

        return a / nc, grads

    return apply("Div", (x,), compute)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """x1 . x2 / (max(|x1|, eps) max(|x2|, eps)) along ``dim`` (x1 and x2 broadcast together)."""
    a_t, b_t = float_input(x1, "x1"), float_input(x2, "x2")
    nd = max(a_t.dim(), b_t.dim())
    d = _dim(dim, nd)

    def compute(a, b):
        a, b = np.broadcast_arrays(a.astype(F64), b.astype(F64))
        n1, n2 = np.sqrt((a * a).sum(axis=d, keepdims=True)), np.sqrt((b * b).sum(axis=d, keepdims=True))
        c1, c2 = np.maximum(n1, eps), np.maximum(n2, eps)
        y = ((a / c1) * (b / c2)).sum(axis=d, keepdims=True)

        def grads(g):
            g = np.expand_dims(g, d)
            with np.errstate(invalid="ignore", divide="ignore"):
                r1 = np.where(n1 > 0, a / (c1 * np.where(n1 > 0, n1, 1.0)), 0.0)
                r2 = np.where(n2 > 0, b / (c2 * np.where(n2 > 0, n2, 1.0)), 0.0)
            return g * (b / (c1 * c2) - y * r1), g * (a / (c1 * c2) - y * r2)

        return np.squeeze(y, d), grads

    return apply("CosineSimilarity", (a_t, b_t), compute)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """|x1 - x2 + eps|_p over the last dimension (x1 and x2 broadcast together)."""
    a_t, b_t = float_input(x1, "x1"), float_input(x2, "x2")
    d = max(a_t.dim(), b_t.dim()) - 1

    def compute(a, b):
        diff = a.astype(F64) - b.astype(F64) + eps
        if diff.ndim == 0:
            n, dn = np.abs(diff), np.sign(diff)
            return n, lambda g: (g * dn, -g * dn)
        n, dn = _pnorm(diff, float(p), d)

        def grads(g):
            g = g if keepdim else np.expand_dims(g, d)
            return g * dn, -g * dn

        return (n if keepdim else np.squeeze(n, d)), grads

    return apply("Norm", (a_t, b_t), compute)


# ---------------------------------------------------------------- embedding
def embedding(
    input: Tensor,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """The rows of ``weight`` (num_embeddings, embedding_dim) at the integer indices ``input``: shape
    (*input.shape, embedding_dim)."""
    if not isinstance(input, Tensor) or input.dtype.is_floating_point:
        got = "torch.FloatTensor" if isinstance(input, Tensor) else type(input).__name__
        raise RuntimeError(
            "Expected tensor for argument #1 'indices' to have one of the following scalar types: Long, Int; but "
            f"got {got} instead (while checking arguments for embedding)"
        )
    if sparse:
        raise NotImplementedError("bnlab.torch has no sparse gradients (embedding with sparse=True)")
    w = float_input(weight, "weight")
    num = w.shape[0]
    if padding_idx is not None:
        if padding_idx > 0 and padding_idx >= num:
            raise AssertionError("Padding_idx must be within num_embeddings")
        if padding_idx < 0:
            if padding_idx < -num:
                raise AssertionError("Padding_idx must be within num_embeddings")
            padding_idx = num + padding_idx
    idx = input._np().astype(np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= num):
        raise IndexError("index out of range in self")
    if max_norm is not None:  # renormalize the rows used, in place and untracked, as PyTorch's embedding_renorm_
        rows = np.unique(idx)
        table = w._np().astype(F64)
        norms, _ = _pnorm(table[rows], float(norm_type), 1, keepdims=False)
        scale = np.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        renormed = w._np().copy()
        renormed[rows] = (table[rows] * scale[:, None]).astype(np.float32)
        if w.device.type == "cpu":
            w._np()[...] = renormed
        else:
            w._c.copy_from(renormed)

    def compute(table):
        flat = idx.reshape(-1)

        def grads(g):
            gw = np.zeros(table.shape, dtype=F64)
            rows = g.reshape(-1, table.shape[1])
            if scale_grad_by_freq:
                counts = np.bincount(flat, minlength=num)
                rows = rows / counts[flat][:, None]
            np.add.at(gw, flat, rows)
            if padding_idx is not None:
                gw[padding_idx] = 0.0
            return (gw,)

        return table[flat].reshape(*idx.shape, table.shape[1]), grads

    return apply("Embedding", (w,), compute)


# ---------------------------------------------------------------- bilinear and pixel shuffle
def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y[..., o] = sum_ij x1[..., i] W[o, i, j] x2[..., j] + b[o]."""
    x1, x2, w = float_input(input1, "input1"), float_input(input2, "input2"), float_input(weight, "weight")
    b = None if bias is None else float_input(bias, "bias")

    def compute(a, c, wa, ba):
        lead = a.shape[:-1]
        a, c, W = a.astype(F64).reshape(-1, a.shape[-1]), c.astype(F64).reshape(-1, c.shape[-1]), wa.astype(F64)
        y = np.einsum("ni,oij,nj->no", a, W, c) + (0.0 if ba is None else ba.astype(F64))

        def grads(g):
            g = g.reshape(-1, W.shape[0])
            ga = np.einsum("no,oij,nj->ni", g, W, c).reshape(*lead, -1)
            gc = np.einsum("no,oij,ni->nj", g, W, a).reshape(*lead, -1)
            gw = np.einsum("no,ni,nj->oij", g, a, c)
            gb = None if ba is None else g.sum(axis=0)
            return ga, gc, gw, gb

        return y.reshape(*lead, -1), grads

    return apply("Bilinear", (x1, x2, w, b), compute)


def _shuffle(name: str, x: Tensor, r: int, up: bool) -> Tensor:
    x = float_input(x)
    if x.dim() < 3:
        raise RuntimeError(
            f"{name} expects input to have at least 3 dimensions, but got input with {x.dim()} dimension(s)"
        )
    *lead, c, h, w = x.shape
    if up and c % (r * r):
        raise RuntimeError(
            f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of upscale_factor, "
            f"but input.size(-3)={c} is not divisible by {r * r}"
        )
    if not up and (h % r or w % r):
        raise RuntimeError(f"pixel_unshuffle expects height and width to be divisible by downscale_factor {r}")
    k = len(lead)
    if up:  # (*, C, r, r, H, W) -> (*, C, H, r, W, r)
        split, order, final = (*lead, c // (r * r), r, r, h, w), (0, 3, 1, 4, 2), (*lead, c // (r * r), h * r, w * r)
    else:  # (*, C, H, r, W, r) -> (*, C, r, r, H, W)
        split, order, final = (*lead, c, h // r, r, w // r, r), (0, 2, 4, 1, 3), (*lead, c * r * r, h // r, w // r)
    perm = tuple(range(k)) + tuple(k + i for i in order)
    inverse = tuple(int(i) for i in np.argsort(perm))
    shape = tuple(x.shape)

    def compute(arr):
        y = arr.reshape(split).transpose(perm).reshape(final)
        return y, lambda g: (g.reshape([split[i] for i in perm]).transpose(inverse).reshape(shape),)

    return apply(name.title().replace("_", ""), (x,), compute)


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C r^2, H, W) -> (*, C, H r, W r), r = upscale_factor (sub-pixel convolution)."""
    return _shuffle("pixel_shuffle", input, int(upscale_factor), True)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H r, W r) -> (*, C r^2, H, W), the inverse of pixel_shuffle."""
    return _shuffle("pixel_unshuffle", input, int(downscale_factor), False)
