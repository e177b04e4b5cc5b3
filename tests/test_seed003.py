"""Seed 003 runs on bnlab with only `tensorflow` changed to `bnlab` in its imports.

MNIST cannot be downloaded here, so the test puts Debian's Fashion-MNIST (same IDX format and shapes) where
the MNIST loader looks ($BNLAB_DATA_DIR/mnist/), and runs the seed's training cell as written: two models, five
epochs each, batch 32, one shared Adam object (tf.keras 2 accepted that; bnlab keeps per-parameter state).
"""

import re

import pytest
from conftest import FASHION_DIR
from seed_runner import cell, port_imports, run


@pytest.fixture
def mnist_dir(tmp_path, monkeypatch):
    if not FASHION_DIR.is_dir():
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    target = tmp_path / "mnist"
    target.mkdir()
    for f in FASHION_DIR.glob("*-ubyte.gz"):
        (target / f.name).symlink_to(f)
    monkeypatch.setenv("BNLAB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.keras cache from the machine
    return target


def test_imports_are_the_only_change(seed_code):
    code = cell(seed_code("003"), "In [3]:", "Epoch 1/5")
    ported = port_imports(code)
    changed = [(a, b) for a, b in zip(code.splitlines(), ported.splitlines(), strict=True) if a != b]
    assert changed == [
        ("import tensorflow as tf", "import bnlab as tf"),
        (
            "from tensorflow.keras import layers, models, datasets",
            "from bnlab.keras import layers, models, datasets",
        ),
    ]


@pytest.mark.slow
def test_seed003_trains_and_reports(seed_code, mnist_dir):
    code = cell(seed_code("003"), "In [3]:", "Epoch 1/5")
    out, ns = run(code)
    assert out.count("Epoch 5/5") == 2
    accs = [float(v) for v in re.findall(r"Validation Accuracy: ([0-9.]+)", out)]
    assert len(accs) == 2 and all(a > 0.8 for a in accs), out[-500:]
    assert ns["history_with_batch_norm"].history["val_accuracy"][-1] == accs[1]
    assert ns["model_with_batch_norm"].count_params() == 110_154
