"""Many epochs on one model, the way users train: bnlab.keras against PyTorch, side by side in one run on the CPU.

Networks (the seeds'): seed 002, 3072-512-256-128-10 with BN after each hidden ReLU, Adam; seed 003, 784-128-64-10
with BN before each ReLU, Adam (both also without BN). Data: random images, and Fashion-MNIST from Debian's
dataset-fashion-mnist (/usr/share/datasets/fashion-mnist), scaled to [0, 1]; for seed 002 each 28x28 image is
zero-padded to 32x32 and repeated over three channels (CIFAR-10's shape, which the network expects).

Each cell trains ONE fresh model for --epochs epochs (bnlab: one ``model.fit(epochs=E)``, each epoch timed by a
callback; PyTorch: its plain loop, a fresh permutation per epoch), and prints every epoch as it ends. The two
libraries' epochs alternate (bnlab's epoch k, then PyTorch's epoch k), so a change in the machine's speed hits both.
PyTorch runs with its defaults (it keeps denormal floats); bnlab with its own (it flushes them, as TensorFlow does).
A later epoch slower than the first is what this benchmark exists to catch: Adam's moments decaying into denormals,
allocations that grow, caches that stop fitting. The report gives each epoch, the totals, PyTorch's total over
bnlab's, and each library's slowest epoch over its first; with --rounds R, the range over R rounds (the spread).

    python benchmarks/bench_epochs.py --out benchmarks/results_epochs.md
    python benchmarks/bench_epochs.py --no-flush ...    bnlab with IEEE denormals kept (to see what FTZ buys)
"""

import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from _common import bench_parser, publish
from bench_keras_epoch import bnlab_model, torch_runner

NETS = {
    # shape of one image, hidden widths, where BN goes, training samples
    "seed002": ((32, 32, 3), [512, 256, 128], "after", 12_800),
    "seed003": ((28, 28), [128, 64], "before", 60_000),
}
FASHION = Path("/usr/share/datasets/fashion-mnist")


def images(kind, shape, n, rng):
    """n images of `shape` (float32 in [0, 1]) with labels 0..9: uniform noise, or Fashion-MNIST's first n."""
    if kind == "random":
        return rng.random((n, *shape), dtype=np.float32), rng.integers(0, 10, n).astype(np.int32)
    from bnlab.datasets import fashion_mnist

    (x, y), _ = fashion_mnist.load_data(FASHION, download=False)
    x = x[:n].astype(np.float32) / 255.0
    if shape == (32, 32, 3):
        x = np.repeat(np.pad(x, ((0, 0), (2, 2), (2, 2)))[..., None], 3, axis=-1)
    return np.ascontiguousarray(x), y[:n].astype(np.int32)


class EpochClock:
    """A bnlab.keras callback: the wall time of each epoch, and a hook that runs between epochs (untimed)."""

    def __init__(self, between):
        from bnlab.keras.callbacks import Callback

        class _Clock(Callback):
            def on_epoch_begin(cb, epoch, logs=None):  # noqa: N805 - the callback's self is the Callback
                cb.t0 = time.perf_counter()

            def on_epoch_end(cb, epoch, logs=None):  # noqa: N805
                self.times.append(time.perf_counter() - cb.t0)
                between(epoch)

        self.times = []
        self.callback = _Clock()


PROBE = (np.ones(8 << 20, np.float32), np.empty(8 << 20, np.float32))  # 32 MiB each: about L3's size


def probe_gbs():
    """The machine's state between epochs: GB/s of ten 32 MiB copies (NumPy, one thread). The 2-core guest's
    speed changes in stretches (RESULTS.md); an epoch that is slower together with this probe is the machine."""
    src, dst = PROBE
    t = time.perf_counter()
    for _ in range(10):
        np.copyto(dst, src)
    return 10 * 2 * src.nbytes / (time.perf_counter() - t) / 1e9


