"""The CUDA backend against the CPU backend (the specification), op by op and on a whole training run.

Every case is a function of the device: it builds its inputs from a fixed seed, runs ops on tensors of that
device and returns NumPy arrays (``.numpy()`` copies from the GPU). ``same_on_both`` runs it on the CPU and
on CUDA and compares the results, the CPU's being the reference. Dropout masks, argmax decisions and dropout
outputs must be equal bit for bit; everything else agrees to float32 rounding (the GPU sums in another order,
and contracts a*b+c into FMAs). The whole module skips itself unless bnlab was built with CUDA and a device
is present.
"""

from __future__ import annotations

import numpy as np
import pytest
from gpu_marks import REQUIRES_CUDA

from bnlab import _core

pytestmark = REQUIRES_CUDA

ops = _core.ops
CPU, CUDA = _core.Device.CPU, _core.Device.CUDA
ACTS = ["Linear", "Relu", "Sigmoid", "Tanh", "Softmax"]
FORMS = ["CategoricalProbs", "CategoricalLogits", "SparseProbs", "SparseLogits"]


def tensor(a, dev, dtype=np.float32) -> _core.Tensor:
    return _core.Tensor.from_numpy(np.ascontiguousarray(a, dtype=dtype), dev)


def same_on_both(case, rtol=1e-5, atol=1e-6, exact=False):
    want, got = case(CPU), case(CUDA)
    assert len(want) == len(got)
    for i, (w, g) in enumerate(zip(want, got, strict=True)):
        assert g.shape == w.shape and g.dtype == w.dtype, f"output {i}"
        if exact:
            np.testing.assert_array_equal(g, w, err_msg=f"output {i}")
        else:
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"output {i}")


# ---- memory ----


def test_tensor_round_trips():
    def case(dev):
        rng = np.random.default_rng(0)
        a = rng.normal(size=(7, 3)).astype(np.float32)
        t = tensor(a, dev)
        labels = tensor(np.arange(5), dev, np.int32)
        f = _core.Tensor([4, 2], dev)
        f.fill(2.5)
        back = t.to(CPU).to(dev).to(dev)  # host -> device -> device copy
        t.copy_from(a[::-1].copy())
        empty = tensor(np.zeros((0, 3)), dev)
        return [back.numpy(), t.numpy(), labels.numpy(), f.numpy(), empty.numpy(), np.array([ops.sum(empty)])]

    same_on_both(case, exact=True)


def test_mixed_devices_are_rejected():
    x, w = tensor(np.ones((2, 3)), CPU), tensor(np.ones((3, 4)), CUDA)
    with pytest.raises(ValueError, match="different devices"):
        ops.dense_forward(_core.Tensor(), x, w, None, False)


