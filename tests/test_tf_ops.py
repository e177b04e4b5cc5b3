"""The TF face's ops against NumPy references: values, dtypes, shapes and TensorFlow's errors (bnlab/tf/math_ops.py,
unary_ops.py, compare_ops.py, reduce_ops.py, creation.py, shape_ops.py, selection.py, linalg.py, clip_ops.py,
ranking.py, ops.py).

Tolerances come from float32 rounding: an op rounded once is within 1 ulp (``ULP`` = 2^-23 relative) of the exact
value computed in float64; the engine's transcendental functions are within 2 ulps (4 for tanh and sigmoid, which
it computes from exp); a sum of n terms is within ~eps * sqrt(n) * sum(|terms|) (rounding errors of a tree or
sequential sum add up like a random walk), and the bounds below allow a few times that.
"""

import io

import numpy as np
import pytest

import bnlab.tf.ops as tf
from bnlab.tf.errors import InvalidArgumentError

EPS = float(np.finfo(np.float32).eps)
RNG = np.random.default_rng(1234)


def _ref(x):
    return np.asarray(x, dtype=np.float64)


def assert_ulps(t, expected, ulps=1.0, dtype=None):
    """t (a Tensor) within ``ulps`` float32 ulps (relative) of ``expected`` (exact, float64)."""
    dtype = dtype or tf.float32
    a = t.numpy()
    e = _ref(expected)
    assert t.dtype is dtype, t.dtype
    assert a.shape == e.shape, (a.shape, e.shape)
    np.testing.assert_allclose(a, e, rtol=ulps * EPS, atol=0)


def assert_sum_close(t, expected, terms, magnitude):
    """A sum of ``terms`` float32 values whose magnitudes add up to ``magnitude``."""
    bound = 4 * EPS * np.sqrt(terms) * np.asarray(magnitude, np.float64) + 1e-30
    a = t.numpy().astype(np.float64)
    assert t.dtype is tf.float32 and a.shape == np.shape(expected)
    assert np.all(np.abs(a - _ref(expected)) <= bound), (a, expected, bound)


def f32(*shape, low=-3.0, high=3.0):
    return RNG.uniform(low, high, shape).astype(np.float32)


# ---------------------------------------------------------------------------------------------------- arithmetic
@pytest.mark.parametrize(
    ("fn", "ref"),
    [
        (tf.add, np.add),
        (tf.subtract, np.subtract),
        (tf.multiply, np.multiply),
        (tf.divide, np.divide),
        (tf.truediv, np.divide),
        (tf.maximum, np.maximum),
        (tf.minimum, np.minimum),
    ],
)
def test_binary_float_ops_broadcast_and_round_once(fn, ref):
    x, y = f32(3, 4), f32(4, low=0.5, high=2.0)
    assert_ulps(fn(x, y), ref(_ref(x), _ref(y)))
    assert_ulps(fn(tf.constant(x), tf.constant(y)), ref(_ref(x), _ref(y)))


