"""The local worker processes of ``bnlab compare --jobs N`` import the same bnlab as their parent, and a
worker that dies on start reports its own error (not the parent's BrokenPipeError).

The shadowing case is rebuilt for real: a throwaway virtual environment with bnlab installed as a wheel
installs it (the package's files and its compiled ``_core``, no editable hook), and the parent runs from a
folder holding a source checkout's ``bnlab`` without ``_core``, as a user does who runs ``bnlab compare``
inside the repository.
"""

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

import bnlab
from bnlab import _core
from bnlab.lab import data, executor
from bnlab.lab.config import LabError, RunSpec, SweepConfig

PARENT_SCRIPT = """\
import json, sys
import numpy as np
import bnlab
from bnlab.lab import data, executor
from bnlab.lab.config import RunSpec, SweepConfig

rng = np.random.default_rng(0)
x, y = rng.integers(0, 256, (200, 28, 28)).astype(np.uint8), rng.integers(0, 10, 200).astype(np.int32)
lab_data = data.LabData("fashion_mnist", x, y, x[:50], y[:50])
base = SweepConfig(arch="seed003", limit=200, epochs=1, batch_sizes=(50,), seeds=1).resolved().runs()
specs = [RunSpec.from_dict({**s.to_dict(), "limit": 200}) for s in base]
done, failed = [], []
executor.execute(specs, lab_data, jobs=2, threads=1, on_done=done.append,
                 on_failed=lambda s, m: failed.append(m))
print(json.dumps({"bnlab": bnlab.__file__, "done": len(done), "failed": failed}))
"""


def _installed_copy(root: Path) -> Path:
    """A virtual environment under ``root`` with bnlab installed non-editable; returns its python."""
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    package = purelib / "bnlab"
    shutil.copytree(Path(bnlab.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    shutil.copy2(_core.__file__, package)
    # numpy and the rest from this environment; a path line in a .pth adds the folder, not its .pth hooks
    (purelib / "zz_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return venv / "bin" / "python"


def _shadowing_checkout(root: Path) -> Path:
    """A folder whose ``bnlab`` is a source tree without the compiled engine."""
    checkout = root / "checkout"
    (checkout / "bnlab").mkdir(parents=True)
    (checkout / "bnlab" / "__init__.py").write_text(
        'raise ImportError("the checkout\'s bnlab (no _core) was imported")\n'
    )
    return checkout


def test_workers_import_the_installed_bnlab_from_inside_a_checkout(tmp_path):
    python = _installed_copy(tmp_path)
    script = python.parent / "parent_run"  # beside python, like a console script: its folder leads sys.path
    script.write_text(PARENT_SCRIPT)
    checkout = _shadowing_checkout(tmp_path)
    proc = subprocess.run(
        [str(python), str(script)], cwd=checkout, capture_output=True, text=True, timeout=240, check=False
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.splitlines()[-1])
    assert Path(result["bnlab"]).is_relative_to(tmp_path / "venv")
    assert result == {"bnlab": result["bnlab"], "done": 2, "failed": []}


def _tiny_job():
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (200, 28, 28)).astype(np.uint8), rng.integers(0, 10, 200).astype(np.int32)
    lab_data = data.LabData("fashion_mnist", x, y, x[:50], y[:50])
    base = SweepConfig(arch="seed003", limit=200, epochs=1, batch_sizes=(50,), seeds=1).resolved().runs()
    return [RunSpec.from_dict({**s.to_dict(), "limit": 200}) for s in base], lab_data


def test_a_worker_that_dies_on_start_reports_its_own_error(tmp_path, monkeypatch, capfd):
    """The parent claims to have imported bnlab from elsewhere: the worker's own check refuses to start,
    and the parent's LabError carries the worker's exception, whose traceback reached stderr."""
    elsewhere = tmp_path / "elsewhere" / "bnlab" / "__init__.py"
    monkeypatch.setattr(bnlab, "__file__", str(elsewhere))
    specs, lab_data = _tiny_job()
    failed = []
    with pytest.raises(LabError) as info:
        executor.execute(specs, lab_data, jobs=2, threads=1, on_failed=lambda s, m: failed.append(m))
    message = str(info.value)
    assert "could not start" in message and "exit status 1" in message
    assert "ImportError" in message and str(elsewhere.parent) in message
    assert "Broken pipe" not in message and failed == []
    assert "Traceback" in capfd.readouterr().err


def test_a_worker_killed_during_a_run_fails_that_run_only(monkeypatch):
    """A worker that dies during a run (killed, out of memory) fails that run with its exit status; the
    other worker's run goes on. The victim's run is far too long to finish before the parent sees its first
    epoch and kills it."""
    started = []
    real_start = executor._Worker.start

    def start(w, spec):
        started.append(w)
        real_start(w, spec)

    monkeypatch.setattr(executor._Worker, "start", start)
    specs, lab_data = _tiny_job()
    long_run = RunSpec.from_dict({**specs[0].to_dict(), "epochs": 5000})
    short_run = specs[1]

    def on_epoch(event):
        if event["run_id"] == long_run.run_id:
            next(w for w in started if w.spec == long_run).proc.kill()

    done, failed = [], []
    executor.execute(
        [long_run, short_run],
        lab_data,
        jobs=2,
        threads=1,
        on_epoch=on_epoch,
        on_done=done.append,
        on_failed=lambda s, m: failed.append((s.run_id, m)),
    )
    assert failed == [(long_run.run_id, "worker process died (exit status -9)")]
    assert [r["run_id"] for r in done] == [short_run.run_id]
