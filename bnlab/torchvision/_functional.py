"""Geometric functions behind the transforms: ``pad``, ``crop``, ``center_crop``, ``hflip``, ``resize``.

Each follows ``torchvision.transforms.functional`` on the three image kinds (see ``_image``): a PIL image goes
through the same Pillow calls torchvision makes; an ``ImageArray`` gets PIL's semantics computed with NumPy; a
tensor gets torchvision's tensor semantics (``_functional_tensor``) computed with NumPy, on its device's
host copy, the result a new tensor on the same device. The transforms prepare data: no autograd here.

Conventions (torchvision's):

    padding    int p -> (p, p, p, p); (lr, tb) -> (lr, tb, lr, tb); (left, top, right, bottom); negative = crop
    pad modes  constant (fill), edge (repeat the border pixel), reflect (mirror without the border pixel:
               [1 2 3 4] by 2 -> 3 2 | 1 2 3 4 | 3 2), symmetric (mirror with it: 2 1 | 1 2 3 4 | 4 3)
    crop       pixels outside the image are 0
    center     top = int(round((H - h) / 2)), left = int(round((W - w) / 2)) (Python's round: half to even);
               a crop larger than the image first zero-pads it by ((w - W) // 2, (h - H) // 2,
               (w - W + 1) // 2, (h - H + 1) // 2) (left, top, right, bottom)
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from ..torch.tensor import Tensor, host
from . import _resample
from ._image import ImageArray, get_dimensions, is_pil, pil_image_module

__all__ = ["center_crop", "crop", "hflip", "pad", "resize", "resized_output_size"]

PAD_MODES = ("constant", "edge", "reflect", "symmetric")


def _tensor_like(tensor: Tensor, array: np.ndarray) -> Tensor:
    return host(np.ascontiguousarray(array), tensor.device)


def _check_pad_args(padding, fill, padding_mode, fill_types) -> None:
    """torchvision's checks of ``pad``'s arguments, with its messages."""
    if not isinstance(padding, (numbers.Number, tuple, list)) or isinstance(padding, bool):
        raise TypeError("Got inappropriate padding arg")
    if fill is not None and not isinstance(fill, fill_types):
        raise TypeError("Got inappropriate fill arg")
    if not isinstance(padding_mode, str):
        raise TypeError("Got inappropriate padding_mode arg")
    if isinstance(padding, (tuple, list)) and len(padding) not in (1, 2, 4):
        raise ValueError(f"Padding must be an int or a 1, 2, or 4 element tuple, not a {len(padding)} element tuple")
    if padding_mode not in PAD_MODES:
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")


def _ltrb(padding) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of an int, 1-, 2- or 4-sequence."""
    p = [padding] if isinstance(padding, numbers.Number) else list(padding)
    if len(p) == 1:
        p = p * 4
    elif len(p) == 2:
        p = p * 2
    if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in p):
        raise TypeError(f"padding values should be integers, got {padding!r}")
    return int(p[0]), int(p[1]), int(p[2]), int(p[3])


def _torch_pad_index(n: int, before: int, after: int, mode: str, dim: int, shape) -> np.ndarray:
    """The source index of each output position along one axis (PyTorch's ``F.pad``: output j reads input
    j - before of the original axis; -1 marks a fill position)."""
    x = np.arange(-before, n + after)
    if mode == "constant":
        return np.where((x >= 0) & (x < n), x, -1)
    if mode == "edge":
        return np.clip(x, 0, n - 1)
    if before >= n or after >= n:
        raise RuntimeError(
            "Padding size should be less than the corresponding input dimension, but got: padding "
            f"({before}, {after}) at dimension {dim} of input {list(shape)}"
        )
    x = np.abs(x)
    return np.where(x >= n, 2 * (n - 1) - x, x)


def _symmetric_index(n: int, before: int, after: int) -> np.ndarray:
    """torchvision's ``_pad_symmetric`` along one axis of an already cropped axis of size n."""
    if before > n or after > n:
        raise IndexError(f"symmetric padding ({before}, {after}) is larger than the image side {n}")
    x = np.arange(-before, n + after)
    return np.where(x < 0, -x - 1, np.where(x >= n, 2 * n - 1 - x, x))


