"""The TF face's tensors, dtypes, shapes, variables, devices and ``tf.config`` (bnlab/tf/tensor.py, dtypes.py,
tensor_shape.py, variables.py, device.py, bnlab/config.py).

Reprs are compared with exact strings, those TensorFlow 2.21 prints (NumPy's repr of the array; for a scalar, the
repr of its Python value). Where TensorFlow is installed, ``test_tf_parity.py`` checks the same strings against it.
"""

import copy
import importlib
import pickle

import numpy as np
import pytest

import bnlab.config as config
import bnlab.tf.ops as tf
import bnlab.torch as torch
from bnlab.tf import _record, dtypes
from bnlab.tf.errors import InvalidArgumentError


# ---------------------------------------------------------------------------------------------------- dtypes
def test_dtype_objects_print_and_compare_as_tensorflow():
    assert repr(tf.float32) == "tf.float32"
    assert str(tf.float32) == "<dtype: 'float32'>"
    assert tf.float32 == "float32" and tf.float32 == np.float32 and tf.float32 == tf.as_dtype("float")
    assert tf.float32 != tf.int32 and tf.float32 != "int32" and tf.float32 != object()
    assert tf.double is tf.float64 and tf.half is tf.float16
    assert tf.float32.as_numpy_dtype is np.float32 and tf.bool.as_numpy_dtype is np.bool_
    assert tf.float32.is_floating and not tf.float32.is_integer
    assert tf.int8.is_integer and tf.uint8.is_unsigned and tf.bool.is_bool
    assert tf.int32.min == -(2**31) and tf.uint8.max == 255 and tf.float32.max == np.finfo(np.float32).max
    assert tf.float32.size == 4 and tf.float32.as_datatype_enum == 1 and tf.int64.as_datatype_enum == 9
    assert {tf.float32: 1}[tf.as_dtype(np.dtype("float32"))] == 1
    assert pickle.loads(pickle.dumps(tf.int16)) is tf.int16


def test_as_dtype_accepts_names_numpy_and_python_types():
    assert tf.as_dtype("int64") is tf.int64
    assert tf.as_dtype(np.int8) is tf.int8
    assert tf.as_dtype(float) is tf.float32 and tf.as_dtype(bool) is tf.bool and tf.as_dtype(int) is tf.int32
    assert tf.as_dtype(torch.int64) is tf.int64
    with pytest.raises(TypeError, match="Cannot convert the argument `type_value`: 'complex7' to a TensorFlow DType"):
        tf.as_dtype("complex7")


@pytest.mark.parametrize("dtype", [tf.float64, "float64", tf.float16, np.float64])
def test_float64_and_float16_data_is_refused_naming_dtype(dtype):
    with pytest.raises(TypeError, match=r"dtype=tf\.float(64|16): bnlab's TF face computes in float32.*tf\.float32"):
        tf.constant([1.0, 2.0], dtype=dtype)
    with pytest.raises(TypeError, match=r"dtype=tf.float"):
        tf.cast(tf.constant(1.0), dtype)
    with pytest.raises(TypeError, match=r"dtype=tf.float"):
        tf.zeros([2], dtype=dtype)
    with pytest.raises(TypeError, match=r"dtype=tf.float"):
        tf.Variable([1.0], dtype=dtype)


def test_unsigned_wide_types_are_refused():
    with pytest.raises(TypeError, match=r"dtype=tf\.uint32: bnlab's TF face holds float32, int8"):
        tf.constant([1], dtype=tf.uint32)


def test_dtypes_cast_is_tf_cast():
    assert dtypes.cast is tf.cast


