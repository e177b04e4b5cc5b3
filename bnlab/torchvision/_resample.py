"""Tensor resizing as ``torch.nn.functional.interpolate`` computes it for torchvision's ``resize``.

``resize(a, (out_h, out_w), mode, antialias)`` takes a NumPy array (..., H, W) and resamples its last two
axes; float32 stays float32, integer data is resampled as float32 and then rounded half to even and cast
back (bicubic clamped to [0, 255] first for uint8), as torchvision's ``_cast_squeeze_out`` does.

Every mode is separable: each output row/column is a weighted sum of input rows/columns. The weights are
computed in float32 with PyTorch's formulas (below; ``scale = in / out`` in float32), and the sums are taken
as PyTorch's separable CPU kernel takes them: the width first, then the height, one tap after the other with
a fused multiply-add (one float32 rounding per tap). On an FMA CPU that reproduces PyTorch bit for bit when
upsampling with bilinear antialias (torchvision's default); otherwise the two differ by a few float32 ulps
of the value range (tests/test_torchvision_transforms_parity.py derives the bound). With output index i
(``align_corners=False``):

    nearest        src = min(floor(float32(i * scale)), in - 1)                      (PyTorch's legacy rule)
    nearest-exact  src = min(floor(float32((i + 0.5) * scale)), in - 1)
    bilinear       x = max(scale * (i + 0.5) - 0.5, 0), i0 = floor(x), l = x - i0:
                   (1 - l) * a[i0] + l * a[min(i0 + 1, in - 1)]
    bicubic        x = scale * (i + 0.5) - 0.5 (not clamped), i0 = floor(x), t = x - i0:
                   Keys' cubic (A = -0.75) on a[i0 - 1 .. i0 + 2], indices clamped to the image
    antialias      (bilinear and bicubic when antialias=True, torchvision's default) PIL's resampling:
                   center c = scale * (i + 0.5), support s = k/2 * max(scale, 1) (k = 2 bilinear, 4 bicubic),
                   inputs j in [max(int(c - s + 0.5), 0), min(int(c + s + 0.5), in)) weighted
                   f((j - c + 0.5) / max(scale, 1)) and normalized to sum 1, with f the triangle 1 - |x|
                   (bilinear) or Keys' cubic with A = -0.5 (bicubic)
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["TENSOR_MODES", "resize", "taps"]

_F32 = np.float32

TENSOR_MODES = ("nearest", "nearest-exact", "bilinear", "bicubic")


def _nearest(n_in: int, n_out: int, exact: bool) -> np.ndarray:
    i = np.arange(n_out)
    if not exact and n_out == n_in:
        return i
    if not exact and n_out == 2 * n_in:
        return i >> 1
    scale = np.float32(n_in) / np.float32(n_out)
    x = ((i + 0.5) * np.float64(scale)).astype(np.float32) if exact else i.astype(np.float32) * scale
    return np.minimum(np.floor(x).astype(np.int64), n_in - 1)


def _cubic(x: np.ndarray, a: float) -> np.ndarray:
    """Keys' cubic convolution kernel of |x| (0 beyond 2), in the dtype of ``x``."""
    x = np.abs(x)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.where(x < 1, near, np.where(x < 2, far, 0)).astype(x.dtype)


def _source(n_in: int, n_out: int) -> np.ndarray:
    """float32 scale * (i + 0.5) - 0.5, PyTorch's source coordinate (align_corners=False)."""
    scale = _F32(n_in) / _F32(n_out)
    return scale * (np.arange(n_out, dtype=_F32) + _F32(0.5)) - _F32(0.5)


def _linear_taps(n_in: int, n_out: int):
    x = np.maximum(_source(n_in, n_out), _F32(0))
    i0 = x.astype(np.int64)
    lam = np.clip(x - i0.astype(_F32), _F32(0), _F32(1))
    return np.stack([i0, np.minimum(i0 + 1, n_in - 1)], 1), np.stack([_F32(1) - lam, lam], 1)


def _cubic_taps(n_in: int, n_out: int):
    x = _source(n_in, n_out)
    i0 = np.floor(x).astype(np.int64)
    t = x - i0.astype(_F32)
    idx = np.clip(i0[:, None] + np.arange(-1, 3), 0, n_in - 1)
    one, two = _F32(1), _F32(2)
    return idx, np.stack([_cubic(t + one, -0.75), _cubic(t, -0.75), _cubic(one - t, -0.75), _cubic(two - t, -0.75)], 1)


