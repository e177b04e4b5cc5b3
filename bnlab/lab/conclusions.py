"""The report's conclusion: sentences computed from the summary, each one only when its numbers exist.

Every sentence states a measured comparison and picks its words (ahead/behind, faster/slower, within or
beyond the seed-to-seed spread) from the sign and size of the numbers, so a sweep where BN loses says so.
"""

import numpy as np

from bnlab.lab.config import NORM_NAMES
from bnlab.lab.records import cell_dict, value


def _pct(x):
    return f"{100 * x:.1f}%"


def signed(x, digits=1):
    """+1.5 / -0.3 / 0.0: a sign, except for a value that rounds to zero (no "-0.0")."""
    v = round(float(x), digits)
    return f"{v:+.{digits}f}" if v != 0 else f"{0:.{digits}f}"


def _pts(x):
    return f"{signed(x)} points"


def varied_axes(config):
    """The cell axes with more than one value in the sweep (batch size always counts)."""
    values = {
        "batch_size": config.get("batch_sizes") or [0],
        "learning_rate": config.get("learning_rates") or [0],
        "init_scale": config.get("init_scales") or [0],
        "dropout": config.get("dropouts") or [0],
    }
    return [k for k, v in values.items() if k == "batch_size" or len(v) > 1]


def cell_name(row, config):
    """'batch size 32' or 'batch size 32, lr 0.1, init ×2, dropout 0.5': the axes that vary."""
    names = {
        "batch_size": "batch size {:g}",
        "learning_rate": "lr {:g}",
        "init_scale": "init ×{:g}",
        "dropout": "dropout {:g}",
    }
    return ", ".join(names[k].format(row[k]) for k in varied_axes(config))


def _unit(config):
    return "batch size" if varied_axes(config) == ["batch_size"] else "configuration"


def _ahead(pairs, key, unit):
    """(where, span) of a gap over the cells: 'at every batch size', 'from -1.0 to +3.0 points'."""
    gaps = [g[key] for _, g in pairs if np.isfinite(g[key])]
    if not gaps:
        return None
    k = sum(g > 0 for g in gaps)
    where = f"at every {unit}" if k == len(gaps) else f"at no {unit}" if k == 0 else f"at {k} of {len(gaps)} {unit}s"
    span = _pts(gaps[0]) if len(gaps) == 1 else f"from {_pts(min(gaps))} to {_pts(max(gaps))}"
    return where, span


def conclusions(config, rows, drift, grouped, target):
    norms = config.get("norms") or [r["baseline"] for r in rows[:1]]
    compared = [r for r in rows if r["vs_baseline"]]
    if not compared:
        return [
            "No cell has finished runs of the baseline and of another normalization, so there is nothing to "
            "compare yet."
        ]
    out = []
    for norm in norms[1:]:
        pairs = [(r, r["vs_baseline"][norm]) for r in compared if norm in r["vs_baseline"]]
        if pairs:
            out += _versus(config, pairs, norm, norms[0], target)
    out += _drift_sentences(drift, norms)
    out += _unstable(grouped, config)
    diverged = [(r, n) for r in rows for n, m in r["models"].items() if m["diverged"]]
    if diverged:
        out.append(
            "Training diverged (the loss became NaN or infinite) in: "
            + ", ".join(f"{cell_name(r, config)} with {NORM_NAMES[n]}" for r, n in diverged)
            + "."
        )
    return out


