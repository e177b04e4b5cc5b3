"""The search for a dataset's files: candidate places, tried in order, then a download.

Each dataset module (``mnist``, ``fashion_mnist``, ``cifar10``) lists its *candidates*: a place (a folder
of IDX files, an ``.npz`` file, a CIFAR folder or archive), the files that place needs, and the function
that loads them. :func:`find_and_load` walks the candidates in order:

* the first candidate whose files are all present is loaded. If a file there is malformed, its
  :class:`DatasetFileError` propagates: a broken file is reported (naming it), never skipped silently;
* a candidate with files missing is recorded ("where: missing a, b") and the search goes on;
* when no candidate is complete, the dataset is downloaded into ``$BNLAB_DATA_DIR`` (unless
  ``download=False``) and loaded from there;
* when that is impossible, :class:`DatasetNotFoundError` lists every place searched with its missing
  files, and says where to put the files.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ._errors import DatasetNotFoundError, DownloadError
from ._sources import data_dir, keras_cache_dir

__all__ = ["Candidate", "find_and_load", "user_paths"]


@dataclass
class Candidate:
    """One place a dataset may be found.

    Attributes:
        where: the place, as shown to the user (a path and the kind of files expected there).
        files: each required file's name -> the path where it was found, or None if it is missing.
        load: loads the dataset from the found files (called only when nothing is missing).
    """

    where: str
    files: dict[str, Path | None]
    load: Callable[[], object]

    @property
    def missing(self) -> list[str]:
        return [name for name, found in self.files.items() if found is None]

    def describe(self) -> str:
        missing = self.missing
        if len(missing) == len(self.files) == 1:
            return f"{self.where}: not found"
        return f"{self.where}: missing {', '.join(missing)}"


def file_candidate(path: Path, kind: str, loader: Callable[[Path], object]) -> Candidate:
    """A candidate made of a single file (an ``.npz`` or an archive)."""
    found = path if path.is_file() else None
    return Candidate(f"{path} ({kind})", {path.name: found}, lambda: loader(path))


def user_paths(path: str | os.PathLike[str], cache_dir: str | os.PathLike[str] | None) -> list[Path]:
    """Where a ``path=`` argument may point: itself if it exists or is absolute; otherwise (a bare name
    such as Keras's ``"mnist.npz"``) the same name in the working directory, bnlab's data directory and
    Keras's cache."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    given = Path(os.path.expanduser(os.fspath(path)))
    if given.exists() or given.is_absolute():
        return [given]
    return [given, data_dir(cache_dir) / given, keras_cache_dir() / given]


def find_and_load(
    title: str,
    candidates: Iterable[Candidate],
    *,
    download: bool,
    fetch: Callable[[], None],
    after_fetch: Callable[[], Iterator[Candidate]],
    hint: str,
) -> object:
    """Load from the first complete candidate, else ``fetch()`` and load from ``after_fetch()``.

    ``fetch`` downloads the missing files (raising :class:`DownloadError`); ``after_fetch`` yields the
    candidates in the download folder. Raises :class:`DatasetNotFoundError` when nothing works.
    """
    searched = []
    for candidate in candidates:
        if not candidate.missing:
            return candidate.load()
        searched.append(candidate.describe())
    if not download:
        raise DatasetNotFoundError(title, searched, hint, download_disabled=True)
    try:
        fetch()
    except DownloadError as exc:
        raise DatasetNotFoundError(title, searched, hint, download_error=exc) from exc
    for candidate in after_fetch():
        if not candidate.missing:
            return candidate.load()
    raise DatasetNotFoundError(title, searched, hint)
