"""Reading and checking Keras's ``mnist.npz``.

``mnist.npz`` is a NumPy ``.npz`` file (a zip archive of ``.npy`` arrays) holding four arrays:

======== ========================= =====
key      shape                     dtype
======== ========================= =====
x_train  (60000, 28, 28)           uint8
y_train  (60000,)                  uint8
x_test   (10000, 28, 28)           uint8
y_test   (10000,)                  uint8
======== ========================= =====

It is opened with ``allow_pickle=False``: an ``.npz`` member holding pickled Python objects is refused
rather than unpickled (unpickling can run arbitrary code). Every problem raises
:class:`DatasetFileError` naming the file.
"""

from __future__ import annotations

import os
import zipfile
import zlib

import numpy as np

from ._errors import DatasetFileError

__all__ = ["read_mnist_npz"]

_ZIP_SIGNATURE = b"PK\x03\x04"


def read_mnist_npz(
    path: str | os.PathLike[str],
    *,
    train_count: int | None = 60000,
    test_count: int | None = 10000,
    image_shape: tuple[int, ...] = (28, 28),
    num_classes: int = 10,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load ``((x_train, y_train), (x_test, y_test))`` from an MNIST-style npz file and check it.

    The counts default to MNIST's; pass None to accept any count (the images and labels of each split
    must still agree). Images must be uint8 of shape ``(count, *image_shape)``, labels uint8 of shape
    ``(count,)`` with values below ``num_classes``.
    """
    # The file is opened here, not by np.load, so that it is closed even when the archive is corrupt.
    with open(path, "rb") as f:
        if f.read(4) != _ZIP_SIGNATURE:
            raise DatasetFileError(path, "not an .npz file (no zip signature at the start)")
        f.seek(0)
        arrays = _read_arrays(f, path)
    for split, count in (("train", train_count), ("test", test_count)):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        for key, arr, shape in ((f"x_{split}", x, (count, *image_shape)), (f"y_{split}", y, (count,))):
            if arr.dtype != np.uint8:
                raise DatasetFileError(path, f"{key} has dtype {arr.dtype}, expected uint8")
            if arr.ndim != len(shape) or any(e is not None and e != s for e, s in zip(shape, arr.shape, strict=True)):
                want = "(" + ", ".join("N" if e is None else str(e) for e in shape) + ")"
                raise DatasetFileError(path, f"{key} has shape {arr.shape}, expected {want}")
        if len(x) != len(y):
            raise DatasetFileError(path, f"x_{split} has {len(x)} images but y_{split} has {len(y)} labels")
        if y.size and int(y.max()) >= num_classes:
            raise DatasetFileError(path, f"y_{split} has label {int(y.max())}, expected 0..{num_classes - 1}")
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def _read_arrays(f, path) -> dict[str, np.ndarray]:
    arrays = {}
    try:
        with np.load(f, allow_pickle=False) as npz:
            missing = [key for key in ("x_train", "y_train", "x_test", "y_test") if key not in npz.files]
            if missing:
                raise DatasetFileError(path, f"missing arrays {missing}; the file has {sorted(npz.files)}")
            for key in ("x_train", "y_train", "x_test", "y_test"):
                arrays[key] = npz[key]
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
        raise DatasetFileError(path, f"cannot be read (corrupt or truncated archive): {exc}") from exc
    except ValueError as exc:
        if isinstance(exc, DatasetFileError):
            raise
        raise DatasetFileError(path, f"cannot be read: {exc}") from exc
    return arrays
