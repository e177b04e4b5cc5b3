"""d2l's TensorFlow chapter on batch normalization ("Dive into Deep Learning", chapter_convolutional-modern/
batch-norm.md, the release whose TensorFlow tab trains with ``d2l.train_ch6``) runs with only the import changed.

The chapter's seven TensorFlow cells are written below as the chapter has them, with ``import bnlab as tf`` for
``import tensorflow as tf``: ``batch_norm`` from scratch, the ``BatchNorm`` layer (``add_weight``, ``call`` with
``training``, ``assign`` of the moving statistics), the LeNet of ``Conv2D``/``BatchNorm``/``AvgPool2D``/``Dense``,
training with ``d2l.train_ch6``, the learned ``gamma``/``beta``, and the concise version with
``tf.keras.layers.BatchNormalization``. The d2l library functions they call (``load_data_fashion_mnist``,
``try_gpu``, ``Timer``, ``TrainCallback``, ``train_ch6``, from d2l/tensorflow.py; d2l's sample code is MIT-0
licensed) are written below as d2l has them too, except ``Animator``, which records the points instead of
plotting them. Runtime: the data are a slice of Debian's Fashion-MNIST (2048 training and 512 test images) and
the training cells run 2 epochs instead of 10.

Numbers compared (see each test): the from-scratch layer and the built-in one give the same losses for the same
initial weights (BatchNormalization with the chapter's momentum 0.9 and eps 1e-5; Keras's defaults are 0.99 and
1e-3), and the moving statistics follow m <- 0.9 m + 0.1 (batch statistic), the variance biased (divided by n).
"""

import time
import types

import numpy as np
import pytest

import bnlab as tf

N_TRAIN, N_TEST = 2048, 512


# --------------------------------------------------------------------- d2l's library (d2l/tensorflow.py)
def try_gpu(i=0):
    """Return gpu(i) if exists, otherwise return cpu()."""
    if len(tf.config.experimental.list_physical_devices("GPU")) >= i + 1:
        return tf.device(f"/GPU:{i}")
    return tf.device("/CPU:0")


class Timer:
    """Record multiple running times."""

    def __init__(self):
        self.times = []
        self.start()

    def start(self):
        self.tik = time.time()

    def stop(self):
        self.times.append(time.time() - self.tik)
        return self.times[-1]

    def avg(self):
        return sum(self.times) / len(self.times)


class Animator:
    """d2l's Animator without the figure: ``add`` records the points as d2l's does (X, Y: one list per line)."""

    last = None

    def __init__(self, xlabel=None, ylabel=None, legend=None, xlim=None, ylim=None, **kwargs):
        self.legend, self.X, self.Y = legend, None, None
        Animator.last = self

    def add(self, x, y):
        if not hasattr(y, "__len__"):
            y = [y]
        n = len(y)
        if not hasattr(x, "__len__"):
            x = [x] * n
        if not self.X:
            self.X = [[] for _ in range(n)]
        if not self.Y:
            self.Y = [[] for _ in range(n)]
        for i, (a, b) in enumerate(zip(x, y, strict=True)):
            if a is not None and b is not None:
                self.X[i].append(a)
                self.Y[i].append(b)


def load_data_fashion_mnist(batch_size, resize=None):
    """Download the Fashion-MNIST dataset and then load it into memory."""
    mnist_train, mnist_test = tf.keras.datasets.fashion_mnist.load_data()
    # Divide all numbers by 255 so that all pixel values are between
    # 0 and 1, add a batch dimension at the last. And cast label to int32
    process = lambda X, y: (tf.expand_dims(X, axis=3) / 255, tf.cast(y, dtype="int32"))  # noqa: E731
    resize_fn = lambda X, y: (tf.image.resize_with_pad(X, resize, resize) if resize else X, y)  # noqa: E731
    return (
        tf.data.Dataset.from_tensor_slices(process(*mnist_train))
        .batch(batch_size)
        .shuffle(len(mnist_train[0]))
        .map(resize_fn),
        tf.data.Dataset.from_tensor_slices(process(*mnist_test)).batch(batch_size).map(resize_fn),
    )


