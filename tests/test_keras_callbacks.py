"""Keras 3's callbacks in bnlab: each against real Keras 3 on the same sequence of logs, then inside fit.

The comparison drives a bnlab callback and a Keras callback with the same fake model (an optimizer with a
learning rate, stop_training, save) and the same logs, and asserts the same learning rates, stops, saved
paths, files and printed messages. Keras parts skip when keras is not installed.
"""

import csv
import math
import os

import numpy as np
import pytest

import bnlab.keras as keras
from bnlab.keras import callbacks, layers

os.environ.setdefault("KERAS_BACKEND", "torch")
try:
    import keras as keras3
except ImportError:
    keras3 = None
needs_keras = pytest.mark.skipif(keras3 is None, reason="keras 3 is not installed")

VAL_LOSS = [1.0, 0.9, 0.95, 0.95, 0.94, 0.97, 0.8, 0.8, 0.81, 0.83, 0.8, 0.79, 0.9, 0.9, 0.9, 0.9]
VAL_ACC = [0.5, 0.6, 0.6, 0.58, 0.61, 0.7, 0.69, 0.69, 0.7, 0.71, 0.72, 0.7, 0.7, 0.7, 0.7, 0.7]
LOGS = [{"loss": v + 0.1, "val_loss": v, "val_accuracy": a} for v, a in zip(VAL_LOSS, VAL_ACC, strict=True)]


class FakeModel:
    """What callbacks use of a model; weights are the epoch count, so restoring shows which epoch."""

    class Optimizer:
        def __init__(self, lr):
            self.learning_rate = lr

    def __init__(self, lr=0.01):
        self.optimizer = self.Optimizer(lr)
        self.stop_training = False
        self.saved = []
        self.tag = 0

    def save(self, filepath, overwrite=True):
        self.saved.append(("model", filepath))

    def save_weights(self, filepath, overwrite=True):
        self.saved.append(("weights", filepath))

    def get_weights(self):
        return [np.array([self.tag])]

    def set_weights(self, weights):
        self.tag = int(weights[0][0])


def _drive(cb, logs_per_epoch, lr=0.01):
    """Run a callback through a fit of len(logs_per_epoch) epochs; returns (model, per-epoch records)."""
    model = FakeModel(lr)
    cb.set_model(model)
    cb.set_params({"epochs": len(logs_per_epoch), "steps": 1, "verbose": 0})
    cb.on_train_begin()
    records = []
    for epoch, epoch_logs in enumerate(logs_per_epoch):
        model.tag = epoch
        cb.on_epoch_begin(epoch)
        logs = dict(epoch_logs)
        cb.on_epoch_end(epoch, logs)
        records.append((float(model.optimizer.learning_rate), logs, model.stop_training))
        if model.stop_training:
            break
    cb.on_train_end()
    return model, records


def _compare(make, logs_per_epoch, capsys, lr=0.01):
    """The same run in both frameworks: records, saved files, final weights and printed text must agree."""
    ours_model, ours = _drive(make(callbacks), logs_per_epoch, lr)
    ours_out = capsys.readouterr().out
    theirs_model, theirs = _drive(make(keras3.callbacks), logs_per_epoch, lr)
    theirs_out = capsys.readouterr().out
    assert ours == theirs
    assert ours_model.saved == theirs_model.saved and ours_model.tag == theirs_model.tag
    assert ours_out == theirs_out
    return ours, ours_out


def _losses(values):
    return [{"loss": v + 0.1, "val_loss": v} for v in values]


@needs_keras
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"patience": 2, "factor": 0.5, "verbose": 1},
        {"patience": 1, "cooldown": 2, "min_lr": 0.004, "verbose": 1},
        {"patience": 1, "min_delta": 0.05, "factor": 0.2},
        {"monitor": "val_accuracy", "mode": "max", "patience": 1, "verbose": 1},
        {"monitor": "loss", "patience": 3, "min_lr": 1e-3, "factor": 0.3},
    ],
)
def test_reduce_lr_on_plateau_matches_keras(kwargs, capsys):
    logs = LOGS
    records, out = _compare(lambda m: m.ReduceLROnPlateau(**kwargs), logs, capsys)
    # The logs carry the rate the epoch trained with (before this epoch's reduction), as Keras 3's do.
    trained_with = [0.01] + [rec[0] for rec in records[:-1]]
    assert [rec[1]["learning_rate"] for rec in records] == trained_with
    if kwargs.get("verbose"):
        assert "ReduceLROnPlateau reducing learning rate to" in out


