"""One training epoch, bnlab.keras against PyTorch, side by side in one run on the CPU.

Networks (the seeds'): seed 002, 3072-512-256-128-10 with BN after each hidden ReLU, Adam, 40,000 samples;
seed 003, 784-128-64-10 with BN before each ReLU, Adam, 60,000 samples. Batch sizes 32, 64 and 128, with and
without BN. Both frameworks get the same thread count, the same data already in memory, the same shuffling
work (a fresh permutation per epoch), the same layers and the same optimizer. Each cell is the best of
--repeats epochs after one warm-up epoch.

GFLOP/s counts the GEMMs only: forward 2·B·in·out per Dense, backward 2·B·in·out for dW and again for dX
(except the first layer, whose dX nobody needs), so 6·n·Σ in·out − 2·n·in₀·out₀ per epoch. It is compared
with the engine's own cblas_sgemm rate on a 1024³ product, measured in the same run.

    python benchmarks/bench_keras_epoch.py --out benchmarks/results_keras_epoch.md
"""

import itertools
import os
import platform
import time

import numpy as np
from _common import bench_parser, publish

NETS = {
    "seed002": ((32, 32, 3), [512, 256, 128], "after", 40_000),
    "seed003": ((28, 28), [128, 64], "before", 60_000),
}


IDLE_S = 0.1  # the pause before each timed epoch of the alternating benchmarks (settle())


def settle():
    """Sleeps IDLE_S seconds before a timed epoch when the two libraries alternate. A library's worker threads
    keep spinning for a while after its epoch ends, on the cores the next epoch needs: in a 0.2 s sleep right
    after an epoch, the process used 9-12 ms of CPU after PyTorch's (its OpenMP workers) and 0.1-2.6 ms after
    bnlab's. Without the pause that spin was billed to whichever library ran next: bnlab's seed 003 epoch at batch
    128 took 0.037-0.042 s right after PyTorch's and 0.028-0.030 s on its own. Both libraries get the pause."""
    time.sleep(IDLE_S)


def gemm_flops(in_dim, hidden, n):
    dims = [in_dim, *hidden, 10]
    pairs = list(itertools.pairwise(dims))
    return 6 * n * sum(a * b for a, b in pairs) - 2 * n * pairs[0][0] * pairs[0][1]


def sgemm_gflops(threads, engine=False):
    """GFLOP/s of a 1024^3 product through the engine's dense op: cblas_sgemm (OpenBLAS), or with engine=True
    whatever the engine runs for that shape (its own AVX-512 narrow GEMM where it is built)."""
    from bnlab import _core

    _core.set_num_threads(threads)
    rng = np.random.default_rng(0)
    a = _core.Tensor.from_numpy(rng.random((1024, 1024), dtype=np.float32))
    b = _core.Tensor.from_numpy(rng.random((1024, 1024), dtype=np.float32))
    out = _core.Tensor()
    was = _core.ops.set_narrow_gemm(engine)
    try:
        _core.ops.dense_forward(out, a, b, None, False)
        best = float("inf")
        for _ in range(10):
            t = time.perf_counter()
            _core.ops.dense_forward(out, a, b, None, False)
            best = min(best, time.perf_counter() - t)
    finally:
        _core.ops.set_narrow_gemm(was)
    return 2 * 1024**3 / best / 1e9


def bnlab_model(shape, hidden, where, bn):
    """The seed's network in bnlab.keras (Flatten, the hidden Dense layers with BN and ReLU, softmax), with Adam."""
    import bnlab.keras as keras
    from bnlab.keras import layers

    keras.utils.set_random_seed(0)
    body = []
    for units in hidden:
        if bn and where == "before":
            body += [layers.Dense(units), layers.BatchNormalization(), layers.Activation("relu")]
        else:
            body += [layers.Dense(units, activation="relu")] + ([layers.BatchNormalization()] if bn else [])
    model = keras.Sequential([layers.Flatten(input_shape=shape), *body, layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def bnlab_epoch(shape, hidden, where, bn, x, y, bs, repeats):
    model = bnlab_model(shape, hidden, where, bn)
    model.fit(x, y, batch_size=bs, epochs=1, verbose=0)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        model.fit(x, y, batch_size=bs, epochs=1, verbose=0)
        best = min(best, time.perf_counter() - t)
    return best


def torch_runner(hidden, where, bn, x, y, bs):
    """A function that runs one PyTorch epoch of the seed's network (the same layers, Adam, a fresh permutation)."""
    import torch

    torch.manual_seed(0)
    mods, width = [torch.nn.Flatten()], x.shape[1] if x.ndim == 2 else int(np.prod(x.shape[1:]))
    for units in hidden:
        mods.append(torch.nn.Linear(width, units))
        if bn and where == "before":
            mods += [torch.nn.BatchNorm1d(units), torch.nn.ReLU()]
        else:
            mods += [torch.nn.ReLU()] + ([torch.nn.BatchNorm1d(units)] if bn else [])
        width = units
    model = torch.nn.Sequential(*mods, torch.nn.Linear(width, 10))
    opt = torch.optim.Adam(model.parameters())
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))

    def epoch():
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), bs):
            idx = perm[i : i + bs]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()

    return epoch


def torch_epoch(hidden, where, bn, x, y, bs, repeats):
    epoch = torch_runner(hidden, where, bn, x, y, bs)
    epoch()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        epoch()
        best = min(best, time.perf_counter() - t)
    return best


def main():
    parser = bench_parser(__doc__, nets=NETS)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    import torch

    from bnlab import _core

    torch.set_num_threads(args.threads)
    _core.set_num_threads(args.threads)
    peak = sgemm_gflops(args.threads)
    rng = np.random.default_rng(0)
    rows = []
    for net in args.nets:
        shape, hidden, where, n = NETS[net]
        x = rng.random((n, *shape), dtype=np.float32)
        y = rng.integers(0, 10, n)
        flops = gemm_flops(int(np.prod(shape)), hidden, n)
        for bn in (False, True):
            for bs in args.batch_sizes:
                tb = bnlab_epoch(shape, hidden, where, bn, x, y, bs, args.repeats)
                tt = torch_epoch(hidden, where, bn, x.reshape(n, -1), y, bs, args.repeats)
                rows.append((net, "yes" if bn else "no", bs, tb, tt, flops / tb / 1e9))
                print(f"{net} bn={bn} bs={bs}: bnlab {tb:.2f}s torch {tt:.2f}s", flush=True)
    lines = [
        "| network | BN | batch | bnlab s/epoch | PyTorch s/epoch | PyTorch / bnlab | bnlab GEMM GFLOP/s "
        "| % of sgemm |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for net, bn, bs, tb, tt, gf in rows:
        lines.append(
            f"| {net} | {bn} | {bs} | {tb:.2f} | {tt:.2f} | {tt / tb:.2f}× | {gf:.1f} | {100 * gf / peak:.0f}% |"
        )
    header = [
        "# Benchmarks",
        "",
        "## One training epoch on the CPU: bnlab.keras against PyTorch",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; threads: {args.threads}; "
        f"PyTorch {torch.__version__}; best of {args.repeats} epochs after a warm-up.",
        f"Engine cblas_sgemm (OpenBLAS) on 1024³ in the same run: {peak:.1f} GFLOP/s.",
        "",
        "Command: `python benchmarks/bench_keras_epoch.py --out benchmarks/results_keras_epoch.md`",
        "",
    ]
    publish(header + lines, args.out)


if __name__ == "__main__":
    main()
