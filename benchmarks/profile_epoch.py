"""Where one training epoch's time goes, kernel by kernel: the engine's phase timers (bnlab.profile) on the
seeds' networks with BN (seed 002: 3072-512-256-128-10, BN after each ReLU; seed 003: 784-128-64-10, BN before
each ReLU), Adam, batch 32, 64 and 128, on random data. One warm-up epoch, then one profiled epoch.

Each GEMM is listed with its row-major cblas shape C(m, n) = op(A)(m, k) op(B)(k, n) and its rate; the other
phases by kind. `train_step` is the whole step: its time minus the kernels' is the engine's own overhead
(layer dispatch, checks); the epoch's wall time minus the steps' is the loop outside them (gathers, shuffle).

    python benchmarks/profile_epoch.py --out benchmarks/results_profile.md
"""

import os
import time

import numpy as np
from _common import bench_parser, load_average, publish
from bench_keras_epoch import NETS, bnlab_model

import bnlab.profile as prof
from bnlab import _core


def group(phase):
    """The row a phase is summed into in the summary table."""
    if phase.startswith("gemm."):
        return "GEMM (all)"
    if phase.startswith("bn."):
        return "batch norm"
    if phase.split(".")[0] in ("relu", "sigmoid", "tanh", "softmax", "linear"):
        return "activations"
    if phase.startswith("loss."):
        return "loss + metrics"
    if phase in ("adam", "sgd", "rmsprop"):
        return "optimizer"
    if phase.startswith("dense."):
        return "bias, dbias, grad zeroing"
    return phase


def profile_cell(net, bs, samples):
    shape, hidden, where, _ = NETS[net]
    rng = np.random.default_rng(0)
    x = rng.random((samples, *shape), dtype=np.float32)
    y = rng.integers(0, 10, samples)
    model = bnlab_model(shape, hidden, where, True)
    model.fit(x, y, batch_size=bs, epochs=1, verbose=0)  # warm-up: buffers sized, optimizer state made
    prof.reset()
    prof.enable()
    start = time.perf_counter()
    model.fit(x, y, batch_size=bs, epochs=1, verbose=0)
    wall = time.perf_counter() - start
    prof.disable()
    return wall, prof.read()


def cell_report(net, bs, wall, rows):
    step = sum(r["seconds"] for r in rows if r["phase"] == "train_step")
    kernels = [r for r in rows if r["phase"] not in ("train_step", "gather")]
    ktime = sum(r["seconds"] for r in kernels)
    lines = [f"### {net}, batch {bs}: epoch {wall:.3f} s, steps {step:.3f} s", ""]
    lines += ["| phase | shape | calls | s/epoch | % of epoch | GFLOP/s | GB/s |", "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        if r["phase"].startswith("gemm."):
            shape = f"{r['m']}×{r['n']}×{r['k']} {r['trans_a']}{r['trans_b']}"
        else:
            shape = "×".join(str(v) for v in (r["m"], r["n"], r["k"]) if v)
        gf = f"{r['gflops']:.1f}" if r["gflops"] else ""
        gb = f"{r['gbytes_s']:.1f}" if r["gbytes_s"] else ""
        lines.append(
            f"| {r['phase']} | {shape} | {r['calls']} | {r['seconds']:.4f} | {100 * r['seconds'] / wall:.1f} "
            f"| {gf} | {gb} |"
        )
    sums = {}
    for r in kernels + [r for r in rows if r["phase"] == "gather"]:
        sums[group(r["phase"])] = sums.get(group(r["phase"]), 0.0) + r["seconds"]
    sums["engine overhead in the step"] = step - ktime
    sums["outside the steps (loop, shuffle, Python)"] = wall - step - sums.get("gather", 0.0)
    lines += ["", "| summary | s/epoch | % of epoch |", "|---|---:|---:|"]
    for k, v in sorted(sums.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {k} | {v:.4f} | {100 * v / wall:.1f} |")
    return [*lines, ""]


def main():
    parser = bench_parser(__doc__, nets=NETS)
    parser.add_argument("--samples", type=int, default=12_800)
    args = parser.parse_args()
    _core.set_num_threads(args.threads)
    lines = [
        "# Profile of one training epoch (bnlab.keras, CPU)",
        "",
        f"{args.samples} random samples, Adam, BN, threads {args.threads}, {os.cpu_count()} cores; "
        f"load average at start {load_average()}.",
        "Command: `python benchmarks/profile_epoch.py --out benchmarks/results_profile.md`",
        "",
    ]
    for net in args.nets:
        for bs in args.batch_sizes:
            wall, rows = profile_cell(net, bs, args.samples)
            lines += cell_report(net, bs, wall, rows)
            print(f"{net} batch {bs}: {wall:.3f} s", flush=True)
    publish(lines, args.out)


if __name__ == "__main__":
    main()
