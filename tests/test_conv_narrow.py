"""The convolution's two CPU paths against each other and against float64 NumPy, in both layouts.

A layer with at most 128 output channels goes to the cache-resident path (conv_narrow_cpu.cpp: implicit GEMMs over a
padded copy of the input, with the backend's narrow GEMM, AVX-512 or AVX2); ``_core.ops.set_narrow_gemm(False)`` sends
every layer to im2col + cblas_sgemm instead. Both must give the forward, dW, db and dx of float64 NumPy to float32
accuracy, on shapes that reach every tile width and tail: output channels 1-128 (one to eight 16-lane vectors, masked
tails), one to many input channels, strides, asymmetric paddings, a batch of one and a batch larger than the dW
partial-sum groups; channels-last (Keras) and channels-first (PyTorch, which the resident path transposes sample by
sample). The resident path's results do not depend on the thread count, bit for bit."""

from __future__ import annotations

import contextlib

import conv_reference as ref
import numpy as np
import pytest
from test_ops_gradcheck import tensor

from bnlab import _core

ops = _core.ops

needs_narrow = pytest.mark.skipif(
    not ops.narrow_gemm_available(),
    reason="the narrow GEMM (AVX-512 or AVX2) is not in this build, or is off (BNLAB_GEMM=cblas)",
)


@contextlib.contextmanager
def narrow(on: bool):
    was = ops.set_narrow_gemm(on)
    try:
        yield
    finally:
        ops.set_narrow_gemm(was)


@contextlib.contextmanager
def threads(n: int):
    was = _core.get_num_threads()
    _core.set_num_threads(n)
    try:
        yield
    finally:
        _core.set_num_threads(was)


# (N, H, W, C, K, (KH, KW), stride, padding (top, bottom, left, right))
SHAPES = [
    (3, 9, 9, 1, 16, (3, 3), (1, 1), (1, 1, 1, 1)),  # a grey-scale first layer: one vector of outputs
    (2, 7, 6, 16, 32, (3, 3), (1, 1), (1, 1, 1, 1)),  # the lab CNN's second layer, smaller
    (2, 6, 7, 5, 17, (3, 2), (1, 1), (0, 1, 0, 1)),  # 17 outputs: a one-lane tail; 'same' with the odd pixel
    (2, 8, 8, 3, 40, (3, 3), (2, 2), (1, 1, 1, 1)),  # strided, 40 = 2 vectors + a tail of 8
    (1, 5, 5, 7, 64, (2, 2), (1, 2), (0, 0, 0, 0)),  # a batch of one, unequal strides
    (2, 5, 6, 4, 100, (1, 1), (1, 1), (0, 0, 0, 0)),  # 1x1, 100 outputs: blocks of 4 + 3 vectors
    (2, 4, 4, 9, 128, (3, 3), (1, 1), (2, 2, 2, 2)),  # 128 outputs (the most the path takes), large padding
    (2, 4, 5, 3, 1, (2, 2), (1, 1), (1, 0, 1, 0)),  # a single output channel
    (40, 6, 6, 2, 8, (3, 3), (1, 1), (1, 1, 1, 1)),  # more samples than one dW group holds
    (2, 6, 6, 3, 129, (3, 3), (1, 1), (1, 1, 1, 1)),  # 129 outputs: cblas_sgemm on both settings
    (3, 9, 8, 32, 64, (1, 1), (2, 2), (0, 0, 0, 0)),  # a ResNet shortcut: 1x1 at stride 2, a compacted copy
]


def shape_id(sh) -> str:
    n, h, w, c, k, (kh, kw), (sh_, sw), pad = sh
    return f"n{n}-{h}x{w}x{c}-k{k}-{kh}x{kw}-s{sh_}{sw}-p{''.join(map(str, pad))}"


def arrays(shape, seed=0):
    n, h, w, c, k, (kh, kw), stride, pad = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, h, w, c)).astype(np.float32)
    wt = (rng.standard_normal((kh, kw, c, k)) / np.sqrt(kh * kw * c)).astype(np.float32)
    b = rng.standard_normal(k).astype(np.float32)
    out = ref.conv2d(x, wt, b, stride, pad, True)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    return x, wt, b, dout


def run(shape, x, wt, b, dout, last=True):
    """Forward and backward through _core.ops: (out, dx, dw, db) as float64 arrays, in the channels-last forms
    (a channels-first run gets its inputs transposed to PyTorch's layouts, and its results transposed back)."""
    stride, pad = shape[6], shape[7]
    if not last:
        x, wt, dout = x.transpose(0, 3, 1, 2), wt.transpose(3, 2, 0, 1), dout.transpose(0, 3, 1, 2)
    out, cache = _core.Tensor(), ops.ConvCache()
    ops.conv2d_forward(out, cache, tensor(x), tensor(wt), tensor(b), stride, pad, last)
    dx, dw, db = _core.Tensor(), _core.Tensor(list(wt.shape)), _core.Tensor([b.size])
    ops.conv2d_backward(dx, dw, db, tensor(dout), cache, tensor(wt), False)
    got = [t.numpy().astype(np.float64) for t in (out, dx, dw, db)]
    if not last:
        got = [got[0].transpose(0, 2, 3, 1), got[1].transpose(0, 2, 3, 1), got[2].transpose(2, 3, 1, 0), got[3]]
    return got


