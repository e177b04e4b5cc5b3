"""Seed 004 runs on bnlab unchanged except for ``tensorflow`` -> ``bnlab`` in its import lines.

The code cell (``In [11]:``) is cut from the seed file by text, its import lines are rewritten with a
regex, and it is executed in a fresh interpreter (so that ``import bnlab as tf; tf.data`` is tested as a
student would run it) with ``$BNLAB_DATA_DIR`` pointing at full-size synthetic MNIST files. Its output
must match the output recorded in the notebook.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import dataset_fixtures as fx
import pytest

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
SEED = SEEDS / "004_f4687602fd039e73.txt"
REPO = Path(__file__).resolve().parents[1]


def extract_cell(text: str, prompt: str = "In [11]:") -> tuple[str, str]:
    """The code of the cell after ``prompt`` and its recorded output (separated by two blank lines)."""
    start = text.index(prompt) + len(prompt)
    cell = text[start:].strip("\n")
    code, output = re.split(r"\n[ \t]*\n[ \t]*\n+", cell, maxsplit=1)
    return code + "\n", output.strip("\n")


def to_bnlab(code: str) -> str:
    """Replace ``tensorflow`` by ``bnlab`` in import statements only."""
    return re.sub(r"^(\s*(?:import|from)\s+)tensorflow\b", r"\1bnlab", code, flags=re.MULTILINE)


@pytest.fixture(scope="session")
def mnist_files(tmp_path_factory):
    return fx.mnist_files(tmp_path_factory)


def test_extraction_and_rewrite_only_touch_import_lines():
    code = "import tensorflow as tf\nfrom tensorflow.keras import x\nds = tf.data  # tensorflow stays here\n"
    assert to_bnlab(code) == "import bnlab as tf\nfrom bnlab.keras import x\nds = tf.data  # tensorflow stays here\n"
    assert extract_cell("In [1]:\nimport a\n\nb = 1\n\n\nout\n\nmore\n", "In [1]:") == (
        "import a\n\nb = 1\n",
        "out\n\nmore",
    )


@pytest.mark.skipif(not SEED.is_file(), reason=f"seed file {SEED} is not available")
def test_seed_004_runs_and_prints_the_recorded_output(mnist_files, tmp_path):
    code, recorded = extract_cell(SEED.read_text())
    assert code.startswith("import tensorflow as tf\n") and "iter(train_dataset)" in code
    script = tmp_path / "seed004.py"
    script.write_text(to_bnlab(code))
    assert "tensorflow" not in "".join(line for line in script.read_text().splitlines() if "import" in line)
    env = {
        **os.environ,
        "BNLAB_DATA_DIR": str(mnist_files / "gz"),
        "HOME": str(tmp_path),
        "BNLAB_MNIST_URL": f"http://127.0.0.1:{fx.closed_port()}/",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    env.pop("KERAS_HOME", None)
    result = subprocess.run(
        [sys.executable, "-W", "error", str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Image batch shape: (64, 28, 28, 1)" in result.stdout
    assert "Label batch shape: (64, 10)" in result.stdout
    assert result.stdout.strip("\n") == recorded
