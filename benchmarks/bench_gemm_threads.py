"""cblas_sgemm at the seeds' training shapes on 1 thread and on all of them: the best of many single calls.

For each Dense layer of seed 002's and seed 003's networks and each batch size, the three training GEMMs
(forward out = x W, dinput dx = dout W^T, dweight dW = x^T dout; row-major cblas shapes as bnlab.profile names
them) are timed one call at a time through the engine's dense ops, in blocks of --calls calls per thread count
(after 5 untimed ones; each count twice), and the minimum is kept: on a shared machine the minimum is the call
least disturbed by other processes.
The engine's GEMM thread rule is read from this table (see cpp/backend/cpu/dense_cpu.cpp).

    python benchmarks/bench_gemm_threads.py --out benchmarks/results_gemm_threads.md
"""

import itertools

import numpy as np
from _common import bench_parser, load_average, publish

import bnlab.profile as prof
from bnlab import _core

LAYERS = {"seed002": [3072, 512, 256, 128, 10], "seed003": [784, 128, 64, 10]}


def best_calls(inp, out, bs, threads_list, calls):
    """{threads: {phase: best seconds}} for one layer's three GEMMs, thread counts interleaved call by call."""
    rng = np.random.default_rng(0)
    x, w, g = (_core.Tensor.from_numpy(rng.random(s, dtype=np.float32)) for s in ((bs, inp), (inp, out), (bs, out)))
    y, dx, dw = _core.Tensor(), _core.Tensor(), _core.Tensor([inp, out], _core.Device.CPU)
    best = {t: {} for t in threads_list}
    for _, t in itertools.product(range(2), threads_list):  # blocks of one thread count, twice each
        _core.set_num_threads(t)
        for call in range(calls + 5):  # 5 untimed calls first, so that OpenBLAS's workers are awake
            prof.reset()
            prof.enable()
            _core.ops.dense_forward(y, x, w, None, False)
            _core.ops.dense_backward(dx, dw, None, g, x, w, False, False)
            prof.disable()
            for r in prof.read() if call >= 5 else []:
                if r["phase"].startswith("gemm."):
                    key = f"{r['phase']} {r['m']}×{r['n']}×{r['k']} {r['trans_a']}{r['trans_b']}"
                    best[t][key] = min(best[t].get(key, float("inf")), r["seconds"])
    return best


def main():
    parser = bench_parser(__doc__)
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args()
    threads_list = [1, args.threads]
    lines = [
        "# cblas_sgemm at the training shapes: 1 thread against " + str(args.threads),
        "",
        f"Best of 2 × {args.calls} single calls each, in blocks per thread count; load average at start "
        f"{load_average()}.",
        "",
        f"| GEMM (m×n×k) | MACs | 1 thread µs | {args.threads} threads µs | GFLOP/s 1 | GFLOP/s {args.threads} "
        "| faster |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for dims in LAYERS.values():
        for bs, (i, o) in itertools.product(args.batch_sizes, itertools.pairwise(dims)):
            best = best_calls(i, o, bs, threads_list, args.calls)
            for key in best[1]:
                m, n, k = (int(v) for v in key.split()[1].split("×"))
                t1, tn = best[1][key], best[args.threads][key]
                gf1, gfn = 2 * m * n * k / t1 / 1e9, 2 * m * n * k / tn / 1e9
                lines.append(
                    f"| {key} | {m * n * k:,} | {t1 * 1e6:.0f} | {tn * 1e6:.0f} | {gf1:.1f} | {gfn:.1f} "
                    f"| {'1' if t1 <= tn else args.threads} |"
                )
                print(lines[-1], flush=True)
    publish(lines, args.out)


if __name__ == "__main__":
    main()
