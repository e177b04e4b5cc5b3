"""``torchvision.transforms``: the public module (torchvision's names, for ``from ... import transforms``).

Here: ``ToTensor``, ``Normalize``, ``Compose``, ``Lambda`` and the DataLoader's batched path; the geometric
transforms (``Resize``, ``Pad``, ``CenterCrop``, ``RandomCrop``, ``RandomHorizontalFlip``,
``InterpolationMode``) live in ``_transforms_geometry`` and the image kinds (``ImageArray``, PIL images,
tensors) in ``_image``; all are re-exported here.

Pillow is not needed: a dataset sample is an :class:`ImageArray`, a small PIL-like wrapper of a uint8 array
(``(H, W)`` grayscale or ``(H, W, 3)`` RGB) with ``size``, ``mode`` and NumPy conversion. A real PIL image
is taken too when the user has Pillow.

    ToTensor   uint8 (H, W, C) -> float32 (C, H, W) in [0, 1] (x / 255); (H, W) -> (1, H, W); PIL images as
               torchvision converts them (modes I and F unscaled, mode 1 as 0 / 255); other arrays unscaled
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
from ._image import ImageArray, is_pil
from ._transforms_geometry import CenterCrop, InterpolationMode, Pad, RandomCrop, RandomHorizontalFlip, Resize

__all__ = [
    "CenterCrop",
    "Compose",
    "ImageArray",
    "InterpolationMode",
    "Lambda",
    "Normalize",
    "Pad",
    "RandomCrop",
    "RandomHorizontalFlip",
    "Resize",
    "ToTensor",
    "apply_batch",
    "batch_plan",
]

# torchvision's ToTensor: the NumPy type each PIL mode is read as (uint8 for the others)
_PIL_MODE_TYPES = {"I": np.int32, "I;16": np.int16, "F": np.float32}


def _as_hwc(pic) -> np.ndarray:
    if isinstance(pic, ImageArray):
        array = pic.array
    elif isinstance(pic, np.ndarray):
        array = pic
    elif is_pil(pic):
        array = np.array(pic, _PIL_MODE_TYPES.get(pic.mode, np.uint8), copy=True)
        if pic.mode == "1":
            array = 255 * array
        return array.reshape(pic.size[1], pic.size[0], len(pic.getbands()))
    else:
        raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3:
        raise ValueError(f"pic should be 2/3 dimensional. Got {array.ndim} dimensions.")
    return array


class ToTensor:
    """uint8 image (H, W[, C]) -> float32 tensor (C, H, W) with values x / 255 in [0, 1]: an ImageArray, a
    NumPy array or a PIL image; other dtypes are transposed to (C, H, W) without scaling."""

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
    """(x - mean) / std per channel of a float tensor (..., C, H, W), in float32 as torchvision computes it
    (``tensor.sub_(mean).div_(std)`` with mean and std cast to float32). ``mean`` and ``std`` are kept as
    given (a sequence of one value per channel, or one value for all), as torchvision's ``repr`` shows them.
    A zero in ``std`` is refused when the transform is made (torchvision: at the first call)."""

    def __init__(self, mean, std, inplace: bool = False) -> None:
        self.mean = mean
        self.std = std
        self.inplace = inplace
        self._mean = np.asarray(mean, dtype=np.float32).reshape(-1)
        self._std = np.asarray(std, dtype=np.float32).reshape(-1)
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
