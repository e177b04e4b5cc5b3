"""The report's figures (matplotlib, Agg backend): each function takes a Results and returns a Figure.

One colour per normalization throughout (``none`` red, ``batch`` blue, ...).

* ``curves``      accuracy and loss per epoch, per cell (at most MAX_CELLS columns), one line per norm:
                  seed mean as a line, min-max over seeds as a band; validation solid, training dashed.
* ``batch_size``  final validation accuracy and time per epoch against batch size (the other axes at
                  their first value).
* ``axes``        final validation accuracy against each other swept axis (learning rate, init scale,
                  dropout), the other axes at their first value; only when such an axis has several values.
* ``drift``       per hidden layer, how the distribution of the Dense output z and of the quantity BN
                  normalizes moved during training (seed means of the probes).
* ``gradients``   per layer, the gradient norm ||dL/dW|| and the one-step update ratio ||dW||/||W||
                  along training (log scale), BN vs no BN for each batch size.
* ``bn_params``   per BN layer, gamma and beta (mean ± std over features) and the moving variance, from
                  their initial values (epoch 0) on.
"""

import numpy as np
from matplotlib.figure import Figure  # figures without pyplot: no backend is chosen or changed

from bnlab.lab import records
from bnlab.lab.conclusions import cell_name
from bnlab.lab.config import CELL_AXES, NORM_NAMES

COLORS = {
    "none": "#d62728",
    "batch": "#1f77b4",
    "layer": "#2ca02c",
    "group": "#9467bd",
    "renorm": "#ff7f0e",
    "ghost": "#8c564b",
}
NAMES = NORM_NAMES
MAX_CELLS = 8
AXIS_TITLES = {"learning_rate": "learning rate", "init_scale": "init scale (× default)", "dropout": "dropout rate"}
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
    lrs = "/".join(f"{v:g}" for v in c["learning_rates"])
    setup = (
        f"{c['arch']} ({'-'.join(map(str, c['hidden']))}, norm {c['bn_position']} ReLU) on {c['dataset']}, "
        f"{c['optimizer']} lr={lrs}; {over}"
    )
    fig.suptitle(f"{what}\n{setup}", fontsize=10)


def _grid(nrows, ncols, width=4.6, height=3.4):
    fig = Figure(figsize=(width * ncols, height * nrows + 0.7), layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=False)


def _norms(results):
    return results.config["norms"]


def _first_cells(results, vary):
    """The cells where every axis but ``vary`` is at its first value, in order of ``vary``."""
    grouped = records.groups(results.records, _norms(results))
    first = records.cells(grouped)[0]
    keep = [i for i, a in enumerate(CELL_AXES) if a != vary]
    return grouped, [c for c in records.cells(grouped) if all(c[i] == first[i] for i in keep)]


def curves(results):
    grouped = records.groups(results.records, _norms(results))
    cells = records.cells(grouped)
    shown = cells[:MAX_CELLS]
    fig, axes = _grid(2, max(1, len(shown)))
    for j, cell in enumerate(shown):
        for i, (metric, label) in enumerate((("accuracy", "accuracy"), ("loss", "loss"))):
            ax = axes[i, j]
            for norm in _norms(results):
                runs = grouped.get((cell, norm))
                if not runs:
                    continue
                x = np.arange(1, len(runs[0]["epochs"]) + 1)
                for key, style, alpha in ((f"val_{metric}", "-", 0.25), (metric, "--", 0.12)):
                    mean, lo, hi = records.band(runs, lambda r, k=key: records.series(r, k))
                    kind = "validation" if key.startswith("val_") else "training"
                    ax.plot(x, mean, style, color=COLORS[norm], marker="o", ms=3, label=f"{NAMES[norm]}, {kind}")
                    if len(runs) > 1:
                        ax.fill_between(x, lo, hi, color=COLORS[norm], alpha=alpha, lw=0)
            ax.set_title(f"{label} — {cell_name(records.cell_dict(cell), results.config)}", fontsize=9)
            ax.set_xlabel("epoch")
            ax.set_ylabel(label)
            ax.xaxis.get_major_locator().set_params(integer=True)
            ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8, loc="best")
    more = f" (first {MAX_CELLS} of {len(cells)} configurations)" if len(cells) > MAX_CELLS else ""
    _title(fig, results, f"Accuracy and loss per epoch, per normalization{more}")
    return fig


