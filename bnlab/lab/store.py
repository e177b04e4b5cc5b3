"""The run folder on disk: one JSON file per finished run, written atomically, read back to resume.

Layout of ``--out DIR`` (docs/LAB.md describes every file)::

    DIR/runs/<run_id>.json     one per finished run (run_id = bs<B>-seed<S>-<bn|nobn>-<hash of its spec>)
    DIR/metrics.json           the sweep: config, every run, the summary (schema: metrics.schema.json)
    DIR/metrics.schema.json    the JSON Schema of metrics.json
    DIR/epochs.csv, layers.csv, bn.csv, trace.csv   the same numbers as flat tables
    DIR/plots/*.png, DIR/report.html, DIR/report.md

Every file is written by bnlab._files.write_atomic (a temporary name in the same folder, flushed to disk
and renamed over the target with ``os.replace``, which is atomic), so an interrupted sweep (Ctrl-C, a
crash, a full disk) never leaves a half-written file: each run's file is either complete or absent. A run
whose file exists and whose recorded spec equals the requested one is finished and is not run again.
"""

import json
import math
import os
from pathlib import Path

from bnlab._files import write_atomic
from bnlab.lab.config import LabError


def finite(obj):
    """A copy of a JSON-like object with NaN and infinities replaced by None (strict JSON has no NaN)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def dumps(obj):
    return json.dumps(finite(obj), indent=1, allow_nan=False) + "\n"


class RunStore:
    """The ``runs/`` folder of an output directory."""

    def __init__(self, out):
        self.root = Path(out)
        self.runs_dir = self.root / "runs"

    def prepare(self):
        """Create the folders and prove they can be written; raises LabError with the fix."""
        try:
            self.runs_dir.mkdir(parents=True, exist_ok=True)
            (self.root / "plots").mkdir(exist_ok=True)
            write_atomic(self.root / ".write-test", "ok\n")
            os.unlink(self.root / ".write-test")
        except OSError as e:
            reason = e.strerror or str(e)
            raise LabError(
                f"cannot write to --out {self.root}: {reason}; choose a folder you can write to, "
                "e.g. --out ./bnlab-compare"
            ) from None

    def path(self, spec):
        return self.runs_dir / f"{spec.run_id}.json"

    def load(self, spec):
        """The finished record of ``spec``, or None (absent, unreadable, or from another spec)."""
        try:
            record = json.loads(self.path(spec).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) and record.get("spec") == spec.to_dict() else None

    def save(self, record):
        write_atomic(self.runs_dir / f"{record['run_id']}.json", dumps(record))
