"""TensorFlow's tutorials of custom training loops run on bnlab with only the import changed, and the same loop
compared with real TensorFlow; plus the small pieces such loops need (``apply_gradients`` on a plain
``tf.Variable``, ``tf.data.experimental``, ``tf.device``).

* "TensorFlow 2 quickstart for experts" (advanced quickstart): a subclassed ``Model`` (Conv2D 32, Flatten,
  Dense 128, Dense 10), ``tf.function`` train and test steps under a ``GradientTape``, Adam, and the metrics
  ``Mean`` / ``SparseCategoricalAccuracy`` with ``reset_state``; its code is below as the tutorial writes it, on a
  few hundred Fashion-MNIST images for one epoch.
* "Writing a training loop from scratch": a functional MLP, SGD, ``enumerate(train_dataset)``, ``update_state``,
  ``result``, ``reset_state``, eager and with ``@tf.function``.

The comparison with TensorFlow runs the quickstart's loop in two processes (real tf.keras needs
KERAS_BACKEND=tensorflow, while Keras parity tests elsewhere run Keras on torch) from the same initial weights on
the same unshuffled batches. What float32 noise allows: the first loss comes from equal weights, so the two
differ only by rounding of differently ordered sums (the 21,632-term products of Dense 128: ~sqrt(n) * 6e-8,
about 1e-5 relative). Adam then moves every weight by lr times a normalised gradient, so an element whose
gradient is itself at noise level may go its own way by up to the step bound of tests/trained_weights.py, while
the loss, flat along exactly those elements, stays within rounding: rtol 1e-4 on every step's loss and on the
Mean metrics, 10x above that noise; a wrong gradient or update rule errs by 1e-2 or more. Accuracies count
samples: they may differ by a sample whose two largest logits lie within noise, so by at most 1 / n.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from trained_weights import TIGHT, step_bound

FASHION = Path("/usr/share/datasets/fashion-mnist")
needs_fashion = pytest.mark.skipif(not FASHION.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")


# ------------------------------------------------------------------------------------ the advanced quickstart
@needs_fashion
def test_the_advanced_quickstart_runs_with_only_the_import_changed(capsys):
    import bnlab as tf
    from bnlab.keras import Model
    from bnlab.keras.layers import Conv2D, Dense, Flatten

    tf.keras.utils.set_random_seed(0)  # (the test's, so that its thresholds hold whatever ran before)
    mnist = tf.keras.datasets.fashion_mnist  # the tutorial's MNIST, here Fashion-MNIST

    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    x_train, y_train, x_test, y_test = x_train[:384], y_train[:384], x_test[:192], y_test[:192]  # (small data)
    x_train, x_test = x_train / 255.0, x_test / 255.0

    # Add a channels dimension
    x_train = x_train[..., tf.newaxis].astype("float32")
    x_test = x_test[..., tf.newaxis].astype("float32")

    train_ds = tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(10000).batch(32)

    test_ds = tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(32)

    class MyModel(Model):
        def __init__(self):
            super().__init__()
            self.conv1 = Conv2D(32, 3, activation="relu")
            self.flatten = Flatten()
            self.d1 = Dense(128, activation="relu")
            self.d2 = Dense(10)

        def call(self, x):
            x = self.conv1(x)
            x = self.flatten(x)
            x = self.d1(x)
            return self.d2(x)

    # Create an instance of the model
    model = MyModel()

    loss_object = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    optimizer = tf.keras.optimizers.Adam()

    train_loss = tf.keras.metrics.Mean(name="train_loss")
    train_accuracy = tf.keras.metrics.SparseCategoricalAccuracy(name="train_accuracy")

    test_loss = tf.keras.metrics.Mean(name="test_loss")
    test_accuracy = tf.keras.metrics.SparseCategoricalAccuracy(name="test_accuracy")

    @tf.function
    def train_step(images, labels):
        with tf.GradientTape() as tape:
            # training=True is only needed if there are layers with different
            # behavior during training versus inference (e.g. Dropout).
            predictions = model(images, training=True)
            loss = loss_object(labels, predictions)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))  # noqa: B905 - the tutorial's code

        train_loss(loss)
        train_accuracy(labels, predictions)

    @tf.function
    def test_step(images, labels):
        # training=False is only needed if there are layers with different
        # behavior during training versus inference (e.g. Dropout).
        predictions = model(images, training=False)
        t_loss = loss_object(labels, predictions)

        test_loss(t_loss)
        test_accuracy(labels, predictions)

    EPOCHS = 1  # (the tutorial: 5)

    for epoch in range(EPOCHS):
        # Reset the metrics at the start of the next epoch
        train_loss.reset_state()
        train_accuracy.reset_state()
        test_loss.reset_state()
        test_accuracy.reset_state()

        for images, labels in train_ds:
            train_step(images, labels)

        for test_images, test_labels in test_ds:
            test_step(test_images, test_labels)

        print(
            f"Epoch {epoch + 1}, "
            f"Loss: {train_loss.result():0.2f}, "
            f"Accuracy: {train_accuracy.result() * 100:0.2f}, "
            f"Test Loss: {test_loss.result():0.2f}, "
            f"Test Accuracy: {test_accuracy.result() * 100:0.2f}"
        )

    out = capsys.readouterr().out
    assert out.startswith("Epoch 1, Loss: ") and out.count("Test Accuracy: ") == 1
    assert float(test_accuracy.result()) > 0.3 and float(train_accuracy.result()) > 0.25  # chance: 0.1
    assert float(test_loss.result()) < np.log(10)  # below the loss of a uniform guess
    assert train_accuracy.count == 384 and test_accuracy.count == 192
    assert [v.name for v in model.trainable_variables] == ["kernel", "bias"] * 3
    assert model.layers == [model.conv1, model.flatten, model.d1, model.d2]


# ------------------------------------------------------------------------------------ a loop from scratch
@needs_fashion
@pytest.mark.parametrize("compiled", [False, True])
def test_writing_a_training_loop_from_scratch(compiled, capsys):
    import time

    import bnlab as tf
    from bnlab import keras

    keras.utils.set_random_seed(0)  # (the test's: the guide's loop learns slowly, so fix where it starts)
    inputs = keras.Input(shape=(784,), name="digits")
    x1 = keras.layers.Dense(64, activation="relu")(inputs)
    x2 = keras.layers.Dense(64, activation="relu")(x1)
    outputs = keras.layers.Dense(10, name="predictions")(x2)
    model = keras.Model(inputs=inputs, outputs=outputs)

    # Instantiate an optimizer.
    optimizer = keras.optimizers.SGD(learning_rate=1e-3)
    # Instantiate a loss function.
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    # Prepare the training dataset.
    batch_size = 32
    (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    x_train = np.reshape(x_train[:640], (-1, 784)).astype("float32") / 255.0  # (small data)
    x_test = np.reshape(x_test[:160], (-1, 784)).astype("float32") / 255.0
    y_train = y_train[:640].astype("float32")
    y_test = y_test[:160].astype("float32")

    # Reserve 128 samples for validation.
    x_val = x_train[-128:]
    y_val = y_train[-128:]
    x_train = x_train[:-128]
    y_train = y_train[:-128]

    # Prepare the training dataset.
    train_dataset = tf.data.Dataset.from_tensor_slices((x_train, y_train))
    train_dataset = train_dataset.shuffle(buffer_size=1024).batch(batch_size)

    # Prepare the validation dataset.
    val_dataset = tf.data.Dataset.from_tensor_slices((x_val, y_val))
    val_dataset = val_dataset.batch(batch_size)

    # Prepare the metrics.
    train_acc_metric = keras.metrics.SparseCategoricalAccuracy()
    val_acc_metric = keras.metrics.SparseCategoricalAccuracy()

    def train_step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss_value = loss_fn(y, logits)
        grads = tape.gradient(loss_value, model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights))  # noqa: B905 - the tutorial's code
        train_acc_metric.update_state(y, logits)
        return loss_value

    def test_step(x, y):
        val_logits = model(x, training=False)
        val_acc_metric.update_state(y, val_logits)

    if compiled:
        train_step, test_step = tf.function(train_step), tf.function(test_step)

    epochs = 2
    losses = []
    for epoch in range(epochs):
        print(f"\nStart of epoch {epoch}")
        start_time = time.time()

        # Iterate over the batches of the dataset.
        for step, (x_batch_train, y_batch_train) in enumerate(train_dataset):
            loss_value = train_step(x_batch_train, y_batch_train)
            losses.append(float(loss_value))

            # Log every 8 batches.
            if step % 8 == 0:
                print(f"Training loss (for 1 batch) at step {step}: {float(loss_value):.4f}")
                print(f"Seen so far: {(step + 1) * batch_size} samples")

        # Display metrics at the end of each epoch.
        train_acc = train_acc_metric.result()
        print(f"Training acc over epoch: {float(train_acc):.4f}")

        # Reset training metrics at the end of each epoch
        train_acc_metric.reset_state()

        # Run a validation loop at the end of each epoch.
        for x_batch_val, y_batch_val in val_dataset:
            test_step(x_batch_val, y_batch_val)

        val_acc = val_acc_metric.result()
        val_acc_metric.reset_state()
        print(f"Validation acc: {float(val_acc):.4f}")
        print(f"Time taken: {time.time() - start_time:.2f}s")

    out = capsys.readouterr().out
    assert out.count("Validation acc: ") == 2 and "Training loss (for 1 batch) at step 8: " in out
    assert len(losses) == 2 * 16 and all(np.isfinite(losses))
    assert np.mean(losses[-8:]) < np.mean(losses[:8])  # SGD 1e-3 learns slowly, but it learns
    assert 0.0 <= float(val_acc) <= 1.0 and val_acc_metric.count == 0  # reset after the last epoch


# ------------------------------------------------------------------------------------ against real TensorFlow
LOOP = r"""
import os, sys
import numpy as np
os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
if sys.argv[1] == "bnlab":
    import bnlab as tf
