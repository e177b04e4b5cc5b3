"""``claims()``: run the experiments of claimset.py and write their report (``bnlab claims``).

The folder ``out``::

    out/<sweep>/            one sweep per experiment (runs/, metrics.json, CSV tables), resumable
    out/claims.json         every claim: what was measured, the effect per seed, mean, std, min, max, verdict
    out/plots/<claim>.png   one figure per claim: the measurement per model, and the per-seed effects
    out/report.md, report.html

Every file is written atomically (store.py); a second call with the same ``out`` reuses the finished runs.
"""

import html
import io
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from bnlab._files import write_atomic
from bnlab.lab import claimset
from bnlab.lab.config import NORM_NAMES, LabError
from bnlab.lab.executor import usable_cores
from bnlab.lab.plots import COLORS
from bnlab.lab.report import _CSS
from bnlab.lab.store import dumps
from bnlab.lab.sweep import sweep

CLAIMS_SCHEMA_VERSION = 1
RULE = (
    f"Verdict rule: per seed, the effect is signed so that > 0 is what the claim predicts. 'supports' if every "
    f"seed's effect is > 0 and the mean exceeds {claimset.K_SPREAD:g} × the seed-to-seed standard deviation; "
    "'weakens' if every seed's effect is < 0 and |mean| exceeds that; otherwise 'cannot tell'."
)


class ClaimsResult:
    """The evaluated claims (``entries``), the folder, and the count of failed runs."""

    def __init__(self, entries, out, failed, preset):
        self.entries, self.out, self.failed, self.preset = entries, Path(out), failed, preset

    def text(self):
        lines = []
        for e in self.entries:
            eff = e["effect"]
            lines.append(f"{e['verdict']:>12}  {e['statement']}  effect {_spread(eff)} {eff['unit']}")
        return "\n".join(lines)

    def __repr__(self):
        return f"<ClaimsResult {len(self.entries)} claims, folder {self.out}>"


def _spread(eff):
    if eff["mean"] is None:
        return "–"
    std = f" ± {eff['std']:.2f}" if eff["std"] is not None else ""
    return f"{eff['mean']:+.2f}{std} (min {eff['min']:+.2f}, max {eff['max']:+.2f})"


def claims(out="bnlab-claims", quick=False, only=None, seeds=None, jobs=None, threads=None, rerun=False, quiet=True):
    """Run one experiment per claim (or those in ``only``) and write the report; returns a ClaimsResult.
    ``seeds``: per comparison, at least 3 (None: the preset's, 5 by default and 3 with ``quick``).

    Raises:
        LabError: an unknown claim, fewer than 3 seeds, an unwritable ``out``, a missing dataset.
    """
    names = list(claimset.CLAIMS) if not only else list(dict.fromkeys(only))
    for n in names:
        if n not in claimset.CLAIMS:
            raise LabError(f"unknown claim {n!r}: use --only with some of {', '.join(claimset.CLAIMS)}")
    if seeds is not None and (isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 3):
        raise LabError(f"the verdicts compare seeds: --seeds must be a whole number >= 3, got {seeds!r}")
    preset = "quick" if quick else "full"
    plan = claimset.sweeps(preset, seeds)
    out = Path(out)
    jobs = jobs or usable_cores()
    done, failed = {}, 0
    for name in dict.fromkeys(claimset.CLAIMS[n].sweep for n in names):
        res = sweep(**plan[name], out=out / name, jobs=jobs, threads=threads, rerun=rerun, quiet=quiet, report=False)
        done[name], failed = res, failed + len(res.failed)
    entries = [claimset.evaluate(n, done[claimset.CLAIMS[n].sweep]) for n in names]
    result = ClaimsResult(entries, out, failed, preset)
    _write(result, plan)
    return result


