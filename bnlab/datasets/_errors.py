"""Exceptions raised by the dataset loaders (``bnlab.datasets``).

Three things can go wrong when a dataset is loaded, and each has its own exception so that callers (and
students reading a traceback) can tell them apart:

* :class:`DatasetFileError` -- a file was found but its contents are wrong (bad magic number, wrong
  dimensions, truncated data, corrupt compression, a pickle that tries to import something it should not).
  It is a :class:`ValueError`; the message always starts with the path of the offending file.
* :class:`DownloadError` -- fetching a file from its public mirror failed (network error, HTTP error,
  truncated transfer, size or SHA-256 mismatch). It is an :class:`OSError`.
* :class:`DatasetNotFoundError` -- no usable copy was found anywhere and none could be downloaded. It is a
  :class:`FileNotFoundError`; the message lists the missing files, every place that was searched and where
  to put the files.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

__all__ = ["DatasetFileError", "DatasetNotFoundError", "DownloadError"]


class DatasetFileError(ValueError):
    """A dataset file exists but is malformed.

    Attributes:
        path: the file that is wrong (for archives: the archive, with the member named in ``problem``).
        problem: what is wrong with it, in words.
    """

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class DownloadError(OSError):
    """Downloading a dataset file failed; nothing was left behind in the cache directory.

    Attributes:
        url: the address that was fetched.
        reason: what went wrong, in words.
    """

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"download of {url} failed: {reason}")

    def __str__(self) -> str:
        return f"download of {self.url} failed: {self.reason}"


class DatasetNotFoundError(FileNotFoundError):
    """No usable copy of a dataset was found and it could not be downloaded.

    Attributes:
        dataset: the dataset's display name (``"MNIST"``...).
        searched: one line per place that was looked at, each saying what was missing there.
        hint: where to put the files so that the next call finds them.
        download_error: the :class:`DownloadError` of the failed download, or None when downloading was
            disabled (``download=False``).
    """

    def __init__(
        self,
        dataset: str,
        searched: Sequence[str],
        hint: str,
        download_error: BaseException | None = None,
        download_disabled: bool = False,
        reason: str | None = None,
    ) -> None:
        self.dataset = dataset
        self.searched = list(searched)
        self.hint = hint
        self.download_error = download_error
        if reason is not None:
            why = reason
        elif download_disabled:
            why = "downloading is disabled (download=False)"
        elif download_error is not None:
            why = f"the download failed: {download_error}"
        else:
            why = "no download was attempted"
        lines = [f"{dataset} was not found locally and {why}.", "Places searched, in order:"]
        lines += [f"  - {place}" for place in self.searched]
        lines.append(hint)
        super().__init__("\n".join(lines))

    def __str__(self) -> str:
        return str(self.args[0])
