"""Reading and checking the CIFAR-10 files: the Python (pickle) version, the binary version, their archives.

Python version (``cifar-10-python.tar.gz`` -> ``cifar-10-batches-py/``): ``data_batch_1`` ...
``data_batch_5`` and ``test_batch`` are Python 2 pickles of a dict with (bytes) keys

* ``b"data"``: a NumPy uint8 array of shape (10000, 3072). Each row is one 32x32 colour image stored as
  1024 red values, then 1024 green, then 1024 blue, each plane row-major ("channels first").
* ``b"labels"``: a list of 10000 ints in 0..9.
* ``b"batch_label"``, ``b"filenames"``: not used. (``batches.meta`` holds the class names; not needed.)

Unpickling can run arbitrary code (a pickle may name any importable function and call it), so these files
are read with :class:`RestrictedUnpickler`, whose ``find_class`` allows only the globals a NumPy array
needs: ``numpy.core.multiarray._reconstruct`` (or ``numpy._core.multiarray._reconstruct``),
``numpy.ndarray`` and ``numpy.dtype``; and ``_codecs.encode``, which is how Python 3 writes ``bytes`` at
pickle protocols 0-2 (``_codecs.encode(text, "latin1")``: those protocols have no bytes opcode), as
PyTorch's weights-only unpickler allows it, here narrowed to exactly that call. Anything else
(``os.system``, ``builtins.eval``...) is refused before it is called. ``encoding="bytes"`` keeps the
Python 2 strings as bytes, as Keras does.

Binary version (``cifar-10-binary.tar.gz`` -> ``cifar-10-batches-bin/``): ``data_batch_1.bin`` ...
``data_batch_5.bin`` and ``test_batch.bin`` hold 10000 records of 3073 bytes: 1 label byte, then the
3072 pixel bytes in the same channels-first order. A batch file is therefore exactly 30,730,000 bytes.

Archives are read member by member in one pass, without extracting anything to disk. The loaded images
are returned channels-last, ``(N, 32, 32, 3)``, and C-contiguous; labels have shape ``(N, 1)``, as Keras
returns them. Every problem raises :class:`DatasetFileError` naming the file (and the archive member).
"""

from __future__ import annotations

import io
import os
import pickle
import posixpath
import tarfile
import zlib
from pathlib import Path

import numpy as np

from ._errors import DatasetFileError

__all__ = [
    "BINARY_NAMES",
    "PYTHON_NAMES",
    "RestrictedUnpickler",
    "assemble",
    "load_archive",
    "load_batches_dir",
    "parse_binary_batch",
    "parse_python_batch",
    "restricted_loads",
]