@needs_keras
@pytest.mark.parametrize(
    "kwargs",
    [
        {"patience": 2, "verbose": 1},
        {"patience": 1, "min_delta": 0.02, "restore_best_weights": True, "verbose": 1},
        {"monitor": "val_accuracy", "mode": "max", "patience": 2, "restore_best_weights": True, "verbose": 1},
        {"patience": 3, "baseline": 0.85, "verbose": 1},
        {"patience": 1, "start_from_epoch": 4, "verbose": 1},
    ],
)
def test_early_stopping_matches_keras(kwargs, capsys):
    logs = LOGS
    _compare(lambda m: m.EarlyStopping(**kwargs), logs, capsys)


@needs_keras
@pytest.mark.parametrize(
    "kwargs",
    [
        {"filepath": "ckpt/{epoch:02d}-{val_loss:.2f}.keras", "verbose": 1},
        {"filepath": "best.keras", "save_best_only": True, "verbose": 1},
        {"filepath": "best.weights.h5", "save_best_only": True, "save_weights_only": True, "verbose": 1},
        {"filepath": "acc.keras", "monitor": "val_accuracy", "mode": "max", "save_best_only": True, "verbose": 1},
        {"filepath": "t.keras", "save_best_only": True, "initial_value_threshold": 0.85, "verbose": 1},
    ],
)
def test_model_checkpoint_matches_keras(kwargs, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    logs = LOGS[:11]
    _compare(lambda m: m.ModelCheckpoint(**kwargs), logs, capsys)


@needs_keras
def test_model_checkpoint_every_n_batches_matches_keras(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    saved = []
    for lib in (callbacks, keras3.callbacks):
        model = FakeModel()
        cb = lib.ModelCheckpoint("e{epoch}-b{batch}-{loss:.3f}.keras", save_freq=3, verbose=1)
        cb.set_model(model)
        cb.on_train_begin()
        for epoch in range(3):
            cb.on_epoch_begin(epoch)
            for batch in range(5):
                cb.on_train_batch_end(batch, {"loss": 1.0 / (1 + epoch * 5 + batch)})
            cb.on_epoch_end(epoch, {"loss": 0.1})
        saved.append((model.saved, capsys.readouterr().out))
    assert saved[0] == saved[1] and len(saved[0][0]) == 5


@needs_keras
def test_learning_rate_scheduler_matches_keras(capsys):
    def schedule(epoch, lr):
        return lr if epoch < 3 else lr * math.exp(-0.1)

    records, out = _compare(lambda m: m.LearningRateScheduler(schedule, verbose=1), _losses(VAL_LOSS[:6]), capsys)
    assert [r[0] for r in records][:3] == [0.01] * 3 and records[5][0] == pytest.approx(0.01 * math.exp(-0.3))
    assert "Epoch 4: LearningRateScheduler setting learning rate to" in out
    _compare(lambda m: m.LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1)), _losses(VAL_LOSS[:4]), capsys)


@needs_keras
def test_csv_logger_matches_keras(tmp_path, capsys):
    logs = [{"loss": 0.5 / (e + 1), "accuracy": 0.5 + e / 10, "learning_rate": 0.01} for e in range(4)]
    texts = {}
    for lib in (callbacks, keras3.callbacks):
        path = tmp_path / f"{lib.__name__}.csv"
        _drive(lib.CSVLogger(path, separator=";"), logs[:2])
        _drive(lib.CSVLogger(path, separator=";", append=True), logs[2:])
        texts[lib] = path.read_text()
    assert texts[callbacks] == texts[keras3.callbacks]
    rows = list(csv.reader(texts[callbacks].splitlines(), delimiter=";"))
    assert rows[0] == ["epoch", "accuracy", "learning_rate", "loss", "val_accuracy", "val_learning_rate", "val_loss"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "0", "1"] and rows[1][4] == "NA"


@needs_keras
def test_terminate_on_nan_matches_keras(capsys):
    outcomes = []
    for lib in (callbacks, keras3.callbacks):
        model = FakeModel()
        cb = lib.TerminateOnNaN()
        cb.set_model(model)
        cb.on_train_batch_end(0, {"loss": 0.3})
        first = model.stop_training
        cb.on_train_batch_end(1, {"loss": float("inf")})
        outcomes.append((first, model.stop_training, capsys.readouterr().out))
        strict = lib.TerminateOnNaN(raise_error=True)
        strict.set_model(model)
        with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 4"):
            strict.on_train_batch_end(4, {"loss": float("nan")})
    assert outcomes[0] == outcomes[1] == (False, True, "Batch 1: Invalid loss, terminating training\n")


# ---- inside a real bnlab fit ----
def _model(optimizer="adam"):
    model = keras.Sequential(
        [layers.Dense(8, input_shape=(4,)), layers.BatchNormalization(), layers.Activation("relu"), layers.Dense(3)]
    )
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


