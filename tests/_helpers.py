"""Small pieces several test files share (fixtures shared by many live in conftest.py)."""

import pickle

import pytest

from bnlab.datasets import DatasetFileError, _cifar


def cli_args(**options):
    """Command-line options from keywords, in their order: batch_sizes=[16, 32] gives --batch-sizes 16 32."""
    out = []
    for name, value in options.items():
        out.append("--" + name.replace("_", "-"))
        out += [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]
    return out


def assert_pickle_refused(payload, marker, *, live=False):
    """The CIFAR reader refuses the pickle without running it (`marker` is the file its payload would create);
    live=True also checks that an ordinary unpickler does run it, so that the refusal is what kept it inert."""
    with pytest.raises(DatasetFileError, match=r"batch: unsafe or malformed pickle: refusing to load global"):
        _cifar.restricted_loads(payload, "batch")
    assert not marker.exists()
    if live:
        pickle.loads(payload)
        assert marker.exists()
