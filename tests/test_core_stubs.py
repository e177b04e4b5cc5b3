"""The checked-in type stubs of the engine module (bnlab/_core/*.pyi) are what the built bnlab._core gives now.

tools/core_stubs.py regenerates them with pybind11-stubgen (the `test` extra) into a temporary folder; a
binding whose signature, docstring or name changed without the stubs fails here with the diff and the command
that rewrites them.
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tools" / "core_stubs.py"
_spec = importlib.util.spec_from_file_location("core_stubs", SCRIPT)
core_stubs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(core_stubs)


def test_checked_in_stubs_match_the_built_module():
    done = subprocess.run([sys.executable, str(SCRIPT), "--check"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, (
        f"bnlab/_core/*.pyi are stale; regenerate them with `{core_stubs.REGENERATE}` and commit the result.\n"
        f"{done.stdout[-6000:]}{done.stderr[-2000:]}"
    )


def test_generation_is_deterministic(tmp_path):
    first = {p.name: p.read_bytes() for p in core_stubs.generate(tmp_path / "a")}
    second = {p.name: p.read_bytes() for p in core_stubs.generate(tmp_path / "b")}
    assert first == second
    assert {"__init__.pyi", "ops.pyi", "tensor_ops.pyi"} <= first.keys()


def test_stubs_cover_the_module_and_name_no_memory_addresses():
    import bnlab._core as core

    text = (ROOT / "bnlab" / "_core" / "__init__.pyi").read_text()
    public = [name for name in dir(core) if not name.startswith("_")]
    missing = [name for name in public if f'"{name}"' not in text]
    assert not missing, f"not in bnlab/_core/__init__.pyi: {missing}; run `{core_stubs.REGENERATE}`"
    for stub in (ROOT / "bnlab" / "_core").glob("*.pyi"):
        assert " at 0x" not in stub.read_text(), f"{stub.name} holds an object's address: not deterministic"
