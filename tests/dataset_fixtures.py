"""Test helpers for the dataset loaders: writers for every file format, full-size synthetic datasets,
an isolated environment, and a loopback HTTP server.

Writers: IDX (gzipped or raw), Keras's ``mnist.npz``, CIFAR-10 Python batches (modern pickles, or
byte-for-byte Python-2 style pickles like the real files), CIFAR-10 binary batches, and tar.gz archives.

The synthetic images carry their own index: pixels 0, 1, 2 of image ``i`` are ``i``'s three low-order
bytes, so a test can tell that the order survived loading. The rest is a cheap pattern that compresses
fast. Full-size datasets (60000 + 10000 MNIST images, 50000 + 10000 CIFAR images) are written once per
session under pytest's base temporary folder (:func:`session_dir`), whatever test module asks first.
"""

from __future__ import annotations

import functools
import gzip
import io
import os
import pickle
import shutil
import socket
import struct
import tarfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

IDX_NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
CIFAR_PY_NAMES = (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch")

_LOCK = threading.Lock()


# ------------------------------------------------------------------------------------------ data
def make_images(n: int, item_shape: tuple[int, ...], offset: int = 0) -> np.ndarray:
    """``n`` uint8 images whose first three pixels encode their index ``offset + i``."""
    size = int(np.prod(item_shape))
    index = np.arange(offset, offset + n, dtype=np.int64)
    rows = (index % 251).astype(np.uint8)[:, None]
    cols = (np.arange(size) % 253).astype(np.uint8)[None, :]
    flat = rows + cols  # uint8 arithmetic wraps around; that is the pattern
    for byte in range(3):
        flat[:, byte] = (index >> (8 * byte)) & 0xFF
    return flat.reshape((n, *item_shape))


def make_labels(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 10, size=n).astype(np.uint8)


def image_index(images: np.ndarray) -> np.ndarray:
    """Decode the index written by :func:`make_images` (images in any layout with >= 3 values each)."""
    flat = images.reshape(len(images), -1)[:, :3].astype(np.int64)
    return flat[:, 0] | (flat[:, 1] << 8) | (flat[:, 2] << 16)


def make_mnist(train: int = 60000, test: int = 10000):
    """Synthetic MNIST-shaped splits ``((x_train, y_train), (x_test, y_test))``."""
    return (
        (make_images(train, (28, 28)), make_labels(train, 1)),
        (make_images(test, (28, 28), offset=train), make_labels(test, 2)),
    )


# ------------------------------------------------------------------------------------------ IDX, npz
def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file of unsigned bytes: magic 0x0000 08 <ndim>, big-endian dims, then the data."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_bytes(path: Path, data: bytes, gz: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        with gzip.open(path, "wb", compresslevel=1) as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path


def write_idx(path: Path, array: np.ndarray, gz: bool) -> Path:
    return write_bytes(path, idx_bytes(array), gz=gz)


def write_idx_dir(directory: Path, splits, gz=True) -> Path:
    """Write the four IDX files; ``gz`` is a bool or a sequence of four bools (one per file)."""
    (x_train, y_train), (x_test, y_test) = splits
    flags = [gz] * 4 if isinstance(gz, bool) else list(gz)
    for name, array, zipped in zip(IDX_NAMES, (x_train, y_train, x_test, y_test), flags, strict=True):
        write_idx(directory / (f"{name}.gz" if zipped else name), array, zipped)
    return directory


def write_npz(path: Path, splits, **extra) -> Path:
    (x_train, y_train), (x_test, y_test) = splits
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test, **extra)
    return path


# ------------------------------------------------------------------------------------------ CIFAR
def make_cifar(per_batch: int = 10000):
    """Six CIFAR batches ``[(data (N, 3072) uint8, labels list of int)] * 6`` (five train, one test)."""
    batches = []
    for b in range(6):
        data = make_images(per_batch, (3072,), offset=b * per_batch)
        labels = make_labels(per_batch, 10 + b).tolist()
        batches.append((data, labels))
    return batches


