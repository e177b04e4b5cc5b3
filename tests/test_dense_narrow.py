"""The dense op's two CPU paths against each other and against float64 NumPy.

Products whose output has at most ``ops.narrow_gemm_matrix_columns()`` columns (1152 in an AVX-512 build, 128 in an
AVX2 one) go to the engine's narrow GEMM (cpp/backend/cpu/narrow_gemm_cpu.cpp); ``_core.ops.set_narrow_gemm(False)``
sends them to cblas_sgemm. Both layouts (Keras's W (IN, OUT), PyTorch's W (OUT, IN), where the narrow path transposes
a weight of at most 2^18 floats once per step), widths that end in a masked vector, batches of one and of a few
hundred rows, and the accumulation of the parameter gradients. The narrow path gives the
same bits on one and two threads.
"""

from __future__ import annotations

import contextlib

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
def settings(narrow: bool, threads: int | None = None):
    was, was_threads = ops.set_narrow_gemm(narrow), _core.get_num_threads()
    if threads:
        _core.set_num_threads(threads)
    try:
        yield
    finally:
        ops.set_narrow_gemm(was)
        _core.set_num_threads(was_threads)


# (batch, IN, OUT): the seeds' layers, masked tails, a wide output, one row, one that two threads split
SHAPES = [(64, 784, 128), (32, 128, 64), (7, 64, 10), (1, 33, 17), (130, 300, 200), (64, 512, 256), (5, 20, 1200)]
SHAPES += [(512, 120, 100)]


def arrays(b, n_in, n_out, out_in, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((b, n_in)).astype(np.float32)
    w = (rng.standard_normal((n_out, n_in) if out_in else (n_in, n_out)) / np.sqrt(n_in)).astype(np.float32)
    bias = rng.standard_normal(n_out).astype(np.float32)
    dout = rng.standard_normal((b, n_out)).astype(np.float32)
    return x, w, bias, dout


def run(x, w, bias, dout, out_in, accumulate=False):
    out = _core.Tensor()
    ops.dense_forward(out, tensor(x), tensor(w), tensor(bias), out_in)
    dx = _core.Tensor()
    dw = _core.Tensor.from_numpy(np.ones(w.shape, np.float32))
    db = _core.Tensor.from_numpy(np.ones(bias.shape, np.float32))
    ops.dense_backward(dx, dw, db, tensor(dout), tensor(x), tensor(w), out_in, accumulate)
    return [t.numpy().astype(np.float64) for t in (out, dx, dw, db)]


def reference(x, w, bias, dout, out_in, accumulate=False):
    x64, d64 = x.astype(np.float64), dout.astype(np.float64)
    w_io = (w.T if out_in else w).astype(np.float64)  # (IN, OUT)
    dw = x64.T @ d64
    start = 1.0 if accumulate else 0.0
    return [x64 @ w_io + bias, d64 @ w_io.T, start + (dw.T if out_in else dw), start + d64.sum(axis=0)]


@needs_narrow
@pytest.mark.parametrize("accumulate", [False, True], ids=["assign", "accumulate"])
@pytest.mark.parametrize("out_in", [False, True], ids=["keras", "torch"])
@pytest.mark.parametrize("narrow", [True, False], ids=["narrow", "sgemm"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_both_paths_match_float64(shape, narrow, out_in, accumulate):
    a = arrays(*shape, out_in)
    with settings(narrow):
        got = run(*a, out_in, accumulate)
    for g, w, name in zip(got, reference(*a, out_in, accumulate), ("out", "dx", "dw", "db"), strict=True):
        assert g.shape == w.shape, name
        np.testing.assert_allclose(g, w, rtol=0, atol=2e-5 * max(1.0, float(np.abs(w).max())), err_msg=name)


@needs_narrow
@pytest.mark.parametrize("out_in", [False, True], ids=["keras", "torch"])
@pytest.mark.parametrize("shape", SHAPES[:2] + SHAPES[4:6] + SHAPES[7:], ids=lambda s: "x".join(map(str, s)))
def test_the_narrow_path_gives_the_same_bits_on_one_and_two_threads(shape, out_in):
    # Every product of the layer (widths IN and OUT) must take the narrow path: cblas_sgemm's bits may follow the
    # thread count.
    if max(shape[1:]) > ops.narrow_gemm_matrix_columns():
        pytest.skip(f"a product {max(shape[1:])} wide goes to cblas_sgemm in this build")
    a = arrays(*shape, out_in, seed=2)
    with settings(True, threads=1):
        one = run(*a, out_in)
    with settings(True, threads=2):
        two = run(*a, out_in)
    for p, q, name in zip(one, two, ("out", "dx", "dw", "db"), strict=True):
        np.testing.assert_array_equal(p, q, err_msg=name)