class TrainCallback(tf.keras.callbacks.Callback):
    """A callback to visiualize the training progress."""

    def __init__(self, net, train_iter, test_iter, num_epochs, device_name):
        self.timer = d2l.Timer()
        self.animator = d2l.Animator(
            xlabel="epoch", xlim=[1, num_epochs], legend=["train loss", "train acc", "test acc"]
        )
        self.net = net
        self.train_iter = train_iter
        self.test_iter = test_iter
        self.num_epochs = num_epochs
        self.device_name = device_name

    def on_epoch_begin(self, epoch, logs=None):
        self.timer.start()

    def on_epoch_end(self, epoch, logs):
        self.timer.stop()
        test_acc = self.net.evaluate(self.test_iter, verbose=0, return_dict=True)["accuracy"]
        metrics = (logs["loss"], logs["accuracy"], test_acc)
        self.animator.add(epoch + 1, metrics)
        if epoch == self.num_epochs - 1:
            batch_size = next(iter(self.train_iter))[0].shape[0]
            num_examples = batch_size * tf.data.experimental.cardinality(self.train_iter).numpy()
            print(f"loss {metrics[0]:.3f}, train acc {metrics[1]:.3f}, test acc {metrics[2]:.3f}")
            print(f"{num_examples / self.timer.avg():.1f} examples/sec on {str(self.device_name)}")  # noqa: RUF010 - d2l's


def train_ch6(net_fn, train_iter, test_iter, num_epochs, lr, device):
    """Train a model with a GPU (defined in Chapter 6)."""
    device_name = device._device_name
    strategy = tf.distribute.OneDeviceStrategy(device_name)
    with strategy.scope():
        optimizer = tf.keras.optimizers.SGD(learning_rate=lr)
        loss = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        net = net_fn()
        net.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    callback = TrainCallback(net, train_iter, test_iter, num_epochs, device_name)
    net.fit(train_iter, epochs=num_epochs, verbose=0, callbacks=[callback])
    return net


d2l = types.SimpleNamespace(
    try_gpu=try_gpu,
    Timer=Timer,
    Animator=Animator,
    load_data_fashion_mnist=load_data_fashion_mnist,
    train_ch6=train_ch6,
)


# --------------------------------------------------------------------- the chapter's cells 1 and 2
def batch_norm(X, gamma, beta, moving_mean, moving_var, eps):
    # Compute reciprocal of square root of the moving variance elementwise
    inv = tf.cast(tf.math.rsqrt(moving_var + eps), X.dtype)
    # Scale and shift
    inv *= gamma
    Y = X * inv + (beta - moving_mean * inv)
    return Y


class BatchNorm(tf.keras.layers.Layer):
    def __init__(self, **kwargs):
        super(BatchNorm, self).__init__(**kwargs)  # noqa: UP008 - the chapter's spelling

    def build(self, input_shape):
        weight_shape = [
            input_shape[-1],
        ]
        # The scale parameter and the shift parameter (model parameters) are
        # initialized to 1 and 0, respectively
        self.gamma = self.add_weight(name="gamma", shape=weight_shape, initializer=tf.initializers.ones, trainable=True)
        self.beta = self.add_weight(name="beta", shape=weight_shape, initializer=tf.initializers.zeros, trainable=True)
        # The variables that are not model parameters are initialized to 0
        self.moving_mean = self.add_weight(
            name="moving_mean", shape=weight_shape, initializer=tf.initializers.zeros, trainable=False
        )
        self.moving_variance = self.add_weight(
            name="moving_variance", shape=weight_shape, initializer=tf.initializers.ones, trainable=False
        )
        super(BatchNorm, self).build(input_shape)  # noqa: UP008

    def assign_moving_average(self, variable, value):
        momentum = 0.9
        delta = variable * momentum + value * (1 - momentum)
        return variable.assign(delta)

    @tf.function
    def call(self, inputs, training):
        if training:
            axes = list(range(len(inputs.shape) - 1))
            batch_mean = tf.reduce_mean(inputs, axes, keepdims=True)
            batch_variance = tf.reduce_mean(
                tf.math.squared_difference(inputs, tf.stop_gradient(batch_mean)), axes, keepdims=True
            )
            batch_mean = tf.squeeze(batch_mean, axes)
            batch_variance = tf.squeeze(batch_variance, axes)
            mean_update = self.assign_moving_average(self.moving_mean, batch_mean)
            variance_update = self.assign_moving_average(self.moving_variance, batch_variance)
            self.add_update(mean_update)
            self.add_update(variance_update)
            mean, variance = batch_mean, batch_variance
        else:
            mean, variance = self.moving_mean, self.moving_variance
        output = batch_norm(inputs, moving_mean=mean, moving_var=variance, beta=self.beta, gamma=self.gamma, eps=1e-5)
        return output


