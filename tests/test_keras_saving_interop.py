"""Files move between bnlab and real Keras 3 (torch backend) both ways, for the layers both have.

A model trained in one framework is saved, loaded in the other, and must predict the same to 1e-6, hold the
same BN moving statistics and the same optimizer state (Keras's iteration, moments), and train on from there
as the original does. Skips when keras (or torch, its backend here) is not installed.
"""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras3 = pytest.importorskip("keras")
if keras3.backend.backend() != "torch":
    pytest.skip("these interop tests run Keras on its torch backend", allow_module_level=True)

import bnlab.keras as bk  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")

RNG = np.random.default_rng(7)
X = RNG.normal(size=(64, 6, 6)).astype(np.float32)
Y = RNG.integers(0, 4, 64)


def _net(lib, optimizer):
    L = lib.layers
    model = lib.Sequential(
        [
            L.Input(shape=(6, 6)),
            L.Flatten(),
            L.Dense(16),
            L.BatchNormalization(momentum=0.9),
            L.Activation("relu"),
            L.Dropout(0.0, seed=3),  # rate 0: the two frameworks' masks would differ
            L.Dense(8, activation="relu"),
            L.BatchNormalization(),
            L.Dense(4, activation="softmax"),
        ]
    )
    model.compile(optimizer=optimizer(lib), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


OPTIMIZERS = {
    "adam": lambda lib: lib.optimizers.Adam(2e-3),
    "sgd_momentum": lambda lib: lib.optimizers.SGD(0.05, momentum=0.9),
    "rmsprop_centered": lambda lib: lib.optimizers.RMSprop(1e-3, momentum=0.5, centered=True),
}


def _np(v):
    return keras3.ops.convert_to_numpy(v)


def _bn_stats(layers_, get):
    return [get(la) for la in layers_ if type(la).__name__ == "BatchNormalization"]


def _check_same_state(ours, theirs):
    np.testing.assert_allclose(_np(theirs.predict(X, verbose=0)), ours.predict(X, verbose=0), rtol=1e-6, atol=1e-6)
    ours_bn = _bn_stats(ours.layers, lambda la: (la.moving_mean.numpy(), la.moving_variance.numpy()))
    theirs_bn = _bn_stats(theirs.layers, lambda la: (_np(la.moving_mean), _np(la.moving_variance)))
    assert len(ours_bn) == len(theirs_bn) == 2
    for (m1, v1), (m2, v2) in zip(ours_bn, theirs_bn, strict=True):
        np.testing.assert_array_equal(m1, m2)
        np.testing.assert_array_equal(v1, v2)
    assert int(_np(theirs.optimizer.iterations)) == 2
    assert float(_np(theirs.optimizer.learning_rate)) == pytest.approx(ours.optimizer.learning_rate, rel=1e-7)


def _one_more_epoch(model):
    return model.fit(X, Y, epochs=1, batch_size=32, shuffle=False, verbose=0).history["loss"][0]


@pytest.mark.parametrize("opt", list(OPTIMIZERS))
def test_bnlab_file_loads_in_keras(tmp_path, opt):
    ours = _net(bk, OPTIMIZERS[opt])
    ours.fit(X, Y, epochs=1, batch_size=32, shuffle=False, verbose=0)
    ours.save(tmp_path / "ours.keras")
    theirs = keras3.models.load_model(tmp_path / "ours.keras")
    _check_same_state(ours, theirs)
    assert _one_more_epoch(theirs) == pytest.approx(_one_more_epoch(ours), rel=1e-4)


@pytest.mark.parametrize("opt", list(OPTIMIZERS))
def test_keras_file_loads_in_bnlab(tmp_path, opt):
    keras3.utils.set_random_seed(1)
    theirs = _net(keras3, OPTIMIZERS[opt])
    theirs.fit(X, Y, epochs=1, batch_size=32, shuffle=False, verbose=0)
    theirs.save(tmp_path / "theirs.keras")
    ours = bk.models.load_model(tmp_path / "theirs.keras")
    assert [type(la).__name__ for la in ours.layers] == [type(la).__name__ for la in theirs.layers]
    _check_same_state(ours, theirs)
    their_config = theirs.optimizer.get_config()
    for key, value in ours.optimizer.get_config().items():
        assert value == (pytest.approx(their_config[key]) if isinstance(value, float) else their_config[key])
    assert _one_more_epoch(ours) == pytest.approx(_one_more_epoch(theirs), rel=1e-4)


def test_weights_files_both_ways(tmp_path):
    ours = _net(bk, OPTIMIZERS["adam"])
    ours.fit(X, Y, epochs=1, batch_size=32, shuffle=False, verbose=0)
    ours.save_weights(tmp_path / "ours.weights.h5")
    theirs = _net(keras3, OPTIMIZERS["adam"])
    theirs.optimizer.build(theirs.trainable_variables)
    theirs.load_weights(tmp_path / "ours.weights.h5")
    _check_same_state(ours, theirs)
    theirs.fit(X, Y, epochs=1, batch_size=32, shuffle=False, verbose=0)
    theirs.save_weights(tmp_path / "theirs.weights.h5")
    back = _net(bk, OPTIMIZERS["adam"])
    back.load_weights(tmp_path / "theirs.weights.h5")
    np.testing.assert_allclose(back.predict(X, verbose=0), _np(theirs.predict(X, verbose=0)), rtol=1e-6, atol=1e-6)
    assert back.optimizer.iterations == 4


def test_seed002_network_written_seed_style_loads_in_keras(tmp_path):
    """Seed 002's network (input_shape= on the first layer, BN after each hidden Dense, one-hot targets)."""
    L = bk.layers
    ours = bk.Sequential(
        [L.Flatten(input_shape=(32, 32, 3))]
        + [layer for units in (64, 32, 16) for layer in (L.Dense(units, activation="relu"), L.BatchNormalization())]
        + [L.Dense(10, activation="softmax")]
    )
    ours.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    x = RNG.uniform(size=(64, 32, 32, 3)).astype(np.float32)
    y = bk.utils.to_categorical(RNG.integers(0, 10, 64), 10)
    ours.fit(x, y, epochs=2, batch_size=32, shuffle=False, verbose=0)
    ours.save(tmp_path / "seed002.keras")
    theirs = keras3.models.load_model(tmp_path / "seed002.keras")
    assert theirs.input_shape == (None, 32, 32, 3) and int(_np(theirs.optimizer.iterations)) == 4
    np.testing.assert_allclose(_np(theirs.predict(x, verbose=0)), ours.predict(x, verbose=0), rtol=1e-6, atol=1e-6)
    for a, b in zip(ours.weights, theirs.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), _np(b))
    h_ours = ours.fit(x, y, epochs=1, batch_size=32, shuffle=False, verbose=0).history["loss"][0]
    h_theirs = theirs.fit(x, y, epochs=1, batch_size=32, shuffle=False, verbose=0).history["loss"][0]
    assert h_theirs == pytest.approx(h_ours, rel=1e-4)