def run_cell(net, data, bn, bs, epochs, x, y, label):
    """One bnlab model and one PyTorch model, E epochs each, alternating; returns (bnlab times, torch times)."""
    shape, hidden, where, _ = NETS[net]
    torch_epoch = torch_runner(hidden, where, bn, x.reshape(len(x), -1), y, bs)
    torch_times, probes = [], []

    def torch_turn(epoch):
        time.sleep(0.1)  # both libraries' worker threads go idle before the other's epoch (bench_keras_epoch.settle)
        t = time.perf_counter()
        torch_epoch()
        torch_times.append(time.perf_counter() - t)
        probes.append(probe_gbs())
        print(
            f"  {label} epoch {epoch + 1}: bnlab {clock.times[-1]:.3f} s  torch {torch_times[-1]:.3f} s  "
            f"(copy probe {probes[-1]:.0f} GB/s)",
            flush=True,
        )
        time.sleep(0.1)

    clock = EpochClock(torch_turn)
    model = bnlab_model(shape, hidden, where, bn)
    model.fit(x, y, batch_size=bs, epochs=epochs, verbose=0, shuffle=True, callbacks=[clock.callback])
    return clock.times, torch_times, probes


def summarize(rows):
    """Markdown: one line per cell and round, then the spread of the ratios over the rounds."""
    out = [
        "| network | data | BN | batch | round | bnlab s per epoch | PyTorch s per epoch | bnlab total | "
        "PyTorch total | bnlab / PyTorch | bnlab slowest / first | PyTorch slowest / first | copy probe GB/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (net, data, bn, bs, r), (tb, tt, probes) in rows.items():
        out.append(
            f"| {net} | {data} | {bn} | {bs} | {r + 1} | {' '.join(f'{t:.2f}' for t in tb)} | "
            f"{' '.join(f'{t:.2f}' for t in tt)} | {sum(tb):.2f} | {sum(tt):.2f} | {sum(tb) / sum(tt):.3f} | "
            f"{max(tb) / tb[0]:.2f} | {max(tt) / tt[0]:.2f} | {' '.join(f'{p:.0f}' for p in probes)} |"
        )
    cells = sorted({k[:4] for k in rows}, key=lambda k: (k[0], k[1], k[2], k[3]))
    out += [
        "",
        "Over the rounds (min - max):",
        "",
        "| network | data | BN | batch | bnlab / PyTorch total | bnlab slowest / first |",
        "|---|---|---|---|---|---|",
    ]
    for c in cells:
        ratios = [sum(tb) / sum(tt) for k, (tb, tt, _) in rows.items() if k[:4] == c]
        steady = [max(tb) / tb[0] for k, (tb, _, _) in rows.items() if k[:4] == c]
        out.append(
            f"| {c[0]} | {c[1]} | {c[2]} | {c[3]} | {min(ratios):.3f} - {max(ratios):.3f} | "
            f"{min(steady):.2f} - {max(steady):.2f} |"
        )
    return out


def command_args(argv):
    """The command line without its --out (the report's own path)."""
    out, skip = [], False
    for a in argv:
        if skip or a.startswith("--out="):
            skip = False
            continue
        skip = a == "--out"
        if not skip:
            out.append(a)
    return " ".join(out)


def main():
    parser = bench_parser(__doc__, nets=NETS)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--data", nargs="+", default=["random", "fashion"], choices=["random", "fashion"])
    parser.add_argument("--bn", nargs="+", default=["yes", "no"], choices=["yes", "no"])
    parser.add_argument("--samples", type=int, help="training samples (default: the network's, see NETS)")
    parser.add_argument("--no-flush", action="store_true", help="bnlab keeps denormal floats (PyTorch's default)")
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: the benchmark compares later epochs with the first")

    import torch

    from bnlab import _core, config

    torch.set_num_threads(args.threads)
    _core.set_num_threads(args.threads)
    config.set_flush_denormals(not args.no_flush)
    rows = {}
    started = time.perf_counter()
    for r in range(args.rounds):
        for net in args.nets:
            shape, _, _, n = NETS[net]
            n = args.samples or n
            for data in args.data:
                x, y = images(data, shape, n, np.random.default_rng(r))
                for bn in args.bn:
                    for bs in args.batch_sizes:
                        label = f"round {r + 1} {net} {data} bn={bn} batch {bs}"
                        rows[(net, data, bn, bs, r)] = run_cell(net, data, bn == "yes", bs, args.epochs, x, y, label)
    header = [
        "## Many epochs on one model: bnlab.keras against PyTorch",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; threads: {args.threads}; "
        f"PyTorch {torch.__version__} (defaults: denormals kept); bnlab flushes denormals: {not args.no_flush}; "
        f"{args.epochs} epochs per model, {args.rounds} round(s); "
        f"whole run {time.perf_counter() - started:.0f} s.",
        "",
        f"Command: `python benchmarks/bench_epochs.py {command_args(sys.argv[1:])}`",
        "",
    ]
    publish(header + summarize(rows), args.out)


if __name__ == "__main__":
    main()
