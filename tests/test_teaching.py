"""bnlab.teaching: every pitfall warning fires through the public API of its face, with its class and an
explanation, and stays silent where the code is right (pytest turns any stray warning into an error)."""

import warnings

import numpy as np
import pytest

import bnlab.keras as keras
import bnlab.torch as bt
from bnlab import teaching
from bnlab.keras import layers
from bnlab.torch import nn

X = np.random.default_rng(0).normal(size=(10, 4)).astype(np.float32)
Y = np.arange(10, dtype=np.int64) % 3


def _keras_model(bn=True, last="softmax", loss="sparse_categorical_crossentropy"):
    stack = [layers.Dense(8, input_shape=(4,))]
    stack += [layers.BatchNormalization()] if bn else []
    model = keras.Sequential([*stack, layers.Activation("relu"), layers.Dense(3, activation=last)])
    model.compile(optimizer="sgd", loss=loss)
    return model


def test_the_classes_form_one_family_and_old_imports_keep_working():
    from bnlab.torch.nn.modules.batchnorm import BatchNormTrainingModeWarning

    assert bt.BatchNormTrainingModeWarning is nn.BatchNormTrainingModeWarning is BatchNormTrainingModeWarning
    assert BatchNormTrainingModeWarning is teaching.BatchNormTrainingModeWarning
    assert issubclass(teaching.BatchNormTrainingModeWarning, teaching.BatchNormPitfallWarning)
    assert issubclass(teaching.BatchNormPitfallWarning, teaching.PitfallWarning)
    assert issubclass(teaching.LossPitfallWarning, teaching.PitfallWarning)
    assert not issubclass(teaching.LossPitfallWarning, teaching.BatchNormPitfallWarning)
    assert issubclass(teaching.PitfallWarning, UserWarning)


# ---- Keras: a batch of one sample through BatchNormalization ----
def test_batch_size_one_with_bn_warns_with_the_formula():
    with pytest.warns(teaching.BatchNormPitfallWarning, match="ONE sample") as caught:
        _keras_model().fit(X, Y, batch_size=1, epochs=1, verbose=0)
    (w,) = caught
    assert w.category is teaching.BatchNormPitfallWarning
    assert "x_hat = (x - mean) / sqrt(0 + epsilon) = 0" in str(w.message)
    assert "Use batch_size >= 8" in str(w.message)
    assert w.filename == __file__  # points at the user's fit call


def test_a_last_batch_of_one_sample_warns_and_says_so():
    with pytest.warns(teaching.BatchNormPitfallWarning, match="the last batch of each epoch has one sample"):
        _keras_model().fit(X[:9], Y[:9], batch_size=4, epochs=1, verbose=0)


@pytest.mark.parametrize(("bn", "n", "batch_size"), [(True, 10, 5), (True, 10, 4), (False, 9, 4), (False, 10, 1)])
def test_no_single_sample_warning_with_larger_batches_or_without_bn(bn, n, batch_size):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _keras_model(bn=bn).fit(X[:n], Y[:n], batch_size=batch_size, epochs=1, verbose=0)


# ---- Keras: from_logits=True after a softmax ----
def test_from_logits_after_softmax_warns_as_a_loss_pitfall():
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with pytest.warns(teaching.LossPitfallWarning, match="from_logits=True") as caught:
        _keras_model(loss=loss).fit(X, Y, batch_size=5, epochs=1, verbose=0)
    (w,) = caught
    assert w.category is teaching.LossPitfallWarning
    assert "second softmax" in str(w.message) and "from_logits=False" in str(w.message)
    assert w.filename == __file__


@pytest.mark.parametrize(
    ("last", "from_logits"), [("softmax", False), (None, True), (None, False)], ids=["probs", "logits", "linear"]
)
def test_no_logits_warning_when_the_loss_fits_the_output(last, from_logits):
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _keras_model(last=last, loss=loss).fit(X, Y, batch_size=5, epochs=1, verbose=0)


# ---- PyTorch: a BatchNorm layer in training mode under no_grad() ----
def test_train_mode_under_no_grad_warns_once_per_layer():
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU())
    x = bt.from_numpy(X)
    with bt.no_grad():
        with pytest.warns(teaching.BatchNormTrainingModeWarning, match=r"model\.eval\(\)") as caught:
            model(x)
        model(x)  # once per layer: a second warning would be an error here
    (w,) = caught
    assert str(w.message).startswith("BatchNorm1d(6) ran in TRAINING mode inside torch.no_grad()")
    assert "OWN mean and variance" in str(w.message) and "running_mean/running_var" in str(w.message)


def test_no_train_mode_warning_in_eval_mode_or_with_gradients():
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6))
    x = bt.from_numpy(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model(x)  # training with gradients: right
        model.eval()
        with bt.no_grad():
            model(x)  # evaluation: right
        untracked = nn.BatchNorm1d(4, track_running_stats=False)
        with bt.no_grad():
            untracked(x)  # no running statistics to corrupt
