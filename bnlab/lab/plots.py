"""The report's figures (matplotlib, Agg backend): each function takes a Results and returns a Figure.

* ``curves``      accuracy and loss per epoch, with and without BN, per batch size: seed mean as a line,
                  min-max over seeds as a band; validation solid, training dashed.
* ``batch_size``  final validation accuracy and time per epoch against batch size.
* ``drift``       per hidden layer, how the distribution of the Dense output z and of the quantity BN
                  normalizes moved during training (seed means of the probes).
* ``gradients``   per layer, the gradient norm ||dL/dW|| and the one-step update ratio ||dW||/||W||
                  along training (log scale), BN vs no BN for each batch size.
* ``bn_params``   per BN layer, gamma and beta (mean ± std over features) and the moving variance, from
                  their initial values (epoch 0) on.
"""

import numpy as np
from matplotlib.figure import Figure  # figures without pyplot: no backend is chosen or changed

from bnlab.lab import analysis

COLORS = {False: "#d62728", True: "#1f77b4"}
NAMES = {False: "no BN", True: "BN"}
LAYER_COLORS = ["#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
KIND_TITLES = {
    "z": "Dense output z = xW + b",
    "act": "ReLU input",
    "out": "block output (next layer's input)",
}


def _title(fig, results, what, spread=True):
    """The figure's title: what it shows, then the setup in a second line."""
    c = results.config
    seeds = len(c["seed_list"])
    over = (
        (f"mean and min–max over {seeds} seeds" if spread else f"mean over {seeds} seeds")
        if seeds > 1
        else ("one seed")
    )
    setup = (
        f"{c['arch']} ({'-'.join(map(str, c['hidden']))}, BN {c['bn_position']} ReLU) on {c['dataset']}, "
        f"{c['optimizer']} lr={c['learning_rate']:g}; {over}"
    )
    fig.suptitle(f"{what}\n{setup}", fontsize=10)


def _grid(nrows, ncols, width=4.6, height=3.4):
    fig = Figure(figsize=(width * ncols, height * nrows + 0.7), layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=False)


def curves(results):
    grouped = analysis.groups(results.records)
    sizes = sorted({bs for bs, _ in grouped})
    fig, axes = _grid(2, max(1, len(sizes)))
    for j, bs in enumerate(sizes):
        for i, (metric, label) in enumerate((("accuracy", "accuracy"), ("loss", "loss"))):
            ax = axes[i, j]
            for bn in (False, True):
                runs = grouped.get((bs, bn))
                if not runs:
                    continue
                x = np.arange(1, len(runs[0]["epochs"]) + 1)
                for key, style, alpha in ((f"val_{metric}", "-", 0.25), (metric, "--", 0.12)):
                    mean, lo, hi = analysis.band(runs, lambda r, k=key: analysis.series(r, k))
                    kind = "validation" if key.startswith("val_") else "training"
                    ax.plot(x, mean, style, color=COLORS[bn], marker="o", ms=3, label=f"{NAMES[bn]}, {kind}")
                    if len(runs) > 1:
                        ax.fill_between(x, lo, hi, color=COLORS[bn], alpha=alpha, lw=0)
            ax.set_title(f"{label} — batch size {bs}")
            ax.set_xlabel("epoch")
            ax.set_ylabel(label)
            ax.xaxis.get_major_locator().set_params(integer=True)
            ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8, loc="best")
    _title(fig, results, "Accuracy and loss per epoch, with and without BN")
    return fig


