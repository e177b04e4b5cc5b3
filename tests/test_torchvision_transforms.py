"""bnlab.torchvision.transforms' geometric transforms against NumPy formulas, without torchvision: Resize's
output size and resampling, Pad's modes, CenterCrop's offsets, the seeded RandomCrop/RandomHorizontalFlip
draws, ImageArray (PIL semantics) against tensors, reprs and errors. The same transforms are compared with
torchvision itself in tests/test_torchvision_transforms_parity.py.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

import bnlab.torch as bt
from bnlab.torchvision import transforms as T
from bnlab.torchvision._image import get_dimensions


def _image(c, h, w, seed=0):
    return np.random.default_rng(seed).random((c, h, w), dtype=np.float32)


def _uint8(h, w, c=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, c), dtype=np.uint8)


@pytest.mark.parametrize(
    ("hw", "size", "max_size", "expected"),
    [
        ((13, 5), 7, None, (18, 7)),  # int(7 * 13 / 5) = int(18.2)
        ((5, 13), 7, None, (7, 18)),
        ((9, 9), [4], None, (4, 4)),
        ((13, 5), 7, 15, (15, 5)),  # the long edge capped: short = int(15 * 7 / 18)
        ((13, 5), (3, 11), None, (3, 11)),
    ],
)
def test_resize_output_size(hw, size, max_size, expected):
    out = T.Resize(size, max_size=max_size)(bt.from_numpy(_image(3, *hw)))
    assert tuple(out.shape) == (3, *expected)


def test_resize_nearest_is_the_floor_of_the_scaled_index():
    a = _image(2, 13, 7)
    out = T.Resize((5, 11), T.InterpolationMode.NEAREST)(bt.from_numpy(a)).numpy()
    rows = np.minimum(np.floor(np.arange(5, dtype=np.float32) * np.float32(13 / 5)).astype(int), 12)
    cols = np.minimum(np.floor(np.arange(11, dtype=np.float32) * np.float32(7 / 11)).astype(int), 6)
    np.testing.assert_array_equal(out, a[:, rows[:, None], cols[None, :]])


def _triangle_weights(n_in, n_out):
    """PIL's antialiased bilinear filter in float64: triangle of half-width max(scale, 1) around each center."""
    scale = n_in / n_out
    support = max(scale, 1.0)
    w = np.zeros((n_out, n_in))
    for i in range(n_out):
        center = scale * (i + 0.5)
        j = np.arange(n_in)
        w[i] = np.maximum(1 - np.abs((j + 0.5 - center) / support), 0)
        w[i] /= w[i].sum()
    return w


@pytest.mark.parametrize(("hw", "out"), [((13, 7), (5, 11)), ((31, 17), (8, 40)), ((6, 6), (3, 3))])
def test_resize_bilinear_antialias_is_the_triangle_filter(hw, out):
    """Against float64 matrices: float32 weights and sums stay within (taps + n) float32 ulps of 1."""
    a = _image(3, *hw)
    got = T.Resize(out)(bt.from_numpy(a)).numpy()
    ref = _triangle_weights(hw[0], out[0]) @ a.astype(np.float64) @ _triangle_weights(hw[1], out[1]).T
    np.testing.assert_allclose(got, ref, rtol=0, atol=(2 * max(hw) + 16) * 2.0**-24)


def test_resize_bilinear_without_antialias_upsamples_like_the_textbook():
    a = _image(1, 4, 4)
    got = T.Resize((8, 8), antialias=False)(bt.from_numpy(a)).numpy()
    x = np.clip((np.arange(8) + 0.5) / 2 - 0.5, 0, None)
    i0 = np.floor(x).astype(int)
    i1, lam = np.minimum(i0 + 1, 3), x - i0
    w = np.zeros((8, 4))
    np.add.at(w, (np.arange(8), i0), 1 - lam)
    np.add.at(w, (np.arange(8), i1), lam)
    np.testing.assert_allclose(got[0], w @ a[0] @ w.T, rtol=0, atol=8 * 2.0**-24)


def test_resize_keeps_uint8_and_a_constant_image_constant():
    img = np.full((3, 9, 14), 77, np.uint8)
    for mode in ("bilinear", "bicubic", "nearest"):
        out = T.Resize(5, T.InterpolationMode(mode))(bt.from_numpy(img))
        assert out.dtype is bt.uint8 and (out.numpy() == 77).all()


