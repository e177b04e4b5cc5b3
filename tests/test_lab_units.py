"""The lab's pieces on their own: the recorder's measurements against direct computations, the schema
validator, atomic writes, the summary's arithmetic, run identity, the worker protocol and failures."""

import io
import json
import os

import numpy as np
import pytest

import bnlab.keras as keras
from bnlab._files import write_atomic
from bnlab.lab import analysis, data, executor, recorder, schema, store, worker
from bnlab.lab.config import LabError, RunSpec, SweepConfig
from bnlab.lab.networks import build_model
from bnlab.lab.progress import SweepProgress
from bnlab.lab.runner import run_one


def _spec(**kw):
    base = SweepConfig(arch="seed003", limit=1000, epochs=1, batch_sizes=(50,), seeds=1).resolved().runs()[1]
    return RunSpec.from_dict({**base.to_dict(), **kw})


def test_bn_probe_view_equals_the_engine_in_training_mode():
    keras.utils.set_random_seed(1)
    model = build_model(_spec(), (6,), 3)
    x = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32)
    model.build((None, 6))
    dense, bn = model.layers[1], model.layers[2]
    bn.gamma.assign(np.linspace(0.5, 2, 128))
    bn.beta.assign(np.linspace(-1, 1, 128))
    z = dense(x)
    moving = np.array(bn.moving_mean.numpy(), copy=True)
    ours = recorder._bn_train_view(bn, z)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), moving)  # the probe leaves BN's state alone
    np.testing.assert_allclose(ours, bn(z, training=True), rtol=1e-4, atol=1e-4)


def test_recorder_gradient_and_update_ratio_are_what_sgd_did():
    """With plain SGD, W_prev = W + lr * g for the last step: the recorded ratio is ||lr g|| / ||W_prev||."""
    keras.utils.set_random_seed(3)
    model = build_model(_spec(hidden=(16,)), (10,), 4)
    model.compile(optimizer=keras.optimizers.SGD(0.2), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(96, 10)).astype(np.float32), rng.integers(0, 4, 96)
    rec = recorder.Recorder(x[:32], steps_per_epoch=6, probes_per_epoch=6)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=True, callbacks=[rec])
    assert [t["step"] for t in rec.trace] == list(range(13))  # initial probe, then every step
    last = rec.trace[-1]["layers"]
    for layer in (model.get_layer("dense_1"), model.get_layer("output")):
        g, w = layer._engine.dkernel.numpy(), layer.kernel.numpy()
        assert last[layer.name]["grad_norm"] == pytest.approx(np.linalg.norm(g), rel=1e-5)
        expected = np.linalg.norm(0.2 * g) / np.linalg.norm(w + 0.2 * g)
        assert last[layer.name]["update_ratio"] == pytest.approx(expected, rel=1e-3)
    epoch = rec.epochs[-1]
    assert epoch["layers"]["output"]["weight_norm"] == pytest.approx(
        np.linalg.norm(model.get_layer("output").kernel.numpy()), rel=1e-5
    )
    assert "grad_norm" not in rec.trace[0]["layers"]["dense_1"]  # before the first step there is none
    z = x[:32] @ model.get_layer("dense_1").kernel.numpy() + model.get_layer("dense_1").bias.numpy()
    assert last["dense_1"]["z_mean"] == pytest.approx(z.mean(), abs=1e-5)
    assert last["dense_1"]["z_p50"] == pytest.approx(np.median(z), abs=1e-4)