else:
    import tensorflow as tf

data = np.load(sys.argv[2])


class MyModel(tf.keras.Model):
    def __init__(self):
        super().__init__()
        self.conv1 = tf.keras.layers.Conv2D(32, 3, activation="relu")
        self.flatten = tf.keras.layers.Flatten()
        self.d1 = tf.keras.layers.Dense(128, activation="relu")
        self.d2 = tf.keras.layers.Dense(10)

    def call(self, x):
        return self.d2(self.d1(self.flatten(self.conv1(x))))


model = MyModel()
model(data["x_test"][:1])
model.set_weights([data[f"w{i}"] for i in range(6)])
loss_object = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
optimizer = tf.keras.optimizers.Adam()
train_loss = tf.keras.metrics.Mean(name="train_loss")
train_accuracy = tf.keras.metrics.SparseCategoricalAccuracy(name="train_accuracy")
test_loss = tf.keras.metrics.Mean(name="test_loss")
test_accuracy = tf.keras.metrics.SparseCategoricalAccuracy(name="test_accuracy")


@tf.function
def train_step(images, labels):
    with tf.GradientTape() as tape:
        predictions = model(images, training=True)
        loss = loss_object(labels, predictions)
    gradients = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(gradients, model.trainable_variables))
    train_loss(loss)
    train_accuracy(labels, predictions)
    return loss