PYTHON_NAMES = (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch")
BINARY_NAMES = tuple(f"{name}.bin" for name in PYTHON_NAMES)
BATCH_SIZE = 10000
PIXELS = 3072
NUM_CLASSES = 10
MAX_BATCH_BYTES = 64 << 20  # a real batch is ~31 MB; anything far larger is refused before reading it


def _latin1_bytes(*args: object) -> bytes:
    """What ``_codecs.encode(text, "latin1")`` returns, and the only call of it allowed.

    Python 3 pickles ``bytes`` at protocols 0-2 as ``_codecs.encode(b.decode("latin1"), "latin1")``: each
    byte 0..255 becomes the character of that code point, and encoding it back gives the bytes. Any other
    arguments (another codec, an errors handler, a non-str) are refused, so the codec machinery cannot be
    reached through this name.
    """
    if len(args) != 2 or type(args[0]) is not str or type(args[1]) is not str or args[1] != "latin1":
        shown = ", ".join(repr(a) if type(a) is str and len(a) <= 20 else type(a).__name__ for a in args)
        raise pickle.UnpicklingError(
            f"refusing _codecs.encode({shown}): only _codecs.encode(str, 'latin1'), the form of bytes, is allowed"
        )
    return args[0].encode("latin1")


def _allowed_globals() -> dict[tuple[str, str], object]:
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # NumPy < 2
        from numpy.core.multiarray import _reconstruct
    return {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_bytes,
    }


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild NumPy arrays and plain containers, and nothing else.

    ``find_class`` is the single place where a pickle turns a name into a Python object it can call; this
    one returns only the three NumPy globals needed to rebuild an ndarray and the checked stand-in of
    ``_codecs.encode`` that rebuilds bytes, and raises
    ``pickle.UnpicklingError`` for every other name, so a malicious ``__reduce__`` never runs.
    """

    _ALLOWED = _allowed_globals()

    def find_class(self, module: str, name: str) -> object:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}") from None


def restricted_loads(data: bytes, path: str | os.PathLike[str]) -> object:
    """Unpickle ``data`` (read from ``path``) with :class:`RestrictedUnpickler` and ``encoding="bytes"``."""
    try:
        return RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    except pickle.UnpicklingError as exc:
        raise DatasetFileError(path, f"unsafe or malformed pickle: {exc}") from exc
    except Exception as exc:  # a malformed pickle can fail in many ways (EOFError, TypeError, ...)
        raise DatasetFileError(path, f"malformed pickle ({type(exc).__name__}: {exc})") from exc


def parse_python_batch(obj: object, path: str, count: int | None = BATCH_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Check an unpickled CIFAR-10 batch dict; return ``(data (N, 3072) uint8, labels (N,) uint8)``."""
    if not isinstance(obj, dict):
        raise DatasetFileError(path, f"expected a pickled dict, got {type(obj).__name__}")
    batch = {key.decode("latin-1") if isinstance(key, bytes) else key: value for key, value in obj.items()}
    for key in ("data", "labels"):
        if key not in batch:
            raise DatasetFileError(path, f"the batch dict has no b'{key}' entry (keys: {sorted(map(str, batch))})")
    data, labels = batch["data"], batch["labels"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != PIXELS:
        desc = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DatasetFileError(path, f"b'data' must be a uint8 array of shape (N, {PIXELS}), got {desc}")
    if count is not None and data.shape[0] != count:
        raise DatasetFileError(path, f"b'data' holds {data.shape[0]} images, expected {count}")
    if not isinstance(labels, list):
        raise DatasetFileError(path, f"b'labels' must be a list of ints, got {type(labels).__name__}")
    if len(labels) != data.shape[0]:
        raise DatasetFileError(path, f"b'labels' has {len(labels)} entries for {data.shape[0]} images")
    if not all(type(label) is int for label in labels):
        raise DatasetFileError(path, "b'labels' must contain only ints")
    values = np.array(labels, dtype=np.int64)
    if values.size and (values.min() < 0 or values.max() >= NUM_CLASSES):
        raise DatasetFileError(path, f"b'labels' has values outside 0..{NUM_CLASSES - 1}")
    return data, values.astype(np.uint8)


def parse_binary_batch(raw: bytes, path: str, count: int | None = BATCH_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Check a CIFAR-10 binary batch (records of 1 label byte + 3072 pixel bytes); return (data, labels)."""
    record = PIXELS + 1
    if count is not None and len(raw) != count * record:
        problem = "truncated" if len(raw) < count * record else "too long"
        raise DatasetFileError(
            path, f"{problem}: expected {count * record} bytes ({count} records of {record}), got {len(raw)}"
        )
    if len(raw) % record:
        raise DatasetFileError(path, f"size {len(raw)} is not a multiple of the {record}-byte record size")
    records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, record)
    labels = records[:, 0]
    if labels.size and int(labels.max()) >= NUM_CLASSES:
        raise DatasetFileError(path, f"label byte {int(labels.max())} is outside 0..{NUM_CLASSES - 1}")
    return records[:, 1:], labels.copy()


def _check_size(size: int, where: str) -> None:
    if size > MAX_BATCH_BYTES:
        raise DatasetFileError(where, f"is {size} bytes, far larger than a CIFAR-10 batch (about 31 MB)")


def _parse(raw: bytes, where: str, binary: bool, count: int | None) -> tuple[np.ndarray, np.ndarray]:
    if binary:
        return parse_binary_batch(raw, where, count)
    return parse_python_batch(restricted_loads(raw, where), where, count)


def assemble(train: list, test: tuple) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Stack ``(data, labels)`` batches into Keras's layout: x ``(N, 32, 32, 3)`` uint8 channels-last
    (C-contiguous), y ``(N, 1)`` uint8, in file order."""

    def stack(batches):
        n = sum(len(data) for data, _ in batches)
        x = np.empty((n, 32, 32, 3), dtype=np.uint8)
        y = np.empty((n, 1), dtype=np.uint8)
        pos = 0
        for data, labels in batches:
            k = len(data)
            x[pos : pos + k] = data.reshape(k, 3, 32, 32).transpose(0, 2, 3, 1)
            y[pos : pos + k, 0] = labels
            pos += k
        return x, y

    return stack(train), stack([test])


def load_batches_dir(
    directory: str | os.PathLike[str], *, binary: bool = False, count: int | None = BATCH_SIZE
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load CIFAR-10 from an extracted folder: ``cifar-10-batches-py/`` (``binary=False``) or
    ``cifar-10-batches-bin/`` (``binary=True``). ``count`` is the expected number of images per batch."""
    names = BINARY_NAMES if binary else PYTHON_NAMES
    batches = []
    for name in names:
        path = Path(directory) / name
        _check_size(path.stat().st_size, str(path))
        batches.append(_parse(path.read_bytes(), str(path), binary, count))
    return assemble(batches[:5], batches[5])


def load_archive(
    path: str | os.PathLike[str], *, count: int | None = BATCH_SIZE
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load CIFAR-10 from ``cifar-10-python.tar.gz`` or ``cifar-10-binary.tar.gz``.

    The version is recognised from the member names (``data_batch_1`` or ``data_batch_1.bin``, in any
    folder of the archive). The members are read in one pass over the archive, never extracted to disk.
    """
    wanted = set(PYTHON_NAMES) | set(BINARY_NAMES)
    raws: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                name = posixpath.basename(member.name)
                if name in wanted and name not in raws and member.isfile():
                    _check_size(member.size, f"{os.fspath(path)} (member {name})")
                    with tar.extractfile(member) as f:
                        raws[name] = f.read()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise DatasetFileError(path, f"cannot be read as a tar archive (corrupt or truncated): {exc}") from exc
    if all(name in raws for name in PYTHON_NAMES):
        binary, names = False, PYTHON_NAMES
    elif all(name in raws for name in BINARY_NAMES):
        binary, names = True, BINARY_NAMES
    else:
        missing = [name for name in PYTHON_NAMES if name not in raws]
        raise DatasetFileError(path, f"archive lacks the CIFAR-10 batches {missing}")
    batches = [_parse(raws.pop(name), f"{os.fspath(path)} (member {name})", binary, count) for name in names]
    return assemble(batches[:5], batches[5])
