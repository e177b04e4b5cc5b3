"""``torch.save`` / ``torch.load`` in PyTorch's checkpoint format, both ways, with PyTorch's safe default.

This file owns the public functions: where bytes go (paths, file objects, atomic replacement), which reader a
file needs, ``map_location`` and the wording of errors. The format itself lives in ``_checkpoint_zip`` (the zip
archive and its records), ``_checkpoint_pickle`` (writing ``data.pkl``) and ``_weights_unpickler`` (reading it).

* ``save(obj, f)`` writes what ``torch.save(obj, f)`` writes (PyTorch's zip format, 1.6 and later): real
  PyTorch loads it, ``weights_only=True`` included, for tensors, state dicts, optimizer state dicts and nested
  dicts, lists and tuples of them and of numbers and strings. Other picklable objects (a whole bnlab module)
  are pickled by Python's rules, as PyTorch does, and need ``weights_only=False`` to load. Everything is pickled
  before the file is touched; a path is written to a temporary file in its folder that is then renamed over it
  (so a failed save leaves the old file, or none, and no half-written one; a device such as ``/dev/null`` is
  written directly); a binary file object is written in one pass, never seeked. Tensors are saved contiguous,
  from the host (a GPU tensor keeps its ``cuda:0`` location in the file).
* ``load(f, map_location=None, weights_only=True)`` reads files of ``torch.save`` (zip format) and of
  ``bnlab.torch.save``, including the plain pickles of earlier bnlab versions. With ``weights_only=True`` (the
  default, as PyTorch's since 2.6) only the names of PyTorch's weights-only allowlist are resolved, so a file
  cannot run code: anything else raises ``pickle.UnpicklingError`` ("Weights only load failed...") before it
  runs. ``weights_only=False`` unpickles anything: only for files you trust. ``map_location`` (a device,
  ``'cpu'``, ``'cuda'``, or a dict from saved locations to devices such as ``{'cuda:0': 'cpu'}``) says where
  tensors are created, so a file saved on a GPU loads on a machine without one. PyTorch's legacy non-zip
  format (``_use_new_zipfile_serialization=False``) and TorchScript archives are refused with a message.

Errors: a missing file is ``FileNotFoundError``; a file that is not a checkpoint (empty, random bytes, a
truncated or foreign zip, a malformed pickle) is ``pickle.UnpicklingError`` naming the file and the problem;
content bnlab.torch cannot hold (complex tensors...) likewise; an object ``save`` cannot pickle is
``pickle.PicklingError`` naming it.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import pickle
import secrets
import stat
import struct

__all__ = ["load", "save"]

_TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19."  # pickle of 0x1950a86a20f9469cfc6c
_UNSAFE = (
    "bnlab.torch.load defaults to `weights_only=True`, as torch.load does since PyTorch 2.6. Re-running "
    "`torch.load` with `weights_only` set to `False` will likely succeed, but it can result in arbitrary code "
    "execution. Do it only if you got the file from a trusted source."
)


def save(obj, f) -> None:
    """Write ``obj`` to ``f`` (a path or a binary file object) in PyTorch's checkpoint format."""
    from ._checkpoint_zip import archive_name, write_checkpoint

    if isinstance(f, (str, os.PathLike)):
        path = os.fsdecode(os.fspath(f))
        if os.path.islink(path):  # write where the link points, as opening it would
            path = os.path.realpath(path)
        if os.path.isdir(path):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
        data_pkl, storages = _pickled(obj)
        if os.path.exists(path) and not os.path.isfile(path):  # a device or a pipe (/dev/null): write into it
            with open(path, "wb") as out:
                write_checkpoint(out, archive_name(path), data_pkl, storages)
            return
        _write_atomically(path, lambda out: write_checkpoint(out, archive_name(path), data_pkl, storages))
        return
    write = getattr(f, "write", None)
    if not callable(write):
        message = f"Buffer of {str(type(f)).strip('<>')} has no callable attribute 'write'"
        raise AttributeError(message) if write is None else TypeError(message)
    if isinstance(f, io.TextIOBase):
        raise TypeError("bnlab.torch.save needs a binary file object (open(path, 'wb')), got a text file")
    data_pkl, storages = _pickled(obj)
    write_checkpoint(f, archive_name(None), data_pkl, storages)
    if callable(getattr(f, "flush", None)):
        f.flush()


def _pickled(obj):
    from ._checkpoint_pickle import dumps

    try:
        return dumps(obj)
    except (pickle.PicklingError, TypeError, AttributeError, ValueError, RecursionError) as exc:
        raise pickle.PicklingError(f"bnlab.torch.save cannot pickle this object: {exc}") from exc


