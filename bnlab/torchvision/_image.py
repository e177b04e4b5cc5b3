"""The image kinds the transforms take, and what they share: ``ImageArray``, PIL images, tensors.

Three kinds of image reach a transform, as in torchvision:

    ImageArray   bnlab's stand-in for a PIL image (what the datasets give): a uint8 (H, W) or (H, W, C) array;
                 the geometric transforms treat it with PIL's semantics and give an ImageArray back
    PIL.Image    a real Pillow image, when the user made one (Pillow is not a dependency of bnlab: this module
                 never imports it, it only recognizes images of an already imported ``PIL.Image``)
    Tensor       a ``bnlab.torch`` tensor (..., H, W): CxHxW, NxCxHxW, or HxW (one channel)

``get_dimensions`` gives torchvision's ``[channels, height, width]`` of any of them.
"""

from __future__ import annotations

import sys

import numpy as np

from ..torch.tensor import Tensor

__all__ = ["ImageArray", "get_dimensions", "is_pil", "pil_image_module"]


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

    @property
    def channels(self) -> int:
        return 1 if self.array.ndim == 2 else self.array.shape[2]

    def __array__(self, dtype=None, copy=None):
        return self.array if dtype is None else self.array.astype(dtype)

    def __repr__(self) -> str:
        return f"<ImageArray mode={self.mode} size={self.width}x{self.height}>"


def pil_image_module():
    """``PIL.Image`` when it has been imported (by the user or a library), else None: no import here."""
    return sys.modules.get("PIL.Image")


def is_pil(img) -> bool:
    """Whether ``img`` is a real Pillow image."""
    module = pil_image_module()
    return module is not None and isinstance(img, module.Image)


def get_dimensions(img) -> list[int]:
    """``[channels, height, width]`` of an image, as ``torchvision.transforms.functional.get_dimensions``."""
    if isinstance(img, Tensor):
        if img.dim() < 2:
            raise TypeError("Tensor is not a torch image.")
        shape = img.shape
        return [1 if img.dim() == 2 else shape[-3], shape[-2], shape[-1]]
    if isinstance(img, ImageArray):
        return [img.channels, img.height, img.width]
    if is_pil(img):
        width, height = img.size
        return [len(img.getbands()), height, width]
    raise TypeError(f"Unexpected type {type(img)}")
