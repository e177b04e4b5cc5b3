"""The seeds' networks against their roofline and against PyTorch, with the spread over several runs, and the
peak memory of a fit.

Roofline of an epoch (what the hardware needs at the least, given the GEMMs and the optimizer the engine does),
as issue 14 defines it:
    T_sgemm = the epoch's GEMM FLOPs at cblas_sgemm's (OpenBLAS) 1024³ rate, measured in this run,
    T_opt   = steps × Adam's bytes (w, m, v, g read and w, m, v written: 28 B per parameter) / copy bandwidth,
              the copy bandwidth measured on a copy as large as the optimizer's working set;
    roofline = T_sgemm + T_opt.
The engine's own AVX-512 GEMM (narrow_gemm_cpu.cpp) is faster than OpenBLAS's kernel on this machine, so a
second, stricter roofline is printed too: T_gemm = steps × Σ over the step's GEMMs of that GEMM's time in
isolation (the engine's dense op in a hot loop at the exact training shape and transposes, timed with
bnlab.profile: whichever kernel the engine runs there), plus T_opt. The engine's 1024³ rate is printed beside
cblas_sgemm's.
Epoch times: bnlab.keras fit and a plain PyTorch loop (bench_keras_epoch's), alternating A B A B for --runs
rounds after a warm-up each, same threads, same data, each timed epoch after the same 0.1 s pause
(bench_keras_epoch.settle: the other library's spinning workers); min / median / max of each, and
bnlab/PyTorch from the medians (and the range of the per-round ratios).
Peak RSS: a child process per library that builds seed 002's dataset and fits one epoch at batch 64 (the
child's VmHWM); a third child only builds the dataset.

    python benchmarks/bench_roofline.py --out benchmarks/results_roofline.md
"""

import argparse
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np
from _common import bench_parser, load_average, publish
from bench_keras_epoch import NETS, bnlab_model, settle, sgemm_gflops, torch_runner

import bnlab.profile as prof
from bnlab import _core

ADAM_BYTES = 28  # per parameter and step: read w, m, v, g; write w, m, v (4-byte floats)


def layer_dims(net):
    shape, hidden, _, _ = NETS[net]
    dims = [int(np.prod(shape)), *hidden, 10]
    return list(itertools.pairwise(dims))


def param_count(net, bn=True):
    n = sum(i * o + o for i, o in layer_dims(net))
    return n + (2 * sum(NETS[net][1]) if bn else 0)


def step_gemm_seconds(net, bs, calls=30, blocks=3):
    """{(phase, m, n, k, ta, tb): seconds per call} for one step's GEMMs, each timed in a hot loop (best block)."""
    rng = np.random.default_rng(0)
    best = {}
    for li, (i, o) in enumerate(layer_dims(net)):
        t = {
            k: _core.Tensor.from_numpy(rng.random(s, dtype=np.float32))
            for k, s in (("x", (bs, i)), ("w", (i, o)), ("b", (o,)), ("g", (bs, o)))
        }
        out, dx = _core.Tensor(), _core.Tensor()
        dw, db = _core.Tensor([i, o], _core.Device.CPU), _core.Tensor([o], _core.Device.CPU)
        _core.ops.dense_forward(out, t["x"], t["w"], t["b"], False)
        _core.ops.dense_backward(dx if li else None, dw, db, t["g"], t["x"], t["w"], False, False)
        for _ in range(blocks):
            prof.reset()
            prof.enable()
            for _ in range(calls):
                _core.ops.dense_forward(out, t["x"], t["w"], t["b"], False)
                _core.ops.dense_backward(dx if li else None, dw, db, t["g"], t["x"], t["w"], False, False)
            prof.disable()
            for r in prof.read():
                if r["phase"].startswith("gemm."):
                    key = (r["phase"], r["m"], r["n"], r["k"], r["trans_a"], r["trans_b"])
                    best[key] = min(best.get(key, float("inf")), r["seconds"] / r["calls"])
    return best


def copy_bandwidth(nbytes, repeats=20):
    """Bytes moved (read + written) per second by a copy of nbytes / 2 into another nbytes / 2."""
    half = nbytes // 8
    src = np.ones(half, dtype=np.float32)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t)
    return 2 * src.nbytes / best


def spread(values):
    return min(values), statistics.median(values), max(values)


def epoch_pairs(net, bs, samples, runs, threads):
    shape, hidden, where, _ = NETS[net]
    rng = np.random.default_rng(0)
    x = rng.random((samples, *shape), dtype=np.float32)
    y = rng.integers(0, 10, samples)
    model = bnlab_model(shape, hidden, where, True)
    model.fit(x, y, batch_size=bs, epochs=1, verbose=0)  # warm-up
    torch_epoch = torch_runner(hidden, where, True, x.reshape(samples, -1), y, bs)
    torch_epoch()  # warm-up
    ours, theirs = [], []
    for _ in range(runs):
        settle()
        t = time.perf_counter()
        model.fit(x, y, batch_size=bs, epochs=1, verbose=0)
        ours.append(time.perf_counter() - t)
        settle()
        t = time.perf_counter()
        torch_epoch()
        theirs.append(time.perf_counter() - t)
    return ours, theirs


