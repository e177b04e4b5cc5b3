"""The CUDA backend on the GPU: batch-norm bandwidth and whole training epochs against PyTorch on CUDA.

1. Batch norm (training forward, and backward) on x of shape (N, C), for (N, C) = (256, 512), (4096, 1024) and
   (65536, 1024). Bandwidth counts the bytes the kernels move: forward reads x twice (statistics, then the
   normalisation) and writes y and xhat, 4·N·C floats; backward reads dy and xhat twice and writes dx, 5·N·C
   floats (the per-feature vectors are negligible). It is given as a fraction of the device-to-device copy
   bandwidth measured in the same run (a copy of 256 MiB: read + write).
2. One training epoch of the seeds' networks with the data already on the GPU, bnlab's C++ loop
   (Sequential.train_epoch) against PyTorch doing the same work (a fresh permutation, the batches gathered
   on the device, forward, cross-entropy, backward, Adam, loss and accuracy sums): seed 002,
   3072-512-256-128-10 with BN after each hidden ReLU, 40,000 samples; seed 003, 784-128-64-10 with BN before
   each ReLU, 60,000 samples; batch sizes 64 and 1024. Each cell is the best of --repeats epochs after a
   warm-up epoch. Neither waits for the GPU within an epoch: both keep the running loss and accuracy sums on
   the device and read them once at its end. Both run plain FP32 GEMMs (no TF32).

    python benchmarks/bench_cuda.py [--repeats 3] [--out FILE]

Prints a Markdown table (and writes it to --out). Without a CUDA build and device it says so and exits 0.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from report import write_report

from bnlab import _core

CUDA = _core.Device.CUDA
BN_SHAPES = [(256, 512), (4096, 1024), (65536, 1024)]
NETS = {"seed002": (3072, [512, 256, 128], "after", 40_000), "seed003": (784, [128, 64], "before", 60_000)}
BATCHES = [64, 1024]


def gpu(a, dtype=np.float32):
    return _core.Tensor.from_numpy(np.ascontiguousarray(a, dtype=dtype), CUDA)


_barrier = None


def sync():
    """Waits for the backend's stream: copy_to_host synchronises it (one stream carries all the work)."""
    global _barrier
    if _barrier is None:
        _barrier = gpu(np.zeros(1))
    _barrier.numpy()


def timed(fn, bytes_per_call):
    """Seconds per call of fn, enqueued back to back, with enough calls to run for about 0.2 s."""
    for _ in range(3):
        fn()
    sync()
    calls = int(min(2000, max(10, 2e10 / bytes_per_call)))
    t = time.perf_counter()
    for _ in range(calls):
        fn()
    sync()
    return (time.perf_counter() - t) / calls


def copy_bandwidth():
    # Into a destination allocated once: a fresh 256 MiB tensor per call (Tensor.to) would time the memory
    # pool too, which may hand the block back to the driver at each synchronisation.
    src, dst = gpu(np.zeros(64 << 20)), gpu(np.ones(64 << 20))  # 256 MiB each
    nbytes = 2 * src.numel() * 4
    seconds = min(timed(lambda: _core.tensor_ops.copy(dst, src), nbytes) for _ in range(3))
    return nbytes / seconds


def bn_rows(copy_bw):
    rows = []
    rng = np.random.default_rng(0)
    for N, C in BN_SHAPES:
        x, dy = gpu(rng.normal(size=(N, C))), gpu(rng.normal(size=(N, C)))
        gamma, beta = gpu(np.ones(C)), gpu(np.zeros(C))
        dgamma, dbeta = gpu(np.zeros(C)), gpu(np.zeros(C))
        out, dx, cache = _core.Tensor(), _core.Tensor(), _core.ops.BNCache()

        def forward(x=x, gamma=gamma, beta=beta, out=out, cache=cache, N=N, C=C):
            _core.ops.batchnorm_forward_train(out, cache, x, gamma, beta, N, C, 1, 1e-3)

        def backward(dx=dx, dgamma=dgamma, dbeta=dbeta, dy=dy, cache=cache, gamma=gamma, N=N, C=C):
            _core.ops.batchnorm_backward(dx, dgamma, dbeta, dy, cache, gamma, N, C, 1)

        forward()
        for name, fn, floats in [("forward", forward, 4 * N * C), ("backward", backward, 5 * N * C)]:
            seconds = timed(fn, floats * 4)
            bw = floats * 4 / seconds
            cells = [f"BN {name}", f"({N}, {C})", f"{seconds * 1e6:.1f} µs", f"{bw / 1e9:.0f} GB/s"]
            rows.append("| " + " | ".join(cells) + f" | {bw / copy_bw:.0%} |")
    return rows


