"""CIFAR-10: Python and binary batches, loose and archived, Keras's layouts, the restricted unpickler
(malicious pickles never run), malformed files named in errors, and a download from a loopback server."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pickle
import shutil
import tarfile
from pathlib import Path

import dataset_fixtures as fx
import numpy as np
import pytest
from _helpers import assert_pickle_refused

from bnlab.datasets import DatasetFileError, DatasetNotFoundError, _cifar, _sources, cifar10


@pytest.fixture(scope="session")
def cifar_files(tmp_path_factory):
    return fx.cifar_files(tmp_path_factory)


def assert_keras_layout(got):
    (x_train, y_train), (x_test, y_test) = got
    assert (x_train.shape, y_train.shape, x_test.shape, y_test.shape) == (
        (50000, 32, 32, 3),
        (50000, 1),
        (10000, 32, 32, 3),
        (10000, 1),
    )
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}
    assert x_train.flags.c_contiguous and x_test.flags.c_contiguous
    (ex_train, ey_train), (ex_test, ey_test) = fx.full_cifar_expected()
    fx.assert_same(y_train, ey_train)
    fx.assert_same(y_test, ey_test)
    fx.assert_same(x_train, ex_train)
    fx.assert_same(x_test, ex_test)
    # channels-last: the first three bytes of each image's *red plane* carry the index (file order)
    fx.assert_same(fx.image_index(x_train[:, 0, :3, 0]), np.arange(50000))
    fx.assert_same(fx.image_index(x_test[:, 0, :3, 0]), np.arange(50000, 60000))


# ------------------------------------------------------------------------------------------ layouts
@pytest.mark.parametrize("layout", ["py", "pyarchive", "bin"])
def test_load_data_from_data_dir(layout, cifar_files, tmp_path, monkeypatch):
    fx.isolate(monkeypatch, tmp_path, data_dir=cifar_files / layout)
    assert_keras_layout(cifar10.load_data(download=False))


@pytest.mark.parametrize(
    "relative",
    [
        "modern/cifar-10-batches-py",
        "binarchive/cifar-10-binary.tar.gz",
        "bin/cifar-10-batches-bin/test_batch.bin",
        "pyarchive",
    ],
)
def test_load_data_path_argument(relative, cifar_files, data_dir):
    assert_keras_layout(cifar10.load_data(path=cifar_files / relative, download=False))


def test_keras_wrapper_and_keras3_cache_layout(cifar_files, tmp_path, monkeypatch):
    from bnlab.keras.datasets import cifar10 as keras_cifar10

    fx.isolate(monkeypatch, tmp_path)
    nested = tmp_path / "keras" / "datasets" / "cifar-10-batches-py"
    nested.mkdir(parents=True)
    os.symlink(cifar_files / "py" / "cifar-10-batches-py", nested / "cifar-10-batches-py")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    assert_keras_layout(keras_cifar10.load_data())


def test_download_through_load_data(cifar_files, data_dir, monkeypatch):
    body = (cifar_files / "pyarchive" / "cifar-10-python.tar.gz").read_bytes()
    remote = _sources.RemoteFile("cifar-10-python.tar.gz", len(body), hashlib.sha256(body).hexdigest())
    monkeypatch.setitem(_sources.SOURCES, "cifar10", dataclasses.replace(_sources.SOURCES["cifar10"], files=(remote,)))
    with fx.LoopbackServer({"cifar-10-python.tar.gz": fx.Route(body)}) as server:
        monkeypatch.setenv("BNLAB_CIFAR10_URL", server.url)
        assert_keras_layout(cifar10.load_data())
    assert fx.files_under(data_dir) == ["cifar-10-python.tar.gz"]


def test_nothing_found(data_dir):
    with pytest.raises(DatasetNotFoundError) as info:
        cifar10.load_data(download=False)
    message = str(info.value)
    assert f"{data_dir / 'cifar-10-batches-py'}/ (CIFAR-10 Python batches): missing data_batch_1," in message
    assert f"{data_dir / 'cifar-10-python.tar.gz'} (CIFAR-10 archive): not found" in message
    assert "cifar-10-batches-bin" in message and "cifar-10-binary.tar.gz" in message
    assert ".keras/datasets/cifar-10-batches-py" in message
    assert "put cifar-10-python.tar.gz (or its extracted cifar-10-batches-py/ folder" in message


# ------------------------------------------------------------------------------------------ parsers
def test_small_batches_with_explicit_counts(tmp_path):
    batches = fx.make_cifar(per_batch=7)
    py = fx.write_cifar_py_dir(tmp_path / "cifar-10-batches-py", batches, style="py2")
    binary = fx.write_cifar_bin_dir(tmp_path / "cifar-10-batches-bin", batches)
    archive = fx.write_tar_gz(tmp_path / "a.tar.gz", py)
    (ex_train, ey_train), (ex_test, ey_test) = fx.cifar_expected(batches)
    for got in (
        _cifar.load_batches_dir(py, count=7),
        _cifar.load_batches_dir(binary, binary=True, count=7),
        _cifar.load_archive(archive, count=7),
    ):
        (x_train, y_train), (x_test, y_test) = got
        assert x_train.shape == (35, 32, 32, 3) and y_test.shape == (7, 1)
        fx.assert_same(x_train, ex_train)
        fx.assert_same(y_train, ey_train)
        fx.assert_same(x_test, ex_test)
        fx.assert_same(y_test, ey_test)
    with pytest.raises(DatasetFileError, match="b'data' holds 7 images, expected 10000"):
        _cifar.load_batches_dir(py)
    with pytest.raises(DatasetFileError, match=r"truncated: expected 30730000 bytes \(10000 records of 3073\)"):
        _cifar.load_batches_dir(binary, binary=True)


# ------------------------------------------------------------------------------------------ malicious pickles
class _Reduce:
    """Pickles as ``func(*args)``: what an attacker's batch file would contain."""

    def __init__(self, func, *args) -> None:
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def _payloads(marker: Path) -> dict[str, bytes]:
    import builtins
    import subprocess

    touch = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    data = np.zeros((10000, 3072), np.uint8)
    return {
        "os.system": pickle.dumps(_Reduce(os.system, f"touch '{marker}'"), protocol=2),
        "builtins.eval": pickle.dumps(_Reduce(builtins.eval, touch), protocol=4),
        "builtins.exec": pickle.dumps(_Reduce(builtins.exec, touch), protocol=0),
        "subprocess": pickle.dumps(_Reduce(subprocess.call, ["touch", str(marker)]), protocol=4),
        "py2 __builtin__.eval": b"c__builtin__\neval\n(V" + touch.encode() + b"\ntR.",
        "hidden in labels": pickle.dumps({b"data": data, b"labels": _Reduce(builtins.eval, touch)}, protocol=2),
    }


