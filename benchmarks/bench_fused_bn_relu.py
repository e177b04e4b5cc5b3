"""What fusing BatchNormalization with the ReLU after it saves: one training epoch with the fusion on and off.

Seed 003's network with BN before each ReLU (784-128-BN-ReLU-64-BN-ReLU-10 softmax, Adam, 60,000 samples),
the engine's C++ epoch loop (Sequential.train_epoch) with Sequential.fuse_bn_relu True and False, in the
same run, on the CPU and (when bnlab was built with CUDA and a GPU is present) on CUDA. The two settings give
bit-identical results (tests/test_fused_bn_relu.py); only the time differs. Each cell is the best of
--repeats epochs after a warm-up epoch, the two settings alternating so that drifts in machine load hit both.

    python benchmarks/bench_fused_bn_relu.py [--repeats 5] [--threads 2] [--out FILE]
"""

from __future__ import annotations

import time

import numpy as np
from _common import bench_parser, publish

from bnlab import _core


def model(dev: _core.Device, fuse: bool) -> _core.Sequential:
    m = _core.Sequential()
    for units in (128, 64):
        m.add(_core.Dense(units, True, _core.Act.Linear))
        m.add(_core.BatchNorm(0, 0.99, 1e-3, True, True))
        m.add(_core.Activation(_core.Act.Relu))
    m.add(_core.Dense(10, True, _core.Act.Softmax))
    m.build([784], dev)
    m.fuse_bn_relu = fuse
    loss = _core.LossSpec(_core.LossSpec.Kind.Xent, _core.XentForm.SparseProbs, 1e-7)
    m.compile(_core.Adam(1e-3, 0.9, 0.999, 1e-7, False, True, 0.0), loss)
    return m


def epoch_seconds(m: _core.Sequential, x, y, bs: int, epoch: int) -> float:
    t = time.perf_counter()
    m.train_epoch(x, y, bs, True, 0, epoch)  # returns after the device's work: it reads the sums back
    return time.perf_counter() - t


def main() -> None:
    ap = bench_parser(__doc__, threads=2, batch_sizes=(32, 128, 1024))
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    _core.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    x_host = rng.random((60_000, 784), dtype=np.float32)
    y_host = rng.integers(0, 10, 60_000).astype(np.int32)
    devices = [_core.Device.CPU]
    if _core.built_with_cuda and _core.backend_available(_core.Device.CUDA):
        devices.append(_core.Device.CUDA)
    lines = [
        f"Seed 003's network, 60,000 samples, Adam; best of {args.repeats} epochs; CPU threads {args.threads}.",
        "",
        "| device | batch | unfused (s) | fused (s) | fused / unfused |",
        "|---|---|---|---|---|",
    ]
    for dev in devices:
        x, y = _core.Tensor.from_numpy(x_host, dev), _core.Tensor.from_numpy(y_host, dev)
        name = "cpu" if dev == _core.Device.CPU else "cuda"
        for bs in args.batch_sizes:
            models = {fuse: model(dev, fuse) for fuse in (False, True)}
            best = {False: float("inf"), True: float("inf")}
            for fuse in (False, True):
                epoch_seconds(models[fuse], x, y, bs, 0)  # warm-up: buffers sized, caches filled
            for r in range(args.repeats):
                for fuse in (False, True):
                    best[fuse] = min(best[fuse], epoch_seconds(models[fuse], x, y, bs, r + 1))
            lines.append(f"| {name} | {bs} | {best[False]:.3f} | {best[True]:.3f} | {best[True] / best[False]:.3f} |")
            print(lines[-1], flush=True)
    publish(lines, args.out)


if __name__ == "__main__":
    main()
