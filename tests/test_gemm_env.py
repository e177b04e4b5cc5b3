"""BNLAB_GEMM, read once when bnlab._core loads: "cblas" starts the engine with every product on cblas_sgemm (the
path of a CPU without AVX-512 or AVX2, for running the suite both ways), unset or "auto" on the engine's own GEMM where
the build has it, anything else fails the import with a message that names the variable."""

import os
import subprocess
import sys

import pytest

PROBE = "import bnlab._core as c; was = c.ops.set_narrow_gemm(True); print(was, c.ops.narrow_gemm_available())"


def run(value):
    env = {k: v for k, v in os.environ.items() if k != "BNLAB_GEMM"}
    if value is not None:
        env["BNLAB_GEMM"] = value
    return subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120)


def test_cblas_starts_with_the_engine_gemm_off():
    out = run("cblas")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == "False"


@pytest.mark.parametrize("value", [None, "", "auto"])
def test_default_starts_with_the_engine_gemm_where_built(value):
    out = run(value)
    assert out.returncode == 0, out.stderr
    was, available = out.stdout.split()
    assert was == "True"  # the switch is on; narrow_gemm_available() says whether this build has the kernel
    assert available in ("True", "False")


@pytest.mark.parametrize("value", ["CBLAS", "mkl", "0"])
def test_unknown_value_fails_the_import_naming_the_variable(value):
    out = run(value)
    assert out.returncode != 0
    assert f"BNLAB_GEMM='{value}' is not a GEMM path" in out.stderr
