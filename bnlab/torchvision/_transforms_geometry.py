"""torchvision's geometric transforms: ``Resize``, ``Pad``, ``CenterCrop``, ``RandomCrop``,
``RandomHorizontalFlip``, and ``InterpolationMode``.

Each takes a tensor (..., H, W), a PIL image or an ``ImageArray`` and gives the same kind back (see
``_functional`` for the formulas); arguments, attributes, ``repr`` and error messages are torchvision's.

Randomness. As in torchvision, the random transforms draw from the global generator at each call:

    RandomHorizontalFlip   flips when torch.rand(1) < p                           (one draw)
    RandomCrop.get_params  i = torch.randint(0, H - h + 1, size=(1,)).item(), then j likewise with W
                           (no draw when the crop is the whole image)

here ``bnlab.torch.rand`` and ``bnlab.torch.randint``, looked up at call time, so ``bnlab.torch.manual_seed(s)``
makes a pipeline reproducible. bnlab.torch's generator is NumPy's PCG64, not PyTorch's mt19937: the same
seed gives the same sequence of calls as torchvision, not the same numbers.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from enum import Enum

import numpy as np

from .. import torch as _torch
from . import _functional as F
from ._image import get_dimensions

__all__ = ["CenterCrop", "InterpolationMode", "Pad", "RandomCrop", "RandomHorizontalFlip", "Resize"]


class InterpolationMode(Enum):
    """torchvision's interpolation modes; tensors take the first four, PIL images all of them."""

    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


# Pillow's integer constants (PIL.Image.BILINEAR == 2...) and the Pillow filter of each mode
_FROM_PIL = {0: "NEAREST", 2: "BILINEAR", 3: "BICUBIC", 4: "BOX", 5: "HAMMING", 1: "LANCZOS"}
_TO_PIL = {"nearest": 0, "nearest-exact": 0, "bilinear": 2, "bicubic": 3, "box": 4, "hamming": 5, "lanczos": 1}


def _setup_size(size, error_msg: str):
    """torchvision's ``_setup_size``: n -> (int(n), int(n)); [n] -> (n, n); (h, w) as given."""
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if isinstance(size, Sequence) and len(size) == 1:
        return size[0], size[0]
    if not isinstance(size, Sequence) or len(size) != 2:
        raise ValueError(error_msg)
    return size


def _check_crop_size(name: str, size) -> None:
    if not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in size):
        raise TypeError(f"{name}: size should be an int or a sequence of ints, got {size!r}")
    if any(s < 0 for s in size):
        raise ValueError(f"{name}: size should not be negative, got {size!r}")


class Resize:
    """Resize to ``size``: an int is the smaller edge (the other becomes int(size * long / short)), (h, w) the
    exact size; ``max_size`` caps the longer edge (int ``size`` only). Tensors resample as ``interpolate``
    (bilinear with antialias=True: PIL's antialiased filter), PIL images with Pillow (always antialiased)."""

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True) -> None:
        if not isinstance(size, (int, Sequence)) or isinstance(size, (bool, str)):
            raise TypeError(f"Size should be int or sequence. Got {type(size)}")
        if isinstance(size, Sequence) and len(size) not in (1, 2):
            raise ValueError("If size is a sequence, it should have 1 or 2 values")
        values = [size] if isinstance(size, int) else list(size)
        if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values):
            raise TypeError(f"Resize: size should hold ints, got {size!r}")
        if any(v <= 0 for v in values):
            raise ValueError(f"Resize: size should be positive, got {size!r}")
        if max_size is not None and (not isinstance(max_size, numbers.Integral) or max_size <= 0):
            raise ValueError(f"Resize: max_size should be a positive int or None, got {max_size!r}")
        if isinstance(interpolation, int) and not isinstance(interpolation, bool):
            if interpolation not in _FROM_PIL:
                raise ValueError(f"Resize: interpolation {interpolation} is not a Pillow filter constant")
            interpolation = InterpolationMode[_FROM_PIL[interpolation]]
        elif not isinstance(interpolation, InterpolationMode):
            raise TypeError(
                "Argument interpolation should be a InterpolationMode or a corresponding Pillow integer constant"
            )
        self.size = size
        self.max_size = max_size
        self.interpolation = interpolation
        self.antialias = antialias

    def __call__(self, img):
        mode = self.interpolation.value
        return F.resize(img, self.size, mode, self.max_size, self.antialias, pil_code=_TO_PIL[mode])

    def __repr__(self) -> str:
        detail = (
            f"(size={self.size}, interpolation={self.interpolation.value}, max_size={self.max_size}, "
            f"antialias={self.antialias})"
        )
        return f"{type(self).__name__}{detail}"


