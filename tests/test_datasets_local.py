"""Loading MNIST and Fashion-MNIST from local files: every layout, the search order, bad files, errors.

Full-size synthetic files (written once per session) go through the public ``load_data``; small files
test the generic IDX / npz parsers with the expected counts passed explicitly.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import dataset_fixtures as fx
import numpy as np
import pytest

from bnlab.datasets import (
    DatasetFileError,
    DatasetNotFoundError,
    fashion_mnist,
    mnist,
    read_idx_images,
    read_idx_labels,
    read_mnist_npz,
)

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(scope="session")
def mnist_files(tmp_path_factory):
    return fx.mnist_files(tmp_path_factory)


def assert_same_splits(got, expected):
    for (x, y), (ex, ey) in zip(got, expected, strict=True):
        assert x.dtype == np.uint8 and y.dtype == np.uint8
        assert x.shape == ex.shape and y.shape == ey.shape
        fx.assert_same(x, ex)
        fx.assert_same(y, ey)
        fx.assert_same(fx.image_index(x), fx.image_index(ex))


# ------------------------------------------------------------------------------------------ layouts
@pytest.mark.parametrize("layout", ["gz", "raw", "mixed"])
def test_mnist_idx_files_in_data_dir(layout, mnist_files, tmp_path, monkeypatch):
    fx.isolate(monkeypatch, tmp_path, data_dir=mnist_files / layout)
    got = mnist.load_data()
    assert [a.shape for pair in got for a in pair] == [(60000, 28, 28), (60000,), (10000, 28, 28), (10000,)]
    assert_same_splits(got, fx.full_mnist())
    assert got[0][0].flags.writeable and got[0][0].flags.c_contiguous
    assert fx.image_index(got[0][0])[:3].tolist() == [0, 1, 2]  # file order
    assert fx.image_index(got[1][0])[-1] == 69999


def test_mnist_npz_in_data_dir(mnist_files, tmp_path, monkeypatch):
    fx.isolate(monkeypatch, tmp_path, data_dir=mnist_files / "npz")
    assert_same_splits(mnist.load_data(), fx.full_mnist())


def test_mnist_path_argument_forms(mnist_files, data_dir):
    expected = fx.full_mnist()
    assert_same_splits(mnist.load_data(path=mnist_files / "npz" / "mnist.npz"), expected)
    assert_same_splits(mnist.load_data(path=str(mnist_files / "raw" / "mnist")), expected)
    assert_same_splits(mnist.load_data(path=mnist_files / "gz"), expected)  # holds mnist/
    one_file = mnist_files / "gz" / "mnist" / "t10k-labels-idx1-ubyte.gz"
    assert_same_splits(mnist.load_data(path=one_file), expected)
    assert_same_splits(mnist.load_idx_dir(mnist_files / "mixed" / "mnist"), expected)


def test_mnist_from_keras_cache(mnist_files, tmp_path, monkeypatch):
    fx.isolate(monkeypatch, tmp_path)
    keras_home = tmp_path / "keras-home"
    (keras_home / "datasets").mkdir(parents=True)
    shutil.copy(mnist_files / "npz" / "mnist.npz", keras_home / "datasets" / "mnist.npz")
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    assert_same_splits(mnist.load_data(), fx.full_mnist())


def test_keras_wrapper_signature_and_result(mnist_files, tmp_path, monkeypatch):
    from bnlab.keras.datasets import fashion_mnist as keras_fashion
    from bnlab.keras.datasets import mnist as keras_mnist

    fx.isolate(monkeypatch, tmp_path, data_dir=mnist_files / "gz")
    (x_train, y_train), (x_test, y_test) = keras_mnist.load_data()
    assert (x_train.shape, y_train.shape, x_test.shape, y_test.shape) == (
        (60000, 28, 28),
        (60000,),
        (10000, 28, 28),
        (10000,),
    )
    assert_same_splits(keras_mnist.load_data(path=str(mnist_files / "npz" / "mnist.npz")), fx.full_mnist())
    assert_same_splits(keras_fashion.load_data(), fx.full_mnist())


def test_search_order_data_dir_before_keras_cache(mnist_files, tmp_path, monkeypatch):
    data = fx.isolate(monkeypatch, tmp_path)
    data.mkdir()
    shutil.copy(mnist_files / "npz" / "mnist.npz", data / "mnist.npz")
    keras = Path(tmp_path / "home" / ".keras" / "datasets")
    keras.mkdir(parents=True)
    (keras / "mnist.npz").write_bytes(b"PK\x03\x04 not really a zip")
    assert_same_splits(mnist.load_data(), fx.full_mnist())  # the broken Keras copy is never read
    (data / "mnist.npz").unlink()
    with pytest.raises(DatasetFileError, match=str(keras / "mnist.npz")):
        mnist.load_data()


def test_fashion_mnist_partial_data_dir_falls_back_to_system_dir(mnist_files, tmp_path, monkeypatch):
    from bnlab.datasets import _sources

    data = fx.isolate(monkeypatch, tmp_path)
    (data / "fashion-mnist").mkdir(parents=True)
    shutil.copy(mnist_files / "gz" / "fashion-mnist" / "train-images-idx3-ubyte.gz", data / "fashion-mnist")
    monkeypatch.setitem(_sources.SYSTEM_DIRS, "fashion_mnist", (str(mnist_files / "gz" / "fashion-mnist"),))
    assert_same_splits(fashion_mnist.load_data(), fx.full_mnist())


# ------------------------------------------------------------------------------------------ real data
@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(), reason="Debian's fashion-mnist package is not installed")
def test_real_fashion_mnist_from_debian(tmp_path, monkeypatch):
    from bnlab.datasets import _sources

    fx.isolate(monkeypatch, tmp_path)
    monkeypatch.setitem(_sources.SYSTEM_DIRS, "fashion_mnist", (str(DEBIAN_FASHION),))
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data(download=False)
    assert x_train.shape == (60000, 28, 28) and y_train.shape == (60000,)
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}
    assert np.bincount(y_train).tolist() == [6000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10
    assert 0 < x_train.mean() < 255
    (x2, _), _ = fashion_mnist.load_data(path=DEBIAN_FASHION, download=False)
    fx.assert_same(x2, x_train)


# ------------------------------------------------------------------------------------------ parsers
@pytest.mark.parametrize("gz", [True, False])
def test_idx_parsers_small_files(tmp_path, gz):
    images = fx.make_images(5, (4, 3))
    labels = np.array([0, 9, 3, 3, 1], dtype=np.uint8)
    fx.write_idx(tmp_path / "i", images, gz)
    fx.write_idx(tmp_path / "l", labels, gz)
    fx.assert_same(read_idx_images(tmp_path / "i", count=5, rows=4, cols=3), images)
    fx.assert_same(read_idx_labels(tmp_path / "l", count=5), labels)
    with pytest.raises(DatasetFileError, match="header says 5 images, expected 60000"):
        read_idx_images(tmp_path / "i", count=60000, rows=4, cols=3)
    with pytest.raises(DatasetFileError, match=r"each image is \(4, 3\), expected \(28, 28\)"):
        read_idx_images(tmp_path / "i")
    with pytest.raises(DatasetFileError, match="bad magic number 2049"):
        read_idx_images(tmp_path / "l")


def test_npz_parser_small_file(tmp_path):
    splits = fx.make_mnist(train=6, test=4)
    path = fx.write_npz(tmp_path / "small.npz", splits)
    assert_same_splits(read_mnist_npz(path, train_count=6, test_count=4), splits)
    with pytest.raises(DatasetFileError, match=r"x_train has shape \(6, 28, 28\), expected \(60000, 28, 28\)"):
        read_mnist_npz(path)


# ------------------------------------------------------------------------------------------ bad files
@pytest.fixture
def broken_mnist_dir(mnist_files, data_dir):
    """A writable copy of the full gzipped MNIST in the data directory."""
    shutil.copytree(mnist_files / "gz" / "mnist", data_dir / "mnist")
    return data_dir / "mnist"


def rewrite_gz(path: Path, transform) -> None:
    with gzip.open(path, "rb") as f:
        data = f.read()
    fx.write_bytes(path, transform(data), gz=True)


@pytest.mark.parametrize(
    ("name", "transform", "message"),
    [
        (
            "train-images-idx3-ubyte.gz",
            lambda d: d[:1016],
            "truncated: expected 47040000 bytes of image data after the 16-byte header "
            r"\(47040016 bytes in all\), got 1000",
        ),
        ("train-images-idx3-ubyte.gz", lambda d: b"\x00\x00\x08\x01" + d[4:], "bad magic number 2049"),
        ("train-images-idx3-ubyte.gz", lambda d: d + b"extra", "unexpected data after the 47040000 bytes"),
        ("train-labels-idx1-ubyte.gz", lambda d: d[:-1] + b"\x0a", "label 10 at index 59999 is out of range"),
        (
            "t10k-images-idx3-ubyte.gz",
            lambda d: d[:8] + b"\x00\x00\x00\x1d" + d[12:],
            r"each image is \(29, 28\)",
        ),
        (
            "t10k-labels-idx1-ubyte.gz",
            lambda d: d[:4] + b"\x00\x00\x27\x0f" + d[8:],
            "header says 9999 labels",
        ),
        ("t10k-labels-idx1-ubyte.gz", lambda d: d[:6], "truncated: expected a 8-byte IDX header"),
    ],
)
def test_malformed_idx_file_is_named(broken_mnist_dir, name, transform, message):
    path = broken_mnist_dir / name
    rewrite_gz(path, transform)
    with pytest.raises(DatasetFileError, match=message) as info:
        mnist.load_data()
    assert info.value.path == str(path)
    assert str(info.value).startswith(str(path))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda raw: raw[: len(raw) // 2], "corrupt or truncated file"),  # gzip stream cut short
        (
            lambda raw: raw[:5000] + bytes(b ^ 0xFF for b in raw[5000:5100]) + raw[5100:],
            "corrupt or truncated",
        ),
        (lambda raw: raw[:-8] + b"\x00" * 8, "corrupt or truncated file"),  # bad CRC and length
    ],
)
def test_corrupt_gzip_is_named(broken_mnist_dir, damage, message):
    path = broken_mnist_dir / "train-images-idx3-ubyte.gz"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DatasetFileError, match=message) as info:
        mnist.load_data()
    assert info.value.path == str(path)


def test_truncated_raw_idx_is_named(mnist_files, data_dir):
    shutil.copytree(mnist_files / "raw" / "mnist", data_dir / "mnist")
    path = data_dir / "mnist" / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:5016])
    with pytest.raises(DatasetFileError, match=f"{path}: truncated: expected 7840000 bytes .* got 5000"):
        mnist.load_data()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p, s: p.write_bytes(fx.npz_bytes(s)[:100_000]), "corrupt or truncated archive"),
        (lambda p, s: p.write_bytes(b"\x93NUMPY not a zip"), "not an .npz file"),
        (
            lambda p, s: np.savez(p, x_train=s[0][0], y_train=s[0][1]),
            r"missing arrays \['x_test', 'y_test'\]",
        ),
        (
            lambda p, s: np.savez(p, x_train=s[0][0], y_train=s[0][1].astype(np.int64), x_test=s[1][0], y_test=s[1][1]),
            "y_train has dtype int64, expected uint8",
        ),
    ],
)
def test_malformed_npz_is_named(data_dir, make, message):
    data_dir.mkdir()
    path = data_dir / "mnist.npz"
    make(path, fx.full_mnist())
    with pytest.raises(DatasetFileError, match=message) as info:
        mnist.load_data(download=False)
    assert info.value.path == str(path)


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (shutil.copy, (__file__, str(self.marker)))


def test_npz_with_pickled_objects_is_refused_without_running_them(data_dir, tmp_path):
    marker = tmp_path / "pwned"
    data_dir.mkdir()
    splits = fx.make_mnist(train=3, test=2)
    evil = np.array([_Payload(marker)], dtype=object)
    np.savez(data_dir / "mnist.npz", x_train=evil, y_train=splits[0][1], x_test=splits[1][0], y_test=splits[1][1])
    with pytest.raises(DatasetFileError, match=r"mnist\.npz: cannot be read"):
        mnist.load_data(download=False)
    assert not marker.exists()


# ------------------------------------------------------------------------------------------ not found
def test_nothing_found_lists_places_and_missing_files(data_dir, mnist_files):
    (data_dir / "mnist").mkdir(parents=True)
    for name in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"):
        shutil.copy(mnist_files / "gz" / "mnist" / name, data_dir / "mnist")
    with pytest.raises(DatasetNotFoundError) as info:
        mnist.load_data(download=False)
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert "downloading is disabled" in message
    assert (
        f"{data_dir / 'mnist'}/ (IDX files): missing train-labels-idx1-ubyte.gz, t10k-labels-idx1-ubyte.gz" in message
    )
    assert f"{data_dir / 'mnist.npz'} (Keras .npz): not found" in message
    assert str(Path(data_dir).parent / "home" / ".keras" / "datasets" / "mnist.npz") in message
    assert f"in {data_dir / 'mnist'}" in message and "BNLAB_DATA_DIR" in message
    assert len(info.value.searched) == 3


def test_load_idx_dir_lists_missing_files(mnist_files, tmp_path):
    shutil.copy(mnist_files / "raw" / "mnist" / "train-labels-idx1-ubyte", tmp_path)
    with pytest.raises(DatasetNotFoundError, match="never downloads") as info:
        mnist.load_idx_dir(tmp_path)
    missing = "train-images-idx3-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz"
    assert info.value.searched == [f"{tmp_path}/: missing {missing}"]


def test_missing_explicit_path_is_listed(data_dir):
    with pytest.raises(DatasetNotFoundError, match=r"path='nowhere/mnist.npz': not found"):
        fashion_mnist.load_data(path="nowhere/mnist.npz", download=False)


def test_bad_arguments(data_dir, tmp_path):
    from bnlab.datasets import download

    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match=r"path='.*notes\.txt' is neither an \.npz file nor one of the IDX files"):
        mnist.load_data(path=tmp_path / "notes.txt")
    with pytest.raises(TypeError, match=r"path must be a str or os\.PathLike, got int"):
        mnist.load_data(path=3)
    with pytest.raises(ValueError, match="name must be one of"):
        download("imagenet", tmp_path)
