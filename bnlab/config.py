"""Global settings of bnlab: the device Keras-style models are built on, the engine's thread count, and whether
the engine flushes denormal floats to zero.

Keras-style selection is global, as in TensorFlow: ``bnlab.config.set_device('cuda')`` makes every model
built afterwards live on the GPU, with its training data copied there once per fit (it stays there for the
whole fit). The PyTorch-style API selects per tensor and module instead (``.to('cuda')``, ``.cuda()``).

TensorFlow's ``tf.config`` (``import bnlab as tf``: ``tf.config`` is this module) is here too: the devices
(``list_physical_devices``, ``list_logical_devices``, ``get_visible_devices``/``set_visible_devices``, the
``experimental`` namespace with ``set_memory_growth``), the thread pools (``threading``) and
``run_functions_eagerly``. The CPU is always listed; a GPU is listed when bnlab's engine has its CUDA backend and a
GPU (``cuda_available()``), as ``PhysicalDevice(name='/physical_device:GPU:0', device_type='GPU')``. The TF face's
tensors compute on the CPU in either case (see ``bnlab.tf.device``); the GPU serves the Keras and PyTorch faces.
"""

import collections
import types

from bnlab import _core

_device = _core.Device.CPU


def cuda_available():
    """True when bnlab was built with its CUDA backend and a GPU is present."""
    return bool(_core.built_with_cuda) and _core.backend_available(_core.Device.CUDA)


def set_device(name):
    """'cpu' or 'cuda' (also 'gpu', 'cuda:0'): the device of models built from now on."""
    global _device
    if not isinstance(name, str):
        raise TypeError(f"device must be a string such as 'cpu' or 'cuda', got {type(name).__name__}")
    key = name.lower().split(":")[0]
    if key == "cpu":
        _device = _core.Device.CPU
    elif key in ("cuda", "gpu"):
        if not cuda_available():
            why = "bnlab was built without CUDA" if not _core.built_with_cuda else "no CUDA GPU is present"
            raise RuntimeError(f"set_device({name!r}): {why}; use 'cpu'")
        _device = _core.Device.CUDA
    else:
        raise ValueError(f"device must be 'cpu' or 'cuda', got {name!r}")


def get_device():
    """The current device name: 'cpu' or 'cuda'."""
    return "cuda" if _device == _core.Device.CUDA else "cpu"


def engine_device():
    return _device


