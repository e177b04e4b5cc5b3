"""``histogram``, ``meshgrid``, ``bmm``, ``normal`` and ``multinomial``: the numeric helpers that textbook code
(d2l's library imports all of them at import time) and BN tutorials (gradient histograms, makemore's sampling)
call, with PyTorch's arguments, results and error messages.

    histogram(x, bins)   counts of x in bins equal-width bins over [min x, max x] (or ``range``); an edge
                         belongs to the bin on its right, the last edge to the last bin; ``density`` divides
                         by (total count * bin width). Edges as torch.linspace(lo, hi, bins + 1) in float32.
    meshgrid(a, b, ...)  for 1-D tensors of sizes n_i, N-D grids G_i[j_1, ..., j_N] = a_i[j_i] ('ij'); 'xy'
                         builds the grids of (b, a, ...) and returns them as (a's, b's, ...): shape (n_2, n_1, ...).
    bmm(A, B)            C[b] = A[b] @ B[b] for (B, n, m) and (B, m, p); d/dA[b] = g[b] B[b]^T, d/dB[b] = A[b]^T g[b].
    normal(mean, std)    mean + std * N(0, 1), elementwise, broadcasting tensors or numbers.
    multinomial(p, n)    n category indices per row drawn with probabilities p / sum p (without replacement:
                         each drawn index leaves the pool).
Random draws come from a ``bnlab.torch.Generator`` (``generator=``, else the default one): the same seed gives
the same numbers run after run, but not PyTorch's numbers (another algorithm, the same distributions).
"""

from __future__ import annotations

import builtins
import numbers
import warnings
from collections import namedtuple

import numpy as np

from . import _shape
from ._math import matmul
from ._random import rng_of
from ._types import as_device
from .tensor import Tensor, host

__all__ = ["bmm", "histogram", "meshgrid", "multinomial", "normal"]

_Histogram = namedtuple("histogram", ["hist", "bin_edges"])


class HistogramResult(_Histogram):
    """``torch.return_types.histogram(hist=..., bin_edges=...)``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"torch.return_types.histogram(\nhist={self.hist!r},\nbin_edges={self.bin_edges!r})"


def _linspace32(lo: float, hi: float, steps: int) -> np.ndarray:
    """torch.linspace in float32: start + i*step for the first half, end - (steps-1-i)*step for the rest, each a
    fused multiply-add rounded once (the product of a float32 step and a small integer is exact in float64)."""
    lo32, hi32 = np.float32(lo), np.float32(hi)
    if steps == 1:
        return np.array([lo32], np.float32)
    step = np.float64(np.float32((hi32 - lo32) / np.float32(steps - 1)))
    i = np.arange(steps, dtype=np.float64)
    half = steps // 2
    first = np.float64(lo32) + i[:half] * step
    second = np.float64(hi32) - (steps - 1 - i[half:]) * step
    return np.concatenate([first, second]).astype(np.float32)


def histogram(input, bins=100, *, range=None, weight=None, density: bool = False):
    """Counts of ``input``'s values in ``bins`` bins (an int: equal widths; a 1-D tensor: its edges)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"histogram(): argument 'input' must be Tensor, not {type(input).__name__}")
    x = input._np()
    if x.dtype.kind != "f":
        raise RuntimeError(f"torch.histogram: input tensor and bins tensors should have the same dtype, got {x.dtype}")
    x = x.reshape(-1).astype(np.float32)
    w = None
    if weight is not None:
        w = np.asarray(weight._np() if isinstance(weight, Tensor) else weight, np.float32)
        if w.shape != input._np().shape:
            raise RuntimeError("torch.histogram: if weight tensor is provided it should have the same shape as input")
        w = w.reshape(-1)
    if isinstance(bins, Tensor):
        edges = bins._np().astype(np.float32).reshape(-1)
        if edges.size < 1 or np.any(np.diff(edges) < 0):
            raise RuntimeError("torch.histogram: bin_edges tensor should have at least 1 element and be increasing")
    else:
        if not isinstance(bins, numbers.Integral) or isinstance(bins, bool) or bins <= 0:
            raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
        if range is not None:
            lo, hi = (float(v) for v in range)
            if lo > hi:
                raise RuntimeError(f"torch.histogram(): min should not exceed max, but got min {lo} max {hi}")
        elif x.size:
            lo, hi = float(x.min()), float(x.max())
        else:
            lo, hi = 0.0, 0.0
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise RuntimeError(f"torch.histogram(): range of [{lo}, {hi}] is not finite")
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        edges = _linspace32(lo, hi, int(bins) + 1)
    n_bins = edges.size - 1
    inside = (x >= edges[0]) & (x <= edges[-1])
    index = np.searchsorted(edges, x[inside], side="right") - 1
    index = np.minimum(index, n_bins - 1)  # the last edge belongs to the last bin
    counts = np.bincount(index, weights=None if w is None else w[inside], minlength=max(n_bins, 0))
    counts = counts[:n_bins].astype(np.float32)
    if density:
        counts = counts / (counts.sum(dtype=np.float32) * np.diff(edges))
    return HistogramResult(host(counts.astype(np.float32), input.device), host(edges, input.device))


