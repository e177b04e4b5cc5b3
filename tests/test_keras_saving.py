"""Saving and loading Keras models in bnlab: .keras archives, .weights.h5 files, configs and JSON.

Round trips use the seeds' networks (002: Flatten, Dense 512-256-128 with BN, softmax over one-hot labels;
003: Dense -> BN -> Activation) after training, so BN's moving statistics and the optimizer's moments are
not their initial values. Interop with real Keras 3 is in test_keras_saving_interop.py.
"""

import json
import os
import zipfile

import h5py
import numpy as np
import pytest

import bnlab.keras as keras
from bnlab.keras import layers

RNG = np.random.default_rng(0)


def _seed003():
    return keras.Sequential(
        [
            layers.Flatten(input_shape=(28, 28)),
            layers.Dense(32),
            layers.BatchNormalization(),
            layers.Activation("relu"),
            layers.Dense(16),
            layers.BatchNormalization(),
            layers.Activation("relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )


def _seed002():
    return keras.Sequential(
        [
            layers.Flatten(input_shape=(32, 32, 3)),
            layers.Dense(512, activation="relu"),
            layers.BatchNormalization(),
            layers.Dense(256, activation="relu"),
            layers.BatchNormalization(),
            layers.Dense(128, activation="relu"),
            layers.BatchNormalization(),
            layers.Dense(10, activation="softmax"),
        ]
    )


def _data(kind, n=96):
    if kind == "003":
        return RNG.normal(size=(n, 28, 28)).astype(np.float32), RNG.integers(0, 10, n)
    return RNG.uniform(size=(n, 32, 32, 3)).astype(np.float32), keras.utils.to_categorical(RNG.integers(0, 10, n), 10)


def _trained(kind, optimizer="adam"):
    model = _seed003() if kind == "003" else _seed002()
    loss = "sparse_categorical_crossentropy" if kind == "003" else "categorical_crossentropy"
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    x, y = _data(kind)
    model.fit(x, y, epochs=2, batch_size=32, shuffle=False, verbose=0)
    return model, x, y


OPTIMIZERS = {
    "adam": lambda: keras.optimizers.Adam(1e-3),
    "adam_amsgrad": lambda: keras.optimizers.Adam(1e-3, amsgrad=True),
    "sgd_momentum": lambda: keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    "rmsprop_centered_momentum": lambda: keras.optimizers.RMSprop(1e-3, momentum=0.5, centered=True),
}


@pytest.mark.parametrize("kind", ["002", "003"])
def test_model_round_trip_keeps_predictions_moving_statistics_and_training(tmp_path, kind):
    model, x, y = _trained(kind)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    for ours, theirs in zip(model.weights, loaded.weights, strict=True):
        assert ours.path.split("/")[1] == theirs.path.split("/")[1]
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    bn = [la for la in loaded.layers if isinstance(la, layers.BatchNormalization)]
    assert bn and not np.allclose(bn[0].moving_variance.numpy(), 1.0)  # the statistics moved, and came back
    assert [la.name for la in loaded.layers] == [la.name for la in model.layers]
    assert loaded.optimizer.iterations == model.optimizer.iterations == 6
    # Continuing: the same losses with or without the save in between (needs the optimizer's moments).
    after_saved = model.fit(x, y, epochs=2, batch_size=32, shuffle=False, verbose=0).history
    after_loaded = loaded.fit(x, y, epochs=2, batch_size=32, shuffle=False, verbose=0).history
    assert after_loaded == after_saved


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_state_round_trips_for_every_optimizer(tmp_path, name):
    model, x, y = _trained("003", OPTIMIZERS[name]())
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert type(loaded.optimizer) is type(model.optimizer)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    for a, b in zip(model.trainable_weights, loaded.trainable_weights, strict=True):
        sa, sb = model.optimizer._engine.slots(a._tensor), loaded.optimizer._engine.slots(b._tensor)
        assert sa[3] == sb[3] == 6
        for ta, tb in zip(sa[:3], sb[:3], strict=True):
            assert ta.defined == tb.defined
            if ta.defined:
                np.testing.assert_allclose(tb.numpy(), ta.numpy(), rtol=1e-6, atol=1e-12)
    h1 = model.fit(x, y, epochs=1, batch_size=32, shuffle=False, verbose=0).history["loss"]
    h2 = loaded.fit(x, y, epochs=1, batch_size=32, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(h2, h1, rtol=1e-6)


def test_changed_learning_rate_is_saved(tmp_path):
    model, _, _ = _trained("003")
    model.optimizer.learning_rate = 1e-5
    model.save(tmp_path / "m.keras")
    assert keras.models.load_model(tmp_path / "m.keras").optimizer.learning_rate == pytest.approx(1e-5)


def test_archive_layout_follows_keras3(tmp_path):
    model, _, _ = _trained("003")
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as zf:
        assert sorted(zf.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
        config = json.loads(zf.read("config.json"))
        assert json.loads(zf.read("metadata.json"))["keras_version"].startswith("3.")
        weights_bytes = zf.read("model.weights.h5")
    assert config["class_name"] == "Sequential" and config["module"] == "keras"
    entries = config["config"]["layers"]
    assert [e["class_name"] for e in entries][:3] == ["InputLayer", "Flatten", "Dense"]
    assert entries[0]["config"]["batch_shape"] == [None, 28, 28]
    assert config["compile_config"]["optimizer"]["class_name"] == "Adam"
    assert config["compile_config"]["metrics"] == ["accuracy"]
    path = tmp_path / "w.h5"
    path.write_bytes(weights_bytes)
    with h5py.File(path) as h5:
        assert sorted(h5["layers"]) == [
            "activation",
            "activation_1",
            "batch_normalization",
            "batch_normalization_1",
            "dense",
            "dense_1",
            "dense_2",
            "flatten",
        ]
        bn = model.layers[2]
        group = h5["layers/batch_normalization/vars"]
        assert group.attrs["name"] == bn.name
        for i, var in enumerate(("gamma", "beta", "moving_mean", "moving_variance")):
            np.testing.assert_array_equal(group[str(i)][()], getattr(bn, var).numpy())
        assert len(h5["optimizer/vars"]) == 2 + 2 * len(model.trainable_weights)
        assert h5["optimizer/vars/0"][()] == 6


def test_save_weights_and_load_weights_into_a_new_instance(tmp_path):
    model, x, _ = _trained("003")
    model.save_weights(tmp_path / "m.weights.h5")
    other = _seed003()  # other layer names (dense_3, ...): files address layers by position, as Keras 3
    other.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    other.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))
    third = _seed003()
    third.load_weights(tmp_path / "m.weights.h5")  # not compiled: the optimizer part is skipped
    np.testing.assert_array_equal(third.predict(x, verbose=0), model.predict(x, verbose=0))
    model.save(tmp_path / "m.keras")
    fourth = _seed003()
    fourth.load_weights(tmp_path / "m.keras")
    np.testing.assert_array_equal(fourth.predict(x, verbose=0), model.predict(x, verbose=0))


def test_uncompiled_model_and_compile_false(tmp_path):
    model = _seed003()
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.optimizer is None and loaded.built
    trained, x, _ = _trained("003")
    trained.save(tmp_path / "t.keras")
    plain = keras.models.load_model(tmp_path / "t.keras", compile=False)
    assert plain.optimizer is None
    np.testing.assert_array_equal(plain.predict(x, verbose=0), trained.predict(x, verbose=0))


LAYERS = [
    lambda: layers.Dense(7, activation="tanh", use_bias=False, kernel_initializer="he_normal", name="d"),
    lambda: layers.BatchNormalization(axis=-1, momentum=0.9, epsilon=1e-5, center=False, name="bn"),
    lambda: layers.Activation("sigmoid", name="act"),
    lambda: layers.Dropout(0.3, seed=4, name="drop"),
    lambda: layers.Flatten(name="flat"),
]


@pytest.mark.parametrize("make", LAYERS)
def test_every_layer_config_round_trips(make):
    layer = make()
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    entry = keras.layers.serialization.serialize(layer)
    assert entry["module"] == "keras.layers" and entry["class_name"] == type(layer).__name__
    assert keras.layers.serialization.deserialize(json.loads(json.dumps(entry))).get_config() == layer.get_config()


def test_input_layer_and_sequential_config_round_trip():
    inp = layers.InputLayer(shape=(3, 4), name="x")
    again = layers.InputLayer.from_config(inp.get_config())
    assert again.shape == (None, 3, 4) and again.name == "x"
    model = _seed003()
    clone = keras.Sequential.from_config(model.get_config())
    assert clone.built and clone.get_config() == model.get_config()
    assert clone.count_params() == model.count_params()


def test_to_json_and_model_from_json():
    model = _seed003()
    text = model.to_json()
    assert json.loads(text)["class_name"] == "Sequential"
    clone = keras.models.model_from_json(text)
    assert clone.get_config() == model.get_config() and clone.optimizer is None


def test_a_new_layer_class_joins_saving_by_subclassing(tmp_path):
    class Scale(layers.Activation):  # a layer defined outside bnlab, e.g. in a notebook
        pass

    model = keras.Sequential([layers.Dense(3, input_shape=(2,)), Scale("relu")])
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert type(loaded.layers[1]) is Scale


# ---- atomic writes ----
def test_a_failed_save_leaves_the_old_file_whole(tmp_path, monkeypatch):
    model, _, _ = _trained("003")
    path = tmp_path / "m.keras"
    model.save(path)
    before = path.read_bytes()
    written = []
    original = zipfile.ZipFile.writestr

    def fail_after_the_first_member(self, name, data, *args, **kwargs):
        if written:
            raise OSError("disk full (simulated)")
        written.append(name)
        return original(self, name, data, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", fail_after_the_first_member)
    model.fit(*_data("003"), epochs=1, verbose=0)  # the model changes, so a half-written save would show
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert written and path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.keras"]  # no temporary file left behind
    monkeypatch.undo()
    keras.models.load_model(path)


def test_a_failed_weights_save_leaves_the_old_file_whole(tmp_path, monkeypatch):
    from bnlab.keras.saving import weights

    model, _, _ = _trained("003")
    path = tmp_path / "m.weights.h5"
    model.save_weights(path)
    before = path.read_bytes()

    def broken(h5, model, include_optimizer=True):
        h5.create_group("layers")
        raise RuntimeError("interrupted")

    monkeypatch.setattr(weights, "write", broken)
    with pytest.raises(RuntimeError, match="interrupted"):
        model.save_weights(path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["m.weights.h5"]


def test_overwrite_false_and_extensions(tmp_path):
    model = _seed003()
    model.save(tmp_path / "m.keras")
    with pytest.raises(FileExistsError, match=r"m.keras"):
        model.save(tmp_path / "m.keras", overwrite=False)
    with pytest.raises(ValueError, match=r"\.keras"):
        model.save(tmp_path / "m.zip")
    with pytest.raises(ValueError, match="legacy"):
        model.save(tmp_path / "m.h5")
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        model.save_weights(tmp_path / "m.h5")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        model.save(tmp_path / "no" / "m.keras")
    (tmp_path / "d.weights.h5").mkdir()
    with pytest.raises(IsADirectoryError, match="directory"):
        model.save_weights(tmp_path / "d.weights.h5")


# ---- bad files ----
@pytest.fixture
def saved(tmp_path):
    model, x, _ = _trained("003")
    model.save(tmp_path / "m.keras")
    return tmp_path / "m.keras", model, x


def _rewrite(path, members):
    """The archive at ``path`` with some members replaced (bytes) or removed (None)."""
    with zipfile.ZipFile(path) as zf:
        content = {n: zf.read(n) for n in zf.namelist()}
    for name, data in members.items():
        if data is None:
            content.pop(name)
        else:
            content[name] = data
    with zipfile.ZipFile(path, "w") as zf:
        for n, d in content.items():
            zf.writestr(n, d)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothere.keras"):
        keras.models.load_model(tmp_path / "nothere.keras")
    with pytest.raises(FileNotFoundError, match=r"nothere.weights.h5"):
        _seed003().load_weights(tmp_path / "nothere.weights.h5")


def test_corrupt_and_foreign_files(saved, tmp_path):
    path, model, _ = saved
    truncated = tmp_path / "cut.keras"
    truncated.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(ValueError, match=r"cut.keras"):
        keras.models.load_model(truncated)
    text = tmp_path / "notes.keras"
    text.write_text("just some text")
    with pytest.raises(ValueError, match=r"notes.keras is not a .keras file"):
        keras.models.load_model(text)
    model.save_weights(tmp_path / "w.weights.h5")
    with pytest.raises(ValueError, match=r"HDF5 file, not a .keras archive"):
        keras.models.load_model(tmp_path / "w.weights.h5")
    with pytest.raises(ValueError, match="not a readable HDF5"):
        model.load_weights(text.rename(tmp_path / "t.weights.h5"))
    flipped = bytearray(path.read_bytes())
    at = flipped.index(b'"class_name"')
    flipped[at + 3] ^= 0xFF  # a byte of config.json changes: the CRC check must catch it
    (tmp_path / "flip.keras").write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match=r"flip.keras"):
        keras.models.load_model(tmp_path / "flip.keras")


def test_incomplete_archive_and_bad_json(saved):
    path, _, _ = saved
    _rewrite(path, {"config.json": b"{not json"})
    with pytest.raises(ValueError, match=r"config.json is not valid JSON"):
        keras.models.load_model(path)
    _rewrite(path, {"config.json": None})
    with pytest.raises(ValueError, match=r"lacks config.json"):
        keras.models.load_model(path)


def _edit_config(path, edit):
    with zipfile.ZipFile(path) as zf:
        config = json.loads(zf.read("config.json"))
    edit(config)
    _rewrite(path, {"config.json": json.dumps(config).encode()})


def test_unknown_layer_class_and_code_in_configs_are_refused(saved):
    path, _, _ = saved
    _edit_config(path, lambda c: c["config"]["layers"][2].update(class_name="Lambda"))
    with pytest.raises(ValueError, match="unknown layer class 'Lambda'"):
        keras.models.load_model(path)
    _edit_config(path, lambda c: c["config"]["layers"][2].update(class_name="Dense"))
    _edit_config(path, lambda c: c["config"]["layers"][2]["config"].update(kernel_regularizer={"class_name": "L2"}))
    with pytest.raises(ValueError, match="kernel_regularizer"):
        keras.models.load_model(path)


def test_a_sequential_config_labelled_functional_and_subclassed_models_are_refused(saved):
    path, _, _ = saved
    _edit_config(path, lambda c: c.update(class_name="Functional"))
    with pytest.raises(ValueError, match="must be called exactly once"):  # its layers have no inbound nodes
        keras.models.load_model(path)
    _edit_config(path, lambda c: c.update(class_name="MyResNet"))
    with pytest.raises(ValueError, match="subclassed models are not supported"):
        keras.models.load_model(path)


def test_weights_of_the_wrong_shape_name_the_layer(saved, tmp_path):
    _, model, _ = saved
    model.save_weights(tmp_path / "m.weights.h5")
    with h5py.File(tmp_path / "m.weights.h5", "a") as h5:
        del h5["layers/dense_1/vars/0"]
        h5["layers/dense_1/vars/0"] = np.zeros((5, 5), np.float32)
    fresh = _seed003()
    before = fresh.get_weights()
    with pytest.raises(ValueError, match=r"weight dense_\d+/kernel has shape \(32, 16\) in the model but \(5, 5\)"):
        fresh.load_weights(tmp_path / "m.weights.h5")
    for a, b in zip(before, fresh.get_weights(), strict=True):  # nothing was half-loaded
        np.testing.assert_array_equal(a, b)


def test_weights_of_another_architecture_are_refused(saved, tmp_path):
    _, model, _ = saved
    model.save_weights(tmp_path / "m.weights.h5")
    small = keras.Sequential([layers.Flatten(input_shape=(28, 28)), layers.Dense(10)])
    with pytest.raises(ValueError, match="holds layers the model lacks"):
        small.load_weights(tmp_path / "m.weights.h5")
    small_bn = keras.Sequential([layers.Dense(4, input_shape=(3,)), layers.BatchNormalization()])
    small_bn.save_weights(tmp_path / "bn.weights.h5")
    no_beta = keras.Sequential([layers.Dense(4, input_shape=(3,)), layers.BatchNormalization(center=False)])
    with pytest.raises(ValueError, match=r"expects 3 variables \['gamma', 'moving_mean', 'moving_variance'\]"):
        no_beta.load_weights(tmp_path / "bn.weights.h5")


def test_bad_layer_options_name_the_file_and_the_layer(saved):
    path, _, _ = saved
    _edit_config(path, lambda c: c["config"]["layers"][2]["config"].update(activation="gelu"))
    with pytest.raises(
        ValueError, match=r"m\.keras: cannot build layer 'dense\w*' \(Dense\).*Unknown activation 'gelu'"
    ):
        keras.models.load_model(path)


def test_a_config_without_input_shape_is_refused(saved):
    path, _, _ = saved

    def drop_shapes(config):
        config.pop("build_config")
        config["config"].pop("build_input_shape")
        config["config"]["layers"].pop(0)  # the InputLayer

    _edit_config(path, drop_shapes)
    with pytest.raises(ValueError, match="no input shape"):
        keras.models.load_model(path)


def test_tf_style_entry_points(saved):
    import bnlab as tf

    path, model, x = saved
    for load in (tf.keras.models.load_model, tf.keras.saving.load_model):
        np.testing.assert_array_equal(load(path).predict(x, verbose=0), model.predict(x, verbose=0))


def test_flatten_refuses_channels_first_images_it_would_flatten_in_another_order():
    keras.Sequential([layers.Flatten(data_format="channels_first", input_shape=(5,))])  # 1-D: same order
    with pytest.raises(ValueError, match="channels_first"):
        keras.Sequential([layers.Flatten(data_format="channels_first", input_shape=(3, 4, 4))])


def test_one_optimizer_for_two_models_saves_each_models_own_state(tmp_path):
    shared = keras.optimizers.Adam()  # seed 003 compiles both models with one Adam
    first, second = _seed003(), _seed003()
    x, y = _data("003")
    for model, epochs in ((first, 3), (second, 1)):
        model.compile(optimizer=shared, loss="sparse_categorical_crossentropy")
        model.fit(x, y, epochs=epochs, batch_size=32, shuffle=False, verbose=0)
    assert shared.iterations == 12
    second.save(tmp_path / "second.keras")
    loaded = keras.models.load_model(tmp_path / "second.keras")
    assert loaded.optimizer.iterations == 3  # the second model's 3 updates, not the optimizer's 12
    h1 = second.fit(x, y, epochs=1, batch_size=32, shuffle=False, verbose=0).history
    h2 = loaded.fit(x, y, epochs=1, batch_size=32, shuffle=False, verbose=0).history
    assert h1 == h2


def test_frozen_layers_keep_their_weights_and_flag(tmp_path):
    model, x, y = _trained("003")
    model.layers[2].trainable = False  # the first BN: inference mode, no updates
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0, shuffle=False)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.layers[2].trainable is False and len(loaded.trainable_weights) == len(model.trainable_weights)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    h1 = model.fit(x, y, epochs=1, verbose=0, shuffle=False).history
    assert loaded.fit(x, y, epochs=1, verbose=0, shuffle=False).history == h1
