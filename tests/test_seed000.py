"""Seed 000 (a PyTorch notebook: MNIST, 784-128-10 with and without BatchNorm1d, Adam) runs on bnlab.torch
with only its import lines changed, and trains.

The code is taken from the seed file by text; imports are rewritten by ``seed_runner.port_imports``
(``import torch`` -> ``import bnlab.torch as torch``, ``from torchvision import ...`` ->
``from bnlab.torchvision import ...``);
the test checks that nothing else changed except ``num_epochs = 10`` -> ``num_epochs = 1`` (to stay within
a minute on two cores). Real MNIST is not available offline: the data are the full-size synthetic MNIST
files of ``test_torchvision`` (60000 + 10000 images of class blobs), in torchvision's layout
``./data/MNIST/raw``, so ``download=True`` finds them and fetches nothing.

Seed 000 tests its BatchNorm model without calling ``model.eval()``; bnlab then computes what PyTorch
computes (batch statistics, running statistics updated) and says so once with a
``BatchNormTrainingModeWarning``, which this test expects.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from seed_runner import port_imports
from test_torchvision import full_size_mnist_raw

import bnlab.torch as bt

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"


def seed_file(prefix: str) -> Path:
    """The seed file with this number prefix (the test skips when the seeds are not available)."""
    matches = sorted(SEEDS.glob(f"{prefix}_*.txt"))
    if not matches:
        pytest.skip(f"seed {prefix} is not available at {SEEDS}")
    return matches[0]


def cells(path: Path) -> list[str]:
    """The notebook export's cells (split on its ``In [None]:`` markers)."""
    return [c.strip("\n") for c in path.read_text().split("In [None]:") if c.strip()]


def code_of(cell: str) -> str | None:
    """The code block of a cell: from its first torch import to the last line that keeps the block valid
    Python (prose follows code in some cells). Two artefacts of the export are repaired: a cell number
    glued to the import ("3.import torch") and a stray leading space before it (" import torch")."""
    lines = cell.split("\n")
    start = next((i for i, line in enumerate(lines) if re.match(r"^\s*(\d+\.)?\s*import torch\b", line)), None)
    if start is None:
        return None
    lines = lines[start:]
    lines[0] = re.sub(r"^\s*(\d+\.)?\s*", "", lines[0])
    for end in range(len(lines), 0, -1):
        source = "\n".join(lines[:end]).rstrip()
        try:
            compile(source, "<seed>", "exec")
        except SyntaxError:
            continue
        return source
    return None


def port(code: str, epochs: int) -> str:
    """The code with imports rewritten (``seed_runner.port_imports``) and ``num_epochs`` shrunk; asserts that
    nothing else changed."""
    original = code.split("\n")
    ported = [port_imports(line) for line in original]
    ported = [re.sub(r"^num_epochs = \d+$", f"num_epochs = {epochs}", line) for line in ported]
    for before, after in zip(original, ported, strict=True):
        imports = re.match(r"^\s*(import|from) (torch|torchvision)\b", before)
        assert before == after or imports or before.startswith("num_epochs = "), (before, after)
    assert not any(re.search(r"^\s*(import|from) torch", line) for line in ported)
    return "\n".join(ported)


def run_seed(code: str, workdir: Path, tmp_path_factory, monkeypatch) -> dict:
    """Execute ported seed code in ``workdir`` (holding ``data/MNIST/raw``); returns its namespace."""
    data = workdir / "data" / "MNIST"
    data.mkdir(parents=True, exist_ok=True)
    if not (data / "raw").exists():
        (data / "raw").symlink_to(full_size_mnist_raw(tmp_path_factory))
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("BNLAB_DATA_DIR", str(workdir / "bnlab-data"))  # never the user's datasets
    bt.manual_seed(0)
    namespace: dict = {"__name__": "__seed__"}
    exec(compile(code, "<seed>", "exec"), namespace)
    return namespace


def test_seed000_trains_both_models_and_reports_accuracies(tmp_path, tmp_path_factory, monkeypatch, capsys):
    seed_cells = cells(seed_file("000"))
    code = port(code_of(seed_cells[1]), epochs=1)
    with pytest.warns(bt.BatchNormTrainingModeWarning, match="model.eval()") as caught:
        ns = run_seed(code, tmp_path, tmp_path_factory, monkeypatch)
    assert len([w for w in caught if issubclass(w.category, bt.BatchNormTrainingModeWarning)]) == 1
    out = capsys.readouterr().out
    steps = re.findall(r"Epoch \[1/1\], Step \[(\d+)/600\], Loss: (\d+\.\d{4})", out)
    assert [int(s) for s, _ in steps] == [100, 200, 300, 400, 500, 600] * 2
    losses = [float(v) for _, v in steps]
    assert sum(losses[3:6]) / 3 < losses[0] and sum(losses[9:12]) / 3 < losses[6]  # both models learn
    accs = re.findall(
        r"Accuracy of the network (without|with) batch normalization on the 10000 test images: "
        r"([\d.]+) %",
        out,
    )
    assert [kind for kind, _ in accs] == ["without", "with"]
    assert all(float(a) > 85.0 for _, a in accs), out  # about 93 % on the synthetic digits (10 % is chance)
    # The BN model was tested in training mode, as in PyTorch: its running statistics moved on test batches.
    bn = ns["model_with_bn"].bn
    assert int(bn.num_batches_tracked) == 600 + 100
    assert ns["model_with_bn"].training
