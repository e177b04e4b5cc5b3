"""tf.GradientTape on bnlab's TF core: gradients of ops and of Keras models, apply_gradients, the training= pitfalls.

The reference for a Keras model's gradients is the engine's own training step (``train_on_batch``): the tape
runs the same engine layers one by one, so after a few SGD steps the weights and BN's moving statistics agree to
float32 rounding of the few differently ordered sums (relative 1e-5 of the largest weight is ~100 ulps).
"""

import numpy as np
import pytest

import bnlab.keras as keras
import bnlab.tf as tf
from bnlab.teaching import BatchNormTrainingFlagWarning


def test_gradient_of_variables_and_watched_constants():
    v = tf.Variable([1.0, 2.0, 3.0])
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(v * v)
    np.testing.assert_allclose(tape.gradient(y, v).numpy(), [2.0, 4.0, 6.0], rtol=1e-6)
    x = tf.constant([3.0, -1.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * x * x
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [27.0, 3.0], rtol=1e-6)


def test_unwatched_and_unconnected_sources_give_none_or_zeros():
    a, b = tf.Variable([1.0]), tf.Variable([2.0])
    c = tf.constant([5.0])
    with tf.GradientTape(persistent=True) as tape:
        y = a * 2.0
    assert tape.gradient(y, [a, b, c])[1:] == [None, None]
    zeros = tape.gradient(y, {"b": b}, unconnected_gradients="zero")
    np.testing.assert_array_equal(zeros["b"].numpy(), [0.0])


def test_a_non_persistent_tape_gives_one_set_of_gradients():
    v = tf.Variable([1.0])
    with tf.GradientTape() as tape:
        y = v * 3.0
    tape.gradient(y, v)
    with pytest.raises(RuntimeError, match="non-persistent GradientTape"):
        tape.gradient(y, v)


def test_ops_outside_a_tape_are_not_recorded():
    v = tf.Variable([1.0, 2.0])
    y = v * 2.0
    with tf.GradientTape() as tape:
        z = y + 1.0
    assert tape.gradient(z, v) is None


def _model(seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [keras.layers.Dense(16, input_shape=(6,)), keras.layers.BatchNormalization(), keras.layers.Dense(4)]
    )


def test_a_tape_loop_matches_the_engines_training_step():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 6)).astype(np.float32)
    y = rng.integers(0, 4, 32)
    loop, ref = _model(1), _model(1)
    ref.set_weights(loop.get_weights())
    ref.compile(optimizer=keras.optimizers.SGD(0.1), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    opt = keras.optimizers.SGD(0.1)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    for _ in range(3):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, loop(x, training=True))
        grads = tape.gradient(loss, loop.trainable_variables)
        opt.apply_gradients(zip(grads, loop.trainable_variables, strict=False))
        hist = ref.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)  # one step: the whole batch
        np.testing.assert_allclose(float(loss), hist.history["loss"][0], rtol=1e-5)
    for got, want in zip(loop.get_weights(), ref.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * max(1.0, float(np.abs(want).max())))


def test_gradients_reach_the_input_of_a_model():
    model = _model(2)
    x = tf.constant(np.random.default_rng(1).standard_normal((8, 6)).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = tf.reduce_sum(model(x, training=False))
    g = tape.gradient(out, x).numpy()
    # inference-mode BN is affine, so d sum(out) / dx is the same row for every sample
    assert g.shape == (8, 6) and np.abs(g).max() > 0
    np.testing.assert_allclose(g, np.broadcast_to(g[0], g.shape), rtol=1e-5, atol=1e-6)


def test_forgetting_training_true_in_the_tape_warns():
    model = _model(3)
    x = np.ones((8, 6), np.float32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(model(x))
    with pytest.warns(BatchNormTrainingFlagWarning, match="WITHOUT training=True"):
        tape.gradient(loss, model.trainable_variables)


def test_evaluating_in_training_mode_warns_in_both_loops():
    model = _model(4)
    x = np.ones((8, 6), np.float32)
    with pytest.warns(BatchNormTrainingFlagWarning, match="outside any recording GradientTape"):
        model(tf.constant(x), training=True)
    with pytest.warns(BatchNormTrainingFlagWarning, match="outside any recording GradientTape"):
        model(x, training=True)  # the NumPy path of a plain Keras script


def test_a_stale_layer_cache_is_refused():
    model = _model(5)
    x = np.ones((8, 6), np.float32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(model(x, training=True))
        model(x + 1.0, training=True)
    with pytest.raises(RuntimeError, match="ran again after this call was recorded"):
        tape.gradient(loss, model.trainable_variables)


def test_apply_gradients_checks_its_pairs():
    model = _model(6)
    opt = keras.optimizers.SGD(0.1)
    var = model.trainable_variables[0]
    with pytest.raises(ValueError, match="the gradient has shape"):
        opt.apply_gradients([(np.zeros((2, 2)), var)])
    with pytest.warns(UserWarning, match="Gradients do not exist"):
        opt.apply_gradients([(None, var)])