def batch_size(results):
    summary = results.summary()
    rows = summary.rows
    fig, axes = _grid(1, 2)
    sizes = [r["batch_size"] for r in rows]
    for bn, key in ((False, "nobn"), (True, "bn")):
        acc = np.array([r[key]["val_accuracy_final"] for r in rows])
        lo = acc - np.array([r[key]["val_accuracy_final_min"] for r in rows])
        hi = np.array([r[key]["val_accuracy_final_max"] for r in rows]) - acc
        axes[0, 0].errorbar(
            sizes,
            100 * acc,
            yerr=100 * np.vstack([lo, hi]),
            color=COLORS[bn],
            marker="o",
            capsize=4,
            label=NAMES[bn],
        )
        axes[0, 1].plot(sizes, [r[key]["epoch_time"] for r in rows], color=COLORS[bn], marker="o", label=NAMES[bn])
    epochs = results.config["epochs"]
    axes[0, 0].set_title(f"final validation accuracy (after {epochs} epochs)")
    axes[0, 0].set_ylabel("validation accuracy (%)")
    axes[0, 1].set_title("time per epoch (median epoch, mean over seeds)")
    axes[0, 1].set_ylabel("seconds per epoch")
    axes[0, 1].set_ylim(bottom=0)
    for ax in axes[0]:
        ax.set_xscale("log", base=2)
        ax.set_xticks(sizes, [str(s) for s in sizes])
        ax.minorticks_off()
        ax.set_xlabel("batch size")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    _title(fig, results, "Final accuracy and cost per epoch against batch size")
    return fig


def _trace(runs, layer, key):
    """x (epochs) and the seed mean of a trace statistic."""
    x = np.array([t["epoch"] for t in runs[0]["trace"]])
    vals = np.array([[analysis.value(t["layers"].get(layer, {}).get(key)) for t in r["trace"]] for r in runs])
    with np.errstate(all="ignore"), analysis._quiet_nan():
        return x, np.nanmean(vals, axis=0)


def drift(results, batch_size=None):
    grouped = analysis.groups(results.records)
    bs = batch_size if batch_size is not None else min(bs for bs, _ in grouped)
    kinds = ["z", analysis.normalized_kind(results.config["bn_position"])]
    layers = analysis.hidden_layers(next(iter(grouped.values()))[0])
    fig, axes = _grid(len(layers), 2, width=5.2, height=2.9)
    for i, layer in enumerate(layers):
        for j, kind in enumerate(kinds):
            ax = axes[i, j]
            for bn in (False, True):
                runs = grouped.get((bs, bn))
                if not runs:
                    continue
                # Ioffe & Szegedy's figure 1: the 15th, 50th and 85th percentiles over training
                x, mid = _trace(runs, layer, f"{kind}_p50")
                lo, hi = _trace(runs, layer, f"{kind}_p15")[1], _trace(runs, layer, f"{kind}_p85")[1]
                ax.plot(x, mid, color=COLORS[bn], lw=2, label=f"{NAMES[bn]}: median")
                ax.plot(x, lo, color=COLORS[bn], lw=0.8, ls="--", label=f"{NAMES[bn]}: 15th / 85th pct")
                ax.plot(x, hi, color=COLORS[bn], lw=0.8, ls="--")
                ax.fill_between(x, lo, hi, color=COLORS[bn], alpha=0.10, lw=0)
            ax.set_title(f"{layer}: {KIND_TITLES[kind]}", fontsize=10)
            ax.set_xlabel("epoch")
            ax.set_ylabel("value on the probe batch")
            ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7, loc="best")
    _title(
        fig,
        results,
        f"Drift of each hidden layer's distribution during training (batch size {bs})",
        spread=False,
    )
    return fig