@pytest.mark.parametrize("n", [1, 1000, (1 << 22) + 17])
def test_sum(n):
    def case(dev):
        x = np.random.default_rng(n).normal(loc=1.0, size=n).astype(np.float32)
        return [np.array([ops.sum(tensor(x, dev))])]

    same_on_both(case, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("D", [1, 3, 4, 8])  # rows of 4, 12, 16 and 32 bytes: 32-bit and 128-bit words
def test_gather_rows(D):
    def case(dev):
        rng = np.random.default_rng(D)
        src = tensor(rng.normal(size=(50, D)), dev)
        labels = tensor(rng.integers(0, 10, size=50), dev, np.int32)
        idx = rng.integers(0, 50, size=300)
        out, out_labels = _core.Tensor(), _core.Tensor()
        _core.tensor_ops.gather_rows(out, src, idx)
        _core.tensor_ops.gather_rows(out_labels, labels, idx)
        return [out.numpy(), out_labels.numpy()]

    same_on_both(case, exact=True)


# ---- dense ----


@pytest.mark.parametrize("B,IN,OUT", [(1, 1, 1), (7, 13, 5), (64, 300, 129)])
@pytest.mark.parametrize("weight_out_in", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("accumulate", [True, False])
def test_dense(B, IN, OUT, weight_out_in, bias, accumulate):
    def case(dev):
        rng = np.random.default_rng(B * IN + OUT)
        wshape = (OUT, IN) if weight_out_in else (IN, OUT)
        x, w = rng.normal(size=(B, IN)), rng.normal(size=wshape)
        b, dout = rng.normal(size=OUT), rng.normal(size=(B, OUT))
        # Assigned gradients start as NaN: the kernels must not read them.
        start_w = rng.normal(size=wshape) if accumulate else np.full(wshape, np.nan)
        start_b = rng.normal(size=OUT) if accumulate else np.full(OUT, np.nan)
        X, W = tensor(x, dev), tensor(w, dev)
        bias_t = tensor(b, dev) if bias else None
        out, dinp = _core.Tensor(), _core.Tensor()
        dW, db = tensor(start_w, dev), tensor(start_b, dev) if bias else None
        ops.dense_forward(out, X, W, bias_t, weight_out_in)
        ops.dense_backward(dinp, dW, db, tensor(dout, dev), X, W, weight_out_in, accumulate)
        dW2 = tensor(start_w, dev)  # dinp omitted (the first layer of a model)
        ops.dense_backward(None, dW2, None, tensor(dout, dev), X, W, weight_out_in, accumulate)
        return [out.numpy(), dinp.numpy(), dW.numpy(), dW2.numpy()] + ([db.numpy()] if bias else [])

    same_on_both(case, rtol=1e-4, atol=1e-4)


# ---- batch normalisation ----

# The last two have enough rows per column block for column_partials' four-rows-per-iteration loop to run.
BN_SHAPES = [(1, 3, 1), (2, 5, 3), (64, 129, 1), (300, 37, 1), (8, 16, 49), (3, 4, 1000), (65536, 16, 1), (40000, 2, 5)]


def bn_inputs(N, C, L, loc):
    rng = np.random.default_rng(N * 1000 + C * 10 + L)
    x = rng.normal(loc=loc, scale=2.0, size=(N, C, L))
    return rng, x, 1.0 + 0.1 * rng.normal(size=C), 0.1 * rng.normal(size=C)


@pytest.mark.parametrize("N,C,L", BN_SHAPES)
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("loc", [0.0, 1000.0])
def test_batchnorm_train_forward(N, C, L, affine, loc):
    def case(dev):
        _, x, g, b = bn_inputs(N, C, L, loc)
        out, cache = _core.Tensor(), ops.BNCache()
        gamma, beta = (tensor(g, dev), tensor(b, dev)) if affine else (None, None)
        ops.batchnorm_forward_train(out, cache, tensor(x, dev), gamma, beta, N, C, L, 1e-3)
        return [out.numpy(), cache.xhat.numpy(), cache.mean.numpy(), cache.var.numpy(), cache.rstd.numpy()]

    # Far from zero (loc 1000) x - mean loses the digits of a float32 ulp of 1000 (6e-5): atol follows.
    same_on_both(case, rtol=1e-5, atol=1e-5 if loc == 0.0 else 2e-4)


def test_batchnorm_nan_propagates():
    # The CPU clamps a negative variance to 0 but lets NaN through: var and rstd of a feature with a NaN are NaN.
    def case(dev):
        _, x, g, b = bn_inputs(16, 3, 2, 0.0)
        x[5, 1, 1] = np.nan
        out, cache = _core.Tensor(), ops.BNCache()
        ops.batchnorm_forward_train(out, cache, tensor(x, dev), tensor(g, dev), tensor(b, dev), 16, 3, 2, 1e-3)
        return [np.isnan(a) for a in (out.numpy(), cache.mean.numpy(), cache.var.numpy(), cache.rstd.numpy())]

    same_on_both(case, exact=True)


@pytest.mark.parametrize("N,C,L", BN_SHAPES)
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("loc", [0.5, 1000.0])
def test_batchnorm_infer_forward(N, C, L, affine, loc):
    # Far from zero (loc 1000) only (x - mean) * a + beta, the CPU's form, agrees to float rounding: x * a +
    # (beta - mean * a) cancels two terms near 1000 * a and loses the digits below a float32 ulp of them.
    def case(dev):
        rng, x, g, b = bn_inputs(N, C, L, loc)
        mean, var = loc + rng.normal(size=C), rng.uniform(0.1, 3.0, size=C)
        out = _core.Tensor()
        gamma, beta = (tensor(g, dev), tensor(b, dev)) if affine else (None, None)
        ops.batchnorm_forward_infer(
            out, tensor(x, dev), tensor(mean, dev), tensor(var, dev), gamma, beta, N, C, L, 1e-3
        )
        return [out.numpy()]

    same_on_both(case)


@pytest.mark.parametrize("N,C,L", BN_SHAPES)
@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm_backward(N, C, L, affine):
    def case(dev):
        rng, x, g, b = bn_inputs(N, C, L, 0.5)
        dout = rng.normal(size=(N, C, L))
        start_g, start_b = rng.normal(size=C), rng.normal(size=C)  # dgamma and dbeta accumulate
        out, cache, dinp = _core.Tensor(), ops.BNCache(), _core.Tensor()
        gamma = tensor(g, dev) if affine else None
        beta = tensor(b, dev) if affine else None
        ops.batchnorm_forward_train(out, cache, tensor(x, dev), gamma, beta, N, C, L, 1e-3)
        dgamma, dbeta = (tensor(start_g, dev), tensor(start_b, dev)) if affine else (None, None)
        ops.batchnorm_backward(dinp, dgamma, dbeta, tensor(dout, dev), cache, gamma, N, C, L)
        return [dinp.numpy()] + ([dgamma.numpy(), dbeta.numpy()] if affine else [])

    same_on_both(case, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("N,C,L", [(2, 5, 3), (300, 37, 1), (8, 16, 49)])
def test_batchnorm_fused_relu(N, C, L):
    # BatchNormalization + ReLU in one pass: out = max(y, 0); the backward gates dout by [out > 0]. Few values
    # (17,000): a y within a rounding of 0 would open the gate on one device only.
    def case(dev):
        rng, x, g, b = bn_inputs(N, C, L, 0.5)
        dout = rng.normal(size=(N, C, L))
        mean, var = rng.normal(size=C), rng.uniform(0.1, 3.0, size=C)
        gamma, beta = tensor(g, dev), tensor(b, dev)
        out, cache, dinp, infer = _core.Tensor(), ops.BNCache(), _core.Tensor(), _core.Tensor()
        ops.batchnorm_forward_train(out, cache, tensor(x, dev), gamma, beta, N, C, L, 1e-3, fuse_relu=True)
        dgamma, dbeta = tensor(np.zeros(C), dev), tensor(np.zeros(C), dev)
        ops.batchnorm_backward(dinp, dgamma, dbeta, tensor(dout, dev), cache, gamma, N, C, L, relu_out=out)
        ops.batchnorm_forward_infer(
            infer, tensor(x, dev), tensor(mean, dev), tensor(var, dev), gamma, beta, N, C, L, 1e-3, fuse_relu=True
        )
        return [out.numpy(), dinp.numpy(), dgamma.numpy(), dbeta.numpy(), infer.numpy()]

    same_on_both(case, rtol=1e-4, atol=1e-4)


def test_blend():
    def case(dev):
        rng = np.random.default_rng(5)
        moving, batch = tensor(rng.normal(size=37), dev), tensor(rng.normal(size=37), dev)
        ops.blend(moving, batch, 0.99)
        ops.blend(moving, batch, 0.9, 300.0 / 299.0)
        return [moving.numpy()]

    same_on_both(case)


# ---- activations and dropout ----


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("rows,D", [(1, 1), (7, 10), (33, 1000), (5000, 3)])
def test_activation(act, rows, D):
    def case(dev):
        rng = np.random.default_rng(rows + D)
        x, dy = 3.0 * rng.normal(size=(rows, D)), rng.normal(size=(rows, D))
        a = getattr(_core.Act, act)
        out, dinp = _core.Tensor(), _core.Tensor()
        ops.activation_forward(out, tensor(x, dev), a)
        ops.activation_backward(dinp, tensor(dy, dev), out, a)
        inplace = tensor(x, dev)  # out aliasing inp
        ops.activation_forward(inplace, inplace, a)
        return [out.numpy(), dinp.numpy(), inplace.numpy()]

    same_on_both(case, rtol=2e-5, atol=1e-6)


def test_relu_special_values():
    # relu(x) = 0 where x <= 0, else x: NaN stays NaN (as in Keras and PyTorch) and -0 becomes +0.
    def case(dev):
        x = np.array([[np.nan, -0.0, 0.0, -1.0, 2.0, np.inf, -np.inf]])
        out = _core.Tensor()
        ops.activation_forward(out, tensor(x, dev), _core.Act.Relu)
        y = out.numpy()
        return [y, np.signbit(y)]

    same_on_both(case, exact=True)


@pytest.mark.parametrize("rate", [0.0, 0.3, 0.9])
@pytest.mark.parametrize("n", [1, 1001, (1 << 20) + 3])
def test_dropout_masks_equal_bit_for_bit(rate, n):
    def case(dev):
        rng = np.random.default_rng(n)
        x, dy = rng.normal(size=n), rng.normal(size=n)
        out, mask, dinp = _core.Tensor(), _core.Tensor(), _core.Tensor()
        results = []
        for seed, counter in [(7, 0), (7, 1), (2**63 + 5, 2**40)]:
            ops.dropout_forward(out, mask, tensor(x, dev), rate, seed, counter)
            ops.dropout_backward(dinp, tensor(dy, dev), mask)
            results += [out.numpy(), mask.numpy(), dinp.numpy()]
        return results

    same_on_both(case, exact=True)


# ---- losses and metrics ----


def loss_inputs(B, K, form, rng):
    logits = 3.0 * rng.normal(size=(B, K))
    if "Probs" in form:
        pred = np.exp(logits - logits.max(axis=1, keepdims=True))
        pred /= pred.sum(axis=1, keepdims=True)
        if B > 2 and K > 1:  # rows that hit the clip: an exact one-hot, and an unnormalised row
            pred[0] = 0.0
            pred[0, 0] = 1.0
            pred[1] *= 3.0
    else:
        pred = logits
    classes = rng.integers(0, K, size=B)
    if "Sparse" in form:
        return pred, classes.astype(np.int32)
    soft = rng.uniform(size=(B, K))
    target = soft / soft.sum(axis=1, keepdims=True)
    target[::2] = np.eye(K)[classes[::2]]  # one-hot and soft rows
    return pred, target


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("B,K", [(1, 1), (1, 10), (33, 10), (64, 100)])
@pytest.mark.parametrize("grad_wrt_logits", [False, True])
def test_xent(form, B, K, grad_wrt_logits):
    def case(dev):
        pred, target = loss_inputs(B, K, form, np.random.default_rng(B * K))
        dtype = np.int32 if "Sparse" in form else np.float32
        P, Y = tensor(pred, dev), tensor(target, dev, dtype)
        rows, grad, rows_only = _core.Tensor(), _core.Tensor(), _core.Tensor()
        f = getattr(_core.XentForm, form)
        ops.xent(rows, grad, P, Y, f, grad_wrt_logits, 1e-7, 1.0 / B)
        ops.xent(rows_only, None, P, Y, f, grad_wrt_logits, 1e-7, 1.0 / B)
        return [rows.numpy(), grad.numpy(), rows_only.numpy()]

    same_on_both(case, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("form", [f for f in FORMS if "Logits" in f])
def test_xent_with_minus_infinity_logits_of_classes_the_target_does_not_hold(form):
    """A class with y = 0 adds nothing to the loss, even where its logit is -inf (0 * -inf would be NaN):
    the CPU skips such classes, and so must the GPU (bnlab.torch's F.cross_entropy runs this kernel)."""

    def case(dev):
        pred = np.random.default_rng(0).normal(size=(4, 5))
        pred[:, 3] = -np.inf  # never a target below
        target = np.array([0, 1, 2, 4], np.int32) if "Sparse" in form else np.eye(5)[[0, 1, 2, 4]]
        P, Y = tensor(pred, dev), tensor(target, dev, np.int32 if "Sparse" in form else np.float32)
        rows, grad = _core.Tensor(), _core.Tensor()
        ops.xent(rows, grad, P, Y, getattr(_core.XentForm, form), True, 1e-7, 0.25)
        assert np.isfinite(rows.numpy()).all(), dev
        return [rows.numpy(), grad.numpy()]

    same_on_both(case, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("B,K", [(1, 1), (33, 10), (64, 100)])
def test_mse(B, K):
    def case(dev):
        rng = np.random.default_rng(B + K)
        P, Y = tensor(rng.normal(size=(B, K)), dev), tensor(rng.normal(size=(B, K)), dev)
        rows, grad, rows_only = _core.Tensor(), _core.Tensor(), _core.Tensor()
        ops.mse(rows, grad, P, Y, 1.0 / B)
        ops.mse(rows_only, None, P, Y, 1.0 / B)
        return [rows.numpy(), grad.numpy(), rows_only.numpy()]

    same_on_both(case)


def test_accuracy_first_maximum_wins():
    def case(dev):
        rng = np.random.default_rng(3)
        pred = rng.integers(0, 3, size=(200, 40)).astype(np.float32)  # many ties
        pred[0] = 0.0
        pred[1, :3] = [np.nan, 1.0, 2.0]  # a NaN first: max_element answers 0
        pred[2, :3] = [1.0, np.nan, 3.0]  # a later NaN is skipped
        pred[3] = -np.inf
        labels = rng.integers(0, 40, size=200).astype(np.int32)
        labels[:4] = [0, 0, 2, 0]
        target = rng.integers(0, 3, size=(200, 40)).astype(np.float32)
        sparse, dense, single = _core.Tensor(), _core.Tensor(), _core.Tensor()
        ops.accuracy(sparse, tensor(pred, dev), tensor(labels, dev, np.int32))
        ops.accuracy(dense, tensor(pred, dev), tensor(target, dev))
        ops.accuracy(single, tensor(pred[:, :1], dev), tensor(np.zeros(200), dev, np.int32))
        return [sparse.numpy(), dense.numpy(), single.numpy()]

    same_on_both(case, exact=True)


# ---- optimizers ----


@pytest.mark.parametrize(
    "momentum,nesterov,dampening,wd",
    [(0.0, False, 0.0, 0.0), (0.9, False, 0.0, 0.0), (0.9, True, 0.0, 1e-2), (0.8, False, 0.3, 0.0)],
)
def test_sgd(momentum, nesterov, dampening, wd):
    def case(dev):
        rng = np.random.default_rng(11)
        w, buf = tensor(rng.normal(size=1000), dev), tensor(np.zeros(1000), dev)
        for step in range(3):
            g = tensor(rng.normal(size=1000), dev)
            ops.sgd_update(w, buf, g, 0.1, momentum, dampening, wd, nesterov, step == 0)
        return [w.numpy(), buf.numpy()]

    same_on_both(case)


@pytest.mark.parametrize("keras_eps", [True, False])
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("wd", [0.0, 1e-2])
def test_adam(keras_eps, amsgrad, wd):
    def case(dev):
        rng = np.random.default_rng(12)
        n = 100_003
        w, m, v = tensor(rng.normal(size=n), dev), tensor(np.zeros(n), dev), tensor(np.zeros(n), dev)
        vmax = tensor(np.zeros(n), dev) if amsgrad else None
        for step in range(1, 4):
            g = tensor(rng.normal(size=n), dev)
            ops.adam_update(w, m, v, vmax, g, 1e-3, 0.9, 0.999, 1e-7, step, keras_eps, wd)
        return [w.numpy(), m.numpy(), v.numpy()] + ([vmax.numpy()] if amsgrad else [])

    same_on_both(case)


@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_rmsprop(centered, momentum):
    def case(dev):
        rng = np.random.default_rng(13)
        w, v = tensor(rng.normal(size=1000), dev), tensor(np.zeros(1000), dev)
        avg = tensor(np.zeros(1000), dev) if centered else None
        mom = tensor(np.zeros(1000), dev) if momentum else None
        for _ in range(3):
            ops.rmsprop_update(w, v, avg, mom, tensor(rng.normal(size=1000), dev), 1e-3, 0.9, momentum, 1e-7)
        return [w.numpy(), v.numpy()] + ([avg.numpy()] if centered else []) + ([mom.numpy()] if momentum else [])

    same_on_both(case, rtol=1e-5, atol=1e-6)


# ---- a whole model ----


def make_model(dev, init):
    """Flatten -> Dense -> BN -> relu -> Dense -> BN -> relu -> Dense softmax, Adam (Keras epsilon)."""
    seq = _core.Sequential()
    seq.add(_core.Flatten())
    for units in (64, 32):
        seq.add(_core.Dense(units, True, _core.Act.Linear))
        seq.add(_core.BatchNorm(0, 0.99, 1e-3, True, True))
        seq.add(_core.Activation(_core.Act.Relu))
    seq.add(_core.Dense(10, True, _core.Act.Softmax))
    seq.build([6, 5], dev)
    params = [p for layer in seq.layers for p in layer.params()]
    assert len(params) == len(init)
    for (_, value, _), a in zip(params, init, strict=True):
        value.copy_from(a)
    seq.compile(
        _core.Adam(1e-2, 0.9, 0.999, 1e-7, False, True, 0.0),
        _core.LossSpec(_core.LossSpec.Kind.Xent, _core.XentForm.SparseProbs, 1e-7),
    )
    return seq


def initial_weights():
    rng = np.random.default_rng(21)
    init = []
    for fan_in, fan_out, bn in [(30, 64, True), (64, 32, True), (32, 10, False)]:
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        init += [
            rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32),
            np.zeros(fan_out, np.float32),
        ]
        if bn:
            init += [
                (1.0 + 0.1 * rng.normal(size=fan_out)).astype(np.float32),
                (0.1 * rng.normal(size=fan_out)).astype(np.float32),
            ]
    return init


def test_training_matches_the_cpu():
    rng = np.random.default_rng(22)
    x = rng.normal(size=(1000, 6, 5)).astype(np.float32)
    y = np.argmax(x.reshape(1000, -1) @ rng.normal(size=(30, 10)), axis=1).astype(np.int32)
    init = initial_weights()
    results = {}
    for dev in (CPU, CUDA):
        seq = make_model(dev, init)
        X, Y = tensor(x, dev), tensor(y, dev, np.int32)
        epochs = [seq.train_epoch(X, Y, 64, True, 7, e) for e in range(2)]  # last batch partial (1000 = 15*64+40)
        ev = seq.evaluate(X, Y, 128)
        pred = seq.predict(X, 100).numpy()
        moving = [t.numpy() for layer in seq.layers for _, t in layer.buffers()]
        results[dev] = ([(m.loss, m.accuracy) for m in epochs], (ev.loss, ev.accuracy), pred, moving)
    (cpu_epochs, cpu_ev, cpu_pred, cpu_moving), (gpu_epochs, gpu_ev, gpu_pred, gpu_moving) = (
        results[CPU],
        results[CUDA],
    )
    assert cpu_epochs[1][0] < cpu_epochs[0][0]  # it learns
    for (cl, ca), (gl, ga) in zip([*cpu_epochs, cpu_ev], [*gpu_epochs, gpu_ev], strict=True):
        assert gl == pytest.approx(cl, rel=1e-3)
        assert ga == pytest.approx(ca, abs=2e-3)  # at most two samples of 1000 decided differently
    np.testing.assert_allclose(gpu_pred, cpu_pred, atol=2e-3)
    for g, c in zip(gpu_moving, cpu_moving, strict=True):
        np.testing.assert_allclose(g, c, rtol=1e-3, atol=1e-3)
