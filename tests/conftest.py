"""Shared fixtures: the real Fashion-MNIST from Debian (small slices of it), the seeds' directory, and the
Hypothesis profiles."""

import gzip
import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

# A machine with only bnlab's own dependencies (the GPU runner, .ci/gpu/run.sh) lacks the test-only ones:
# the files that need them are not collected there, instead of failing the whole collection. `make test`
# installs all of them (the package's [test] extra), so nothing is left out in CI.
_NEEDS = {
    "hypothesis": ["fuzz/*", "test_data_pipeline.py", "test_ops_forward.py"],
    "h5py": ["test_keras_saving.py"],
    "pybind11_stubgen": ["test_core_stubs.py"],
}
collect_ignore_glob = [g for mod, globs in _NEEDS.items() if importlib.util.find_spec(mod) is None for g in globs]

if importlib.util.find_spec("hypothesis") is not None:
    from hypothesis import settings

    # Hypothesis profiles. "bnlab" (the default; `make test`): a bounded number of examples, the same ones every
    # run (derandomized), so the fuzz suite (tests/fuzz) takes about a minute. "long" (`make fuzz`,
    # HYPOTHESIS_PROFILE=long): thousands of fresh random examples per test, failures kept in .hypothesis/.
    settings.register_profile("bnlab", max_examples=40, deadline=None, derandomize=True, database=None)
    settings.register_profile("long", max_examples=2000, deadline=None, print_blob=True)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "bnlab"))


def pytest_report_header(config):
    """Which GEMM path the engine starts on: BNLAB_GEMM=cblas (read once when bnlab._core loads) sends every
    product to cblas_sgemm, a stand-in for a machine without AVX-512 or AVX2; the parity tests must pass on both."""
    return f"bnlab GEMM path: {os.environ.get('BNLAB_GEMM') or 'auto'}"


FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
SEEDS_DIR = Path(__file__).resolve().parents[2] / "shared" / "seeds"


def _idx(path):
    with gzip.open(path) as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


@pytest.fixture(scope="session")
def fashion():
    """((x_train, y_train), (x_test, y_test)) as uint8, read directly from Debian's files."""
    if not FASHION_DIR.is_dir():
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    return (
        (_idx(FASHION_DIR / "train-images-idx3-ubyte.gz"), _idx(FASHION_DIR / "train-labels-idx1-ubyte.gz")),
        (_idx(FASHION_DIR / "t10k-images-idx3-ubyte.gz"), _idx(FASHION_DIR / "t10k-labels-idx1-ubyte.gz")),
    )


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """A fresh, empty BNLAB data folder for this test (the dataset loaders' environment, isolated)."""
    import dataset_fixtures

    return dataset_fixtures.isolate(monkeypatch, tmp_path)


@pytest.fixture
def seed_code():
    """Reads the code of a seed file (by number prefix), for the line-for-line tests."""

    def read(prefix):
        matches = sorted(SEEDS_DIR.glob(f"{prefix}_*.txt"))
        if not matches:
            pytest.skip(f"seed {prefix} is not available at {SEEDS_DIR}")
        return matches[0].read_text()

    return read
