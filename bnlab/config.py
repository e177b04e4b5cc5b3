"""Global settings of bnlab: the device Keras-style models are built on, and the engine's thread count.

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
