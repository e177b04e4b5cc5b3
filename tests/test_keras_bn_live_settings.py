"""BatchNormalization's momentum, epsilon and renorm_momentum are read at every step, as Keras 3 reads them at
every call: set after the model is built, they apply from the next step (they used to be copied into the engine
at build time, and a change silently did nothing)."""

from __future__ import annotations

import numpy as np
import pytest

import bnlab.keras as keras
from bnlab.keras import layers


def model_with_bn_first(**bn):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([layers.Input((4,)), layers.BatchNormalization(**bn), layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def data(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((16, 4)) * 3 + 2).astype(np.float32), rng.standard_normal((16, 2)).astype(np.float32)


@pytest.mark.parametrize("renorm", [False, True])
def test_momentum_zero_set_after_build_makes_the_moving_statistics_the_last_batch(renorm):
    model = model_with_bn_first(renorm=renorm)
    bn = model.layers[0]
    x, y = data()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)  # built, and one step at momentum 0.99
    assert not np.allclose(bn.moving_mean.numpy(), x.mean(axis=0), atol=1e-3)
    bn.momentum = 0.0
    x2, y2 = data(1)
    model.fit(x2, y2, batch_size=16, epochs=1, verbose=0, shuffle=False)
    np.testing.assert_allclose(bn.moving_mean.numpy(), x2.mean(axis=0), rtol=1e-5, atol=1e-5)
    if not renorm:  # Keras blends the BIASED batch variance
        np.testing.assert_allclose(bn.moving_variance.numpy(), x2.var(axis=0), rtol=1e-5, atol=1e-5)


def test_epsilon_set_after_build_changes_the_next_inference():
    model = model_with_bn_first()
    bn = model.layers[0]
    x, y = data()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    bn.epsilon = 4.0
    out = bn(x, training=False)
    out = out.numpy() if hasattr(out, "numpy") else np.asarray(out)
    g, b = bn.gamma.numpy(), bn.beta.numpy()
    mm, mv = bn.moving_mean.numpy(), bn.moving_variance.numpy()
    np.testing.assert_allclose(out, g * (x - mm) / np.sqrt(mv + 4.0) + b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("name", "value"),
    [("momentum", 1.5), ("momentum", -0.1), ("momentum", "0.9"), ("epsilon", 0.0), ("epsilon", float("nan")),
     ("renorm_momentum", 2.0)],
)  # fmt: skip
def test_bad_settings_raise_a_value_error_that_names_them_before_and_after_build(name, value):
    with pytest.raises(ValueError, match=name):
        layers.BatchNormalization(**{name: value})
    bn = model_with_bn_first().layers[0]
    before = getattr(bn, name)
    with pytest.raises(ValueError, match=name):
        setattr(bn, name, value)
    assert getattr(bn, name) == before
