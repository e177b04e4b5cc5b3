"""One training step of Dense -> BN -> ReLU -> Dense -> softmax against a NumPy reference written here.

Checks the loss, every gradient, the updated weights and the moving statistics after a single full-batch
step, first with SGD (with momentum), then with Adam (Keras's epsilon placement), in float64 NumPy.
Tolerances: the engine computes in float32, so values agree to ~1e-5 relative; we use rtol=2e-4, atol=1e-6.
"""

import numpy as np
import pytest

import bnlab.keras as keras

RTOL, ATOL = 2e-4, 1e-6


def _model(momentum=0.9):
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.layers.Dense(6, input_shape=(5,)),
            keras.layers.BatchNormalization(momentum=momentum),
            keras.layers.Activation("relu"),
            keras.layers.Dense(4, activation="softmax"),
        ]
    )
    model.build()
    # Non-trivial gamma and beta so that their gradients matter.
    model.layers[1].gamma.assign(np.linspace(0.5, 1.5, 6))
    model.layers[1].beta.assign(np.linspace(-0.2, 0.3, 6))
    return model


def _reference_step(params, x, y, momentum, eps=1e-3):
    """Forward, loss and gradients in float64. Returns (loss, grads, batch_mean, batch_var)."""
    W1, b1, g, be, W2, b2 = (p.astype(np.float64) for p in params)
    n = len(x)
    z = x @ W1 + b1
    mu, var = z.mean(0), z.var(0)
    xhat = (z - mu) / np.sqrt(var + eps)
    h = g * xhat + be
    a = np.maximum(h, 0)
    logits = a @ W2 + b2
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    loss = -np.mean(np.log(np.clip(p[np.arange(n), y], 1e-7, 1 - 1e-7)))
    dlogits = p.copy()
    dlogits[np.arange(n), y] -= 1
    dlogits /= n
    dW2, db2 = a.T @ dlogits, dlogits.sum(0)
    dh = (dlogits @ W2.T) * (h > 0)
    dg, dbe = (dh * xhat).sum(0), dh.sum(0)
    dz = g / np.sqrt(var + eps) / n * (n * dh - dh.sum(0) - xhat * (dh * xhat).sum(0))
    dW1, db1 = x.T @ dz, dz.sum(0)
    return loss, [dW1, db1, dg, dbe, dW2, db2], mu, var


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(16, 5)).astype(np.float32), rng.integers(0, 4, size=16)


def _engine_grads(model):
    d1, bn, d2 = model.layers[0]._engine, model.layers[1], model.layers[3]._engine
    return [d1.dkernel.numpy(), d1.dbias.numpy(), bn.dgamma, bn.dbeta, d2.dkernel.numpy(), d2.dbias.numpy()]


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_one_step_matches_numpy(optimizer):
    momentum = 0.9
    model = _model(momentum)
    x, y = _data()
    before = model.get_weights()  # kernel, bias, gamma, beta, moving_mean, moving_variance, kernel, bias
    params = [before[i] for i in (0, 1, 2, 3, 6, 7)]
    if optimizer == "sgd":
        opt = keras.optimizers.SGD(learning_rate=0.1, momentum=0.5)
    else:
        opt = keras.optimizers.Adam(learning_rate=0.01)
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)

    loss, grads, mu, var = _reference_step(params, x.astype(np.float64), y, momentum)
    np.testing.assert_allclose(hist.history["loss"][0], loss, rtol=RTOL)
    for got, want in zip(_engine_grads(model), grads, strict=True):
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)

    bn = model.layers[1]
    np.testing.assert_allclose(bn.batch_mean, mu, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(bn.batch_variance, var, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(bn.moving_mean.numpy(), momentum * 0 + (1 - momentum) * mu, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(bn.moving_variance.numpy(), momentum * 1 + (1 - momentum) * var, rtol=RTOL, atol=ATOL)

    after = model.get_weights()
    updated = [after[i] for i in (0, 1, 2, 3, 6, 7)]
    # The update rule is checked with the engine's own float32 gradients: the Dense bias before BN has a zero
    # gradient in exact arithmetic (BN subtracts the batch mean), so its float32 gradient is rounding noise of
    # ~1e-6, and Adam, which divides by sqrt(v), turns any nonzero noise into a step of about lr.
    engine_grads = [g.astype(np.float64) for g in _engine_grads(model)]
    for p, g, new in zip(params, engine_grads, updated, strict=True):
        if optimizer == "sgd":
            # Keras SGD, first step: v = -lr g (v starts at 0), w += v.
            want = p - 0.1 * g
        else:
            # Keras Adam, t = 1: m = 0.1 g, v = 0.001 g^2, w -= lr sqrt(1-0.999)/(1-0.9) m / (sqrt(v) + 1e-7).
            m, v = 0.1 * g, 0.001 * g * g
            want = p - 0.01 * np.sqrt(1 - 0.999) / (1 - 0.9) * m / (np.sqrt(v) + 1e-7)
        np.testing.assert_allclose(new, want, rtol=RTOL, atol=2e-6)


def test_second_sgd_step_uses_momentum():
    model = _model()
    x, y = _data()
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.5),
        loss="sparse_categorical_crossentropy",
    )
    model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    w1 = model.get_weights()
    g1 = [g.copy() for g in _engine_grads(model)]
    model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    g2 = _engine_grads(model)
    w2 = model.get_weights()
    for i, k in enumerate((0, 1, 2, 3, 6, 7)):
        v1 = -0.1 * g1[i]
        v2 = 0.5 * v1 - 0.1 * g2[i]
        np.testing.assert_allclose(w2[k], w1[k] + v2, rtol=RTOL, atol=2e-6)