@tf.function
def test_step(images, labels):
    predictions = model(images, training=False)
    test_loss(loss_object(labels, predictions))
    test_accuracy(labels, predictions)


train_ds = tf.data.Dataset.from_tensor_slices((data["x_train"], data["y_train"])).batch(32)
test_ds = tf.data.Dataset.from_tensor_slices((data["x_test"], data["y_test"])).batch(32)
losses = [float(train_step(images, labels)) for images, labels in train_ds]
for images, labels in test_ds:
    test_step(images, labels)
metrics = [float(m.result()) for m in (train_loss, train_accuracy, test_loss, test_accuracy)]
np.savez(sys.argv[3], losses=np.array(losses), metrics=np.array(metrics), *model.get_weights())
"""


def _run(lib, data, out):
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-c", LOOP, lib, data, out], env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{lib} loop failed:\n{done.stderr[-3000:]}"
    result = np.load(out)
    return result["losses"], result["metrics"], [result[f"arr_{i}"] for i in range(6)]


@needs_fashion
@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="TensorFlow is not installed")
def test_the_quickstart_loop_matches_tensorflow(tmp_path):
    import bnlab as tf

    (x_train, y_train), (x_test, y_test) = tf.keras.datasets.fashion_mnist.load_data()
    order = np.random.default_rng(0).permutation(len(x_train))[:256]  # the shuffle, drawn once for both
    x_train, y_train = x_train[order], y_train[order]
    x_train = (x_train / 255.0)[..., None].astype(np.float32)
    x_test = (x_test[:128] / 255.0)[..., None].astype(np.float32)
    tf.keras.utils.set_random_seed(1)
    model = tf.keras.layers.Conv2D(32, 3), tf.keras.layers.Dense(128), tf.keras.layers.Dense(10)
    model[0].build((None, 28, 28, 1))
    model[1].build((None, 26 * 26 * 32))
    model[2].build((None, 128))
    weights = [w for layer in model for w in layer.get_weights()]
    weights = [w if i % 2 == 0 else np.random.default_rng(i).normal(0, 0.05, w.shape) for i, w in enumerate(weights)]
    data = tmp_path / "data.npz"
    np.savez(
        data, x_train=x_train, y_train=y_train.astype(np.int32), x_test=x_test, y_test=y_test[:128].astype(np.int32),
        **{f"w{i}": w.astype(np.float32) for i, w in enumerate(weights)},
    )  # fmt: skip
    ours_losses, ours_metrics, ours = _run("bnlab", str(data), str(tmp_path / "ours.npz"))
    tf_losses, tf_metrics, theirs = _run("tensorflow", str(data), str(tmp_path / "tf.npz"))
    print("losses, bnlab:", ours_losses, "\nlosses, TensorFlow:", tf_losses)
    print("metrics (train loss, train accuracy, test loss, test accuracy):", ours_metrics, tf_metrics)
    np.testing.assert_allclose(ours_losses[0], tf_losses[0], rtol=1e-5)  # equal weights: rounding only
    np.testing.assert_allclose(ours_losses, tf_losses, rtol=1e-4)
    assert ours_losses[-1] < ours_losses[0]
    np.testing.assert_allclose(ours_metrics[[0, 2]], tf_metrics[[0, 2]], rtol=1e-4)  # the Mean metrics
    np.testing.assert_allclose(ours_metrics[1], tf_metrics[1], atol=1 / 256 + 1e-7)  # accuracies: one sample
    np.testing.assert_allclose(ours_metrics[3], tf_metrics[3], atol=1 / 128 + 1e-7)
    bound = step_bound("adam", len(ours_losses))
    for i, (mine, ref, w0) in enumerate(zip(ours, theirs, weights, strict=True)):
        diff = np.abs(mine - ref)
        np.testing.assert_array_less(diff, bound, err_msg=f"weight {i}: beyond Adam's step bound {bound:.3g}")
        within = diff <= TIGHT["atol"] + TIGHT["rtol"] * np.abs(ref)
        assert within.mean() > 0.5, f"weight {i}: only {within.mean():.1%} of the elements agree to 1e-4"
        assert not np.allclose(mine, w0), f"weight {i} did not change"


# ------------------------------------------------------------------------------------ the pieces
def test_apply_gradients_updates_a_plain_tf_variable():
    import bnlab as tf

    w = tf.Variable([1.0, -2.0, 3.0])
    b = tf.Variable(0.5)  # a scalar
    opt = tf.keras.optimizers.SGD(learning_rate=0.1, momentum=0.9)
    velocity = np.zeros(3, np.float32)
    expected = np.array([1.0, -2.0, 3.0], np.float32)
    for _ in range(3):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(w * w) + b * b
        grads = tape.gradient(loss, [w, b])
        g = 2 * expected
        velocity = 0.9 * velocity - 0.1 * g  # Keras's SGD with momentum
        expected = expected + velocity
        opt.apply_gradients(zip(grads, [w, b], strict=True))
    np.testing.assert_allclose(w.numpy(), expected, rtol=1e-6)
    assert abs(float(b.numpy())) < 0.5 and isinstance(w, tf.Variable)
    adam = tf.keras.optimizers.Adam(learning_rate=0.01)
    adam.apply_gradients([(tf.constant([1.0, -1.0, 0.0]), w)])
    np.testing.assert_allclose(w.numpy(), expected - 0.01 * np.array([1, -1, 0]) / (1 + 1e-7), rtol=1e-5, atol=1e-7)
    with pytest.raises(TypeError, match="float32 variable"):
        opt.apply_gradients([(tf.constant(1), tf.Variable(3))])


def test_tf_data_experimental_needs_no_tf_op_first():
    code = (
        "import sys, bnlab as tf\n"
        "ds = tf.data.Dataset.from_tensor_slices(list(range(10))).batch(3)\n"
        "assert 'bnlab.tf' not in sys.modules\n"
        "print(int(tf.data.experimental.cardinality(ds)), tf.data.experimental.AUTOTUNE,"
        " tf.data.experimental.INFINITE_CARDINALITY)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["4", "-1", "-1"]


def test_tf_device_is_one_module():
    import bnlab as tf

    device_module = importlib.import_module("bnlab.tf.device")  # (bnlab.tf.device is also the class)

    assert tf.device is device_module.device
    with tf.device("/GPU:0") as d:
        assert d._device_name == "/GPU:0" and device_module.current_device() == "/device:GPU:0"
        assert repr(d) == "<tf.device '/GPU:0'>"
    assert tf.distribute.OneDeviceStrategy(d._device_name).scope() is not None
    assert importlib.util.find_spec("bnlab.tf.device_context") is None
