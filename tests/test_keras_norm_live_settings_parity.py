"""Every live setting of every normalization layer, set after the model is built and trained, checked against
real Keras 3 (on its torch backend) at the next steps: momentum, epsilon, center, scale, renorm_momentum and
renorm_clipping (replaced and changed in place) of BatchNormalization; epsilon, center, scale of
GroupNormalization and LayerNormalization (whose center and scale Keras 3 reads only at build).

Each case trains the same model in both libraries for one epoch, changes the setting on both, trains another
epoch, and compares every weight and the predictions. It also trains a third model (bnlab, the setting left
alone) to show that the change moved the numbers by far more than the tolerance, so the test cannot pass
by the setting being ignored.

Tolerance, from the computation: the two libraries differ only in summation order. A float32 sum of n terms
carries a relative error of at most about n * 2^-24; the longest reductions here are over the batch of 16
and the 8 units (the BN statistics, the Dense GEMMs, the parameter gradients), chained through a handful of
ops per step: some 10 * 16 * 6e-8 = 1e-5 relative per step. Eight SGD steps at learning rate 0.05 move a
weight by 0.05 * grad each, so the weights' error stays below the per-step relative error times their
size: rtol = 2e-5, with atol = 2e-6 for entries near zero (a bias that starts at 0 moves by ~1e-1).
"""

import os
import warnings

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
pytest.importorskip("torch")
keras3 = pytest.importorskip("keras")
if keras3.backend.backend() != "torch":
    pytest.skip("these parity tests run Keras on its torch backend", allow_module_level=True)

import bnlab.keras as bk  # noqa: E402
from bnlab import teaching  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")

RTOL, ATOL = 2e-5, 2e-6
CLIP = {"rmax": 1.3, "rmin": 0.7, "dmax": 0.5}

CASES = {
    "bn-momentum": (lambda L: L.BatchNormalization(), "momentum", 0.0),
    "bn-epsilon": (lambda L: L.BatchNormalization(), "epsilon", 0.75),
    "bn-center": (lambda L: L.BatchNormalization(), "center", False),
    "bn-scale": (lambda L: L.BatchNormalization(), "scale", False),
    "renorm-momentum": (lambda L: L.BatchNormalization(renorm=True, renorm_clipping=CLIP), "momentum", 0.0),
    "renorm-epsilon": (lambda L: L.BatchNormalization(renorm=True, renorm_clipping=CLIP), "epsilon", 0.75),
    "renorm-renorm_momentum": (
        lambda L: L.BatchNormalization(renorm=True, renorm_clipping=CLIP),
        "renorm_momentum",
        0.0,
    ),
    "renorm-renorm_clipping": (
        lambda L: L.BatchNormalization(renorm=True, renorm_clipping=CLIP),
        "renorm_clipping",
        {"rmax": 1.02, "rmin": 0.98, "dmax": 0.01},
    ),
    "renorm-scale": (lambda L: L.BatchNormalization(renorm=True, renorm_clipping=CLIP), "scale", False),
    "gn-epsilon": (lambda L: L.GroupNormalization(groups=2), "epsilon", 0.75),
    "gn-center": (lambda L: L.GroupNormalization(groups=2), "center", False),
    "gn-scale": (lambda L: L.GroupNormalization(groups=2), "scale", False),
    "ln-epsilon": (lambda L: L.LayerNormalization(), "epsilon", 0.75),
    "ln-center": (lambda L: L.LayerNormalization(), "center", False),
    "ln-scale": (lambda L: L.LayerNormalization(), "scale", False),
}


def _data():
    rng = np.random.default_rng(7)
    x = rng.normal(1.0, 2.0, (64, 5)).astype(np.float32)
    return x, (x @ rng.normal(size=(5, 1)) + 0.5).astype(np.float32)


def _model(lib, make_norm, weights=None):
    if weights is None:  # the starting weights (copied into the other models) are seeded: a test of its own
        bk.utils.set_random_seed(0)
    L = lib.layers
    model = lib.Sequential([L.Input(shape=(5,)), L.Dense(8), make_norm(L), L.Dense(1)])
    if weights is not None:
        model.set_weights(weights)
    model.compile(optimizer=lib.optimizers.SGD(0.05), loss="mse")
    return model


def _epoch(model, x, y):
    with warnings.catch_warnings():  # Keras: "Gradients do not exist for variables" once gamma/beta is off
        warnings.filterwarnings("ignore", message="Gradients do not exist")
        model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)


def _set(layer, setting, value, in_place=False):
    if in_place:  # bn.renorm_clipping["rmax"] = ...: Keras reads the same dict object at every call
        for k, v in value.items():
            layer.renorm_clipping[k] = v
    else:
        setattr(layer, setting, value)


def _assert_close(ours, theirs, what):
    assert [w.name for w in ours.weights] == [w.name for w in theirs.weights]
    for w, a, b in zip(ours.weights, ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=f"{what}: {w.path}")


def _largest_difference(a_model, b_model, x):
    diffs = [np.max(np.abs(a - b)) for a, b in zip(a_model.get_weights(), b_model.get_weights(), strict=True)]
    return max(*diffs, np.max(np.abs(a_model.predict(x, verbose=0) - b_model.predict(x, verbose=0))))


