"""fit / evaluate / predict semantics: end to end on real Fashion-MNIST, determinism, validation_split,
the last partial batch, History, callbacks, and training vs inference mode of BN inside a model."""

import numpy as np
import pytest

import bnlab.keras as keras
from bnlab.keras import layers
from bnlab.teaching import BatchNormTrainingFlagWarning


def _seed003(bn=True):
    body = []
    for units in (128, 64):
        body += [layers.Dense(units)] + ([layers.BatchNormalization()] if bn else []) + [layers.Activation("relu")]
    return keras.Sequential([layers.Flatten(input_shape=(28, 28)), *body, layers.Dense(10, activation="softmax")])


def test_seed003_network_learns_fashion_mnist(fashion):
    (x, y), (xt, yt) = fashion
    keras.utils.set_random_seed(0)
    model = _seed003()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(
        x[:6000] / 255.0,
        y[:6000],
        epochs=2,
        batch_size=64,
        verbose=0,
        validation_data=(xt[:2000] / 255.0, yt[:2000]),
    )
    assert list(hist.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert hist.history["val_accuracy"][-1] > 0.75  # chance is 0.10
    assert hist.history["loss"][1] < hist.history["loss"][0]
    loss, acc = model.evaluate(xt[:2000] / 255.0, yt[:2000], verbose=0)
    assert loss == pytest.approx(hist.history["val_loss"][-1], rel=1e-6)
    assert acc == pytest.approx(hist.history["val_accuracy"][-1], rel=1e-6)
    probs = model.predict(xt[:100] / 255.0, verbose=0)
    assert probs.shape == (100, 10)
    np.testing.assert_allclose(probs.sum(1), 1, rtol=1e-5)


def _train_once(seed, x, y):
    keras.utils.set_random_seed(seed)
    model = _seed003()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model.fit(x, y, epochs=2, batch_size=32, validation_split=0.25, verbose=0).history, model.get_weights()


def test_same_seed_gives_bit_identical_history_and_weights(fashion):
    (x, y), _ = fashion
    h1, w1 = _train_once(7, x[:2000] / 255.0, y[:2000])
    h2, w2 = _train_once(7, x[:2000] / 255.0, y[:2000])
    assert h1 == h2
    for a, b in zip(w1, w2, strict=True):
        np.testing.assert_array_equal(a, b)
    h3, _ = _train_once(8, x[:2000] / 255.0, y[:2000])
    assert h3 != h1


def test_validation_split_takes_the_last_fraction_before_shuffling():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 4)).astype(np.float32)
    y = np.zeros(100, dtype=np.int64)
    y[80:] = 1  # only the last 20% has class 1
    model = keras.Sequential([layers.Dense(2, activation="softmax", input_shape=(4,))])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    captured = {}

    class Capture(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            captured.update(logs)

    model.fit(x, y, validation_split=0.2, epochs=1, verbose=0, callbacks=[Capture()])
    # Training saw only class 0; validation is exactly the class-1 tail, so its loss is that of class 1.
    val_loss = model.evaluate(x[80:], y[80:], verbose=0)[0]
    assert captured["val_loss"] == pytest.approx(val_loss, rel=1e-6)


def test_last_partial_batch_is_kept_and_steps_counted():
    x = np.random.default_rng(1).normal(size=(70, 3)).astype(np.float32)
    y = np.random.default_rng(2).integers(0, 2, 70)
    model = keras.Sequential([layers.Dense(2, activation="softmax", input_shape=(3,))])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    batches = []
    cb = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: batches.append(b))
    hist = model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[cb])
    assert batches == [0, 1, 2]  # 32 + 32 + 6
    assert hist.params["steps"] == 3
    assert model.optimizer.iterations == 3