def test_operators_match_the_ops():
    x, y = f32(2, 3), f32(2, 3, low=0.5, high=2.0)
    a, b = tf.constant(x), tf.constant(y)
    assert_ulps(a + b, _ref(x) + y)
    assert_ulps(a - b, _ref(x) - y)
    assert_ulps(a * b, _ref(x) * y)
    assert_ulps(a / b, _ref(x) / y)
    assert_ulps(-a, -_ref(x))
    assert_ulps(abs(a), np.abs(_ref(x)))
    assert_ulps(a**2, _ref(x) ** 2)
    assert_ulps(2.0 - a, 2.0 - _ref(x))
    assert_ulps(1.0 / b, 1.0 / _ref(y))
    np.testing.assert_array_equal((a // b).numpy(), np.floor_divide(x, y))
    np.testing.assert_array_equal((a % b).numpy(), np.remainder(x, y))


def test_python_scalars_adapt_to_the_tensor_dtype():
    i = tf.constant([1, 2, 3])
    assert (i * 2).dtype is tf.int32 and (2 + i).numpy().tolist() == [3, 4, 5]
    assert (tf.constant([1.0]) + 1).dtype is tf.float32
    assert (tf.constant([1], dtype=tf.int64) + np.int32(1)).dtype is tf.int64
    with pytest.raises(TypeError, match=r"Cannot convert 2.5 to EagerTensor of dtype int32"):
        i * 2.5


def test_mixed_dtypes_raise_tensorflows_error():
    a, b = tf.constant([1.0]), tf.constant([1])
    msg = r"cannot compute AddV2 as input #1\(zero-based\) was expected to be a float tensor but is a int32 tensor"
    with pytest.raises(InvalidArgumentError, match=msg + r" \[Op:AddV2\]"):
        a + b
    with pytest.raises(InvalidArgumentError, match=r"cannot compute Mul as input #1.*int32.*float tensor"):
        tf.multiply(b, a)
    with pytest.raises(TypeError, match=r"`x` and `y` must have the same dtype, got tf.float32 != tf.int32."):
        a / b
    with pytest.raises(InvalidArgumentError, match=r"Incompatible shapes: \[2\] vs. \[3\] \[Op:AddV2\]"):
        tf.constant([1.0, 2.0]) + tf.constant([1.0, 2.0, 3.0])
    with pytest.raises(InvalidArgumentError, match="Value for attr 'T' of bool is not in the list"):
        tf.constant([True]) + tf.constant([False])


def test_integer_arithmetic_follows_tensorflow():
    x, y = np.array([7, -7, 7, -7], np.int32), np.array([2, 2, -2, -2], np.int32)
    a, b = tf.constant(x), tf.constant(y)
    np.testing.assert_array_equal((a // b).numpy(), [3, -4, -4, 3])
    np.testing.assert_array_equal((a % b).numpy(), [1, 1, -1, -1])
    q = a / b
    assert q.dtype is tf.float32  # TensorFlow: float64 (bnlab has no float64 tensors)
    np.testing.assert_array_equal(q.numpy(), (x / y).astype(np.float32))
    assert (a * b).dtype is tf.int32 and (a - b).numpy().tolist() == [5, -9, 9, -5]
    with pytest.raises(InvalidArgumentError, match=r"Integer division by zero \[Op:FloorDiv\]"):
        a // tf.constant([1, 0, 1, 1])
    with pytest.raises(InvalidArgumentError, match="Integers to negative integer powers are not allowed"):
        tf.pow(a, -1)
    big = tf.constant([2**31 - 1]) + 1
    assert big.numpy().tolist() == [-(2**31)]  # int32 overflow wraps, as TensorFlow's kernels


def test_floormod_and_floordiv_of_floats_take_the_divisors_sign():
    x = np.array([5.5, -5.5, 5.5, -5.5], np.float32)
    y = np.array([2.0, 2.0, -2.0, -2.0], np.float32)
    np.testing.assert_array_equal(tf.math.floormod(x, y).numpy(), [1.5, 0.5, -0.5, -1.5])
    np.testing.assert_array_equal(tf.math.mod(x, y).numpy(), np.remainder(x, y))
    np.testing.assert_array_equal(tf.math.floordiv(x, y).numpy(), [2.0, -3.0, -3.0, 2.0])


def test_pow_scalar_and_tensor_exponents():
    x = f32(5, low=0.5, high=3.0)
    assert_ulps(tf.pow(x, 3.0), _ref(x) ** 3, ulps=2)
    e = f32(5, low=-2.0, high=2.0)
    assert_ulps(tf.pow(x, e), _ref(x) ** _ref(e), ulps=2)
    assert tf.pow(tf.constant([2, 3]), 2).numpy().tolist() == [4, 9]


def test_maximum_minimum_propagate_nan():
    x = np.array([1.0, np.nan, 3.0], np.float32)
    y = np.array([np.nan, 2.0, 1.0], np.float32)
    np.testing.assert_array_equal(tf.maximum(x, y).numpy(), np.maximum(x, y))
    np.testing.assert_array_equal(tf.minimum(x, y).numpy(), np.minimum(x, y))
    assert tf.maximum(tf.constant([1, 5]), 3).numpy().tolist() == [3, 5]


def test_squared_difference_and_divide_no_nan():
    x, y = f32(4), f32(4)
    assert_ulps(tf.math.squared_difference(x, y), (_ref(x) - _ref(y)) ** 2, ulps=2)
    r = tf.math.divide_no_nan(tf.constant([1.0, 0.0, np.nan]), tf.constant([2.0, 0.0, 0.0]))
    np.testing.assert_array_equal(r.numpy(), [0.5, 0.0, 0.0])


# ---------------------------------------------------------------------------------------------------- unary
@pytest.mark.parametrize(
    ("fn", "ref", "low", "high", "ulps"),
    [
        (tf.exp, np.exp, -5, 5, 2),
        (tf.math.log, np.log, 0.1, 10, 2),
        (tf.math.log1p, np.log1p, -0.5, 5, 2),
        (tf.math.expm1, np.expm1, 0.1, 5, 2),
        (tf.sqrt, np.sqrt, 0.1, 10, 1),
        (tf.math.rsqrt, lambda v: 1 / np.sqrt(v), 0.1, 10, 2),
        (tf.square, np.square, -3, 3, 1),
        (tf.math.reciprocal, lambda v: 1 / v, 0.5, 3, 1),
        (tf.sin, np.sin, 0.1, 3.0, 2),
        (tf.cos, np.cos, -1.4, 1.4, 2),
        (tf.tan, np.tan, -1.2, 1.2, 2),
        (tf.sinh, np.sinh, 0.1, 3, 2),
        (tf.cosh, np.cosh, -3, 3, 2),
        (tf.tanh, np.tanh, 0.1, 3, 4),
        (tf.sigmoid, lambda v: 1 / (1 + np.exp(-v)), -5, 5, 4),
        (tf.math.softplus, lambda v: np.logaddexp(0, v), -20, 20, 4),
        (tf.math.log_sigmoid, lambda v: -np.logaddexp(0, -v), -20, 20, 8),
    ],
)
def test_unary_float_functions(fn, ref, low, high, ulps):
    x = f32(200, low=low, high=high)
    assert_ulps(fn(x), ref(_ref(x)), ulps=ulps)


def test_unary_functions_refuse_integers_where_tensorflow_does():
    with pytest.raises(InvalidArgumentError, match=r"Value for attr 'T' of int32 is not in the list.*Sqrt"):
        tf.sqrt(tf.constant([4]))
    assert tf.abs(tf.constant([-2, 3])).numpy().tolist() == [2, 3]
    assert tf.negative(tf.constant([2], dtype=tf.int64)).dtype is tf.int64
    assert tf.square(tf.constant([3])).numpy().tolist() == [9]


def test_rounding_and_sign():
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.7], np.float32)
    np.testing.assert_array_equal(tf.round(x).numpy(), [-2, -2, -0, 0, 2, 2, 3])  # half to even
    np.testing.assert_array_equal(tf.floor(x).numpy(), np.floor(x))
    np.testing.assert_array_equal(tf.math.ceil(x).numpy(), np.ceil(x))
    np.testing.assert_array_equal(tf.sign(tf.constant([-3.0, 0.0, 2.0])).numpy(), [-1, 0, 1])
    assert tf.sign(tf.constant([-3, 0, 2])).numpy().tolist() == [-1, 0, 1]
    assert tf.round(tf.constant([3])).numpy().tolist() == [3]
    v = tf.constant([1.0, np.nan, np.inf, -np.inf])
    assert tf.math.is_nan(v).numpy().tolist() == [False, True, False, False]
    assert tf.math.is_inf(v).numpy().tolist() == [False, False, True, True]
    assert tf.math.is_finite(v).numpy().tolist() == [True, False, False, False]


# ---------------------------------------------------------------------------------------------------- compare
def test_comparisons_and_logical_ops():
    x, y = f32(3, 4), f32(4)
    for fn, ref in (
        (tf.less, np.less),
        (tf.less_equal, np.less_equal),
        (tf.greater, np.greater),
        (tf.greater_equal, np.greater_equal),
        (tf.equal, np.equal),
        (tf.not_equal, np.not_equal),
    ):
        out = fn(x, y)
        assert out.dtype is tf.bool
        np.testing.assert_array_equal(out.numpy(), ref(x, y))
    a, b = tf.constant([True, True, False]), tf.constant([True, False, False])
    assert tf.logical_and(a, b).numpy().tolist() == [True, False, False]
    assert tf.logical_or(a, b).numpy().tolist() == [True, True, False]
    assert tf.math.logical_xor(a, b).numpy().tolist() == [False, True, False]
    assert tf.logical_not(a).numpy().tolist() == [False, False, True]
    assert (a & b).numpy().tolist() == [True, False, False] and (~a).numpy().tolist() == [False, False, True]
    assert (tf.constant([6]) & 3).numpy().tolist() == [2] and (tf.constant([6]) | 1).numpy().tolist() == [7]
    with pytest.raises(InvalidArgumentError, match=r"cannot compute LogicalAnd as input #0.*bool tensor but is a flo"):
        tf.logical_and(tf.constant([1.0]), tf.constant([True]))


# ---------------------------------------------------------------------------------------------------- reductions
@pytest.mark.parametrize("axis", [None, 0, 1, -1, [0, 2], (1, 2), []])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reduce_sum_and_mean(axis, keepdims):
    x = f32(3, 4, 5)
    ax = None if axis is None else tuple(np.atleast_1d(axis).tolist())
    n = x.size if ax is None else int(np.prod([x.shape[a] for a in ax]))
    ref = np.sum(_ref(x), axis=ax, keepdims=keepdims) if ax != () else _ref(x)
    mag = np.sum(np.abs(_ref(x)), axis=ax, keepdims=keepdims) if ax != () else np.abs(_ref(x))
    assert_sum_close(tf.reduce_sum(x, axis, keepdims=keepdims), ref, n, mag)
    assert_sum_close(tf.reduce_mean(x, axis, keepdims=keepdims), ref / n, n, mag / n)
    assert_sum_close(tf.math.reduce_sum(tf.constant(x), axis=axis, keepdims=keepdims), ref, n, mag)


def test_reduce_extremes_prod_all_any():
    x = f32(3, 4)
    np.testing.assert_array_equal(tf.reduce_max(x, 1).numpy(), x.max(1))
    np.testing.assert_array_equal(tf.reduce_min(x).numpy(), x.min())
    np.testing.assert_array_equal(tf.reduce_max(x, [0, 1], keepdims=True).numpy(), x.max(keepdims=True))
    assert_ulps(tf.reduce_prod(x, 0), np.prod(_ref(x), 0), ulps=4)
    b = np.array([[True, False], [True, True]])
    assert tf.reduce_all(b, 1).numpy().tolist() == [False, True] and tf.reduce_any(b).numpy()
    assert tf.reduce_max(tf.constant([3, 9, 2])).numpy() == 9 and tf.reduce_max(tf.constant([3])).dtype is tf.int32
    assert tf.reduce_max(tf.zeros([0])).numpy() == -np.inf and tf.reduce_min(tf.zeros([2, 0]), 1).numpy().tolist() == [
        np.inf,
        np.inf,
    ]
    assert tf.reduce_sum(tf.zeros([0])).numpy() == 0 and tf.reduce_prod(tf.zeros([0])).numpy() == 1
    with pytest.raises(InvalidArgumentError, match="Value for attr 'T' of bool"):
        tf.reduce_sum(b)
    with pytest.raises(InvalidArgumentError, match=r"Invalid reduction dimension \(2 for input with 2 dimension"):
        tf.reduce_sum(x, 2)


def test_integer_reductions():
    x = tf.constant([[1, 2], [-3, -4]])
    assert tf.reduce_sum(x).dtype is tf.int32 and tf.reduce_sum(x).numpy() == -4
    assert tf.reduce_mean(x, 1).numpy().tolist() == [1, -3]  # integer quotient, truncated toward zero
    assert tf.reduce_mean(tf.constant([1, 2])).numpy() == 1
    assert tf.reduce_prod(x).numpy() == 24


def test_variance_std_logsumexp_norms():
    x = f32(4, 6)
    xd = _ref(x)
    var = np.var(xd, axis=1)
    n = x.shape[1]
    mag = np.mean(xd**2, axis=1) + np.mean(xd, axis=1) ** 2
    assert_sum_close(tf.math.reduce_variance(x, axis=1), var, n, mag)
    assert_sum_close(tf.math.reduce_std(x), np.std(xd), x.size, np.sqrt(np.mean(xd**2)))
    lse = np.log(np.sum(np.exp(xd), axis=0))
    assert_sum_close(tf.reduce_logsumexp(x, 0), lse, x.shape[0], np.abs(lse) + 1)
    assert tf.reduce_logsumexp(tf.constant([-np.inf, -np.inf])).numpy() == -np.inf
    assert_sum_close(tf.math.reduce_euclidean_norm(x, 1), np.linalg.norm(xd, axis=1), n, np.linalg.norm(xd, axis=1))
    with pytest.raises(TypeError, match="Input must be either real or complex"):
        tf.math.reduce_variance(tf.constant([1, 2]))


def test_argmax_argmin_count_nonzero():
    x = np.array([[1.0, 5.0, 5.0], [7.0, 0.0, 7.0]], np.float32)
    am = tf.argmax(x)
    assert am.dtype is tf.int64 and am.numpy().tolist() == [1, 0, 1]  # axis None is axis 0
    assert tf.argmax(x, axis=1).numpy().tolist() == [1, 0]  # the first of equal maxima
    assert tf.argmin(x, 1, output_type=tf.int32).dtype is tf.int32
    assert tf.math.argmin(x, axis=-1).numpy().tolist() == [0, 1]
    assert tf.math.count_nonzero(x).numpy() == 5 and tf.math.count_nonzero(x, 1).dtype is tf.int64
    assert tf.math.count_nonzero(x, 0, keepdims=True, dtype=tf.int32).shape == (1, 3)
    with pytest.raises(TypeError, match=r"output_type must be tf.int32 or tf.int64"):
        tf.argmax(x, output_type=tf.float32)


@pytest.mark.parametrize("exclusive", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_cumsum(axis, exclusive, reverse):
    x = f32(3, 5)
    a = np.moveaxis(_ref(x), axis, -1)
    if reverse:
        a = a[..., ::-1]
    c = np.cumsum(a, axis=-1)
    if exclusive:
        c = np.concatenate([np.zeros_like(c[..., :1]), c[..., :-1]], axis=-1)
    if reverse:
        c = c[..., ::-1]
    ref = np.moveaxis(c, -1, axis)
    mag = np.abs(np.moveaxis(np.cumsum(np.abs(a), axis=-1), -1, axis)).max()
    assert_sum_close(tf.cumsum(x, axis=axis, exclusive=exclusive, reverse=reverse), ref, x.shape[axis], mag)
    i = tf.cumsum(tf.constant([[1, 2, 3]]), axis=1, exclusive=exclusive, reverse=reverse)
    assert i.dtype is tf.int32


def test_add_n():
    xs = [f32(2, 3) for _ in range(4)]
    assert_sum_close(tf.add_n(xs), np.sum([_ref(v) for v in xs], axis=0), 4, np.sum(np.abs(xs), axis=0))
    with pytest.raises(ValueError, match="same dtype and shape"):
        tf.add_n([tf.ones([2]), tf.ones([3])])


# ---------------------------------------------------------------------------------------------------- creation
def test_zeros_ones_fill_eye():
    z = tf.zeros([2, 3])
    assert z.dtype is tf.float32 and z.shape == (2, 3) and not z.numpy().any()
    assert tf.ones((2,), dtype=tf.int64).numpy().tolist() == [1, 1] and tf.ones([2], tf.bool).numpy().all()
    assert tf.zeros_like(tf.constant([1, 2])).dtype is tf.int32
    assert tf.ones_like(tf.constant([1, 2]), dtype=tf.float32).numpy().tolist() == [1.0, 1.0]
    f = tf.fill([2, 2], 7)
    assert f.dtype is tf.int32 and f.numpy().tolist() == [[7, 7], [7, 7]]
    assert tf.fill(tf.constant([3]), 0.5).dtype is tf.float32
    np.testing.assert_array_equal(tf.eye(2, 3).numpy(), np.eye(2, 3))
    assert tf.eye(2, batch_shape=[4]).shape == (4, 2, 2) and tf.eye(3, dtype=tf.int32).dtype is tf.int32
    with pytest.raises(InvalidArgumentError, match="value must be a scalar"):
        tf.fill([2], [1, 2])


def test_range_follows_tensorflow():
    r = tf.range(5)
    assert r.dtype is tf.int32 and r.numpy().tolist() == [0, 1, 2, 3, 4]
    assert tf.range(1, 10, 3).numpy().tolist() == [1, 4, 7] and tf.range(5, 0, -2).numpy().tolist() == [5, 3, 1]
    f = tf.range(0.0, 1.0, 0.3)
    assert f.dtype is tf.float32 and f.shape == (4,)
    np.testing.assert_array_equal(f.numpy(), np.float32(0) + np.arange(4, dtype=np.float32) * np.float32(0.3))
    assert tf.range(3, dtype=tf.float32).dtype is tf.float32 and tf.range(2, dtype=tf.int64).dtype is tf.int64
    assert tf.range(0, 2**40, 2**39).dtype is tf.int64
    with pytest.raises(InvalidArgumentError, match="Requires delta != 0"):
        tf.range(0, 5, 0)
    with pytest.raises(InvalidArgumentError, match="Requires start <= limit when delta > 0: 5/1"):
        tf.range(5, 1)


def test_linspace_ends_exactly_at_stop():
    v = tf.linspace(0.0, 1.0, 7)
    assert v.dtype is tf.float32 and v.shape == (7,) and v.numpy()[-1] == 1.0 and v.numpy()[0] == 0.0
    assert_ulps(v, np.linspace(0, 1, 7), ulps=2)
    assert tf.linspace(2.0, 3.0, 1).numpy().tolist() == [2.0]
    m = tf.linspace([0.0, 10.0], [1.0, 20.0], 3, axis=-1)
    assert m.shape == (2, 3) and m.numpy().tolist() == [[0.0, 0.5, 1.0], [10.0, 15.0, 20.0]]


def test_cast():
    x = tf.constant([-1.7, -0.2, 0.0, 1.9])
    assert tf.cast(x, tf.int32).numpy().tolist() == [-1, 0, 0, 1]  # truncation toward zero
    assert tf.cast(x, tf.bool).numpy().tolist() == [True, True, False, True]
    assert tf.cast(tf.constant([True, False]), tf.float32).numpy().tolist() == [1.0, 0.0]
    assert tf.cast(tf.constant([300]), tf.uint8).numpy().tolist() == [44]
    assert tf.cast(x, tf.float32) is x and tf.cast([1, 2], "float32").dtype is tf.float32


def test_one_hot():
    h = tf.one_hot([0, 2, -1, 3], 3)
    assert h.dtype is tf.float32 and h.numpy().tolist() == [[1, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]]
    h0 = tf.one_hot([1, 0], 2, axis=0)
    assert h0.numpy().tolist() == [[0, 1], [1, 0]]
    hi = tf.one_hot([1], 3, on_value=5, off_value=-1)
    assert hi.dtype is tf.int32 and hi.numpy().tolist() == [[-1, 5, -1]]
    assert tf.one_hot([[1]], 2, dtype=tf.int64).shape == (1, 1, 2)
    with pytest.raises(InvalidArgumentError, match="indices must be an integer tensor"):
        tf.one_hot([0.0], 2)


def test_identity_and_stop_gradient_copy_values():
    x = tf.constant([1.0, 2.0])
    i = tf.identity(x)
    assert i is not x and i.numpy().tolist() == [1.0, 2.0] and tf.stop_gradient(x).numpy().tolist() == [1.0, 2.0]


# ---------------------------------------------------------------------------------------------------- shapes
def test_shape_size_rank():
    x = tf.zeros([2, 3, 4])
    s = tf.shape(x)
    assert s.dtype is tf.int32 and s.numpy().tolist() == [2, 3, 4] and tf.shape(x, out_type=tf.int64).dtype is tf.int64
    assert tf.size(x).numpy() == 24 and tf.rank(x).numpy() == 3 and tf.rank(1.0).numpy() == 0


def test_reshape_expand_squeeze():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    np.testing.assert_array_equal(tf.reshape(x, [4, -1]).numpy(), x.reshape(4, -1))
    np.testing.assert_array_equal(tf.reshape(x, tf.constant([6, 4])).numpy(), x.reshape(6, 4))
    assert tf.reshape(tf.constant(5), [1, 1]).shape == (1, 1)
    with pytest.raises(
        InvalidArgumentError, match="Input to reshape is a tensor with 24 values, but the requested shape has 20"
    ):
        tf.reshape(x, [4, 5])
    with pytest.raises(InvalidArgumentError, match="requested shape requires a multiple of 5"):
        tf.reshape(x, [-1, 5])
    with pytest.raises(InvalidArgumentError, match="Only one input size may be -1, not both 0 and 1"):
        tf.reshape(x, [-1, -1])
    assert tf.expand_dims(x, 0).shape == (1, 2, 3, 4) and tf.expand_dims(x, -1).shape == (2, 3, 4, 1)
    with pytest.raises(InvalidArgumentError, match=r"Tried to expand dim index 4 for tensor with 3 dimensions."):
        tf.expand_dims(x, 4)
    y = tf.zeros([1, 2, 1, 3])
    assert (
        tf.squeeze(y).shape == (2, 3) and tf.squeeze(y, 2).shape == (1, 2, 3) and tf.squeeze(y, [0, -2]).shape == (2, 3)
    )
    with pytest.raises(InvalidArgumentError, match=r"Can not squeeze dim\[1\], expected a dimension of 1, got 2"):
        tf.squeeze(y, 1)


def test_concat_stack_unstack_split():
    a, b = f32(2, 3), f32(2, 2)
    np.testing.assert_array_equal(tf.concat([a, b], axis=1).numpy(), np.concatenate([a, b], 1))
    np.testing.assert_array_equal(tf.concat([a, a], -2).numpy(), np.concatenate([a, a], 0))
    with pytest.raises(
        InvalidArgumentError,
        match=r"ConcatOp : Dimension 1 in both shapes must be equal: shape\[0\] = \[2,3\] vs. shape\[1\] = \[2,2\]",
    ):
        tf.concat([a, b], 0)
    with pytest.raises(
        InvalidArgumentError,
        match=r"cannot compute ConcatV2 as input #1\(zero-based\) was expected to be a float tensor",
    ):
        tf.concat([tf.constant([1.0]), tf.constant([1])], 0)
    np.testing.assert_array_equal(tf.stack([a, a], axis=1).numpy(), np.stack([a, a], 1))
    assert tf.stack([1, 2, 3]).dtype is tf.int32
    with pytest.raises(
        InvalidArgumentError,
        match=r"Shapes of all inputs must match: values\[0\].shape = \[2,3\] != values\[1\].shape = \[2,2\]",
    ):
        tf.stack([a, b])
    parts = tf.unstack(a, axis=1)
    assert len(parts) == 3 and all(p.shape == (2,) for p in parts)
    np.testing.assert_array_equal(parts[2].numpy(), a[:, 2])
    pieces = tf.split(f32(6, 2), 3)
    assert [p.shape for p in pieces] == [(2, 2)] * 3
    sizes = tf.split(np.arange(10), [2, -1, 3])
    assert [p.numpy().tolist() for p in sizes] == [[0, 1], [2, 3, 4, 5, 6], [7, 8, 9]]
    with pytest.raises(InvalidArgumentError, match="Number of ways to split should evenly divide the split dimension"):
        tf.split(f32(5), 2)


def test_transpose_tile_broadcast_to():
    x = f32(2, 3, 4)
    np.testing.assert_array_equal(tf.transpose(x).numpy(), x.T)
    np.testing.assert_array_equal(tf.transpose(x, [1, 0, 2]).numpy(), x.transpose(1, 0, 2))
    with pytest.raises(InvalidArgumentError, match="transpose expects a vector of size 3"):
        tf.transpose(x, [1, 0])
    np.testing.assert_array_equal(tf.tile(x, [1, 2, 3]).numpy(), np.tile(x, (1, 2, 3)))
    with pytest.raises(
        InvalidArgumentError, match="Expected multiples argument to be a vector of length 3 but got length 2"
    ):
        tf.tile(x, [1, 2])
    np.testing.assert_array_equal(tf.broadcast_to([1, 2, 3], [2, 3]).numpy(), [[1, 2, 3], [1, 2, 3]])
    with pytest.raises(InvalidArgumentError, match=r"Incompatible shapes: \[3\] vs. \[2,2\] \[Op:BroadcastTo\]"):
        tf.broadcast_to([1, 2, 3], [2, 2])


# ---------------------------------------------------------------------------------------------------- selection
def test_gather():
    x = f32(4, 3)
    np.testing.assert_array_equal(tf.gather(x, [3, 0, 0]).numpy(), x[[3, 0, 0]])
    np.testing.assert_array_equal(tf.gather(x, [[2, 1]], axis=1).numpy(), np.take(x, [[2, 1]], axis=1))
    np.testing.assert_array_equal(tf.gather(tf.constant([5, 6, 7]), 2).numpy(), 7)
    b = f32(2, 3, 4)
    idx = np.array([[0, 2], [1, 1]])
    ref = np.stack([np.take(b[i], idx[i], axis=0) for i in range(2)])
    np.testing.assert_array_equal(tf.gather(b, idx, batch_dims=1).numpy(), ref)
    ref2 = np.stack([np.take(b[i], idx[i], axis=1) for i in range(2)])
    np.testing.assert_array_equal(tf.gather(b, idx, axis=2, batch_dims=1).numpy(), ref2)
    with pytest.raises(InvalidArgumentError, match=r"indices\[1\] = 4 is not in \[0, 4\) \[Op:GatherV2\]"):
        tf.gather(x, [0, 4])
    with pytest.raises(InvalidArgumentError, match=r"indices\[0\] = -1 is not in \[0, 4\)"):
        tf.gather(x, [-1])


def test_gather_nd_boolean_mask_where():
    x = f32(3, 4)
    np.testing.assert_array_equal(tf.gather_nd(x, [[0, 1], [2, 3]]).numpy(), [x[0, 1], x[2, 3]])
    np.testing.assert_array_equal(tf.gather_nd(x, [[1], [0]]).numpy(), x[[1, 0]])
    with pytest.raises(InvalidArgumentError, match=r"does not index into param shape \[3,4\]"):
        tf.gather_nd(x, [[3, 0]])
    m = x > 0
    np.testing.assert_array_equal(tf.boolean_mask(x, m).numpy(), x[m])
    np.testing.assert_array_equal(tf.boolean_mask(x, [True, False, True]).numpy(), x[[0, 2]])
    np.testing.assert_array_equal(tf.boolean_mask(x, [True, False, True, False], axis=1).numpy(), x[:, [0, 2]])
    with pytest.raises(ValueError, match=r"Shapes \(3,\) and \(2,\) are incompatible"):
        tf.boolean_mask(x, [True, False])
    y = f32(4)
    np.testing.assert_array_equal(tf.where(m, x, y).numpy(), np.where(m, x, y))
    np.testing.assert_array_equal(tf.where(m, x, 0.0).numpy(), np.where(m, x, 0.0))
    w = tf.where(tf.constant([[True, False], [False, True]]))
    assert w.dtype is tf.int64 and w.numpy().tolist() == [[0, 0], [1, 1]]
    assert tf.where(tf.constant([True, False]), tf.constant([1, 2]), tf.constant([3, 4])).numpy().tolist() == [1, 4]
    with pytest.raises(InvalidArgumentError, match=r"cannot compute SelectV2 as input #0.*bool tensor but is a float"):
        tf.where(x, x, x)
    with pytest.raises(ValueError, match=r"x and y must both be non-None or both be None."):
        tf.where(m, x)


def test_reverse_slice_pad_repeat_roll():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_array_equal(tf.reverse(x, [1]).numpy(), x[:, ::-1])
    np.testing.assert_array_equal(tf.reverse(x, [0, -1]).numpy(), x[::-1, ::-1])
    np.testing.assert_array_equal(tf.slice(x, [1, 1], [2, -1]).numpy(), x[1:3, 1:])
    with pytest.raises(InvalidArgumentError, match="Expected begin and size arguments to be 1-D tensors of size 2"):
        tf.slice(x, [1], [1])
    pads = [[1, 0], [2, 1]]
    np.testing.assert_array_equal(tf.pad(x, pads).numpy(), np.pad(x, pads))
    np.testing.assert_array_equal(tf.pad(x, pads, constant_values=-1.0).numpy(), np.pad(x, pads, constant_values=-1))
    np.testing.assert_array_equal(tf.pad(x, pads, "REFLECT").numpy(), np.pad(x, pads, mode="reflect"))
    np.testing.assert_array_equal(tf.pad(x, pads, "symmetric").numpy(), np.pad(x, pads, mode="symmetric"))
    assert tf.pad(tf.constant([1, 2]), [[1, 1]]).numpy().tolist() == [0, 1, 2, 0]
    np.testing.assert_array_equal(tf.repeat(x, 2, axis=0).numpy(), np.repeat(x, 2, axis=0))
    np.testing.assert_array_equal(tf.repeat(x, [1, 0, 2, 1], axis=1).numpy(), np.repeat(x, [1, 0, 2, 1], axis=1))
    np.testing.assert_array_equal(tf.roll(x, 1, 0).numpy(), np.roll(x, 1, 0))
    np.testing.assert_array_equal(tf.roll(x, [1, -1], [0, 1]).numpy(), np.roll(x, (1, -1), (0, 1)))


def test_indexing_follows_tensorflows_rules():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    t = tf.constant(x)
    for key in (
        0,
        -1,
        (1, 2),
        (slice(None), 1),
        (Ellipsis, 2),
        (0, slice(1, None, 2)),
        (None, 0),
        (slice(None, None, -1),),
        (1, Ellipsis, None, 3),
        (slice(5, 9),),
    ):
        np.testing.assert_array_equal(t[key].numpy(), x[key])
    assert t[tf.constant(1), 2, 3].numpy() == x[1, 2, 3] and t[tf.newaxis].shape == (1, 2, 3, 4)
    np.testing.assert_array_equal(t[x > 10].numpy(), x[x > 10])
    np.testing.assert_array_equal(t[tf.constant([True, False])].numpy(), x[[0]])
    assert tf.constant([1, 2, 3])[1:].dtype is tf.int32
    with pytest.raises(InvalidArgumentError, match=r"slice index 2 of dimension 0 out of bounds. \[Op:StridedSlice\]"):
        t[2]
    with pytest.raises(InvalidArgumentError, match="Index out of range using input dim 3; input has only 3 dims"):
        t[0, 0, 0, 0]
    np.testing.assert_array_equal(t[[1, 2]].numpy(), x[1, 2])  # a list is a tuple, as in TensorFlow
    with pytest.raises(
        TypeError,
        match=r"Only integers, slices \(`:`\), ellipsis \(`...`\), tf.newaxis \(`None`\) and scalar tf.int32/tf.int64 "
        r"tensors are valid indices, got \[0, 1\]",
    ):
        t[[0, 1], 0]
    with pytest.raises(ValueError, match="slice step cannot be zero"):
        t[::0]


# ---------------------------------------------------------------------------------------------------- linalg
def test_matmul():
    a, b = f32(3, 4), f32(4, 5)
    k = a.shape[1]
    ref = _ref(a) @ _ref(b)
    mag = np.abs(_ref(a)) @ np.abs(_ref(b))
    assert_sum_close(tf.matmul(a, b), ref, k, mag)
    assert_sum_close(a @ tf.constant(b), ref, k, mag)
    assert_sum_close(tf.matmul(a.T, b, transpose_a=True), ref, k, mag)
    assert_sum_close(tf.matmul(a, b.T, transpose_b=True), ref, k, mag)
    assert_sum_close(tf.linalg.matmul(a.T, b.T, adjoint_a=True, adjoint_b=True), ref, k, mag)
    ba, bb = f32(2, 1, 3, 4), f32(5, 4, 2)
    bref = np.matmul(_ref(ba), _ref(bb))
    assert_sum_close(tf.matmul(ba, bb), bref, 4, np.matmul(np.abs(_ref(ba)), np.abs(_ref(bb))))
    assert tf.matmul(tf.constant([[1, 2]]), tf.constant([[3], [4]])).numpy().tolist() == [[11]]
    with pytest.raises(
        InvalidArgumentError, match=r"Matrix size-incompatible: In\[0\]: \[3,4\], In\[1\]: \[3,4\] \[Op:MatMul\]"
    ):
        tf.matmul(a, a)
    with pytest.raises(InvalidArgumentError, match=r"In\[0\] and In\[1\] has different ndims: \[4\] vs. \[4,5\]"):
        tf.matmul(a[0], b)
    with pytest.raises(InvalidArgumentError, match=r"In\[0\] and In\[1\] ndims must be == 2: 1 \[Op:MatMul\]"):
        tf.matmul(a[0], a[0])
    with pytest.raises(InvalidArgumentError, match=r"In\[1\] ndims must be >= 2: 1 \[Op:BatchMatMulV2\]"):
        tf.matmul(ba, a[0])
    with pytest.raises(
        InvalidArgumentError, match=r"Matrix size-incompatible: In\[0\]: \[2,1,3,4\], In\[1\]: \[2,1,3,4\]"
    ):
        tf.matmul(ba, ba)
    with pytest.raises(InvalidArgumentError, match="cannot compute MatMul as input #1"):
        tf.matmul(tf.constant(a), tf.constant([[1]]))


def test_tensordot_matvec_trace_norm():
    a, b = f32(2, 3, 4), f32(4, 3, 5)
    ref = np.tensordot(_ref(a), _ref(b), axes=[[1, 2], [1, 0]])
    mag = np.tensordot(np.abs(_ref(a)), np.abs(_ref(b)), axes=[[1, 2], [1, 0]])
    assert_sum_close(tf.tensordot(a, b, [[1, 2], [1, 0]]), ref, 12, mag)
    c = f32(4, 6)
    assert_sum_close(tf.tensordot(a, c, 1), np.tensordot(_ref(a), _ref(c), 1), 4, np.tensordot(np.abs(a), np.abs(c), 1))
    m, v = f32(3, 4), f32(4)
    assert_sum_close(tf.linalg.matvec(m, v), _ref(m) @ _ref(v), 4, np.abs(_ref(m)) @ np.abs(_ref(v)))
    sq = f32(3, 3)
    assert_sum_close(tf.linalg.trace(sq), np.trace(_ref(sq)), 3, np.abs(np.diag(sq)).sum())
    x = f32(3, 4)
    xd = _ref(x)
    assert_sum_close(tf.norm(x), np.linalg.norm(xd), x.size, np.linalg.norm(xd))
    assert_sum_close(tf.norm(x, axis=1), np.linalg.norm(xd, axis=1), 4, np.linalg.norm(xd, axis=1))
    assert_sum_close(tf.norm(x, ord=1, axis=0), np.abs(xd).sum(0), 3, np.abs(xd).sum(0))
    np.testing.assert_array_equal(tf.norm(x, ord=np.inf, axis=1).numpy(), np.abs(x).max(1))
    assert_sum_close(tf.norm(x, ord=1, axis=[0, 1]), np.linalg.norm(xd, 1), 3, np.linalg.norm(xd, 1))
    assert_sum_close(
        tf.norm(x, ord="fro", axis=[0, 1], keepdims=True), np.linalg.norm(xd).reshape(1, 1), 12, np.linalg.norm(xd)
    )
    assert_sum_close(
        tf.norm(x, ord=3, axis=1), np.sum(np.abs(xd) ** 3, 1) ** (1 / 3), 4, np.sum(np.abs(xd) ** 3, 1) ** (1 / 3)
    )
    spectral = np.linalg.norm(xd, 2)
    assert_sum_close(tf.norm(x, ord=2, axis=[0, 1]), spectral, 1, spectral)
    with pytest.raises(ValueError, match="'ord' must be a supported vector or matrix norm"):
        tf.norm(x, ord=3, axis=[0, 1])


# ---------------------------------------------------------------------------------------------------- clipping
def test_clip_ops():
    x = f32(3, 4)
    np.testing.assert_array_equal(tf.clip_by_value(x, -1.0, 1.0).numpy(), np.clip(x, -1, 1))
    np.testing.assert_array_equal(
        tf.clip_by_value(x, 2.0, 1.0).numpy(), np.full_like(x, 2.0)
    )  # TF: max(min(t, hi), lo)
    assert tf.clip_by_value(tf.constant([1, 5, 9]), 2, 6).numpy().tolist() == [2, 5, 6]
    n = np.linalg.norm(_ref(x))
    assert_sum_close(tf.clip_by_norm(x, 1.0), _ref(x) / n, x.size, np.abs(_ref(x)) / n)
    small = tf.clip_by_norm(x, 100.0)
    np.testing.assert_allclose(small.numpy(), x, rtol=2 * EPS)
    ys = [f32(2), f32(3)]
    g = np.sqrt(sum(np.sum(_ref(y) ** 2) for y in ys))
    clipped, norm = tf.clip_by_global_norm([ys[0], None, ys[1]], 0.5)
    assert clipped[1] is None
    assert_sum_close(norm, g, 5, g)
    for c, y in zip([clipped[0], clipped[2]], ys, strict=True):
        assert_sum_close(c, _ref(y) * 0.5 / g, 5, np.abs(_ref(y)) * 0.5 / g)


# ---------------------------------------------------------------------------------------------------- ranking
def test_sort_argsort_top_k_in_top_k_confusion_matrix():
    x = np.array([[3.0, 1.0, 3.0, 2.0], [0.0, -1.0, 5.0, 5.0]], np.float32)
    np.testing.assert_array_equal(tf.sort(x).numpy(), np.sort(x))
    np.testing.assert_array_equal(tf.sort(x, direction="DESCENDING").numpy(), -np.sort(-x))
    assert tf.argsort(x).dtype is tf.int32
    np.testing.assert_array_equal(tf.argsort(x, direction="DESCENDING").numpy(), [[0, 2, 3, 1], [2, 3, 0, 1]])
    np.testing.assert_array_equal(tf.argsort(x, axis=0).numpy(), np.argsort(x, axis=0, kind="stable"))
    values, indices = tf.math.top_k(x, 2)
    assert indices.dtype is tf.int32 and indices.numpy().tolist() == [[0, 2], [2, 3]]
    np.testing.assert_array_equal(values.numpy(), [[3, 3], [5, 5]])
    with pytest.raises(InvalidArgumentError, match=r"input must have at least k columns. Had 4, needed 5"):
        tf.math.top_k(x, 5)
    hit = tf.math.in_top_k([1, 3], x, 2)
    assert hit.numpy().tolist() == [False, True]
    assert tf.math.in_top_k([0], [[1.0, 1.0, 1.0]], 1).numpy().tolist() == [True]  # ties at the boundary are in
    cm = tf.math.confusion_matrix([0, 1, 2, 1], [0, 2, 2, 1])
    assert cm.dtype is tf.int32 and cm.numpy().tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
    w = tf.math.confusion_matrix([0, 1], [1, 1], num_classes=3, weights=[0.5, 2.0], dtype=tf.float32)
    assert w.numpy().tolist() == [[0, 0.5, 0], [0, 2, 0], [0, 0, 0]]


def test_print_writes_tensorflows_value_text():
    out = io.StringIO()
    tf.print(tf.constant([[1.5, 2.0], [3.0, 4.0]]), "loss", tf.constant(True), output_stream=out)
    assert out.getvalue() == "[[1.5 2]\n [3 4]] loss 1\n"
    out = io.StringIO()
    tf.print(tf.range(10), output_stream=out, summarize=2)
    assert out.getvalue() == "[0 1 ... 8 9]\n"
