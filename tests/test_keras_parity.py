"""Parity with real Keras 3 (torch backend): the same weights and data give the same numbers.

Skips when keras (or torch, its backend here) is not installed. Tolerances: both compute in float32 but
in different orders (OpenBLAS against PyTorch's kernels), so single steps agree to ~1e-6 and a whole
unshuffled epoch of Adam to ~1e-4 relative.
"""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras3 = pytest.importorskip("keras")
if keras3.backend.backend() != "torch":
    pytest.skip("these parity tests run Keras on its torch backend", allow_module_level=True)

from trained_weights import assert_trained_weights_match  # noqa: E402

import bnlab.keras as bk  # noqa: E402
from bnlab.keras import layers  # noqa: E402

# Keras 3's own Variable.__array__ predates NumPy 2's copy keyword; that warning is Keras's, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")


def _pair(build):
    """The same architecture in both frameworks, with bnlab's initial weights copied into Keras."""
    ours, theirs = build(bk), build(keras3)
    ours.build()
    theirs.build((None, *ours.input_shape[1:]))
    theirs.set_weights(ours.get_weights())
    return ours, theirs


def _seed003(lib):
    L = lib.layers
    return lib.Sequential(
        [
            L.Input(shape=(28, 28)),
            L.Flatten(),
            L.Dense(128),
            L.BatchNormalization(),
            L.Activation("relu"),
            L.Dense(64),
            L.BatchNormalization(),
            L.Activation("relu"),
            L.Dense(10, activation="softmax"),
        ]
    )


def test_batchnorm_layer_forward_and_moving_statistics():
    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 3.0, size=(32, 5)).astype(np.float32)
    ours, theirs = layers.BatchNormalization(momentum=0.9), keras3.layers.BatchNormalization(momentum=0.9)
    ours.build((None, 5))
    theirs.build((None, 5))
    for _ in range(3):
        np.testing.assert_allclose(
            ours(x, training=True),
            keras3.ops.convert_to_numpy(theirs(x, training=True)),
            rtol=1e-5,
            atol=1e-5,
        )
    for mine, ref in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(mine, ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        ours(x, training=False), keras3.ops.convert_to_numpy(theirs(x, training=False)), rtol=1e-5, atol=1e-5
    )


def test_batch_of_one_outputs_beta_in_both():
    x = np.arange(4, dtype=np.float32)[None]
    ours, theirs = layers.BatchNormalization(), keras3.layers.BatchNormalization()
    np.testing.assert_allclose(ours(x, training=True), keras3.ops.convert_to_numpy(theirs(x, training=True)), atol=1e-6)


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "rmsprop"])
def test_seed003_epoch_matches_keras(fashion, optimizer):
    (x, y), (xt, yt) = fashion
    x, y, xt, yt = x[:1024] / 255.0, y[:1024], xt[:512] / 255.0, yt[:512]
    bk.utils.set_random_seed(1)
    ours, theirs = _pair(_seed003)
    for model in (ours, theirs):
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h_ours = ours.fit(x, y, batch_size=64, epochs=2, shuffle=False, verbose=0, validation_data=(xt, yt)).history
    h_theirs = theirs.fit(x, y, batch_size=64, epochs=2, shuffle=False, verbose=0, validation_data=(xt, yt)).history
    for key in ("loss", "val_loss", "accuracy", "val_accuracy"):
        np.testing.assert_allclose(h_ours[key], h_theirs[key], rtol=2e-3, atol=2e-3, err_msg=key)
    assert_trained_weights_match(ours, theirs, optimizer, steps=2 * len(x) // 64)  # tests/trained_weights.py
    np.testing.assert_allclose(ours.predict(xt, verbose=0), theirs.predict(xt, verbose=0), rtol=1e-3, atol=1e-4)


def test_categorical_crossentropy_on_probabilities_matches():
    rng = np.random.default_rng(2)
    p = rng.dirichlet(np.ones(5), size=8).astype(np.float32)
    p[0] = [1.0, 0, 0, 0, 0]  # exercises the clip at 1 - 1e-7 and 1e-7
    y = np.eye(5, dtype=np.float32)[rng.integers(0, 5, 8)]
    ours = bk.losses.CategoricalCrossentropy()(y, p)
    theirs = float(keras3.losses.CategoricalCrossentropy()(y, p))
    assert ours == pytest.approx(theirs, rel=1e-5)