def test_bn_inside_a_model_uses_moving_statistics_in_inference():
    rng = np.random.default_rng(3)
    x = rng.normal(5.0, 3.0, size=(64, 4)).astype(np.float32)
    model = keras.Sequential([layers.BatchNormalization(momentum=0.0, input_shape=(4,))])
    with pytest.warns(BatchNormTrainingFlagWarning, match="outside any recording GradientTape"):
        train_out = model(x, training=True)  # momentum 0: the moving statistics become this batch's
    infer_out = model(x, training=False)
    np.testing.assert_allclose(infer_out, train_out, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(train_out.mean(0), 0, atol=1e-5)


def test_early_stopping_stops_and_history_is_shorter():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = rng.integers(0, 2, 64)
    model = keras.Sequential([layers.Dense(2, activation="softmax", input_shape=(3,))])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e-9), loss="sparse_categorical_crossentropy")
    stop = keras.callbacks.EarlyStopping(monitor="loss", patience=1, min_delta=1.0)
    hist = model.fit(x, y, epochs=10, verbose=0, callbacks=[stop])
    assert len(hist.history["loss"]) == 2


def test_categorical_targets_and_to_categorical():
    y = np.array([[0], [2], [1]])
    onehot = keras.utils.to_categorical(y)
    assert onehot.shape == (3, 3) and onehot.dtype == np.float32
    np.testing.assert_array_equal(onehot.argmax(1), [0, 2, 1])
    model = keras.Sequential([layers.Dense(3, activation="softmax", input_shape=(2,))])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(np.ones((3, 2)), onehot, epochs=1, verbose=0)
    assert set(hist.history) == {"accuracy", "loss"}


def test_verbose_progress_lines(capsys):
    x = np.zeros((10, 2), np.float32)
    y = np.zeros(10, np.int64)
    model = keras.Sequential([layers.Dense(2, activation="softmax", input_shape=(2,))])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=4, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out
    assert "3/3" in out and "accuracy:" in out and "loss:" in out
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert capsys.readouterr().out == ""


def test_fit_accepts_tf_data_datasets(fashion):
    import bnlab as tf

    (x, y), (xt, yt) = fashion
    x = x[:3000].reshape(-1, 28, 28, 1).astype("float32") / 255
    xt = xt[:1000].reshape(-1, 28, 28, 1).astype("float32") / 255
    train = tf.data.Dataset.from_tensor_slices((x, tf.keras.utils.to_categorical(y[:3000]))).shuffle(3000).batch(64)
    test = tf.data.Dataset.from_tensor_slices((xt, tf.keras.utils.to_categorical(yt[:1000]))).batch(64)
    model = tf.keras.Sequential(
        [
            layers.Flatten(input_shape=(28, 28, 1)),
            layers.Dense(32, activation="relu"),
            layers.BatchNormalization(),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(train, validation_data=test, epochs=2, verbose=0)
    assert hist.params["steps"] == 47
    assert hist.history["val_accuracy"][-1] > 0.6
    # A pipeline with a map runs batch by batch in Python, and gives the same kind of result.
    mapped = tf.data.Dataset.from_tensor_slices((x, y[:3000])).map(lambda a, b: (a * 1.0, b)).batch(100)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(mapped, epochs=1, verbose=0)
    assert hist.history["accuracy"][0] > 0.6
    dropped = tf.data.Dataset.from_tensor_slices((x, y[:3000])).batch(64, drop_remainder=True)
    assert model.fit(dropped, epochs=1, verbose=0).params["steps"] == 3000 // 64


def test_cpu_training_data_is_shared_not_copied_and_gives_the_same_history():
    """On the CPU a float32 C-contiguous x is read in place (as torch.from_numpy shares memory); float64 data
    is converted first. Both fits of the same seed must give the same history, and the shared tensor keeps the
    array alive after the caller drops it."""
    import gc

    from bnlab import _core

    rng = np.random.default_rng(4)
    x32 = rng.standard_normal((300, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 300)
    histories = []
    for x in (x32, x32.astype(np.float64)):
        keras.utils.set_random_seed(3)
        model = _seed003()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        histories.append(model.fit(x, y, batch_size=32, epochs=2, verbose=0).history)
    assert histories[0] == histories[1]

    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = _core.Tensor.borrow_numpy(a)
    a[1, 2] = -5.0
    assert t.numpy()[1, 2] == -5.0  # the same memory
    del a
    gc.collect()
    np.testing.assert_array_equal(t.numpy()[0], [0, 1, 2, 3])  # still alive
    with pytest.raises(TypeError, match="float32 or int32"):
        _core.Tensor.borrow_numpy(np.zeros(3))
    with pytest.raises(ValueError, match="C-contiguous"):
        _core.Tensor.borrow_numpy(np.zeros((4, 4), dtype=np.float32)[:, ::2])