# --------------------------------------------------------------------- cells 3 and 6: the two networks
# Recall that this has to be a function that will be passed to `d2l.train_ch6`
# so that model building or compiling need to be within `strategy.scope()` in
# order to utilize the CPU/GPU devices that we have
def net():
    return tf.keras.models.Sequential(
        [
            tf.keras.layers.Conv2D(filters=6, kernel_size=5, input_shape=(28, 28, 1)),
            BatchNorm(),
            tf.keras.layers.Activation("sigmoid"),
            tf.keras.layers.AvgPool2D(pool_size=2, strides=2),
            tf.keras.layers.Conv2D(filters=16, kernel_size=5),
            BatchNorm(),
            tf.keras.layers.Activation("sigmoid"),
            tf.keras.layers.AvgPool2D(pool_size=2, strides=2),
            tf.keras.layers.Flatten(),
            tf.keras.layers.Dense(120),
            BatchNorm(),
            tf.keras.layers.Activation("sigmoid"),
            tf.keras.layers.Dense(84),
            BatchNorm(),
            tf.keras.layers.Activation("sigmoid"),
            tf.keras.layers.Dense(10),
        ]
    )


def concise_net(**bn_args):
    """Cell 6's network (``bn_args`` empty: the chapter's ``BatchNormalization()``)."""
    L = tf.keras.layers
    return tf.keras.models.Sequential(
        [
            L.Conv2D(filters=6, kernel_size=5, input_shape=(28, 28, 1)),
            L.BatchNormalization(**bn_args),
            L.Activation("sigmoid"),
            L.AvgPool2D(pool_size=2, strides=2),
            L.Conv2D(filters=16, kernel_size=5),
            L.BatchNormalization(**bn_args),
            L.Activation("sigmoid"),
            L.AvgPool2D(pool_size=2, strides=2),
            L.Flatten(),
            L.Dense(120),
            L.BatchNormalization(**bn_args),
            L.Activation("sigmoid"),
            L.Dense(84),
            L.BatchNormalization(**bn_args),
            L.Activation("sigmoid"),
            L.Dense(10),
        ]
    )


@pytest.fixture
def small_fashion(fashion, monkeypatch):
    """tf.keras.datasets.fashion_mnist.load_data() returns a slice of Debian's Fashion-MNIST."""
    (xtr, ytr), (xte, yte) = fashion
    part = (xtr[:N_TRAIN], ytr[:N_TRAIN]), (xte[:N_TEST], yte[:N_TEST])
    monkeypatch.setattr(tf.keras.datasets.fashion_mnist, "load_data", lambda: part)
    return part


def _compiled(model):
    model.compile(
        optimizer=tf.keras.optimizers.SGD(learning_rate=1.0),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


# --------------------------------------------------------------------- the tests
def test_the_chapter_runs_whole(small_fashion, capsys):
    # cell 4 (the chapter trains for 10 epochs)
    lr, num_epochs, batch_size = 1.0, 2, 256
    train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size)
    net_scratch = d2l.train_ch6(net, train_iter, test_iter, num_epochs, lr, d2l.try_gpu())
    scratch_curve = Animator.last.Y
    # cell 5
    gamma, beta = tf.reshape(net_scratch.layers[1].gamma, (-1,)), tf.reshape(net_scratch.layers[1].beta, (-1,))
    # cells 6 and 7 (cell 6 redefines net: here concise_net)
    d2l.train_ch6(concise_net, train_iter, test_iter, num_epochs, lr, d2l.try_gpu())
    concise_curve = Animator.last.Y

    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4, lines  # train_ch6's two lines, twice
    for summary, speed in (lines[:2], lines[2:]):
        assert summary.startswith("loss ") and ", train acc " in summary and ", test acc " in summary
        assert speed.endswith(" examples/sec on /CPU:0") or speed.endswith(" examples/sec on /GPU:0")
    for train_loss, train_acc, test_acc in (scratch_curve, concise_curve):
        assert len(train_loss) == num_epochs
        assert train_loss[1] < train_loss[0]  # the loss decreases
        assert train_acc[1] > 0.3 and 0.0 <= test_acc[1] <= 1.0  # chance is 0.1
    assert gamma.shape == (6,) and beta.shape == (6,)
    assert np.abs(gamma.numpy() - 1.0).max() > 1e-3 and np.abs(beta.numpy()).max() > 1e-3  # both were trained
    assert isinstance(net_scratch.layers[1].gamma, tf.Variable)


