"""The same TensorFlow custom training loop (GradientTape, apply_gradients, BatchNormalization with
training=True) run by real TensorFlow and by bnlab (`import bnlab as tf`): the losses, the trained weights and
BN's moving statistics agree within float32 noise.

Each library runs in its own process (real tf.keras needs KERAS_BACKEND=tensorflow, while the Keras parity
tests of this suite run Keras on torch), from the same initial weights and batches, given in an .npz file.
The loop is SGD, which moves a weight by lr * g: a rounding difference in g (float32, different summation
orders: ~1e-7 relative per op, a few ops deep) stays a rounding difference after 6 steps, hence rtol 1e-5 on
the losses and atol 1e-5 * scale on the weights, 100x above that noise, while a wrong gradient, a moving
statistic updated with the unbiased variance, or a momentum used the other way round (PyTorch's) errs by
1e-2 or more. Skips when TensorFlow is not installed.
"""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

LOOP = r"""
import os, sys
import numpy as np
os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
if sys.argv[1] == "bnlab":
    import bnlab as tf
else:
    import tensorflow as tf

data = np.load(sys.argv[2])
model = tf.keras.Sequential([
    tf.keras.Input(shape=(6,)),
    tf.keras.layers.Dense(8, use_bias=False),
    tf.keras.layers.BatchNormalization(momentum=0.9),
    tf.keras.layers.Activation("relu"),
    tf.keras.layers.Dense(3),
])
model.set_weights([data[f"w{i}"] for i in range(7)])
optimizer = tf.keras.optimizers.SGD(learning_rate=0.1, momentum=float(data["momentum"]))
loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
losses = []
for step in range(6):
    x = tf.constant(data["x"][step * 16 : (step + 1) * 16])
    y = tf.constant(data["y"][step * 16 : (step + 1) * 16])
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    losses.append(float(loss))
np.savez(sys.argv[3], losses=np.array(losses), *model.get_weights())
"""


def _run(lib, data, out):
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-c", LOOP, lib, data, out], env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{lib} loop failed:\n{done.stderr[-3000:]}"
    result = np.load(out)
    return result["losses"], [result[f"arr_{i}"] for i in range(7)]


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="TensorFlow is not installed")
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_a_gradient_tape_loop_with_bn_matches_tensorflow(tmp_path, momentum):
    rng = np.random.default_rng(3)
    weights = [
        rng.normal(0, 0.5, (6, 8)),  # dense kernel (no bias: BN's beta replaces it)
        rng.uniform(0.5, 1.5, 8), rng.normal(0, 0.1, 8),  # gamma, beta
        rng.normal(0, 0.1, 8), rng.uniform(0.5, 1.5, 8),  # moving mean, moving variance
        rng.normal(0, 0.5, (8, 3)), rng.normal(0, 0.1, 3),  # head kernel, bias
    ]  # fmt: skip
    x = rng.normal(1.0, 2.0, (96, 6))
    y = rng.integers(0, 3, 96)
    data = tmp_path / "data.npz"
    np.savez(
        data, x=x.astype(np.float32), y=y.astype(np.int32), momentum=momentum,
        **{f"w{i}": w.astype(np.float32) for i, w in enumerate(weights)},
    )  # fmt: skip
    ours_losses, ours = _run("bnlab", str(data), str(tmp_path / "ours.npz"))
    tf_losses, theirs = _run("tensorflow", str(data), str(tmp_path / "tf.npz"))
    np.testing.assert_allclose(ours_losses, tf_losses, rtol=1e-5)
    assert ours_losses[-1] < ours_losses[0]
    names = ["kernel", "gamma", "beta", "moving_mean", "moving_variance", "head kernel", "head bias"]
    for name, a, b, w0 in zip(names, ours, theirs, weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5 * max(1.0, float(np.abs(b).max())), err_msg=name)
        assert not np.allclose(a, w0), f"{name} did not change"  # every weight trained, every statistic moved