def test_resize_of_an_image_array_without_pillow_resamples_like_a_uint8_tensor(monkeypatch):
    img = _uint8(9, 14)
    tensor = T.Resize(5)(bt.from_numpy(np.ascontiguousarray(np.moveaxis(img, -1, 0)))).numpy()
    monkeypatch.setitem(sys.modules, "PIL", None)
    out = T.Resize(5)(T.ImageArray(img))
    assert isinstance(out, T.ImageArray)
    np.testing.assert_array_equal(np.moveaxis(out.array, -1, 0), tensor)


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric"])
@pytest.mark.parametrize("padding", [2, (1, 3), (3, 0, 1, 2)])
def test_pad_is_numpys_pad(mode, padding):
    left, top, right, bottom = (
        (padding,) * 4 if isinstance(padding, int) else padding * 2 if len(padding) == 2 else padding
    )
    a = _image(3, 7, 9)
    got = T.Pad(padding, fill=0.5, padding_mode=mode)(bt.from_numpy(a)).numpy()
    kwargs = {"constant_values": 0.5} if mode == "constant" else {}
    np.testing.assert_array_equal(got, np.pad(a, ((0, 0), (top, bottom), (left, right)), mode=mode, **kwargs))
    img = _uint8(7, 9)
    arr = T.Pad(padding, fill=5, padding_mode=mode)(T.ImageArray(img)).array
    kwargs = {"constant_values": 5} if mode == "constant" else {}
    np.testing.assert_array_equal(arr, np.pad(img, ((top, bottom), (left, right), (0, 0)), mode=mode, **kwargs))


def test_pad_negative_crops_and_fill_per_channel():
    a = _image(3, 7, 9)
    got = T.Pad((-1, 2, 0, -3))(bt.from_numpy(a)).numpy()
    np.testing.assert_array_equal(got, np.pad(a[:, :4, 1:], ((0, 0), (2, 0), (0, 0))))
    arr = T.Pad(1, fill=(10, 20, 30))(T.ImageArray(_uint8(4, 5))).array
    assert arr.shape == (6, 7, 3) and (arr[0, 0] == [10, 20, 30]).all() and (arr[-1, -1] == [10, 20, 30]).all()


def test_reflect_padding_of_a_tensor_must_be_smaller_than_the_side():
    with pytest.raises(RuntimeError, match=r"Padding size should be less than .* padding \(4, 4\)"):
        T.Pad(4, padding_mode="reflect")(bt.from_numpy(_image(1, 4, 9)))


@pytest.mark.parametrize(("hw", "size", "top_left"), [((7, 9), (4, 6), (2, 2)), ((9, 8), (4, 5), (2, 2))])
def test_center_crop_rounds_the_offsets_half_to_even(hw, size, top_left):
    """top = int(round((7 - 4) / 2)) = round(1.5) = 2; round(2.5) = 2, as Python rounds."""
    a = _image(3, *hw)
    got = T.CenterCrop(size)(bt.from_numpy(a)).numpy()
    (t, left), (h, w) = top_left, size
    np.testing.assert_array_equal(got, a[:, t : t + h, left : left + w])


def test_center_crop_larger_than_the_image_zero_pads_it():
    a = _image(1, 3, 4)
    got = T.CenterCrop((6, 7))(bt.from_numpy(a)).numpy()
    np.testing.assert_array_equal(got, np.pad(a, ((0, 0), (1, 2), (1, 2))))  # (6-3)//2 top, (6-3+1)//2 bottom


def test_random_crop_draws_the_rows_then_the_columns():
    a = _image(3, 11, 13)
    bt.manual_seed(7)
    crops = [T.RandomCrop((5, 4))(bt.from_numpy(a)).numpy() for _ in range(6)]
    bt.manual_seed(7)
    for got in crops:
        i = bt.randint(0, 11 - 5 + 1, size=(1,)).item()
        j = bt.randint(0, 13 - 4 + 1, size=(1,)).item()
        np.testing.assert_array_equal(got, a[:, i : i + 5, j : j + 4])
    assert T.RandomCrop.get_params(bt.from_numpy(a), (11, 13)) == (0, 0, 11, 13)


def test_random_crop_padding_and_pad_if_needed():
    img = T.ImageArray(_uint8(30, 31))
    bt.manual_seed(1)
    out = T.RandomCrop(32, padding=4)(img)
    assert isinstance(out, T.ImageArray) and out.size == (32, 32)
    bt.manual_seed(2)
    out = T.RandomCrop((33, 35), pad_if_needed=True, fill=9)(img)
    padded = np.pad(img.array, ((3, 3), (4, 4), (0, 0)), constant_values=9)  # each side by the whole deficit
    bt.manual_seed(2)
    i, j = bt.randint(0, 36 - 33 + 1, size=(1,)).item(), bt.randint(0, 39 - 35 + 1, size=(1,)).item()
    np.testing.assert_array_equal(out.array, padded[i : i + 33, j : j + 35])
    with pytest.raises(ValueError, match=r"Required crop size \(33, 35\) is larger than input image size \(30, 31\)"):
        T.RandomCrop((33, 35))(img)


