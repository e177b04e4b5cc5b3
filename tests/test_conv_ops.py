"""The 2-D window ops of ``bnlab._core.ops``: forward against the NumPy references of conv_reference.py, backward
against central differences (test_ops_gradcheck.py's Case and checker), and the argument checks.

Both layouts (channels_last: Keras's x (N, H, W, C) and kernel (KH, KW, C, K); channels_first: PyTorch's
x (N, C, H, W) and weight (K, C, KH, KW)), strides, symmetric and asymmetric paddings (Keras 'same' puts the
odd pixel at the bottom/right), bias and no bias, and both divisors of average pooling.
"""

from __future__ import annotations

import conv_reference as ref
import numpy as np
import pytest
from test_ops_gradcheck import Case, check_gradients, tensor

from bnlab import _core

ops = _core.ops

# (input H, W, kernel KH, KW, stride, padding (top, bottom, left, right))
GEOMETRIES = [
    ((5, 6), (3, 3), (1, 1), (0, 0, 0, 0)),  # 'valid'
    ((5, 6), (3, 3), (1, 1), (1, 1, 1, 1)),  # 'same', stride 1
    ((7, 6), (3, 2), (2, 2), (1, 1, 0, 0)),  # strided, a non-square kernel
    ((6, 5), (2, 3), (2, 3), (0, 1, 0, 1)),  # 'same' with the odd pixel at the bottom/right
    ((4, 4), (1, 1), (1, 1), (0, 0, 0, 0)),  # 1x1
    ((3, 3), (3, 3), (1, 1), (2, 2, 2, 2)),  # padding as large as the kernel (PyTorch allows it for conv)
]


def geometry_id(g) -> str:
    (h, w), (kh, kw), (sh, sw), pad = g
    return f"{h}x{w}-k{kh}x{kw}-s{sh}x{sw}-p{''.join(map(str, pad))}"


def layout_id(last: bool) -> str:
    return "nhwc" if last else "nchw"


def conv_inputs(rng, geom, last: bool, N=2, C=3, K=4):
    (h, w), (kh, kw), _, _ = geom
    x = rng.standard_normal((N, h, w, C) if last else (N, C, h, w))
    wt = rng.standard_normal((kh, kw, C, K) if last else (K, C, kh, kw)) / np.sqrt(C * kh * kw)
    return {"x": x.astype(np.float32), "w": wt.astype(np.float32), "b": rng.standard_normal(K).astype(np.float32)}


def conv_forward(a, geom, last, bias=True):
    out, cache = _core.Tensor(), ops.ConvCache()
    b = tensor(a["b"]) if bias else None
    ops.conv2d_forward(out, cache, tensor(a["x"]), tensor(a["w"]), b, geom[2], geom[3], last)
    return out, cache


@pytest.mark.parametrize("last", [True, False], ids=layout_id)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("geom", GEOMETRIES, ids=geometry_id)
def test_conv2d_forward_matches_numpy(geom, bias, last):
    a = conv_inputs(np.random.default_rng(1), geom, last)
    out, cache = conv_forward(a, geom, last, bias)
    want = ref.conv2d(a["x"], a["w"], a["b"] if bias else None, geom[2], geom[3], last)
    assert out.shape == want.shape
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-5, atol=1e-5)
    assert cache.output_hw == (want.shape[1:3] if last else want.shape[2:4])


def conv_case(geom, last: bool, bias: bool) -> Case:
    def make(rng):
        return conv_inputs(rng, geom, last, N=2, C=2, K=3)

    def forward(a):
        return conv_forward(a, geom, last, bias)[0].numpy()

    def backward(a, dout):
        _, cache = conv_forward(a, geom, last, bias)
        dx, dw, db = _core.Tensor(), _core.Tensor(list(a["w"].shape)), _core.Tensor([a["b"].size])
        ops.conv2d_backward(dx, dw, db if bias else None, tensor(dout), cache, tensor(a["w"]), False)
        return {"x": dx.numpy(), "w": dw.numpy(), "b": db.numpy()}

    name = f"conv2d-{layout_id(last)}-{geometry_id(geom)}-{'bias' if bias else 'nobias'}"
    return Case(name, make, forward, backward, ("x", "w", "b") if bias else ("x", "w"))


