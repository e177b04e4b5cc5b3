"""Global settings of bnlab: the device Keras-style models are built on, the engine's thread count, and whether
the engine flushes denormal floats to zero.

Keras-style selection is global, as in TensorFlow: ``bnlab.config.set_device('cuda')`` makes every model
built afterwards live on the GPU, with its training data copied there once per fit (it stays there for the
whole fit). The PyTorch-style API selects per tensor and module instead (``.to('cuda')``, ``.cuda()``).
"""

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
