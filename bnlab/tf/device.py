"""Where and how the TensorFlow face runs ops: ``tf.device``, ``tf.executing_eagerly`` and ``tf.function``.

Devices. bnlab's TF face computes on the CPU: every tensor's ``device`` is
``/job:localhost/replica:0/task:0/device:CPU:0``. ``with tf.device(name):`` accepts TensorFlow's device names
(``"/CPU:0"``, ``"cpu:0"``, ``"/device:CPU:0"``, ``"/GPU:0"``, the full ``/job:.../device:GPU:0`` form) and runs its
block on the CPU: TensorFlow's soft device placement, which puts an op on the CPU when the named device cannot run
it, is always on here. ``bnlab.config.list_physical_devices("GPU")`` tells whether bnlab's engine has a GPU (its
CUDA backend, used by the Keras and PyTorch faces); the TF face's tensors stay on the CPU either way.

Execution. Everything is eager: ``tf.executing_eagerly()`` is True, and ``@tf.function`` (with or without
arguments such as ``jit_compile=True`` or ``reduce_retracing=True``) returns the Python function unchanged, as
``tf.config.run_functions_eagerly(True)`` makes TensorFlow run it: no graph is traced, so Python side effects
(prints, appends) happen at every call, not only while tracing.
"""

from __future__ import annotations

import re

__all__ = ["DeviceSpec", "device", "executing_eagerly", "function"]

CPU_DEVICE = "/job:localhost/replica:0/task:0/device:CPU:0"

_KNOWN_TYPES = ("CPU", "GPU", "TPU")
_ATTR = re.compile(r"^(job|replica|task):(.+)$", re.IGNORECASE)
_DEV = re.compile(r"^(?:device:)?([A-Za-z_]+)(?::(\d+|\*))?$", re.IGNORECASE)


class DeviceSpec:
    """A parsed device name: ``job``, ``replica``, ``task``, ``device_type`` (upper case) and ``device_index``
    (each None when not given); ``to_string()`` writes TensorFlow's canonical form."""

    __slots__ = ("device_index", "device_type", "job", "replica", "task")

    def __init__(self, job=None, replica=None, task=None, device_type=None, device_index=None) -> None:
        self.job, self.replica, self.task = job, replica, task
        self.device_type, self.device_index = device_type, device_index

    @classmethod
    def from_string(cls, spec: str) -> DeviceSpec:
        if not isinstance(spec, str):
            raise TypeError(f"device name must be a string such as '/CPU:0', got {type(spec).__name__}")
        out = cls()
        for part in (p for p in spec.strip().split("/") if p):
            m = _ATTR.match(part)
            if m:
                key, value = m.group(1).lower(), m.group(2)
                setattr(out, key, value if key == "job" else int(value))
                continue
            m = _DEV.match(part)
            if not m or out.device_type is not None:
                raise ValueError(f"Unknown attribute: '{part}' in '{spec}'")
            out.device_type = m.group(1).upper()
            index = m.group(2)
            out.device_index = None if index in (None, "*") else int(index)
        return out

    def to_string(self) -> str:
        parts = []
        if self.job is not None:
            parts.append(f"/job:{self.job}")
        if self.replica is not None:
            parts.append(f"/replica:{self.replica}")
        if self.task is not None:
            parts.append(f"/task:{self.task}")
        if self.device_type is not None:
            index = "*" if self.device_index is None else self.device_index
            parts.append(f"/device:{self.device_type}:{index}")
        return "".join(parts)

    def __repr__(self) -> str:
        return f"DeviceSpec({self.to_string()!r})"


_stack: list[DeviceSpec | None] = []


def current_device() -> str:
    """The device name the innermost ``tf.device`` block asked for ('' outside every block)."""
    return _stack[-1].to_string() if _stack and _stack[-1] is not None else ""


class device:  # noqa: N801 - TensorFlow's name
    """``with tf.device("/GPU:0"):`` — the ops of the block may ask for a device; bnlab runs them on the CPU
    (soft placement, see the module's docstring). ``None`` clears an outer block's request.

    As TensorFlow's eager device context, it keeps the name as given in ``_device_name``, which code reads: d2l's
    ``train_ch6`` does ``tf.distribute.OneDeviceStrategy(device._device_name)`` with ``device = d2l.try_gpu()``."""

    __slots__ = ("_device_name", "spec")

    def __init__(self, device_name) -> None:
        if callable(device_name):
            raise RuntimeError("tf.device does not support functions when eager execution is enabled.")
        self.spec = None if device_name is None else DeviceSpec.from_string(device_name)
        self._device_name = device_name

    def __repr__(self) -> str:
        return f"<tf.device {self._device_name!r}>"

    def __enter__(self):
        _stack.append(self.spec)
        return self

    def __exit__(self, *exc) -> None:
        _stack.pop()


def executing_eagerly() -> bool:
    """True: bnlab's TF face runs every op eagerly."""
    return True


def function(
    func=None,
    input_signature=None,
    autograph=True,
    jit_compile=None,
    reduce_retracing=False,
    experimental_implements=None,
    experimental_autograph_options=None,
    experimental_attributes=None,
    experimental_relax_shapes=None,
    experimental_compile=None,
    experimental_follow_type_hints=None,
):
    """``@tf.function`` / ``@tf.function(jit_compile=True)``: the function itself, run eagerly (no graph, no
    tracing, no XLA compilation: bnlab has no graph runtime). The arguments are accepted and ignored."""
    if func is None:
        return lambda f: f
    if not callable(func):
        raise TypeError(f"tf.function: func must be callable, got {type(func).__name__}")
    return func