def _pad_tensor(img: Tensor, padding, fill, padding_mode: str) -> Tensor:
    if img.dim() < 2:
        raise TypeError("Tensor is not a torch image.")
    fill = 0 if fill is None else fill
    if not isinstance(padding, (int, tuple, list)) or isinstance(padding, bool):
        raise TypeError("Got inappropriate padding arg")
    _check_pad_args(padding, fill, padding_mode, (int, float))
    left, top, right, bottom = _ltrb(padding)
    a = img._np()
    h, w = a.shape[-2:]
    if padding_mode == "symmetric":
        # crop the negative sides first, then mirror what is left
        a = a[..., max(-top, 0) : h - max(-bottom, 0), max(-left, 0) : w - max(-right, 0)]
        rows = _symmetric_index(a.shape[-2], max(top, 0), max(bottom, 0))
        cols = _symmetric_index(a.shape[-1], max(left, 0), max(right, 0))
        return _tensor_like(img, a[..., rows[:, None], cols[None, :]])
    ndim = max(a.ndim, 4)
    rows = _torch_pad_index(h, top, bottom, padding_mode, ndim - 2, (1,) * (ndim - a.ndim) + a.shape)
    cols = _torch_pad_index(w, left, right, padding_mode, ndim - 1, (1,) * (ndim - a.ndim) + a.shape)
    if rows.size <= 0 or cols.size <= 0:
        raise RuntimeError(f"padding {padding} of an image of size ({h}, {w}) leaves no pixel")
    out = a[..., np.maximum(rows, 0)[:, None], np.maximum(cols, 0)[None, :]]
    if padding_mode == "constant":
        out[..., (rows < 0)[:, None] | (cols < 0)[None, :]] = np.asarray(float(fill)).astype(a.dtype)
    elif a.dtype.kind != "f":
        out = out.astype(np.float32).astype(a.dtype)  # torchvision pads integer tensors in float32
    return _tensor_like(img, out)


def _parse_fill(fill, channels: int):
    """torchvision's ``_parse_fill`` for a uint8 image: an int, or one int per channel."""
    fill = 0 if fill is None else fill
    if isinstance(fill, (list, tuple)):
        if len(fill) == 1:
            fill = list(fill) * channels
        elif len(fill) != channels:
            raise ValueError(
                "The number of elements in 'fill' does not match the number of channels of the image "
                f"({len(fill)} != {channels})"
            )
        return tuple(int(v) for v in fill)
    return int(fill)


def _pad_array_image(img: ImageArray, padding, fill, padding_mode: str) -> ImageArray:
    """PIL's padding of a uint8 image: ``ImageOps.expand`` for constant, ``np.pad`` for the other modes."""
    _check_pad_args(padding, fill, padding_mode, (numbers.Number, tuple, list))
    left, top, right, bottom = _ltrb(padding)
    a = img.array
    h, w = a.shape[:2]
    if padding_mode == "constant":
        color = np.asarray(_parse_fill(fill, img.channels)).astype(np.uint8)  # PIL clips nothing: 8 bits kept
        out = np.empty((top + h + bottom, left + w + right, *a.shape[2:]), np.uint8)
        out[...] = color
        ys, xs = max(top, 0), max(left, 0)
        src = a[max(-top, 0) : h - max(-bottom, 0), max(-left, 0) : w - max(-right, 0)]
        out[ys : ys + src.shape[0], xs : xs + src.shape[1]] = src
        return ImageArray(out)
    a = a[max(-top, 0) : h - max(-bottom, 0), max(-left, 0) : w - max(-right, 0)]
    widths = ((max(top, 0), max(bottom, 0)), (max(left, 0), max(right, 0))) + ((0, 0),) * (a.ndim - 2)
    return ImageArray(np.pad(a, widths, mode=padding_mode))


