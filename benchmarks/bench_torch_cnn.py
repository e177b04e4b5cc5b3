"""A small CNN's training epoch on bnlab.torch and on PyTorch, in the same run with the same thread count.

The network (with and without BatchNorm2d):

    Conv2d(1, 16, 3, padding=1) [BatchNorm2d(16)] ReLU MaxPool2d(2)
    Conv2d(16, 32, 3, padding=1) [BatchNorm2d(32)] ReLU AdaptiveAvgPool2d(1) Flatten Linear(32, 10)

on Fashion-MNIST-sized data: ``--samples`` images (N, 1, 28, 28) (default 60,000, one epoch), batch 64,
CrossEntropyLoss, Adam(lr=1e-3). The images are random and in memory as tensors in both libraries (the values
do not change the work). The same Python loop runs for both (a fresh ``randperm``, ``x[idx]``, forward, loss,
``zero_grad``, ``backward``, ``step``), given the library as ``torch``. Each cell is the best of ``--repeats``
epochs after a warm-up of 10 steps; the libraries alternate so that machine load affects both alike.

bnlab's convolution products are timed by the engine (``_core.ops.conv_gemm_tally``; on the CPU's implicit-GEMM
path, docs/CNN.md, the time includes the padding copy and the NCHW <-> NHWC transposes): the table gives their
time in bnlab's epoch and their rate, next to a reference rate measured in this run: the second convolution's
forward, (32, 144) @ (144, 196) per sample, run back to back with nothing else in between.

    python benchmarks/bench_torch_cnn.py [--threads 1 2] [--samples 60000] [--repeats 1] [--out FILE]

Prints a Markdown table and writes it to ``--out`` (default ``benchmarks/results_torch_cnn.md``) atomically.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from _common import busy_note, publish
from bench_torch_seed000 import machine

import bnlab.torch as bt
from bnlab import _core

BATCH, WARMUP = 64, 10


def make_model(lib, bn: bool):
    nn = lib.nn

    def block(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1), *([nn.BatchNorm2d(cout)] if bn else []), nn.ReLU()]

    return nn.Sequential(
        *block(1, 16), nn.MaxPool2d(2), *block(16, 32), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10)
    )


def train_steps(lib, model, optimizer, criterion, x, y, steps: int) -> None:
    perm = lib.randperm(len(y))
    for i in range(steps):
        idx = perm[i * BATCH : (i + 1) * BATCH]
        loss = criterion(model(x[idx]), y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def time_epoch(lib, x, y, bn: bool) -> float:
    """Seconds for one epoch after a warm-up, on a fresh model and optimizer."""
    model = make_model(lib, bn)
    optimizer = lib.optim.Adam(model.parameters(), lr=1e-3)
    criterion = lib.nn.CrossEntropyLoss()
    train_steps(lib, model, optimizer, criterion, x, y, WARMUP)
    _core.ops.reset_conv_gemm_tally()
    start = time.perf_counter()
    train_steps(lib, model, optimizer, criterion, x, y, len(y) // BATCH)
    return time.perf_counter() - start


def sgemm_rate() -> float:
    """GFLOP/s of the engine's second conv forward, (32, 144) @ (144, 196) per sample, run back to back
    (20 forwards of a batch), as the conv tally counts them."""
    rng = np.random.default_rng(0)
    x = bt.tensor(rng.standard_normal((BATCH, 16, 14, 14)).astype(np.float32))
    w = bt.tensor(rng.standard_normal((32, 16, 3, 3)).astype(np.float32))
    with bt.no_grad():
        bt.nn.functional.conv2d(x, w, padding=1)
        _core.ops.reset_conv_gemm_tally()
        for _ in range(20):
            bt.nn.functional.conv2d(x, w, padding=1)
    seconds, flops, _ = _core.ops.conv_gemm_tally()
    return flops / seconds / 1e9


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=sorted({1, os.cpu_count() or 1}))
    parser.add_argument("--samples", type=int, default=60_000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", default=str(Path(__file__).with_name("results_torch_cnn.md")))
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: nothing to compare against.")
        return 0

    info = machine()
    rng = np.random.default_rng(0)
    images = rng.random((args.samples, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, args.samples)
    data = {bt: (bt.tensor(images), bt.tensor(labels)), torch: (torch.from_numpy(images), torch.from_numpy(labels))}
    rows, reference = [], {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        _core.set_num_threads(threads)
        for bn in (False, True):
            best = {bt: float("inf"), torch: float("inf")}
            gemm = (0.0, 0.0)
            for _ in range(args.repeats):
                for lib in (bt, torch):
                    seconds = time_epoch(lib, *data[lib], bn)
                    if lib is bt and seconds < best[bt]:
                        gemm = _core.ops.conv_gemm_tally()[:2]
                    best[lib] = min(best[lib], seconds)
            rows.append((threads, bn, best[bt], best[torch], gemm[0], gemm[1] / max(gemm[0], 1e-12) / 1e9))
            print(f"  threads={threads} bn={bn}: bnlab {best[bt]:.2f} s, torch {best[torch]:.2f} s", file=sys.stderr)
        reference[threads] = sgemm_rate()

    steps = args.samples // BATCH
    lines = [
        "## bnlab.torch vs PyTorch: one epoch of a small CNN",
        "",
        f"Conv(1,16,3)-[BN]-ReLU-MaxPool(2)-Conv(16,32,3)-[BN]-ReLU-AdaptiveAvgPool(1)-Flatten-Linear(32,10) on "
        f"{args.samples} images 1x28x28, batch {BATCH} ({steps} steps), Adam; best of {args.repeats} epoch(s) "
        "after a 10-step warm-up. Same Python loop in both (`randperm`, `x[idx]`, forward, loss, backward, step).",
        "",
        f"bnlab.torch on bnlab's engine (`_core`, OpenBLAS); PyTorch {torch.__version__}. Machine: {info}.",
        "",
        "| threads | model | bnlab s/epoch | PyTorch s/epoch | bnlab / PyTorch | conv GEMM s | conv GEMM GFLOP/s |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for threads, bn, ours, theirs, gemm_s, rate in rows:
        model = "with BatchNorm2d" if bn else "without BN"
        cells = [f"{ours:.2f}", f"{theirs:.2f}", f"{ours / theirs:.2f}", f"{gemm_s:.2f}", f"{rate:.1f}"]
        lines.append(f"| {threads} | {model} | " + " | ".join(cells) + " |")
    rates = ", ".join(f"{rate:.1f} GFLOP/s at {threads} thread(s)" for threads, rate in reference.items())
    lines += [
        "",
        "conv GEMM: bnlab's convolution products as the engine tallies them. Reference, the second convolution's "
        f"forward back to back: {rates}.",
    ]
    lines += busy_note("the timings are unreliable, above all with more than one thread.")
    publish(lines, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
