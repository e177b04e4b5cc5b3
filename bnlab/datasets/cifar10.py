"""CIFAR-10: ``load_data()`` (Keras-compatible), ``load_batches_dir()`` and ``load_archive()``.

50,000 training and 10,000 test colour images, 32x32, uint8, in 10 classes::

    0 airplane   1 automobile   2 bird   3 cat   4 deer   5 dog   6 frog   7 horse   8 ship   9 truck

The files (Python pickles or binary records, loose or in a ``.tar.gz``) are described in ``_cifar``.
Images are returned channels-last, ``(N, 32, 32, 3)``, as Keras returns them with its default
``image_data_format() == "channels_last"``; labels have shape ``(N, 1)``. Downloads fetch
``cifar-10-python.tar.gz`` from the University of Toronto (override the folder with
``$BNLAB_CIFAR10_URL``); the archive is kept as it is and read without extracting it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from . import _sources
from ._cifar import BINARY_NAMES, PYTHON_NAMES, load_archive, load_batches_dir
from ._download import download as _download
from ._locate import Candidate, file_candidate, find_and_load, user_paths
from ._sources import data_dir, keras_cache_dir, source

__all__ = ["CLASS_NAMES", "load_archive", "load_batches_dir", "load_data"]

CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

PY_DIR, PY_ARCHIVE = "cifar-10-batches-py", "cifar-10-python.tar.gz"
BIN_DIR, BIN_ARCHIVE = "cifar-10-batches-bin", "cifar-10-binary.tar.gz"


def _dir_candidate(directory: Path, binary: bool) -> Candidate:
    names = BINARY_NAMES if binary else PYTHON_NAMES
    files = {name: (directory / name if (directory / name).is_file() else None) for name in names}
    kind = "CIFAR-10 binary batches" if binary else "CIFAR-10 Python batches"
    return Candidate(f"{directory}{os.sep} ({kind})", files, lambda: load_batches_dir(directory, binary=binary))


def _archive_candidate(path: Path) -> Candidate:
    return file_candidate(path, "CIFAR-10 archive", load_archive)


def _folder_candidates(root: Path) -> Iterator[Candidate]:
    yield _dir_candidate(root / PY_DIR, binary=False)
    yield _archive_candidate(root / PY_ARCHIVE)
    yield _dir_candidate(root / BIN_DIR, binary=True)
    yield _archive_candidate(root / BIN_ARCHIVE)


def _user_candidates(path, cache_dir) -> Iterator[Candidate]:
    for given in user_paths(path, cache_dir):
        if given.is_file():
            if given.name in PYTHON_NAMES or given.name in BINARY_NAMES:
                yield _dir_candidate(given.parent, binary=given.name in BINARY_NAMES)
            else:
                yield _archive_candidate(given)
            return
        if given.is_dir():
            yield _dir_candidate(given, binary=False)
            yield _dir_candidate(given, binary=True)
            yield from _folder_candidates(given)
            return
    yield Candidate(f"path={os.fspath(path)!r}", {os.fspath(path): None}, lambda: None)


def _candidates(path, cache_dir) -> Iterator[Candidate]:
    if path is not None:
        yield from _user_candidates(path, cache_dir)
    yield from _folder_candidates(data_dir(cache_dir))
    keras = keras_cache_dir()
    yield _dir_candidate(keras / PY_DIR, binary=False)  # tf.keras: extracted next to the archive
    yield _dir_candidate(keras / PY_DIR / PY_DIR, binary=False)  # Keras 3: extracted into a folder
    yield _archive_candidate(keras / f"{PY_DIR}.tar.gz")
    yield _archive_candidate(keras / f"{PY_DIR}_archive")
    for system in _sources.SYSTEM_DIRS.get("cifar10", ()):
        yield from _folder_candidates(Path(system))


def load_data(
    path: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load CIFAR-10 as ``((x_train, y_train), (x_test, y_test))``, exactly as ``keras.datasets.cifar10``.

    Shapes: ``(50000, 32, 32, 3)``, ``(50000, 1)``, ``(10000, 32, 32, 3)``, ``(10000, 1)``; all uint8,
    channels-last, in file order (``data_batch_1`` ... ``data_batch_5``, then ``test_batch``).

    Args:
        path: a folder (``cifar-10-batches-py/`` or ``cifar-10-batches-bin/`` itself, or a folder holding
            them or their archives) or a file (an archive, or one of the batch files); searched first.
        download: whether to download ``cifar-10-python.tar.gz`` when no local copy is found.
        cache_dir: bnlab's data directory; default ``$BNLAB_DATA_DIR``, else ``~/.bnlab/datasets``.

    Search order: ``path``; in the data directory ``cifar-10-batches-py/``, ``cifar-10-python.tar.gz``,
    ``cifar-10-batches-bin/``, ``cifar-10-binary.tar.gz``; Keras's cache (``~/.keras/datasets``); then a
    download of ``cifar-10-python.tar.gz`` into the data directory.

    Raises:
        DatasetFileError: a file was found but is malformed, or is an unsafe pickle (the message names it).
        DatasetNotFoundError: nothing was found and the download failed or was disabled.
    """
    src = source("cifar10")
    root = data_dir(cache_dir)
    hint = (
        f"To install it by hand, put {PY_ARCHIVE} (or its extracted {PY_DIR}{os.sep} folder, or the binary "
        f"version {BIN_ARCHIVE} / {BIN_DIR}{os.sep}) in {root} (set $BNLAB_DATA_DIR to use another folder), "
        "or pass path=."
    )
    return find_and_load(
        src.title,
        _candidates(path, cache_dir),
        download=download,
        fetch=lambda: _download(src.name, root),
        after_fetch=lambda: iter([_archive_candidate(root / PY_ARCHIVE)]),
        hint=hint,
    )
