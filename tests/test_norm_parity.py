"""Parity of the normalisation layers with real PyTorch 2.13 (LayerNorm, GroupNorm: forward and gradients) and
real Keras 3 on its torch backend (LayerNormalization, GroupNormalization, BatchNormalization(renorm=True):
the same weights and data, one fit). Keras 3 has no virtual_batch_size (test_norm_layers.py checks ghost BN
against Keras 2's reshape instead)."""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
torch = pytest.importorskip("torch")
keras3 = pytest.importorskip("keras")
if keras3.backend.backend() != "torch":
    pytest.skip("these parity tests run Keras on its torch backend", allow_module_level=True)

import bnlab.keras as bk  # noqa: E402
import bnlab.torch as bt  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")


def _both(make_ours, make_theirs, x, dout):
    """Forward and backward in bnlab.torch and torch; returns ((y, dx, dw, db) ours, theirs)."""
    out = []
    for lib, make in ((bt, make_ours), (torch, make_theirs)):
        m = make()
        shape = tuple(m.weight.shape)
        with lib.no_grad():
            m.weight.copy_(lib.tensor(np.linspace(0.5, 1.5, m.weight.numel(), dtype=np.float32).reshape(shape)))
            m.bias.copy_(lib.tensor(np.linspace(-1, 1, m.bias.numel(), dtype=np.float32).reshape(shape)))
        xt = lib.tensor(x, requires_grad=True)
        y = m(xt)
        (y * lib.tensor(dout)).sum().backward()
        out.append([t.detach().numpy() for t in (y, xt.grad, m.weight.grad, m.bias.grad)])
    return out


@pytest.mark.parametrize("shape", [(6, 10), (3, 4, 10), (2, 3, 2, 5)])
def test_layer_norm_matches_pytorch(shape):
    rng = np.random.default_rng(0)
    x = rng.normal(1.0, 2.0, shape).astype(np.float32)
    dout = rng.normal(size=shape).astype(np.float32)
    ns = shape[-1:] if len(shape) < 4 else shape[-2:]
    ours, theirs = _both(lambda: bt.nn.LayerNorm(ns), lambda: torch.nn.LayerNorm(ns), x, dout)
    for a, b, name in zip(ours, theirs, ("y", "dx", "dweight", "dbias"), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.parametrize(("shape", "groups"), [((4, 6), 2), ((3, 8, 5), 4), ((2, 6, 3, 3), 2), ((3, 4, 5), 4)])
def test_group_norm_matches_pytorch(shape, groups):
    rng = np.random.default_rng(1)
    x = rng.normal(0.5, 2.0, shape).astype(np.float32)
    dout = rng.normal(size=shape).astype(np.float32)
    C = shape[1]
    ours, theirs = _both(lambda: bt.nn.GroupNorm(groups, C), lambda: torch.nn.GroupNorm(groups, C), x, dout)
    for a, b, name in zip(ours, theirs, ("y", "dx", "dweight", "dbias"), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=name)


def test_functional_forms_and_errors_match_pytorch():
    x = np.random.default_rng(2).normal(size=(2, 6, 4)).astype(np.float32)
    np.testing.assert_allclose(
        bt.nn.functional.layer_norm(bt.tensor(x), (4,)).numpy(),
        torch.nn.functional.layer_norm(torch.tensor(x), (4,)).numpy(),
        rtol=1e-5,
        atol=1e-5,
    )
    np.testing.assert_allclose(
        bt.nn.functional.group_norm(bt.tensor(x), 3).numpy(),
        torch.nn.functional.group_norm(torch.tensor(x), 3).numpy(),
        rtol=1e-5,
        atol=1e-5,
    )
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        bt.nn.functional.group_norm(bt.tensor(x), 4)
    with pytest.raises(ValueError, match="num_channels must be divisible by num_groups"):
        bt.nn.GroupNorm(4, 6)
    with pytest.raises(RuntimeError, match="normalized_shape"):
        bt.nn.functional.layer_norm(bt.tensor(x), (5,))


def _fit_pair(make_layer, x, y):
    """The same small regression model in both Keras faces, one epoch of SGD; returns both models."""
    models = []
    for lib in (bk, keras3):
        L = lib.layers
        models.append(lib.Sequential([L.Input(shape=(x.shape[1],)), L.Dense(8), make_layer(L), L.Dense(1)]))
    ours, theirs = models
    theirs.set_weights(ours.get_weights())
    for m, lib in ((ours, bk), (theirs, keras3)):
        m.compile(optimizer=lib.optimizers.SGD(0.05), loss="mse")
        m.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    return ours, theirs


@pytest.mark.parametrize(
    "make_layer",
    [
        lambda L: L.LayerNormalization(),
        lambda L: L.GroupNormalization(groups=2),
        lambda L: L.BatchNormalization(renorm=True, renorm_clipping={"rmax": 1.2, "rmin": 0.8, "dmax": 0.3}),
    ],
    ids=["LayerNormalization", "GroupNormalization", "renorm"],
)
def test_keras_layers_match_keras3_after_one_fit(make_layer):
    rng = np.random.default_rng(3)
    x = rng.normal(1.0, 2.0, (64, 5)).astype(np.float32)
    y = (x @ rng.normal(size=(5, 1))).astype(np.float32)
    ours, theirs = _fit_pair(make_layer, x, y)
    assert [w.name for w in ours.weights] == [w.name for w in theirs.weights]
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-4, atol=1e-4)
