"""Functional models (``keras.Model(inputs, outputs)``, ``layers.Add``) against real Keras 3 on its torch
backend: the layer order and weights, the forward with the same weights, a short SGD fit, the GradientTape
path, saving weights both ways, and the graphs bnlab refuses (each with an error naming the layer).

Tolerances: single forwards agree to ~1e-5 (float32 in different summation orders through a few layers); a
fit with SGD to rtol 1e-3 / atol 1e-4 (SGD moves a weight by lr * g, so rounding differences stay rounding
differences: tests/trained_weights.py). Tests comparing with Keras skip when keras is not installed.
"""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

import bnlab.keras as bk
from bnlab.keras import layers
from bnlab.keras.functional import Functional


@pytest.fixture
def real_keras():
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("the parity tests run Keras on its torch backend")
    return keras


pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")


def resnet_block(lib, classes=5):
    """A stem, a downsampling block (3x3 stride-2 conv-BN-ReLU-conv-BN, shortcut 1x1 stride-2 conv-BN, add,
    ReLU), an identity block (x + conv-BN(x)), global average pooling and a softmax head."""
    L = lib.layers
    inp = lib.Input(shape=(8, 8, 3), name="image")
    x = L.Conv2D(4, 3, padding="same", name="stem")(inp)
    x = L.BatchNormalization(name="stem_bn")(x)
    x = L.Activation("relu", name="stem_relu")(x)
    y = L.Conv2D(8, 3, strides=2, padding="same", name="c1")(x)
    y = L.BatchNormalization(name="b1")(y)
    y = L.Activation("relu", name="r1")(y)
    y = L.Conv2D(8, 3, padding="same", name="c2")(y)
    y = L.BatchNormalization(name="b2")(y)
    s = L.Conv2D(8, 1, strides=2, name="sc")(x)
    s = L.BatchNormalization(name="sb")(s)
    z = L.Add(name="add")([y, s])
    z = L.Activation("relu", name="out_relu")(z)
    w = L.Conv2D(8, 1, name="c3")(z)
    w = L.BatchNormalization(name="b3")(w)
    z = L.Add(name="add2")([z, w])
    z = L.GlobalAveragePooling2D(name="gap")(z)
    out = L.Dense(classes, activation="softmax", name="head")(z)
    return lib.Model(inp, out, name="resnet_block")


def data(n=48, classes=5):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 8, 8, 3)).astype(np.float32), rng.integers(0, classes, n).astype(np.int32)


