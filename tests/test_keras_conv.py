"""bnlab.keras's convolutional layers against real Keras 3 (torch backend): outputs with the same weights,
summary() text, get_config keys, argument errors, and one fit of a small CNN with BatchNormalization.

Skips when keras is not installed. Tolerances as in test_keras_parity.py: single forwards agree to ~1e-5,
a short fit to ~1e-3 relative (float32 in different summation orders).
"""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras3 = pytest.importorskip("keras")
if keras3.backend.backend() != "torch":
    pytest.skip("these parity tests run Keras on its torch backend", allow_module_level=True)

from trained_weights import adam_step_bound, assert_trained_weights_match, biases_before_bn  # noqa: E402

import bnlab.keras as bk  # noqa: E402
from bnlab.keras import layers  # noqa: E402
from bnlab.keras.applications import cnn_model  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")


def keras_forward(layer, x, training=False):
    return keras3.ops.convert_to_numpy(layer(x, training=training))


CONTRACT = [
    # factory, input shape, output shape, n trainable, n non-trainable, differs in training
    (lambda L: L.Conv2D(4, 3), (7, 6, 2), (5, 4, 4), 2, 0, False),
    (lambda L: L.Conv2D(4, (3, 2), strides=2, padding="same", use_bias=False), (7, 6, 2), (4, 3, 4), 1, 0, False),
    (lambda L: L.Conv2D(3, 1, activation="relu"), (4, 4, 5), (4, 4, 3), 2, 0, False),
    (lambda L: L.MaxPooling2D(), (7, 6, 3), (3, 3, 3), 0, 0, False),
    (lambda L: L.MaxPooling2D(3, strides=2, padding="same"), (7, 6, 3), (4, 3, 3), 0, 0, False),
    (lambda L: L.AveragePooling2D(2, padding="same"), (5, 5, 3), (3, 3, 3), 0, 0, False),
    (lambda L: L.AveragePooling2D((2, 3), strides=(1, 2)), (5, 7, 2), (4, 3, 2), 0, 0, False),
    (lambda L: L.GlobalAveragePooling2D(), (5, 4, 3), (3,), 0, 0, False),
    (lambda L: L.BatchNormalization(), (5, 4, 3), (5, 4, 3), 2, 2, True),
]


