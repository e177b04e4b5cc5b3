"""Subclassed Keras models (``class MyModel(tf.keras.Model)`` with ``__init__`` and ``call``: bnlab/keras/subclassed.py)
and ``keras.metrics`` (bnlab/keras/metrics.py).

References: real Keras 3 on its torch backend for the tracking order, the weights, ``summary()``'s rows, a forward
from the same weights and the metrics' values (skipped when keras is not installed); a hand-written GradientTape
loop for ``fit``. Tolerances: forwards from equal weights agree to float32 rounding of differently ordered sums
through a few layers (1e-5); a fit against the same steps written by hand runs the same ops in the same order
(1e-6); metrics are exact counts or float32 sums of a few hundred values (1e-6 relative).
"""

import os
import re

import numpy as np
import pytest

import bnlab as tf
from bnlab import keras
from bnlab.keras.functional import Functional

L = keras.layers
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")


@pytest.fixture
def real_keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    k3 = pytest.importorskip("keras")
    if k3.backend.backend() != "torch":
        pytest.skip("the parity tests run Keras on its torch backend")
    return k3


def tutorial_model(lib):
    """The model of TensorFlow's advanced quickstart, smaller, with a BatchNormalization and a list of layers."""

    class MyModel(lib.Model):
        def __init__(self):
            super().__init__()
            self.conv1 = lib.layers.Conv2D(4, 3, activation="relu")
            self.bn = lib.layers.BatchNormalization(momentum=0.5)
            self.flatten = lib.layers.Flatten()
            self.hidden = [lib.layers.Dense(8, activation="relu"), lib.layers.Dense(6)]
            self.d2 = lib.layers.Dense(3)

        def call(self, x, training=None):
            x = self.flatten(self.bn(self.conv1(x), training=training))
            for layer in self.hidden:
                x = layer(x)
            return self.d2(x)

    return MyModel()


def images(n=32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 6, 6, 1)).astype(np.float32), rng.integers(0, 3, n).astype(np.int32)


def _rows(text):
    """(layer, output shape, params) of each row of a summary table (Keras wraps long names onto a second line)."""
    out = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("│").split("│")] if line.startswith("│") else None
        if cells and len(cells) == 3:
            if cells[1] == "" and out:  # the continuation of a wrapped name
                out[-1] = (out[-1][0] + " " + cells[0], *out[-1][1:])
            else:
                out.append(tuple(cells))
    return out


def _summary(model):
    lines = []
    model.summary(print_fn=lambda s, **kw: lines.append(s))
    return "\n".join(lines)


# ------------------------------------------------------------------------------------ structure against Keras 3
def test_layers_weights_and_summary_are_keras_3s(real_keras):
    ours, theirs = tutorial_model(keras), tutorial_model(real_keras)
    assert not ours.built and ours.weights == [] and re.fullmatch(r"my_model(_\d+)?", ours.name)
    assert [type(la).__name__ for la in ours.layers] == [type(la).__name__ for la in theirs.layers]
    assert _rows(_summary(ours)) == [(f"{la.name} ({type(la).__name__})", "?", "0 (unbuilt)") for la in ours.layers]
    x, _ = images(2)
    ours(x)
    theirs(x)
    assert [(v.name, tuple(v.shape)) for v in ours.weights] == [(v.name, tuple(v.shape)) for v in theirs.weights]
    assert [v.name for v in ours.trainable_variables] == [v.name for v in theirs.trainable_variables]
    assert len(ours.non_trainable_variables) == 2 and ours.count_params() == theirs.count_params()
    mine, ref = _summary(ours), _summary(theirs)
    assert [r[1:] for r in _rows(mine)] == [r[1:] for r in _rows(ref)]  # shapes of the first call, batch included
    assert [r[0].split(" ")[1] for r in _rows(mine)] == [r[0].split(" ")[-1] for r in _rows(ref)]
    assert mine.splitlines()[-3:] == ref.splitlines()[-3:]  # Total / Trainable / Non-trainable params
    assert mine.splitlines()[0] == f'Model: "{ours.name}"'