def rss_child(which, samples):
    """Runs in a child: seed 002's data, then one epoch of `which` (or nothing); prints the peak RSS in bytes."""
    shape, hidden, where, _ = NETS["seed002"]
    rng = np.random.default_rng(0)
    x = rng.random((samples, *shape), dtype=np.float32)
    y = rng.integers(0, 10, samples)
    if which == "bnlab":
        bnlab_model(shape, hidden, where, True).fit(x, y, batch_size=64, epochs=1, verbose=0)
    elif which == "torch":
        torch_runner(hidden, where, True, x.reshape(samples, -1), y, 64)()
    print(json.dumps({"peak_rss": peak_rss_self()}))


def peak_rss_self():
    """This process's peak resident set (VmHWM): unlike getrusage's ru_maxrss, which Linux carries over from the
    parent across fork and exec, it counts only this program's own memory."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def peak_rss(which, samples):
    out = subprocess.run(
        [sys.executable, __file__, "--rss-child", which, "--samples", str(samples)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])["peak_rss"]


def main():
    parser = bench_parser(__doc__, nets=NETS)
    parser.add_argument("--samples", type=int, default=12_800)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rss-samples", type=int, default=40_000, help="seed 002's dataset size for the RSS runs")
    parser.add_argument("--rss-child", choices=["bnlab", "torch", "data"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(args.rss_child, args.samples)
        return

    import torch

    torch.set_num_threads(args.threads)
    _core.set_num_threads(args.threads)
    load = load_average()
    peak = sgemm_gflops(args.threads)
    engine_peak = sgemm_gflops(args.threads, engine=True)
    lines = [
        "# Roofline and spread: bnlab.keras against PyTorch on the seeds' networks (BN, Adam, CPU)",
        "",
        f"{args.samples} samples per epoch; threads {args.threads} of {os.cpu_count()} cores; PyTorch "
        f"{torch.__version__}; {args.runs} alternating rounds after a warm-up; load average at start {load}.",
        f"cblas_sgemm (OpenBLAS) on 1024³: {peak:.1f} GFLOP/s; the engine's own GEMM on 1024³: {engine_peak:.1f} "
        "GFLOP/s.",
        "",
        "| network | batch | T_sgemm s | copy GB/s | T_opt s | roofline s | bnlab / roofline "
        "| engine GEMM GFLOP/s at its shapes | T_gemm s | bnlab / (T_gemm + T_opt) "
        "| bnlab s min / med / max | PyTorch s min / med / max | bnlab / PyTorch (round range) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|",
    ]
    for net in args.nets:
        params = param_count(net)
        bw = copy_bandwidth(4 * 4 * params)  # the optimizer's working set: w, m, v, g
        for bs in args.batch_sizes:
            steps = args.samples // bs
            gemms = step_gemm_seconds(net, bs)
            flops = sum(2 * m * n * k for (_, m, n, k, _, _) in gemms) * steps
            t_gemm = sum(gemms.values()) * steps
            t_opt = steps * ADAM_BYTES * params / bw
            t_sgemm = flops / peak / 1e9
            roof = t_sgemm + t_opt
            ours, theirs = epoch_pairs(net, bs, args.samples, args.runs, args.threads)
            ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
            o, t = spread(ours), spread(theirs)
            lines.append(
                f"| {net} | {bs} | {t_sgemm:.3f} | {bw / 1e9:.1f} | {t_opt:.3f} | {roof:.3f} | {o[1] / roof:.2f} "
                f"| {flops / t_gemm / 1e9:.1f} | {t_gemm:.3f} | {o[1] / (t_gemm + t_opt):.2f} "
                f"| {o[0]:.3f} / {o[1]:.3f} / {o[2]:.3f} | {t[0]:.3f} / {t[1]:.3f} / {t[2]:.3f} "
                f"| {o[1] / t[1]:.2f} ({min(ratios):.2f}–{max(ratios):.2f}) |"
            )
            print(lines[-1], flush=True)
    data = peak_rss("data", args.rss_samples)
    ours, theirs = peak_rss("bnlab", args.rss_samples), peak_rss("torch", args.rss_samples)
    dataset = args.rss_samples * 3072 * 4
    lines += [
        "",
        f"Peak RSS, seed 002 ({args.rss_samples} samples, {dataset / 2**20:.0f} MiB of float32 images), one epoch at "
        "batch 64, each in its own process:",
        "",
        "| process | peak RSS MiB |",
        "|---|---:|",
        f"| data only (NumPy + the dataset) | {data / 2**20:.0f} |",
        f"| bnlab.keras fit | {ours / 2**20:.0f} |",
        f"| PyTorch loop | {theirs / 2**20:.0f} |",
        f"| PyTorch + the dataset | {(theirs + dataset) / 2**20:.0f} |",
        "",
    ]
    publish(lines, args.out)


if __name__ == "__main__":
    main()
