"""The zip container of PyTorch's checkpoint files: writing it byte for byte as ``torch.save`` lays it out, and
reading it back with checks.

This file owns the archive and its records; what ``data.pkl`` holds is ``_checkpoint_pickle`` (writing) and
``_weights_unpickler`` (reading), the public functions are ``_serialization``.

The format (``torch.save`` with ``_use_new_zipfile_serialization=True``, PyTorch 1.6 and later, checked against
2.13's files) is a zip archive, every entry stored (no compression), all under one folder, the *archive name*:
the saved file's base name without its extension (``ckpt.pt`` -> ``ckpt/``), or ``archive`` for a file object
(and for a name that is empty or not ASCII). The records, in the order PyTorch writes them:

* ``data.pkl``: the pickled object (protocol 2), tensors referring to storages by key;
* ``.format_version``: ``1`` (storages are numbered ``0, 1, 2...`` in the order they are first met);
* ``.storage_alignment``: ``64``, the alignment of every record's data in the file;
* ``byteorder``: ``little`` (the storages' byte order; a missing record means little);
* ``data/<key>``: one per storage, its elements' raw bytes;
* ``version``: ``3\\n`` (the container version PyTorch writes);
* ``.data/serialization_id``: 40 random decimal digits.

The layout is miniz's (PyTorch's zip writer), which PyTorch relies on when it computes storage offsets without
reading the directory (``mmap=True`` loads, ``TORCH_SERIALIZATION_DEBUG=1`` checks them): each local header has
version 0, time and date 0, CRC and sizes 0 and flags ``0x0808`` (UTF-8 names, sizes in a data descriptor),
followed by the name and an extra field ``FB`` + uint16 length + ``Z`` padding that puts the data on a multiple
of 64; after non-empty data comes the 16-byte descriptor ``PK\\x07\\x08`` + CRC + two 32-bit sizes (an empty
record has flags ``0x0800`` and no descriptor). An entry of 2**32-1 bytes or more, or one that starts that far
into the file, gets a zip64 extra field before the padding (64-bit sizes and/or offset) and a 24-byte descriptor.
The central directory has no extra fields except zip64 ones, and the archive always ends with a zip64 end
record, its locator and the classic end record.
"""

from __future__ import annotations

import pickle
import secrets
import struct
import zipfile
import zlib

__all__ = ["ArchiveError", "CheckpointArchive", "archive_name", "write_checkpoint"]

ALIGNMENT = 64
VERSION = b"3\n"
_U32 = 0xFFFFFFFF  # miniz's MZ_UINT32_MAX: a size or offset this large needs zip64 fields (tests lower it)
_FULL = 0xFFFFFFFF  # what a 32-bit field holds when its value is in a zip64 field
_FLAGS_DESCRIPTOR = 0x0808
_FLAGS_EMPTY = 0x0800


def archive_name(filename: str | None) -> str:
    """The folder name PyTorch gives the records of a file saved under ``filename`` (None: a file object)."""
    if filename is None:
        return "archive"
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    if "." in base:
        base = base[: base.rindex(".")]
    if not base or not base.isascii() or not base.isprintable():
        return "archive"
    return base


def write_checkpoint(out, name: str, data_pkl: bytes, storages) -> None:
    """Write the whole archive to ``out`` (anything with ``write(bytes)``; it is never seeked): ``data_pkl`` and
    the storages (C-contiguous uint8 arrays or bytes, keys ``0, 1...`` in order) under the folder ``name``."""
    zf = _ZipWriter(out, name)
    zf.add("data.pkl", data_pkl)
    zf.add(".format_version", b"1")
    zf.add(".storage_alignment", str(ALIGNMENT).encode())
    zf.add("byteorder", b"little")
    for key, data in enumerate(storages):
        zf.add(f"data/{key}", data)
    zf.add("version", VERSION)
    zf.add(".data/serialization_id", f"{secrets.randbits(64):020d}{secrets.randbits(64):020d}".encode())
    zf.finish()


