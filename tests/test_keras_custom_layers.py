"""Keras layers written in Python (bnlab/keras/layers/custom.py, bnlab/tf/_python_layers.py) and the Python fit
loop of models that hold one (bnlab/tf/_keras_fit.py).

References: real Keras 3 on its torch backend for the layer contract (weight order, build's input shape) and
for a whole fit (skipped when keras is not installed, as in test_keras_parity.py); bnlab's own engine fit for
the same model without the Python layer; a hand-written GradientTape loop. Tolerances: one step from equal
weights agrees to float32 rounding of differently ordered sums (~1e-6 relative); a few unshuffled SGD steps
on a small model to 1e-5.
"""

import importlib.util
import os

import numpy as np
import pytest

import bnlab as tf
from bnlab import keras

L = keras.layers


def _affine(lib):
    """A layer written with operators only, so that the same class body runs in Keras 3 and in bnlab."""

    class Affine(lib.layers.Layer):
        def build(self, input_shape):
            self.seen_shape = tuple(input_shape)
            self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="scale")
            self.count = self.add_weight(shape=(), initializer="zeros", trainable=False, name="count")
            self.shift = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="shift")

        def call(self, inputs):
            return inputs * self.scale + self.shift

    return Affine


Affine = _affine(tf.keras)


class Block(tf.keras.layers.Layer):
    """A Python layer holding engine layers; the inner BN gets ``training`` from the outer call."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.dense = L.Dense(units)
        self.bn = L.BatchNormalization(momentum=0.5)

    def call(self, inputs, training=None):
        return tf.nn.relu(self.bn(self.dense(inputs)))


def _data(n=64, d=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)).astype(np.float32), rng.integers(0, classes, n)


def _compile(model, lr=0.1, metrics=("accuracy",)):
    model.compile(
        optimizer=keras.optimizers.SGD(lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=list(metrics),
    )
    return model


# ------------------------------------------------------------------------------------ the layer contract
def test_add_weight_makes_tf_variables_in_keras_order():
    layer = Affine()
    assert not layer.built and layer.weights == []
    out = layer(np.ones((3, 4), np.float32))
    assert layer.built and layer.seen_shape == (3, 4)  # build sees the first input's shape, as in Keras 3
    assert isinstance(out, tf.Tensor) and out.shape == (3, 4)
    assert all(isinstance(v, tf.Variable) for v in layer.weights)
    assert [v.name for v in layer.weights] == ["scale", "shift", "count"]
    assert [v.name for v in layer.trainable_weights] == ["scale", "shift"]
    assert [v.path for v in layer.non_trainable_weights] == [f"{layer.name}/count"]
    assert layer.count_params() == 9 and layer.trainable_variables[0] is layer.scale
    values = [np.full(v.shape, k + 1.0, np.float32) for k, v in enumerate(layer.weights)]
    layer.set_weights(values)
    for got, want in zip(layer.get_weights(), values, strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(layer(np.ones((2, 4), np.float32)).numpy(), np.full((2, 4), 3.0))
    layer.trainable = False
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 3


def test_add_weight_argument_forms():
    class Forms(tf.keras.layers.Layer):
        def build(self, input_shape):
            self.a = self.add_weight("a", (2, 3), "float32", "ones")  # TF 2's positional order
            self.b = self.add_weight((3,), "zeros")  # Keras 3's
            self.c = self.add_weight(shape=(2,), initializer=tf.initializers.ones)  # a class, instantiated
            self.d = self.add_weight(shape=(2,), initializer=lambda shape, dtype=None: np.arange(2.0) + 5)
            self.e = self.add_weight(shape=(4, 5))  # glorot_uniform
            self.f = self.add_weight(shape=(), dtype="int32", trainable=False)

        def call(self, inputs):
            return inputs

    layer = Forms()
    layer.build((None, 1))
    np.testing.assert_array_equal(layer.a.numpy(), np.ones((2, 3)))
    np.testing.assert_array_equal(layer.b.numpy(), np.zeros(3))
    np.testing.assert_array_equal(layer.c.numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(layer.d.numpy(), [5.0, 6.0])
    assert np.abs(layer.e.numpy()).max() <= np.sqrt(6 / 9) and np.abs(layer.e.numpy()).max() > 0
    assert layer.f.dtype == tf.int32 and not layer.f.trainable
    names = [v.name for v in layer.weights]
    assert names[0] == "a" and names[1].startswith("variable") and len(set(names)) == 6
    with pytest.raises(ValueError, match="regularizer"):
        layer.add_weight(shape=(1,), regularizer="l2")
    with pytest.raises(TypeError, match="unexpected keyword"):
        layer.add_weight(shape=(1,), colour="red")
    with pytest.raises(ValueError, match="initializer gave a value of shape"):
        layer.add_weight(shape=(3,), initializer=lambda shape, dtype=None: np.zeros(2))


def test_sublayers_weights_gradients_and_the_training_flag():
    block = Block(4)
    x, _ = _data(16, 5)
    block(x, training=False)  # builds the inner layers
    assert [v.name for v in block.trainable_weights] == ["kernel", "bias", "gamma", "beta"]
    assert [v.name for v in block.weights] == ["kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance"]
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(block(x, training=True) ** 2)
    grads = tape.gradient(loss, block.trainable_weights)
    assert all(g is not None and np.abs(g.numpy()).max() > 0 for g in grads)
    moved = block.bn.moving_mean.numpy().copy()
    assert np.abs(moved).max() > 0  # training=True reached the inner BN through the outer call
    block(x)  # training None outside any call: inference, the moving statistics stay
    np.testing.assert_array_equal(block.bn.moving_mean.numpy(), moved)


def _residual(python, seed=6):
    """inputs -> Dense h -> [Affine] -> Dense u; h + u -> Dense: with the Affine, a functional model of the Python
    loop; without it, one the engine runs as a residual block."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=(6,))
    h = L.Dense(8)(inputs)
    u = L.Dense(8)(Affine()(h) if python else h)
    return keras.Model(inputs, L.Dense(3)(L.Add()([h, u])))


