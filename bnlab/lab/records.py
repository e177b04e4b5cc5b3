"""Reading run records: per-epoch series, groups of runs by cell and normalization, bands over seeds.

The vocabulary every summary, claim and plot shares (docs/LAB.md repeats it):

* a *cell* is one combination of the sweep's axes (batch size, learning rate, init scale, dropout); a
  *group* is one cell with one normalization, its runs sorted by seed; a *band* is the mean, min and
  max over a group's runs of a per-epoch series (nan-aware: a diverged run is nan, not an error);
* a missing number in a record (None) reads as nan;
* time per epoch of a run is the median of its epochs' ``epoch_time`` (robust to a hiccup of a loaded
  machine);
* the *normalized quantity* of a hidden block is the tensor BN acts on and passes on: the ReLU input
  (``act``) when BN comes before the ReLU, the block output (``out``) when it comes after.
"""

import contextlib
import warnings

import numpy as np

from bnlab.lab.config import CELL_AXES, NORMS, cell_of


def value(v):
    return float("nan") if v is None else float(v)


def series(record, key):
    """One per-epoch metric of a run as an array (None -> nan)."""
    return np.array([value(e.get(key)) for e in record["epochs"]], dtype=float)


def layer_series(record, layer, key, table="layers"):
    return np.array([value(e[table].get(layer, {}).get(key)) for e in record["epochs"]], dtype=float)


def groups(records, norms=NORMS):
    """{(cell, norm): [records sorted by seed]}: cells ascending, norms in the order of ``norms``."""
    rank = {n: i for i, n in enumerate(norms)}
    out = {}
    for r in sorted(records, key=lambda r: (cell_of(r), rank.get(r["norm"], len(rank)), r["seed"])):
        out.setdefault((cell_of(r), r["norm"]), []).append(r)
    return out


def cells(grouped):
    return sorted({cell for cell, _ in grouped})


def cell_dict(cell):
    return dict(zip(CELL_AXES, cell, strict=True))


def band(runs, fn):
    """Mean, min and max over runs of the per-epoch arrays ``fn(run)`` (nan-aware)."""
    arr = np.array([fn(r) for r in runs], dtype=float)
    with np.errstate(all="ignore"), quiet_nan():
        return np.nanmean(arr, axis=0), np.nanmin(arr, axis=0), np.nanmax(arr, axis=0)


@contextlib.contextmanager
def quiet_nan():
    """np.nanmean of an all-nan column warns; here such a column (a diverged run) is simply nan."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def epoch_time(run):
    t = series(run, "epoch_time")
    return float(np.median(t)) if len(t) else float("nan")


def normalized_kind(bn_position):
    return "act" if bn_position == "before" else "out"


def hidden_layers(record):
    return [layer["name"] for layer in record["layers"] if layer["kind"] == "dense"]
