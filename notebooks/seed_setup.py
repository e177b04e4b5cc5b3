"""Where the seed notebooks' data comes from on this machine, and the small slices of the quick runs.

The seeds load MNIST (000, 001, 003, 004) or CIFAR-10 (002). When the dataset is on this machine the
notebooks use it. When it is not, they say so and use Fashion-MNIST instead (Debian's
``dataset-fashion-mnist`` package installs it), without changing a line of the seeds' code:

* MNIST: bnlab looks for MNIST's four IDX files in ``$BNLAB_DATA_DIR/mnist/``, so
  :func:`use_mnist_or_fashion_mnist` points ``$BNLAB_DATA_DIR`` at a temporary folder whose ``mnist/`` holds
  Fashion-MNIST's images and labels. ``mnist.load_data()`` (Keras) and ``datasets.MNIST(...)``
  (torchvision) then read Fashion-MNIST: same shapes, same 10 classes, a harder task.
* CIFAR-10: Fashion-MNIST cannot pass for it (28x28x1, not 32x32x3), so seed 002's notebook runs the seed's
  network on Fashion-MNIST's input shape instead; :func:`use_cifar10_or_fashion_mnist` says which, and
  the ``%%run_if`` cell magic (:func:`register_run_if`) runs the matching cell.

``limit=(n_train, n_test)`` makes the loaders return only the first samples of each split. The notebooks
pass it when ``BNLAB_QUICK=1`` (the test suite sets it): the same cells run in seconds, as a smoke test.
"""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from bnlab import datasets

QUICK = os.environ.get("BNLAB_QUICK") == "1"
_fashion_as_mnist = None  # the folder that serves Fashion-MNIST as MNIST, once made


def is_present(name):
    """Whether dataset ``name`` ("mnist", "fashion_mnist", "cifar10") is on this machine (no download)."""
    try:
        getattr(datasets, name).load_data(download=False)
    except datasets.DatasetNotFoundError:
        return False
    return True


def use_mnist_or_fashion_mnist(limit=None):
    """Make the seeds' MNIST loaders work here; returns the name of the data they will read.

    MNIST when it is present; otherwise Fashion-MNIST, served through ``$BNLAB_DATA_DIR/mnist/``.
    ``limit=(n_train, n_test)``: the loaders return only the first samples of each split.
    """
    global _fashion_as_mnist
    if _fashion_as_mnist is None and is_present("mnist"):
        name = "MNIST"
        print("MNIST is on this machine: the seed's code runs on it.")
    else:
        name = "Fashion-MNIST"
        if _fashion_as_mnist is None:
            _fashion_as_mnist = _serve_fashion_mnist_as_mnist()
        os.environ["BNLAB_DATA_DIR"] = str(_fashion_as_mnist)
        print(
            "MNIST is NOT on this machine (bnlab looked for it without downloading). The seed's MNIST\n"
            "loaders will read FASHION-MNIST instead: $BNLAB_DATA_DIR now points at\n"
            f"{_fashion_as_mnist}, whose mnist/ folder holds Fashion-MNIST's images and labels.\n"
            "Same shapes (28x28 grayscale, 10 classes), but clothing instead of digits: a harder task,\n"
            "so every accuracy below is a Fashion-MNIST accuracy, lower than MNIST's would be."
        )
    if limit is not None:
        _slice_loader(datasets.mnist, *limit)
    return name


def _serve_fashion_mnist_as_mnist():
    """A temporary data folder whose mnist/ (and fashion-mnist/) hold Fashion-MNIST's four IDX files."""
    (x, y), (xt, yt) = datasets.fashion_mnist.load_data()
    root = Path(tempfile.mkdtemp(prefix="bnlab-fashion-as-mnist-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    folder = root / "mnist"
    folder.mkdir()
    for stem, array in (
        ("train-images-idx3-ubyte", x),
        ("train-labels-idx1-ubyte", y),
        ("t10k-images-idx3-ubyte", xt),
        ("t10k-labels-idx1-ubyte", yt),
    ):
        _write_idx(folder / stem, array)
    (root / "fashion-mnist").symlink_to(folder, target_is_directory=True)
    return root


def use_cifar10_or_fashion_mnist(limit=None):
    """ "CIFAR-10" when it is present, else "Fashion-MNIST"; ``limit`` slices the loader that will be used."""
    if is_present("cifar10"):
        name, module = "CIFAR-10", datasets.cifar10
        print("CIFAR-10 is on this machine: the seed's code runs on it, as written.")
    else:
        name, module = "Fashion-MNIST", datasets.fashion_mnist
        print(
            "CIFAR-10 is NOT on this machine (bnlab looked for it without downloading).\n"
            "Fashion-MNIST cannot pass for it (28x28 grayscale, not 32x32 colour), so the seed's cell is\n"
            "skipped and the next one runs the SAME network on Fashion-MNIST, with input_shape=(28, 28).\n"
            "Every accuracy below is a Fashion-MNIST accuracy."
        )
    if limit is not None:
        _slice_loader(module, *limit)
    return name


def _slice_loader(module, n_train, n_test):
    """Wrap ``module.load_data`` (which the Keras and torchvision loaders call) to keep the first samples."""
    full = getattr(module.load_data, "__wrapped__", module.load_data)

    def load_data(*args, **kwargs):
        (x, y), (xt, yt) = full(*args, **kwargs)
        return (x[:n_train], y[:n_train]), (xt[:n_test], yt[:n_test])

    load_data.__wrapped__ = full
    module.load_data = load_data
    print(
        f"BNLAB_QUICK=1: the loaders return the first {n_train:,} training and {n_test:,} test samples "
        "(a smoke run, not a measurement)."
    )


def _write_idx(path, array):
    """Write an IDX file (MNIST's format): 0, 0, 0x08 (uint8), ndim; the dimensions as big-endian int32;
    the data."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + array.tobytes())


def register_run_if():
    """The cell magic ``%%run_if CONDITION``: runs the cell when CONDITION (a Python expression) is true,
    else prints that it was skipped. An error inside the cell fails the cell, as usual."""
    from IPython import get_ipython

    shell = get_ipython()

    def run_if(line, cell):
        if eval(line, shell.user_ns):
            shell.run_cell(cell).raise_error()
        else:
            print(f"Skipped: {line.strip()} is False on this machine.")

    shell.register_magic_function(run_if, magic_kind="cell", magic_name="run_if")