def _figure(entry):
    """Left: the measurement per model and condition (bars: seed means; dots: seeds). Right: the effect
    per seed, its mean and ± std, against zero."""
    panels, eff = entry["panels"], entry["effect"]
    fig = Figure(figsize=(11, 3.8), layout="constrained")
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2.2, 1]})
    norms = list(panels["values"])
    width = 0.8 / len(norms)
    for j, norm in enumerate(norms):
        for i, vals in enumerate(panels["values"][norm]):
            v = np.array([x for x in vals if x is not None and np.isfinite(x)], dtype=float)
            x = i + (j - (len(norms) - 1) / 2) * width
            if len(v):
                left.bar(
                    x, v.mean(), width * 0.9, color=COLORS[norm], alpha=0.5, label=NORM_NAMES[norm] if i == 0 else None
                )
                left.plot(np.full(len(v), x), v, "o", color=COLORS[norm], ms=4)
    seen = [x for per in panels["values"].values() for vals in per for x in vals if x is not None and np.isfinite(x)]
    if seen:  # bars from the data's range, so that differences of a few points show
        lo, hi = min(seen), max(seen)
        pad = max(0.15 * (hi - lo), 0.5)
        left.set_ylim(max(0.0, lo - pad) if lo >= 0 else lo - pad, hi + pad)
    left.set_xticks(range(len(panels["conditions"])), panels["conditions"], fontsize=8)
    left.set_ylabel(panels.get("ylabel", ""))
    left.legend(fontsize=8)
    left.grid(alpha=0.3, axis="y")
    vals = [v for v in eff["per_seed"].values() if v is not None and np.isfinite(v)]
    right.axhline(0, color="#444", lw=1)
    right.plot(np.zeros(len(vals)), vals, "o", color="#333", ms=6, label="seeds")
    if eff["mean"] is not None:
        std = eff["std"] or 0.0
        right.errorbar(
            [0.25], [eff["mean"]], yerr=[[std], [std]], fmt="s", color="#1f77b4", capsize=6, label="mean ± std"
        )
    right.set_xlim(-0.5, 0.75)
    right.set_xticks([])
    right.set_ylabel(f"effect ({eff['unit']})")
    right.set_title(f"verdict: {entry['verdict']}", fontsize=10)
    right.legend(fontsize=8)
    right.grid(alpha=0.3, axis="y")
    fig.suptitle(f"{entry['statement']}\n" + textwrap.fill(f"effect: {entry['measured']}", 150), fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def _setup(plan, name):
    kw = plan[name]
    lrs = kw["learning_rate"] if isinstance(kw["learning_rate"], tuple) else (kw["learning_rate"],)
    parts = [
        f"{kw['arch']} on the first {kw['limit']} images of {kw['dataset']} (20% held out), {kw['epochs']} epochs, "
        f"{kw['optimizer']} lr {', '.join(f'{v:g}' for v in lrs)}, batch sizes "
        f"{', '.join(map(str, kw['batch_sizes']))}",
        f"norms {', '.join(NORM_NAMES[n] for n in kw['norms'])}",
        f"seeds 0..{kw['seeds'] - 1}",
    ]
    if "init_scales" in kw:
        parts.append(f"init scales {', '.join(f'{v:g}' for v in kw['init_scales'])}")
    if "dropout" in kw:
        parts.append(f"dropout {', '.join(f'{v:g}' for v in kw['dropout'])} right before the normalization")
    return "; ".join(parts) + f" (folder {name}/)"


def _write(result, plan):
    out = result.out
    (out / "plots").mkdir(parents=True, exist_ok=True)
    md = ["# Claims about batch normalization, measured", "", RULE, ""]
    page = ["<h1>Claims about batch normalization, measured</h1>", f"<p>{html.escape(RULE)}</p>"]
    rows = [(e["statement"], e["verdict"], f"{_spread(e['effect'])} {e['effect']['unit']}") for e in result.entries]
    md += ["| claim | verdict | effect: mean ± std (min, max) over seeds |", "|---|---|---|"]
    md += [f"| {a} | **{b}** | {c} |" for a, b, c in rows] + [""]
    page.append(
        "<table class='summary'><thead><tr><th>claim</th><th>verdict</th><th>effect: mean ± std (min, max)</th></tr>"
        "</thead><tbody>"
        + "".join(f"<tr><td>{html.escape(a)}</td><td><b>{b}</b></td><td>{html.escape(c)}</td></tr>" for a, b, c in rows)
        + "</tbody></table>"
    )
    for e in result.entries:
        write_atomic(out / "plots" / f"{e['name']}.png", _figure(e))
        eff = e["effect"]
        seeds = ", ".join(f"seed {s}: {v:+.2f}" for s, v in eff["per_seed"].items() if v is not None)
        lines = [
            f"Measured: {e['measured']} ({eff['unit']}).",
            f"Per seed: {seeds}.",
            f"Verdict: **{e['verdict']}** — {eff['reason']}.",
            f"Setup: {_setup(plan, e['sweep'])}.",
        ]
        lines += [
            f"Also measured: {x['what']}: {_spread(x)} {x['unit']}"
            + (f" — {x['verdict']} ({x['reason']})" if x["verdict"] else "")
            + "."
            for x in e["extras"]
        ]
        md += [
            f"## {e['statement']}",
            "",
            *[f"- {line}" for line in lines],
            "",
            f"![{e['name']}](plots/{e['name']}.png)",
            "",
        ]
        page += [
            f"<h2>{html.escape(e['statement'])}</h2>",
            "<ul>" + "".join(f"<li>{html.escape(line).replace('**', '')}</li>" for line in lines) + "</ul>",
            f"<figure><img src='plots/{e['name']}.png' alt='{e['name']}'></figure>",
        ]
    if result.failed:
        md.append(f"{result.failed} run(s) failed; the folders' metrics.json list them. Run the same command again.")
        page.append(f"<p>{result.failed} run(s) failed; run the same command again.</p>")
    doc = {
        "schema": "bnlab.lab.claims",
        "schema_version": CLAIMS_SCHEMA_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "preset": result.preset,
        "rule": {"k": claimset.K_SPREAD, "text": RULE},
        "claims": result.entries,
        "failed": result.failed,
    }
    write_atomic(out / "claims.json", dumps(doc))
    write_atomic(out / "report.md", "\n".join(md) + "\n")
    write_atomic(
        out / "report.html",
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>bnlab claims</title>"
        f"<style>{_CSS}</style></head><body>\n" + "\n".join(page) + "\n</body></html>\n",
    )
