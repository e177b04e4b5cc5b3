"""bnlab.torchvision.transforms against real torchvision (the reference): Resize, Pad, CenterCrop, RandomCrop,
RandomHorizontalFlip, ToTensor, Normalize and Compose on random images of odd sizes, the seeded draws, the
reprs and the errors. Skipped without torchvision; tests/test_torchvision_transforms.py checks the same
behaviour against NumPy formulas without it.

torchvision: ``pip install --no-deps torchvision==0.28.0`` (the release paired with torch 2.13.0). The PyPI
wheel is a CUDA build whose compiled ops cannot load next to the CPU torch; torchvision 0.28 then fails to
import (its ``_meta_registrations`` registers fakes for ``torchvision::nms``/``qnms`` unconditionally).
``_torchvision`` defines those two schemas so that the pure-Python ``torchvision.transforms`` imports; no
compiled torchvision op is used here.

Comparisons are bitwise except the bilinear and bicubic resampling of tensors (see ``_resample_atol``).
"""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

import bnlab.torch as bt
from bnlab.torchvision import _resample
from bnlab.torchvision import transforms as T


@pytest.fixture(scope="module")
def tv():
    """``torchvision.transforms``, imported even where its compiled ops cannot load (see the docstring). Each
    test skips without it (not the module: the suite collects the same tests on every machine)."""
    if importlib.util.find_spec("torchvision") is None or importlib.util.find_spec("torch") is None:
        # not pytest.importorskip: where torchvision's compiled ops cannot load, importing it raises RuntimeError
        pytest.skip("needs torchvision (pip install --no-deps torchvision==0.28.0) and torch")
    torch = pytest.importorskip("torch")
    try:
        import torchvision
    except RuntimeError as e:
        if "torchvision::nms" not in str(e):
            raise
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        torch.library.define("torchvision::nms", "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        torch.library.define("torchvision::qnms", "(Tensor qdets, Tensor scores, float iou_threshold) -> Tensor")
        import torchvision
    return torchvision.transforms


@pytest.fixture(scope="module")
def Image():  # noqa: N802 - PIL's module name, as tests write it
    return pytest.importorskip("PIL.Image")


SIZES = [(7, 9), (13, 5), (31, 17)]


def _float_image(h, w, c=3, batch=None, seed=0):
    shape = (c, h, w) if batch is None else (batch, c, h, w)
    return np.random.default_rng(seed + 97 * h + w).random(shape, dtype=np.float32)


def _uint8_hwc(h, w, c=3, seed=0):
    return np.random.default_rng(seed + 31 * h + w).integers(0, 256, (h, w, c) if c else (h, w), dtype=np.uint8)


def _both(tv_transform, bn_transform, array):
    """torchvision's and bnlab's results on the same tensor data, as NumPy arrays."""
    import torch

    ref = tv_transform(torch.from_numpy(array.copy())).numpy()
    got = bn_transform(bt.from_numpy(array.copy())).numpy()
    return ref, got


def _resample_atol(in_hw, out_hw, mode, antialias, scale_of_values):
    """The bound on |bnlab - torch| of a resampled float32 image. Both compute every weight in float32 from a
    float32 source coordinate of size up to n (the input side), so a weight can differ by u * (n + 10) (u =
    2**-24: the coordinate's rounding, and up to 10 roundings in Keys' polynomial); each of the K taps of a
    pass then adds one float32 rounding. A pass's error is at most max|x| * K * u * (n + 11), and the second
    pass carries the first's times sum|w| <= 1.3 (Keys' kernel has negative lobes)."""
    u = 2.0**-24
    err = 0.0
    for n_in, n_out in zip(in_hw, out_hw, strict=True):
        k = _resample.taps(n_in, n_out, mode, antialias)[0].shape[1] if n_in != n_out else 0
        err = 1.3 * err + k * u * (n_in + 11)
    return err * scale_of_values


@pytest.mark.parametrize("hw", SIZES)
@pytest.mark.parametrize("size", [5, 11, (4, 13), 50, [8]])
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "bilinear", "bicubic"])
@pytest.mark.parametrize("antialias", [True, False])
def test_resize_float_tensors(tv, hw, size, mode, antialias):
    a = _float_image(*hw, batch=2)
    ref, got = _both(
        tv.Resize(size, tv.InterpolationMode(mode), antialias=antialias),
        T.Resize(size, T.InterpolationMode(mode), antialias=antialias),
        a,
    )
    assert got.shape == ref.shape and got.dtype == np.float32
    if mode.startswith("nearest"):
        np.testing.assert_array_equal(got, ref)  # a gather: the same source pixels
    else:
        atol = _resample_atol(hw, ref.shape[-2:], mode, antialias, np.abs(a).max())
        np.testing.assert_allclose(got, ref, rtol=0, atol=atol)