@pytest.mark.parametrize("training", [False, True])
def test_a_forward_from_the_same_weights_is_keras_3s(real_keras, training):
    ours, theirs = tutorial_model(keras), tutorial_model(real_keras)
    x, _ = images(16, 1)
    ours(x)
    theirs(x)
    rng = np.random.default_rng(2)
    weights = [rng.normal(0.5, 0.3, w.shape).astype(np.float32) for w in ours.get_weights()]
    ours.set_weights(weights)
    theirs.set_weights(weights)
    with tf.GradientTape():  # (training=True outside a tape would warn: evaluation in training mode)
        got = ours(x, training=training)
    want = real_keras.ops.convert_to_numpy(theirs(x, training=training))
    assert isinstance(got, tf.Tensor)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):  # the moving statistics too
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------ training
def test_batchnorm_inside_honours_training():
    model = tutorial_model(keras)
    x, _ = images(8)
    model(x)
    start = model.bn.moving_mean.numpy().copy()
    model(x, training=False)
    model(x)  # training=None: inference, as in Keras
    np.testing.assert_array_equal(model.bn.moving_mean.numpy(), start)
    with tf.GradientTape():
        model(x, training=True)
    assert not np.allclose(model.bn.moving_mean.numpy(), start)

    class Inner(keras.Model):  # self.bn(x) without training: the model call's flag reaches it
        def __init__(self):
            super().__init__()
            self.bn = L.BatchNormalization(momentum=0.0)

        def call(self, x):
            return self.bn(x)

    inner = Inner()
    y = np.arange(12, dtype=np.float32).reshape(4, 3)
    with tf.GradientTape():
        inner(y, training=True)
    np.testing.assert_allclose(inner.bn.moving_mean.numpy(), y.mean(axis=0), rtol=1e-6)


