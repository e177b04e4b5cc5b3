"""What the benchmark scripts share besides report.py: the usual command-line options, the report's ending
(printed, then written to --out when given), and the note that a loaded machine makes the timings unreliable."""

from __future__ import annotations

import argparse
import os

from report import write_report

OUT_HELP = "write the Markdown report here (atomically)"


def bench_parser(doc: str, *, threads: int | None = None, batch_sizes=(32, 64, 128), nets=None):
    """An ArgumentParser with --threads, --batch-sizes (unless None), --nets (when `nets` names the choices)
    and --out; the script adds its own options."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--threads", type=int, default=threads or os.cpu_count())
    if batch_sizes is not None:
        parser.add_argument("--batch-sizes", type=int, nargs="+", default=list(batch_sizes))
    if nets is not None:
        parser.add_argument("--nets", nargs="+", default=list(nets), choices=list(nets))
    parser.add_argument("--out", help=OUT_HELP)
    return parser


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages, as a report prints them."""
    return ", ".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"


def busy_note(why: str) -> list[str]:
    """The report's closing note when other processes kept the load above the core count, else nothing."""
    if hasattr(os, "getloadavg") and os.getloadavg()[0] > (os.cpu_count() or 1):
        return ["", f"Other processes kept the load average above the core count during this run: {why}"]
    return []


def publish(lines: list[str], out: str | None) -> str:
    """Joins the report's lines, prints the report and writes it to `out` (when given); returns it."""
    text = "\n".join(lines).rstrip("\n") + "\n"
    print(text)
    if out:
        write_report(out, text)
    return text
