"""NumPy float64 references for the engine's 2-D window ops: convolution, max, average and global average pooling.

Written from the definitions (PyTorch's F.conv2d / max_pool2d / avg_pool2d, Keras's Conv2D / pooling layers),
nothing here calls the engine. Layouts: ``channels_last`` x (N, H, W, C) with a Keras kernel (KH, KW, C, K);
otherwise x (N, C, H, W) with a PyTorch weight (K, C, KH, KW). ``padding`` is (top, bottom, left, right).
"""

from __future__ import annotations

import numpy as np


def to_nchw(x, channels_last: bool) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x.transpose(0, 3, 1, 2) if channels_last else x


def from_nchw(y, channels_last: bool) -> np.ndarray:
    return y.transpose(0, 2, 3, 1) if channels_last else y


def _windows(xp: np.ndarray, kh: int, kw: int, stride):
    """Yields (i, j, patch) with patch (N, C, OH, OW) = xp[:, :, i + oh*sh, j + ow*sw] for each kernel offset."""
    sh, sw = stride
    oh = (xp.shape[2] - kh) // sh + 1
    ow = (xp.shape[3] - kw) // sw + 1
    for i in range(kh):
        for j in range(kw):
            yield i, j, xp[:, :, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw]


def _pad(x: np.ndarray, padding, value: float = 0.0) -> np.ndarray:
    pt, pb, pl, pr = padding
    return np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=value)


def conv2d(x, w, b, stride, padding, channels_last: bool) -> np.ndarray:
    """out[n, k, oh, ow] = b[k] + sum_{c,i,j} w[k, c, i, j] * xpad[n, c, oh*sh + i, ow*sw + j]."""
    x = to_nchw(x, channels_last)
    w = np.asarray(w, dtype=np.float64)
    w = w.transpose(3, 2, 0, 1) if channels_last else w  # (KH, KW, C, K) -> (K, C, KH, KW)
    out = 0.0
    for i, j, patch in _windows(_pad(x, padding), w.shape[2], w.shape[3], stride):
        out = out + np.einsum("nchw,kc->nkhw", patch, w[:, :, i, j])
    if b is not None:
        out = out + np.asarray(b, dtype=np.float64)[None, :, None, None]
    return from_nchw(out, channels_last)


def max_pool2d(x, kernel_size, stride, padding, channels_last: bool) -> np.ndarray:
    """The maximum of each window; padding is -inf (never the maximum)."""
    x = to_nchw(x, channels_last)
    out = -np.inf
    for _, _, patch in _windows(_pad(x, padding, -np.inf), *kernel_size, stride):
        out = np.maximum(out, patch)
    return from_nchw(out, channels_last)


def avg_pool2d(x, kernel_size, stride, padding, channels_last: bool, count_include_pad: bool) -> np.ndarray:
    """Window sums over KH*KW (count_include_pad, PyTorch's default) or over the input values covered (Keras)."""
    x = to_nchw(x, channels_last)
    total = sum(p for _, _, p in _windows(_pad(x, padding), *kernel_size, stride))
    if count_include_pad:
        count = kernel_size[0] * kernel_size[1]
    else:
        count = sum(p for _, _, p in _windows(_pad(np.ones_like(x), padding), *kernel_size, stride))
    return from_nchw(total / count, channels_last)


def global_avg_pool2d(x, channels_last: bool) -> np.ndarray:
    """(N, C): the mean over the spatial axes."""
    return to_nchw(x, channels_last).mean(axis=(2, 3))


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """Keras/TF 'same': output ceil(size / stride); the total padding split with the odd pixel after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2
