"""Seed 001 (a notebook mixing prose and PyTorch code blocks) runs on bnlab.torch with only its import lines
changed: every code block, in order, in one namespace as a notebook kernel would run them.

Code blocks are found by text (``test_seed000.code_of``: from a cell's first ``import torch`` to the end of
the valid Python that follows; the export glued cell numbers to imports, "3.import torch", which is
repaired). ``num_epochs = 10`` becomes ``num_epochs = 1`` to stay within a minute on two cores. The data are
the full-size synthetic MNIST of ``test_torchvision`` under ``./data/MNIST/raw`` (the seed's root='data' and
download=True find them there; nothing is fetched).
"""

from __future__ import annotations

import re

from test_seed000 import cells, code_of, port, run_seed, seed_file


def seed001_blocks() -> list[str]:
    blocks = [code_of(cell) for cell in cells(seed_file("001"))]
    return [b for b in blocks if b is not None]


def test_seed001_has_five_code_blocks_including_the_conditional_bn_model():
    blocks = seed001_blocks()
    assert len(blocks) == 5
    assert "if self.use_batch_norm:\n            self.bn1 = nn.BatchNorm1d(hidden_size)" in blocks[4]


def test_seed001_code_blocks_train_and_report(tmp_path, tmp_path_factory, monkeypatch, capsys):
    code = "\n\n".join(port(block, epochs=1) for block in seed001_blocks())
    ns = run_seed(code, tmp_path, tmp_path_factory, monkeypatch)
    out = capsys.readouterr().out
    # Blocks 2, 3 and 4 train one model for an epoch of 938 batches of 64 and test it in eval mode.
    steps = re.findall(r"Epoch \[1/1\], Step \[(\d+)/938\], Loss: (\d+\.\d{4})", out)
    assert [int(s) for s, _ in steps] == list(range(100, 1000, 100)) * 3
    accs = [float(a) for a in re.findall(r"Test Accuracy: ([\d.]+)%", out)]
    assert len(accs) == 3 and all(a > 85.0 for a in accs), out
    # Block 5 trains both models side by side and prints both losses every 100 steps.
    no_bn = [float(v) for v in re.findall(r"Loss without BN: (\d+\.\d{4})", out)]
    with_bn = [float(v) for v in re.findall(r"Loss with BN: (\d+\.\d{4})", out)]
    assert len(no_bn) == len(with_bn) == 9
    assert sum(no_bn[-3:]) / 3 < 1.0 and sum(with_bn[-3:]) / 3 < 1.0  # ln(10) = 2.30 is chance
    with_bn_model, no_bn_model = ns["model_with_bn"], ns["model_no_bn"]
    assert hasattr(with_bn_model, "bn1") and not hasattr(no_bn_model, "bn1")
    assert [name for name, _ in with_bn_model.named_parameters()] == [
        "fc1.weight",
        "fc1.bias",
        "bn1.weight",
        "bn1.bias",
        "fc2.weight",
        "fc2.bias",
    ]
    assert sum(p.numel() for p in with_bn_model.parameters()) == 102026
    assert int(with_bn_model.bn1.num_batches_tracked) == 938