@pytest.mark.parametrize("hw", SIZES)
@pytest.mark.parametrize("size", [5, (29, 7), 40])
@pytest.mark.parametrize("mode", ["nearest", "bilinear", "bicubic"])
def test_resize_uint8_tensors_round_the_float_result(tv, hw, size, mode):
    """uint8 is resampled in float32 and rounded: the two may differ by 1 only where the float value lies
    within the float tolerance of a rounding boundary k + 0.5."""
    a = np.moveaxis(_uint8_hwc(*hw), -1, 0)
    ref, got = _both(tv.Resize(size, tv.InterpolationMode(mode)), T.Resize(size, T.InterpolationMode(mode)), a)
    assert got.dtype == np.uint8 and got.shape == ref.shape
    diff = got.astype(int) - ref.astype(int)
    if mode == "nearest":
        assert not diff.any()
        return
    value = _resample.resize(a.astype(np.float32), ref.shape[-2:], mode, True)
    atol = _resample_atol(hw, ref.shape[-2:], mode, True, 255.0)
    near_half = np.abs(value - np.floor(value) - 0.5) <= atol
    assert np.abs(diff).max() <= 1 and not (diff != 0)[~near_half].any()


@pytest.mark.parametrize("hw", SIZES)
@pytest.mark.parametrize("size", [5, (4, 13), 40])
@pytest.mark.parametrize("mode", ["nearest", "bilinear", "bicubic", "box", "lanczos"])
@pytest.mark.parametrize("channels", [3, 0])
def test_resize_pil_and_image_array_use_pillow(tv, Image, hw, size, mode, channels):
    img = _uint8_hwc(*hw, c=channels)
    ref = np.asarray(tv.Resize(size, tv.InterpolationMode(mode))(Image.fromarray(img)))
    np.testing.assert_array_equal(T.Resize(size, T.InterpolationMode(mode))(T.ImageArray(img)).array, ref)
    np.testing.assert_array_equal(np.asarray(T.Resize(size, T.InterpolationMode(mode))(Image.fromarray(img))), ref)


def test_resize_max_size_and_pil_constants(tv):
    a = _float_image(13, 5)
    for kwargs in [{"size": 7, "max_size": 12}, {"size": [4], "max_size": 30}, {"size": 6, "interpolation": 0}]:
        ref, got = _both(tv.Resize(**kwargs), T.Resize(**kwargs), a)
        assert got.shape == ref.shape
    assert T.Resize(5)(same := bt.from_numpy(_float_image(5, 9))) is same  # already the size: returned as is


PADDINGS = [2, (1, 3), (3, 0, 1, 2), (-1, 2, 3, -2), [0]]


@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric"])
@pytest.mark.parametrize("dtype", [np.float32, np.uint8])
def test_pad_tensors(tv, padding, mode, dtype):
    for a in (_float_image(7, 9), _float_image(5, 6, batch=2)):
        a = (a * 255).astype(dtype) if dtype == np.uint8 else a
        ref, got = _both(tv.Pad(padding, fill=3, padding_mode=mode), T.Pad(padding, fill=3, padding_mode=mode), a)
        assert got.dtype == ref.dtype
        np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric"])
@pytest.mark.parametrize("fill", [0, 7, (10, 20, 30)])
def test_pad_pil_and_image_array(tv, Image, padding, mode, fill):
    for img in (_uint8_hwc(7, 9), _uint8_hwc(6, 5, c=0)):
        if img.ndim == 2 and isinstance(fill, tuple):
            continue
        ref = np.asarray(tv.Pad(padding, fill=fill, padding_mode=mode)(Image.fromarray(img)))
        ours = T.Pad(padding, fill=fill, padding_mode=mode)
        np.testing.assert_array_equal(ours(T.ImageArray(img)).array, ref)
        np.testing.assert_array_equal(np.asarray(ours(Image.fromarray(img))), ref)


