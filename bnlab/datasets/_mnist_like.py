"""Loading shared by MNIST and Fashion-MNIST: the same four IDX files, the same shapes, the same search.

Both datasets come as four IDX files (see ``_idx``)::

    train-images-idx3-ubyte   60000 x 28 x 28 images     t10k-images-idx3-ubyte   10000 x 28 x 28 images
    train-labels-idx1-ubyte   60000 labels (0..9)        t10k-labels-idx1-ubyte   10000 labels (0..9)

each either gzipped (``.gz``, the usual form) or raw. MNIST can also come as Keras's ``mnist.npz``.
The returned arrays are uint8, in file order: ``((x_train, y_train), (x_test, y_test))`` with shapes
``(60000, 28, 28)``, ``(60000,)``, ``(10000, 28, 28)``, ``(10000,)``, exactly as Keras returns them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import _sources
from ._download import download as _download
from ._errors import DatasetNotFoundError
from ._idx import read_idx_images, read_idx_labels
from ._locate import Candidate, file_candidate, find_and_load, user_paths
from ._npz import read_mnist_npz
from ._sources import data_dir, keras_cache_dir, source

__all__ = ["IDX_NAMES", "Family", "find_idx_files", "load", "load_idx_dir"]

Splits = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

IDX_NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
TRAIN_COUNT = 60000
TEST_COUNT = 10000


@dataclass(frozen=True)
class Family:
    """What differs between MNIST and Fashion-MNIST: names and where Keras and the system keep them."""

    key: str  # the name in _sources.SOURCES
    subdir: str  # folder of the IDX files under bnlab's data directory (and Keras's, for Fashion-MNIST)
    npz_name: str | None  # Keras's single-file form, if any
    keras_idx: bool  # whether Keras caches the IDX files (Fashion-MNIST) rather than the npz (MNIST)


def find_idx_files(directory: str | os.PathLike[str]) -> dict[str, Path | None]:
    """Map each IDX file name (with ``.gz``) to the file found in ``directory`` (gzipped preferred, then
    raw), or None if neither form is there."""
    directory = Path(directory)
    found: dict[str, Path | None] = {}
    for name in IDX_NAMES:
        gz, raw = directory / f"{name}.gz", directory / name
        found[f"{name}.gz"] = gz if gz.is_file() else raw if raw.is_file() else None
    return found


def load_idx_dir(
    directory: str | os.PathLike[str],
    *,
    train_count: int | None = TRAIN_COUNT,
    test_count: int | None = TEST_COUNT,
) -> Splits:
    """Load ``((x_train, y_train), (x_test, y_test))`` from a folder holding the four IDX files.

    The counts default to MNIST's 60000/10000 (None accepts any count); images and labels of a split
    must agree. Raises :class:`DatasetNotFoundError` listing the missing files, or
    :class:`DatasetFileError` for a malformed one.
    """
    files = find_idx_files(directory)
    missing = [name for name, path in files.items() if path is None]
    if missing:
        raise DatasetNotFoundError(
            "A complete set of IDX files",
            [f"{directory}{os.sep}: missing {', '.join(missing)}"],
            f"Put the four files ({', '.join(files)}) in {directory}, gzipped or not.",
            reason="load_idx_dir() reads only the folder it is given and never downloads",
        )
    paths = list(files.values())
    x_train = read_idx_images(paths[0], train_count)
    y_train = read_idx_labels(paths[1], len(x_train))
    x_test = read_idx_images(paths[2], test_count)
    y_test = read_idx_labels(paths[3], len(x_test))
    return (x_train, y_train), (x_test, y_test)


def _idx_candidate(directory: Path) -> Candidate:
    return Candidate(f"{directory}{os.sep} (IDX files)", find_idx_files(directory), lambda: load_idx_dir(directory))


def _npz_candidate(path: Path) -> Candidate:
    return file_candidate(path, "Keras .npz", read_mnist_npz)


def _user_candidates(family: Family, path, cache_dir) -> Iterator[Candidate]:
    for given in user_paths(path, cache_dir):
        if given.is_file():
            stem = given.name[:-3] if given.name.endswith(".gz") else given.name
            if given.suffix == ".npz":
                yield _npz_candidate(given)
            elif stem in IDX_NAMES:
                yield _idx_candidate(given.parent)
            else:
                raise ValueError(f"path={os.fspath(path)!r} is neither an .npz file nor one of the IDX files")
            return
        if given.is_dir():
            yield _idx_candidate(given)
            yield _idx_candidate(given / family.subdir)
            if family.npz_name:
                yield _npz_candidate(given / family.npz_name)
            return
    yield Candidate(f"path={os.fspath(path)!r}", {os.fspath(path): None}, lambda: None)


def _candidates(family: Family, path, cache_dir) -> Iterator[Candidate]:
    if path is not None:
        yield from _user_candidates(family, path, cache_dir)
    root = data_dir(cache_dir)
    yield _idx_candidate(root / family.subdir)
    if family.npz_name:
        yield _npz_candidate(root / family.npz_name)
    keras = keras_cache_dir()
    if family.keras_idx:
        yield _idx_candidate(keras / family.subdir)
    if family.npz_name:
        yield _npz_candidate(keras / family.npz_name)
    for system in _sources.SYSTEM_DIRS.get(family.key, ()):
        yield _idx_candidate(Path(system))


def load(family: Family, path=None, *, download: bool = True, cache_dir=None) -> Splits:
    """Find (or download) and load a dataset of the MNIST family; see ``mnist.load_data``."""
    src = source(family.key)
    root = data_dir(cache_dir)
    target = root / src.subdir if src.subdir else root
    names = ", ".join(f"{name}.gz" for name in IDX_NAMES)
    hint = f"To install it by hand, put the four IDX files ({names}; gzipped or not) in {root / family.subdir}"
    if family.npz_name:
        hint += f", or Keras's {family.npz_name} in {root}"
    hint += " (set $BNLAB_DATA_DIR to use another folder), or pass path=."

    def after_fetch() -> Iterator[Candidate]:
        if family.npz_name and not src.subdir:
            yield _npz_candidate(target / family.npz_name)
        else:
            yield _idx_candidate(target)

    return find_and_load(
        src.title,
        _candidates(family, path, cache_dir),
        download=download,
        fetch=lambda: _download(src.name, root),
        after_fetch=after_fetch,
        hint=hint,
    )