# ---------------------------------------------------------------------------------------------------- conversion
@pytest.mark.parametrize(
    ("value", "dtype"),
    [
        (1.0, tf.float32),
        (1, tf.int32),
        (2**40, tf.int64),
        (True, tf.bool),
        ([1, 2], tf.int32),
        ([1, 2.5], tf.float32),
        ([[True], [False]], tf.bool),
        ([], tf.float32),
        (np.float32(1), tf.float32),
        (np.array([1.0]), tf.float32),  # float64 data becomes float32 (the engine computes in float32)
        (np.array([1.0], np.float16), tf.float32),
        (np.array([1], np.int64), tf.int64),
        (np.array([1], np.int32), tf.int32),
        (np.array([1], np.int8), tf.int8),
        (np.array([1], np.uint8), tf.uint8),
        (np.array([1], np.uint16), tf.int32),
        (np.int64(3), tf.int64),
    ],
)
def test_convert_to_tensor_infers_tensorflows_dtypes(value, dtype):
    t = tf.convert_to_tensor(value)
    assert t.dtype is dtype
    np.testing.assert_array_equal(t.numpy(), np.asarray(value).astype(dtype.as_numpy_dtype))


def test_convert_to_tensor_with_dtype_follows_tensorflows_compatibility_rule():
    assert tf.convert_to_tensor(1, dtype=tf.float32).numpy() == np.float32(1)
    assert tf.convert_to_tensor(np.array([1.5]), dtype=tf.float32).dtype is tf.float32
    assert tf.convert_to_tensor(np.int64(7), dtype=tf.int8).numpy() == 7
    with pytest.raises(TypeError, match=r"Cannot convert 1.5 to EagerTensor of dtype int32"):
        tf.convert_to_tensor(1.5, dtype=tf.int32)
    with pytest.raises(TypeError, match="Cannot convert 1 to EagerTensor of dtype bool"):
        tf.convert_to_tensor(1, dtype=tf.bool)
    assert tf.convert_to_tensor(True, dtype=tf.float32).numpy() == 1.0 and tf.constant(True, tf.int32).numpy() == 1
    cast = tf.convert_to_tensor(np.array([1.7, -1.7]), dtype=tf.int32)  # NumPy data is cast, truncating
    assert cast.dtype is tf.int32 and cast.numpy().tolist() == [1, -1]
    t = tf.constant([1, 2])
    with pytest.raises(ValueError, match="Tensor conversion requested dtype float32 for Tensor with dtype int32"):
        tf.convert_to_tensor(t, dtype=tf.float32)
    assert tf.convert_to_tensor(t) is t
    assert tf.convert_to_tensor(1, dtype_hint=tf.float32).dtype is tf.float32
    assert tf.convert_to_tensor(1.5, dtype_hint=tf.int32).dtype is tf.float32  # a hint that does not fit is dropped


def test_convert_to_tensor_refuses_what_tensorflow_refuses():
    with pytest.raises(ValueError, match=r"Attempt to convert a value \(None\) with an unsupported type"):
        tf.convert_to_tensor(None)
    with pytest.raises(ValueError, match=r"Can't convert non-rectangular Python sequence to Tensor."):
        tf.convert_to_tensor([[1, 2], [3]])
    with pytest.raises(TypeError, match="no string tensors"):
        tf.convert_to_tensor("abc")
    with pytest.raises(ValueError, match="unsupported type"):
        tf.convert_to_tensor(object())


def test_lists_of_tensors_are_stacked():
    t = tf.convert_to_tensor([tf.constant([1.0, 2.0]), [3.0, 4.0]])
    assert t.shape == (2, 2)
    np.testing.assert_array_equal(t.numpy(), [[1, 2], [3, 4]])


def test_constant_copies_numpy_data_and_applies_shape():
    a = np.array([1, 2, 3, 4])
    t = tf.constant(a)
    a[0] = 99
    assert t.numpy()[0] == 1
    np.testing.assert_array_equal(tf.constant(0, shape=(2, 3)).numpy(), np.zeros((2, 3), np.int32))
    assert tf.constant([1, 2, 3, 4], shape=[2, 2]).shape == (2, 2)
    with pytest.raises(TypeError, match=r"has 3 elements, but got `shape` \(2, 2\) with 4 elements"):
        tf.constant([1, 2, 3], shape=[2, 2])
    with pytest.raises(TypeError, match=r"Expected tensor .* with dtype tf\.int32, but got dtype tf\.float32"):
        tf.constant(tf.constant(1.0), dtype=tf.int32)
    c = tf.constant([1.0])
    assert tf.constant(c) is c


