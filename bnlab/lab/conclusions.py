"""The report's conclusion: sentences computed from the summary, each one only when its numbers exist.

Every sentence states a measured comparison and picks its words (ahead/behind, faster/slower, within or
beyond the seed-to-seed spread) from the sign and size of the numbers, so a sweep where BN loses says so.
"""

import numpy as np

from bnlab.lab.analysis import value


def _pct(x):
    return f"{100 * x:.1f}%"


def signed(x, digits=1):
    """+1.5 / -0.3 / 0.0: a sign, except for a value that rounds to zero (no "-0.0")."""
    v = round(float(x), digits)
    return f"{v:+.{digits}f}" if v != 0 else f"{0:.{digits}f}"


def _pts(x):
    return f"{signed(x)} points"


def _sizes(rows):
    return ", ".join(str(r["batch_size"]) for r in rows)


def _ahead(rows, key):
    gaps = [r[key] for r in rows if np.isfinite(r[key])]
    if not gaps:
        return None
    k = sum(g > 0 for g in gaps)
    where = (
        "at every batch size"
        if k == len(gaps)
        else "at no batch size"
        if k == 0
        else f"at {k} of {len(gaps)} batch sizes"
    )
    span = _pts(gaps[0]) if len(gaps) == 1 else f"from {_pts(min(gaps))} to {_pts(max(gaps))}"
    return where, span


def conclusions(config, rows, drift, grouped, target):
    out = []
    if not rows:
        return ["No batch size has finished runs both with and without BN, so there is nothing to compare yet."]
    epochs = config["epochs"]
    ahead = _ahead(rows, "gap_epoch1")
    if ahead:
        out.append(
            f"After the first epoch, the BN model's mean validation accuracy was higher {ahead[0]} "
            f"(BN minus no BN: {ahead[1]}; batch sizes {_sizes(rows)})."
        )
    if target is not None:
        parts, faster, slower = [], 0, 0
        for r in rows:
            e_bn, e_no = r["bn"]["epochs_to_target"], r["nobn"]["epochs_to_target"]
            fmt = lambda e: f"{e} epoch{'s' if e != 1 else ''}" if e else f"not within {epochs} epochs"  # noqa: E731
            parts.append(f"batch size {r['batch_size']}: {fmt(e_bn)} with BN, {fmt(e_no)} without")
            faster += (e_bn or epochs + 1) < (e_no or epochs + 1)
            slower += (e_bn or epochs + 1) > (e_no or epochs + 1)
        verdict = (
            "BN got there sooner everywhere"
            if faster == len(rows)
            else "BN was never sooner"
            if faster == 0 and slower
            else "both took the same number of epochs everywhere"
            if faster == slower == 0
            else f"BN was sooner at {faster} of {len(rows)} batch sizes"
        )
        out.append(f"To reach {_pct(target)} validation accuracy — {'; '.join(parts)}: {verdict}.")
        timed = [r for r in rows if r["bn"]["time_to_target"] and r["nobn"]["time_to_target"]]
        if timed:
            r = min(timed, key=lambda r: r["bn"]["time_to_target"])
            out.append(
                f"In wall time (the epochs' times added up, probes excluded), the fastest BN run to "
                f"{_pct(target)} took "
                f"{r['bn']['time_to_target']:.1f} s at batch size {r['batch_size']}, against "
                f"{r['nobn']['time_to_target']:.1f} s without BN at the same batch size."
            )
    ahead = _ahead(rows, "gap_final")
    if ahead:
        sentence = f"After {epochs} epochs, BN's mean validation accuracy was higher {ahead[0]} ({ahead[1]})"
        spreads = [
            s
            for r in rows
            for s in (r["bn"]["val_accuracy_final_std"], r["nobn"]["val_accuracy_final_std"])
            if s is not None
        ]
        if spreads:
            spread = 100 * float(np.mean(spreads))
            wins = sum(r["gap_final"] > 2 * spread for r in rows)
            losses = sum(r["gap_final"] < -2 * spread for r in rows)
            sentence += (
                f"; against a seed-to-seed standard deviation of {spread:.1f} points, BN is ahead by more than "
                f"twice that at {wins} and behind by more than twice that at {losses} of {len(rows)} batch sizes"
            )
        else:
            sentence += "; with one seed per configuration the noise is not measured (use --seeds 3)"
        out.append(sentence + ".")
    overhead = [r["time_overhead"] for r in rows if np.isfinite(r["time_overhead"])]
    if overhead:
        mean = float(np.mean(overhead))
        t_no = np.mean([r["nobn"]["epoch_time"] for r in rows])
        t_bn = np.mean([r["bn"]["epoch_time"] for r in rows])
        out.append(
            f"An epoch with BN took {abs(mean) * 100:.0f}% {'longer' if mean > 0 else 'less'} than without "
            f"on average ({t_bn:.2f} s vs {t_no:.2f} s per epoch, range {signed(min(overhead) * 100, 0)}% to "
            f"{signed(max(overhead) * 100, 0)}% over batch sizes)."
        )
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        d_no = 100 * (last["nobn"]["val_accuracy_final"] - first["nobn"]["val_accuracy_final"])
        d_bn = 100 * (last["bn"]["val_accuracy_final"] - first["bn"]["val_accuracy_final"])
        out.append(
            f"From batch size {first['batch_size']} to {last['batch_size']} (same number of epochs, so "
            f"fewer steps), the final validation accuracy changed by {_pts(d_no)} without BN and "
            f"{_pts(d_bn)} with BN."
        )
    out += _drift_sentences(drift)
    out += _unstable(grouped)
    diverged = [(r["batch_size"], m) for r in rows for m in ("nobn", "bn") if r[m]["diverged"]]
    if diverged:
        out.append(
            "Training diverged (the loss became NaN or infinite) in: "
            + ", ".join(f"batch size {bs} {'with' if m == 'bn' else 'without'} BN" for bs, m in diverged)
            + "."
        )
    return out