class _ZipWriter:
    """A stored-only zip writer that lays entries out as miniz does for PyTorch (see the module docstring)."""

    def __init__(self, out, folder: str) -> None:
        self._write, self._folder = out.write, folder
        self._pos = 0
        self._entries: list[tuple[bytes, int, int, int, int]] = []  # name, flags, crc, size, header offset

    def _emit(self, data) -> None:
        self._write(data)
        self._pos += len(data) if isinstance(data, bytes) else memoryview(data).nbytes

    def add(self, name: str, data) -> None:
        view = memoryview(data).cast("B")
        size, offset = view.nbytes, self._pos
        full = f"{self._folder}/{name}".encode()
        zip64 = b""
        if size >= _U32 or offset >= _U32:
            fields = (struct.pack("<QQ", size, size) if size >= _U32 else b"") + (
                struct.pack("<Q", offset) if offset >= _U32 else b""
            )
            zip64 = struct.pack("<HH", 1, len(fields)) + fields
        start = offset + 30 + len(full) + len(zip64) + 4
        pad = -start % ALIGNMENT
        extra = zip64 + b"FB" + struct.pack("<H", pad) + b"Z" * pad
        flags = _FLAGS_DESCRIPTOR if size else _FLAGS_EMPTY
        crc = zlib.crc32(view) if size else 0
        self._emit(struct.pack("<IHHHHHIIIHH", 0x04034B50, 0, flags, 0, 0, 0, 0, 0, 0, len(full), len(extra)))
        self._emit(full + extra)
        if size:
            self._emit(view)
            sizes = struct.pack("<QQ", size, size) if zip64 else struct.pack("<II", size, size)
            self._emit(struct.pack("<II", 0x08074B50, crc) + sizes)
        self._entries.append((full, flags, crc, size, offset))

    def finish(self) -> None:
        cd_start = self._pos
        for full, flags, crc, size, offset in self._entries:
            fields = (struct.pack("<QQ", size, size) if size >= _U32 else b"") + (
                struct.pack("<Q", offset) if offset >= _U32 else b""
            )
            extra = struct.pack("<HH", 1, len(fields)) + fields if fields else b""
            small = size if size < _U32 else _FULL
            self._emit(
                struct.pack(
                    "<IHHHHHHIIIHHHHHII",
                    0x02014B50,
                    0,
                    45 if extra else 0,
                    flags,
                    0,
                    0,
                    0,
                    crc,
                    small,
                    small,
                    len(full),
                    len(extra),
                    0,
                    0,
                    0,
                    0,
                    offset if offset < _U32 else _FULL,
                )
            )
            self._emit(full + extra)
        n, cd_size, end64 = len(self._entries), self._pos - cd_start, self._pos
        self._emit(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 0x031E, 45, 0, 0, n, n, cd_size, cd_start))
        self._emit(struct.pack("<IIQI", 0x07064B50, 0, end64, 1))
        self._emit(
            struct.pack(
                "<IHHHHIIH",
                0x06054B50,
                0,
                0,
                min(n, 0xFFFF),
                min(n, 0xFFFF),
                _capped(cd_size),
                _capped(cd_start),
                0,
            )
        )


def _capped(value: int) -> int:
    return value if value < _U32 else _FULL


class ArchiveError(pickle.UnpicklingError):
    """The file is not a readable checkpoint archive (the message names the file and the problem)."""


class CheckpointArchive:
    """The records of a checkpoint archive read from a seekable binary file; every problem is a
    ``ArchiveError`` (a ``pickle.UnpicklingError``) that names the file (``what``) and says what is wrong."""

    def __init__(self, file, what: str) -> None:
        self._error = lambda message: ArchiveError(f"{what}: {message}")
        try:
            self._zip = zipfile.ZipFile(file)
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, KeyError, struct.error) as exc:
            raise self._error(
                f"not a readable zip archive, so not a checkpoint (truncated or corrupted?): {exc}"
            ) from None
        if not infos:
            raise self._error("an empty zip archive, not a checkpoint")
        first = infos[0].filename
        if "/" not in first:
            raise self._error(f"a zip archive but not a PyTorch checkpoint: its first entry {first!r} is in no folder")
        self.folder = first.split("/", 1)[0]
        self._infos = {i.filename: i for i in infos}
        if self.has("constants.pkl"):
            raise self._error(
                "a TorchScript archive (torch.jit.save), not a torch.save checkpoint: bnlab.torch cannot load it"
            )
        if not self.has("data.pkl"):
            raise self._error(f"a zip archive but not a PyTorch checkpoint: it has no {self.folder}/data.pkl")
        order = self.read("byteorder") if self.has("byteorder") else b"little"
        if order not in (b"little", b"big"):
            raise self._error(f"unknown byte order {order[:20]!r} in {self.folder}/byteorder")
        self.byteorder = order.decode()

    def has(self, name: str) -> bool:
        return f"{self.folder}/{name}" in self._infos

    def read(self, name: str) -> bytes:
        """The bytes of record ``name`` (relative to the folder); the CRC is checked."""
        full = f"{self.folder}/{name}"
        info = self._infos.get(full)
        if info is None:
            raise self._error(f"the checkpoint has no record {full}")
        if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
            raise self._error(f"record {full} is compressed or encrypted; torch.save stores its records as they are")
        try:
            return self._zip.read(info)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, struct.error, NotImplementedError) as exc:
            raise self._error(f"record {full} cannot be read (truncated or corrupted?): {exc}") from None

    def close(self) -> None:
        self._zip.close()