@pytest.mark.parametrize(("make", "in_shape", "out_shape", "n_train", "n_frozen", "differs"), CONTRACT)
def test_layer_matches_keras_with_the_same_weights(make, in_shape, out_shape, n_train, n_frozen, differs):
    ours, theirs = make(layers), make(keras3.layers)
    x = np.random.default_rng(0).normal(1.0, 2.0, size=(3, *in_shape)).astype(np.float32)
    y = ours(x, training=False)
    assert y.shape == (3, *out_shape) and ours.output_shape == (None, *out_shape)
    assert (len(ours.trainable_weights), len(ours.non_trainable_weights)) == (n_train, n_frozen)
    theirs.build((None, *in_shape))
    assert [w.shape for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(y, keras_forward(theirs, x), rtol=1e-5, atol=1e-5)
    y_train = ours(x, training=True)
    np.testing.assert_allclose(y_train, keras_forward(theirs, x, True), rtol=1e-4, atol=1e-4)
    assert (not np.allclose(y_train, y)) == differs


def test_conv2d_kernel_initialisation_is_glorot_uniform_over_the_receptive_field():
    bk.utils.set_random_seed(3)
    conv = layers.Conv2D(64, 5)
    conv.build((None, 12, 12, 16))
    k = conv.kernel.numpy()
    limit = np.sqrt(6.0 / (5 * 5 * 16 + 5 * 5 * 64))
    assert k.shape == (5, 5, 16, 64) and np.abs(k).max() <= limit and np.abs(k).max() > 0.95 * limit
    assert np.isclose(k.std(), limit / np.sqrt(3), rtol=0.05)
    assert not conv.bias.numpy().any()


def keras_cnn(bn, input_shape=(28, 28, 1), classes=10):
    """cnn_model's network written with real Keras layers (the same names)."""
    L = keras3.layers
    out = [keras3.Input(input_shape)]
    for i, filters in enumerate((32, 64), start=1):
        out.append(L.Conv2D(filters, 3, padding="same", name=f"conv_{i}"))
        out += [L.BatchNormalization(name=f"bn_{i}")] if bn else []
        out += [L.Activation("relu", name=f"relu_{i}"), L.MaxPooling2D(2, name=f"pool_{i}")]
    out += [L.Flatten(name="flatten"), L.Dense(128, name="dense")]
    out += [L.BatchNormalization(name="bn_3")] if bn else []
    out += [L.Activation("relu", name="relu_3"), L.Dense(classes, activation="softmax", name="output")]
    return keras3.Sequential(out, name=f"cnn_{'bn' if bn else 'nobn'}")


@pytest.mark.parametrize("bn", [True, False], ids=["bn", "nobn"])
def test_summary_prints_exactly_what_keras_prints(bn, capsys):
    keras_cnn(bn).summary()
    theirs = capsys.readouterr().out
    cnn_model(bn=bn).summary()
    ours = capsys.readouterr().out
    assert ours.rstrip() == "\n".join(line.rstrip() for line in theirs.rstrip().splitlines())


def test_summary_of_strided_same_and_global_pooling_matches_keras(capsys):
    def build(lib):
        L = lib.layers
        return lib.Sequential(
            [
                lib.Input((9, 7, 3)),
                L.Conv2D(8, (3, 2), strides=2, padding="same", use_bias=False, name="c"),
                L.AveragePooling2D(2, padding="same", name="a"),
                L.BatchNormalization(name="b"),
                L.GlobalAveragePooling2D(name="g"),
                L.Dense(5, name="d"),
            ],
            name="odd",
        )

    build(keras3).summary()
    theirs = "\n".join(line.rstrip() for line in capsys.readouterr().out.rstrip().splitlines())
    build(bk).summary()
    assert capsys.readouterr().out.rstrip() == theirs


@pytest.mark.parametrize(
    "make",
    [
        lambda L: L.Conv2D(4, 3, strides=2, padding="same", activation="relu", name="c"),
        lambda L: L.MaxPooling2D(3, strides=1, padding="same", name="m"),
        lambda L: L.AveragePooling2D(2, name="a"),
        lambda L: L.GlobalAveragePooling2D(name="g"),
    ],
)
def test_get_config_has_keras_keys_and_values(make):
    ours, theirs = make(layers).get_config(), make(keras3.layers).get_config()
    assert set(ours) == set(theirs)
    for key, value in theirs.items():
        if key != "dtype" and not key.endswith("initializer"):
            assert ours[key] == value, key
    rebuilt = type(make(layers)).from_config(ours)
    assert rebuilt.get_config() == ours


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: layers.Conv2D(0, 3), ValueError, r"Expected a strictly positive value. Received filters=0"),
        (lambda: layers.Conv2D(4, 0), ValueError, r"`kernel_size` argument must be a tuple of 2 integers"),
        (lambda: layers.Conv2D(4, (3, 3, 3)), ValueError, r"Received kernel_size=\(3, 3, 3\)"),
        (lambda: layers.Conv2D(4, 3, strides=0), ValueError, r"including values \{0\} that do not satisfy"),
        (lambda: layers.Conv2D(4, 3, padding="full"), ValueError, r"`padding` argument must be one of"),
        (lambda: layers.Conv2D(4, 3, data_format="channels_first"), ValueError, r"channels_last only"),
        (lambda: layers.Conv2D(4, 3, dilation_rate=2), ValueError, r"dilation_rate=\(1, 1\)"),
        (lambda: layers.Conv2D(4, 3, activation="swishy"), ValueError, r"Unknown activation"),
        (lambda: layers.MaxPooling2D(-1), ValueError, r"`pool_size` argument must be a tuple of 2 integers"),
        (lambda: layers.AveragePooling2D(), TypeError, r"pool_size"),
        (lambda: layers.GlobalAveragePooling2D(keepdims=True), ValueError, r"keepdims=False"),
    ],
)
def test_bad_arguments_raise_like_keras(make, error, message):
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize(
    ("layer", "x_shape", "message"),
    [
        (lambda: layers.Conv2D(4, 3), (2, 28, 28), r"expected ndim=4, found ndim=3. Full shape received: \(None, 28"),
        (lambda: layers.MaxPooling2D(), (2, 10), r"expected ndim=4, found ndim=2"),
        (lambda: layers.Conv2D(4, 5), (2, 3, 3, 1), r"window \(5, 5\) is larger than the input \(3, 3, 1\)"),
        (lambda: layers.MaxPooling2D(4), (2, 3, 8, 1), r"larger than the input"),
    ],
)
def test_bad_inputs_raise_value_errors(layer, x_shape, message):
    with pytest.raises(ValueError, match=message):
        layer()(np.zeros(x_shape, np.float32))