def _versus(config, pairs, norm, baseline, target):
    """The sentences comparing one normalization with the baseline over the cells where both finished."""
    epochs, unit, out = config["epochs"], _unit(config), []
    name, base = NORM_NAMES[norm], NORM_NAMES[baseline]
    where = ", ".join(cell_name(r, config) for r, _ in pairs) if len(pairs) <= 4 else f"{len(pairs)} {unit}s"
    ahead = _ahead(pairs, "gap_epoch1", unit)
    if ahead:
        out.append(
            f"After the first epoch, the {name} model's mean validation accuracy was higher than {base}'s "
            f"{ahead[0]} ({name} minus {base}: {ahead[1]}; {where})."
        )
    if target is not None:
        parts, faster, slower = [], 0, 0
        for r, _ in pairs:
            e_n, e_b = r["models"][norm]["epochs_to_target"], r["models"][baseline]["epochs_to_target"]
            fmt = lambda e: f"{e} epoch{'s' if e != 1 else ''}" if e else f"not within {epochs} epochs"  # noqa: E731
            parts.append(f"{cell_name(r, config)}: {fmt(e_n)} with {name}, {fmt(e_b)} with {base}")
            faster += (e_n or epochs + 1) < (e_b or epochs + 1)
            slower += (e_n or epochs + 1) > (e_b or epochs + 1)
        verdict = (
            f"{name} got there sooner everywhere"
            if faster == len(pairs)
            else f"{name} was never sooner"
            if faster == 0 and slower
            else "both took the same number of epochs everywhere"
            if faster == slower == 0
            else f"{name} was sooner at {faster} of {len(pairs)} {unit}s"
        )
        out.append(f"To reach {_pct(target)} validation accuracy — {'; '.join(parts)}: {verdict}.")
        timed = [r for r, _ in pairs if r["models"][norm]["time_to_target"] and r["models"][baseline]["time_to_target"]]
        if timed:
            r = min(timed, key=lambda r: r["models"][norm]["time_to_target"])
            out.append(
                f"In wall time (the epochs' times added up, probes excluded), the fastest {name} run to "
                f"{_pct(target)} took {r['models'][norm]['time_to_target']:.1f} s at {cell_name(r, config)}, "
                f"against {r['models'][baseline]['time_to_target']:.1f} s with {base} there."
            )
    ahead = _ahead(pairs, "gap_final", unit)
    if ahead:
        sentence = f"After {epochs} epochs, {name}'s mean validation accuracy was higher {ahead[0]} ({ahead[1]})"
        spreads = [
            s
            for r, _ in pairs
            for s in (r["models"][norm]["val_accuracy_final_std"], r["models"][baseline]["val_accuracy_final_std"])
            if s is not None
        ]
        if spreads:
            spread = 100 * float(np.mean(spreads))
            wins = sum(g["gap_final"] > 2 * spread for _, g in pairs)
            losses = sum(g["gap_final"] < -2 * spread for _, g in pairs)
            sentence += (
                f"; against a seed-to-seed standard deviation of {spread:.1f} points, {name} is ahead by more "
                f"than twice that at {wins} and behind by more than twice that at {losses} of {len(pairs)} {unit}s"
            )
        else:
            sentence += "; with one seed per configuration the noise is not measured (use --seeds 3)"
        out.append(sentence + ".")
    overhead = [g["time_overhead"] for _, g in pairs if np.isfinite(g["time_overhead"])]
    if overhead:
        mean = float(np.mean(overhead))
        t_b = np.mean([r["models"][baseline]["epoch_time"] for r, _ in pairs])
        t_n = np.mean([r["models"][norm]["epoch_time"] for r, _ in pairs])
        out.append(
            f"An epoch with {name} took {abs(mean) * 100:.0f}% {'longer' if mean > 0 else 'less'} than with {base} "
            f"on average ({t_n:.2f} s vs {t_b:.2f} s per epoch, range {signed(min(overhead) * 100, 0)}% to "
            f"{signed(max(overhead) * 100, 0)}% over {unit}s)."
        )
    by_size = [r for r, _ in pairs if all(r[k] == pairs[0][0][k] for k in ("learning_rate", "init_scale", "dropout"))]
    if len(by_size) > 1:
        first, last = by_size[0], by_size[-1]
        d_b = 100 * (last["models"][baseline]["val_accuracy_final"] - first["models"][baseline]["val_accuracy_final"])
        d_n = 100 * (last["models"][norm]["val_accuracy_final"] - first["models"][norm]["val_accuracy_final"])
        out.append(
            f"From batch size {first['batch_size']} to {last['batch_size']} (same number of epochs, so "
            f"fewer steps), the final validation accuracy changed by {_pts(d_b)} with {base} and "
            f"{_pts(d_n)} with {name}."
        )
    return out