def _antialias_taps(n_in: int, n_out: int, cubic: bool):
    scale = _F32(n_in) / _F32(n_out)
    support = _F32(2.0 if cubic else 1.0) * max(scale, _F32(1))
    invscale = _F32(1) / scale if scale >= 1 else _F32(1)
    rows = []
    for i in range(n_out):
        center = scale * (_F32(i) + _F32(0.5))
        lo = max(int(center - support + _F32(0.5)), 0)
        hi = min(int(center + support + _F32(0.5)), n_in)
        x = (np.arange(lo, hi, dtype=_F32) - center + _F32(0.5)) * invscale
        f = _cubic(x, -0.5) if cubic else np.maximum(_F32(1) - np.abs(x), _F32(0))
        total = _F32(0)
        for v in f:  # PyTorch sums the weights in order, in float32
            total = _F32(total + v)
        rows.append((lo, f / total if total != 0 else f))
    k = max(len(f) for _, f in rows)
    idx = np.array([lo + np.minimum(np.arange(k), max(len(f) - 1, 0)) for lo, f in rows], dtype=np.int64)
    w = np.zeros((n_out, k), _F32)
    for i, (_, f) in enumerate(rows):
        w[i, : len(f)] = f
    return idx, w


@functools.lru_cache(maxsize=64)
def taps(n_in: int, n_out: int, mode: str, antialias: bool):
    """(indices, float32 weights), both (n_out, K): output i = sum_k weights[i, k] * input[indices[i, k]].
    Cached (a dataset resizes every image alike): the arrays are shared, never to be written."""
    if antialias:
        idx, w = _antialias_taps(n_in, n_out, mode == "bicubic")
    else:
        idx, w = _linear_taps(n_in, n_out) if mode == "bilinear" else _cubic_taps(n_in, n_out)
    idx.setflags(write=False)
    w.setflags(write=False)
    return idx, w


def _pass(a: np.ndarray, idx: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Resample the last axis of float32 ``a``: t = x0 * w0, then t = fma(xk, wk, t) (one float32 rounding
    per tap, products exact in float64), PyTorch's order of operations."""
    t = a[..., idx[:, 0]] * w[:, 0]
    for k in range(1, idx.shape[1]):
        t = (a[..., idx[:, k]].astype(np.float64) * w[:, k] + t).astype(_F32)
    return t


def resize(a: np.ndarray, size, mode: str, antialias) -> np.ndarray:
    """``a`` (..., H, W) resampled to ``size`` = (out_h, out_w) in ``mode`` (see the module docstring)."""
    if mode not in TENSOR_MODES:
        raise ValueError(f"Interpolation mode '{mode}' is unsupported with Tensor input")
    out_h, out_w = (int(s) for s in size)
    h, w = a.shape[-2:]
    if out_h <= 0 or out_w <= 0 or h <= 0 or w <= 0:
        raise ValueError(
            f"Input and output sizes should be greater than 0, but got input (H: {h}, W: {w}) output "
            f"(H: {out_h}, W: {out_w})"
        )
    dtype = a.dtype
    if mode in ("nearest", "nearest-exact"):
        exact = mode == "nearest-exact"
        out = a[..., _nearest(h, out_h, exact)[:, None], _nearest(w, out_w, exact)[None, :]]
        return out.astype(np.float32).astype(dtype) if dtype.kind != "f" else out
    antialias = bool(antialias) and mode in ("bilinear", "bicubic")
    out = a.astype(_F32)
    if out_w != w:  # the width first, then the height, as PyTorch's separable kernel does
        out = _pass(out, *taps(w, out_w, mode, antialias))
    if out_h != h:
        out = np.swapaxes(_pass(np.swapaxes(out, -1, -2), *taps(h, out_h, mode, antialias)), -1, -2)
    if dtype.kind == "f":
        return np.ascontiguousarray(out)
    if mode == "bicubic" and dtype == np.uint8:
        out = np.clip(out, 0, 255)
    return np.round(out).astype(dtype)
