"""The sweep's axes beside batch size: what each puts into the network (init scale, dropout position,
normalization), the deployment measurements, the schema's version 2 and the upgrade of version-1 files,
and the refusal of a normalization this build lacks."""

import json

import numpy as np
import pytest

import bnlab.keras as keras
from bnlab.lab import Results, data, deploy, networks, schema, store, sweep
from bnlab.lab.config import LabError, RunSpec, SweepConfig
from bnlab.lab.networks import build_model
from bnlab.lab.runner import run_one


def _spec(**kw):
    base = SweepConfig(arch="seed003", limit=300, epochs=1, batch_sizes=(20,), seeds=1).resolved().runs()[1]
    return RunSpec.from_dict({**base.to_dict(), **kw})


def _tiny_data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n).astype(np.int32)
    x = (rng.integers(0, 60, (n, 6, 6)) + 40 * y[:, None, None]).astype(np.uint8)  # learnable
    return data.LabData("fashion_mnist", x, y, x[:80], y[:80])


def _kernels(spec, shape=(6, 6), classes=4):
    keras.utils.set_random_seed(5)
    model = build_model(spec, shape, classes)
    model.build((None, *shape))
    return [layer.kernel.numpy().copy() for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def test_init_scale_multiplies_the_default_draws():
    ones, twos = _kernels(_spec(init_scale=1.0)), _kernels(_spec(init_scale=2.0))
    for a, b in zip(ones, twos, strict=True):
        np.testing.assert_array_equal(2.0 * a, b)
    limit = np.sqrt(6 / (36 + 128))  # glorot_uniform's bound for the first kernel
    assert np.abs(ones[0]).max() <= limit and np.abs(ones[0]).max() > 0.9 * limit


def test_every_norm_and_no_norm_start_from_the_same_kernels():
    for a, b in zip(_kernels(_spec(norm="none")), _kernels(_spec(norm="batch", dropout=0.0)), strict=True):
        np.testing.assert_array_equal(a, b)
    with_dropout = _kernels(_spec(norm="none", dropout=0.5, dropout_position="before"))
    for a, b in zip(with_dropout, _kernels(_spec(norm="batch", dropout=0.5, dropout_position="before")), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("bn_position", "dropout_position", "order"),
    [
        ("before", "before", ["dense_1", "dropout_1", "bn_1", "relu_1"]),
        ("before", "after", ["dense_1", "bn_1", "relu_1", "dropout_1"]),
        ("after", "before", ["dense_1", "relu_1", "dropout_1", "bn_1"]),
        ("after", "after", ["dense_1", "relu_1", "bn_1", "dropout_1"]),
    ],
)
def test_dropout_goes_where_it_is_asked(bn_position, dropout_position, order):
    spec = _spec(bn_position=bn_position, dropout=0.3, dropout_position=dropout_position)
    names = [layer.name for layer in build_model(spec, (6, 6), 4).layers]
    assert names[1:5] == order
    none = _spec(norm="none", bn_position=bn_position, dropout=0.3, dropout_position=dropout_position)
    assert [n for n in [layer.name for layer in build_model(none, (6, 6), 4).layers] if n != "bn_1"][1:4] == [
        n for n in order if n != "bn_1"
    ]


def test_deployment_block_restores_the_moving_statistics():
    lab_data = _tiny_data()
    record = run_one(_spec(), lab_data, threads=1)
    d = record["deploy"]
    assert d["samples"] == 56 and d["batch_size"] == 8  # 60 held out, whole batches of 8
    assert 0.0 <= d["train_mode_accuracy"] <= 1.0 and set(d["moving_stats"]) == {"bn_1", "bn_2"}
    assert d["inference_accuracy"] == pytest.approx(record["epochs"][-1]["val_accuracy"], abs=0.1)
    # on its own: measuring twice gives the same numbers (the moving statistics were put back)
    keras.utils.set_random_seed(0)
    model = build_model(_spec(), (6, 6), 4)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    x = lab_data.x_train.astype(np.float32) / 255
    model.fit(x, lab_data.y_train, batch_size=20, epochs=1, verbose=0)
    before = [layer.get_weights() for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    first = deploy.measure(model, x[200:], lab_data.y_train[200:], x[:200], lab_data.y_train[:200], _spec())
    after = [layer.get_weights() for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    for a, b in zip(before, after, strict=True):
        for u, v in zip(a, b, strict=True):
            np.testing.assert_array_equal(u, v)
    assert deploy.measure(model, x[200:], lab_data.y_train[200:], x[:200], lab_data.y_train[:200], _spec()) == first


def test_without_batch_statistics_both_modes_agree():
    record = run_one(_spec(norm="none"), _tiny_data(), threads=1)
    d = record["deploy"]
    assert d["train_mode_accuracy"] == d["inference_accuracy"] and d["moving_stats"] == {}


def test_ghost_needs_whole_virtual_batches_in_the_last_batch():
    spec = _spec(norm="ghost", virtual_batch_size=8, batch_size=16)  # 240 training samples: last batch 0 ok
    bad = RunSpec.from_dict({**spec.to_dict(), "batch_size": 24, "limit": 300, "validation_split": 0.25})
    with pytest.raises(LabError, match="last batch of an epoch has 9 samples"):
        run_one(bad, _tiny_data(), threads=1)


def test_a_norm_this_build_lacks_is_refused(monkeypatch):
    monkeypatch.setattr(networks, "norm_available", lambda norm: norm in ("none", "batch"))
    with pytest.raises(LabError, match=r"--norm layer \(LN\) needs LayerNormalization in bnlab.keras.layers"):
        sweep(norms=["none", "layer"], limit=300, epochs=1, seeds=1, batch_sizes=[20])


def _v1(records, config):
    """A version-1 metrics document, as bnlab wrote them before the axes: 'bn' instead of 'norm'."""
    runs = []
    for r in records:
        spec = {k: v for k, v in r["spec"].items() if k not in ("norm", "groups", "virtual_batch_size")}
        spec = {k: v for k, v in spec.items() if k not in ("init_scale", "dropout", "dropout_position")}
        spec["bn"] = r["norm"] == "batch"
        run = {k: v for k, v in r.items() if k not in ("norm", "learning_rate", "init_scale", "dropout", "deploy")}
        runs.append({**run, "spec": spec, "bn": spec["bn"]})
    cfg = {k: v for k, v in config.items() if k not in ("norms", "groups", "virtual_batch_size", "init_scales")}
    cfg = {k: v for k, v in cfg.items() if k not in ("dropouts", "dropout_position", "learning_rates")}
    cfg["learning_rate"] = config["learning_rates"][0]
    return {
        "schema": "bnlab.lab.metrics",
        "schema_version": 1,
        "config": cfg,
        "execution": {"jobs": 1, "threads": 1, "scheduler": None},
        "dataset": {"name": "fashion_mnist", "classes": 4, "input_shape": [6, 6], "n_samples": 300, "n_test": 80},
        "runs": runs,
        "failed": [],
        "summary": {"rows": []},
    }


def test_version_1_files_are_upgraded_and_unknown_versions_refused(tmp_path):
    config = SweepConfig(arch="seed003", limit=300, epochs=2, batch_sizes=(20,), seeds=1).resolved()
    records = [json.loads(store.dumps(run_one(s, _tiny_data(), threads=1))) for s in config.runs()]
    (tmp_path / "metrics.json").write_text(json.dumps(_v1(records, config.to_dict())))
    old = Results.load(tmp_path)
    assert [r["norm"] for r in old.records] == ["none", "batch"]
    assert old.config["norms"] == ["none", "batch"] and old.config["learning_rates"] == [0.5]
    row = old.summary().rows[0]
    new = Results(config.to_dict(), records).summary().rows[0]
    assert row["vs_baseline"]["batch"]["gap_final"] == new["vs_baseline"]["batch"]["gap_final"]
    doc = json.loads(store.dumps(old.document()))
    doc["runs"] = [{k: v for k, v in r.items()} for r in doc["runs"]]
    assert schema.validate(doc) == []  # written back, it is a valid version-2 document
    (tmp_path / "metrics.json").write_text(json.dumps({**_v1(records, config.to_dict()), "schema_version": 7}))
    with pytest.raises(LabError, match=r"schema version 7, which this bnlab \(version 2\) cannot read"):
        Results.load(tmp_path)
    (tmp_path / "metrics.json").write_text("{not json")
    with pytest.raises(LabError, match="cannot read"):
        Results.load(tmp_path)


@pytest.mark.slow
def test_compare_sweeps_the_product_of_the_axes(tmp_path, fashion):
    from bnlab.__main__ import main

    out = tmp_path / "out"
    args = ["compare", "--limit", "1000", "--epochs", "2", "--batch-sizes", "50", "--seeds", "1", "--jobs", "2"]
    args += ["--threads", "1", "--lr", "0.1", "0.5", "--init-scale", "1", "2", "--probes-per-epoch", "2"]
    assert main([*args, "--out", str(out), "--quiet"]) == 0
    doc = json.loads((out / "metrics.json").read_text())
    assert schema.validate(doc) == []
    cells = {(r["learning_rate"], r["init_scale"], r["norm"]) for r in doc["runs"]}
    assert len(doc["runs"]) == 8 and len(cells) == 8
    assert len(doc["summary"]["rows"]) == 4 and all(
        set(r["models"]) == {"none", "batch"} for r in doc["summary"]["rows"]
    )
    assert (out / "plots" / "axes.png").stat().st_size > 5000
    md = (out / "report.md").read_text()
    assert "| batch size | lr | init scale | norm |" in md
    with open(out / "epochs.csv") as f:
        assert f.readline().startswith("run_id,batch_size,learning_rate,init_scale,dropout,seed,norm,epoch")


KINDS = {"layer": "layernorm", "group": "groupnorm", "renorm": "batchnorm", "ghost": "batchnorm"}


@pytest.mark.parametrize("norm", sorted(KINDS))
def test_each_alternative_trains_when_this_build_has_it(norm):
    if not networks.norm_available(norm):
        pytest.skip(f"this build of bnlab has no layer for --norm {norm}")
    spec = _spec(norm=norm, groups=4 if norm == "group" else None, virtual_batch_size=4 if norm == "ghost" else None)
    record = run_one(spec, _tiny_data(), threads=1)
    assert [layer["kind"] for layer in record["layers"]] == ["dense", KINDS[norm], "dense", KINDS[norm], "output"]
    assert not record["diverged"] and record["run_id"].startswith(f"bs20-seed0-{norm}-")
    d = record["deploy"]
    if KINDS[norm] == "batchnorm":
        assert set(record["bn_final"]) == set(d["moving_stats"]) and len(d["moving_stats"]) == 2
    else:  # no batch statistics: one function in both modes
        assert d["train_mode_accuracy"] == pytest.approx(d["inference_accuracy"], abs=1e-9)


@pytest.mark.skipif(not hasattr(keras.layers, "Conv2D"), reason="this build of bnlab has no Conv2D")
def test_the_cnn_arch_runs_on_grey_images():
    spec = _spec(arch="cnn", hidden=(4, 8, 16), bn_position="before")
    record = run_one(spec, _tiny_data(), threads=1)
    kinds = [layer["kind"] for layer in record["layers"]]
    assert kinds == ["conv", "batchnorm", "conv", "batchnorm", "dense", "batchnorm", "output"]
    assert [layer["units"] for layer in record["layers"]] == [4, 4, 8, 8, 16, 16, 4]
    assert len(record["bn_final"]["bn_conv1"]["moving_mean"]) == 4  # one statistic per channel
    assert not record["diverged"] and schema.validate(json.loads(store.dumps(record)), schema.RUN) == []
