"""`bnlab claims`: the verdict rule on synthetic effects (all three outcomes), each claim's effect computed
from synthetic run records by hand, the CLI's errors (exit 2), and a real small run of three claims (15 s)."""

import json

import pytest

from bnlab.__main__ import main
from bnlab.lab import Results, claims
from bnlab.lab.claimset import CLAIMS, measure, sweeps, verdict


@pytest.mark.parametrize(
    ("effects", "expected"),
    [
        ([2.0, 3.0, 2.5], "supports"),  # all > 0, mean 2.5 > std 0.5
        ([-2.0, -3.0, -2.5], "weakens"),
        ([2.0, -1.0, 3.0], "cannot tell"),  # mixed signs
        ([0.1, 5.0, 0.2], "cannot tell"),  # all > 0 but mean 1.77 < std 2.8
        ([1.0, 2.0], "cannot tell"),  # two seeds: too few
        ([1.0, 2.0, float("nan")], "cannot tell"),  # a diverged seed does not count
    ],
)
def test_verdict_rule(effects, expected):
    word, reason = verdict(effects)
    assert word == expected
    assert reason


def test_verdict_rule_threshold_is_k_times_the_spread():
    effects = [1.0, 2.0, 3.0]  # mean 2, sample std 1
    assert verdict(effects, k=1.9)[0] == "supports"
    assert verdict(effects, k=2.1)[0] == "cannot tell"


def _run(norm, seed, vals, *, bs=64, lr=0.1, scale=1.0, dropout=0.0, times=(1.0, 1.0), deploy=None):
    return {
        "run_id": f"{norm}-{seed}-{bs}-{lr}-{scale}-{dropout}",
        "norm": norm,
        "seed": seed,
        "batch_size": bs,
        "learning_rate": lr,
        "init_scale": scale,
        "dropout": dropout,
        "epochs": [{"val_accuracy": v, "epoch_time": t} for v, t in zip(vals, times, strict=True)],
        "deploy": deploy,
    }


def _results(records, **config):
    base = {
        "norms": ["none", "batch"],
        "batch_sizes": [64],
        "learning_rates": [0.1],
        "init_scales": [1.0],
        "dropouts": [0.0],
        "seed_list": [0, 1, 2],
        "epochs": 2,
        "dataset": "fashion_mnist",
        "arch": "seed003",
        "hidden": [128, 64],
        "bn_position": "before",
        "dropout_position": "before",
        "groups": 4,
        "virtual_batch_size": 8,
        "optimizer": "sgd",
        "limit": 1000,
        "validation_split": 0.2,
        "probe_size": 256,
        "probes_per_epoch": 2,
        "target_accuracy": None,
    }
    return Results({**base, **config}, records)


def test_convergence_and_overhead_effects_are_paired_by_seed():
    records = []
    for s, (no, bn) in enumerate(((0.5, 0.6), (0.4, 0.55), (0.45, 0.5))):
        records += [_run("none", s, [no, 0.8], times=(1.0, 1.0)), _run("batch", s, [bn, 0.8], times=(1.1, 1.3))]
    effects, panels = measure("convergence", _results(records))
    assert effects == pytest.approx({0: 10.0, 1: 15.0, 2: 5.0})
    assert panels["conditions"] == ["epoch 1", "epoch 2"]
    effects, _ = measure("overhead", _results(records))
    assert effects == pytest.approx({0: 10.0, 1: 10.0, 2: 10.0})  # fastest epochs: 1.1 over 1.0, minus 1


def test_grid_claims_read_the_right_cells():
    rec = []
    for s in range(3):
        for lr, no, bn in ((0.1, 0.8, 0.82), (2.0, 0.1, 0.7 + 0.01 * s)):
            rec += [_run("none", s, [no, no], lr=lr), _run("batch", s, [bn, bn], lr=lr)]
    effects, _ = measure("learning_rate", _results(rec, learning_rates=[0.1, 2.0]))
    assert effects == pytest.approx({0: 60.0, 1: 61.0, 2: 62.0})  # at the largest rate only
    rec = []
    for s in range(3):
        for scale, no, bn in ((0.25, 0.6, 0.80), (1.0, 0.8, 0.82), (4.0, 0.3, 0.78)):
            rec += [_run("none", s, [no, no], scale=scale), _run("batch", s, [bn, bn], scale=scale)]
    effects, _ = measure("initialization", _results(rec, init_scales=[0.25, 1.0, 4.0]))
    assert effects == pytest.approx(dict.fromkeys(range(3), 50.0 - 4.0))  # spreads 50 and 4 points
    rec = []
    for s in range(3):
        for bs, no, bn in ((4, 0.80, 0.70), (64, 0.78, 0.80)):
            rec += [_run("none", s, [no, no], bs=bs), _run("batch", s, [bn, bn], bs=bs)]
    effects, _ = measure("small_batch", _results(rec, batch_sizes=[4, 64]))
    assert effects == pytest.approx(dict.fromkeys(range(3), 2.0 - (-10.0)))
    rec = []
    for s in range(3):
        for p, no, bn in ((0.0, 0.80, 0.82), (0.5, 0.79, 0.70)):
            rec += [_run("none", s, [no, no], dropout=p), _run("batch", s, [bn, bn], dropout=p)]
    effects, _ = measure("dropout", _results(rec, dropouts=[0.0, 0.5]))
    assert effects == pytest.approx(dict.fromkeys(range(3), 12.0 - 1.0))