RNG = np.random.default_rng(5)
X, Y = RNG.normal(size=(64, 4)).astype(np.float32), RNG.integers(0, 3, 64)
XV, YV = RNG.normal(size=(32, 4)).astype(np.float32), RNG.integers(0, 3, 32)


def test_model_checkpoint_in_fit_keeps_the_best_model(tmp_path):
    model = _model()
    best = tmp_path / "best.keras"
    cb = callbacks.ModelCheckpoint(best, save_best_only=True)
    every = callbacks.ModelCheckpoint(tmp_path / "all" / "{epoch:02d}-{val_loss:.2f}.keras")
    history = model.fit(X, Y, epochs=4, validation_data=(XV, YV), verbose=0, callbacks=[cb, every]).history
    assert sorted(os.listdir(tmp_path / "all")) == [
        f"{e + 1:02d}-{v:.2f}.keras" for e, v in enumerate(history["val_loss"])
    ]
    loaded = keras.models.load_model(best)
    assert loaded.evaluate(XV, YV, verbose=0) == pytest.approx(min(history["val_loss"]), rel=1e-6)


def test_model_checkpoint_every_n_batches(tmp_path):
    model = _model()
    cb = callbacks.ModelCheckpoint(tmp_path / "e{epoch}-b{batch}.weights.h5", save_weights_only=True, save_freq=3)
    model.fit(X, Y, epochs=2, batch_size=16, verbose=0, callbacks=[cb])  # 4 batches an epoch, a save every 3
    assert sorted(os.listdir(tmp_path)) == ["e1-b3.weights.h5", "e2-b2.weights.h5"]


def test_reduce_lr_on_plateau_changes_the_engine_learning_rate():
    model = _model(keras.optimizers.SGD(1e-9))  # nothing improves: a reduction after each `patience` epochs
    cb = callbacks.ReduceLROnPlateau(monitor="loss", patience=1, factor=0.5, min_delta=1.0)
    history = model.fit(X, Y, epochs=4, verbose=0, callbacks=[cb]).history
    assert history["learning_rate"] == pytest.approx([1e-9, 1e-9, 5e-10, 2.5e-10], rel=1e-6)  # before reducing
    assert model.optimizer._engine.learning_rate == pytest.approx(1.25e-10, rel=1e-6)


def test_learning_rate_scheduler_drives_training():
    model = _model(keras.optimizers.SGD(0.1))
    trainable = lambda: [w.numpy().copy() for w in model.trainable_weights]  # noqa: E731
    before = trainable()
    cb = callbacks.LearningRateScheduler(lambda epoch, lr: 0.0 if epoch == 1 else 0.1)
    seen = []
    spy = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(trainable()))
    history = model.fit(X, Y, epochs=2, shuffle=False, verbose=0, callbacks=[cb, spy]).history
    assert history["learning_rate"] == [pytest.approx(0.1), 0.0]
    assert not np.array_equal(seen[0][0], before[0])
    for a, b in zip(seen[0], seen[1], strict=True):  # lr 0 in the second epoch: no weight moved
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="should be a float"):
        model.fit(X, Y, epochs=1, verbose=0, callbacks=[callbacks.LearningRateScheduler(lambda e, lr: 1)])


def test_csv_logger_in_fit_writes_the_history(tmp_path):
    model = _model()
    history = model.fit(
        X, Y, epochs=3, validation_data=(XV, YV), verbose=0, callbacks=[callbacks.CSVLogger(tmp_path / "log.csv")]
    ).history
    rows = list(csv.DictReader((tmp_path / "log.csv").read_text().splitlines()))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert [float(r["val_loss"]) for r in rows] == history["val_loss"]


def test_terminate_on_nan_stops_fit_at_the_bad_batch(capsys):
    model = _model()
    x = X.copy()
    x[20] = np.nan  # batch 0 (samples 0-15) is fine; batch 1 carries the NaN
    history = model.fit(x, Y, epochs=3, batch_size=16, shuffle=False, verbose=0, callbacks=[callbacks.TerminateOnNaN()])
    assert "Batch 1: Invalid loss, terminating training" in capsys.readouterr().out
    assert len(history.history["loss"]) == 1 and math.isnan(history.history["loss"][0])
    assert model.optimizer.iterations == 2


def test_progress_line_shows_the_learning_rate_as_keras_does(capsys):
    model = _model(keras.optimizers.SGD(1e-4))
    cb = callbacks.LearningRateScheduler(lambda epoch, lr: lr)
    model.fit(X, Y, epochs=1, verbose=2, callbacks=[cb])
    assert capsys.readouterr().out.rstrip().endswith("learning_rate: 1.0000e-04")  # Keras's e-notation below 1e-3