def _run(case, in_place=False):
    make_norm, setting, value = CASES[case]
    x, y = _data()
    ours = _model(bk, make_norm)
    start = ours.get_weights()
    theirs = _model(keras3, make_norm, start)
    control = _model(bk, make_norm, start)
    for m in (ours, theirs, control):
        _epoch(m, x, y)
    _assert_close(ours, theirs, f"{case}, before the change")
    read_at_build = case.startswith("ln-") and setting in ("center", "scale")
    if read_at_build:
        with pytest.warns(teaching.SettingReadAtBuildWarning, match=f"{setting}={value} after the layer was built"):
            _set(ours.layers[1], setting, value, in_place)
    else:
        _set(ours.layers[1], setting, value, in_place)
    _set(theirs.layers[1], setting, value, in_place)
    assert getattr(ours.layers[1], setting) == getattr(theirs.layers[1], setting)
    for m in (ours, theirs, control):
        _epoch(m, x, y)
    _assert_close(ours, theirs, f"{case}, after setting {setting}={value}")
    xt = x[::3]
    np.testing.assert_allclose(
        ours.predict(xt, verbose=0), theirs.predict(xt, verbose=0), rtol=RTOL, atol=10 * ATOL, err_msg="predict"
    )
    return _largest_difference(ours, control, x)


@pytest.mark.parametrize("case", [c for c in CASES if not c.startswith("ln-") or c == "ln-epsilon"])
def test_a_setting_changed_after_build_applies_from_the_next_step_as_in_keras(case):
    moved = _run(case)
    assert moved > 100 * ATOL, f"setting {CASES[case][1]} changed nothing ({moved:.2e}); the test would be vacuous"


@pytest.mark.parametrize("case", ["ln-center", "ln-scale"])
def test_layer_normalization_reads_center_and_scale_at_build_as_keras_does(case):
    assert _run(case) == 0.0  # the same numbers as never changing it, exactly: the engine saw no change


def test_renorm_clipping_changed_in_place_applies_from_the_next_step_as_in_keras():
    moved = _run("renorm-renorm_clipping", in_place=True)
    assert moved > 100 * ATOL


def test_center_or_scale_turned_on_after_a_build_without_the_weight_is_refused_by_name():
    for make in (lambda L: L.BatchNormalization(scale=False), lambda L: L.GroupNormalization(2, scale=False)):
        layer = _model(bk, make).layers[1]
        with pytest.raises(ValueError, match=r"scale=True: the layer .* built with scale=False, so it has no gamma"):
            layer.scale = True
        assert layer.scale is False and [w.name for w in layer.weights][:1] == ["beta"]


def test_bad_renorm_clipping_changes_are_refused_before_anything_changes():
    layer = _model(bk, CASES["renorm-momentum"][0]).layers[1]
    for bad in ({"rmax": 0.5}, {"dmax": -1.0}, {"rmin": float("nan")}, {"r_max": 2.0}):
        with pytest.raises(ValueError, match="renorm_clipping"):
            layer.renorm_clipping = bad
        with pytest.raises(ValueError, match="renorm_clipping"):
            layer.renorm_clipping.update(bad)
        assert layer.renorm_clipping == CLIP
    clip = layer._engine.clip
    assert (clip.rmin, clip.rmax, clip.dmax) == pytest.approx((CLIP["rmin"], CLIP["rmax"], CLIP["dmax"]))
    del layer.renorm_clipping["dmax"]  # a missing key means no clipping
    assert layer._engine.clip.dmax == float("inf")
    with pytest.raises(ValueError, match=r"renorm: the layer .* was created with renorm=True"):
        layer.renorm = False


@pytest.mark.parametrize("setting", ["scale", "center"])
def test_a_weight_turned_off_by_a_callback_during_fit_stops_training_at_once_as_in_keras(setting):
    """The engine's compiled model notices the change at its next step (not at the next fit): the weight keeps
    the value it had when the callback ran, in both libraries, and the rest of the epoch matches."""
    make_norm = CASES[f"bn-{setting}"][0]
    weight = {"scale": "gamma", "center": "beta"}[setting]
    x, y = _data()
    ours = _model(bk, make_norm)
    theirs = _model(keras3, make_norm, ours.get_weights())
    for model, lib in ((ours, bk), (theirs, keras3)):
        bn, seen = model.layers[1], {}

        def turn_off(batch, logs, bn=bn, seen=seen):
            if batch == 1:
                setattr(bn, setting, False)
                seen["value"] = np.array(getattr(bn, weight).numpy(), copy=True)

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Gradients do not exist")
            model.fit(
                x, y, batch_size=8, epochs=1, shuffle=False, verbose=0,
                callbacks=[lib.callbacks.LambdaCallback(on_train_batch_end=turn_off)],
            )  # fmt: skip
        np.testing.assert_array_equal(getattr(bn, weight).numpy(), seen["value"], err_msg=f"{weight} kept training")
    _assert_close(ours, theirs, f"{setting} turned off during fit")