def test_narrow_integers_wrap_as_tensorflow_kernels_do():
    t = tf.constant([100, 120], dtype=tf.int8) * 2
    assert t.dtype is tf.int8
    np.testing.assert_array_equal(t.numpy(), np.array([100, 120], np.int8) * np.int8(2))
    u = tf.constant([250], dtype=tf.uint8) + 10
    assert u.numpy().tolist() == [4]


# ---------------------------------------------------------------------------------------------------- TensorShape
def test_tensor_shape_is_tuple_like():
    s = tf.constant(np.zeros((2, 3), np.float32)).shape
    assert isinstance(s, tf.TensorShape)
    assert s == (2, 3) and s == [2, 3] and s != (3, 2) and s == tf.TensorShape([2, 3])
    assert s.as_list() == [2, 3] and s.rank == 2 and s.ndims == 2 and len(s) == 2 and list(s) == [2, 3]
    assert s[0] == 2 and s[-1] == 3 and s[1:] == tf.TensorShape([3]) and isinstance(s[1:], tf.TensorShape)
    assert s.num_elements() == 6 and s.is_fully_defined()
    assert str(s) == "(2, 3)" and repr(s) == "TensorShape([2, 3])"
    assert str(tf.TensorShape([3])) == "(3,)" and str(tf.TensorShape([])) == "()"
    assert str(tf.TensorShape(None)) == "<unknown>" and tf.TensorShape(None).rank is None
    assert tf.TensorShape([None, 3]).is_compatible_with([5, 3]) and not tf.TensorShape([2]).is_compatible_with([3])
    assert tf.TensorShape([None, 3]).merge_with([4, None]) == [4, 3]
    assert s + tf.TensorShape([4]) == [2, 3, 4] and tf.TensorShape([None, 2]).num_elements() is None
    assert hash(s) == hash(tf.TensorShape((2, 3)))
    with pytest.raises(ValueError, match=r"as_list\(\) is not defined on an unknown TensorShape."):
        tf.TensorShape(None).as_list()


# ---------------------------------------------------------------------------------------------------- Tensor
def test_tensor_properties():
    t = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    assert t.dtype is tf.float32 and t.ndim == 2 and t.shape == (2, 2) and t.get_shape() == (2, 2)
    assert t.device == "/job:localhost/replica:0/task:0/device:CPU:0"
    assert isinstance(t, tf.Tensor) and tf.is_tensor(t) and not tf.is_tensor(np.zeros(2))
    a = t.numpy()
    assert isinstance(a, np.ndarray) and a.dtype == np.float32
    a[0, 0] = 99  # a copy: the tensor is immutable
    assert t.numpy()[0, 0] == 1
    assert isinstance(tf.constant(2.0).numpy(), np.float32)
    np.testing.assert_array_equal(np.asarray(t), [[1, 2], [3, 4]])
    with pytest.raises(TypeError, match="made by ops"):
        tf.Tensor([1.0])
    with pytest.raises(AttributeError, match=r"Tensor.name is undefined when eager execution is enabled."):
        _ = t.name


def test_tensor_repr_and_str_are_tensorflows():
    m = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    assert repr(m) == (
        "<tf.Tensor: shape=(2, 2), dtype=float32, numpy=\narray([[1., 2.],\n       [3., 4.]], dtype=float32)>"
    )
    assert str(m) == "tf.Tensor(\n[[1. 2.]\n [3. 4.]], shape=(2, 2), dtype=float32)"
    v = tf.constant([1.0, 2.0])
    assert repr(v) == "<tf.Tensor: shape=(2,), dtype=float32, numpy=array([1., 2.], dtype=float32)>"
    assert str(v) == "tf.Tensor([1. 2.], shape=(2,), dtype=float32)"
    s = tf.constant(1.0)
    assert repr(s) == "<tf.Tensor: shape=(), dtype=float32, numpy=1.0>"
    assert str(s) == "tf.Tensor(1.0, shape=(), dtype=float32)"
    i = tf.constant([1, 2])
    assert repr(i) == "<tf.Tensor: shape=(2,), dtype=int32, numpy=array([1, 2], dtype=int32)>"
    assert str(tf.constant([True, False])) == "tf.Tensor([ True False], shape=(2,), dtype=bool)"
    assert str(tf.constant(3, dtype=tf.int64)) == "tf.Tensor(3, shape=(), dtype=int64)"
    assert f"{tf.constant(0.5):.3f}" == "0.500"


