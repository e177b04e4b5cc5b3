"""Where the datasets live: upstream mirrors, known file sizes and SHA-256 values, and local folders.

The mirrors are the ones Keras uses (``keras/src/datasets/{mnist,fashion_mnist,cifar10}.py``):

* MNIST: ``mnist.npz`` from the tf-keras-datasets bucket (11,490,434 bytes).
* Fashion-MNIST: the four original gzipped IDX files from the same bucket (identical to Zalando's release).
* CIFAR-10: ``cifar-10-python.tar.gz`` from the University of Toronto (170,498,071 bytes).

Each mirror's base URL can be overridden with an environment variable (``BNLAB_MNIST_URL``,
``BNLAB_FASHION_MNIST_URL``, ``BNLAB_CIFAR10_URL``), for example to use a local mirror or, in the tests, a
loopback server. The expected sizes and hashes (``SOURCES``) are checked for downloads only: local files
are checked structurally instead, because redistributors such as Debian recompress the gzip files.

Local folders:

* ``$BNLAB_DATA_DIR`` (default ``~/.bnlab/datasets``): bnlab's own cache; downloads go here.
* ``$KERAS_HOME/datasets`` (default ``~/.keras/datasets``): Keras's cache, read but never written.
* ``SYSTEM_DIRS``: read-only copies installed by the operating system (Debian's Fashion-MNIST).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "SOURCES",
    "SYSTEM_DIRS",
    "RemoteFile",
    "Source",
    "data_dir",
    "download_timeout",
    "keras_cache_dir",
    "source",
]

DATA_DIR_ENV = "BNLAB_DATA_DIR"
DEFAULT_DATA_DIR = "~/.bnlab/datasets"
TIMEOUT_ENV = "BNLAB_DOWNLOAD_TIMEOUT"
DEFAULT_TIMEOUT = 30.0

KERAS_BUCKET = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
TORONTO = "https://www.cs.toronto.edu/~kriz/"


@dataclass(frozen=True)
class RemoteFile:
    """One file on a mirror: its name (also its name in the cache), byte size and SHA-256 (hex).

    ``size`` may be None when the real size is not known; then only the SHA-256 (and the server's
    Content-Length, when it sends one) is checked.
    """

    name: str
    size: int | None
    sha256: str


@dataclass(frozen=True)
class Source:
    """A dataset's download source.

    Attributes:
        name: canonical dataset name (``"mnist"``, ``"fashion_mnist"``, ``"cifar10"``).
        title: display name used in messages.
        base_url: the mirror folder; the file names are appended to it.
        url_env: environment variable that replaces ``base_url`` when set.
        subdir: folder under the data directory where the files are stored ("" = the data directory).
        files: the files to fetch.
    """

    name: str
    title: str
    base_url: str
    url_env: str
    subdir: str
    files: tuple[RemoteFile, ...]

    def url_for(self, filename: str) -> str:
        """The URL of ``filename`` on the mirror in use (``$<url_env>`` if set, else ``base_url``)."""
        base = os.environ.get(self.url_env) or self.base_url
        if not base.endswith("/"):
            base += "/"
        return base + filename


# Every file of every source: the dataset, the file's name (also its name in the cache), its size in bytes
# and the SHA-256 of the upstream file.
_FILES = """
mnist         mnist.npz                  11490434  731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1
fashion_mnist train-images-idx3-ubyte.gz 26421880  3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84
fashion_mnist train-labels-idx1-ubyte.gz 29515     a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845
fashion_mnist t10k-images-idx3-ubyte.gz  4422102   346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073
fashion_mnist t10k-labels-idx1-ubyte.gz  5148      67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5
cifar10       cifar-10-python.tar.gz     170498071 6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce
"""


def _source(name: str, title: str, base_url: str, subdir: str = "") -> Source:
    """``name``'s Source: its files from _FILES, its mirror replaceable with ``$BNLAB_<NAME>_URL``."""
    rows = (line.split() for line in _FILES.strip().splitlines())
    files = tuple(RemoteFile(file, int(size), sha) for dataset, file, size, sha in rows if dataset == name)
    return Source(name, title, base_url, f"BNLAB_{name.upper()}_URL", subdir, files)


SOURCES: dict[str, Source] = {
    "mnist": _source("mnist", "MNIST", KERAS_BUCKET),
    "fashion_mnist": _source("fashion_mnist", "Fashion-MNIST", KERAS_BUCKET, "fashion-mnist"),
    "cifar10": _source("cifar10", "CIFAR-10", TORONTO),
}

# Read-only folders installed by the operating system, searched after the bnlab and Keras caches.
SYSTEM_DIRS: dict[str, tuple[str, ...]] = {
    "mnist": (),
    "fashion_mnist": ("/usr/share/datasets/fashion-mnist",),
    "cifar10": (),
}

_ALIASES = {
    "mnist": "mnist",
    "fashion_mnist": "fashion_mnist",
    "fashion-mnist": "fashion_mnist",
    "fashionmnist": "fashion_mnist",
    "cifar10": "cifar10",
    "cifar-10": "cifar10",
    "cifar_10": "cifar10",
}


def source(name: str) -> Source:
    """The :class:`Source` for a dataset name (``"mnist"``, ``"fashion_mnist"``/``"fashion-mnist"``,
    ``"cifar10"``/``"cifar-10"``, case-insensitive). Raises ValueError naming ``name`` otherwise."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    key = _ALIASES.get(name.lower())
    if key is None:
        raise ValueError(f"name must be one of 'mnist', 'fashion_mnist', 'cifar10'; got {name!r}")
    return SOURCES[key]


def data_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """bnlab's dataset folder: ``cache_dir``, else ``$BNLAB_DATA_DIR``, else ``~/.bnlab/datasets``."""
    if cache_dir is None:
        cache_dir = os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
    return Path(os.path.expanduser(os.fspath(cache_dir)))


def keras_cache_dir() -> Path:
    """Keras's dataset cache: ``$KERAS_HOME/datasets``, else ``~/.keras/datasets`` (as Keras does)."""
    home = os.environ.get("KERAS_HOME") or os.path.join("~", ".keras")
    return Path(os.path.expanduser(home)) / "datasets"


def download_timeout(timeout: float | None = None) -> float:
    """Seconds a download may wait for the server: ``timeout`` if given, else ``$BNLAB_DOWNLOAD_TIMEOUT``,
    else 30. Raises ValueError if the value is not a positive number."""
    where = "timeout"
    if timeout is None:
        raw = os.environ.get(TIMEOUT_ENV)
        if not raw:
            return DEFAULT_TIMEOUT
        where = f"${TIMEOUT_ENV}"
        try:
            timeout = float(raw)
        except ValueError:
            raise ValueError(f"{where} must be a number of seconds, got {raw!r}") from None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"{where} must be a positive number of seconds, got {timeout!r}")
    return float(timeout)