def gradients(results):
    grouped = analysis.groups(results.records)
    sizes = sorted({bs for bs, _ in grouped})
    any_run = next(iter(grouped.values()))[0]
    names = [layer["name"] for layer in any_run["layers"] if layer["kind"] in ("dense", "output")]
    styles = ["-", "--", ":", "-."]
    fig, axes = _grid(2, len(names), width=3.9, height=3.1)
    rows = (("grad_norm", "gradient norm ||dL/dW||"), ("update_ratio", "one step's ||ΔW|| / ||W||"))
    for j, name in enumerate(names):
        for i, (key, label) in enumerate(rows):
            ax = axes[i, j]
            for bn in (False, True):
                for k, bs in enumerate(sizes):
                    runs = grouped.get((bs, bn))
                    if not runs:
                        continue
                    x, y = _trace(runs, name, key)  # every probe, faint; the epoch means, bold
                    ok = np.isfinite(y) & (y > 0)
                    style = styles[k % len(styles)]
                    ax.plot(x[ok], y[ok], style, color=COLORS[bn], lw=0.7, alpha=0.35)
                    epoch_key = "grad_norm" if key == "grad_norm" else "update_ratio_step"
                    mean = analysis.band(runs, lambda r, n=name, e=epoch_key: analysis.layer_series(r, n, e))[0]
                    centers = np.arange(len(mean)) + 0.5
                    ax.plot(
                        centers,
                        mean,
                        style,
                        color=COLORS[bn],
                        lw=2,
                        marker="o",
                        ms=3,
                        label=f"{NAMES[bn]}, batch {bs}",
                    )
            ax.set_yscale("log")
            ax.set_title(f"{name}: {label}", fontsize=9)
            ax.set_xlabel("epoch")
            ax.grid(alpha=0.3, which="both")
    axes[0, 0].legend(fontsize=7, loc="best")
    _title(
        fig,
        results,
        "Gradient norm and update size per layer: each probed step (faint) and epoch means",
        spread=False,
    )
    return fig


def bn_params(results, batch_size=None):
    grouped = analysis.groups(results.records)
    bn_sizes = sorted(bs for bs, bn in grouped if bn)
    if not bn_sizes:
        return None
    bs = batch_size if batch_size is not None else bn_sizes[0]
    runs = grouped[bs, True]
    names = [layer["name"] for layer in runs[0]["layers"] if layer["kind"] == "batchnorm"]
    fig, axes = _grid(1, 3, width=4.4)
    x = np.arange(0, len(runs[0]["epochs"]) + 1)
    panels = (
        ("gamma", "gamma (scale)", "std"),
        ("beta", "beta (shift)", "std"),
        ("moving_var", "moving variance", None),
    )

    def curve(name, key):  # epoch 0 (the initial values), then each epoch's end; mean over seeds
        per_run = [
            [analysis.value(r["bn_initial"][name].get(key)), *analysis.layer_series(r, name, key, "bn")] for r in runs
        ]
        with analysis._quiet_nan():
            return np.nanmean(np.array(per_run, dtype=float), axis=0)

    for ax, (param, title, spread) in zip(axes[0], panels, strict=True):
        for k, name in enumerate(names):
            mean = curve(name, f"{param}_mean")
            color = LAYER_COLORS[k % len(LAYER_COLORS)]
            ax.plot(x, mean, color=color, marker="o", ms=3, label=name)
            if spread:
                sd = curve(name, f"{param}_{spread}")
                ax.fill_between(x, mean - sd, mean + sd, color=color, alpha=0.15, lw=0)
            else:
                ax.fill_between(
                    x, curve(name, f"{param}_min"), curve(name, f"{param}_max"), color=color, alpha=0.12, lw=0
                )
        band = "± std" if spread else "and min–max"
        ax.set_title(f"{title}: mean {band} over features", fontsize=10)
        ax.set_xlabel("epoch (0 = initial)")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    _title(fig, results, f"What the BN layers learned and tracked (batch size {bs})", spread=False)
    return fig


FIGURES = {
    "curves": curves,
    "batch_size": batch_size,
    "drift": drift,
    "gradients": gradients,
    "bn_params": bn_params,
}


def save_all(results, folder):
    """Write every figure as PNG into ``folder``; returns {name: path} of those written."""
    import io

    from bnlab.lab.store import atomic_write_bytes

    paths = {}
    for name, make in FIGURES.items():
        fig = make(results)
        if fig is None:
            continue
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        path = folder / f"{name}.png"
        atomic_write_bytes(path, buf.getvalue())
        paths[name] = path
    return paths