class Pad:
    """Pad by ``padding`` (int, (left/right, top/bottom) or (left, top, right, bottom)) with ``fill`` in
    ``padding_mode``: constant, edge, reflect or symmetric (see ``_functional``)."""

    def __init__(self, padding, fill=0, padding_mode="constant") -> None:
        if not isinstance(padding, (numbers.Number, tuple, list)) or isinstance(padding, bool):
            raise TypeError("Got inappropriate padding arg")
        if not isinstance(fill, (numbers.Number, tuple, list)):
            raise TypeError("Got inappropriate fill arg")
        if padding_mode not in F.PAD_MODES:
            raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")
        if isinstance(padding, Sequence) and len(padding) not in (1, 2, 4):
            raise ValueError(
                f"Padding must be an int or a 1, 2, or 4 element tuple, not a {len(padding)} element tuple"
            )
        self.padding = padding
        self.fill = fill
        self.padding_mode = padding_mode

    def __call__(self, img):
        return F.pad(img, self.padding, self.fill, self.padding_mode)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(padding={self.padding}, fill={self.fill}, padding_mode={self.padding_mode})"


class CenterCrop:
    """The centered (h, w) window (an int n: (n, n)); zero-pads first when the image is smaller."""

    def __init__(self, size) -> None:
        self.size = _setup_size(size, error_msg="Please provide only two dimensions (h, w) for size.")
        _check_crop_size("CenterCrop", self.size)

    def __call__(self, img):
        return F.center_crop(img, self.size)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size})"


class RandomCrop:
    """A (h, w) window at a random place, after an optional ``padding`` (as ``Pad``); with ``pad_if_needed``
    a side smaller than the crop is padded first (width, then height, on both sides by the missing amount)."""

    @staticmethod
    def get_params(img, output_size) -> tuple[int, int, int, int]:
        """(i, j, h, w) of a random crop of ``output_size`` = (h, w): i and j uniform, drawn in that order."""
        _, h, w = get_dimensions(img)
        th, tw = output_size
        if h < th or w < tw:
            raise ValueError(f"Required crop size {(th, tw)} is larger than input image size {(h, w)}")
        if w == tw and h == th:
            return 0, 0, h, w
        i = _torch.randint(0, h - th + 1, size=(1,)).item()
        j = _torch.randint(0, w - tw + 1, size=(1,)).item()
        return i, j, th, tw

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant") -> None:
        self.size = tuple(_setup_size(size, error_msg="Please provide only two dimensions (h, w) for size."))
        _check_crop_size("RandomCrop", self.size)
        self.padding = padding
        self.pad_if_needed = pad_if_needed
        self.fill = fill
        self.padding_mode = padding_mode

    def __call__(self, img):
        if self.padding is not None:
            img = F.pad(img, self.padding, self.fill, self.padding_mode)
        _, height, width = get_dimensions(img)
        if self.pad_if_needed and width < self.size[1]:
            img = F.pad(img, [self.size[1] - width, 0], self.fill, self.padding_mode)
        if self.pad_if_needed and height < self.size[0]:
            img = F.pad(img, [0, self.size[0] - height], self.fill, self.padding_mode)
        i, j, h, w = self.get_params(img, self.size)
        return F.crop(img, i, j, h, w)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Mirror left-right with probability ``p`` (one draw per call: flips when rand(1) < p, in float32)."""

    def __init__(self, p=0.5) -> None:
        self.p = p

    def __call__(self, img):
        if _torch.rand(1).item() < float(np.float32(self.p)):
            return F.hflip(img)
        return img

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"