def reference(shape, x, wt, b, dout):
    """float64 NumPy: the forward of conv_reference, and the backward as the forward's adjoint via im2col."""
    _, h, w, _, _, (kh, kw), (sh, sw), (pt, pb, pl, pr) = shape
    x64, w64, d64 = x.astype(np.float64), wt.astype(np.float64), dout.astype(np.float64)
    out = ref.conv2d(x64, w64, b.astype(np.float64), (sh, sw), (pt, pb, pl, pr), True)
    xp = np.pad(x64, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    oh, ow = out.shape[1:3]
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w64)
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, i : i + sh * oh : sh, j : j + sw * ow : sw, :]  # (n, oh, ow, c)
            dw[i, j] = np.einsum("nabc,nabk->ck", patch, d64)
            dxp[:, i : i + sh * oh : sh, j : j + sw * ow : sw, :] += np.einsum("nabk,ck->nabc", d64, w64[i, j])
    dx = dxp[:, pt : pt + h, pl : pl + w, :]
    return [out, dx, dw, d64.sum(axis=(0, 1, 2))]


def assert_close(got, want, what):
    scale = max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-5 * scale, err_msg=what)


@needs_narrow
@pytest.mark.parametrize("last", [True, False], ids=["nhwc", "nchw"])
@pytest.mark.parametrize("on", [True, False], ids=["narrow", "sgemm"])
@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
def test_both_paths_match_float64(shape, on, last):
    a = arrays(shape)
    with narrow(on):
        got = run(shape, *a, last=last)
    for g, w, name in zip(got, reference(shape, *a), ("out", "dx", "dw", "db"), strict=True):
        assert g.shape == w.shape, name
        assert_close(g, w, name)


@needs_narrow
@pytest.mark.parametrize("last", [True, False], ids=["nhwc", "nchw"])
@pytest.mark.parametrize("shape", SHAPES[:4] + SHAPES[8:9], ids=shape_id)
def test_the_resident_path_gives_the_same_bits_on_one_and_two_threads(shape, last):
    a = arrays(shape, seed=3)
    with narrow(True):
        with threads(1):
            one = run(shape, *a, last=last)
        with threads(2):
            two = run(shape, *a, last=last)
    for x, y, name in zip(one, two, ("out", "dx", "dw", "db"), strict=True):
        np.testing.assert_array_equal(x, y, err_msg=name)


@needs_narrow
def test_gradients_accumulate_on_the_resident_path_and_dinput_is_optional():
    shape = SHAPES[1]
    x, wt, b, dout = arrays(shape, seed=5)
    stride, pad = shape[6], shape[7]
    with narrow(True):
        out, cache = _core.Tensor(), ops.ConvCache()
        ops.conv2d_forward(out, cache, tensor(x), tensor(wt), tensor(b), stride, pad, True)
        dw = _core.Tensor.from_numpy(np.ones(wt.shape, np.float32))
        db = _core.Tensor.from_numpy(np.ones(b.shape, np.float32))
        ops.conv2d_backward(None, dw, db, tensor(dout), cache, tensor(wt), True)  # the first layer: no dx
    want = reference(shape, x, wt, b, dout)
    assert_close(dw.numpy() - 1.0, want[2], "dw accumulated")
    assert_close(db.numpy() - 1.0, want[3], "db accumulated")


def im2col_calls(shape, a, last):
    """The layer's (out, dx, dw, db), and how many im2col copies its forward made (0 on the resident path)."""
    import bnlab.profile as prof

    prof.reset()
    prof.enable()
    try:
        got = run(shape, *a, last=last)
    finally:
        prof.disable()
    return got, sum(r["calls"] for r in prof.read() if r["phase"] == "conv.im2col")


@needs_narrow
@pytest.mark.parametrize("last", [True, False], ids=["nhwc", "nchw"])
def test_a_strided_1x1_layer_keeps_only_the_pixels_it_reads_and_is_right(last):
    """A 1x1 kernel at stride 2 (a ResNet's shortcut) reads a quarter of the input: its resident copy keeps just
    those pixels, (OH, OW, C), so it fits where the cols buffer was and no im2col runs. With padding, the padded
    input is larger than the columns and the layer goes to im2col + sgemm; both are right."""
    for pad, im2col in (((0, 0, 0, 0), False), ((1, 1, 1, 1), True)):
        shape = (2, 8, 7, 4, 16, (1, 1), (2, 2), pad)
        a = arrays(shape, seed=7)
        with narrow(True):
            got, calls = im2col_calls(shape, a, last)
        assert (calls > 0) == im2col, (pad, calls)
        for g, w, name in zip(got, reference(shape, *a), ("out", "dx", "dw", "db"), strict=True):
            assert_close(g, w, name)


def test_set_narrow_gemm_returns_the_previous_setting():
    was = ops.set_narrow_gemm(False)
    try:
        assert ops.narrow_gemm_available() is False
        assert ops.set_narrow_gemm(True) is False
    finally:
        ops.set_narrow_gemm(was)