@pytest.mark.parametrize("hw", [*SIZES, (4, 4), (1, 2)])
@pytest.mark.parametrize("size", [1, 3, (4, 6), (10, 3), 12, [5]])
def test_center_crop(tv, Image, hw, size):
    ref, got = _both(tv.CenterCrop(size), T.CenterCrop(size), _float_image(*hw))
    np.testing.assert_array_equal(got, ref)
    ref, got = _both(tv.CenterCrop(size), T.CenterCrop(size), _float_image(*hw, batch=2))
    np.testing.assert_array_equal(got, ref)
    img = _uint8_hwc(*hw)
    ref = np.asarray(tv.CenterCrop(size)(Image.fromarray(img)))
    np.testing.assert_array_equal(T.CenterCrop(size)(T.ImageArray(img)).array, ref)


class _Draws:
    """Stands in for a module's ``rand``/``randint``: records each call, and answers with the given values
    (``replay``) or with the real function's (``real``)."""

    def __init__(self, real=None, replay=None, wrap=None):
        self.calls, self.values, self.replay, self.wrap = [], [], replay, wrap
        self.real = None if real is None else {"rand": real.rand, "randint": real.randint}

    def _answer(self, name, args, kwargs):
        self.calls.append((name, tuple(args), {k: tuple(v) for k, v in kwargs.items()}))
        if self.replay is not None:
            return self.wrap(self.replay.pop(0))
        out = self.real[name](*args, **kwargs)
        self.values.append(out.item())
        return out

    def rand(self, *args, **kwargs):
        return self._answer("rand", args, kwargs)

    def randint(self, *args, **kwargs):
        return self._answer("randint", args, kwargs)


def _pipelines(lib):
    return [
        lib.RandomHorizontalFlip(),
        lib.RandomHorizontalFlip(p=0.3),
        lib.RandomCrop(5),
        lib.RandomCrop((9, 4), padding=2, padding_mode="reflect"),
        lib.RandomCrop(16, pad_if_needed=True, fill=1),
        lib.Compose([lib.RandomCrop(8, padding=(1, 3)), lib.RandomHorizontalFlip(), lib.CenterCrop(6)]),
    ]


@pytest.mark.parametrize("index", range(6))
def test_random_transforms_make_torchvisions_draws_and_crops(tv, monkeypatch, index):
    """The same calls (rand(1); randint(0, n, size=(1,)) for the rows, then the columns) in the same order,
    and, given the same drawn numbers, the same results: torch's draws are recorded and replayed to bnlab."""
    import torch

    theirs, ours = _pipelines(tv)[index], _pipelines(T)[index]
    images = [_float_image(h, w, seed=s) for s, (h, w) in enumerate([(11, 13), (9, 9), (12, 7), (15, 10)] * 3)]
    torch.manual_seed(index)
    real = _Draws(real=torch)
    with monkeypatch.context() as m:
        m.setattr(torch, "rand", real.rand)
        m.setattr(torch, "randint", real.randint)
        refs = [theirs(torch.from_numpy(a.copy())).numpy() for a in images]
    replay = _Draws(replay=list(real.values), wrap=lambda v: bt.tensor([v]))
    monkeypatch.setattr(bt, "rand", replay.rand)
    monkeypatch.setattr(bt, "randint", replay.randint)
    gots = [ours(bt.from_numpy(a.copy())).numpy() for a in images]
    assert replay.calls == real.calls and real.calls
    for ref, got in zip(refs, gots, strict=True):
        np.testing.assert_array_equal(got, ref)


def test_random_crop_of_pil_images_draws_like_torchvision(tv, Image, monkeypatch):
    import torch

    img = _uint8_hwc(30, 31)
    theirs = tv.Compose([tv.RandomCrop(32, padding=4), tv.RandomHorizontalFlip()])
    ours = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip()])
    real = _Draws(real=torch)
    monkeypatch.setattr(torch, "rand", real.rand)
    monkeypatch.setattr(torch, "randint", real.randint)
    torch.manual_seed(5)
    refs = [np.asarray(theirs(Image.fromarray(img))) for _ in range(8)]
    replay = _Draws(replay=list(real.values) * 2, wrap=lambda v: bt.tensor([v]))
    monkeypatch.setattr(bt, "rand", replay.rand)
    monkeypatch.setattr(bt, "randint", replay.randint)
    for ref in refs:
        np.testing.assert_array_equal(ours(T.ImageArray(img)).array, ref)
    for ref in refs:
        np.testing.assert_array_equal(np.asarray(ours(Image.fromarray(img))), ref)
    assert replay.calls == real.calls * 2


