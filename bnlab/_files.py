"""Atomic file writes, the one way bnlab writes a file that someone may be reading: all or nothing.

The bytes go to a temporary file in the target's own folder (``.<name>.<random><suffix>``), are flushed to
disk (``fsync``), get the permissions a plain ``open(path, "w")`` would give a new file (0o666 less the
umask, not the temporary file's private 0o600), and are renamed over the target with ``os.replace``, which
is atomic on POSIX and Windows. Readers see the old file or the new one, never half of one; on any
exception (a full disk, Ctrl-C, an error of the caller's) the temporary file is removed and the old file,
if any, is left as it was. Used by the lab's run folder, the dataset downloads, Keras model files and the
benchmark reports.
"""

import contextlib
import os
import tempfile


def new_file_mode():
    """The mode ``open()`` gives a new file: 0o666 less this process's umask."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_file(path, suffix=".tmp"):
    """``with atomic_file(path) as f: f.write(...)``: a binary file that replaces ``path`` when the block
    ends normally, and leaves no trace when it raises."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=suffix, dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            if hasattr(os, "fchmod"):  # not on Windows, where the mode bits mean little
                os.fchmod(f.fileno(), new_file_mode())
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_atomic(path, data):
    """Create or replace ``path`` with ``data``: bytes, a str (written as UTF-8), or a function
    ``write(binary_file)`` that writes the content itself."""
    with atomic_file(path) as f:
        if callable(data):
            data(f)
        else:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