def distinct_values(rng, shape) -> np.ndarray:
    """Values 0.1 apart in random order: no window has a tie that a step of 1e-2 could flip."""
    n = int(np.prod(shape))
    return (rng.permutation(n).reshape(shape) * 0.1 - 0.05 * n).astype(np.float32)


def pool_case(kind: str, geom, last: bool, count_include_pad: bool = True) -> Case:
    (h, w), kernel, stride, pad = geom
    shape = (2, h, w, 3) if last else (2, 3, h, w)

    def make(rng):
        return {"x": distinct_values(rng, shape) if kind == "max" else rng.standard_normal(shape).astype(np.float32)}

    def run(a):
        out, cache = _core.Tensor(), ops.PoolCache()
        if kind == "max":
            ops.max_pool2d_forward(out, cache, tensor(a["x"]), kernel, stride, pad, last)
        elif kind == "avg":
            ops.avg_pool2d_forward(out, cache, tensor(a["x"]), kernel, stride, pad, last, count_include_pad)
        else:
            ops.global_avg_pool2d_forward(out, cache, tensor(a["x"]), last)
        return out, cache

    def backward(a, dout):
        _, cache = run(a)
        dx = _core.Tensor()
        getattr(ops, {"max": "max_pool2d", "avg": "avg_pool2d", "global": "global_avg_pool2d"}[kind] + "_backward")(
            dx, tensor(dout), cache
        )
        return {"x": dx.numpy()}

    name = f"{kind}_pool-{layout_id(last)}-{geometry_id(geom)}" + ("" if count_include_pad else "-exclude_pad")
    return Case(name, make, lambda a: run(a)[0].numpy(), backward, ("x",))


POOL_GEOMETRIES = [
    ((4, 6), (2, 2), (2, 2), (0, 0, 0, 0)),  # Keras's default MaxPooling2D()
    ((5, 5), (3, 3), (2, 2), (1, 1, 1, 1)),  # overlapping windows with padding (PyTorch padding=1)
    ((5, 7), (2, 3), (2, 1), (0, 1, 1, 1)),  # 'same', asymmetric
]

GRAD_CASES = [
    *(conv_case(g, last, True) for g in GEOMETRIES[1:4] for last in (True, False)),
    conv_case(GEOMETRIES[0], True, False),
    conv_case(GEOMETRIES[5], False, False),
    *(pool_case("max", g, last) for g in POOL_GEOMETRIES for last in (True, False)),
    *(pool_case("avg", g, last, inc) for g in POOL_GEOMETRIES[1:] for last in (True, False) for inc in (True, False)),
    *(pool_case("global", POOL_GEOMETRIES[0], last) for last in (True, False)),
]


@pytest.mark.parametrize("case", GRAD_CASES, ids=lambda c: c.id)
def test_backward_matches_central_differences(case: Case):
    check_gradients(case)


@pytest.mark.parametrize("last", [True, False], ids=layout_id)
@pytest.mark.parametrize("geom", POOL_GEOMETRIES, ids=geometry_id)
def test_pool_forward_matches_numpy(geom, last):
    (h, w), kernel, stride, pad = geom
    x = np.random.default_rng(2).standard_normal((2, h, w, 3) if last else (2, 3, h, w)).astype(np.float32)
    out, cache = _core.Tensor(), ops.PoolCache()
    ops.max_pool2d_forward(out, cache, tensor(x), kernel, stride, pad, last)
    np.testing.assert_array_equal(out.numpy(), ref.max_pool2d(x, kernel, stride, pad, last).astype(np.float32))
    # argmax: the winner's index ih*W + iw in its plane (PyTorch's return_indices)
    planes = ref.to_nchw(x, last).reshape(2, 3, h * w)
    idx = ref.to_nchw(cache.argmax.numpy(), last).astype(np.int64).reshape(2, 3, -1)
    winners = ref.to_nchw(out.numpy(), last).reshape(2, 3, -1)
    np.testing.assert_array_equal(np.take_along_axis(planes, idx, axis=2), winners)
    for inc in (True, False):
        ops.avg_pool2d_forward(out, cache, tensor(x), kernel, stride, pad, last, inc)
        np.testing.assert_allclose(out.numpy(), ref.avg_pool2d(x, kernel, stride, pad, last, inc), rtol=1e-6, atol=1e-6)
    ops.global_avg_pool2d_forward(out, cache, tensor(x), last)
    np.testing.assert_allclose(out.numpy(), ref.global_avg_pool2d(x, last), rtol=1e-6, atol=1e-6)