def test_a_conv_net_model_rejects_images_of_the_wrong_channel_count():
    model = cnn_model((8, 8, 3), 4)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="shape"):
        model.fit(np.zeros((4, 8, 8, 1), np.float32), np.zeros(4, np.int32), verbose=0)


def test_batchnorm_relu_after_conv_runs_fused_and_matches_the_unfused_model():
    x = np.random.default_rng(5).normal(size=(40, 8, 8, 2)).astype(np.float32)
    y = np.random.default_rng(6).integers(0, 3, 40).astype(np.int32)
    results = []
    for fuse in (True, False):
        bk.utils.set_random_seed(4)
        model = cnn_model((8, 8, 2), 3)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.build()
        model._engine.fuse_bn_relu = fuse
        assert list(model._engine.fused_bn_relu_layers) == ([1, 5, 10] if fuse else [])
        loss = model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history["loss"]
        results.append((loss, model.get_weights()))
    assert results[0][0] == results[1][0]
    for a, b in zip(results[0][1], results[1][1], strict=True):
        np.testing.assert_array_equal(a, b)


def test_adam_step_bound_is_one_lr_for_one_step():
    assert adam_step_bound(1e-3, 1) == pytest.approx(1e-3)  # m / sqrt(v) = g / |g| at t = 1
    assert 16e-3 < adam_step_bound(1e-3, 16) < 20e-3


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_fit_of_a_small_cnn_with_bn_matches_keras(fashion, optimizer):
    """Losses, accuracies, weights and predictions after two epochs. A bias just before BN has a true gradient of
    0 (BN subtracts the batch mean), so both frameworks compute float noise for it, and Adam's normalised step
    m / sqrt(v) turns that noise into steps of about the learning rate: tests/trained_weights.py says what is
    compared how."""
    (x, y), (xt, yt) = fashion
    x, y = (x[:512, ::2, ::2, None] / 255.0).astype(np.float32), y[:512]
    xt, yt = (xt[:256, ::2, ::2, None] / 255.0).astype(np.float32), yt[:256]
    bk.utils.set_random_seed(7)
    ours = cnn_model((14, 14, 1), 10)
    theirs = keras_cnn(True, (14, 14, 1), 10)
    theirs.set_weights(ours.get_weights())
    for model in (ours, theirs):
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h_ours = ours.fit(x, y, batch_size=64, epochs=2, shuffle=False, verbose=0, validation_data=(xt, yt)).history
    h_theirs = theirs.fit(x, y, batch_size=64, epochs=2, shuffle=False, verbose=0, validation_data=(xt, yt)).history
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(h_ours[key], h_theirs[key], rtol=2e-3, atol=2e-3, err_msg=key)
    # Accuracies are counts: a prediction on the edge between two classes may flip, one sample at most.
    for key, n in (("accuracy", len(x)), ("val_accuracy", len(xt))):
        np.testing.assert_allclose(h_ours[key], h_theirs[key], rtol=0, atol=1.01 / n, err_msg=key)
    assert len(biases_before_bn(ours)) == 6
    assert_trained_weights_match(ours, theirs, optimizer, steps=2 * len(x) // 64)
    # Inference reads bias - moving_mean, which under Adam carries that noise: probabilities agree to ~1e-3.
    atol = 2e-3 if optimizer == "adam" else 1e-4
    np.testing.assert_allclose(ours.predict(xt, verbose=0), theirs.predict(xt, verbose=0), rtol=1e-3, atol=atol)