def test_schema_validator_rejects_what_it_should():
    assert "$.schema: expected 'bnlab.lab.metrics', got 'other'" in schema.validate({"schema": "other"})
    run_schema = schema.RUN
    assert any("missing 'epochs'" in e for e in schema.validate({}, run_schema))
    epoch = {
        "epoch": 0,
        "loss": "x",
        "accuracy": None,
        "val_loss": None,
        "val_accuracy": None,
        "epoch_time": 1.0,
        "probe_time": 0.0,
        "layers": {"d": {"grad_norm": 1.0}},
        "bn": {},
        "extra": 1,
    }
    errors = schema.validate(epoch, schema.EPOCH)
    assert "$.epoch: 0 is below the minimum 1" in errors
    assert "$.loss: expected number or null, got str" in errors
    assert "$: unexpected key 'extra'" in errors
    assert any(e.startswith("$.layers.d: missing 'update_ratio_step'") for e in errors)
    with pytest.raises(ValueError, match="does not match its schema"):
        schema.check({})


def test_atomic_write_replaces_whole_files_and_leaves_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "x.json"
    write_atomic(target, "old\n")

    def ctrl_c(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(store.os, "fsync", ctrl_c)  # interrupted after writing, before the rename
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, "new\n")
    monkeypatch.undo()
    assert target.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["x.json"]
    assert json.loads(store.dumps({"a": float("nan"), "b": [1.0, float("inf")]})) == {
        "a": None,
        "b": [1.0, None],
    }


def _record(bs, bn, seed, vals, times=(1.0, 1.0, 1.0)):
    norm = "batch" if bn else "none"
    return {
        "run_id": f"{bs}-{norm}-{seed}",
        "batch_size": bs,
        "learning_rate": 0.5,
        "init_scale": 1.0,
        "dropout": 0.0,
        "norm": norm,
        "seed": seed,
        "diverged": False,
        "test": {"accuracy": vals[-1], "loss": 0.5},
        "layers": [],
        "trace": [],
        "epochs": [
            {"epoch": i + 1, "val_accuracy": v, "val_loss": 1 - v, "epoch_time": t}
            for i, (v, t) in enumerate(zip(vals, times, strict=True))
        ],
    }


def test_summary_arithmetic_on_known_numbers():
    records = [
        _record(32, False, 0, [0.50, 0.70, 0.80], (2.0, 1.0, 1.0)),
        _record(32, False, 1, [0.40, 0.60, 0.78]),
        _record(32, True, 0, [0.75, 0.82, 0.86], (1.5, 1.2, 1.2)),
        _record(32, True, 1, [0.71, 0.80, 0.84], (1.2, 1.2, 1.2)),
    ]
    config = {"epochs": 3, "bn_position": "before", "target_accuracy": None, "norms": ["none", "batch"]}
    summary = analysis.summarize(config, records, classes=10)
    assert summary["target_accuracy"] == 0.79  # floor of min(0.79, 0.85) to a whole percent
    row = summary["rows"][0]
    no, bn = row["models"]["none"], row["models"]["batch"]
    assert row["baseline"] == "none" and (row["batch_size"], row["learning_rate"]) == (32, 0.5)
    assert no["epochs_to_target"] == 3 and bn["epochs_to_target"] == 2  # seed means
    assert no["time_to_target"] == pytest.approx(3.5)  # mean of (2+1+1) and (1+1+1)
    assert bn["time_to_target"] == pytest.approx(2.55)  # mean of (1.5+1.2) and (1.2+1.2)
    assert row["vs_baseline"]["batch"]["gap_final"] == pytest.approx(6.0)
    assert no["epoch_time"] == pytest.approx(1.0)  # medians 1.0 and 1.0
    assert row["vs_baseline"]["batch"]["time_overhead"] == pytest.approx(0.2)
    assert "none" not in row["vs_baseline"]
    text = " ".join(summary["conclusions"])
    assert "higher than no norm's at every batch size (BN minus no norm: +28.0 points" in text
    assert "batch size 32: 2 epochs with BN, 3 epochs with no norm: BN got there sooner everywhere" in text
    assert "took 20% longer" in text
    # the words follow the numbers: make BN lose and the sentences turn around
    flipped = [{**r, "norm": "none" if r["norm"] == "batch" else "batch"} for r in records]
    text = " ".join(analysis.summarize(config, flipped, classes=10)["conclusions"])
    assert "higher than no norm's at no batch size" in text and "BN was never sooner" in text
    assert "less than with no norm" in text
    # the baseline is the first norm named: with batch first, the gaps are no norm minus BN
    swapped = analysis.summarize({**config, "norms": ["batch", "none"]}, records, classes=10)
    assert swapped["rows"][0]["vs_baseline"]["none"]["gap_final"] == pytest.approx(-6.0)
    given = analysis.summarize({**config, "target_accuracy": 0.9}, records, classes=10)
    assert given["rows"][0]["models"]["batch"]["epochs_to_target"] is None and "not within 3 epochs" in " ".join(
        given["conclusions"]
    )


