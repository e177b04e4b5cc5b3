"""Reading and checking IDX files, the format of the original MNIST and Fashion-MNIST distributions.

An IDX file is a big-endian header followed by raw bytes::

    bytes 0-1   0x0000
    byte  2     element type, 0x08 = unsigned byte
    byte  3     number of dimensions, d
    then d      4-byte big-endian unsigned sizes
    then        prod(sizes) bytes of data, row-major (C order)

So the first four bytes read as one big-endian integer are the "magic number": 2049 (0x00000801) for a
label file (d = 1: ``[count]``) and 2051 (0x00000803) for an image file (d = 3: ``[count, rows, cols]``).
The files may be gzipped (``*.gz``, detected from the gzip signature ``1f 8b``, not from the name) or raw.

Every check failure raises :class:`DatasetFileError` naming the file: wrong magic number, unexpected
dimensions or count, data shorter or longer than the header says, corrupt gzip, label values >= 10.
Checksums are never required: what matters is that the structure is complete and consistent.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from typing import BinaryIO

import numpy as np

from ._errors import DatasetFileError

__all__ = ["IMAGE_MAGIC", "LABEL_MAGIC", "read_idx", "read_idx_images", "read_idx_labels"]

LABEL_MAGIC = 2049
IMAGE_MAGIC = 2051
_GZIP_SIGNATURE = b"\x1f\x8b"


def _open(path: str | os.PathLike[str]) -> BinaryIO:
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == _GZIP_SIGNATURE
    return gzip.open(path, "rb") if gzipped else open(path, "rb")


_FIRST_ALLOCATION = 64 << 20  # bytes; the largest real file (MNIST's training images, 47 MB) fits at once


def _read_exactly(f: BinaryIO, n: int) -> np.ndarray:
    """Read up to ``n`` bytes into a fresh writable uint8 array; the result is shorter at end of file.

    The buffer starts at ``min(n, 64 MB)`` and doubles as data arrives, so a corrupt header that announces
    terabytes costs only as much memory as the file really holds."""
    out = np.empty(min(n, _FIRST_ALLOCATION), dtype=np.uint8)
    got = 0
    while got < n:
        if got == len(out):
            grown = np.empty(min(n, 2 * len(out)), dtype=np.uint8)
            grown[:got] = out
            out = grown
        k = f.readinto(memoryview(out)[got:])
        if not k:
            break
        got += k
    return out[:got]


def read_idx(
    path: str | os.PathLike[str],
    magic: int,
    *,
    count: int | None = None,
    item_shape: tuple[int, ...] | None = None,
    what: str = "data",
) -> np.ndarray:
    """Read an IDX file of unsigned bytes and return it as a uint8 array of the header's dimensions.

    Args:
        path: the file, gzipped or raw.
        magic: the expected magic number (:data:`IMAGE_MAGIC` or :data:`LABEL_MAGIC`); it also fixes the
            number of dimensions.
        count: the expected first dimension (number of items), or None to accept any.
        item_shape: the expected remaining dimensions (e.g. ``(28, 28)``), or None to accept any.
        what: the word used for the payload in error messages ("image", "label").
    """
    ndim = magic & 0xFF
    header_size = 4 + 4 * ndim
    try:
        with _open(path) as f:
            header = f.read(header_size)
            if len(header) < 4:
                raise DatasetFileError(path, f"truncated: file ends inside the IDX header ({len(header)} bytes)")
            (found,) = struct.unpack(">I", header[:4])
            if found != magic:
                raise DatasetFileError(
                    path,
                    f"bad magic number {found} (0x{found:08x}); an IDX {what} file starts with {magic} (0x{magic:08x})",
                )
            if len(header) < header_size:
                raise DatasetFileError(
                    path, f"truncated: expected a {header_size}-byte IDX header, got {len(header)} bytes"
                )
            dims = struct.unpack(f">{ndim}I", header[4:])
            if count is not None and dims[0] != count:
                raise DatasetFileError(path, f"header says {dims[0]} {what}s, expected {count}")
            if item_shape is not None and tuple(dims[1:]) != tuple(item_shape):
                raise DatasetFileError(path, f"header says each {what} is {dims[1:]}, expected {tuple(item_shape)}")
            size = math.prod(dims)
            data = _read_exactly(f, size)
            if data.size < size:
                raise DatasetFileError(
                    path,
                    f"truncated: expected {size} bytes of {what} data after the {header_size}-byte header "
                    f"({header_size + size} bytes in all), got {data.size}",
                )
            if f.read(1):
                raise DatasetFileError(
                    path, f"unexpected data after the {size} bytes of {what} data that the header announces"
                )
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetFileError(path, f"cannot be read (corrupt or truncated file): {exc}") from exc
    return data.reshape(dims)


def read_idx_images(
    path: str | os.PathLike[str], count: int | None = None, rows: int = 28, cols: int = 28
) -> np.ndarray:
    """Read an IDX image file (magic 2051) into a uint8 array of shape ``(count, rows, cols)``.

    ``count=None`` accepts any number of images; MNIST has 60000 (train) or 10000 (test).
    """
    return read_idx(path, IMAGE_MAGIC, count=count, item_shape=(rows, cols), what="image")


def read_idx_labels(path: str | os.PathLike[str], count: int | None = None, num_classes: int = 10) -> np.ndarray:
    """Read an IDX label file (magic 2049) into a uint8 array of shape ``(count,)``, values < num_classes."""
    labels = read_idx(path, LABEL_MAGIC, count=count, what="label")
    if labels.size and int(labels.max()) >= num_classes:
        bad = int(np.argmax(labels >= num_classes))
        raise DatasetFileError(path, f"label {int(labels[bad])} at index {bad} is out of range 0..{num_classes - 1}")
    return labels