def test_scratch_and_builtin_batchnorm_give_the_same_training(small_fashion):
    """The same initial weights and batches (unshuffled) through the chapter's BatchNorm (a Python layer: fit runs
    the Python loop) and through the engine's BatchNormalization(momentum=0.9, epsilon=1e-5) (the engine's fit).

    Tolerances. Both compute each step in float32 along different reduction orders: BN's statistics are means over
    m = 256*24*24 = 147456 values per channel in the first layer, whose relative rounding with blocked sums is
    about log2(m) * 2**-24 ~ 1e-6; so one step from equal weights gives losses equal to 1e-6 relative and weights
    equal to 1e-5 of their magnitude (lr 1.0 times gradients that differ by ~1e-6 relative). Over many steps the
    two trajectories drift apart: SGD at lr 1.0 through sigmoids and BN amplifies a 1e-6 difference up to about
    100-fold in 16 steps (over 8 seeds: at most 5e-6 in an epoch's loss, 2e-4 of the weights' magnitude), so
    two epochs are compared to 1e-4 relative in the losses and 1e-3 of the magnitude in the weights; a wrong
    epsilon (Keras's default 1e-3) or momentum (0.99) would be off by far more."""
    (x, y), _ = small_fashion
    x = (x[..., None] / 255).astype(np.float32)
    tf.keras.utils.set_random_seed(1)
    scratch, builtin = _compiled(net()), _compiled(concise_net(momentum=0.9, epsilon=1e-5))
    builtin.set_weights(scratch.get_weights())  # BN's weights: gamma, beta, moving_mean, moving_variance in both

    # one step from equal weights
    first = [
        m.fit(x[:256], y[:256], batch_size=256, epochs=1, verbose=0).history["loss"][0] for m in (scratch, builtin)
    ]
    np.testing.assert_allclose(first[0], first[1], rtol=1e-6)
    for got, want in zip(scratch.get_weights(), builtin.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * max(1.0, float(np.abs(want).max())))

    class Losses(tf.keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seen = []

        def on_train_batch_end(self, batch, logs=None):
            self.seen.append(logs["loss"])  # the running mean over the epoch so far

    runs = []
    for model in (scratch, builtin):
        rec = Losses()
        hist = model.fit(x, y, batch_size=256, epochs=2, shuffle=False, verbose=0, callbacks=[rec])
        runs.append((np.array(rec.seen), hist.history))
    (seen_s, hist_s), (seen_b, hist_b) = runs
    assert len(seen_s) == 2 * N_TRAIN // 256
    np.testing.assert_allclose(seen_s, seen_b, rtol=1e-4)
    np.testing.assert_allclose(hist_s["loss"], hist_b["loss"], rtol=1e-4)
    np.testing.assert_allclose(hist_s["accuracy"], hist_b["accuracy"], atol=2 / N_TRAIN)
    assert hist_s["loss"][1] < hist_s["loss"][0] < first[0]
    for got, want in zip(scratch.get_weights(), builtin.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-3 * max(1.0, float(np.abs(want).max())))
    # inference mode: both normalize with their moving statistics
    np.testing.assert_allclose(scratch.evaluate(x, y, verbose=0), builtin.evaluate(x, y, verbose=0), rtol=1e-3)


def test_moving_statistics_follow_the_formula(small_fashion):
    """After one step on one batch, the first BatchNorm's moving statistics are 0.9 * initial + 0.1 * the batch's
    per-channel mean and biased variance of the first convolution's output (computed before the update)."""
    (x, y), _ = small_fashion
    xb = (x[:128, ..., None] / 255).astype(np.float32)
    model = _compiled(net())
    conv = np.asarray(model.layers[0](xb), dtype=np.float64)  # the engine's Conv2D on the batch, before the step
    mean, var = conv.mean(axis=(0, 1, 2)), conv.var(axis=(0, 1, 2))
    model.fit(xb, y[:128], batch_size=128, epochs=1, shuffle=False, verbose=0)
    bn = model.layers[1]
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.1 * mean, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(bn.moving_variance.numpy(), 0.9 + 0.1 * var, rtol=1e-5)
    assert [v.name for v in bn.non_trainable_weights] == ["moving_mean", "moving_variance"]
    # inference mode normalizes with them: y = gamma (x - mm) / sqrt(mv + eps) + beta
    conv_after = np.asarray(model.layers[0](xb[:4]), dtype=np.float64)
    out = bn(conv_after, training=False).numpy()
    g, b = bn.gamma.numpy(), bn.beta.numpy()
    mm, mv = bn.moving_mean.numpy(), bn.moving_variance.numpy()
    np.testing.assert_allclose(out, g * (conv_after - mm) / np.sqrt(mv + 1e-5) + b, rtol=1e-5, atol=1e-6)


def test_try_gpu_and_the_strategy_scope():
    dev = d2l.try_gpu()
    assert dev._device_name in ("/CPU:0", "/GPU:0")
    strategy = tf.distribute.OneDeviceStrategy(dev._device_name)
    with strategy.scope() as s:
        assert s is strategy and tf.distribute.get_strategy() is strategy
    assert tf.distribute.get_strategy() is not strategy
    assert strategy.num_replicas_in_sync == 1