@pytest.mark.parametrize("name", list(_payloads(Path("m"))))
def test_malicious_pickle_is_refused_and_never_runs(name, tmp_path):
    marker = tmp_path / "pwned"
    assert_pickle_refused(_payloads(marker)[name], marker, live=True)


def test_malicious_batch_in_cache_and_in_archive(cifar_files, data_dir, tmp_path):
    marker = tmp_path / "pwned"
    folder = data_dir / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in _cifar.PYTHON_NAMES:
        (folder / name).write_bytes(_payloads(marker)["os.system"])
    with pytest.raises(DatasetFileError, match=r"refusing to load global posix\.system") as info:
        cifar10.load_data()
    assert info.value.path == str(folder / "data_batch_1")
    fx.write_tar_gz(tmp_path / "evil.tar.gz", folder)
    with pytest.raises(DatasetFileError, match=r"evil\.tar\.gz \(member data_batch_1\): unsafe"):
        cifar10.load_data(path=tmp_path / "evil.tar.gz")
    assert not marker.exists()


# ------------------------------------------------------------------------------------------ malformed files
@pytest.fixture
def batch_dir(cifar_files, data_dir):
    """The data directory's cifar-10-batches-py/, with links to the valid full-size batches."""
    folder = data_dir / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in _cifar.PYTHON_NAMES:
        os.symlink(cifar_files / "py" / "cifar-10-batches-py" / name, folder / name)
    return folder