@pytest.mark.parametrize("loss", ["SparseCategoricalCrossentropy", "CategoricalCrossentropy", "MeanSquaredError"])
def test_keras_loss_and_metric_objects_and_optional_weights_load_in_bnlab(tmp_path, loss):
    """Loss and metric objects (not strings), Dense without bias, BN without gamma and beta, SGD nesterov."""
    L = keras3.layers
    theirs = keras3.Sequential(
        [
            L.Input((5,)),
            L.Dense(4, use_bias=False, kernel_initializer=keras3.initializers.HeNormal(seed=3)),
            L.BatchNormalization(center=False, scale=False),
            L.Dense(3),
        ]
    )
    sparse = loss.startswith("Sparse")
    loss_object = getattr(keras3.losses, loss)(**({"from_logits": True} if "Crossentropy" in loss else {}))
    metric = keras3.metrics.SparseCategoricalAccuracy() if sparse else keras3.metrics.CategoricalAccuracy()
    theirs.compile(
        optimizer=keras3.optimizers.SGD(0.1, momentum=0.5, nesterov=True), loss=loss_object, metrics=[metric]
    )
    x = RNG.uniform(size=(32, 5)).astype(np.float32)
    labels = RNG.integers(0, 3, 32)
    y = labels if sparse else bk.utils.to_categorical(labels, 3)
    theirs.fit(x, y, batch_size=16, shuffle=False, verbose=0)
    theirs.save(tmp_path / "theirs.keras")
    ours = bk.models.load_model(tmp_path / "theirs.keras")
    assert type(ours.loss).__name__ == loss and ours.loss.from_logits == ("Crossentropy" in loss)
    assert ours._metric_name == ("sparse_categorical_accuracy" if sparse else "categorical_accuracy")
    np.testing.assert_allclose(ours.predict(x, verbose=0), _np(theirs.predict(x, verbose=0)), rtol=1e-6, atol=1e-6)
    h_ours = ours.fit(x, y, batch_size=16, shuffle=False, verbose=0).history["loss"][0]
    h_theirs = theirs.fit(x, y, batch_size=16, shuffle=False, verbose=0).history["loss"][0]
    assert h_ours == pytest.approx(h_theirs, rel=1e-4)
