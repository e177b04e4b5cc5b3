"""`bnlab compare` end to end on a small sweep: every artifact exists and holds what it should, the numbers
agree between JSON, CSV, summary and report, and a second invocation resumes instead of re-running."""

import csv
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from _helpers import cli_args

from bnlab.__main__ import main
from bnlab.lab import Results, analysis, schema
from bnlab.lab.conclusions import signed

pytestmark = pytest.mark.slow

ARGS = [
    "compare",
    *cli_args(limit=3000, epochs=2, batch_sizes=[64, 128], seeds=1, jobs=2, threads=1, probes_per_epoch=4),
]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, fashion):
    out = tmp_path_factory.mktemp("compare") / "out"
    assert main([*ARGS, "--out", str(out), "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def doc(run_dir):
    return json.loads((run_dir / "metrics.json").read_text())


def test_every_artifact_is_written(run_dir):
    names = {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file()}
    expected = {
        "metrics.json",
        "metrics.schema.json",
        "epochs.csv",
        "layers.csv",
        "bn.csv",
        "trace.csv",
        "report.html",
        "report.md",
        "plots/curves.png",
        "plots/batch_size.png",
        "plots/drift.png",
        "plots/gradients.png",
        "plots/bn_params.png",
    }
    assert expected <= names
    assert len([n for n in names if n.startswith("runs/")]) == 4  # 2 batch sizes x 1 seed x (none, batch)
    assert "plots/axes.png" not in names  # only batch size was swept
    assert not [n for n in names if n.endswith(".tmp")]


def test_metrics_json_matches_its_schema(run_dir, doc):
    assert schema.validate(doc) == []
    written = json.loads((run_dir / "metrics.schema.json").read_text())
    assert written == schema.SCHEMA
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(doc, written)  # an independent validator agrees


def test_runs_hold_sane_measurements(doc):
    assert len(doc["runs"]) == 4
    for run in doc["runs"]:
        assert [e["epoch"] for e in run["epochs"]] == [1, 2]
        assert run["n_train"] == 2400 and run["n_val"] == 600
        last = run["epochs"][-1]
        assert last["val_accuracy"] > 0.3  # chance is 0.1
        assert last["epoch_time"] > 0
        assert set(last["layers"]) == {"dense_1", "dense_2", "output"}
        for name in ("dense_1", "dense_2"):
            stats = last["layers"][name]
            assert stats["z_std"] > 0 and 0 < stats["relu_zero_frac"] < 1
            assert stats["act_p15"] <= stats["act_p50"] <= stats["act_p85"]
            assert 0 < stats["update_ratio_step"] < stats["update_ratio_epoch"]
        d = run["deploy"]
        assert d["samples"] == 600 and 0.3 < d["inference_accuracy"] <= 1
        if run["norm"] == "batch":
            assert set(last["bn"]) == {"bn_1", "bn_2"} and set(d["moving_stats"]) == {"bn_1", "bn_2"}
            assert len(run["bn_final"]["bn_1"]["moving_mean"]) == 128
            # BN before ReLU, applied with the probe batch's statistics: the ReLU input is standardized
            # up to gamma and beta, which stay near 1 and 0 after two epochs
            assert abs(last["layers"]["dense_1"]["act_mean"]) < 0.3
            assert 0.7 < last["layers"]["dense_1"]["act_std"] < 1.3
        else:
            assert last["bn"] == {} and run["bn_final"] == {}
        assert run["trace"][0]["step"] == 0 and run["trace"][-1]["epoch"] == 2.0


def test_bn_and_no_bn_start_from_the_same_weights(doc):
    """The paired design: same seed -> same initial Dense outputs on the probe batch."""
    by = {(r["batch_size"], r["norm"]): r for r in doc["runs"]}
    for bs in (64, 128):
        z0 = by[bs, "none"]["trace"][0]["layers"]["dense_1"], by[bs, "batch"]["trace"][0]["layers"]["dense_1"]
        assert z0[0]["z_mean"] == z0[1]["z_mean"] and z0[0]["z_std"] == z0[1]["z_std"]


def test_csv_tables_match_the_json(run_dir, doc):
    with open(run_dir / "epochs.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == sum(len(r["epochs"]) for r in doc["runs"])
    by_id = {r["run_id"]: r for r in doc["runs"]}
    for row in rows:
        epoch = by_id[row["run_id"]]["epochs"][int(row["epoch"]) - 1]
        assert float(row["val_accuracy"]) == epoch["val_accuracy"]
        assert float(row["loss"]) == epoch["loss"]
    with open(run_dir / "layers.csv") as f:
        layers = list(csv.DictReader(f))
    assert len(layers) == 4 * 2 * 3  # runs x epochs x Dense layers
    with open(run_dir / "bn.csv") as f:
        assert len(list(csv.DictReader(f))) == 2 * 2 * 2  # BN runs x epochs x BN layers


def test_summary_numbers_match_the_runs(doc):
    summary = doc["summary"]
    assert [r["batch_size"] for r in summary["rows"]] == [64, 128]
    by = {(r["batch_size"], r["norm"]): r for r in doc["runs"]}
    for row in summary["rows"]:
        for norm in ("none", "batch"):
            run, m = by[row["batch_size"], norm], row["models"][norm]
            assert m["val_accuracy_final"] == run["epochs"][-1]["val_accuracy"]
            assert m["val_accuracy_epoch1"] == run["epochs"][0]["val_accuracy"]
            assert m["epoch_time"] == pytest.approx(np.median([e["epoch_time"] for e in run["epochs"]]))
            assert m["test_accuracy"] == run["test"]["accuracy"]
            vals = [e["val_accuracy"] for e in run["epochs"]]
            reached = [i + 1 for i, v in enumerate(vals) if v >= summary["target_accuracy"]]
            assert m["epochs_to_target"] == (reached[0] if reached else None)
        gap = 100 * (row["models"]["batch"]["val_accuracy_final"] - row["models"]["none"]["val_accuracy_final"])
        assert row["vs_baseline"]["batch"]["gap_final"] == pytest.approx(gap)
    peaks = [max(e["val_accuracy"] for e in r["epochs"]) for r in doc["runs"]]  # one seed: the run is the mean
    assert summary["target_accuracy"] == np.floor(min(peaks) * 100) / 100


def test_conclusion_is_computed_from_the_numbers(doc):
    summary = doc["summary"]
    text = " ".join(summary["conclusions"])
    assert f"{100 * summary['target_accuracy']:.1f}%" in text
    for row in summary["rows"]:
        for key in ("gap_final", "gap_epoch1"):
            assert f"{signed(row['vs_baseline']['batch'][key])} points" in text
    overhead = [r["vs_baseline"]["batch"]["time_overhead"] for r in summary["rows"]]
    assert f"{abs(np.mean(overhead)) * 100:.0f}% {'longer' if np.mean(overhead) > 0 else 'less'}" in text


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.sources.append(dict(attrs)["src"])


def test_report_references_images_that_exist(run_dir, doc):
    parser = _Images()
    html = (run_dir / "report.html").read_text()
    parser.feed(html)
    assert len(parser.sources) == 5
    for src in parser.sources:
        assert (run_dir / src).is_file()
    md = (run_dir / "report.md").read_text()
    for src in re.findall(r"!\[[^]]*\]\(([^)]+)\)", md):
        assert (run_dir / src).is_file()
    for row in doc["summary"]["rows"]:  # the table shows the summary's numbers
        for norm, name in (("none", "no norm"), ("batch", "BN")):
            cell = f"| {row['batch_size']} | {name} | {100 * row['models'][norm]['val_accuracy_epoch1']:.1f}% |"
            assert cell in md
            assert f"<td>{100 * row['models'][norm]['val_accuracy_epoch1']:.1f}%</td>" in html
    for sentence in doc["summary"]["conclusions"]:
        assert sentence in md


def test_plots_are_real_images(run_dir):
    import matplotlib.image

    for png in (run_dir / "plots").glob("*.png"):
        data = png.read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 1024, png.name
        image = matplotlib.image.imread(png)
        assert image.shape[0] > 300 and image.shape[1] > 600
        assert image[..., :3].std() > 0.05  # not a blank canvas


def test_results_api_reads_the_folder(run_dir):
    res = Results.load(run_dir)
    assert len(res.records) == 4
    html = res._repr_html_()
    assert "<table" in html and "final val acc" in html and "no norm" in html
    assert str(res.summary()).startswith("batch size")
    fig = res.plot("curves")
    assert len(fig.axes) == 4
    with pytest.raises(ValueError, match="unknown plot"):
        res.plot("nope")
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install pandas"):
            res.to_frame()
    else:
        assert len(res.to_frame("epochs")) == 8
    assert len(res.tables()["epochs"]) == 8
    cells = [(bs, 0.5, 1.0, 0.0) for bs in (64, 128)]
    assert analysis.groups(res.records).keys() == {(c, n) for c in cells for n in ("none", "batch")}


@pytest.fixture
def copied_dir(run_dir, tmp_path):
    """A copy of the run folder, for the tests that change it."""
    return Path(shutil.copytree(run_dir, tmp_path / "copy"))


def test_second_invocation_skips_finished_runs(copied_dir, capsys):
    run_dir = copied_dir
    runs = sorted((run_dir / "runs").glob("*.json"))
    before = {p.name: (p.stat().st_mtime_ns, json.loads(p.read_text())["finished"]) for p in runs}
    victim = runs[0]
    victim.unlink()  # as if the sweep had been interrupted before this run finished
    assert main([*ARGS, "--out", str(run_dir)]) == 0
    err = capsys.readouterr().err
    assert "3 of 4 runs already finished in this folder: skipping them" in err
    assert err.count("] bs=") == 1  # exactly one run executed
    after = {
        p.name: (p.stat().st_mtime_ns, json.loads(p.read_text())["finished"]) for p in (run_dir / "runs").glob("*.json")
    }
    assert set(after) == set(before)
    for name, stamp in before.items():
        if name != victim.name:
            assert after[name] == stamp  # untouched
    assert after[victim.name][1] != before[victim.name][1]  # re-run
    assert schema.validate(json.loads((run_dir / "metrics.json").read_text())) == []


def test_changed_options_do_not_reuse_runs(copied_dir, capsys):
    """A run is identified by everything that decides its numbers: other probes make other runs."""
    assert main([*ARGS[:-2], "--probes-per-epoch", "2", "--batch-sizes", "128", "--out", str(copied_dir)]) == 0
    assert "already finished" not in capsys.readouterr().err
    assert len(list((copied_dir / "runs").glob("*.json"))) == 6
    assert [r["batch_size"] for r in Results.load(copied_dir).records] == [128, 128]