def test_random_horizontal_flip_draws_once_per_call():
    a = bt.from_numpy(_image(2, 3, 5))
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1)(a).numpy(), a.numpy()[..., ::-1])
    assert T.RandomHorizontalFlip(p=0)(a) is a
    bt.manual_seed(3)
    flips = [T.RandomHorizontalFlip(p=0.3)(a) is not a for _ in range(40)]
    bt.manual_seed(3)
    assert flips == [bt.rand(1).item() < np.float32(0.3) for _ in range(40)] and 0 < sum(flips) < 40
    batch = bt.from_numpy(np.stack([_image(2, 3, 5, seed=s) for s in range(4)]))
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1)(batch).numpy(), batch.numpy()[..., ::-1])


@pytest.mark.parametrize(
    "transform",
    [
        T.Pad((1, 2, 3, 0), padding_mode="edge"),
        T.Pad(3, padding_mode="symmetric"),
        T.CenterCrop((4, 11)),
        T.RandomHorizontalFlip(p=1),
        T.Compose([T.Pad(2, fill=7), T.CenterCrop(5)]),
    ],
)
def test_image_arrays_and_uint8_tensors_agree(transform):
    img = _uint8(7, 9)
    as_array = transform(T.ImageArray(img)).array
    as_tensor = transform(bt.from_numpy(np.ascontiguousarray(np.moveaxis(img, -1, 0)))).numpy()
    np.testing.assert_array_equal(np.moveaxis(as_array, -1, 0), as_tensor)


def test_to_tensor_of_a_pil_image():
    Image = pytest.importorskip("PIL.Image")
    img = _uint8(5, 6)
    x = T.ToTensor()(Image.fromarray(img))
    np.testing.assert_array_equal(x.numpy(), np.moveaxis(img, -1, 0).astype(np.float32) / np.float32(255))
    flipped = T.RandomHorizontalFlip(p=1)(Image.fromarray(img))
    np.testing.assert_array_equal(np.asarray(flipped), img[:, ::-1])


def test_reprs():
    assert repr(T.Resize(32)) == "Resize(size=32, interpolation=bilinear, max_size=None, antialias=True)"
    assert repr(T.Pad(4)) == "Pad(padding=4, fill=0, padding_mode=constant)"
    assert repr(T.CenterCrop(10)) == "CenterCrop(size=(10, 10))"
    assert repr(T.RandomCrop(32, padding=4)) == "RandomCrop(size=(32, 32), padding=4)"
    assert repr(T.RandomHorizontalFlip()) == "RandomHorizontalFlip(p=0.5)"
    assert repr(T.Normalize([0.5], [0.25])) == "Normalize(mean=[0.5], std=[0.25])"


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: T.Resize(-3), ValueError, r"Resize: size should be positive, got -3"),
        (lambda: T.Resize((0, 4)), ValueError, r"size should be positive"),
        (lambda: T.Resize(2.5), TypeError, r"Size should be int or sequence"),
        (lambda: T.Resize((1, 2, 3)), ValueError, r"If size is a sequence, it should have 1 or 2 values"),
        (lambda: T.Resize(4, interpolation=7), ValueError, r"interpolation 7 is not a Pillow filter constant"),
        (lambda: T.CenterCrop(-1), ValueError, r"CenterCrop: size should not be negative, got \(-1, -1\)"),
        (lambda: T.RandomCrop((4, -2)), ValueError, r"RandomCrop: size should not be negative"),
        (lambda: T.CenterCrop((2.5, 3)), TypeError, r"CenterCrop: size should be an int or a sequence of ints"),
        (lambda: T.RandomCrop((1, 2, 3)), ValueError, r"only two dimensions \(h, w\) for size"),
        (lambda: T.Pad(2, padding_mode="wrap"), ValueError, r"Padding mode should be either constant, edge"),
        (lambda: T.Pad((1, 2, 3)), ValueError, r"Padding must be an int or a 1, 2, or 4 element tuple"),
        (lambda: T.Pad(None), TypeError, r"Got inappropriate padding arg"),
        (lambda: T.Pad(1.5)(bt.zeros(1, 3, 3)), TypeError, r"Got inappropriate padding arg"),
        (lambda: T.Pad((1.5, 2))(bt.zeros(1, 3, 3)), TypeError, r"padding values should be integers"),
        (lambda: T.RandomHorizontalFlip(p=1)([1, 2]), TypeError, r"img should be PIL Image or Tensor"),
        (lambda: T.CenterCrop(2)(bt.zeros(3)), TypeError, r"Tensor is not a torch image"),
        (lambda: get_dimensions(np.zeros((3, 3))), TypeError, r"Unexpected type"),
    ],
)
def test_bad_arguments_raise_clear_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()