def _pad_pil(img, padding, fill, padding_mode: str):
    """torchvision's ``_functional_pil.pad``, on a Pillow image."""
    from PIL import ImageOps

    _check_pad_args(padding, fill, padding_mode, (numbers.Number, tuple, list))
    if padding_mode == "constant":
        if isinstance(padding, (tuple, list)):
            padding = tuple(padding) if len(padding) > 1 else padding[0]
        channels = len(img.getbands())
        color = _parse_fill(fill, channels) if img.mode != "F" else fill
        if isinstance(color, int) and channels > 1:
            color = (color,) * channels
        out = ImageOps.expand(img, border=padding, fill=color)
        if img.mode == "P":
            out.putpalette(img.getpalette())
        return out
    image = pil_image_module()
    left, top, right, bottom = _ltrb(padding)
    img = img.crop((max(-left, 0), max(-top, 0), img.width - max(-right, 0), img.height - max(-bottom, 0)))
    a = np.asarray(img)
    widths = ((max(top, 0), max(bottom, 0)), (max(left, 0), max(right, 0))) + ((0, 0),) * (a.ndim - 2)
    out = image.fromarray(np.pad(a, widths, mode=padding_mode))
    if img.mode == "P":
        out.putpalette(img.getpalette())
    return out


def pad(img, padding, fill=0, padding_mode: str = "constant"):
    """Pad ``img`` by ``padding`` (left, top, right, bottom; see the module's conventions) in ``padding_mode``.

    A tensor takes a number as ``fill``; a PIL image or ImageArray also one number per channel. Reflect on a
    tensor needs each padding smaller than the side (PyTorch's rule); on a PIL image NumPy mirrors again."""
    if isinstance(img, Tensor):
        return _pad_tensor(img, padding, fill, padding_mode)
    if isinstance(img, ImageArray):
        return _pad_array_image(img, padding, fill, padding_mode)
    if is_pil(img):
        return _pad_pil(img, padding, fill, padding_mode)
    raise TypeError(f"img should be PIL Image or Tensor. Got {type(img)}")


def crop(img, top: int, left: int, height: int, width: int):
    """The ``height`` x ``width`` window at (``top``, ``left``); pixels outside the image are 0."""
    if is_pil(img):
        return img.crop((left, top, left + width, top + height))
    _, h, w = get_dimensions(img)
    a = img._np() if isinstance(img, Tensor) else np.moveaxis(img.array.reshape(h, w, -1), -1, 0)
    if top >= 0 and left >= 0 and top + height <= h and left + width <= w:
        out = a[..., top : top + height, left : left + width]
    else:
        out = np.zeros((*a.shape[:-2], height, width), a.dtype)
        y0, y1, x0, x1 = max(top, 0), min(top + height, h), max(left, 0), min(left + width, w)
        if y1 > y0 and x1 > x0:
            out[..., y0 - top : y1 - top, x0 - left : x1 - left] = a[..., y0:y1, x0:x1]
    if isinstance(img, Tensor):
        return _tensor_like(img, out)
    out = np.moveaxis(out, 0, -1)
    return ImageArray(np.ascontiguousarray(out[:, :, 0] if img.array.ndim == 2 else out))


def center_crop(img, output_size):
    """The centered ``output_size`` (h, w) window, zero-padding first when it is larger than the image."""
    if isinstance(output_size, numbers.Number):
        output_size = (int(output_size), int(output_size))
    elif isinstance(output_size, (tuple, list)) and len(output_size) == 1:
        output_size = (output_size[0], output_size[0])
    _, image_height, image_width = get_dimensions(img)
    crop_height, crop_width = output_size
    if crop_width > image_width or crop_height > image_height:
        padding_ltrb = [
            (crop_width - image_width) // 2 if crop_width > image_width else 0,
            (crop_height - image_height) // 2 if crop_height > image_height else 0,
            (crop_width - image_width + 1) // 2 if crop_width > image_width else 0,
            (crop_height - image_height + 1) // 2 if crop_height > image_height else 0,
        ]
        img = pad(img, padding_ltrb, fill=0)
        _, image_height, image_width = get_dimensions(img)
        if crop_width == image_width and crop_height == image_height:
            return img
    crop_top = round((image_height - crop_height) / 2.0)
    crop_left = round((image_width - crop_width) / 2.0)
    return crop(img, crop_top, crop_left, crop_height, crop_width)