def _write_atomically(path: str, write) -> None:
    """``write(binary_file)`` into a new file beside ``path``, flushed to disk, then renamed over ``path``; on
    any failure the temporary file is removed and ``path`` is as it was."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(errno.ENOENT, "Parent directory does not exist", folder)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(folder, f".{os.path.basename(path)}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, flags, 0o666)  # the umask applies, as to a file open() creates
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover - 100 collisions of 32 random bits
        raise FileExistsError(errno.EEXIST, "no free temporary file name", folder)
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(OSError):  # replacing a file keeps its permissions, as writing into it would
            os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def load(f, map_location=None, weights_only=True):
    """Read an object written by ``torch.save`` or ``bnlab.torch.save``. ``map_location`` (a device, ``'cpu'``,
    ``'cuda'``, or a dict from saved locations to devices such as ``{'cuda:0': 'cpu'}``) says where its tensors
    are rebuilt: each is created there directly, so a file saved on a GPU loads on a machine without one.
    ``weights_only`` (default True; None means True) refuses everything but tensors, containers and numbers."""
    place = _placement(map_location)
    weights_only = True if weights_only is None else bool(weights_only)
    if isinstance(f, (str, os.PathLike)):
        name = os.fsdecode(os.fspath(f))
        with open(name, "rb") as src:
            return _load(src, f"bnlab.torch.load({name!r})", place, weights_only)
    if isinstance(f, io.TextIOBase):
        raise TypeError("bnlab.torch.load needs a binary file object (open(path, 'rb')), got a text file")
    if not callable(getattr(f, "read", None)):
        raise TypeError(f"bnlab.torch.load: f must be a path or a binary file object, got {type(f).__name__}")
    name = getattr(f, "name", None)
    what = f"bnlab.torch.load({name!r})" if isinstance(name, str) else f"bnlab.torch.load(<{type(f).__name__}>)"
    seekable = getattr(f, "seekable", None)
    if not (callable(seekable) and seekable()):
        f = io.BytesIO(f.read())  # a zip is read from its end: keep a stream's bytes
    return _load(f, what, place, weights_only)


def _load(src, what: str, place, weights_only: bool):
    from ._checkpoint_zip import CheckpointArchive

    start = src.tell()
    head = src.read(len(_TORCH_LEGACY_MAGIC))
    src.seek(start)
    if head[:4] == b"PK\x03\x04":
        archive = CheckpointArchive(src, what)
        try:
            data = io.BytesIO(archive.read("data.pkl"))
            return _unpickle(data, what, place, weights_only, archive)
        finally:
            archive.close()
    if head == _TORCH_LEGACY_MAGIC:
        raise pickle.UnpicklingError(
            f"{what}: written by torch.save(..., _use_new_zipfile_serialization=False), PyTorch's legacy format, "
            "which bnlab.torch does not read: load it in PyTorch and save it again with torch.save(obj, f)"
        )
    if head[:1] == b"\x80":  # a pickle: the plain-pickle files of earlier bnlab versions
        return _unpickle(src, what, place, weights_only, None)
    if not head:
        raise pickle.UnpicklingError(f"{what}: the file is empty, not a checkpoint")
    raise pickle.UnpicklingError(
        f"{what}: not a checkpoint of torch.save or bnlab.torch.save (neither a zip archive nor a pickle: it "
        f"starts with {head[:8]!r})"
    )


# errors that mean a malformed pickle when nothing but the allowlisted functions can run
_MALFORMED = (
    pickle.UnpicklingError,
    EOFError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    OverflowError,
    RecursionError,
    struct.error,
)


def _unpickle(stream, what: str, place, weights_only: bool, archive):
    from ._checkpoint_zip import ArchiveError
    from ._weights_unpickler import CheckpointUnpickler, Refused, Unsupported

    unpickler = CheckpointUnpickler(
        stream,
        weights_only=weights_only,
        legacy=archive is None,
        read_record=None if archive is None else archive.read,
        byteorder="little" if archive is None else archive.byteorder,
        place=place,
    )
    try:
        return unpickler.load()
    except ArchiveError:
        raise
    except Refused as exc:
        raise pickle.UnpicklingError(
            f"Weights only load failed. {_UNSAFE}\n\nWeightsUnpickler error: {exc}\n\n({what})"
        ) from None
    except Unsupported as exc:
        raise Unsupported(f"{what}: {exc}") from None
    except _MALFORMED as exc:
        if not weights_only and not isinstance(exc, (pickle.UnpicklingError, EOFError)):
            raise
        raise pickle.UnpicklingError(
            f"{what}: not a valid checkpoint, its pickle is malformed or truncated ({type(exc).__name__}: {exc})"
        ) from None


def _placement(map_location):
    """A function from a saved device string ("cpu", "cuda:0") to the device to rebuild on; None keeps it."""
    from ._types import CUDA, as_device, device

    def norm(d) -> str:
        d = as_device(d)
        return str(CUDA if d.type == "cuda" and d.index is None else d)

    if map_location is None:
        return None
    if isinstance(map_location, dict):
        table = {norm(k): norm(v) for k, v in map_location.items()}
        return lambda saved: table.get(norm(saved), saved)
    if isinstance(map_location, (str, device)):
        target = norm(map_location)
        return lambda saved: target
    raise TypeError(
        f"bnlab.torch.load: map_location must be a device, a device string or a dict of them, got "
        f"{type(map_location).__name__}"
    )