def _unstable(grouped, config, points=5.0):
    """Runs that ended far below their seeds' median: with one learning rate for both models, these are the
    sign that training at that rate is unreliable (the usual victim: the model without BN)."""
    notes = []
    for (cell, norm), runs in grouped.items():
        if len(runs) < 3:
            continue  # with fewer seeds there is no meaningful median
        finals = [(r["seed"], value(r["epochs"][-1].get("val_accuracy"))) for r in runs]
        median = float(np.nanmedian([f for _, f in finals])) if any(np.isfinite(f) for _, f in finals) else None
        for seed, final in finals:
            if median is not None and (not np.isfinite(final) or final < median - points / 100):
                ended = _pct(final) if np.isfinite(final) else "a non-finite value"
                notes.append(
                    f"seed {seed} with {NORM_NAMES[norm]} at {cell_name(cell_dict(cell), config)} ended at {ended} "
                    f"(median of its seeds {_pct(median)})"
                )
    if not notes:
        return []
    return [
        f"Unreliable runs, ending more than {points:.0f} points below their seeds' median: " + "; ".join(notes) + "."
    ]


def _drift_sentences(drift, norms):
    """Per normalization against the baseline: how much the normalized quantity and z moved (first cell)."""
    layers = drift.get("layers", {}) if drift else {}
    baseline, out = norms[0], []
    if not layers.get(baseline):
        return []
    quantity = "ReLU inputs" if drift["normalized"] == "act" else "block outputs (the next layer's inputs)"

    def most(model, key, size):
        vals = [v[key] for v in layers[model].values() if np.isfinite(v[key])]
        return max(vals, key=size) if vals else float("nan")

    def log_size(v):
        return abs(np.log(v)) if v > 0 else np.inf

    b = NORM_NAMES[baseline]
    for norm in norms[1:]:
        if not layers.get(norm):
            continue
        n = NORM_NAMES[norm]
        z_b, z_n = most(baseline, "z_std_ratio", log_size), most(norm, "z_std_ratio", log_size)
        q_b, q_n = most(baseline, "normalized_std_ratio", log_size), most(norm, "normalized_std_ratio", log_size)
        s_b, s_n = most(baseline, "normalized_mean_shift", abs), most(norm, "normalized_mean_shift", abs)
        if not all(np.isfinite(v) for v in (z_b, z_n, q_b, q_n, s_b, s_n)):
            continue
        steadier = log_size(q_n) + s_n < log_size(q_b) + s_b
        verdict = (
            f"{n} did not stop the weights from changing the pre-activations; it kept what the next layer sees "
            "steadier."
            if steadier and log_size(z_n) > 0.1
            else f"{n} kept what the next layer sees steadier."
            if steadier
            else f"here {n} did not make what the next layer sees steadier."
        )
        dead = "; ".join(
            f"{name}: {100 * layers[baseline][name]['relu_zero_frac_end']:.0f}% with {b}, "
            f"{100 * layers[norm][name]['relu_zero_frac_end']:.0f}% with {n} (at the start "
            f"{100 * layers[baseline][name]['relu_zero_frac_start']:.0f}% and "
            f"{100 * layers[norm][name]['relu_zero_frac_start']:.0f}%)"
            for name in layers[baseline]
            if name in layers[norm]
        )
        out += [
            f"Drift over training (batch size {drift['batch_size']}, first probe to last, the most-changed "
            f"layer): the std of the {quantity} changed by ×{q_b:.2f} with {b} and ×{q_n:.2f} with {n}, "
            f"and their mean moved by {s_b:.2f} and {s_n:.2f} starting standard deviations. The Dense "
            f"outputs changed their std by ×{z_b:.2f} with {b} and ×{z_n:.2f} with {n}: {verdict}",
            f"Share of ReLU outputs that are zero on the probe batch at the end of training — {dead}.",
        ]
    return out
