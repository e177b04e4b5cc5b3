"""From run records to numbers and sentences: the summary table and its conclusions (conclusions.py), over
the groups and bands of records.py.

Everything in the report is computed here from the records; no sentence is written in advance. Conventions
(docs/LAB.md repeats them):

* a *cell* is one combination of the sweep's axes (batch size, learning rate, init scale, dropout); a
  *group* is one cell with one normalization; its curves are the mean over seeds, its spread the min
  and max over seeds. Within a cell every norm is compared with the *baseline*, the first norm of the
  sweep (``none`` by default);
* time per epoch of a run is the median of its epochs' ``epoch_time`` (robust to a hiccup of a loaded
  machine), averaged over seeds;
* epochs to target: the first epoch whose seed-mean validation accuracy reaches the target. The target is
  ``target_accuracy`` when given, else the best seed-mean validation accuracy that every group reached at
  some epoch (the lowest of the groups' peaks, among the groups that learned: above 1.5x chance), rounded
  down to a whole percent: every such group reaches it, so the question is how soon. Peaks rather than
  final values, so that one group collapsing late (an unstable run) does not drag the target down;
* the *normalized quantity* of a hidden block is the tensor BN acts on and passes on: the ReLU input
  (``act``) when BN comes before the ReLU, the block output (``out``) when it comes after. Its drift is
  compared between the two models, probe by probe.
"""

import math

import numpy as np

from bnlab.lab.conclusions import conclusions
from bnlab.lab.config import NORMS
from bnlab.lab.records import (
    band,
    cell_dict,
    cells,
    epoch_time,
    groups,
    hidden_layers,
    normalized_kind,
    quiet_nan,
    series,
    value,
)


def auto_target(grouped, classes):
    with quiet_nan():
        peaks = [np.nanmax(band(runs, lambda r: series(r, "val_accuracy"))[0]) for runs in grouped.values()]
    learned = [p for p in peaks if np.isfinite(p) and p > 1.5 / classes]
    return math.floor(min(learned) * 100) / 100 if learned else None


def _model_row(runs, target):
    val, lo, hi = band(runs, lambda r: series(r, "val_accuracy"))
    finals = np.array([series(r, "val_accuracy")[-1] for r in runs])
    hit = np.flatnonzero(val >= target) if target is not None else np.array([], dtype=int)
    epochs_to = int(hit[0]) + 1 if hit.size else None
    cum_time = np.mean([np.cumsum(series(r, "epoch_time")) for r in runs], axis=0)
    with quiet_nan():
        return {
            "val_accuracy_epoch1": float(val[0]),
            "val_accuracy_final": float(val[-1]),
            "val_accuracy_final_std": float(np.nanstd(finals)) if len(runs) > 1 else None,
            "val_accuracy_final_min": float(lo[-1]),
            "val_accuracy_final_max": float(hi[-1]),
            "val_loss_final": float(band(runs, lambda r: series(r, "val_loss"))[0][-1]),
            "test_accuracy": float(np.nanmean([value(r["test"]["accuracy"]) for r in runs])),
            "epochs_to_target": epochs_to,
            "time_to_target": float(cum_time[epochs_to - 1]) if epochs_to else None,
            "epoch_time": float(np.mean([epoch_time(r) for r in runs])),
            "diverged": int(sum(bool(r["diverged"]) for r in runs)),
            "seeds": len(runs),
        }


def summarize(config, records, classes=10):
    """The summary: target accuracy, one row per cell (each norm, and each against the baseline), computed
    conclusions."""
    norms = config.get("norms") or list(NORMS)
    grouped = groups(records, norms)
    target, source = config.get("target_accuracy"), "given"
    if target is None:
        target, source = auto_target(grouped, classes), "auto"
    rows = []
    for cell in cells(grouped):
        models = {n: _model_row(grouped[cell, n], target) for n in norms if (cell, n) in grouped}
        baseline = norms[0]
        base = models.get(baseline)
        vs = {}
        for n, m in models.items():
            if base is not None and n != baseline:
                vs[n] = {
                    "gap_epoch1": 100 * (m["val_accuracy_epoch1"] - base["val_accuracy_epoch1"]),
                    "gap_final": 100 * (m["val_accuracy_final"] - base["val_accuracy_final"]),
                    "time_overhead": m["epoch_time"] / base["epoch_time"] - 1,
                }
        rows.append({**cell_dict(cell), "baseline": baseline, "models": models, "vs_baseline": vs})
    drift = drift_summary(config, grouped)
    return {
        "target_accuracy": target,
        "target_source": source,
        "rows": rows,
        "drift": drift,
        "conclusions": conclusions(config, rows, drift, grouped, target),
    }


def drift_summary(config, grouped):
    """How far each hidden layer's distributions moved over training, per norm (seed means, first cell:
    the smallest batch size): for the Dense output ``z`` and for the normalized quantity, the std at the last probe over
    the std at the first, and the shift of the mean in units of the first std; and the fraction of ReLU
    outputs that are zero at the first and the last probe."""
    if not grouped:
        return {}
    norm_kind = normalized_kind(config["bn_position"])
    cell = cells(grouped)[0]
    out = {}
    for norm in config.get("norms") or NORMS:
        runs = grouped.get((cell, norm))
        if not runs:
            continue
        per_layer = {}
        for name in hidden_layers(runs[0]):
            entry = {}
            for label, kind in (("z", "z"), ("normalized", norm_kind)):
                ratios, shifts = [], []
                for r in runs:
                    first, last = r["trace"][0]["layers"][name], r["trace"][-1]["layers"][name]
                    s0, s1 = value(first[f"{kind}_std"]), value(last[f"{kind}_std"])
                    m0, m1 = value(first[f"{kind}_mean"]), value(last[f"{kind}_mean"])
                    ratios.append(s1 / s0 if s0 > 0 else float("nan"))
                    shifts.append(abs(m1 - m0) / s0 if s0 > 0 else float("nan"))
                entry[f"{label}_std_ratio"] = float(np.mean(ratios))
                entry[f"{label}_mean_shift"] = float(np.mean(shifts))
            for when, index in (("start", 0), ("end", -1)):  # ReLU outputs that are exactly zero
                entry[f"relu_zero_frac_{when}"] = float(
                    np.mean([value(r["trace"][index]["layers"][name]["relu_zero_frac"]) for r in runs])
                )
            per_layer[name] = entry
        out[norm] = per_layer
    return {**cell_dict(cell), "normalized": norm_kind, "layers": out}