def test_scalar_reprs_show_the_python_value():
    assert repr(tf.constant(0.1)) == "<tf.Tensor: shape=(), dtype=float32, numpy=0.10000000149011612>"
    assert repr(tf.constant(True)) == "<tf.Tensor: shape=(), dtype=bool, numpy=True>"
    assert repr(tf.Variable(2)) == "<tf.Variable 'Variable:0' shape=() dtype=int32, numpy=2>"


def test_tensor_python_protocol():
    s = tf.constant(2.5)
    assert float(s) == 2.5 and int(tf.constant(3)) == 3 and bool(tf.constant(True))
    assert [1, 2, 3][tf.constant(1)] == 2
    v = tf.constant([1.0, 2.0, 3.0])
    assert len(v) == 3
    items = list(v)
    assert len(items) == 3 and all(isinstance(x, tf.Tensor) and x.shape == () for x in items)
    with pytest.raises(TypeError, match=r"Scalar tensor has no `len\(\)`"):
        len(s)
    with pytest.raises(TypeError, match=r"Cannot iterate over a scalar tensor."):
        iter(s)
    with pytest.raises(ValueError, match="ambiguous"):
        bool(v)
    assert copy.copy(v) is v and copy.deepcopy(v) is v
    back = pickle.loads(pickle.dumps(v))
    assert back.dtype is tf.float32 and back.numpy().tolist() == [1, 2, 3]


def test_tensors_are_unhashable_and_have_refs():
    t = tf.constant([1.0])
    with pytest.raises(TypeError, match=r"Tensor is unhashable. Instead, use tensor.ref\(\) as the key."):
        hash(t)
    r = t.ref()
    assert {r: 1}[t.ref()] == 1 and r.deref() is t and r != tf.constant([1.0]).ref()
    assert t.experimental_ref() == r


def test_numpy_arrays_defer_to_tensor_operators():
    out = np.array([1.0, 2.0]) + tf.constant([1.0, 2.0])
    assert isinstance(out, tf.Tensor) and out.dtype is tf.float32
    assert isinstance(np.float32(2) * tf.constant([1.0]), tf.Tensor)
    assert np.mean(tf.constant([1.0, 3.0])) == 2.0  # NumPy functions read the value


def test_equality_is_elementwise():
    t = tf.constant([1, 2, 3])
    np.testing.assert_array_equal((t == [1, 0, 3]).numpy(), [True, False, True])
    np.testing.assert_array_equal((t != 2).numpy(), [True, False, True])
    assert (t == None) is False and (t != None) is True  # noqa: E711 - TensorFlow's rule for None
    assert (t == "x") is False
    incompatible = t == tf.constant([1, 2])
    assert isinstance(incompatible, tf.Tensor) and incompatible.shape == () and not bool(incompatible)
    with pytest.raises(InvalidArgumentError, match="cannot compute Equal as input #1"):
        _ = t == tf.constant([1.0, 2.0, 3.0])


# ---------------------------------------------------------------------------------------------------- Variable
def test_variable_basics_and_repr():
    v = tf.Variable([1.0, 2.0])
    assert v.name == "Variable:0" and tf.Variable(1.0, name="w").name == "w:0"
    assert v.shape == (2,) and v.dtype is tf.float32 and v.trainable
    assert v.device == "/job:localhost/replica:0/task:0/device:CPU:0"
    assert repr(v) == "<tf.Variable 'Variable:0' shape=(2,) dtype=float32, numpy=array([1., 2.], dtype=float32)>"
    m = tf.Variable([[1, 2], [3, 4]], name="m")
    assert (
        repr(m) == "<tf.Variable 'm:0' shape=(2, 2) dtype=int32, numpy=\narray([[1, 2],\n       [3, 4]], dtype=int32)>"
    )
    assert not m.trainable  # an integer variable has no gradients
    assert not tf.Variable(1.0, trainable=False).trainable
    assert tf.is_tensor(v) and not isinstance(v, tf.Tensor)
    assert tf.Variable(lambda: tf.ones([3])).shape == (3,)
    with pytest.raises(ValueError, match="initial_value"):
        tf.Variable()


