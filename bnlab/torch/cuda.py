"""``bnlab.torch.cuda``: is a GPU usable?

``is_available()`` is True only when the engine was compiled with its CUDA backend
(``_core.built_with_cuda``) AND that backend found a GPU at load time
(``_core.backend_available(_core.Device.CUDA)``). The seeds' idiom
``torch.device('cuda' if torch.cuda.is_available() else 'cpu')`` therefore picks the CPU on a CPU-only
build, and ``.cuda()`` there raises a RuntimeError that says why, as PyTorch does.
"""

from __future__ import annotations

from .. import _core
from ._random import default_generator

__all__ = [
    "device_count",
    "is_available",
    "manual_seed",
    "manual_seed_all",
    "require_available",
    "synchronize",
]


def is_available() -> bool:
    """True when bnlab was built with CUDA and a GPU is present."""
    return bool(_core.built_with_cuda) and _core.backend_available(_core.Device.CUDA)


def device_count() -> int:
    return 1 if is_available() else 0


def require_available() -> None:
    """Raise RuntimeError (PyTorch's wording, plus bnlab's reason) unless a CUDA device can be used."""
    if not _core.built_with_cuda:
        raise RuntimeError(
            "Torch not compiled with CUDA enabled: this bnlab engine was built without its CUDA backend "
            "(bnlab._core.built_with_cuda is False). Rebuild with BNLAB_CUDA=ON on a machine with the CUDA "
            "toolkit, or keep the tensors on the CPU (device='cpu')."
        )
    if not _core.backend_available(_core.Device.CUDA):
        raise RuntimeError("No CUDA GPUs are available: bnlab's CUDA backend found no usable GPU.")


def manual_seed(seed: int) -> None:
    """Seed the generator used for CUDA tensors (bnlab draws every random number from one generator)."""
    default_generator.manual_seed(seed)


manual_seed_all = manual_seed


def synchronize(device=None) -> None:
    """Wait until the GPU has finished its queued work: a device-to-host copy waits for the stream."""
    require_available()
    _core.Tensor([1], _core.Device.CUDA).numpy()