def test_layers_and_weights_are_listed_in_keras_order(real_keras):
    ours, theirs = resnet_block(bk), resnet_block(real_keras)
    assert isinstance(ours, bk.Model)
    assert [layer.name for layer in ours.layers] == [layer.name for layer in theirs.layers]
    assert [w.path for w in ours.weights] == [w.path for w in theirs.weights]
    assert [w.shape for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    assert ours.count_params() == theirs.count_params()


@pytest.mark.parametrize("training", [False, True])
def test_forward_with_the_same_weights_matches_keras(real_keras, training):
    ours, theirs = resnet_block(bk), resnet_block(real_keras)
    theirs.set_weights(ours.get_weights())
    x, _ = data()
    got = ours(x, training=training) if not training else _training_forward(ours, x)
    want = real_keras.ops.convert_to_numpy(theirs(x, training=training))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def _training_forward(model, x):
    import warnings

    with warnings.catch_warnings():  # the BN-outside-a-tape teaching warning is the point elsewhere
        warnings.simplefilter("ignore")
        return model(x, training=True)


def test_sgd_fit_matches_keras_step_by_step(real_keras):
    ours, theirs = resnet_block(bk), resnet_block(real_keras)
    theirs.set_weights(ours.get_weights())
    x, y = data()
    for model, lib in ((ours, bk), (theirs, real_keras)):
        model.compile(optimizer=lib.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy")
    a = ours.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0).history["loss"]
    b = theirs.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(a, b, rtol=1e-3)
    assert a[-1] < a[0]
    for w, v in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(w, v, rtol=1e-3, atol=1e-4)


def test_the_engine_runs_the_graph_as_a_chain_of_residual_blocks():
    model = resnet_block(bk)
    kinds = [engine_layer.kind for engine_layer in model._engine.layers]
    assert kinds == ["Conv2D", "BatchNormalization", "Activation", "Residual", "Activation", "Residual",
                     "GlobalAveragePooling2D", "Dense"]  # fmt: skip
    down, ident = model._engine.layers[3], model._engine.layers[5]
    assert [layer.kind for layer in down.main] == ["Conv2D", "BatchNormalization", "Activation", "Conv2D",
                                                   "BatchNormalization"]  # fmt: skip
    assert [layer.kind for layer in down.shortcut] == ["Conv2D", "BatchNormalization"]
    assert len(ident.shortcut) == 0  # x + f(x): the identity


def test_a_residual_mlp_equals_the_same_sums_written_in_numpy():
    inp = bk.Input(shape=(6,))
    h = layers.Dense(6, activation="relu", name="d1")(inp)
    out = layers.Add()([h, layers.Dense(6, name="d2")(h)])
    model = bk.Model(inputs=inp, outputs=out)
    x = np.random.default_rng(1).normal(size=(4, 6)).astype(np.float32)
    (k1, b1), (k2, b2) = model.get_layer("d1").get_weights(), model.get_layer("d2").get_weights()
    h_np = np.maximum(x @ k1 + b1, 0)
    np.testing.assert_allclose(model(x), h_np + h_np @ k2 + b2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(x, verbose=0), model(x), rtol=0, atol=0)


def test_add_on_arrays_is_the_elementwise_sum(real_keras):
    a, b = np.ones((2, 3), np.float32), np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(
        layers.Add()([a, b]), real_keras.ops.convert_to_numpy(real_keras.layers.Add()([a, b]))
    )
    with pytest.raises(ValueError, match="same shape"):
        layers.Add()([a, np.ones((2, 4), np.float32)])


def test_gradient_tape_through_a_functional_model_equals_a_fit_step():
    import bnlab as tf

    x, y = data(16)
    models = []
    for _ in range(2):
        bk.utils.set_random_seed(7)
        models.append(resnet_block(bk))
    taped, fitted = models
    fitted.compile(optimizer=bk.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    fitted.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    opt = bk.optimizers.SGD(0.1)
    loss_fn = bk.losses.SparseCategoricalCrossentropy()
    with tf.GradientTape() as tape:
        loss = loss_fn(y, taped(tf.constant(x), training=True))
    grads = tape.gradient(loss, taped.trainable_variables)
    opt.apply_gradients(zip(grads, taped.trainable_variables, strict=True))
    for w, v in zip(taped.get_weights(), fitted.get_weights(), strict=True):
        np.testing.assert_allclose(w, v, rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(v).max())))


