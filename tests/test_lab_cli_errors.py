"""Bad input to `bnlab compare`: one line on stderr that says how to fix it, exit status 2, no traceback;
and Ctrl-C in the middle of a sweep keeps every finished run and the same command finishes the rest."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _helpers import cli_args

from bnlab.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--limit", "1000", "--epochs", "1", "--batch-sizes", "64", "--seeds", "1", "--jobs", "1", "--quiet"]


def _env(**extra):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    env.update(extra)
    return env


@pytest.mark.parametrize(
    ("args", "fix"),
    [
        (["--dataset", "imagenet"], "use --dataset with one of fashion_mnist, mnist, cifar10"),
        (["--arch", "resnet50"], "use --arch with one of seed000, seed002, seed003, cnn, custom"),
        (["--arch", "custom"], "add --hidden 256 128"),
        (["--hidden", "256", "0"], "hidden width must be a whole number >= 1"),
        (["--arch", "seed002", "--hidden", "64"], "drop --arch (or use --arch custom)"),
        (["--bn-position", "middle"], "use --bn-position with one of before, after"),
        (["--optimizer", "lbfgs"], "use --optimizer with one of sgd, adam, rmsprop"),
        (["--batch-sizes", "32", "0"], "batch size must be a whole number >= 1, got 0: fix --batch-sizes"),
        (["--batch-sizes", "-8"], "batch size must be a whole number >= 1, got -8"),
        (["--epochs", "0"], "epochs must be a whole number >= 1, got 0: fix --epochs"),
        (["--seeds", "0"], "fix --seeds"),
        (["--lr", "-0.1"], "learning rate must be a positive number"),
        (["--lr", "0.1", "0"], "learning rate must be a positive number, got 0.0: e.g. --lr 0.05"),
        (
            ["--norm", "batch", "instance"],
            "unknown normalization 'instance': use --norm with one of none, batch, layer",
        ),
        (["--norm", "group", "--groups", "3"], "--groups 3 does not divide the width 128"),
        (["--norm", "group", "--groups", "0"], "group count must be a whole number >= 1, got 0: fix --groups"),
        (["--norm", "ghost", "--virtual-batch-size", "5"], "--virtual-batch-size 5 does not divide the batch size 64"),
        (["--init-scale", "1", "-2"], "init scale must be a positive number, got -2.0"),
        (["--dropout", "1.5"], "dropout rate must be in [0, 1), got 1.5"),
        (["--dropout", "0.2", "--dropout-position", "middle"], "use --dropout-position with one of before, after"),
        (["--validation-split", "1.5"], "e.g. --validation-split 0.2"),
        (["--epochs", "two"], "argument --epochs: invalid int value: 'two'"),
        (["--jobs", "0"], "fix --jobs"),
    ],
)
def test_bad_option_is_one_line_and_exit_2(args, fix, tmp_path, capsys):
    try:
        code = main(["compare", *SMALL, "--out", str(tmp_path / "out"), *args])
    except SystemExit as e:  # argparse's own checks (a non-number) exit from inside parse_args
        code = e.code
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("bnlab") and "error" in err and fix in err
    assert not list((tmp_path / "out").glob("runs/*.json"))


def test_limit_beyond_the_dataset_is_one_line_and_exit_2(tmp_path, capsys, fashion):
    assert main(["compare", *SMALL, "--limit", "99999999", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "bnlab: error: --limit 99999999 exceeds the 60000 training samples of fashion_mnist: use --limit 60000 or less"
    ]


def test_unwritable_out_is_one_line_and_exit_2(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    assert main(["compare", *SMALL, "--out", str(blocker / "report")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert f"cannot write to --out {blocker / 'report'}" in err and "choose a folder you can write to" in err


def test_missing_dataset_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BNLAB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("BNLAB_MNIST_URL", "http://127.0.0.1:9/")  # nothing listens there: no download
    assert main(["compare", *SMALL, "--dataset", "mnist", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("bnlab: error: dataset MNIST is missing")
    assert "Fix: To install it by hand, put the four IDX files" in err and str(tmp_path / "data") in err


def test_console_error_has_no_traceback(tmp_path):
    """The real command line, in its own interpreter."""
    proc = subprocess.run(
        [sys.executable, "-m", "bnlab", "compare", "--batch-sizes", "0", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "bnlab: error: batch size must be a whole number >= 1, got 0: fix --batch-sizes"
    ]
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_no_command_is_exit_2(capsys):
    assert main([]) == 2
    assert "bnlab: error: choose a command: bnlab compare [options] or bnlab claims" in capsys.readouterr().err


@pytest.mark.slow
def test_ctrl_c_keeps_finished_runs_and_the_same_command_resumes(tmp_path, fashion):
    out = tmp_path / "out"
    args = [
        sys.executable,
        "-m",
        "bnlab",
        "compare",
        *cli_args(limit=5000, epochs=2, batch_sizes=[16, 32, 64], seeds=1, jobs=2, threads=1, probes_per_epoch=2),
        *cli_args(out=out),
    ]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    deadline = time.monotonic() + 120
    while not list((out / "runs").glob("*.json")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith(f"bnlab: interrupted; every finished run is saved in {out}")
    finished = list((out / "runs").glob("*.json"))
    assert 1 <= len(finished) < 6  # interrupted in the middle
    assert not list(out.rglob("*.tmp"))
    stamps = {}
    for path in finished:
        record = json.loads(path.read_text())  # complete, valid JSON
        assert len(record["epochs"]) == 2
        stamps[path.name] = record["finished"]
    resumed = subprocess.run([*args, "--quiet"], capture_output=True, text=True, env=_env(), timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    records = {p.name: json.loads(p.read_text()) for p in (out / "runs").glob("*.json")}
    assert len(records) == 6
    for name, stamp in stamps.items():
        assert records[name]["finished"] == stamp  # not run again
    assert (out / "report.html").is_file()