def test_run_identity_covers_what_decides_the_numbers():
    a = _spec()
    assert a.key == RunSpec.from_dict(json.loads(json.dumps(a.to_dict()))).key
    variants = [_spec(learning_rate=0.3), _spec(seed=1), _spec(norm="none"), _spec(init_scale=2.0), _spec(dropout=0.1)]
    assert len({a.key, *(v.key for v in variants)}) == 6
    assert a.run_id.startswith("bs50-seed0-batch-")
    runs = SweepConfig(batch_sizes=(32, 64), seeds=2).resolved().runs()
    assert [(r.batch_size, r.seed, r.norm) for r in runs[:4]] == [
        (32, 0, "none"),
        (32, 0, "batch"),
        (32, 1, "none"),
        (32, 1, "batch"),
    ]
    grid = SweepConfig(
        batch_sizes=(32,), seeds=1, learning_rates=(0.1, 0.2), dropouts=(0, 0.5), norms=("batch", "group")
    )
    specs = grid.resolved().runs()
    assert len(specs) == 8 and len({s.run_id for s in specs}) == 8
    assert {(s.norm, s.groups) for s in specs} == {("batch", None), ("group", 4)}
    assert {(s.dropout, s.dropout_position) for s in specs} == {(0.0, None), (0.5, "before")}
    assert SweepConfig(hidden=(32, 16)).resolved().arch == "custom"
    assert SweepConfig().resolved().arch == "seed003"
    assert SweepConfig(arch="seed002").resolved().bn_position == "after"
    assert SweepConfig(optimizer="adam").resolved().learning_rates == (0.001,)


def test_worker_protocol_round_trip():
    buf = io.BytesIO()
    message = ("run", {"a": np.arange(3)})
    worker.send(buf, message)
    worker.send(buf, ("stop",))
    buf.seek(0)
    got = worker.receive(buf)
    assert got[0] == "run" and list(got[1]["a"]) == [0, 1, 2]
    assert worker.receive(buf) == ("stop",)
    assert worker.receive(buf) is None


def test_a_failing_run_is_reported_and_the_others_go_on(fashion):
    (x, y), (xt, yt) = fashion
    lab_data = data.LabData("fashion_mnist", x[:300], y[:300].astype(np.int32), xt[:100], yt[:100].astype(np.int32))
    good, bad = _spec(limit=300), _spec(limit=300, validation_split=0.999)
    done, failed = [], []
    executor.execute(
        [bad, good],
        lab_data,
        jobs=1,
        threads=1,
        on_done=done.append,
        on_failed=lambda s, m: failed.append((s.run_id, m)),
    )
    assert [r["run_id"] for r in done] == [good.run_id]
    assert failed == [(bad.run_id, failed[0][1])] and "leaves no training or validation data" in failed[0][1]