WIDE_POOL_GEOMETRIES = [
    ((32, 32), (2, 2), (2, 2), (0, 0, 0, 0)),  # the VGG network's pooling: every window inside
    ((17, 33), (3, 3), (2, 2), (1, 1, 1, 1)),  # overlapping, padded on every side, odd sizes
    ((9, 40), (2, 3), (1, 3), (0, 1, 2, 0)),  # stride above the kernel width, asymmetric padding
    ((6, 3), (2, 4), (2, 1), (0, 0, 1, 0)),  # a kernel wider than the input: no output row is inside
]


@pytest.mark.parametrize("geom", WIDE_POOL_GEOMETRIES, ids=geometry_id)
def test_max_pool_rows_agree_with_the_window_loop_in_both_layouts(geom):
    """channels_first computes the inside of each output row tap by tap across the row; its max, argmax, ties and
    NaNs must be the channels_last one-window-at-a-time kernel's, and the NumPy reference's."""
    (h, w), kernel, stride, pad = geom
    rng = np.random.default_rng(5)
    x = rng.integers(-3, 4, (2, 3, h, w)).astype(np.float32)  # small integers: many ties
    x[rng.random(x.shape) < 0.02] = np.nan
    outs = {}
    for last in (False, True):
        out, cache = _core.Tensor(), ops.PoolCache()
        xl = np.ascontiguousarray(x.transpose(0, 2, 3, 1)) if last else x
        ops.max_pool2d_forward(out, cache, tensor(xl), kernel, stride, pad, last)
        outs[last] = (ref.to_nchw(out.numpy(), last), ref.to_nchw(cache.argmax.numpy(), last))
    np.testing.assert_array_equal(outs[False][0], outs[True][0])  # NaN compares equal here
    np.testing.assert_array_equal(outs[False][1], outs[True][1])
    clean = np.nan_to_num(x, nan=-np.inf)
    expect = ref.max_pool2d(clean, kernel, stride, pad, False)
    has_nan = ref.max_pool2d(np.isnan(x).astype(np.float32), kernel, stride, pad, False) > 0
    np.testing.assert_array_equal(np.isnan(outs[False][0]), has_nan)
    np.testing.assert_array_equal(outs[False][0][~has_nan], expect[~has_nan])


def test_max_pool_nan_wins_and_ties_go_to_the_first():
    x = np.array([[[[1.0, 1.0], [0.0, 1.0]], [[np.nan, 2.0], [3.0, 1.0]]]], dtype=np.float32)  # (1, 2, 2, 2) NCHW
    out, cache = _core.Tensor(), ops.PoolCache()
    ops.max_pool2d_forward(out, cache, tensor(x), (2, 2), (2, 2), (0, 0, 0, 0), False)
    assert out.numpy()[0, 0, 0, 0] == 1.0 and cache.argmax.numpy()[0, 0, 0, 0] == 0
    assert np.isnan(out.numpy()[0, 1, 0, 0])


