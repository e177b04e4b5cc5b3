"""The CUDA kernels of the 2-D window ops (conv_cuda.cu, pool_cuda.cu) against the CPU's (the specification):
conv2d forward and backward in both layouts with strides, asymmetric padding and bias; max (with its argmax
cache), average (both divisors) and global average pooling; and a few epochs of the lab's CNN on each device.
Skips itself unless bnlab was built with CUDA and a device is present.
"""

from __future__ import annotations

import numpy as np
import pytest
from gpu_marks import REQUIRES_CUDA

from bnlab import _core

pytestmark = REQUIRES_CUDA

ops = _core.ops
CPU, CUDA = _core.Device.CPU, _core.Device.CUDA
GEOMETRIES = [  # (H, W), kernel, stride, padding (top, bottom, left, right)
    ((9, 8), (3, 3), (1, 1), (1, 1, 1, 1)),
    ((9, 8), (3, 2), (2, 3), (0, 1, 1, 0)),
    ((5, 5), (1, 1), (1, 1), (0, 0, 0, 0)),
]


def tensor(a, dev):
    return _core.Tensor.from_numpy(np.ascontiguousarray(a, dtype=np.float32), dev)


def same_on_both(case, rtol=1e-4, atol=1e-5):
    for w, g in zip(case(CPU), case(CUDA), strict=True):
        assert g.shape == w.shape and g.dtype == w.dtype
        if w.dtype == np.int32:
            np.testing.assert_array_equal(g, w)
        else:
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


@pytest.mark.parametrize("last", [True, False], ids=["nhwc", "nchw"])
@pytest.mark.parametrize("geom", GEOMETRIES)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
def test_conv2d_forward_and_backward_match_the_cpu(geom, last, bias):
    (h, w), (kh, kw), stride, pad = geom

    def case(dev):
        rng = np.random.default_rng(1)
        x = rng.normal(size=(3, h, w, 4) if last else (3, 4, h, w))
        wt = rng.normal(size=(kh, kw, 4, 5) if last else (5, 4, kh, kw)) * 0.3
        b = rng.normal(size=5)
        out, cache = _core.Tensor(), ops.ConvCache()
        ops.conv2d_forward(
            out, cache, tensor(x, dev), tensor(wt, dev), tensor(b, dev) if bias else None, stride, pad, last
        )
        dout = tensor(rng.normal(size=out.shape), dev)
        dx, dw, db = _core.Tensor(), tensor(np.ones(wt.shape), dev), tensor(np.ones(5), dev)
        ops.conv2d_backward(dx, dw, db if bias else None, dout, cache, tensor(wt, dev), True)
        dw_assigned = _core.Tensor(list(wt.shape), dev)
        ops.conv2d_backward(None, dw_assigned, None, dout, cache, tensor(wt, dev), False)
        return [out.numpy(), dx.numpy(), dw.numpy(), db.numpy(), dw_assigned.numpy()]

    same_on_both(case)


@pytest.mark.parametrize("last", [True, False], ids=["nhwc", "nchw"])
@pytest.mark.parametrize("geom", GEOMETRIES[:2])
def test_pooling_matches_the_cpu(geom, last):
    (h, w), kernel, stride, pad = geom

    def case(dev):
        rng = np.random.default_rng(2)
        x = tensor(rng.permutation(3 * 4 * h * w).reshape((3, h, w, 4) if last else (3, 4, h, w)) * 0.1, dev)
        results = []
        out, cache, dx = _core.Tensor(), ops.PoolCache(), _core.Tensor()
        ops.max_pool2d_forward(out, cache, x, kernel, stride, pad, last)
        dout = tensor(rng.normal(size=out.shape), dev)
        ops.max_pool2d_backward(dx, dout, cache)
        results += [out.numpy(), cache.argmax.numpy(), dx.numpy()]
        for inc in (True, False):
            ops.avg_pool2d_forward(out, cache, x, kernel, stride, pad, last, inc)
            ops.avg_pool2d_backward(dx, dout, cache)
            results += [out.numpy(), dx.numpy()]
        ops.global_avg_pool2d_forward(out, cache, x, last)
        ops.global_avg_pool2d_backward(dx, tensor(rng.normal(size=out.shape), dev), cache)
        return [*results, out.numpy(), dx.numpy()]

    same_on_both(case)


def test_the_lab_cnn_trains_the_same_on_both_devices():
    import bnlab.keras as keras
    from bnlab import config
    from bnlab.keras.applications import cnn_model

    rng = np.random.default_rng(3)
    x = rng.random((96, 12, 12, 1), dtype=np.float32)
    y = rng.integers(0, 10, 96).astype(np.int32)
    histories = []
    try:
        for device in ("cpu", "cuda"):
            config.set_device(device)
            keras.utils.set_random_seed(0)
            model = cnn_model((12, 12, 1), 10)
            model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
            histories.append(model.fit(x, y, batch_size=32, epochs=3, shuffle=False, verbose=0).history["loss"])
    finally:
        config.set_device("cpu")
    np.testing.assert_allclose(histories[1], histories[0], rtol=1e-3, atol=1e-4)