def _unstable(grouped, points=5.0):
    """Runs that ended far below their seeds' median: with one learning rate for both models, these are the
    sign that training at that rate is unreliable (the usual victim: the model without BN)."""
    notes = []
    for (bs, bn), runs in grouped.items():
        if len(runs) < 3:
            continue  # with fewer seeds there is no meaningful median
        finals = [(r["seed"], value(r["epochs"][-1].get("val_accuracy"))) for r in runs]
        median = float(np.nanmedian([f for _, f in finals])) if any(np.isfinite(f) for _, f in finals) else None
        for seed, final in finals:
            if median is not None and (not np.isfinite(final) or final < median - points / 100):
                ended = _pct(final) if np.isfinite(final) else "a non-finite value"
                notes.append(
                    f"seed {seed} {'with' if bn else 'without'} BN at batch size {bs} ended at {ended} "
                    f"(median of its seeds {_pct(median)})"
                )
    if not notes:
        return []
    return [
        f"Unreliable runs, ending more than {points:.0f} points below their seeds' median: " + "; ".join(notes) + "."
    ]


def _drift_sentences(drift):
    layers = drift.get("layers", {}) if drift else {}
    if not layers.get("bn") or not layers.get("nobn"):
        return []
    quantity = "ReLU inputs" if drift["normalized"] == "act" else "block outputs (the next layer's inputs)"

    def most(model, key, size):
        vals = [v[key] for v in layers[model].values() if np.isfinite(v[key])]
        return max(vals, key=size) if vals else float("nan")

    def log_size(v):
        return abs(np.log(v)) if v > 0 else np.inf

    z_no, z_bn = most("nobn", "z_std_ratio", log_size), most("bn", "z_std_ratio", log_size)
    n_no, n_bn = most("nobn", "normalized_std_ratio", log_size), most("bn", "normalized_std_ratio", log_size)
    s_no, s_bn = most("nobn", "normalized_mean_shift", abs), most("bn", "normalized_mean_shift", abs)
    if not all(np.isfinite(v) for v in (z_no, z_bn, n_no, n_bn, s_no, s_bn)):
        return []
    steadier = log_size(n_bn) + s_bn < log_size(n_no) + s_no
    verdict = (
        "BN did not stop the weights from changing the pre-activations; it kept what the next layer sees steadier."
        if steadier and log_size(z_bn) > 0.1
        else "BN kept what the next layer sees steadier."
        if steadier
        else "here BN did not make what the next layer sees steadier."
    )
    dead = "; ".join(
        f"{name}: {100 * layers['nobn'][name]['relu_zero_frac_end']:.0f}% without BN, "
        f"{100 * layers['bn'][name]['relu_zero_frac_end']:.0f}% with BN (at the start "
        f"{100 * layers['nobn'][name]['relu_zero_frac_start']:.0f}% and "
        f"{100 * layers['bn'][name]['relu_zero_frac_start']:.0f}%)"
        for name in layers["nobn"]
        if name in layers["bn"]
    )
    return [
        f"Drift over training (batch size {drift['batch_size']}, first probe to last, the most-changed "
        f"layer): the std of the {quantity} changed by ×{n_no:.2f} without BN and ×{n_bn:.2f} with BN, "
        f"and their mean moved by {s_no:.2f} and {s_bn:.2f} starting standard deviations. The Dense "
        f"outputs before BN changed their std by ×{z_no:.2f} without BN and ×{z_bn:.2f} with BN: {verdict}",
        f"Share of ReLU outputs that are zero on the probe batch at the end of training — {dead}.",
    ]