def test_parameter_gradients_accumulate_and_the_first_layer_skips_dinp():
    geom = GEOMETRIES[1]
    for last in (True, False):
        a = conv_inputs(np.random.default_rng(3), geom, last)
        _, cache = conv_forward(a, geom, last)
        dout = np.random.default_rng(4).standard_normal(ref.conv2d(a["x"], a["w"], a["b"], *geom[2:], last).shape)
        dw0, db0 = _core.Tensor(list(a["w"].shape)), _core.Tensor([4])
        ops.conv2d_backward(None, dw0, db0, tensor(dout), cache, tensor(a["w"]), False)
        dw, db = tensor(np.full(a["w"].shape, 0.5)), tensor(np.full(4, 0.5))
        ops.conv2d_backward(None, dw, db, tensor(dout), cache, tensor(a["w"]))
        np.testing.assert_allclose(dw.numpy(), dw0.numpy() + 0.5, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(db.numpy(), db0.numpy() + 0.5, rtol=1e-5, atol=1e-5)
        axes = (0, 1, 2) if last else (0, 2, 3)
        np.testing.assert_allclose(db0.numpy(), dout.sum(axis=axes), rtol=1e-5, atol=1e-5)


def test_an_empty_batch_gives_an_empty_output_and_zero_assigned_gradients():
    x = np.zeros((0, 5, 5, 2), dtype=np.float32)
    w = np.ones((3, 3, 2, 4), dtype=np.float32)
    out, cache = _core.Tensor(), ops.ConvCache()
    ops.conv2d_forward(out, cache, tensor(x), tensor(w), None, (1, 1), (0, 0, 0, 0), True)
    assert out.shape == (0, 3, 3, 4)
    dw = tensor(np.ones_like(w))
    ops.conv2d_backward(_core.Tensor(), dw, None, out, cache, tensor(w), False)
    assert not dw.numpy().any()


def conv_call(x_shape, w_shape, stride=(1, 1), padding=(0, 0, 0, 0), last=True, bias=None):
    out, cache = _core.Tensor(), ops.ConvCache()
    x, w = np.zeros(x_shape, np.float32), np.zeros(w_shape, np.float32)
    b = None if bias is None else tensor(np.zeros(bias, np.float32))
    ops.conv2d_forward(out, cache, tensor(x), tensor(w), b, stride, padding, last)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(x_shape=(2, 5, 5), w_shape=(3, 3, 5, 4)), r"conv2d input must be 4-D \(batch, height, width, channels\)"),
        (dict(x_shape=(2, 5, 5, 3), w_shape=(3, 3, 3)), r"conv2d weight must be 4-D"),
        (dict(x_shape=(2, 5, 5, 3), w_shape=(3, 3, 2, 4)), r"conv2d input has 3 channels but the weight expects 2"),
        (dict(x_shape=(2, 3, 5, 5), w_shape=(4, 2, 3, 3), last=False), r"input has 3 channels but the weight expects"),
        (dict(x_shape=(2, 5, 5, 3), w_shape=(3, 3, 3, 4), stride=(0, 1)), r"conv2d stride must be >= 1, got \(0, 1\)"),
        (dict(x_shape=(2, 5, 5, 3), w_shape=(3, 3, 3, 4), padding=(0, -1, 0, 0)), r"conv2d padding must be >= 0"),
        (dict(x_shape=(2, 2, 2, 3), w_shape=(3, 3, 3, 4)), r"kernel \(3, 3\) is larger than the padded input \(2, 2\)"),
        (dict(x_shape=(2, 2, 2, 3), w_shape=(3, 3, 3, 4)), r"the output would have size 0"),
        (dict(x_shape=(2, 5, 5, 3), w_shape=(3, 3, 3, 0)), r"number of output channels must be >= 1"),
        (dict(x_shape=(2, 5, 5, 3), w_shape=(3, 3, 3, 4), bias=3), r"conv2d bias must have 4 elements"),
        (dict(x_shape=(2, 0, 5, 3), w_shape=(1, 1, 3, 4)), r"empty channel or spatial dimension"),
    ],
)
def test_conv2d_bad_arguments_raise_value_errors_that_name_them(kwargs, message):
    with pytest.raises(ValueError, match=message):
        conv_call(**kwargs)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (((2, 5, 5), (2, 2), (2, 2), (0, 0, 0, 0)), r"max_pool2d input must be 4-D"),
        (((2, 5, 5, 3), (2, 2), (0, 2), (0, 0, 0, 0)), r"max_pool2d stride must be >= 1, got \(0, 2\)"),
        (((2, 5, 5, 3), (2, 2), (2, 2), (-1, 0, 0, 0)), r"max_pool2d padding must be >= 0"),
        (((2, 1, 1, 3), (2, 2), (2, 2), (0, 0, 0, 0)), r"kernel \(2, 2\) is larger than the padded input \(1, 1\)"),
        (((2, 5, 5, 3), (2, 2), (1, 1), (2, 0, 0, 0)), r"lies entirely in the padding"),
        (((2, 5, 5, 3), (0, 2), (1, 1), (0, 0, 0, 0)), r"max_pool2d kernel size must be >= 1"),
    ],
)
def test_pool_bad_arguments_raise_value_errors_that_name_them(args, message):
    shape, kernel, stride, pad = args
    with pytest.raises(ValueError, match=message):
        ops.max_pool2d_forward(_core.Tensor(), ops.PoolCache(), tensor(np.zeros(shape)), kernel, stride, pad, True)