def set_num_threads(n):
    """Threads used by the CPU engine's matrix products (OpenBLAS)."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    _core.set_num_threads(n)


def get_num_threads():
    return _core.get_num_threads()


def set_flush_denormals(on):
    """Flush denormal floats to zero in the engine's CPU work (the default) or keep them (``on=False``).

    A float32 below 2**-126 ~ 1.18e-38 in magnitude is denormal, and x86 cores take ~100 cycles for an
    operation on one instead of ~4. Training makes them: Adam's moments of a unit whose gradient went to zero
    shrink by beta_1 = 0.9 and beta_2 = 0.999 every step until they are denormal, and from then on every step
    is slower (seed 002's network: epochs 1.0 s, 1.8 s, 4.0 s without flushing, 1.0 s each with it). With
    flushing on, such values read and write as 0: FTZ (a denormal result becomes 0) and DAZ (a denormal input
    counts as 0). Normal values keep every bit, so the results differ from IEEE arithmetic only where a value
    would fall below 1.18e-38. TensorFlow flushes by default; PyTorch does not (``torch.set_flush_denormal``).

    The setting is process-wide and shared with ``bnlab.torch.set_flush_denormal``; it applies to the engine's
    worker threads and to the calling thread during engine calls only (NumPy code between calls keeps IEEE
    denormals). Returns the previous setting. On CPUs other than x86-64 nothing is flushed either way.
    """
    if not isinstance(on, bool):
        raise TypeError(f"set_flush_denormals(on): on must be True or False, got {on!r}")
    return _core.set_flush_denormals(on)


def get_flush_denormals():
    """True when the engine flushes denormal floats to zero (see ``set_flush_denormals``)."""
    return _core.flush_denormals()


def flush_denormals_supported():
    """True where the engine can flush denormals (x86-64 CPUs)."""
    return _core.flush_denormals_supported()


# ---------------------------------------------------------------------------------------------------- tf.config
PhysicalDevice = collections.namedtuple("PhysicalDevice", ["name", "device_type"])
PhysicalDevice.__doc__ = "A device of the machine: PhysicalDevice(name='/physical_device:CPU:0', device_type='CPU')."
LogicalDevice = collections.namedtuple("LogicalDevice", ["name", "device_type"])
LogicalDevice.__doc__ = "A device ops run on: LogicalDevice(name='/device:CPU:0', device_type='CPU')."

_CPU = PhysicalDevice("/physical_device:CPU:0", "CPU")
_GPU = PhysicalDevice("/physical_device:GPU:0", "GPU")
_visible = None  # the devices set_visible_devices chose; None: all of them
_memory_growth = {}
_tf_settings = {"intra_op": 0, "inter_op": 0, "eager_functions": False, "soft_placement": True, "determinism": False}
_ENGINE_THREADS = _core.get_num_threads()  # the engine's own choice, restored by set_intra_op_parallelism_threads(0)


def _physical_devices():
    return [_CPU, _GPU] if cuda_available() else [_CPU]


def list_physical_devices(device_type=None):
    """The machine's devices of ``device_type`` ('CPU', 'GPU'; all when None), as PhysicalDevice tuples: the CPU,
    and the GPU when bnlab's engine has its CUDA backend and a GPU (``cuda_available()``)."""
    return [d for d in _physical_devices() if device_type is None or d.device_type == device_type]


def get_visible_devices(device_type=None):
    """The physical devices ops may use (all of them unless ``set_visible_devices`` chose some)."""
    devices = _physical_devices() if _visible is None else _visible
    return [d for d in devices if device_type is None or d.device_type == device_type]


def set_visible_devices(devices, device_type=None):
    """Choose the physical devices of ``device_type`` (all types when None) that ops may use; the CPU stays
    visible. Recorded and reported by ``get_visible_devices``/``list_logical_devices``."""
    global _visible
    chosen = [devices] if isinstance(devices, PhysicalDevice) else list(devices)
    for d in chosen:
        if not isinstance(d, PhysicalDevice) or d not in _physical_devices():
            raise ValueError(f"Unrecognized device: {d!r}")
        if device_type is not None and d.device_type != device_type:
            raise ValueError(f"Unrecognized device: {d!r} (not of device_type {device_type!r})")
    kept = [d for d in get_visible_devices() if device_type is not None and d.device_type != device_type]
    new = [d for d in _physical_devices() if d in chosen or d in kept]
    if _CPU not in new:
        new.insert(0, _CPU)
    _visible = new


def list_logical_devices(device_type=None):
    """The devices ops run on (one per visible physical device): LogicalDevice(name='/device:CPU:0', ...)."""
    return [LogicalDevice(f"/device:{d.device_type}:0", d.device_type) for d in get_visible_devices(device_type)]


def set_memory_growth(device, enable):
    """Record whether a GPU allocates its memory as needed (bnlab's engine always does); ValueError for the CPU."""
    if not isinstance(device, PhysicalDevice) or device not in _physical_devices():
        raise ValueError(f"Unrecognized device: {device!r}")
    if device.device_type != "GPU":
        raise ValueError("Cannot set memory growth on non-GPU and non-Pluggable devices")
    _memory_growth[device] = bool(enable)


def get_memory_growth(device):
    """Whether memory growth was enabled for ``device`` (a GPU PhysicalDevice)."""
    if not isinstance(device, PhysicalDevice) or device not in _physical_devices():
        raise ValueError(f"Unrecognized device: {device!r}")
    return _memory_growth.get(device)


def get_device_details(device):
    """Details of a physical device: ``{'device_name': ...}`` for a GPU, ``{}`` for the CPU."""
    if not isinstance(device, PhysicalDevice):
        raise ValueError(f"device must be a tf.config.PhysicalDevice, got {device!r}")
    return {"device_name": "bnlab CUDA GPU"} if device.device_type == "GPU" else {}


def enable_op_determinism():
    """Record the request; bnlab's engine is deterministic already (same inputs and seeds, same results)."""
    _tf_settings["determinism"] = True


def set_intra_op_parallelism_threads(num_threads):
    """The threads one op may use: the engine's thread count (``set_num_threads``); 0 restores its default."""
    if not isinstance(num_threads, int) or num_threads < 0:
        raise ValueError(f"num_threads must be a non-negative int, got {num_threads!r}")
    _core.set_num_threads(num_threads or _ENGINE_THREADS)
    _tf_settings["intra_op"] = num_threads


def get_intra_op_parallelism_threads():
    """The value set by ``set_intra_op_parallelism_threads`` (0: the system's choice, as TensorFlow reports)."""
    return _tf_settings["intra_op"]


def set_inter_op_parallelism_threads(num_threads):
    """Recorded only: bnlab runs one op at a time."""
    if not isinstance(num_threads, int) or num_threads < 0:
        raise ValueError(f"num_threads must be a non-negative int, got {num_threads!r}")
    _tf_settings["inter_op"] = num_threads


def get_inter_op_parallelism_threads():
    return _tf_settings["inter_op"]


def run_functions_eagerly(run_eagerly):
    """Recorded only: bnlab runs every ``tf.function`` eagerly anyway."""
    _tf_settings["eager_functions"] = bool(run_eagerly)


def functions_run_eagerly():
    return _tf_settings["eager_functions"]


def set_soft_device_placement(enabled):
    """Recorded only: bnlab places every TF op on the CPU (soft placement is always in effect)."""
    _tf_settings["soft_placement"] = bool(enabled)


def get_soft_device_placement():
    return _tf_settings["soft_placement"]


experimental = types.SimpleNamespace(
    enable_op_determinism=enable_op_determinism,
    get_device_details=get_device_details,
    get_memory_growth=get_memory_growth,
    get_visible_devices=get_visible_devices,
    list_logical_devices=list_logical_devices,
    list_physical_devices=list_physical_devices,
    set_memory_growth=set_memory_growth,
    set_visible_devices=set_visible_devices,
)
threading = types.SimpleNamespace(
    get_inter_op_parallelism_threads=get_inter_op_parallelism_threads,
    get_intra_op_parallelism_threads=get_intra_op_parallelism_threads,
    set_inter_op_parallelism_threads=set_inter_op_parallelism_threads,
    set_intra_op_parallelism_threads=set_intra_op_parallelism_threads,
)