def test_progress_lines_without_a_terminal():
    out = io.StringIO()
    spec = _spec()
    p = SweepProgress(2, stream=out)
    p.register([spec])
    p.skipped(1)
    p.epoch({"run_id": spec.run_id, "epoch": 1, "epochs": 2, "loss": 0.5, "val_accuracy": 0.8})
    p.run_done({"run_id": spec.run_id, "epochs": [{"val_accuracy": 0.81}], "wall_time": 3.0})
    p.close()
    assert out.getvalue().splitlines() == [
        "1 of 3 runs already finished in this folder: skipping them",
        "  bs=50 lr=0.5 seed=0 BN: epoch 1/2  loss 0.500  val acc 0.800",
        "[1/2] bs=50 lr=0.5 seed=0 BN: val acc 0.810 after 1 epoch (3.0 s)",
    ]
    quiet = io.StringIO()
    q = SweepProgress(2, quiet=True, stream=quiet)
    q.epoch({"run_id": "x", "epoch": 1, "epochs": 2, "loss": 0.5, "val_accuracy": 0.8})
    assert quiet.getvalue() == ""


def test_bad_config_values_raise_lab_errors():
    for kwargs, message in (
        ({"batch_sizes": ()}, "no batch size given"),
        ({"limit": -5}, "fix --limit"),
        ({"target_accuracy": 1.5}, "target accuracy must be in (0, 1)"),
    ):
        with pytest.raises(LabError, match=message.replace("(", r"\(").replace(")", r"\)")):
            SweepConfig(**kwargs).resolved()


def test_signed_numbers_never_read_minus_zero():
    from bnlab.lab.conclusions import signed

    assert [signed(v) for v in (3.44, -1.46, -0.04, 0.0, 0.04)] == ["+3.4", "-1.5", "0.0", "0.0", "0.0"]
    assert signed(-12.4, 0) == "-12"


def test_unreliable_runs_are_named_and_do_not_set_the_target():
    records = [_record(64, False, s, v) for s, v in enumerate(([0.6, 0.8, 0.82], [0.6, 0.79, 0.81], [0.6, 0.7, 0.3]))]
    records += [_record(64, True, s, [0.8, 0.84, 0.85]) for s in range(3)]
    config = {"epochs": 3, "bn_position": "before", "target_accuracy": None, "norms": ["none", "batch"]}
    summary = analysis.summarize(config, records)
    assert summary["target_accuracy"] == 0.76  # the no-BN peak (epoch 2: mean 0.7633), not its final 0.6433
    text = " ".join(summary["conclusions"])
    assert "seed 2 with no norm at batch size 64 ended at 30.0% (median of its seeds 81.0%)" in text
    assert "with BN at batch size 64 ended" not in text


def test_a_cifar_shaped_run_works_end_to_end():
    """Colour images (32, 32, 3) and (n, 1) labels, as keras.datasets.cifar10 returns them."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, (300, 1)).astype(np.uint8)
    images = rng.integers(0, 256, (300, 32, 32, 3)).astype(np.uint8)
    lab_data = data.LabData(
        "cifar10", images, y.reshape(-1).astype(np.int32), images[:50], y[:50].reshape(-1).astype(np.int32)
    )
    spec = _spec(dataset="cifar10", arch="seed002", hidden=(32, 16), bn_position="after", limit=300, epochs=2)
    record = run_one(spec, lab_data, threads=1)
    assert record["n_train"] == 240 and record["params"] > 3072 * 32
    assert [layer["kind"] for layer in record["layers"]] == ["dense", "batchnorm", "dense", "batchnorm", "output"]
    assert record["deploy"]["samples"] == 56 and record["deploy"]["batch_size"] == 8  # 60 held out, whole batches
    assert schema.validate(json.loads(store.dumps(record)), schema.RUN) == []


def test_asking_whether_a_norm_is_available_builds_no_layer():
    """The availability check reads the layer's signature: a probe layer would take a name from Keras's counter,
    and the user's next BatchNormalization would be batch_normalization_<n+1>."""
    from bnlab.keras import layers
    from bnlab.lab import networks

    first = layers.BatchNormalization().name
    for norm in ("none", "batch", "layer", "group", "renorm", "ghost"):
        assert networks.norm_available(norm)
    base, _, n = first.rpartition("_")
    expected = f"{base}_{int(n) + 1}" if n.isdigit() else f"{first}_1"
    assert layers.BatchNormalization().name == expected
