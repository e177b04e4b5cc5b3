"""The TF face next to real TensorFlow, where TensorFlow is installed (each test skips itself otherwise, through the
``real_tf`` fixture, so that the test IDs are the same on every machine).

A representative sample: reprs and strs, dtype inference, op values (to float32 rounding: 8 ulps, TensorFlow's
kernels and bnlab's engine round differently), error types and messages, and gradients at the points where the
rules matter (ties of reduce_max, kinks of relu, clip_by_value and maximum, sigmoid cross-entropy at 0).
"""

import numpy as np
import pytest

import bnlab.tf.ops as btf
from bnlab.tf import _record
from bnlab.tf.errors import InvalidArgumentError

EPS = float(np.finfo(np.float32).eps)


@pytest.fixture
def real_tf():
    return pytest.importorskip("tensorflow")


def _close(ours, theirs, terms=1):
    a, b = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=8 * EPS * np.sqrt(terms), atol=8 * EPS * np.sqrt(terms) * np.abs(b).max())


VALUES = [
    [[1.0, 2.0], [3.0, 4.0]],
    [1.0, 2.0],
    1.0,
    [1, 2, 3],
    [[True, False]],
    7,
    [],
]


@pytest.mark.parametrize("value", VALUES, ids=[str(v) for v in VALUES])
def test_reprs_match_tensorflow(real_tf, value):
    ours, theirs = btf.constant(value), real_tf.constant(value)
    assert repr(ours) == repr(theirs)
    assert str(ours) == str(theirs)
    assert str(ours.shape) == str(theirs.shape) and repr(ours.shape) == repr(theirs.shape)
    assert repr(ours.dtype) == repr(theirs.dtype) and str(ours.dtype) == str(theirs.dtype)


def test_variable_repr_matches_tensorflow(real_tf):
    assert repr(btf.Variable([1.0, 2.0])) == repr(real_tf.Variable([1.0, 2.0]))
    assert repr(btf.Variable([[1, 2]], name="w")) == repr(real_tf.Variable([[1, 2]], name="w"))
    assert btf.Variable(1.0, name="x").name == real_tf.Variable(1.0, name="x").name


@pytest.mark.parametrize(
    "value", [1, 2.5, True, 2**40, [1, 2.5], np.float32(1), np.array([1], np.int64), np.array([1], np.int8)]
)
def test_dtype_inference_matches_tensorflow(real_tf, value):
    assert btf.convert_to_tensor(value).dtype.name == real_tf.convert_to_tensor(value).dtype.name


def test_mixed_dtypes_raise_as_tensorflow(real_tf):
    with pytest.raises(real_tf.errors.InvalidArgumentError) as theirs:
        real_tf.constant([1.0]) + real_tf.constant([1])
    with pytest.raises(InvalidArgumentError) as ours:
        btf.constant([1.0]) + btf.constant([1])
    assert str(ours.value).split(" [Op:")[0] in str(theirs.value)
    with pytest.raises(TypeError):
        real_tf.constant([1, 2]) * 2.5
    with pytest.raises(TypeError):
        btf.constant([1, 2]) * 2.5
    with pytest.raises(real_tf.errors.InvalidArgumentError) as theirs:
        real_tf.reshape(real_tf.zeros([2, 3]), [4])
    with pytest.raises(InvalidArgumentError) as ours:
        btf.reshape(btf.zeros([2, 3]), [4])
    assert str(ours.value).split(" [Op:")[0] in str(theirs.value)


