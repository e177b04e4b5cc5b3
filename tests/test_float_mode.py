"""Denormal floats in the engine: flushed to zero by default (FTZ + DAZ, TensorFlow's choice), kept IEEE-exact
after ``set_flush_denormals(False)`` (PyTorch's default), on both faces, on the engine's worker threads too,
and never leaking into the caller's NumPy arithmetic.

A float32 below 2**-126 ~ 1.18e-38 is denormal; Adam's second moment of a gradient g is (1 - beta_2) g^2 after
one step, so g = 1e-19 gives 1e-41: denormal. With flushing on, the engine writes it as 0.
"""

from __future__ import annotations

import numpy as np
import pytest

import bnlab
import bnlab.torch as bt
from bnlab import config
from bnlab import keras as K

pytestmark = pytest.mark.skipif(not config.flush_denormals_supported(), reason="not an x86-64 CPU")

TINY = np.float32(1e-39)  # denormal: 1e-39 < 2**-126


@pytest.fixture(params=[True, False], ids=["flush", "keep"])
def flush(request):
    previous = config.set_flush_denormals(request.param)
    yield request.param
    config.set_flush_denormals(previous)


def test_flushing_is_the_default():
    assert config.get_flush_denormals() is True


def test_elementwise_kernel(flush):
    n = 1 << 12
    x = bt.full((n,), float(TINY))
    y = (x * 1.0).numpy()
    expected = np.zeros(n, np.float32) if flush else np.full(n, TINY)
    np.testing.assert_array_equal(y, expected)


def test_comparisons_read_a_denormal_as_the_engine_does(flush):
    """Comparisons run in NumPy, outside the engine: with flushing on they still read a denormal input as 0
    (DAZ), so that 0 == 1e-39 agrees with the engine's arithmetic (and with PyTorch after
    set_flush_denormal(True)); with flushing off, IEEE: 1e-39 is not 0."""
    zero, tiny = bt.zeros(3), bt.full((3,), float(TINY))
    assert (zero == tiny).numpy().all() == flush
    assert (tiny > 0).numpy().all() != flush
    assert (tiny == -tiny).numpy().all() == flush
    assert (bt.full((3,), 2e-38) > 1e-38).numpy().all()  # normal values compare as they are, either way
    torch = pytest.importorskip("torch")
    torch.set_flush_denormal(flush)
    try:
        theirs = (torch.zeros(3) == torch.full((3,), float(TINY))).numpy()
    finally:
        torch.set_flush_denormal(False)  # PyTorch's default, which Hypothesis and NumPy need
    np.testing.assert_array_equal((zero == tiny).numpy(), theirs)


def test_normal_values_keep_every_bit(flush):
    rng = np.random.default_rng(0)
    a = rng.standard_normal(10_000).astype(np.float32)
    got = (bt.tensor(a) * 1.5 + 0.25).numpy()
    np.testing.assert_array_equal(got, a * np.float32(1.5) + np.float32(0.25))


def test_torch_adam_second_moment_on_worker_threads(flush):
    # 1M values: the Adam kernel splits them over every engine thread (parts of at least 65536), so each worker's
    # mode is tested; one left in the other mode would return its contiguous part wrong. (New threads inherit
    # the creator's MXCSR, so a pool started during a flushing call would flush in "keep" mode too.)
    g = np.full(1 << 20, 1e-19, np.float32)  # normal; g*g = 1e-38 and (1 - 0.999) g*g = 1e-41 are denormal
    p = bt.nn.Parameter(bt.zeros(g.shape[0]))
    opt = bt.optim.Adam([p], lr=1e-3)
    p.grad = bt.tensor(g)
    opt.step()
    v = opt.state[p]["exp_avg_sq"].numpy()
    m = opt.state[p]["exp_avg"].numpy()
    np.testing.assert_allclose(m, 0.1 * 1e-19, rtol=1e-6)  # a normal value: the same in both modes
    if flush:
        assert not v.any()
    else:
        # Denormal spacing is 2**-149 ~ 1.4e-45; at most three roundings (g*g, the product with 1 - beta_2, the
        # sum with beta_2 * 0) of half a spacing each, plus g*g's own 6e-8 relative: 2.1e-45 of 1e-41.
        np.testing.assert_allclose(v, 0.001 * 1e-38, rtol=2.5e-4)


def test_keras_fit_adam_second_moment(flush):
    # mse on y = 1 with a zero kernel: dL/dw_j = mean_b 2 (0 - 1) x_bj = -2e-19, so v = 0.001 * 4e-38 = 4e-41.
    model = K.Sequential([K.Input((4,)), K.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    model.compile(optimizer=K.optimizers.Adam(), loss="mse")
    x = np.full((8, 4), 1e-19, np.float32)
    y = np.ones((8, 1), np.float32)
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    kernel = model.trainable_weights[0]._tensor
    m, v = (t.numpy() for t in model.optimizer._engine.slots(kernel)[:2])
    np.testing.assert_allclose(m, -2e-20, rtol=1e-5)
    if flush:
        assert not v.any()
    else:
        np.testing.assert_allclose(v, 4e-41, rtol=2.5e-4)  # the rounding bound of the Adam test above


def test_numpy_after_engine_calls_keeps_denormals():
    assert config.get_flush_denormals()
    p = bt.nn.Parameter(bt.ones(1 << 20))
    p.grad = bt.ones(1 << 20)
    bt.optim.Adam([p]).step()  # an engine call on this thread and on the workers
    K.Sequential([K.Input((3,)), K.layers.Dense(2)]).predict(np.ones((4, 3), np.float32), verbose=0)
    assert TINY * np.float32(1.0) == TINY  # this thread's MXCSR came back without FTZ/DAZ


def test_settings_return_the_previous_value_and_are_shared():
    assert config.set_flush_denormals(False) is True
    try:
        assert config.get_flush_denormals() is False
        assert bt.set_flush_denormal(True) is True  # PyTorch's meaning: supported, and set
        assert config.get_flush_denormals() is True
    finally:
        config.set_flush_denormals(True)


@pytest.mark.parametrize("bad", [1, "yes", None, 1.0])
def test_config_setting_must_be_a_bool(bad):
    with pytest.raises(TypeError, match="on must be True or False"):
        config.set_flush_denormals(bad)


@pytest.mark.parametrize("bad", ["yes", None, 1.0])
def test_torch_setting_must_be_a_bool(bad):
    with pytest.raises(TypeError, match="mode must be a bool"):
        bt.set_flush_denormal(bad)


def test_config_is_reachable_from_the_package():
    assert bnlab.config.get_flush_denormals is config.get_flush_denormals
