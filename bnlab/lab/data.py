"""The data of an experiment: loaded once by the caller, shipped to every run, scaled to [0, 1] there.

The datasets come from ``bnlab.datasets`` (what ``bnlab.keras.datasets.*.load_data()`` returns): the local
copies first (Debian's Fashion-MNIST included), then a download. Any failure becomes a one-line
``LabError`` naming the fix. ``--limit N`` keeps the first N training samples; the test set stays whole.
The arrays travel as uint8 (4x smaller than float32) to worker processes or Dask workers.
"""

import contextlib
import io
from dataclasses import dataclass

import numpy as np

from bnlab.lab.config import DATASETS, LabError


@dataclass(frozen=True)
class LabData:
    """uint8 images and integer labels, as the Keras loaders return them (limited training set)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def classes(self):
        return int(max(self.y_train.max(), self.y_test.max())) + 1

    @property
    def input_shape(self):
        return tuple(self.x_train.shape[1:])


def load(name, limit=None, quiet=True):
    """Load dataset ``name`` (first ``limit`` training samples); raises LabError with the fix."""
    from bnlab import datasets
    from bnlab.datasets import DatasetFileError, DatasetNotFoundError, DownloadError

    if name not in DATASETS:
        raise LabError(f"unknown dataset {name!r}: use --dataset with one of {', '.join(DATASETS)}")
    module = getattr(datasets, name)
    try:
        try:
            (x, y), (xt, yt) = module.load_data(download=False)
        except DatasetNotFoundError:
            # Not on this machine: try the download, with its progress bar silenced so that a failure
            # (an offline machine) leaves one line on stderr, ours.
            with contextlib.redirect_stderr(io.StringIO()):
                (x, y), (xt, yt) = module.load_data(download=True)
            if not quiet:
                print(f"bnlab: downloaded {name} into {datasets.data_dir()}", flush=True)
    except DatasetNotFoundError as e:
        reason = str(e.download_error) if e.download_error is not None else "no local copy"
        raise LabError(f"dataset {e.dataset} is missing ({reason}). Fix: {e.hint}") from None
    except (DatasetFileError, DownloadError) as e:
        raise LabError(
            f"dataset {name} could not be loaded: {e}. Fix: delete the bad file and run again, "
            f"or set $BNLAB_DATA_DIR to a folder with a good copy"
        ) from None
    if limit is not None:
        if limit > len(x):
            raise LabError(
                f"--limit {limit} exceeds the {len(x)} training samples of {name}: use --limit {len(x)} or less"
            )
        x, y = x[:limit], y[:limit]
    y, yt = np.asarray(y).reshape(-1), np.asarray(yt).reshape(-1)
    return LabData(name, np.ascontiguousarray(x), y.astype(np.int32), np.ascontiguousarray(xt), yt.astype(np.int32))


_scaled = {"source": None, "arrays": None}


def scaled(data):
    """(x_train, y_train, x_test, y_test) as float32 in [0, 1]; cached for the last LabData seen, since a
    worker process runs many runs on the same data."""
    if _scaled["source"] is not data:
        _scaled["arrays"] = (
            data.x_train.astype(np.float32) / np.float32(255.0),
            data.y_train,
            data.x_test.astype(np.float32) / np.float32(255.0),
            data.y_test,
        )
        _scaled["source"] = data
    return _scaled["arrays"]