def test_backward_rejects_a_dout_of_the_wrong_shape_and_an_empty_cache():
    a = conv_inputs(np.random.default_rng(5), GEOMETRIES[0], True)
    out, cache = conv_forward(a, GEOMETRIES[0], True)
    dw = _core.Tensor(list(a["w"].shape))
    with pytest.raises(ValueError, match="dout has shape"):
        ops.conv2d_backward(None, dw, None, tensor(np.zeros((2, 2, 2, 4))), cache, tensor(a["w"]))
    with pytest.raises(ValueError, match="run conv2d_forward first"):
        ops.conv2d_backward(None, dw, None, out, ops.ConvCache(), tensor(a["w"]))
    with pytest.raises(ValueError, match="the cache holds no forward"):
        ops.max_pool2d_backward(_core.Tensor(), out, ops.PoolCache())


def test_same_padding_matches_keras_rule():
    assert ref.same_padding(28, 3, 1) == (1, 1)
    assert ref.same_padding(5, 2, 2) == (0, 1)
    assert ref.same_padding(6, 3, 2) == (0, 1)
    assert ref.same_padding(7, 1, 3) == (0, 0)


@pytest.mark.parametrize("fuse_relu", [False, True], ids=["bn", "bn_relu"])
def test_spatial_batchnorm_is_the_same_in_both_views(fuse_relu):
    """Statistics per channel over N*H*W: channels_last is the (N*H*W, C, 1) view, channels_first (N, C, H*W)."""
    rng = np.random.default_rng(6)
    N, H, W, C = 3, 4, 5, 6
    x = (rng.standard_normal((N, H, W, C)) * 2 + 1).astype(np.float32)
    gamma, beta = rng.uniform(0.5, 1.5, C).astype(np.float32), rng.standard_normal(C).astype(np.float32)
    dout = rng.standard_normal((N, H, W, C)).astype(np.float32)
    results = []
    for last in (True, False):
        xs = x if last else x.transpose(0, 3, 1, 2).copy()
        n, inner = (N * H * W, 1) if last else (N, H * W)
        out, cache = _core.Tensor(), ops.BNCache()
        ops.batchnorm_forward_train(out, cache, tensor(xs), tensor(gamma), tensor(beta), n, C, inner, 1e-3, fuse_relu)
        dx, dg, db = _core.Tensor(), _core.Tensor([C]), _core.Tensor([C])
        d = dout if last else dout.transpose(0, 3, 1, 2).copy()
        ops.batchnorm_backward(dx, dg, db, tensor(d), cache, tensor(gamma), n, C, inner, out if fuse_relu else None)
        back = (lambda a: a) if last else (lambda a: a.transpose(0, 2, 3, 1))
        results.append((back(out.numpy()), back(dx.numpy()), dg.numpy(), db.numpy(), cache.mean.numpy()))
    mean = x.astype(np.float64).mean(axis=(0, 1, 2))
    np.testing.assert_allclose(results[0][4], mean, rtol=1e-5, atol=1e-6)
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
