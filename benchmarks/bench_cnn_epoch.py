"""One training epoch of the lab's small CNN, bnlab.keras against PyTorch, side by side in one run on the CPU.

Network: the lab's ``--arch cnn`` network (``bnlab.lab.networks.build_model`` on the spec ``bnlab compare --arch
cnn`` runs: widths (16, 32, 64), the norm before each ReLU), on 28x28x1 images,
Conv(16, 3, same)-[BN]-ReLU-MaxPool-Conv(32, 3, same)-[BN]-ReLU-MaxPool-Flatten-Dense(64)-[BN]-ReLU-Dense(10),
and the same layers in PyTorch (NCHW, BatchNorm2d/1d), Adam, sparse cross-entropy. Batch sizes 64 and 256,
with and without BN. Both get the same thread count (2 by default), the same data already in memory (random
images of Fashion-MNIST's shape; the time does not depend on the values), a fresh permutation per epoch.
Each cell is the best of --repeats epochs of --samples samples after a warm-up of a few batches.

GEMM rates: the engine's cblas_sgemm on a 1024^3 product (measured in this run), and the convolutions' own
products during bnlab's timed epochs (the engine tallies their time and work: ``_core.ops.conv_gemm_tally()``;
on the CPU's implicit-GEMM path, docs/CNN.md, the time includes the padding copy and the col2im), so that the
convolution products can be judged against what the library can do. Each cell also gives the slowest of the
--repeats epochs of both libraries: the spread, not only the best.

    python benchmarks/bench_cnn_epoch.py --out benchmarks/results_cnn_epoch.md
"""

import os
import platform
import time

import numpy as np
from _common import bench_parser, publish
from bench_keras_epoch import sgemm_gflops


def lab_spec(bn):
    """The run spec of ``bnlab compare --arch cnn`` for norm 'batch' or 'none' (its network is all we use)."""
    from bnlab.lab.config import SweepConfig

    norm = "batch" if bn else "none"
    return next(s for s in SweepConfig(arch="cnn", norms=(norm,)).runs() if s.norm == norm)


def bnlab_epoch(bn, x, y, bs, repeats):
    import bnlab.keras as keras
    from bnlab import _core
    from bnlab.lab.networks import build_model

    spec = lab_spec(bn)
    keras.utils.set_random_seed(0)
    model = build_model(spec, x.shape[1:], 10)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[: 4 * bs], y[: 4 * bs], batch_size=bs, epochs=1, verbose=0)  # warm-up: buffers sized
    times, gemm = [], None
    for _ in range(repeats):
        _core.ops.reset_conv_gemm_tally()
        t = time.perf_counter()
        model.fit(x, y, batch_size=bs, epochs=1, verbose=0)
        times.append(time.perf_counter() - t)
        if times[-1] == min(times):
            gemm = _core.ops.conv_gemm_tally()
    seconds, flops, _ = gemm
    return times, flops / seconds / 1e9, seconds


def torch_model(bn):
    """The lab network's layers in PyTorch: the same widths, the norm before each ReLU."""
    import torch
    from torch import nn

    c1, c2, dense = lab_spec(bn).hidden

    def block(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1), *([nn.BatchNorm2d(cout)] if bn else []), nn.ReLU(), nn.MaxPool2d(2)]

    head = [nn.Flatten(), nn.Linear(c2 * 7 * 7, dense), *([nn.BatchNorm1d(dense)] if bn else []), nn.ReLU()]
    torch.manual_seed(0)
    return nn.Sequential(*block(1, c1), *block(c1, c2), *head, nn.Linear(dense, 10))


def torch_epoch(bn, x_nchw, y, bs, repeats):
    import torch

    model = torch_model(bn)
    opt = torch.optim.Adam(model.parameters(), eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x_nchw), torch.from_numpy(y.astype(np.int64))

    def epoch(n):
        perm = torch.randperm(n)
        for i in range(0, n, bs):
            idx = perm[i : i + bs]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()

    epoch(4 * bs)  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        epoch(len(xt))
        times.append(time.perf_counter() - t)
    return times


def main():
    parser = bench_parser(__doc__, threads=2, batch_sizes=(64, 256))
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--samples", type=int, default=10_000, help="samples per epoch (Fashion-MNIST has 60,000)")
    parser.add_argument("--note", default="", help="a line about the machine's state, written into the report")
    args = parser.parse_args()

    import torch

    from bnlab import _core

    torch.set_num_threads(args.threads)
    _core.set_num_threads(args.threads)
    peak = sgemm_gflops(args.threads)
    engine_peak = sgemm_gflops(args.threads, engine=True)
    rng = np.random.default_rng(0)
    x = rng.random((args.samples, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, args.samples).astype(np.int32)
    x_nchw = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    rows = []
    for bn in (False, True):
        for bs in args.batch_sizes:
            tbs, conv_rate, gemm_s = bnlab_epoch(bn, x, y, bs, args.repeats)
            tts = torch_epoch(bn, x_nchw, y, bs, args.repeats)
            rows.append(("yes" if bn else "no", bs, tbs, tts, conv_rate, gemm_s))
            print(
                f"bn={bn} bs={bs}: bnlab {min(tbs):.2f}s (slowest {max(tbs):.2f}, conv GEMMs {conv_rate:.1f} "
                f"GFLOP/s) torch {min(tts):.2f}s (slowest {max(tts):.2f})",
                flush=True,
            )
    lines = [
        "| BN | batch | bnlab s/epoch | PyTorch s/epoch | PyTorch / bnlab | bnlab slowest | PyTorch slowest "
        "| conv GEMM GFLOP/s | % of cblas_sgemm | % of the engine's GEMM | conv GEMM share of the epoch |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for bn, bs, tbs, tts, rate, gemm_s in rows:
        tb, tt = min(tbs), min(tts)
        lines.append(
            f"| {bn} | {bs} | {tb:.2f} | {tt:.2f} | {tt / tb:.2f}× | {max(tbs):.2f} | {max(tts):.2f} | {rate:.1f} "
            f"| {100 * rate / peak:.0f}% | {100 * rate / engine_peak:.0f}% | {100 * gemm_s / tb:.0f}% |"
        )
    header = [
        "# Benchmark: one epoch of the lab's CNN on the CPU, bnlab.keras against PyTorch",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; threads: {args.threads} "
        f"each; PyTorch {torch.__version__}; {args.samples:,} samples of 28x28x1 per epoch; best (and slowest) of "
        f"{args.repeats} epoch(s) after a warm-up of 4 batches.",
        f"Engine cblas_sgemm (OpenBLAS) on 1024³ in the same run: {peak:.1f} GFLOP/s; the engine's own AVX-512 GEMM "
        f"on 1024³: {engine_peak:.1f} GFLOP/s.",
        *([args.note] if args.note else []),
        "",
        "Command: `python benchmarks/bench_cnn_epoch.py --out benchmarks/results_cnn_epoch.md`",
        "",
    ]
    publish(header + lines, args.out)


if __name__ == "__main__":
    main()
