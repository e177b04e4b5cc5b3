"""``torchvision.transforms``: ``ToTensor``, ``Normalize``, ``Compose``, ``Lambda``, and the image type.

PIL is not used: a dataset sample is an :class:`ImageArray`, a small PIL-like wrapper of a uint8 array
(``(H, W)`` grayscale or ``(H, W, 3)`` RGB) with ``size``, ``mode`` and NumPy conversion.

    ToTensor   uint8 (H, W, C) -> float32 (C, H, W) in [0, 1] (x / 255); (H, W) -> (1, H, W)
    Normalize  x -> (x - mean[c]) / std[c] per channel c (float32, as torchvision computes it)

Transforms prepare data, they are not part of the model: they compute with NumPy. Besides ``__call__`` (one
sample), ``ToTensor`` and ``Normalize`` transform a whole batch at once; ``batch_plan`` recognizes a transform
that can (``ToTensor`` alone, or a ``Compose`` of ``ToTensor`` then ``Normalize``s), which the DataLoader uses
to convert whole batches.
"""

from __future__ import annotations

import numpy as np

from .. import _core
from ..torch.tensor import Tensor, host, wrap

__all__ = ["Compose", "ImageArray", "Lambda", "Normalize", "ToTensor", "apply_batch", "batch_plan"]


class ImageArray:
    """A uint8 image (PIL's role): ``np.asarray(img)`` gives the (H, W) or (H, W, 3) array."""

    __slots__ = ("array",)

    def __init__(self, array) -> None:
        array = np.asarray(array)
        if array.dtype != np.uint8 or array.ndim not in (2, 3):
            raise TypeError(f"ImageArray holds a uint8 (H, W) or (H, W, C) array, got {array.dtype} {array.shape}")
        self.array = array

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), as PIL reports it."""
        return self.array.shape[1], self.array.shape[0]

    @property
    def width(self) -> int:
        return self.array.shape[1]

    @property
    def height(self) -> int:
        return self.array.shape[0]

    @property
    def mode(self) -> str:
        return "L" if self.array.ndim == 2 else "RGB"

    def __array__(self, dtype=None, copy=None):
        return self.array if dtype is None else self.array.astype(dtype)

    def __repr__(self) -> str:
        return f"<ImageArray mode={self.mode} size={self.width}x{self.height}>"


def _as_hwc(pic) -> np.ndarray:
    if isinstance(pic, ImageArray):
        array = pic.array
    elif isinstance(pic, np.ndarray):
        array = pic
    else:
        raise TypeError(f"pic should be an ImageArray or ndarray. Got {type(pic)}")
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3:
        raise ValueError(f"pic should be 2 or 3 dimensional. Got {array.ndim} dimensions.")
    return array


class ToTensor:
    """uint8 image (H, W[, C]) -> float32 tensor (C, H, W) with values x / 255 in [0, 1]."""

    def __call__(self, pic) -> Tensor:
        array = np.transpose(_as_hwc(pic), (2, 0, 1))
        if array.dtype == np.uint8:
            return host(np.divide(array, np.float32(255), dtype=np.float32))
        return host(np.ascontiguousarray(array))

    def batch(self, images: np.ndarray, out: np.ndarray) -> None:
        """Write the batch ``images`` (B, H, W[, C]) uint8 into ``out`` (B, C, H, W) float32."""
        if images.ndim == 3:
            np.divide(images[:, None], np.float32(255), out=out)
        else:
            np.divide(np.transpose(images, (0, 3, 1, 2)), np.float32(255), out=out)

    def __repr__(self) -> str:
        return "ToTensor()"


class Normalize:
    """(x - mean) / std per channel of a float tensor (..., C, H, W)."""

    def __init__(self, mean, std, inplace: bool = False) -> None:
        self.mean = tuple(mean) if isinstance(mean, (list, tuple)) else (mean,)
        self.std = tuple(std) if isinstance(std, (list, tuple)) else (std,)
        self.inplace = inplace
        self._mean = np.asarray(self.mean, dtype=np.float32)
        self._std = np.asarray(self.std, dtype=np.float32)
        if np.any(self._std == 0):
            raise ValueError("std evaluated to zero after conversion to torch.float32, leading to division by zero.")

    def _shaped(self, channels: int):
        if self._mean.size not in (1, channels) or self._std.size not in (1, channels):
            raise ValueError(f"Normalize: mean and std need 1 or {channels} values, got {self.mean} and {self.std}")
        return self._mean.reshape(-1, 1, 1), self._std.reshape(-1, 1, 1)

    def __call__(self, tensor: Tensor) -> Tensor:
        if not isinstance(tensor, Tensor):
            raise TypeError(f"Input tensor should be a torch tensor. Got {type(tensor)}.")
        if not tensor.is_floating_point():
            raise TypeError(f"Input tensor should be a float tensor. Got {tensor.dtype}.")
        if tensor.dim() < 3:
            raise ValueError(
                f"Expected tensor to be a tensor image of size (..., C, H, W). Got tensor.size() = {tensor.size()}"
            )
        mean, std = self._shaped(tensor.shape[-3])
        if self.inplace:
            view = tensor._np()
            view -= mean
            view /= std
            if tensor.device.type != "cpu":
                tensor._c.copy_from(view)
            return tensor
        return host((tensor._np() - mean) / std, tensor.device)

    def batch(self, x: np.ndarray) -> None:
        """Normalize the float32 batch ``x`` (B, C, H, W) in place."""
        mean, std = self._shaped(x.shape[1])
        x -= mean
        x /= std

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"


class Compose:
    """Apply ``transforms`` in order."""

    def __init__(self, transforms) -> None:
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        body = "".join(f"\n    {t}" for t in self.transforms)
        return f"Compose({body}\n)"


class Lambda:
    """A user function as a transform: ``Lambda(lambda x: x.view(-1))``."""

    def __init__(self, lambd) -> None:
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {type(lambd).__name__!r}")
        self.lambd = lambd

    def __call__(self, x):
        return self.lambd(x)

    def __repr__(self) -> str:
        return "Lambda()"


def batch_plan(transform) -> list | None:
    """The steps to transform whole batches (ToTensor, then Normalizes), or None when ``transform`` has to
    run sample by sample (anything else, e.g. a ``Lambda``)."""
    steps = []
    stack = [transform]
    while stack:
        t = stack.pop(0)
        if isinstance(t, Compose):
            stack = list(t.transforms) + stack
        else:
            steps.append(t)
    if not steps or type(steps[0]) is not ToTensor or any(type(s) is not Normalize for s in steps[1:]):
        return None
    return steps


def apply_batch(plan: list, images: np.ndarray) -> Tensor:
    """Run ``plan`` on uint8 ``images`` (B, H, W[, C]); the result is written straight into engine memory."""
    b, h, w = images.shape[:3]
    c = 1 if images.ndim == 3 else images.shape[3]
    out = _core.tensor_ops.empty([b, c, h, w])
    view = out.numpy()
    plan[0].batch(images, view)
    for step in plan[1:]:
        step.batch(view)
    return wrap(out)
