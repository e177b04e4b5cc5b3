"""Fuzz the command line, ``bnlab compare [options]``: random option lists, valid and not. The command must
exit with status 2 and one ``bnlab: error:`` line naming the problem, or accept the options and go on to load
the data (where the test stops it); never a traceback. In process (each example costs milliseconds), plus a
few real ``python -m bnlab`` runs for the process-level exit status.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from unittest import mock

import pytest
from fuzz_support import examples, watchdog
from hypothesis import given
from hypothesis import strategies as st

from bnlab.lab import cli
from bnlab.lab import data as lab_data

OPTIONS = {
    "--dataset": ["fashion_mnist", "mnist", "cifar10", "imagenet"],
    "--arch": ["seed003", "seed002", "nope"],
    "--hidden": ["256", "0", "-3", "8 8", "x"],
    "--bn-position": ["before", "after", "inside"],
    "--optimizer": ["sgd", "adam", "rmsprop", "lbfgs"],
    "--lr": ["0.1", "0", "-1", "nan", "inf", "1e309", "x"],
    "--epochs": ["1", "0", "-1", "2.5", "x", "100000"],
    "--batch-sizes": ["64", "0", "-8", "64 128", "1e3", "x"],
    "--seeds": ["1", "0", "-1", "x"],
    "--limit": ["0", "1000", "-5", "3", "x"],
    "--validation-split": ["0.1", "0", "1", "-0.5", "nan", "x"],
    "--target": ["0.85", "0", "1.5", "nan", "x"],
    "--probes-per-epoch": ["4", "0", "-1", "x"],
    "--jobs": ["1", "0", "-2", "x"],
    "--threads": ["1", "0", "-1", "x"],
    "--rerun": None,
    "--quiet": None,
    "--bogus": ["1"],
}


class _ReachedError(Exception):
    """Raised where the data would load: every option was accepted."""


@st.composite
def argvs(draw):
    argv = ["compare"] if draw(st.integers(0, 9)) else draw(st.sampled_from([[], ["frobnicate"], ["compare", "x"]]))
    for name in draw(st.lists(st.sampled_from(sorted(OPTIONS)), max_size=5)):
        values = OPTIONS[name]
        argv.append(name)
        if values is not None:
            argv.extend(draw(st.sampled_from(values)).split())
    return argv


@examples(2.0)
@given(argv=argvs())
def test_options_exit_2_with_a_message_or_are_accepted(argv, tmp_path_factory):
    def reached(*args, **kwargs):
        raise _ReachedError

    out = tmp_path_factory.mktemp("cli") / "out"
    err = io.StringIO()
    with watchdog(), mock.patch.object(lab_data, "load", reached), contextlib.redirect_stderr(err):
        try:
            status = cli.main([*argv, "--out", str(out)] if argv[:1] == ["compare"] else argv)
        except SystemExit as e:  # argparse
            status = e.code
        except _ReachedError:
            return
    assert status == 2, f"exit status {status}"
    assert_one_error_line(err.getvalue())


def assert_one_error_line(err):
    """``bnlab: error: ...`` or ``bnlab compare: error: ...`` (argparse's form), once, with a message."""
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("bnlab") and ": error: " in line]
    assert len(lines) == 1 and lines[0].split(": error: ", 1)[1].strip(), err


@pytest.mark.parametrize(
    "argv", [["compare", "--epochs", "-1"], ["compare", "--lr", "nan"], ["compare", "--batch-sizes", "x"], ["nope"]]
)
def test_the_process_exits_2_without_a_traceback(argv, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "bnlab", *argv, "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert_one_error_line(proc.stderr)