def bnlab_epoch(in_dim, hidden, where, x, y, bs, repeats):
    seq = _core.Sequential()
    for units in hidden:
        if where == "before":
            seq.add(_core.Dense(units, True, _core.Act.Linear))
            seq.add(_core.BatchNorm(0, 0.99, 1e-3, True, True))
            seq.add(_core.Activation(_core.Act.Relu))
        else:
            seq.add(_core.Dense(units, True, _core.Act.Relu))
            seq.add(_core.BatchNorm(0, 0.99, 1e-3, True, True))
    seq.add(_core.Dense(10, True, _core.Act.Softmax))
    seq.build([in_dim], CUDA)
    rng = np.random.default_rng(1)
    for layer in seq.layers:
        for name, value, _ in layer.params():
            if name == "kernel":
                fan_in, fan_out = value.shape
                limit = np.sqrt(6.0 / (fan_in + fan_out))
                value.copy_from(rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32))
    seq.compile(
        _core.Adam(1e-3, 0.9, 0.999, 1e-7, False, True, 0.0),
        _core.LossSpec(_core.LossSpec.Kind.Xent, _core.XentForm.SparseProbs, 1e-7),
    )
    best = float("inf")
    for epoch in range(repeats + 1):  # epoch 0 warms up (allocations, cuBLAS heuristics)
        t = time.perf_counter()
        seq.train_epoch(x, y, bs, True, 0, epoch)
        sync()
        if epoch:
            best = min(best, time.perf_counter() - t)
    return best


def torch_epoch(torch, in_dim, hidden, where, x, y, bs, repeats):
    nn = torch.nn
    layers, prev = [], in_dim
    for units in hidden:
        bn = nn.BatchNorm1d(units, eps=1e-3, momentum=0.01)
        layers += (
            [nn.Linear(prev, units), bn, nn.ReLU()] if where == "before" else [nn.Linear(prev, units), nn.ReLU(), bn]
        )
        prev = units
    model = nn.Sequential(*layers, nn.Linear(prev, 10)).cuda()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    n = x.shape[0]
    best = float("inf")
    for epoch in range(repeats + 1):
        torch.cuda.synchronize()
        t = time.perf_counter()
        perm = torch.randperm(n, device="cuda")
        loss_sum = torch.zeros((), device="cuda")
        correct = torch.zeros((), device="cuda", dtype=torch.int64)
        for start in range(0, n, bs):
            idx = perm[start : start + bs]
            xb, yb = x[idx], y[idx]
            out = model(xb)
            loss = torch.nn.functional.cross_entropy(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.detach() * idx.numel()
            correct += (out.argmax(1) == yb).sum()
        torch.cuda.synchronize()
        if epoch:
            best = min(best, time.perf_counter() - t)
    return best


def epoch_rows(repeats):
    try:
        import torch

        have_torch = torch.cuda.is_available()
        torch.set_float32_matmul_precision("highest")  # FP32 GEMMs, as bnlab's cuBLAS calls (no TF32)
    except ImportError:
        torch, have_torch = None, False
    rows = []
    rng = np.random.default_rng(2)
    for net, (in_dim, hidden, where, n) in NETS.items():
        x_np = rng.normal(size=(n, in_dim)).astype(np.float32)
        y_np = rng.integers(0, 10, size=n).astype(np.int32)
        x, y = gpu(x_np), gpu(y_np, np.int32)
        tx = torch.from_numpy(x_np).cuda() if have_torch else None
        ty = torch.from_numpy(y_np.astype(np.int64)).cuda() if have_torch else None
        for bs in BATCHES:
            ours = bnlab_epoch(in_dim, hidden, where, x, y, bs, repeats)
            theirs = torch_epoch(torch, in_dim, hidden, where, tx, ty, bs, repeats) if have_torch else None
            ratio = f"{theirs / ours:.2f}×" if theirs else "—"
            torch_cell = f"{theirs * 1e3:.0f} ms" if theirs else "(no torch.cuda)"
            rows.append(f"| {net} epoch | batch {bs} | {ours * 1e3:.0f} ms | {torch_cell} | {ratio} |")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", help="also write the table to this file")
    args = parser.parse_args(argv)
    if not (_core.built_with_cuda and _core.backend_available(CUDA)):
        print("bench_cuda: no CUDA backend here (built without CUDA, or no CUDA device); nothing to measure.")
        return 0
    copy_bw = copy_bandwidth()
    lines = [
        f"Device-to-device copy: {copy_bw / 1e9:.0f} GB/s (read + write of 256 MiB).",
        "",
        "| op | shape | time | bandwidth | of copy |",
        "| --- | --- | --- | --- | --- |",
        *bn_rows(copy_bw),
        "",
        "| network | batch | bnlab | PyTorch | PyTorch / bnlab |",
        "| --- | --- | --- | --- | --- |",
        *epoch_rows(args.repeats),
    ]
    table = "\n".join(lines)
    print(table)
    if args.out:
        write_report(args.out, table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
