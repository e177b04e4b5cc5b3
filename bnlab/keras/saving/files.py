"""Files on disk for saving: what a write needs (checks, the bytes of an archive), and safe reads of .keras
archives and .weights.h5 files.

Writes go through bnlab._files.write_atomic (a temporary file in the target's folder, flushed, renamed over
the target): a crash or an error midway leaves the old file whole and no half-written one. Reads parse
only JSON and HDF5 datasets (no pickle, no code), check what the file is before trusting it, and turn
every failure into an error that names the file.
"""

import io
import json
import os
import zipfile

import h5py

CONFIG, METADATA, WEIGHTS = "config.json", "metadata.json", "model.weights.h5"
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_MAX_MEMBER_BYTES = 16 << 30  # a member claiming more than 16 GiB is refused (zip bombs)


def check_writable(path, overwrite):
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot save to {path}: the folder {folder} does not exist")
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot save to {path}: it is a directory")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path} exists and overwrite=False")


def _require_file(path):
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file: {path}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path} is a directory, not a saved model file")


def read_archive(path):
    """(config dict, metadata dict, weights bytes) of a .keras zip archive."""
    path = os.fspath(path)
    _require_file(path)
    with open(path, "rb") as f:
        head = f.read(8)
    if head == _HDF5_SIGNATURE:
        raise ValueError(
            f"{path} is an HDF5 file, not a .keras archive: load a .weights.h5 file with model.load_weights; "
            "the legacy Keras 2 .h5 model format is not supported"
        )
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a .keras file (a .keras file is a zip archive)")
    try:
        with zipfile.ZipFile(path) as zf:
            missing = [m for m in (CONFIG, METADATA, WEIGHTS) if m not in zf.namelist()]
            if missing:
                raise ValueError(f"{path} is not a complete .keras archive: it lacks {', '.join(missing)}")
            config = _json_member(zf, CONFIG, path)
            metadata = _json_member(zf, METADATA, path)
            weights = _member(zf, WEIGHTS, path)
    except (zipfile.BadZipFile, EOFError, OSError) as e:  # truncated or corrupt archive, CRC errors
        raise ValueError(f"{path} is a corrupt .keras archive: {e}") from None
    if not isinstance(config, dict) or not isinstance(metadata, dict):
        raise ValueError(f"{path}: {CONFIG} and {METADATA} must each hold a JSON object")
    return config, metadata, weights


def _member(zf, name, path):
    if zf.getinfo(name).file_size > _MAX_MEMBER_BYTES:
        raise ValueError(f"{path}: {name} claims {zf.getinfo(name).file_size} bytes; refusing to expand it")
    return zf.read(name)


def _json_member(zf, name, path):
    try:
        return json.loads(_member(zf, name, path).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: {name} is not valid JSON ({e})") from None


def open_h5(source, where):
    """An HDF5 file opened read-only from a path or from bytes; ``where`` names it in errors."""
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    else:
        _require_file(source)
    try:
        return h5py.File(source, "r")
    except OSError as e:
        raise ValueError(f"{where} is not a readable HDF5 weights file ({e})") from None


def h5_bytes(fill):
    """The bytes of a new in-memory HDF5 file that ``fill(h5file)`` populates."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        fill(h5)
    return buffer.getvalue()


def zip_bytes_writer(members):
    """A ``write(f)`` for bnlab._files.write_atomic: ``{name: bytes}`` in a zip, as Keras does (uncompressed)."""

    def write(f):
        with zipfile.ZipFile(f, "w") as zf:
            for name, data in members.items():
                zf.writestr(name, data)

    return write