def test_to_tensor_and_normalize(tv, Image):
    img = _uint8_hwc(7, 9)
    for pic in (img, img[:, :, 0], Image.fromarray(img), Image.fromarray(img[:, :, 0]), Image.fromarray(img, "RGB")):
        np.testing.assert_array_equal(T.ToTensor()(pic).numpy(), tv.ToTensor()(pic).numpy())
    binary = Image.fromarray(img[:, :, 0] > 128)
    np.testing.assert_array_equal(T.ToTensor()(binary).numpy(), tv.ToTensor()(binary).numpy())
    for mean, std in [((0.5, 0.4, 0.3), (0.2, 0.3, 0.25)), ([0.1], [0.7]), (0.45, 0.226)]:
        ref, got = _both(tv.Normalize(mean, std), T.Normalize(mean, std), _float_image(5, 6, batch=2))
        np.testing.assert_array_equal(got, ref)


def test_reprs_are_torchvisions(tv):
    built = [
        lambda lib: lib.Resize(32),
        lambda lib: lib.Resize((24, 31), lib.InterpolationMode.NEAREST, max_size=None, antialias=False),
        lambda lib: lib.Resize([7], interpolation=3, max_size=20),
        lambda lib: lib.Pad(4),
        lambda lib: lib.Pad((1, 2), fill=(1, 2, 3), padding_mode="reflect"),
        lambda lib: lib.CenterCrop(10),
        lambda lib: lib.CenterCrop([3, 4]),
        lambda lib: lib.CenterCrop((5,)),
        lambda lib: lib.RandomCrop(32, padding=4),
        lambda lib: lib.RandomCrop([30, 28], pad_if_needed=True),
        lambda lib: lib.RandomHorizontalFlip(),
        lambda lib: lib.RandomHorizontalFlip(p=0.25),
        lambda lib: lib.Normalize([0.5, 0.5], (0.2, 0.2)),
        lambda lib: lib.Normalize(0.1307, 0.3081),
        lambda lib: lib.ToTensor(),
        lambda lib: lib.Compose([lib.RandomCrop(32, padding=4), lib.RandomHorizontalFlip(), lib.ToTensor()]),
    ]
    for make in built:
        assert repr(make(T)) == repr(make(tv))


def _error_of(make):
    try:
        make()
    except Exception as e:  # the exception itself is what is compared
        return type(e), str(e)
    return None


@pytest.mark.parametrize(
    "make",
    [
        lambda lib, img: lib.Resize((1, 2, 3)),
        lambda lib, img: lib.Resize(12, interpolation="bilinear")(img),
        lambda lib, img: lib.Resize((12, 10), max_size=20)(img),
        lambda lib, img: lib.Resize(12, max_size=12)(img),
        lambda lib, img: lib.Pad(2, padding_mode="wrap"),
        lambda lib, img: lib.Pad((1, 2, 3)),
        lambda lib, img: lib.Pad("2"),
        lambda lib, img: lib.Pad(2, fill="0"),
        lambda lib, img: lib.Pad(1.5)(img),
        lambda lib, img: lib.Pad(2, fill=(1, 2))(img),
        lambda lib, img: lib.CenterCrop((1, 2, 3)),
        lambda lib, img: lib.RandomCrop((1, 2, 3)),
        lambda lib, img: lib.RandomCrop(20)(img),
        lambda lib, img: lib.RandomCrop((8, 20), padding=1)(img),
        lambda lib, img: lib.RandomCrop(4, padding=1, padding_mode="wrap")(img),
        lambda lib, img: lib.Normalize((0.5,), (0.5,))(lib.ToTensor()(np.zeros((4, 4), np.uint8)).long()),
        lambda lib, img: lib.ToTensor()(np.zeros((2, 2, 2, 2), np.uint8)),
        lambda lib, img: lib.ToTensor()([[1, 2]]),
    ],
)
def test_errors_are_torchvisions(tv, make):
    import torch

    a = _float_image(7, 9)
    ref = _error_of(lambda: make(tv, torch.from_numpy(a.copy())))
    got = _error_of(lambda: make(T, bt.from_numpy(a.copy())))
    assert ref is not None and got == ref