def _compiled(model, lr=0.05):
    model.compile(
        optimizer=keras.optimizers.SGD(lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def test_fit_is_the_tutorials_gradient_tape_loop():
    x, y = images(48, 3)
    fitted, looped = tutorial_model(keras), tutorial_model(keras)
    fitted.build((None, 6, 6, 1))
    looped.build((None, 6, 6, 1))
    looped.set_weights(fitted.get_weights())
    _initial = fitted.get_weights()
    history = _compiled(fitted).fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    optimizer = keras.optimizers.SGD(0.05)
    loss_object = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    train_loss = keras.metrics.Mean(name="train_loss")
    train_accuracy = keras.metrics.SparseCategoricalAccuracy(name="train_accuracy")

    @tf.function
    def train_step(images, labels):
        with tf.GradientTape() as tape:
            predictions = looped(images, training=True)
            loss = loss_object(labels, predictions)
        gradients = tape.gradient(loss, looped.trainable_variables)
        optimizer.apply_gradients(zip(gradients, looped.trainable_variables))  # noqa: B905 - the tutorial's code
        train_loss(loss)
        train_accuracy(labels, predictions)

    losses, accuracies = [], []
    for _ in range(2):
        train_loss.reset_state()
        train_accuracy.reset_state()
        for start in range(0, len(x), 16):
            train_step(x[start : start + 16], y[start : start + 16])
        losses.append(float(train_loss.result()))
        accuracies.append(float(train_accuracy.result()))
    np.testing.assert_allclose(history["loss"], losses, rtol=1e-6)
    np.testing.assert_allclose(history["accuracy"], accuracies, atol=1e-7)
    for a, b in zip(fitted.get_weights(), looped.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert not np.allclose(fitted.get_weights()[0], _initial[0])
    loss, accuracy = fitted.evaluate(x, y, verbose=0)
    out = fitted.predict(x, batch_size=10, verbose=0)
    assert isinstance(out, np.ndarray) and out.shape == (48, 3)
    assert accuracy == np.mean(np.argmax(out, axis=1) == y)
    np.testing.assert_allclose(loss, float(loss_object(y, out)), rtol=1e-5)


def test_fit_builds_from_the_data_and_takes_metric_objects(capsys):
    model = tutorial_model(keras)
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
    )
    x, y = images(40, 4)
    hist = model.fit(x, y, batch_size=8, epochs=2, validation_split=0.2, verbose=2)
    assert model.built and model.input_shape == (None, 6, 6, 1) and model.output_shape == (None, 3)
    assert sorted(hist.history) == [
        "loss",
        "sparse_categorical_accuracy",
        "val_loss",
        "val_sparse_categorical_accuracy",
    ]
    assert capsys.readouterr().out.startswith("Epoch 1/2\n4/4 - ")
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(10)
    assert len(model.evaluate(ds, verbose=0)) == 2
    with pytest.raises(ValueError, match="accuracy only"):
        model.compile(optimizer="sgd", loss="mse", metrics=[keras.metrics.Mean()])


# ------------------------------------------------------------------------------------ the contract's corners
def test_tracking_lists_dicts_nested_models_and_add_weight():
    class Net(keras.Model):
        def __init__(self):
            super().__init__(name="net")
            self.head = keras.Sequential([L.Dense(2)])
            self.blocks = {"a": L.Dense(3), "b": L.BatchNormalization()}
            self.scale = None

        def build(self, input_shape):
            self.scale = self.add_weight(shape=(2,), initializer="ones", name="scale")
            self.seen = tuple(input_shape)

        def call(self, x, training=False):
            return self.head(self.blocks["b"](self.blocks["a"](x), training=training)) * self.scale

    net = Net()
    assert net.layers[0] is net.head and net.layers[1:] == [net.blocks["a"], net.blocks["b"]]
    out = net(np.ones((5, 4), np.float32), training=False)
    assert net.seen == (5, 4) and net.built and out.shape == (5, 2)  # the subclass's build ran first
    names = [v.name for v in net.weights]
    assert names == ["scale", "kernel", "bias", "kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance"]
    assert [v.name for v in net.trainable_weights] == ["scale", "kernel", "bias", "kernel", "bias", "gamma", "beta"]
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(net(np.ones((5, 4), np.float32), training=True))
    grads = tape.gradient(loss, net.trainable_variables)
    assert all(g is not None for g in grads)
    net.trainable = False
    assert net.trainable_weights == [] and len(net.non_trainable_weights) == 9
    assert net.get_layer(index=0) is net.head and net.get_layer(net.blocks["a"].name) is net.blocks["a"]


def test_build_summary_and_what_is_refused():
    model = tutorial_model(keras)
    model.build((None, 6, 6, 1))
    rows = _rows(_summary(model))
    assert re.fullmatch(r"conv2d(_\d+)? \(Conv2D\)", rows[0][0]) and rows[0][1:] == ("(None, 4, 4, 4)", "40")
    assert rows[-1][1:] == ("(None, 3)", "21")
    assert "Total params: 651 (2.54 KB)" in _summary(model)
    with pytest.raises(NotImplementedError, match="subclassed model"):
        model.save("model.keras")
    with pytest.raises(NotImplementedError, match=r"keras\.Input"):
        model(keras.Input(shape=(6, 6, 1)))

    class NoCall(keras.Model):
        pass

    with pytest.raises(NotImplementedError, match="call"):
        NoCall()(np.ones((1, 2), np.float32))
    with pytest.raises(TypeError, match="Unrecognized keyword"):
        NoCall(colour="red")


def test_model_still_makes_functional_models_and_sequential_is_a_model():
    inputs = keras.Input(shape=(3,))
    outputs = L.Dense(2)(inputs)
    assert type(keras.Model(inputs, outputs)) is Functional
    assert type(keras.Model(inputs=inputs, outputs=L.Dense(2)(L.Dense(2)(inputs)))) is Functional
    assert isinstance(keras.Sequential([L.Dense(2)]), keras.Model) and keras.models.Model is keras.Model
    assert isinstance(keras.Model(inputs, L.Dense(2)(outputs)), keras.Model)
    assert tf.keras.Model is keras.Model


# ------------------------------------------------------------------------------------ keras.metrics
def test_metrics_are_keras_3s(real_keras):
    rng = np.random.default_rng(7)
    logits = rng.normal(size=(50, 4)).astype(np.float32)
    labels = rng.integers(0, 4, 50)
    onehot = np.eye(4, dtype=np.float32)[labels]
    weight = rng.uniform(0, 2, 50).astype(np.float32)
    values = rng.normal(size=(50, 3)).astype(np.float32)
    cases = [
        ("Mean", (values,)),
        ("Mean", (values[:, 0],)),
        ("SparseCategoricalAccuracy", (labels, logits)),
        ("SparseCategoricalAccuracy", (labels[:, None], logits)),
        ("CategoricalAccuracy", (onehot, logits)),
        ("Accuracy", (labels, np.argmax(logits, axis=1))),
    ]
    for name, args in cases:
        ours, theirs = getattr(keras.metrics, name)(), getattr(real_keras.metrics, name)()
        assert ours.name == theirs.name
        for part in (slice(0, 20), slice(20, 50)):
            got = ours(*[a[part] for a in args])
            want = theirs(*[a[part] for a in args])
            assert isinstance(got, tf.Tensor) and got.dtype == tf.float32
            np.testing.assert_allclose(got.numpy(), real_keras.ops.convert_to_numpy(want), rtol=1e-6, err_msg=name)
        ours.update_state(*args, sample_weight=weight)
        theirs.update_state(*args, sample_weight=weight)
        np.testing.assert_allclose(
            ours.result().numpy(), real_keras.ops.convert_to_numpy(theirs.result()), rtol=1e-6, err_msg=name
        )
        ours.reset_state()
        assert float(ours.result()) == 0.0
    mean = keras.metrics.Mean(name="train_loss")
    mean(tf.constant(2.0))
    mean.reset_states()  # TensorFlow 2's name
    mean.update_state(3.0)
    assert f"{mean.result():0.2f}" == "3.00" and mean.name == "train_loss"