def _batch(data=None, labels=None, **extra) -> bytes:
    data = np.zeros((10000, 3072), np.uint8) if data is None else data
    labels = [1] * 10000 if labels is None else labels
    return pickle.dumps({b"data": data, b"labels": labels, **extra}, protocol=4)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("data_batch_1", lambda raw: raw[: len(raw) // 2], "malformed pickle"),
        ("data_batch_3", lambda raw: _batch(data=np.zeros((10000, 3000), np.uint8)), r"shape \(N, 3072\)"),
        ("data_batch_5", lambda raw: _batch(data=np.zeros((9999, 3072), np.uint8)), "holds 9999 images"),
        ("test_batch", lambda raw: _batch(labels=[10] * 10000), r"values outside 0\.\.9"),
        ("data_batch_1", lambda raw: _batch(labels=[1] * 9999), "has 9999 entries for 10000 images"),
        ("data_batch_1", lambda raw: _batch(labels=np.ones(10000, np.int64)), "must be a list of ints"),
        ("data_batch_2", lambda raw: _batch(data=np.zeros((10, 3072), np.float32)), "got float32 array"),
        ("data_batch_2", lambda raw: pickle.dumps([1, 2, 3]), "expected a pickled dict, got list"),
        ("data_batch_2", lambda raw: pickle.dumps({b"labels": []}), "no b'data' entry"),
    ],
)
def test_malformed_python_batch_is_named(batch_dir, name, content, message):
    path = batch_dir / name
    raw = path.read_bytes()
    path.unlink()
    path.write_bytes(content(raw))
    with pytest.raises(DatasetFileError, match=message) as info:
        cifar10.load_data()
    assert info.value.path == str(path)


def test_oversized_batch_is_refused_before_reading(batch_dir):
    path = batch_dir / "data_batch_1"
    path.unlink()
    with open(path, "wb") as f:
        f.truncate(65 << 20)  # sparse: no disk space used
    with pytest.raises(DatasetFileError, match="is 68157440 bytes, far larger than a CIFAR-10 batch") as info:
        cifar10.load_data()
    assert info.value.path == str(path)


def test_truncated_binary_batch_is_named(cifar_files, data_dir):
    folder = data_dir / "cifar-10-batches-bin"
    shutil.copytree(cifar_files / "bin" / "cifar-10-batches-bin", folder)
    path = folder / "data_batch_4.bin"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DatasetFileError, match=f"{path}: truncated: expected 30730000 bytes .* got 30729900"):
        cifar10.load_data()
    path.write_bytes(fx.binary_batch(np.zeros((10000, 3072), np.uint8), np.full(10000, 12)))
    with pytest.raises(DatasetFileError, match=r"label byte 12 is outside 0\.\.9"):
        cifar10.load_data()


def test_corrupt_archives_are_named(cifar_files, data_dir):
    data_dir.mkdir()
    archive = data_dir / "cifar-10-python.tar.gz"
    raw = (cifar_files / "pyarchive" / "cifar-10-python.tar.gz").read_bytes()
    archive.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DatasetFileError, match="cannot be read as a tar archive") as info:
        cifar10.load_data()
    assert info.value.path == str(archive)
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(cifar_files / "py" / "cifar-10-batches-py" / "batches.meta", arcname="cifar-10-batches-py/x")
    with pytest.raises(DatasetFileError, match=r"archive lacks the CIFAR-10 batches \['data_batch_1'"):
        cifar10.load_data()
