"""Long runs keep their memory flat: resident memory (/proc/self/statm) measured after a warm-up and at the
end stays within 5% over 10,000 training steps of the Keras engine loop, 10,000 steps of a bnlab.torch loop
(autograd and an optimizer), and 200 ``fit`` calls. A leak of one small buffer per step (a tape node, a
gradient, a batch copy: hundreds of bytes to kilobytes) would show as megabytes here.
"""

import os

import numpy as np
import pytest

import bnlab.torch as torch
from bnlab import keras
from bnlab.torch import nn

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux")]
PAGE = os.sysconf("SC_PAGE_SIZE")
TOLERANCE = 0.05


def rss():
    """Resident set size in bytes (the second field of /proc/self/statm, in pages)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def assert_flat(after_warmup, at_end, what):
    growth = (at_end - after_warmup) / after_warmup
    print(
        f"{what}: RSS {after_warmup / 2**20:.1f} MiB after warm-up, {at_end / 2**20:.1f} MiB at the end ({growth:+.2%})"
    )
    assert growth <= TOLERANCE, f"{what}: resident memory grew {growth:.1%} ({after_warmup} -> {at_end} bytes)"


def _data(n, features=8, classes=3):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, features)).astype(np.float32), rng.integers(0, classes, n).astype(np.int32)


def _keras_model():
    model = keras.Sequential(
        [
            keras.Input(shape=(8,)),
            keras.layers.Dense(16),
            keras.layers.BatchNormalization(),
            keras.layers.Activation("relu"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class _Memory(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.by_epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.by_epoch.append(rss())


def test_keras_engine_loop_10000_steps():
    x, y = _data(8000)
    memory = _Memory()
    history = _keras_model().fit(x, y, batch_size=8, epochs=10, verbose=0, callbacks=[memory])  # 1000 steps each
    assert np.isfinite(history.history["loss"]).all()
    assert_flat(memory.by_epoch[0], memory.by_epoch[-1], "keras engine loop, 10,000 steps")


def test_torch_loop_10000_steps_with_autograd_and_an_optimizer():
    torch.manual_seed(0)
    x, y = _data(16 * 100)
    xs, ys = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    after_warmup = None
    for step in range(10_000):
        i = (step % 100) * 16
        optimizer.zero_grad()
        loss = loss_fn(model(xs[i : i + 16]), ys[i : i + 16])
        loss.backward()
        optimizer.step()
        if step == 999:
            after_warmup = rss()
    assert np.isfinite(loss.item())
    assert_flat(after_warmup, rss(), "bnlab.torch loop, 10,000 steps")


def test_200_fit_calls():
    x, y = _data(256)
    model = _keras_model()
    after_warmup = None
    for call in range(200):
        model.fit(x, y, batch_size=32, epochs=1, verbose=0)
        if call == 19:
            after_warmup = rss()
    assert_flat(after_warmup, rss(), "200 fit calls")