def test_deployment_and_regularization_read_the_deploy_block():
    def dep(train, inf, train_mode):
        return {
            "train_accuracy": train,
            "inference_accuracy": inf,
            "train_mode_accuracy": train_mode,
            "shifted_inference_accuracy": inf - 0.2,
            "shifted_train_mode_accuracy": train_mode,
            "moving_stats": {"bn_1": {"mean_error": 0.1, "log_var_error": 0.2}},
        }

    rec = []
    for s in range(3):
        rec += [
            _run("none", s, [0.8, 0.8], deploy=dep(0.95, 0.80, 0.80)),
            _run("batch", s, [0.8, 0.8], deploy=dep(0.90, 0.82, 0.72 - 0.01 * s)),
        ]
    effects, _ = measure("deployment", _results(rec))
    assert effects == pytest.approx({0: 10.0, 1: 11.0, 2: 12.0})
    effects, _ = measure("regularization", _results(rec))
    assert effects == pytest.approx(dict.fromkeys(range(3), 15.0 - 8.0))


def test_every_claim_has_a_sweep_and_at_least_three_seeds():
    plan = sweeps("quick")
    assert {c.sweep for c in CLAIMS.values()} <= set(plan)
    assert all(kw["seeds"] >= 3 for kw in plan.values())


@pytest.mark.parametrize(
    ("args", "fix"),
    [
        (["--only", "telepathy"], "unknown claim 'telepathy': use --only with some of convergence"),
        (["--seeds", "2"], "--seeds must be a whole number >= 3, got 2"),
        (["--seeds", "x"], "argument --seeds: invalid int value: 'x'"),
    ],
)
def test_claims_cli_bad_input_is_one_line_and_exit_2(args, fix, tmp_path, capsys):
    try:
        code = main(["claims", "--out", str(tmp_path / "out"), "--quiet", *args])
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("bnlab") and fix in err


@pytest.mark.slow
def test_a_real_run_of_three_claims_writes_a_computed_report(tmp_path, fashion):
    """Convergence, overhead and deployment share one sweep (6 runs of the quick preset)."""
    out = tmp_path / "claims"
    result = claims(out=out, quick=True, only=["convergence", "overhead", "deployment"], jobs=2, threads=1)
    doc = json.loads((out / "claims.json").read_text())
    assert doc["schema"] == "bnlab.lab.claims" and [c["name"] for c in doc["claims"]] == [
        "convergence",
        "overhead",
        "deployment",
    ]
    runs = Results.load(out / "base").records
    assert len(runs) == 6
    for entry in doc["claims"]:
        effects = {int(k): v for k, v in entry["effect"]["per_seed"].items()}
        assert sorted(effects) == [0, 1, 2]
        assert entry["verdict"] == verdict(list(effects.values()))[0]  # recomputed from the stored effects
        assert (out / "plots" / f"{entry['name']}.png").stat().st_size > 5000
    by = {(r["norm"], r["seed"]): r for r in runs}
    first = {int(k): v for k, v in doc["claims"][0]["effect"]["per_seed"].items()}
    for s, v in first.items():  # the convergence effect is the epoch-1 gap of the stored runs
        gap = by["batch", s]["epochs"][0]["val_accuracy"] - by["none", s]["epochs"][0]["val_accuracy"]
        assert v == pytest.approx(100 * gap)
    md = (out / "report.md").read_text()
    for entry in doc["claims"]:
        assert entry["statement"] in md and f"**{entry['verdict']}**" in md
    assert result.text().count("\n") == 2
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "base" / "runs").glob("*.json")}
    claims(out=out, quick=True, only=["overhead"], jobs=1)  # resumes: nothing is trained again
    assert {p.name: p.stat().st_mtime_ns for p in (out / "base" / "runs").glob("*.json")} == stamps
