"""The Results of a sweep: the run records plus what is computed from them, in memory or in a folder.

``Results`` holds the sweep's config and one record per finished run (docs/LAB.md, "run record"). It
gives the summary (``summary()``), the figures (``plot()``), flat tables (``tables()``, ``to_frame()`` with
pandas), the metrics document (``document()``, checked against schema.py) and writes the whole run folder
(``write()``). In Jupyter it displays as the summary table.
"""

import csv
import io
import json
from datetime import datetime, timezone
from pathlib import Path

from bnlab._files import write_atomic
from bnlab.lab import analysis, schema
from bnlab.lab.conclusions import signed, varied_axes
from bnlab.lab.config import CELL_AXES, NORM_NAMES, LabError, SweepConfig
from bnlab.lab.schema import BN_KEYS, EPOCH_LAYER, TRACE_LAYER
from bnlab.lab.store import dumps

_RUN_COLS = ["run_id", *CELL_AXES, "seed", "norm"]
_EPOCH_COLS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "epoch_time", "probe_time"]


class Summary:
    """The summary of a sweep: ``target_accuracy``, ``rows`` (one per cell), ``conclusions``."""

    def __init__(self, data, config=None):
        self.data, self.config = data, config or {}
        self.target_accuracy = data["target_accuracy"]
        self.rows = data["rows"]
        self.conclusions = data["conclusions"]
        self.drift = data["drift"]

    def to_dict(self):
        return self.data

    def table(self):
        """(header, rows of strings) of the summary table, shared by text, Markdown and HTML: one line per
        cell and normalization; the axes that vary get a column each."""
        t = self.target_accuracy
        axes = varied_axes(self.config) if self.config else ["batch_size"]
        titles = {"batch_size": "batch size", "learning_rate": "lr", "init_scale": "init scale", "dropout": "dropout"}
        header = [titles[a] for a in axes] + [
            "norm",
            "val acc after epoch 1",
            "final val acc",
            "final gap vs baseline",
            f"epochs to {_pct(t) if t is not None else 'target'}",
            "time per epoch",
            "time cost vs baseline",
        ]
        body = []
        for r in self.rows:
            for norm, m in r["models"].items():
                vs = r["vs_baseline"].get(norm)
                body.append(
                    [f"{r[a]:g}" for a in axes]
                    + [
                        NORM_NAMES[norm],
                        _pct(m["val_accuracy_epoch1"]),
                        _pct(m["val_accuracy_final"], m["val_accuracy_final_std"]),
                        f"{signed(vs['gap_final'])} pts" if vs else "(baseline)" if norm == r["baseline"] else "–",
                        _epochs(m["epochs_to_target"]),
                        f"{m['epoch_time']:.2f} s",
                        f"{signed(100 * vs['time_overhead'], 0)}%" if vs else "–",
                    ]
                )
        return header, body

    def __str__(self):
        header, body = self.table()
        widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h) for i, h in enumerate(header)]
        lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in body]
        return "\n".join(lines + [""] + [f"- {c}" for c in self.conclusions])

    def _repr_html_(self):
        from bnlab.lab.report import html_table

        items = "".join(f"<li>{_esc(c)}</li>" for c in self.conclusions)
        return html_table(*self.table()) + f"<ul>{items}</ul>"

    def __repr__(self):
        return f"<Summary: {len(self.rows)} cells, target {self.target_accuracy}>"


def _pct(x, std=None):
    if x is None or x != x:
        return "–"
    return f"{100 * x:.1f}%" + (f" ± {100 * std:.1f}" if std is not None and std == std else "")


def _epochs(e):
    return str(e) if e else "not reached"


def _esc(text):
    import html

    return html.escape(str(text))


