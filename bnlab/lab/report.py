"""report.html and report.md: the figures, the summary table, the computed conclusion and the setup.

Both files reference the PNGs by relative path (``plots/<name>.png``), so the folder can be moved or
zipped as a whole. The text comes from the summary (analysis.py, conclusions.py); only headings and
figure captions are fixed.
"""

import html

from bnlab._files import write_atomic
from bnlab.lab.config import NORM_NAMES

CAPTIONS = {
    "curves": "Accuracy and loss per epoch, one colour per normalization. Solid: validation (inference mode, "
    "moving statistics); dashed: training (running mean over the epoch, batch statistics). Bands: min–max over seeds.",
    "batch_size": "Final validation accuracy (error bars: min–max over seeds) and time per epoch against batch size.",
    "axes": "Final validation accuracy (error bars: min–max over seeds) against the learning rate, the scale of "
    "the initial weights and the dropout rate, whichever the sweep varied.",
    "drift": "How each hidden layer's distributions move during training, on a fixed probe batch (BN in "
    "training mode, from the probe's own statistics). Left: the Dense output before BN. Right: "
    "the quantity BN normalizes. This is the 'internal covariate shift' the seeds talk about.",
    "gradients": "Gradient norm of each Dense kernel and the relative size of one update step, sampled "
    "along training (log scale).",
    "bn_params": "The BN layers' learned scale (gamma) and shift (beta), and their moving variance.",
}


def html_table(header, rows):
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="summary"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _md_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def _setup(results):
    c, d, x = results.config, results.dataset, results.execution
    n = results.records[0] if results.records else {}
    limit = f"first {c['limit']} training samples" if c.get("limit") else "all training samples"
    items = [
        (
            "network",
            f"{c['arch']}: {' → '.join(str(h) for h in c['hidden'])} → {d.get('classes', '?')}, "
            f"ReLU, the normalization {c['bn_position']} each ReLU; norms compared: "
            f"{', '.join(NORM_NAMES[n] for n in c['norms'])} (baseline {NORM_NAMES[c['norms'][0]]})"
            + (f"; group norm with {c['groups']} groups" if "group" in c["norms"] else "")
            + (f"; ghost BN over virtual batches of {c['virtual_batch_size']}" if "ghost" in c["norms"] else ""),
        ),
        (
            "data",
            f"{c['dataset']}, {limit}; last {100 * c['validation_split']:.0f}% held out for validation"
            + (f" ({n['n_train']} train / {n['n_val']} validation); test set {n['n_test']}" if n else ""),
        ),
        (
            "training",
            f"{c['optimizer']} lr {', '.join(f'{v:g}' for v in c['learning_rates'])}, {c['epochs']} epochs, batch "
            f"sizes {', '.join(map(str, c['batch_sizes']))}, init scales "
            f"{', '.join(f'{v:g}' for v in c['init_scales'])} × glorot_uniform, dropout "
            f"{', '.join(f'{v:g}' for v in c['dropouts'])}"
            + (
                (" right before the normalization" if c["dropout_position"] == "before" else " at each block's end")
                if any(c["dropouts"])
                else ""
            )
            + f", seeds {', '.join(map(str, c['seed_list']))}; every run from fresh weights",
        ),
        (
            "execution",
            f"{x.get('jobs', 1)} job(s), {x.get('threads', '?')} BLAS thread(s) per run"
            + (f", Dask scheduler {x['scheduler']}" if x.get("scheduler") else ", local"),
        ),
        (
            "runs",
            f"{len(results.records)} finished" + (f", {len(results.failed)} failed" if results.failed else ""),
        ),
    ]
    return items


def write(results, out, figures):
    """Write report.html and report.md into ``out``; ``figures`` maps names to the PNG paths written."""
    summary = results.summary()
    header, rows = summary.table()
    t = summary.target_accuracy
    target_note = (
        ""
        if t is None
        else f"Target accuracy {100 * t:.0f}% "
        + (
            "(given)."
            if summary.data["target_source"] == "given"
            else "(the best seed-mean validation accuracy that every model reached, rounded down)."
        )
    )
    title = f"Normalization compared: {results.config['arch']} on {results.config['dataset']}"
    rel = {name: f"plots/{path.name}" for name, path in figures.items()}
    failed = [f"{f['run_id']}: {f['error']}" for f in results.failed]

    parts = [
        f"<h1>{html.escape(title)}</h1>",
        "<h2>Conclusion (computed from the measurements)</h2>",
        "<ul>" + "".join(f"<li>{html.escape(c)}</li>" for c in summary.conclusions) + "</ul>",
        "<h2>Summary</h2>",
        html_table(header, rows),
        f"<p class='note'>Accuracies: mean over seeds (± standard deviation); gaps in points against the "
        f"baseline of the same configuration. {html.escape(target_note)} "
        "Time per epoch excludes the lab's own probes.</p>",
    ]
    for name, src in rel.items():
        parts += [
            f"<figure><img src='{src}' alt='{name}'><figcaption>{html.escape(CAPTIONS[name])}</figcaption></figure>"
        ]
    parts += [
        "<h2>Setup</h2>",
        "<dl>" + "".join(f"<dt>{k}</dt><dd>{html.escape(v)}</dd>" for k, v in _setup(results)) + "</dl>",
    ]
    if failed:
        parts += [
            "<h2>Failed runs</h2>",
            "<ul>" + "".join(f"<li>{html.escape(f)}</li>" for f in failed) + "</ul>",
        ]
    parts.append(
        "<p class='note'>Data: metrics.json (schema: metrics.schema.json), epochs.csv, layers.csv, "
        "bn.csv, trace.csv; one file per run in runs/.</p>"
    )
    page = (
        f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n"
    )
    write_atomic(out / "report.html", page)

    md = [f"# {title}", "", "## Conclusion (computed from the measurements)", ""]
    md += [f"- {c}" for c in summary.conclusions]
    md += [
        "",
        "## Summary",
        "",
        _md_table(header, rows),
        "",
        f"Accuracies: mean over seeds (± standard deviation); gaps in points against the baseline of the same "
        f"configuration. {target_note} Time per epoch excludes the lab's own probes.",
        "",
    ]
    for name, src in rel.items():
        md += [f"![{name}]({src})", "", f"*{CAPTIONS[name]}*", ""]
    md += ["## Setup", ""] + [f"- **{k}**: {v}" for k, v in _setup(results)]
    if failed:
        md += ["", "## Failed runs", ""] + [f"- {f}" for f in failed]
    write_atomic(out / "report.md", "\n".join(md) + "\n")


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222; }
table.summary { border-collapse: collapse; margin: 1em 0; font-size: 0.92em; }
table.summary th, table.summary td { border: 1px solid #ccc; padding: 0.35em 0.6em; text-align: right; }
table.summary th { background: #f2f2f2; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption, .note { color: #555; font-size: 0.9em; }
dt { font-weight: bold; } dd { margin: 0 0 0.5em 1em; }
"""
