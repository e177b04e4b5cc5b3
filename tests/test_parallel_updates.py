"""The optimizer updates and the batch gather split over the CPU threads (optim_cpu.cpp): Adam and RMSprop on more
values than one part takes, against a float64 NumPy reference of the rule, and the same bits on one and two threads
(each element is written by one thread with the same arithmetic)."""

from __future__ import annotations

import numpy as np
import pytest
from test_ops_gradcheck import tensor

from bnlab import _core

ops = _core.ops
N = 300_007  # several parts of 2^16 values, and a ragged end


def on_threads(n, fn):
    was = _core.get_num_threads()
    _core.set_num_threads(n)
    try:
        return fn()
    finally:
        _core.set_num_threads(was)


def adam_run(amsgrad, keras_eps):
    rng = np.random.default_rng(4)
    w, m, v = tensor(rng.normal(size=N)), tensor(np.zeros(N)), tensor(np.zeros(N))
    vmax = tensor(np.zeros(N)) if amsgrad else None
    grads = [rng.normal(size=N).astype(np.float32) for _ in range(3)]
    for step, g in enumerate(grads, start=1):
        ops.adam_update(w, m, v, vmax, tensor(g), 1e-3, 0.9, 0.999, 1e-7, step, keras_eps, 0.0)
    return [w.numpy(), m.numpy(), v.numpy()] + ([vmax.numpy()] if amsgrad else []), grads


def adam_reference(w0, grads, amsgrad, keras_eps, lr=1e-3, b1=0.9, b2=0.999, eps=1e-7):
    w, m, v, vmax = w0.astype(np.float64), 0.0, 0.0, 0.0
    for step, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = np.maximum(vmax, v) if amsgrad else v
        c1, c2 = 1 - b1**step, 1 - b2**step
        if keras_eps:  # Keras: lr * sqrt(c2) / c1 * m / (sqrt(v) + eps)
            w = w - lr * np.sqrt(c2) / c1 * m / (np.sqrt(vmax) + eps)
        else:  # PyTorch: lr / c1 * m / (sqrt(v) / sqrt(c2) + eps)
            w = w - lr / c1 * m / (np.sqrt(vmax) / np.sqrt(c2) + eps)
    return w


@pytest.mark.parametrize("keras_eps", [True, False], ids=["keras", "torch"])
@pytest.mark.parametrize("amsgrad", [False, True], ids=["adam", "amsgrad"])
def test_adam_is_the_rule_and_the_same_bits_on_one_and_two_threads(amsgrad, keras_eps):
    one, grads = on_threads(1, lambda: adam_run(amsgrad, keras_eps))
    two, _ = on_threads(2, lambda: adam_run(amsgrad, keras_eps))
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a, b)
    w0 = np.random.default_rng(4).normal(size=N).astype(np.float32)
    np.testing.assert_allclose(two[0], adam_reference(w0, grads, amsgrad, keras_eps), rtol=0, atol=1e-6)


def test_rmsprop_gives_the_same_bits_on_one_and_two_threads():
    def run():
        rng = np.random.default_rng(5)
        w, v, avg, mom = (tensor(a) for a in (rng.normal(size=N), np.zeros(N), np.zeros(N), np.zeros(N)))
        for _ in range(3):
            ops.rmsprop_update(w, v, avg, mom, tensor(rng.normal(size=N)), 1e-3, 0.9, 0.9, 1e-7)
        return [t.numpy() for t in (w, v, avg, mom)]

    for a, b in zip(on_threads(1, run), on_threads(2, run), strict=True):
        np.testing.assert_array_equal(a, b)
