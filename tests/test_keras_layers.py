"""Layer contracts of bnlab.keras, checked the same way for every layer (Keras's layer test helper, in small):
output shape, trainable and non-trainable weight counts, training vs inference, config round trip; then the
parameter counts of the seeds' networks as Keras's summary() reports them."""

import numpy as np
import pytest

import bnlab.keras as keras
from bnlab.keras import layers

CASES = [
    # layer factory, input shape, output shape, n trainable, n non-trainable, differs in training
    (lambda: layers.Dense(7), (5,), (7,), 2, 0, False),
    (lambda: layers.Dense(7, use_bias=False, activation="tanh"), (5,), (7,), 1, 0, False),
    (lambda: layers.BatchNormalization(), (5,), (5,), 2, 2, True),
    (lambda: layers.BatchNormalization(center=False, scale=False), (5,), (5,), 0, 2, True),
    (lambda: layers.BatchNormalization(axis=1), (3, 4), (3, 4), 2, 2, True),
    (lambda: layers.Activation("sigmoid"), (5,), (5,), 0, 0, False),
    (lambda: layers.Flatten(), (2, 3, 4), (24,), 0, 0, False),
    (lambda: layers.Dropout(0.5), (50,), (50,), 0, 0, True),
]


@pytest.mark.parametrize(("make", "in_shape", "out_shape", "n_train", "n_frozen", "differs"), CASES)
def test_layer_contract(make, in_shape, out_shape, n_train, n_frozen, differs):
    layer = make()
    x = np.random.default_rng(0).normal(size=(8, *in_shape)).astype(np.float32)
    y_infer = layer(x, training=False)
    assert y_infer.shape == (8, *out_shape)
    assert layer.output_shape == (None, *out_shape)
    assert len(layer.trainable_weights) == n_train
    assert len(layer.non_trainable_weights) == n_frozen
    y_train = layer(x, training=True)
    assert (not np.allclose(y_train, y_infer)) == differs
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() | {"name": layer.name} == layer.get_config()


def test_batchnorm_weight_order_and_counts():
    bn = layers.BatchNormalization()
    bn.build((None, 6))
    assert [w.name for w in bn.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert bn.count_params() == 24
    bn.trainable = False
    assert bn.trainable_weights == [] and len(bn.non_trainable_weights) == 4


def test_non_trainable_batchnorm_runs_in_inference_mode():
    bn = layers.BatchNormalization()
    x = np.random.default_rng(1).normal(3.0, 2.0, size=(16, 4)).astype(np.float32)
    bn.build((None, 4))
    bn.trainable = False
    np.testing.assert_allclose(bn(x, training=True), x / np.sqrt(1 + 1e-3), rtol=1e-6)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), 0)


def _seed_net(kind, bn):
    if kind == "000":
        body = [layers.Dense(128)] + ([layers.BatchNormalization()] if bn else []) + [layers.Activation("relu")]
        return keras.Sequential([layers.Flatten(input_shape=(28, 28)), *body, layers.Dense(10, activation="softmax")])
    if kind == "002":
        body = []
        for units in (512, 256, 128):
            body.append(layers.Dense(units, activation="relu"))
            if bn:
                body.append(layers.BatchNormalization())
        return keras.Sequential(
            [layers.Flatten(input_shape=(32, 32, 3)), *body, layers.Dense(10, activation="softmax")]
        )
    body = []
    for units in (128, 64):
        body += [layers.Dense(units)] + ([layers.BatchNormalization()] if bn else []) + [layers.Activation("relu")]
    return keras.Sequential([layers.Flatten(input_shape=(28, 28)), *body, layers.Dense(10, activation="softmax")])


@pytest.mark.parametrize(
    ("kind", "bn", "total", "frozen"),
    # Seed 000's BN network counts 102,026 in PyTorch, whose parameters() leaves out the 256 running statistics
    # (buffers); Keras counts them as non-trainable params: 102,282.
    [
        ("000", False, 101_770, 0),
        ("000", True, 102_282, 256),
        ("002", False, 1_738_890, 0),
        ("002", True, 1_742_474, 1_792),
        ("003", False, 109_386, 0),
        ("003", True, 110_154, 384),
    ],
)
def test_seed_network_counts(kind, bn, total, frozen, capsys):
    model = _seed_net(kind, bn)
    assert model.count_params() == total
    assert sum(int(np.prod(w.shape)) for w in model.non_trainable_weights) == frozen
    model.summary()
    out = capsys.readouterr().out
    assert f"Total params: {total:,}" in out
    assert f"Non-trainable params: {frozen:,}" in out
    assert f"Trainable params: {total - frozen:,}" in out


def test_get_set_weights_round_trip_and_order():
    model = _seed_net("003", True)
    names = [w.name for w in model.weights]
    assert names[:6] == ["kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance"]
    weights = model.get_weights()
    doubled = [2 * w for w in weights]
    model.set_weights(doubled)
    for got, want in zip(model.get_weights(), doubled, strict=True):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="weights"):
        model.set_weights(weights[:-1])


def test_gamma_numpy_view_shares_memory_with_the_engine():
    bn = layers.BatchNormalization()
    x = np.random.default_rng(2).normal(size=(32, 3)).astype(np.float32)
    y1 = bn(x, training=True)
    bn.gamma.numpy()[:] = 2.0  # a write through NumPy changes the model
    y2 = bn(x, training=True)
    np.testing.assert_allclose(y2, 2 * y1, rtol=1e-5, atol=1e-6)


def test_layers_accept_input_shape_and_list_in_model():
    model = keras.Sequential()
    model.add(keras.Input(shape=(4,)))
    model.add(layers.Dense(3))
    model.add(layers.BatchNormalization())
    assert [type(la).__name__ for la in model.layers] == ["Dense", "BatchNormalization"]
    assert model.count_params() == 15 + 12


def test_removed_keras2_arguments_are_refused():
    with pytest.raises(TypeError, match="Unrecognized keyword arguments"):
        layers.BatchNormalization(fused=True)
    with pytest.raises(TypeError, match="Unrecognized keyword arguments"):
        layers.Dense(3, bogus=1)
