"""docs/TORCH_COVERAGE.md is what tools/torch_coverage.py gives for this tree against the PyTorch it was written
against (skipped without that PyTorch), and every name it lists as present is there."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

torch = pytest.importorskip("torch")
import torch_coverage  # noqa: E402

import bnlab.torch as bt  # noqa: E402


def test_the_coverage_table_is_current():
    written = torch_coverage.DOC.read_text()
    version = re.search(r"against PyTorch (\S+) ", written).group(1)
    if version != torch.__version__:
        pytest.skip(f"the table was written against PyTorch {version}, this is {torch.__version__}")
    assert torch_coverage.render() == written, "run python tools/torch_coverage.py"


def test_every_listed_name_is_present_and_a_missing_one_is_not():
    for family, names, owner in torch_coverage.families():
        have = [n for n in names if torch_coverage._has(owner, n)]
        assert have, family
        missing = [n for n in names if n not in have]
        probe = bt.tensor([1.0]) if family == "Tensor methods" else owner  # an instance: the class's is Python's
        with pytest.raises(AttributeError, match="does not have it yet"):
            getattr(probe, missing[0])