def _ops(tf):
    rng = np.random.default_rng(5)
    x = rng.uniform(-3, 3, (4, 5)).astype(np.float32)
    labels = np.array([0, 4, 2, 1])
    return [
        ("reduce_sum", lambda: tf.reduce_sum(x, axis=1), 5),
        ("reduce_mean", lambda: tf.reduce_mean(x), 20),
        ("reduce_max", lambda: tf.reduce_max(x, axis=[0, 1], keepdims=True), 1),
        ("reduce_prod", lambda: tf.reduce_prod(x, 0), 4),
        ("reduce_variance", lambda: tf.math.reduce_variance(x, 0), 4),
        ("reduce_std", lambda: tf.math.reduce_std(x, 1), 5),
        ("reduce_logsumexp", lambda: tf.reduce_logsumexp(x, 1), 5),
        ("int_mean", lambda: tf.reduce_mean(tf.constant([[1, -2], [-3, -4]]), 1), 1),
        ("argmax", lambda: tf.argmax(x), 1),
        ("cumsum", lambda: tf.cumsum(x, 1, exclusive=True, reverse=True), 5),
        ("moments_mean", lambda: tf.nn.moments(x, [0])[0], 4),
        ("moments_var", lambda: tf.nn.moments(x, [0])[1], 4),
        ("batch_norm", lambda: tf.nn.batch_normalization(x, *tf.nn.moments(x, [0]), 0.5, 2.0, 1e-3), 4),
        ("softmax", lambda: tf.nn.softmax(x, axis=0), 4),
        ("log_softmax", lambda: tf.nn.log_softmax(x), 5),
        ("sparse_xent", lambda: tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=x), 5),
        ("sigmoid_xent", lambda: tf.nn.sigmoid_cross_entropy_with_logits(labels=np.ones_like(x), logits=x), 1),
        ("softplus", lambda: tf.math.softplus(x * 10), 1),
        ("elu", lambda: tf.nn.elu(x), 1),
        ("selu", lambda: tf.nn.selu(x), 1),
        ("gelu", lambda: tf.nn.gelu(x), 1),
        ("leaky_relu", lambda: tf.nn.leaky_relu(x), 1),
        ("rsqrt", lambda: tf.math.rsqrt(tf.abs(x) + 0.1), 1),
        ("floormod", lambda: tf.math.floormod(x, 1.3), 1),
        ("floordiv", lambda: tf.math.floordiv(x, 0.7), 1),
        ("int_floordiv", lambda: tf.math.floordiv(tf.constant([7, -7]), tf.constant([-2, 2])), 1),
        ("round", lambda: tf.round(x * 2), 1),
        ("matmul", lambda: tf.matmul(x, x, transpose_b=True), 5),
        ("tensordot", lambda: tf.tensordot(x, x, [[0], [0]]), 4),
        ("norm", lambda: tf.norm(x, ord=1, axis=[0, 1]), 4),
        ("gather", lambda: tf.gather(x, [[3, 0]], axis=1), 1),
        ("gather_nd", lambda: tf.gather_nd(x, [[1, 2], [3, 4]]), 1),
        ("where", lambda: tf.where(x > 0, x, -1.0), 1),
        ("one_hot", lambda: tf.one_hot([0, 3, -1], 3, axis=0), 1),
        ("range", lambda: tf.range(0.0, 2.0, 0.3), 1),
        ("linspace", lambda: tf.linspace(-1.0, 2.0, 7), 1),
        ("top_k", lambda: tf.math.top_k(x, 3).indices, 1),
        ("argsort", lambda: tf.argsort(tf.round(x), direction="DESCENDING"), 1),
        ("clip_by_norm", lambda: tf.clip_by_norm(x, 2.0), 20),
        ("pad", lambda: tf.pad(x, [[1, 0], [0, 2]], "REFLECT"), 1),
        ("slice", lambda: tf.constant(x)[1:, ::-2][..., tf.newaxis], 1),
        ("cast", lambda: tf.cast(x, tf.int32), 1),
        ("tile", lambda: tf.tile(x[:2], [2, 1]), 1),
        ("l2_loss", lambda: tf.nn.l2_loss(x), 20),
    ]


@pytest.mark.parametrize("index", range(len(_ops(btf))), ids=[name for name, _, _ in _ops(btf)])
def test_op_values_match_tensorflow(real_tf, index):
    name, ours_fn, terms = _ops(btf)[index]
    _, theirs_fn, _ = _ops(real_tf)[index]
    ours, theirs = ours_fn(), theirs_fn()
    assert ours.dtype.name == theirs.dtype.name, name
    assert tuple(ours.shape) == tuple(theirs.shape), name
    _close(ours.numpy(), theirs.numpy(), terms)


def test_integer_true_division_differs_only_in_dtype(real_tf):
    ours = btf.constant([1, 2]) / btf.constant([4, 3])
    theirs = real_tf.constant([1, 2]) / real_tf.constant([4, 3])
    assert theirs.dtype.name == "float64" and ours.dtype.name == "float32"  # bnlab has no float64 tensors
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy().astype(np.float32))


GRADIENTS = [
    ("reduce_max_ties", lambda tf, v: tf.reduce_max(v, axis=1)),
    ("reduce_min_all", lambda tf, v: tf.reduce_min(v)),
    ("relu", lambda tf, v: tf.nn.relu(v)),
    ("relu6", lambda tf, v: tf.nn.relu6(v * 3)),
    ("maximum", lambda tf, v: tf.maximum(v, 1.0)),
    ("clip", lambda tf, v: tf.clip_by_value(v, 0.0, 2.0)),
    ("sigmoid_xent", lambda tf, v: tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.ones_like(v), logits=v)),
    ("abs", lambda tf, v: tf.abs(v)),
    ("prod", lambda tf, v: tf.reduce_prod(v, 0)),
    ("mod", lambda tf, v: tf.math.floormod(v, 1.5)),
    ("moments", lambda tf, v: tf.nn.moments(v, [0])[1]),
    ("softplus", lambda tf, v: tf.math.softplus(v)),
    ("norm", lambda tf, v: tf.norm(v + 1.0)),
    ("cumsum", lambda tf, v: tf.cumsum(v, axis=1, reverse=True)),
]
X_GRAD = np.array([[1.0, 2.0, 2.0], [0.0, -1.0, 0.0], [3.0, 3.0, 3.0]], np.float32)


@pytest.mark.parametrize("index", range(len(GRADIENTS)), ids=[name for name, _ in GRADIENTS])
def test_gradients_match_tensorflow(real_tf, index):
    _, fn = GRADIENTS[index]
    tv = real_tf.Variable(X_GRAD)
    with real_tf.GradientTape() as tape:
        y = real_tf.reduce_sum(fn(real_tf, tv))
    theirs = tape.gradient(y, tv).numpy()
    bv = btf.Variable(X_GRAD)
    marker = object()
    _record.push(marker)
    try:
        ours_y = btf.reduce_sum(fn(btf, bv))
    finally:
        _record.pop(marker)
    ours_y._t.backward()
    _close(bv._t.grad.numpy(), theirs, 3)