def hflip(img):
    """Mirror left-right (the last axis of a tensor)."""
    if isinstance(img, Tensor):
        if img.dim() < 2:
            raise TypeError("Tensor is not a torch image.")
        return _tensor_like(img, img._np()[..., ::-1])
    if isinstance(img, ImageArray):
        return ImageArray(np.ascontiguousarray(img.array[:, ::-1]))
    if is_pil(img):
        return img.transpose(pil_image_module().Transpose.FLIP_LEFT_RIGHT)
    raise TypeError(f"img should be PIL Image or Tensor. Got {type(img)}")


def resized_output_size(image_size, size, max_size=None) -> list[int]:
    """torchvision's ``_compute_resized_output_size``: ``[new_h, new_w]``.

    One number s (an int or a 1-sequence) is the smaller edge: short -> s, long -> int(s * long / short)
    (truncated); with ``max_size`` and a long edge above it: long -> max_size, short -> int(max_size * s /
    long). Two numbers are (h, w)."""
    h, w = image_size
    short, long = (w, h) if w <= h else (h, w)
    if isinstance(size, int) or len(size) == 1:
        requested_new_short = size if isinstance(size, int) else size[0]
        new_short, new_long = requested_new_short, int(requested_new_short * long / short)
        if max_size is not None:
            if max_size <= requested_new_short:
                raise ValueError(
                    f"max_size = {max_size} must be strictly greater than the requested "
                    f"size for the smaller edge size = {size}"
                )
            if new_long > max_size:
                new_short, new_long = int(max_size * new_short / new_long), max_size
        new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    else:
        new_w, new_h = size[1], size[0]
    return [new_h, new_w]


def resize(img, size, interpolation: str, max_size=None, antialias=True, pil_code: int | None = None):
    """Resize ``img`` to ``resized_output_size`` with ``interpolation`` (a mode's value: "bilinear"...).

    A PIL image is resized by Pillow (``img.resize((w, h), pil_code)``, always antialiased), an ImageArray
    too when Pillow is importable (else like a uint8 tensor); a tensor by ``_resample.resize``."""
    if isinstance(size, (list, tuple)) and max_size is not None and len(size) != 1:
        raise ValueError(
            "max_size should only be passed if size specifies the length of the smaller edge, "
            "i.e. size should be an int or a sequence of length 1 in torchscript mode."
        )
    _, image_height, image_width = get_dimensions(img)
    size = [size] if isinstance(size, int) else size
    output_size = resized_output_size((image_height, image_width), size, max_size)
    if [image_height, image_width] == output_size:
        return img
    if isinstance(img, Tensor):
        return _tensor_like(img, _resample.resize(img._np(), output_size, interpolation, antialias))
    if antialias is False:
        warnings.warn(
            "Anti-alias option is always applied for PIL Image input. Argument antialias is ignored.", stacklevel=3
        )
    if isinstance(img, ImageArray):
        try:
            from PIL import Image
        except ImportError:
            chw = np.moveaxis(img.array.reshape(image_height, image_width, -1), -1, 0)
            out = np.moveaxis(_resample.resize(chw, output_size, interpolation, True), 0, -1)
            return ImageArray(np.ascontiguousarray(out[:, :, 0] if img.array.ndim == 2 else out))
        a = img.array if img.array.ndim == 2 or img.array.shape[2] != 1 else img.array[:, :, 0]
        out = np.asarray(Image.fromarray(a).resize(tuple(output_size[::-1]), pil_code))
        return ImageArray(out.reshape(*out.shape[:2], *img.array.shape[2:]))
    if is_pil(img):
        return img.resize(tuple(output_size[::-1]), pil_code)
    raise TypeError(f"img should be PIL Image or Tensor. Got {type(img)}")