def test_trainable_variable_holds_a_leaf_that_requires_grad():
    v = tf.Variable([1.0, 2.0])
    assert isinstance(v._t, torch.Tensor) and v._t.requires_grad and v._t.is_leaf
    assert not tf.Variable([1.0], trainable=False)._t.requires_grad
    assert v.value()._t is v._t and v.read_value()._t is v._t and tf.convert_to_tensor(v)._t is v._t
    assert v.numpy().tolist() == [1.0, 2.0]  # no error although the leaf requires grad


def test_assign_writes_into_the_same_leaf():
    v = tf.Variable([1.0, 2.0, 3.0])
    leaf = v._t
    assert v.assign([4.0, 5.0, 6.0]) is v and v._t is leaf
    np.testing.assert_array_equal(v.numpy(), [4, 5, 6])
    assert v.assign_add(tf.constant([1.0, 1.0, 1.0])) is v and v._t is leaf
    np.testing.assert_array_equal(v.numpy(), [5, 6, 7])
    assert v.assign_sub([0.5, 0.5, 0.5]) is v and v._t is leaf and leaf.requires_grad and leaf.grad_fn is None
    np.testing.assert_array_equal(v.numpy(), [4.5, 5.5, 6.5])
    assert v.assign([0.0, 0.0, 0.0], read_value=False) is None
    i = tf.Variable([1, 2], dtype=tf.int8)
    i.assign_add([127, 0])
    assert i.numpy().tolist() == [-128, 2] and i.dtype is tf.int8


def test_assign_checks_shape_and_dtype():
    v = tf.Variable([1.0, 2.0])
    with pytest.raises(ValueError, match=r"Cannot assign value to variable ' Variable:0': Shape mismatch.The variable"):
        v.assign([1.0, 2.0, 3.0])
    with pytest.raises(
        InvalidArgumentError, match=r"Cannot update variable with shape \[2\] using a Tensor with shape"
    ):
        v.assign_add(1.0)
    with pytest.raises(ValueError, match="Tensor conversion requested dtype float32 for Tensor with dtype int32"):
        v.assign(tf.constant([1, 2]))
    with pytest.raises(TypeError, match=r"Cannot convert \[1.5, 2.0\] to EagerTensor of dtype int32"):
        tf.Variable([1, 2]).assign([1.5, 2.0])


def test_assign_inside_a_recording_tape_is_not_taped():
    v = tf.Variable([1.0, 2.0])
    tape = object()
    _record.push(tape)
    try:
        v.assign_add([1.0, 1.0])
        y = tf.reduce_sum(v * v)
    finally:
        _record.pop(tape)
    assert v._t.is_leaf
    y._t.backward()
    np.testing.assert_array_equal(v._t.grad.numpy(), [4.0, 6.0])


def test_variable_operators_and_protocol():
    v = tf.Variable([1.0, 2.0])
    assert isinstance(v + 1, tf.Tensor) and (v * v).numpy().tolist() == [1.0, 4.0]
    assert (2 - v).numpy().tolist() == [1.0, 0.0] and (-v).numpy().tolist() == [-1.0, -2.0]
    assert v[1].numpy() == 2.0 and (v > 1).numpy().tolist() == [False, True]
    assert [float(x) for x in v] == [1.0, 2.0] and float(tf.Variable(3.0)) == 3.0
    with pytest.raises(TypeError, match=r"Variable is unhashable. Instead, use variable.ref\(\) as the key."):
        hash(v)
    assert {v.ref(): 1}[v.ref()] == 1
    w = copy.deepcopy(v)
    assert w is not v and w._t is not v._t and w.numpy().tolist() == [1.0, 2.0] and w.name == v.name
    u = pickle.loads(pickle.dumps(v))
    assert u.numpy().tolist() == [1.0, 2.0] and u.trainable