def meshgrid(*tensors, indexing: str | None = None):
    """Coordinate grids of 1-D tensors; ``indexing='ij'`` (matrix) or ``'xy'`` (Cartesian: axes 0 and 1 swapped).
    Without ``indexing`` PyTorch uses 'ij' and warns that a later release will require it; so does this."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing is None:
        warnings.warn(
            "torch.meshgrid: in an upcoming release, it will be required to pass the indexing argument.",
            UserWarning,
            stacklevel=2,
        )
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise ValueError(f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}')
    if not tensors:
        raise RuntimeError("torch.meshgrid expects a non-empty TensorList")
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"meshgrid(): expected Tensor as element, but got {type(t).__name__}")
        if t.dim() > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: {t.dim()}D")
    flat = [t.reshape(-1) for t in tensors]
    swap = indexing == "xy" and len(flat) >= 2
    if swap:
        flat[0], flat[1] = flat[1], flat[0]
    sizes = [t.shape[0] for t in flat]
    grids = []
    for i, t in enumerate(flat):
        shape = [1] * len(sizes)
        shape[i] = sizes[i]
        zeros = host(np.zeros(sizes, dtype=t._np().dtype), t.device)
        grids.append(t.view(shape) + zeros)  # broadcasting: differentiable (the gradient sums back to t)
    if swap:  # the grids of the swapped inputs, given back in the caller's order
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


def bmm(input, mat2):
    """Batched matrix product of (B, n, m) and (B, m, p) float tensors: (B, n, p)."""
    for name, t in (("input", input), ("mat2", mat2)):
        if not isinstance(t, Tensor):
            raise TypeError(f"bmm(): argument '{name}' must be Tensor, not {type(t).__name__}")
    if input.dim() != 3:
        raise RuntimeError(f"batch1 must be a 3D tensor, got {input.dim()}D")
    if mat2.dim() != 3:
        raise RuntimeError(f"batch2 must be a 3D tensor, got {mat2.dim()}D")
    (b1, n, m), (b2, m2, p) = input.shape, mat2.shape
    if b1 != b2 or m != m2:
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: [{b1}, {m}] but got: [{b2}, {m2}]."
        )
    if b1 == 0:
        return host(np.zeros((0, n, p), np.float32), input.device)
    return _shape.stack([matmul(input[b], mat2[b]) for b in builtins.range(b1)], 0)


def _as_array(x):
    return x._np().astype(np.float32) if isinstance(x, Tensor) else np.float32(x)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    """Samples of N(mean, std^2): ``normal(mean_tensor, std_tensor)``, ``normal(mean, std_tensor)``,
    ``normal(mean_tensor, std=1.0)``, or ``normal(mean, std, size)`` with numbers."""
    tensors = [t for t in (mean, std) if isinstance(t, Tensor)]
    if size is not None and tensors:
        raise RuntimeError("normal(): size can only be given with a number mean and a number std")
    if not tensors and size is None:
        raise TypeError("normal() received an invalid combination of arguments: give a size with number mean and std")
    m, s = _as_array(mean), _as_array(std)
    if np.any(s < 0):
        raise RuntimeError(f"normal expects all elements of std >= 0.0, but found std {float(np.min(s))}")
    shape = tuple(_shape._shape_args((size,))) if size is not None else np.broadcast_shapes(np.shape(m), np.shape(s))
    z = rng_of(generator).standard_normal(shape, dtype=np.float32)
    out = (m + s * z).astype(np.float32)
    where = as_device(device) if device is not None else (tensors[0].device if tensors else as_device("cpu"))
    t = host(out, where)
    if dtype is not None:
        t = t.to(dtype)
    return t.requires_grad_(requires_grad) if requires_grad else t


def multinomial(input, num_samples: int, replacement: bool = False, *, generator=None):
    """``num_samples`` indices per row of ``input`` (1-D or 2-D non-negative weights, not necessarily summing
    to 1), drawn with probability proportional to the weights; int64."""
    if not isinstance(input, Tensor):
        raise TypeError(f"multinomial(): argument 'input' must be Tensor, not {type(input).__name__}")
    p = input._np()
    if p.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if p.dtype.kind != "f":
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: {input.dtype}")
    if not isinstance(num_samples, numbers.Integral) or num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    rows = p.reshape(1, -1) if p.ndim == 1 else p
    if not replacement and num_samples > rows.shape[1]:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    if not np.all(np.isfinite(rows)) or np.any(rows < 0):
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    rng = rng_of(generator)
    out = np.empty((rows.shape[0], num_samples), np.int64)
    for r, w in enumerate(rows.astype(np.float64)):
        total = w.sum()
        if total <= 0:
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        if not replacement and np.count_nonzero(w) < num_samples:
            raise RuntimeError(
                "invalid multinomial distribution (with replacement=False, not enough non-negative category to sample)"
            )
        out[r] = rng.choice(w.size, size=num_samples, replace=replacement, p=w / total)
    return host(out.reshape(-1) if p.ndim == 1 else out, input.device)