def _final(runs):
    finals = np.array([records.series(r, "val_accuracy")[-1] for r in runs])
    with np.errstate(all="ignore"), records.quiet_nan():
        return np.nanmean(finals), np.nanmin(finals), np.nanmax(finals)


def _accuracy_against(ax, grouped, cells, axis, results):
    """Final validation accuracy (mean, min-max error bars) against one axis, a line per norm."""
    k = CELL_AXES.index(axis)
    for norm in _norms(results):
        pts = [(c[k], *_final(grouped[c, norm])) for c in cells if (c, norm) in grouped]
        if not pts:
            continue
        xs, mean, lo, hi = (np.array(v, dtype=float) for v in zip(*pts, strict=True))
        yerr = 100 * np.vstack([mean - lo, hi - mean])
        ax.errorbar(xs, 100 * mean, yerr=yerr, color=COLORS[norm], marker="o", capsize=4, label=NAMES[norm])
    ax.set_ylabel("final validation accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def batch_size(results):
    grouped, cells = _first_cells(results, "batch_size")
    fig, axes = _grid(1, 2)
    _accuracy_against(axes[0, 0], grouped, cells, "batch_size", results)
    for norm in _norms(results):
        pts = [
            (c[0], np.mean([records.epoch_time(r) for r in grouped[c, norm]])) for c in cells if (c, norm) in grouped
        ]
        if pts:
            axes[0, 1].plot(*zip(*pts, strict=True), color=COLORS[norm], marker="o", label=NAMES[norm])
    sizes = [c[0] for c in cells]
    axes[0, 0].set_title(f"final validation accuracy (after {results.config['epochs']} epochs)")
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


def sweep_axes(results):
    c = results.config
    swept = [
        a
        for a, key in (("learning_rate", "learning_rates"), ("init_scale", "init_scales"), ("dropout", "dropouts"))
        if len(c[key]) > 1
    ]
    if not swept:
        return None
    fig, axes = _grid(1, len(swept))
    for ax, axis in zip(axes[0], swept, strict=True):
        grouped, cells = _first_cells(results, axis)
        _accuracy_against(ax, grouped, cells, axis, results)
        if axis != "dropout":
            ax.set_xscale("log")
        ax.set_xlabel(AXIS_TITLES[axis])
        ax.set_title(f"final validation accuracy against the {AXIS_TITLES[axis]}", fontsize=10)
    _title(fig, results, "Final accuracy against each swept axis (the other axes at their first value)")
    return fig


def _trace(runs, layer, key):
    """x (epochs) and the seed mean of a trace statistic."""
    x = np.array([t["epoch"] for t in runs[0]["trace"]])
    vals = np.array([[records.value(t["layers"].get(layer, {}).get(key)) for t in r["trace"]] for r in runs])
    with np.errstate(all="ignore"), records.quiet_nan():
        return x, np.nanmean(vals, axis=0)


def drift(results):
    grouped = records.groups(results.records, _norms(results))
    cell = records.cells(grouped)[0]
    kinds = ["z", records.normalized_kind(results.config["bn_position"])]
    layers = records.hidden_layers(next(iter(grouped.values()))[0])
    if not layers:
        return None
    fig, axes = _grid(len(layers), 2, width=5.2, height=2.9)
    for i, layer in enumerate(layers):
        for j, kind in enumerate(kinds):
            ax = axes[i, j]
            for norm in _norms(results):
                runs = grouped.get((cell, norm))
                if not runs:
                    continue
                # Ioffe & Szegedy's figure 1: the 15th, 50th and 85th percentiles over training
                x, mid = _trace(runs, layer, f"{kind}_p50")
                lo, hi = _trace(runs, layer, f"{kind}_p15")[1], _trace(runs, layer, f"{kind}_p85")[1]
                ax.plot(x, mid, color=COLORS[norm], lw=2, label=f"{NAMES[norm]}: median")
                ax.plot(x, lo, color=COLORS[norm], lw=0.8, ls="--", label=f"{NAMES[norm]}: 15th / 85th pct")
                ax.plot(x, hi, color=COLORS[norm], lw=0.8, ls="--")
                ax.fill_between(x, lo, hi, color=COLORS[norm], alpha=0.10, lw=0)
            ax.set_title(f"{layer}: {KIND_TITLES[kind]}", fontsize=10)
            ax.set_xlabel("epoch")
            ax.set_ylabel("value on the probe batch")
            ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7, loc="best")
    _title(
        fig,
        results,
        "Drift of each hidden layer's distribution during training "
        f"({cell_name(records.cell_dict(cell), results.config)})",
        spread=False,
    )
    return fig