def test_views_of_a_variable_do_not_alias_it():
    v = tf.Variable([1.0, 2.0, 3.0, 4.0])
    r = tf.reshape(v, [2, 2])
    e = tf.expand_dims(v, 0)
    s = tf.stop_gradient(v)
    i = tf.identity(v)
    v.assign([0.0, 0.0, 0.0, 0.0])
    for t in (r, e, s, i):
        assert t.numpy().reshape(-1).tolist() == [1.0, 2.0, 3.0, 4.0]


# ---------------------------------------------------------------------------------------------------- devices
@pytest.mark.parametrize(
    "name", ["/CPU:0", "cpu:0", "/device:CPU:0", "/GPU:0", "/job:localhost/replica:0/task:0/device:GPU:0"]
)
def test_device_blocks_run_on_the_cpu(name):
    device_module = importlib.import_module("bnlab.tf.device")  # the module (bnlab.tf.device is tf.device)
    with tf.device(name):
        assert device_module.current_device().startswith(("/job", "/device"))
        t = tf.constant([1.0]) + 1
    assert t.device.endswith("device:CPU:0")
    assert device_module.current_device() == ""


def test_device_rejects_bad_names():
    with pytest.raises(ValueError, match="Unknown attribute: 'foo:bar:baz'"):
        tf.device("/foo:bar:baz")
    with pytest.raises(RuntimeError, match="does not support functions"):
        tf.device(lambda op: "/CPU:0")
    assert tf.DeviceSpec.from_string("/gpu:1").to_string() == "/device:GPU:1"


def test_function_and_eager_mode():
    def f(x):
        return x * 2

    assert tf.executing_eagerly()
    assert tf.function(f) is f
    assert tf.function(jit_compile=True, reduce_retracing=True)(f) is f

    @tf.function
    def g(x):
        return x + 1

    assert g(tf.constant(1.0)).numpy() == 2.0


def test_config_lists_the_cpu_and_gpus_of_the_engine():
    cpus = config.list_physical_devices("CPU")
    assert cpus == [config.PhysicalDevice(name="/physical_device:CPU:0", device_type="CPU")]
    assert repr(cpus[0]) == "PhysicalDevice(name='/physical_device:CPU:0', device_type='CPU')"
    gpus = config.list_physical_devices("GPU")
    assert len(gpus) == (1 if config.cuda_available() else 0)
    assert config.list_physical_devices() == cpus + gpus
    assert config.experimental.list_physical_devices("CPU") == cpus
    assert config.list_logical_devices("CPU") == [config.LogicalDevice(name="/device:CPU:0", device_type="CPU")]
    assert config.get_visible_devices("CPU") == cpus
    config.set_visible_devices([], "GPU")
    try:
        assert config.get_visible_devices("GPU") == [] and config.get_visible_devices("CPU") == cpus
    finally:
        config.set_visible_devices(config.list_physical_devices())
    with pytest.raises(ValueError, match="Cannot set memory growth on non-GPU"):
        config.experimental.set_memory_growth(cpus[0], True)
    for gpu in gpus:  # pragma: no cover - a machine with a GPU
        config.experimental.set_memory_growth(gpu, True)
        assert config.experimental.get_memory_growth(gpu) is True


def test_config_threads_map_to_the_engine():
    before = config.get_num_threads()
    try:
        config.threading.set_intra_op_parallelism_threads(1)
        assert config.get_num_threads() == 1 and config.threading.get_intra_op_parallelism_threads() == 1
        config.threading.set_intra_op_parallelism_threads(0)
        assert config.threading.get_intra_op_parallelism_threads() == 0
        config.threading.set_inter_op_parallelism_threads(2)
        assert config.threading.get_inter_op_parallelism_threads() == 2
    finally:
        config.set_num_threads(before)
        config.threading.set_inter_op_parallelism_threads(0)
    config.run_functions_eagerly(True)
    assert config.functions_run_eagerly()
    config.run_functions_eagerly(False)
    assert config.get_device() in ("cpu", "cuda")  # bnlab's own settings are still there