def cifar_expected(batches):
    """What Keras's cifar10.load_data returns for these batches: channels-last x, (N, 1) uint8 y."""

    def join(part):
        x = np.concatenate([d for d, _ in part]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        y = np.concatenate([np.asarray(lab, dtype=np.uint8) for _, lab in part]).reshape(-1, 1)
        return x, y

    return join(batches[:5]), join(batches[5:])


def _binstring(data: bytes) -> bytes:
    if len(data) < 256:
        return b"U" + bytes([len(data)]) + data  # SHORT_BINSTRING
    return b"T" + struct.pack("<i", len(data)) + data  # BINSTRING


def py2_batch_pickle(data: np.ndarray, labels: list[int], batch_label: str) -> bytes:
    """A protocol-2 pickle as Python 2's cPickle wrote the real CIFAR batches: str keys as BINSTRING,
    the array via ``numpy.core.multiarray._reconstruct`` with a ``numpy.dtype('u1')`` state."""
    rows, cols = data.shape
    out = bytearray(b"\x80\x02}(")  # PROTO 2, EMPTY_DICT, MARK
    out += _binstring(b"data")
    out += b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" + _binstring(b"b") + b"\x87R"
    out += b"(K\x01J" + struct.pack("<i", rows) + b"J" + struct.pack("<i", cols) + b"\x86"
    out += b"cnumpy\ndtype\n" + _binstring(b"u1") + b"K\x00K\x01\x87R"
    out += b"(K\x03" + _binstring(b"|") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
    out += b"\x89" + _binstring(np.ascontiguousarray(data).tobytes()) + b"tb"
    out += _binstring(b"labels") + b"](" + b"".join(b"K" + bytes([int(v)]) for v in labels) + b"e"
    out += _binstring(b"batch_label") + _binstring(batch_label.encode())
    out += _binstring(b"filenames") + b"](" + b"".join(_binstring(b"img_%d.png" % i) for i in range(rows)) + b"e"
    return bytes(out + b"u.")  # SETITEMS, STOP


def modern_batch_pickle(data: np.ndarray, labels: list[int], batch_label: str) -> bytes:
    """The same dict pickled by today's Python (protocol 4, bytes keys)."""
    return pickle.dumps({b"batch_label": batch_label.encode(), b"labels": labels, b"data": data}, protocol=4)


def write_cifar_py_dir(directory: Path, batches, style: str = "py2") -> Path:
    encode = py2_batch_pickle if style == "py2" else modern_batch_pickle
    directory.mkdir(parents=True, exist_ok=True)
    for name, (data, labels) in zip(CIFAR_PY_NAMES, batches, strict=True):
        (directory / name).write_bytes(encode(data, labels, f"batch {name}"))
    meta = {b"label_names": [b"airplane", b"automobile"], b"num_cases_per_batch": len(batches[0][0])}
    (directory / "batches.meta").write_bytes(pickle.dumps(meta, protocol=4))
    return directory


def binary_batch(data: np.ndarray, labels) -> bytes:
    records = np.empty((len(data), 3073), dtype=np.uint8)
    records[:, 0] = labels
    records[:, 1:] = data
    return records.tobytes()


def write_cifar_bin_dir(directory: Path, batches) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, (data, labels) in zip(CIFAR_PY_NAMES, batches, strict=True):
        (directory / f"{name}.bin").write_bytes(binary_batch(data, labels))
    (directory / "batches.meta.txt").write_text("airplane\nautomobile\n")
    return directory


def write_tar_gz(archive: Path, directory: Path) -> Path:
    """Archive ``directory`` as ``<its name>/...`` (the layout of the real CIFAR archives)."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        tar.add(directory, arcname=directory.name)
    return archive


# ------------------------------------------------------------------------------------------ session cache
def session_dir(factory: pytest.TempPathFactory, name: str, build: Callable[[Path], object]) -> Path:
    """``<pytest base temp>/bnlab-datasets/<name>``, built once per session by ``build(folder)``.

    Safe to call from several modules: a marker file records that the folder is complete, and the
    folder is built under a temporary name then renamed, so a half-built folder is never reused.
    """
    root = factory.getbasetemp() / "bnlab-datasets"
    final = root / name
    with _LOCK:
        if not (final / ".complete").exists():
            staging = root / f".{name}.building"
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            build(staging)
            (staging / ".complete").write_text("ok")
            shutil.rmtree(final, ignore_errors=True)
            os.replace(staging, final)
    return final


def isolate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, data_dir: Path | None = None) -> Path:
    """Point every search location at empty folders under ``tmp_path`` (or ``data_dir`` for bnlab's),
    forbid real downloads (the mirrors point at a closed port), and return the data directory."""
    from bnlab.datasets import _sources

    data = data_dir if data_dir is not None else tmp_path / "bnlab-data"
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.setenv("BNLAB_DATA_DIR", str(data))
    monkeypatch.setenv("BNLAB_DOWNLOAD_TIMEOUT", "2")
    dead = f"http://127.0.0.1:{closed_port()}/"
    for src in _sources.SOURCES.values():
        monkeypatch.setenv(src.url_env, dead)
    for key in _sources.SYSTEM_DIRS:
        monkeypatch.setitem(_sources.SYSTEM_DIRS, key, ())
    return data


def files_under(folder: Path) -> list[str]:
    """Every file below ``folder`` (hidden ones included), as sorted relative paths."""
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


# ------------------------------------------------------------------------------------------ HTTP server
def closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Route:
    """What the server sends for one path: ``body`` with ``Content-Length: length`` (default len(body));
    ``status`` != 200 sends an error; ``stall`` seconds of silence after half the body, then close."""

    body: bytes = b""
    status: int = 200
    length: int | None = None
    stall: float = 0.0


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        server: LoopbackServer = self.server.owner  # type: ignore[attr-defined]
        name = self.path.lstrip("/")
        server.hits.append(name)
        route = server.routes.get(name, Route(status=404))
        if route.status != 200:
            self.send_error(route.status)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(route.length if route.length is not None else len(route.body)))
        self.end_headers()
        try:
            if route.stall:
                self.wfile.write(route.body[: len(route.body) // 2])
                self.wfile.flush()
                time.sleep(route.stall)
            else:
                self.wfile.write(route.body)
        except OSError:
            pass  # the client gave up; nothing to do
        self.close_connection = True

    def log_message(self, format: str, *args) -> None:  # silence the access log
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() waits for the handlers: no thread outlives a test

    def handle_error(self, request, client_address) -> None:
        pass  # a client that disconnected early is expected in these tests


@dataclass
class LoopbackServer:
    """``http.server`` on 127.0.0.1 (port 0) in a thread. ``routes`` maps file names to :class:`Route`;
    ``hits`` records every requested name. Use as a context manager."""

    routes: dict[str, Route] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)

    def __enter__(self) -> LoopbackServer:
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/"

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._thread.join()
        self._httpd.server_close()


def npz_bytes(splits) -> bytes:
    buf = io.BytesIO()
    (x_train, y_train), (x_test, y_test) = splits
    np.savez_compressed(buf, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return buf.getvalue()


# ------------------------------------------------------------------------------------------ full-size sets
@functools.cache
def full_mnist() -> tuple:
    """Full-size synthetic MNIST splits (shared; tests must not modify them)."""
    return make_mnist()


@functools.cache
def full_cifar() -> list:
    """Full-size synthetic CIFAR-10 batches (shared; tests must not modify them)."""
    return make_cifar()


@functools.cache
def full_cifar_expected() -> tuple:
    return cifar_expected(full_cifar())


def mnist_files(factory: pytest.TempPathFactory) -> Path:
    """Full-size MNIST in every layout, written once per session::

    gz/mnist/*.gz   raw/mnist/*   mixed/mnist/ (two gzipped, two raw)   npz/mnist.npz
    gz/fashion-mnist/*.gz (the same arrays, for the Fashion-MNIST loader)
    """

    def build(root: Path) -> None:
        splits = full_mnist()
        write_idx_dir(root / "gz" / "mnist", splits, gz=True)
        write_idx_dir(root / "raw" / "mnist", splits, gz=False)
        write_idx_dir(root / "mixed" / "mnist", splits, gz=(True, False, False, True))
        write_npz(root / "npz" / "mnist.npz", splits)
        shutil.copytree(root / "gz" / "mnist", root / "gz" / "fashion-mnist")

    return session_dir(factory, "mnist", build)


def cifar_files(factory: pytest.TempPathFactory) -> Path:
    """Full-size CIFAR-10 in every layout, written once per session::

    py/cifar-10-batches-py/ (Python-2 style pickles)   modern/cifar-10-batches-py/ (protocol 4)
    pyarchive/cifar-10-python.tar.gz   bin/cifar-10-batches-bin/   binarchive/cifar-10-binary.tar.gz
    """

    def build(root: Path) -> None:
        batches = full_cifar()
        py = write_cifar_py_dir(root / "py" / "cifar-10-batches-py", batches, style="py2")
        write_tar_gz(root / "pyarchive" / "cifar-10-python.tar.gz", py)
        write_cifar_py_dir(root / "modern" / "cifar-10-batches-py", batches, style="modern")
        binary = write_cifar_bin_dir(root / "bin" / "cifar-10-batches-bin", batches)
        write_tar_gz(root / "binarchive" / "cifar-10-binary.tar.gz", binary)

    return session_dir(factory, "cifar", build)


def assert_same(actual: np.ndarray, expected: np.ndarray) -> None:
    """Exact equality of shape, dtype and values (``np.testing.assert_array_equal`` is ~80x slower on the
    150 MB CIFAR arrays); on failure, report where the first difference is."""
    assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape}"
    assert actual.dtype == expected.dtype, f"dtype {actual.dtype} != {expected.dtype}"
    if not np.array_equal(actual, expected):
        where = np.argwhere(actual != expected)
        first = tuple(int(i) for i in where[0])
        raise AssertionError(f"{len(where)} values differ; first at {first}: {actual[first]} != {expected[first]}")