def test_weights_travel_to_and_from_keras(real_keras, tmp_path):
    ours, theirs = resnet_block(bk), resnet_block(real_keras)
    ours.save_weights(tmp_path / "ours.weights.h5")
    theirs.load_weights(tmp_path / "ours.weights.h5")
    for w, v in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_array_equal(w, v)
    again = resnet_block(bk)
    theirs.save_weights(tmp_path / "theirs.weights.h5")
    again.load_weights(tmp_path / "theirs.weights.h5")
    for w, v in zip(again.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_array_equal(w, v)


def test_graphs_bnlab_cannot_run_are_refused_with_the_layer_named():
    inp = bk.Input(shape=(4,))
    shared = layers.Dense(4, name="shared")
    h = shared(inp)
    with pytest.raises(ValueError, match="'shared' is already called once"):
        shared(h)
    with pytest.raises(TypeError, match=r"layers.Add\(\)\(\[a, b\]\)"):
        h + h
    with pytest.raises(ValueError, match="same tensor"):
        bk.Model(inp, layers.Add(name="twice")([h, h]))
    with pytest.raises(ValueError, match="same shape"):
        layers.Add()([h, layers.Dense(3)(h)])
    with pytest.raises(ValueError, match="one input and one output"):
        bk.Model([inp, bk.Input(shape=(4,))], h)
    with pytest.raises(ValueError, match="do not depend on the inputs"):
        bk.Model(bk.Input(shape=(4,)), h)
    with pytest.raises(TypeError, match="no add"):
        bk.Model(inp, h).add(layers.Dense(2))


def test_get_config_is_keras_functional_config(real_keras):
    ours, theirs = resnet_block(bk).get_config(), resnet_block(real_keras).get_config()
    assert ours["input_layers"] == theirs["input_layers"] and ours["output_layers"] == theirs["output_layers"]
    assert [e["name"] for e in ours["layers"]] == [e["name"] for e in theirs["layers"]]
    for a, b in zip(ours["layers"], theirs["layers"], strict=True):
        assert a["class_name"] == b["class_name"]
        history = [[t["config"]["keras_history"] for t in (n["args"][0] if isinstance(n["args"][0], list) else
                    [n["args"][0]])] for n in a["inbound_nodes"]]  # fmt: skip
        want = [[t["config"]["keras_history"] for t in (n["args"][0] if isinstance(n["args"][0], (list, tuple)) else
                 [n["args"][0]])] for n in b["inbound_nodes"]]  # fmt: skip
        assert history == [[list(h) for h in node] for node in want], a["name"]


def test_a_saved_functional_model_travels_to_and_from_keras(real_keras, tmp_path):
    x, y = data(32)
    ours = resnet_block(bk)
    ours.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    ours.fit(x, y, batch_size=16, epochs=1, verbose=0)
    ours.save(tmp_path / "ours.keras")
    theirs = real_keras.models.load_model(tmp_path / "ours.keras")
    want = ours.predict(x, verbose=0)
    np.testing.assert_allclose(real_keras.ops.convert_to_numpy(theirs(x, training=False)), want, rtol=1e-5, atol=1e-6)
    theirs.save(tmp_path / "theirs.keras")
    back = bk.models.load_model(tmp_path / "theirs.keras")
    assert [layer.name for layer in back.layers] == [layer.name for layer in ours.layers]
    np.testing.assert_allclose(back.predict(x, verbose=0), want, rtol=1e-5, atol=1e-6)
    again = bk.models.model_from_json(ours.to_json())
    assert [w.shape for w in again.weights] == [w.shape for w in ours.weights]


def test_bad_functional_configs_are_refused_with_the_reason():
    config = resnet_block(bk).get_config()
    config["layers"] = [config["layers"][0], *config["layers"][2:]]  # the stem's entry missing
    with pytest.raises(ValueError, match="which no earlier layer produced"):
        Functional.from_config(config)
    config = resnet_block(bk).get_config()
    config["output_layers"] = ["nowhere", 0, 0]
    with pytest.raises(ValueError, match="output_layers names no layer"):
        Functional.from_config(config)


def test_nested_blocks_run_and_a_tensor_used_by_two_blocks_is_refused():
    inp = bk.Input(shape=(4,))
    h = layers.Dense(4, name="h")(inp)
    a = layers.Add(name="a1")([h, layers.Dense(4, name="u")(h)])
    b = layers.Add(name="a2")([a, layers.Dense(4, name="v")(h)])  # (h + u(h)) + v(h): a block inside a block
    model = bk.Model(inp, b)
    x = np.random.default_rng(2).normal(size=(3, 4)).astype(np.float32)
    hv = x @ model.get_layer("h").get_weights()[0] + model.get_layer("h").get_weights()[1]
    u, v = (hv @ model.get_layer(n).get_weights()[0] + model.get_layer(n).get_weights()[1] for n in "uv")
    np.testing.assert_allclose(model(x), hv + u + v, rtol=1e-5, atol=1e-5)

    inp = bk.Input(shape=(4,))
    h = layers.Dense(4, name="h2")(inp)
    u = layers.Dense(4, name="u2")(h)
    a = layers.Add(name="a3")([h, u])
    out = layers.Add(name="a4")([a, layers.Dense(4, name="w2")(u)])  # u feeds a3's block and, after it, w2
    with pytest.raises(ValueError, match=r"layer 'h2'.*outside the block"):
        bk.Model(inp, out)


def test_sequential_still_takes_keras_input_first():
    model = bk.Sequential([bk.Input(shape=(3,)), layers.Dense(2)])
    assert model.built and model.input_shape == (None, 3)
    assert repr(bk.Input(shape=(3,))).startswith("<KerasTensor shape=(None, 3), dtype=float32")


def test_functional_models_are_named_functional_functional_1_and_so_on():
    def number(name):
        return 0 if name == "functional" else int(name.rsplit("_", 1)[1])

    inp = bk.Input(shape=(3,))
    out = layers.Dense(2)(inp)
    first = bk.Model(inp, out)
    inp = bk.Input(shape=(3,))
    second = bk.Model(inputs=inp, outputs=layers.Dense(2)(inp))
    assert first.name.startswith("functional") and number(second.name) == number(first.name) + 1
