"""The run folder on disk: one JSON file per finished run, written atomically, read back to resume.

Layout of ``--out DIR`` (docs/LAB.md describes every file)::

    DIR/runs/<run_id>.json     one per finished run (run_id = bs<B>-seed<S>-<bn|nobn>-<hash of its spec>)
    DIR/metrics.json           the sweep: config, every run, the summary (schema: metrics.schema.json)
    DIR/metrics.schema.json    the JSON Schema of metrics.json
    DIR/epochs.csv, layers.csv, bn.csv, trace.csv   the same numbers as flat tables
    DIR/plots/*.png, DIR/report.html, DIR/report.md

Every file is written to a temporary name in the same folder, flushed to disk and renamed over the target
(``os.replace`` is atomic), so an interrupted sweep (Ctrl-C, a crash, a full disk) never leaves a
half-written file: each run's file is either complete or absent. A run whose file exists and whose
recorded spec equals the requested one is finished and is not run again.
"""

import contextlib
import json
import math
import os
import tempfile
from pathlib import Path

from bnlab.lab.config import LabError


def _file_mode():
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_MODE = _file_mode()  # what open() would give: mkstemp's 0600 would hide the report from other users


def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` through a temporary file in the same folder and an atomic rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), _MODE)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path, text):
    atomic_write_bytes(path, text.encode("utf-8"))


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
            atomic_write_text(self.root / ".write-test", "ok\n")
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
        atomic_write_text(self.runs_dir / f"{record['run_id']}.json", dumps(record))
