"""Bad input raises ValueError or TypeError naming the argument, and never crashes the process."""

import numpy as np
import pytest

import bnlab.keras as keras
from bnlab.keras import layers


@pytest.fixture
def model():
    m = keras.Sequential(
        [
            layers.Flatten(input_shape=(4, 4)),
            layers.Dense(8),
            layers.BatchNormalization(),
            layers.Activation("relu"),
            layers.Dense(3, activation="softmax"),
        ]
    )
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


X = np.zeros((10, 4, 4), np.float32)
Y = np.zeros(10, np.int64)


@pytest.mark.parametrize(
    ("kwargs", "exc", "pattern"),
    [
        ({"x": np.zeros((10, 16), np.float32)}, ValueError, "x: input shape"),
        ({"y": np.full(10, 3)}, ValueError, r"labels must be in \[0, 3\)"),
        ({"y": np.full(10, -1)}, ValueError, "labels"),
        ({"y": np.zeros((10, 3))}, ValueError, "y: sparse_categorical_crossentropy expects class indices"),
        ({"y": np.zeros(9, np.int64)}, ValueError, "different lengths"),
        ({"x": np.zeros((0, 4, 4)), "y": np.zeros(0)}, ValueError, "x is empty"),
        ({"batch_size": 0}, ValueError, "batch_size must be >= 1"),
        ({"batch_size": 2.5}, TypeError, "batch_size must be an int"),
        ({"validation_split": 1.0}, ValueError, "validation_split"),
        ({"validation_split": -0.1}, ValueError, "validation_split"),
        ({"x": np.array([["a"] * 4] * 4)}, TypeError, "x must be a numeric array"),
    ],
)
def test_fit_bad_input(model, kwargs, exc, pattern):
    args = {"x": X, "y": Y, "verbose": 0, **kwargs}
    with pytest.raises(exc, match=pattern):
        model.fit(**args)


def test_unknown_strings():
    m = keras.Sequential([layers.Dense(2, input_shape=(2,))])
    with pytest.raises(ValueError, match="Unknown optimizer 'adamw2'"):
        m.compile(optimizer="adamw2", loss="mse")
    with pytest.raises(ValueError, match="Unknown loss 'hinge2'"):
        m.compile(optimizer="adam", loss="hinge2")
    with pytest.raises(ValueError, match="Unknown activation 'swishy'"):
        layers.Dense(3, activation="swishy")
    with pytest.raises(ValueError, match="Unknown initializer"):
        layers.Dense(3, kernel_initializer="nope")
    with pytest.raises(ValueError, match="metrics"):
        m.compile(optimizer="adam", loss="mse", metrics=["f1"])


def test_categorical_loss_with_index_labels_explains(model):
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="to_categorical"):
        model.fit(X, Y, verbose=0)


def test_fit_before_compile():
    m = keras.Sequential([layers.Dense(2, input_shape=(2,))])
    with pytest.raises(RuntimeError, match="compile"):
        m.fit(np.zeros((2, 2)), np.zeros(2), verbose=0)


def test_nan_inputs_propagate_like_keras(model):
    x = X.copy()
    x[0, 0, 0] = np.nan
    hist = model.fit(x, Y, batch_size=10, verbose=0)
    assert np.isnan(hist.history["loss"][0])


def test_batch_of_one_with_bn_warns_and_outputs_beta(model):
    from bnlab.teaching import BatchNormPitfallWarning

    with pytest.warns(BatchNormPitfallWarning, match="ONE sample"):
        model.fit(X[:3], Y[:3], batch_size=1, verbose=0)
    bn = layers.BatchNormalization()
    out = bn(np.ones((1, 3), np.float32) * 5, training=True)
    np.testing.assert_allclose(out, 0, atol=1e-6)  # x_hat = 0, so y = beta = 0


def test_from_logits_on_softmax_output_warns(model):
    from bnlab.teaching import LossPitfallWarning

    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    with pytest.warns(LossPitfallWarning, match="from_logits=True"):
        model.fit(X, Y, verbose=0)


def test_layer_arguments_are_checked():
    with pytest.raises(ValueError, match="units"):
        layers.Dense(0)
    with pytest.raises(ValueError, match="momentum"):
        layers.BatchNormalization(momentum=1.5)
    with pytest.raises(ValueError, match="rate"):
        layers.Dropout(1.0)
    with pytest.raises(ValueError, match="learning_rate"):
        keras.optimizers.Adam(learning_rate=-1)