def test_a_functional_model_with_a_python_layer_trains_as_the_engine_runs_it():
    """The graph with an Affine frozen at the identity, run layer by layer in Python, against the same graph
    without it, run by the engine as a residual block: the same numbers up to float32 rounding (1e-5)."""
    x, y = _data(96)
    python, engine = _residual(True), _residual(False)
    assert python._runs_in_python() and not engine._runs_in_python()
    assert [type(la).__name__ for la in python.layers] == ["InputLayer", "Dense", "Affine", "Dense", "Add", "Dense"]
    python.get_layer(index=2).trainable = False
    w = python.get_weights()
    assert [v.name for v in python.weights][2:5] == ["scale", "shift", "count"]
    engine.set_weights(w[:2] + w[5:])
    runs = [_compile(m).fit(x, y, batch_size=32, epochs=3, shuffle=False, verbose=0).history for m in (python, engine)]
    np.testing.assert_allclose(runs[0]["loss"], runs[1]["loss"], rtol=1e-5)
    np.testing.assert_allclose(runs[0]["accuracy"], runs[1]["accuracy"], atol=1e-9)
    w = python.get_weights()
    for got, want in zip(w[:2] + w[5:], engine.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(python.evaluate(x, y, verbose=0), engine.evaluate(x, y, verbose=0), rtol=1e-5)
    np.testing.assert_allclose(python.predict(x, verbose=0), engine.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    lines = []
    python.summary(print_fn=lines.append)
    assert " (Affine)" in lines[0] and "Non-trainable params: 17 " in lines[0]


def test_a_functional_model_with_a_python_layer_takes_graphs_the_engine_refuses():
    """u feeds both a residual block and, after it, another layer: the engine's chain refuses this graph, the
    Python loop evaluates it layer by layer (each Add a sum), as the same sums written in NumPy."""
    inputs = keras.Input(shape=(4,))
    h = L.Dense(4, name="h")(inputs)
    u = L.Dense(4, name="u")(Affine(name="scale_shift")(h))
    a = L.Add(name="a")([h, u])
    out = L.Add(name="b")([a, L.Dense(4, name="w")(u)])
    model = keras.Model(inputs, out)
    x = np.random.default_rng(2).normal(size=(3, 4)).astype(np.float32)

    def dense(name, v):
        kernel, bias = model.get_layer(name).get_weights()
        return v @ kernel + bias

    hv = dense("h", x)
    uv = dense("u", hv)  # the Affine starts as the identity (scale ones, shift zeros)
    np.testing.assert_allclose(model(x).numpy(), hv + uv + dense("w", uv), rtol=1e-5, atol=1e-5)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(x, training=True) ** 2)
    grads = tape.gradient(loss, model.trainable_variables)
    assert len(grads) == 2 + 2 + 2 + 2 and all(g is not None for g in grads)


# ------------------------------------------------------------------------------------ Sequential and fit
def _mixed(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([L.Dense(8, input_shape=(6,)), Affine(), L.BatchNormalization(), L.Dense(3)])


def test_sequential_builds_mixed_layers_and_lists_their_weights():
    model = _mixed()
    assert model.built and model.layers[1].built
    assert [layer.output_shape for layer in model.layers] == [(None, 8), (None, 8), (None, 8), (None, 3)]
    assert len(model.weights) == 2 + 3 + 4 + 2 and len(model.trainable_variables) == 2 + 2 + 2 + 2
    assert model.count_params() == (6 * 8 + 8) + (8 + 1 + 8) + 4 * 8 + (8 * 3 + 3)
    lines = []
    model.summary(print_fn=lines.append)
    assert "(Affine)" in lines[0] and "Total params: 132" in lines[0] and "Non-trainable params: 17" in lines[0]
    out = model(np.ones((2, 6), np.float32))
    assert isinstance(out, tf.Tensor) and out.shape == (2, 3)


def test_fit_is_the_hand_written_tape_loop():
    x, y = _data()
    fitted, looped = _mixed(1), _mixed(1)
    looped.set_weights(fitted.get_weights())
    _compile(fitted).fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    opt = keras.optimizers.SGD(0.1)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    for _ in range(2):
        for start in range(0, len(x), 16):
            with tf.GradientTape() as tape:
                loss = loss_fn(y[start : start + 16], looped(x[start : start + 16], training=True))
            grads = tape.gradient(loss, looped.trainable_variables)
            opt.apply_gradients(zip(grads, looped.trainable_variables, strict=True))
    for got, want in zip(fitted.get_weights(), looped.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_an_identity_python_layer_trains_as_the_engine_fit():
    """Dense, Affine frozen at the identity, BN, Dense through the Python loop against Dense, BN, Dense through the
    engine's C++ epoch: the same numbers up to float32 rounding (a few SGD steps: 1e-5)."""
    x, y = _data(96)
    python = _mixed(2)
    python.layers[1].trainable = False
    keras.utils.set_random_seed(3)
    engine = keras.Sequential([L.Dense(8, input_shape=(6,)), L.BatchNormalization(), L.Dense(3)])
    w = python.get_weights()
    engine.set_weights(w[:2] + w[5:])  # without the Affine's scale, shift and count
    runs = [_compile(m).fit(x, y, batch_size=32, epochs=3, shuffle=False, verbose=0).history for m in (python, engine)]
    np.testing.assert_allclose(runs[0]["loss"], runs[1]["loss"], rtol=1e-5)
    np.testing.assert_allclose(runs[0]["accuracy"], runs[1]["accuracy"], atol=1e-9)
    w = python.get_weights()
    for got, want in zip(w[:2] + w[5:], engine.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(python.evaluate(x, y, verbose=0), engine.evaluate(x, y, verbose=0), rtol=1e-5)
    np.testing.assert_allclose(python.predict(x, verbose=0), engine.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_fit_keeps_the_engine_fits_contract(capsys):
    x, y = _data(80)
    model = _compile(_mixed(4))
    seen = []

    class Stop(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append((batch, sorted(logs)))

        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.model.stop_training = True

    hist = model.fit(x, y, batch_size=16, epochs=5, validation_split=0.2, verbose=2, callbacks=[Stop()])
    assert hist.epoch == [0, 1] and sorted(hist.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert hist.params == {"verbose": 2, "epochs": 5, "steps": 4}
    assert seen[:4] == [(b, ["accuracy", "loss"]) for b in range(4)] and len(seen) == 8
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Epoch 1/5" and out[1].startswith("4/4 - ") and "val_loss: " in out[1]
    loss, acc = model.evaluate(x, y, verbose=0)
    assert model.evaluate(x, y, verbose=0, return_dict=True) == {"accuracy": acc, "loss": loss}
    pred = model.predict(x, batch_size=32, verbose=0)
    assert isinstance(pred, np.ndarray) and pred.shape == (80, 3)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(20).map(lambda a, b: (a, b))
    assert model.fit(ds, epochs=1, verbose=0).params["steps"] == 4
    np.testing.assert_allclose(model.evaluate(ds, verbose=0), model.evaluate(x, y, batch_size=20, verbose=0))


def test_apply_gradients_updates_add_weight_variables():
    layer = Affine()
    layer(np.ones((1, 2), np.float32))
    keras.optimizers.SGD(0.5).apply_gradients([(np.array([1.0, -2.0], np.float32), layer.scale)])
    np.testing.assert_allclose(layer.scale.numpy(), [0.5, 2.0])


# ------------------------------------------------------------------------------------ real Keras 3
def _keras3():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    if importlib.util.find_spec("keras") is None:
        pytest.skip("keras is not installed")
    import keras as k3

    if k3.backend.backend() != "torch":
        pytest.skip("the parity tests run Keras on its torch backend")
    return k3


@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")
def test_a_python_layer_trains_as_in_keras_3():
    k3 = _keras3()
    x, y = _data(48)
    keras.utils.set_random_seed(5)
    ours = keras.Sequential([L.Dense(8, input_shape=(6,)), Affine(), L.Activation("tanh"), L.Dense(3)])
    theirs = k3.Sequential(
        [k3.Input((6,)), k3.layers.Dense(8), _affine(k3)(), k3.layers.Activation("tanh"), k3.layers.Dense(3)]
    )
    assert [v.name for v in ours.weights] == [v.name for v in theirs.weights]
    assert [v.name for v in ours.trainable_weights] == [v.name for v in theirs.trainable_weights]
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    hist = []
    for model, lib in ((ours, keras), (theirs, k3)):
        model.compile(
            optimizer=lib.optimizers.SGD(0.2),
            loss=lib.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        hist.append(model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history)
    np.testing.assert_allclose(hist[0]["loss"], hist[1]["loss"], rtol=1e-5)
    for got, want in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
