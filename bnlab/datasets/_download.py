"""Safe downloads of dataset files: streamed, verified, and atomic.

How one file is fetched (:func:`fetch_file`):

1. The file is streamed with ``urllib`` in 64 KiB chunks into a temporary file *in the destination folder*
   (``.<name>.<random>.part``), hashing with SHA-256 on the way. A progress bar goes to stderr: redrawn in
   place on a terminal, a start line and an end line otherwise.
2. Each network operation has a timeout (``timeout=``, ``$BNLAB_DOWNLOAD_TIMEOUT``, default 30 s).
   A transfer that fails on the way (connection refused or reset, timeout, HTTP 5xx, a body shorter than
   the announced Content-Length) is tried ONE more time. Permanent failures (HTTP 4xx such as 404, a wrong
   size or checksum) are not retried.
3. Once complete, the byte count and SHA-256 are compared with the known upstream values. Only then is the
   temporary file flushed to disk and renamed onto the final name with :func:`os.replace`, which is atomic
   (``bnlab._files.atomic_file``; the file gets the mode ``open()`` would give it, 0o666 less the umask).
4. On *any* failure, including Ctrl-C (KeyboardInterrupt), the temporary file is deleted, so the cache
   never holds a partial or corrupt file. Failures are raised as :class:`DownloadError`.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TextIO

from .._files import atomic_file
from ._errors import DownloadError
from ._sources import data_dir, download_timeout, source

__all__ = ["download", "fetch_file"]

CHUNK_SIZE = 1 << 16
RETRIES = 1


class _TransientError(Exception):
    """A failure worth one more try (network trouble, truncated body, server error)."""


class _Progress:
    """A tqdm-like progress bar on ``stream`` (stderr): ``name  45%|####     | 5.2/11.5 MB 3.1 MB/s``.

    On a terminal the bar is redrawn in place at most 10 times a second; elsewhere (logs, pytest) only a
    start line and an end line are written. ``enabled=False`` silences it completely.
    """

    def __init__(self, label: str, total: int | None, stream: TextIO, enabled: bool | None) -> None:
        self.label, self.total, self.stream = label, total, stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.enabled = True if enabled is None else bool(enabled)
        self.done = 0
        self.start = self.last = time.monotonic()

    def begin(self, url: str) -> None:
        if self.enabled:
            size = f" ({self.total / 1e6:.1f} MB)" if self.total else ""
            self.stream.write(f"Downloading {url}{size}\n")
            self.stream.flush()

    def restart(self) -> None:
        self.done = 0

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and self.tty and now - self.last >= 0.1:
            self.last = now
            self._draw(now)

    def _draw(self, now: float, end: str = "") -> None:
        rate = self.done / max(now - self.start, 1e-9)
        if self.total:
            frac = min(self.done / self.total, 1.0)
            bar = "#" * int(frac * 25)
            head = f"{self.label} {frac:4.0%}|{bar:<25}| {self.done / 1e6:.1f}/{self.total / 1e6:.1f} MB"
        else:
            head = f"{self.label} {self.done / 1e6:.1f} MB"
        self.stream.write(f"\r{head} {rate / 1e6:.1f} MB/s{end}")
        self.stream.flush()

    def finish(self, ok: bool) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if self.tty:
            self._draw(now, end="\n")
        if ok:
            self.stream.write(f"{self.label}: {self.done / 1e6:.1f} MB in {now - self.start:.1f} s\n")
            self.stream.flush()


def _content_length(response: http.client.HTTPResponse) -> int | None:
    raw = response.headers.get("Content-Length")
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def _transfer(url, out, hasher, size, timeout, progress) -> int:
    """Stream ``url`` into the open file ``out`` and return the byte count.

    Raises _TransientError (worth a retry) or DownloadError (permanent)."""
    request = urllib.request.Request(url, headers={"User-Agent": "bnlab-datasets"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            announced = _content_length(response)
            if size is not None and announced is not None and announced != size:
                raise DownloadError(url, f"server announced {announced} bytes, expected {size} bytes")
            count = 0
            while chunk := response.read(CHUNK_SIZE):
                count += len(chunk)
                if size is not None and count > size:
                    raise DownloadError(url, f"server sent more than the expected {size} bytes")
                hasher.update(chunk)
                out.write(chunk)
                progress.update(len(chunk))
            if announced is not None and count < announced:
                raise _TransientError(f"transfer truncated: got {count} of {announced} bytes")
            return count
    except urllib.error.HTTPError as exc:
        exc.close()
        reason = f"HTTP {exc.code} {exc.reason}"
        if exc.code >= 500 or exc.code in (408, 429):
            raise _TransientError(reason) from exc
        raise DownloadError(url, reason) from exc
    except urllib.error.URLError as exc:
        raise _TransientError(f"cannot connect: {exc.reason}") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise _TransientError(f"{type(exc).__name__}: {exc}") from exc


def fetch_file(
    url: str,
    dest: str | os.PathLike[str],
    *,
    sha256: str | None,
    size: int | None = None,
    timeout: float | None = None,
    retries: int = RETRIES,
    progress: bool | None = None,
    stream: TextIO | None = None,
) -> Path:
    """Download ``url`` to ``dest`` atomically, checking its byte ``size`` and ``sha256`` (hex) if given.

    ``timeout`` applies to each network operation (see :func:`download_timeout`); a transient failure is
    retried ``retries`` times (default once). ``progress`` None or True shows progress on ``stream``
    (default stderr), False silences it. Returns the final path. Raises :class:`DownloadError`; in every
    failure case (and on KeyboardInterrupt) nothing is left at ``dest`` or in its folder.
    """
    dest = Path(dest)
    timeout = download_timeout(timeout)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be an int >= 0, got {retries!r}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    bar = _Progress(dest.name, size, stream if stream is not None else sys.stderr, progress)
    ok = False
    try:
        with atomic_file(dest, suffix=".part") as out:
            bar.begin(url)
            for attempt in range(retries + 1):
                out.seek(0)
                out.truncate()
                bar.restart()
                hasher = hashlib.sha256()
                try:
                    count = _transfer(url, out, hasher, size, timeout, bar)
                    break
                except _TransientError as exc:
                    if attempt == retries:
                        tries = f" (after {retries + 1} attempts)" if retries else ""
                        raise DownloadError(url, f"{exc}{tries}") from exc
            if size is not None and count != size:
                raise DownloadError(url, f"size mismatch: expected {size} bytes, got {count}")
            digest = hasher.hexdigest()
            if sha256 is not None and digest != sha256.lower():
                raise DownloadError(url, f"checksum mismatch: expected sha256 {sha256}, got {digest}")
        ok = True
    finally:
        bar.finish(ok)
    return dest


def download(
    name: str,
    dest_dir: str | os.PathLike[str] | None = None,
    *,
    timeout: float | None = None,
    progress: bool | None = None,
) -> list[Path]:
    """Download the files of dataset ``name`` that are missing from ``dest_dir``; return all their paths.

    ``name`` is ``"mnist"`` (``mnist.npz``), ``"fashion_mnist"`` (four ``.gz`` IDX files, into a
    ``fashion-mnist/`` subfolder) or ``"cifar10"`` (``cifar-10-python.tar.gz``). ``dest_dir`` defaults to
    ``$BNLAB_DATA_DIR`` (``~/.bnlab/datasets``). Files already present are kept as they are (the loaders
    check them structurally). Each download is verified against the upstream size and SHA-256 and
    written atomically (see :func:`fetch_file`). Raises :class:`DownloadError` on failure.
    """
    src = source(name)
    folder = data_dir(dest_dir)
    if src.subdir:
        folder = folder / src.subdir
    paths = []
    for remote in src.files:
        path = folder / remote.name
        if not path.exists():
            fetch_file(
                src.url_for(remote.name),
                path,
                sha256=remote.sha256,
                size=remote.size,
                timeout=timeout,
                progress=progress,
            )
        paths.append(path)
    return paths
