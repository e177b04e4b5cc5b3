"""The Dask path: a sweep sent to a LocalCluster on loopback gives exactly the numbers of the local
worker processes (same specs, same thread count); only timings and hosts differ."""

import json

import pytest

from bnlab import lab
from bnlab.lab.store import dumps

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow

SWEEP = {
    "arch": "seed003",
    "limit": 2000,
    "epochs": 2,
    "batch_sizes": [64, 128],
    "seeds": 1,
    "threads": 1,
    "probes_per_epoch": 3,
}
TIMING = {"host", "pid", "started", "finished", "wall_time"}


def _comparable(record):
    out = {k: v for k, v in record.items() if k not in TIMING}
    out["epochs"] = [{k: v for k, v in e.items() if k not in ("epoch_time", "probe_time")} for e in record["epochs"]]
    return out


def test_dask_equals_local(fashion):
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        on_dask = lab.sweep(scheduler=cluster.scheduler_address, **SWEEP)
    local = lab.sweep(jobs=2, **SWEEP)
    assert on_dask.execution["scheduler"].startswith("tcp://127.0.0.1:")
    assert local.execution == {"jobs": 2, "threads": 1, "scheduler": None}
    # compare the records as they are saved (JSON, NaN as null)
    dask_runs = [json.loads(dumps(r)) for r in on_dask.records]
    local_runs = [json.loads(dumps(r)) for r in local.records]
    assert [r["run_id"] for r in dask_runs] == [r["run_id"] for r in local_runs]
    assert len(dask_runs) == 4
    for a, b in zip(dask_runs, local_runs, strict=True):
        assert _comparable(a) == _comparable(b)  # exact: loss, accuracy, every layer statistic
        assert a["epochs"][-1]["val_loss"] == b["epochs"][-1]["val_loss"]
    assert {r["pid"] for r in local_runs}.isdisjoint({r["pid"] for r in dask_runs})


def test_unreachable_scheduler_is_a_lab_error(fashion):
    import dask

    with (
        dask.config.set({"distributed.comm.timeouts.connect": "1s"}),
        pytest.raises(lab.LabError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9"),
    ):
        lab.sweep(scheduler="tcp://127.0.0.1:9", **SWEEP)