class Results:
    """A sweep's config, its finished run records, and what is computed from them."""

    def __init__(self, config, records, out=None, failed=(), dataset=None, execution=None):
        self.config = config  # SweepConfig.to_dict() of the resolved config
        order = {s.run_id: i for i, s in enumerate(SweepConfig.from_dict(config).runs())}
        self.records = sorted(records, key=lambda r: order.get(r["run_id"], 1 << 30))
        self.out = Path(out) if out is not None else None
        self.failed = list(failed)
        self.dataset = dataset or {}
        self.execution = execution or {}
        self._summary = None

    @classmethod
    def load(cls, out):
        """Results from a folder written by ``write()`` (its metrics.json; version 1 is upgraded, see
        schema.upgrade); raises LabError for a file it cannot read."""
        path = Path(out) / "metrics.json"
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise LabError(f"cannot read {path}: {e}; point at a folder written by bnlab compare") from None
        if doc.get("schema_version") == schema.SCHEMA_VERSION:
            schema.check(doc)
        doc = schema.upgrade(doc)
        return cls(doc["config"], doc["runs"], out, doc["failed"], doc["dataset"], doc["execution"])

    def summary(self):
        if self._summary is None:
            classes = self.dataset.get("classes", 10)
            self._summary = Summary(analysis.summarize(self.config, self.records, classes), self.config)
        return self._summary

    def plot(self, kind="curves", **kwargs):
        """A matplotlib Figure: kind is curves, batch_size, drift, gradients or bn_params."""
        from bnlab.lab import plots

        if kind not in plots.FIGURES:
            raise ValueError(f"unknown plot {kind!r}: choose one of {', '.join(plots.FIGURES)}")
        if not self.records:
            raise ValueError("no finished runs to plot")
        return plots.FIGURES[kind](self, **kwargs)

    # ---- flat tables ----
    def tables(self):
        """{"epochs", "layers", "bn", "trace"}: lists of flat row dicts (the CSV files)."""
        out = {"epochs": [], "layers": [], "bn": [], "trace": []}
        for r in self.records:
            ident = {k: r[k] for k in _RUN_COLS}
            for e in r["epochs"]:
                out["epochs"].append({**ident, **{k: e.get(k) for k in _EPOCH_COLS}})
                for name, stats in e["layers"].items():
                    out["layers"].append(
                        {
                            **ident,
                            "epoch": e["epoch"],
                            "layer": name,
                            **{k: stats.get(k) for k in EPOCH_LAYER["properties"]},
                        }
                    )
                for name, stats in e["bn"].items():
                    out["bn"].append(
                        {**ident, "epoch": e["epoch"], "layer": name, **{k: stats.get(k) for k in BN_KEYS}}
                    )
            for t in r["trace"]:
                for name, stats in t["layers"].items():
                    out["trace"].append(
                        {
                            **ident,
                            "step": t["step"],
                            "epoch": t["epoch"],
                            "layer": name,
                            **{k: stats.get(k) for k in TRACE_LAYER["properties"]},
                        }
                    )
        return out

    def to_frame(self, table="epochs"):
        """A pandas DataFrame of one flat table (epochs, layers, bn or trace); needs pandas."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(
                "Results.to_frame() needs pandas, which bnlab does not install: pip install "
                "pandas (or use Results.tables(), plain lists of dicts)"
            ) from None
        tables = self.tables()
        if table not in tables:
            raise ValueError(f"unknown table {table!r}: choose one of {', '.join(tables)}")
        return pd.DataFrame(tables[table])

    # ---- the document and the folder ----
    def document(self):
        from bnlab import __version__

        return {
            "schema": "bnlab.lab.metrics",
            "schema_version": schema.SCHEMA_VERSION,
            "bnlab_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "config": self.config,
            "execution": self.execution,
            "dataset": self.dataset,
            "runs": self.records,
            "failed": self.failed,
            "summary": self.summary().to_dict(),
        }

    def write(self, out=None, report=True):
        """Write metrics.json (+ its schema), the CSV tables and, with ``report``, the PNG figures and
        report.html/.md."""
        from bnlab.lab import plots
        from bnlab.lab import report as report_module

        out = Path(out) if out is not None else self.out
        (out / "plots").mkdir(parents=True, exist_ok=True)
        doc = json.loads(dumps(self.document()))
        schema.check(doc)
        write_atomic(out / "metrics.json", json.dumps(doc, indent=1) + "\n")
        write_atomic(out / "metrics.schema.json", json.dumps(schema.SCHEMA, indent=1) + "\n")
        for name, rows in self.tables().items():
            write_atomic(out / f"{name}.csv", _csv(rows))
        if report:
            figures = plots.save_all(self, out / "plots") if self.records else {}
            report_module.write(self, out, figures)
        self.out = out
        return out

    def _repr_html_(self):
        return self.summary()._repr_html_()

    def __repr__(self):
        c = self.config
        return (
            f"<Results {c['arch']} on {c['dataset']}: {len(self.records)} runs, norms {c['norms']}, batch sizes "
            f"{c['batch_sizes']}, {len(c['seed_list'])} seeds" + (f", folder {self.out}>" if self.out else ">")
        )


def _csv(rows):
    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    return buf.getvalue()
