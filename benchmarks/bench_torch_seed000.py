"""Seed 000's training epoch on bnlab.torch and on PyTorch, in the same run with the same thread count.

The workload is seed 000's: a 784-128-10 network (ReLU; with and without BatchNorm1d(128) after the first
layer), CrossEntropyLoss, Adam(lr=1e-3), batch 100, 60,000 samples = 600 steps per epoch. The data are
already in memory as tensors in both libraries (random images; the values do not change the work). The same
Python function runs the epoch for both, given the library as ``torch``:

    loop:        a fresh ``torch.randperm``, each batch gathered with ``x[idx]`` (PyTorch's usual in-memory
                 idiom), ``images.reshape(-1, 784)``, forward, loss, ``zero_grad``, ``backward``, ``step``;
    DataLoader:  the seed's own ``DataLoader(TensorDataset(x, y), batch_size=100, shuffle=True)``. PyTorch's
                 reads samples one by one and collates them; bnlab's gathers each batch at once.

Threads: ``torch.set_num_threads(n)`` and ``bnlab._core.set_num_threads(n)`` (the engine's OpenBLAS), for
each n of ``--threads`` (default 1 and the number of cores). Each cell is the best of ``--repeats`` epochs
after a warm-up of 20 steps; the two libraries alternate so that machine load affects both alike.

    python benchmarks/bench_torch_seed000.py [--threads 1 2] [--repeats 3] [--out FILE]

Prints a Markdown table (ms per epoch, and bnlab's time as a fraction of PyTorch's) with the machine
description, and writes it to ``--out`` (default ``benchmarks/results_torch_seed000.md``).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from _common import busy_note, load_average, publish
from bench_keras_epoch import settle

import bnlab.torch as bt
from bnlab import _core

N, BATCH, STEPS = 60_000, 100, 600


def make_model(lib, bn: bool):
    nn = lib.nn

    class FeedForward(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(784, 128)
            if bn:
                self.bn = nn.BatchNorm1d(128)
            self.relu = nn.ReLU()
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            out = self.fc1(x)
            if bn:
                out = self.bn(out)
            return self.fc2(self.relu(out))

    return FeedForward()


def train_steps(lib, model, optimizer, criterion, batches) -> None:
    """The body of seed 000's training loop."""
    for images, labels in batches:
        images = images.reshape(-1, 28 * 28)
        outputs = model(images)
        loss = criterion(outputs, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def loop_batches(lib, x, y, steps: int):
    perm = lib.randperm(N)
    for i in range(steps):
        idx = perm[i * BATCH : (i + 1) * BATCH]
        yield x[idx], y[idx]


def loader_batches(lib, x, y, steps: int):
    loader = lib.utils.data.DataLoader(lib.utils.data.TensorDataset(x, y), batch_size=BATCH, shuffle=True)
    for i, batch in enumerate(loader):
        if i == steps:
            return
        yield batch


def time_epoch(lib, data, bn: bool, source) -> float:
    """Seconds for one epoch (STEPS steps) after a 20-step warm-up and a 0.1 s pause (settle: the other library's
    spinning workers), on a fresh model and optimizer."""
    model = make_model(lib, bn)
    optimizer = lib.optim.Adam(model.parameters(), lr=1e-3)
    criterion = lib.nn.CrossEntropyLoss()
    train_steps(lib, model, optimizer, criterion, source(lib, *data, 20))
    settle()
    start = time.perf_counter()
    train_steps(lib, model, optimizer, criterion, source(lib, *data, STEPS))
    return time.perf_counter() - start


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = load_average()
    return (
        f"{cpu}; {os.cpu_count()} cores; load average at start {load}; {platform.platform()}; "
        f"Python {platform.python_version()}; NumPy {np.__version__}"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=sorted({1, os.cpu_count() or 1}))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(Path(__file__).with_name("results_torch_seed000.md")))
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: nothing to compare against.")
        return 0

    info = machine()  # before the run: the load average other processes put on the machine
    rng = np.random.default_rng(0)
    images = (rng.random((N, 1, 28, 28)) * (rng.random((N, 1, 28, 28)) > 0.8)).astype(np.float32)
    labels = rng.integers(0, 10, N)
    data = {bt: (bt.tensor(images), bt.tensor(labels)), torch: (torch.from_numpy(images), torch.from_numpy(labels))}
    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        _core.set_num_threads(threads)
        for source_name, source, repeats in (("loop", loop_batches, args.repeats), ("DataLoader", loader_batches, 1)):
            for bn in (False, True):
                best = {bt: float("inf"), torch: float("inf")}
                for _ in range(repeats):
                    for lib in (bt, torch):
                        best[lib] = min(best[lib], time_epoch(lib, data[lib], bn, source))
                rows.append((threads, source_name, bn, best[bt] * 1e3, best[torch] * 1e3))
                print(
                    f"  threads={threads} {source_name} bn={bn}: bnlab {best[bt]:.3f} s, torch {best[torch]:.3f} s",
                    file=sys.stderr,
                )

    lines = [
        "## bnlab.torch vs PyTorch: one epoch of seed 000's training loop",
        "",
        f"784-128-10 (ReLU), batch {BATCH}, Adam, {N} samples ({STEPS} steps); best of {args.repeats} epochs "
        "(DataLoader rows: 1). `loop` gathers batches with `x[idx]` from in-memory tensors; `DataLoader` is "
        "the seed's `DataLoader(TensorDataset(x, y), batch_size=100, shuffle=True)`.",
        "",
        f"bnlab.torch on bnlab's engine (`_core`, OpenBLAS); PyTorch {torch.__version__}. Machine: {info}.",
        "",
        "| threads | batches | model | bnlab ms/epoch | PyTorch ms/epoch | bnlab / PyTorch |",
        "|---:|---|---|---:|---:|---:|",
    ]
    for threads, source_name, bn, ours, theirs in rows:
        model = "with BatchNorm1d" if bn else "without BN"
        lines.append(f"| {threads} | {source_name} | {model} | {ours:.0f} | {theirs:.0f} | {ours / theirs:.2f} |")
    lines += busy_note(
        "timings with more than one thread are unreliable (PyTorch's OpenMP threads suffer most from contention)."
    )
    publish(lines, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