def gradients(results):
    grouped, cells = _first_cells(results, "batch_size")
    any_run = next(iter(grouped.values()))[0]
    names = [layer["name"] for layer in any_run["layers"] if layer["kind"] in ("dense", "output")]
    styles = ["-", "--", ":", "-."]
    fig, axes = _grid(2, len(names), width=3.9, height=3.1)
    rows = (("grad_norm", "gradient norm ||dL/dW||"), ("update_ratio", "one step's ||ΔW|| / ||W||"))
    for j, name in enumerate(names):
        for i, (key, label) in enumerate(rows):
            ax = axes[i, j]
            for norm in _norms(results):
                for k, cell in enumerate(cells):
                    runs = grouped.get((cell, norm))
                    if not runs:
                        continue
                    x, y = _trace(runs, name, key)  # every probe, faint; the epoch means, bold
                    ok = np.isfinite(y) & (y > 0)
                    style = styles[k % len(styles)]
                    ax.plot(x[ok], y[ok], style, color=COLORS[norm], lw=0.7, alpha=0.35)
                    epoch_key = "grad_norm" if key == "grad_norm" else "update_ratio_step"
                    mean = records.band(runs, lambda r, n=name, e=epoch_key: records.layer_series(r, n, e))[0]
                    centers = np.arange(len(mean)) + 0.5
                    ax.plot(
                        centers,
                        mean,
                        style,
                        color=COLORS[norm],
                        lw=2,
                        marker="o",
                        ms=3,
                        label=f"{NAMES[norm]}, batch {cell[0]}",
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


def bn_params(results):
    grouped = records.groups(results.records, _norms(results))
    with_bn = [(cell, norm) for cell, norm in grouped if grouped[cell, norm][0]["bn_final"]]
    if not with_bn:
        return None
    cell, norm = with_bn[0]
    runs = grouped[cell, norm]
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
            [records.value(r["bn_initial"][name].get(key)), *records.layer_series(r, name, key, "bn")] for r in runs
        ]
        with records.quiet_nan():
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
    where = cell_name(records.cell_dict(cell), results.config)
    _title(fig, results, f"What the {NAMES[norm]} layers learned and tracked ({where})", spread=False)
    return fig


FIGURES = {
    "curves": curves,
    "batch_size": batch_size,
    "axes": sweep_axes,
    "drift": drift,
    "gradients": gradients,
    "bn_params": bn_params,
}


def save_all(results, folder):
    """Write every figure as PNG into ``folder``; returns {name: path} of those written."""
    import io

    from bnlab._files import write_atomic

    paths = {}
    for name, make in FIGURES.items():
        fig = make(results)
        if fig is None:
            continue
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        path = folder / f"{name}.png"
        write_atomic(path, buf.getvalue())
        paths[name] = path
    return paths
