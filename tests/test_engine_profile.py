"""The engine's phase timers (bnlab.profile) and the determinism the performance work must keep: the timers
record each GEMM with its shape and FLOPs and nothing when off; a seed-002-shaped fit gives bit-identical
weights run after run at a fixed thread count, profiled or not, and for 1 and 2 threads."""

import numpy as np
import pytest

import bnlab.keras as keras
import bnlab.profile as prof
from bnlab import _core
from bnlab.keras import layers


@pytest.fixture(autouse=True)
def _profiler_off_and_threads_restored():
    threads = _core.get_num_threads()
    yield
    prof.disable()
    prof.reset()
    _core.set_num_threads(threads)


def _fit(threads, profiled=False, seed=3):
    _core.set_num_threads(threads)
    rng = np.random.default_rng(0)
    x = rng.random((300, 48), dtype=np.float32)
    y = rng.integers(0, 10, 300)
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [layers.Input((48,))]
        + [m for u in (64, 32) for m in (layers.Dense(u, activation="relu"), layers.BatchNormalization())]
        + [layers.Dense(10, activation="softmax")]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    if profiled:
        prof.enable()
    hist = model.fit(x, y, batch_size=32, epochs=2, verbose=0).history
    prof.disable()
    return hist, model.get_weights()


def test_profile_records_each_gemm_with_its_shape_and_flops():
    prof.reset()
    _fit(1, profiled=True)
    rows = {(r["phase"], r["m"], r["n"], r["k"], r["trans_a"], r["trans_b"]): r for r in prof.read()}
    steps = 2 * 10  # 300 samples at batch 32: 9 full batches and one of 12, twice
    fwd = rows[("gemm.forward", 32, 64, 48, "N", "N")]
    assert fwd["calls"] == 2 * 9
    assert fwd["flops"] == pytest.approx(2 * 32 * 64 * 48 * fwd["calls"])
    assert fwd["seconds"] > 0 and fwd["gflops"] > 0
    assert rows[("gemm.dweight", 64, 32, 32, "T", "N")]["calls"] == 2 * 9  # dW2 (64, 32) = h1^T (64, B) dout
    assert ("gemm.dinput", 32, 48, 64, "N", "T") not in rows  # the first layer's dx is never asked for
    assert rows[("gemm.dinput", 12, 64, 32, "N", "T")]["calls"] == 2  # the last partial batch
    steps_row = [r for r in prof.read() if r["phase"] == "train_step"]
    assert sum(r["calls"] for r in steps_row) == steps
    assert {"adam", "bn.forward_train", "bn.backward", "relu.forward", "loss.xent", "gather"} <= {
        r["phase"] for r in prof.read()
    }


def test_profile_off_records_nothing_and_reset_forgets():
    prof.reset()
    _fit(1)
    assert prof.read() == []
    _fit(1, profiled=True)
    assert prof.read()
    prof.reset()
    assert prof.read() == []


@pytest.mark.parametrize("threads", [1, 2])
def test_fit_is_bit_identical_run_after_run_profiled_or_not(threads):
    h1, w1 = _fit(threads)
    h2, w2 = _fit(threads, profiled=True)
    assert h1 == h2
    for a, b in zip(w1, w2, strict=True):
        np.testing.assert_array_equal(a, b)
    h3, _ = _fit(threads, seed=4)
    assert h3 != h1
