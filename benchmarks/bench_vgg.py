"""CNN training on the CPU, many epochs on one model: a VGG-style CIFAR network on both of bnlab's faces, and a
ResNet-style block on the torch face, against PyTorch in the same run, with the convolution roofline printed.

Networks (the same layers in every library, 32x32x3 images, 10 classes, Adam(1e-3), cross-entropy):

    vgg     conv32-BN-ReLU, conv32-BN-ReLU, maxpool 2, conv64-BN-ReLU, conv64-BN-ReLU, maxpool 2,
            global average pool, dense 10                      (3x3 convolutions, padding 1 / 'same')
    resnet  conv32-BN-ReLU (stem), then a downsampling residual block
              main:     conv64 3x3 stride 2 - BN - ReLU - conv64 3x3 - BN
              shortcut: conv64 1x1 stride 2 - BN
              out = ReLU(main + shortcut)
            then an identity block (conv64-BN-ReLU-conv64-BN, + its input, ReLU), global average pool, dense 10

Faces: bnlab.keras (NHWC, ``model.fit``; the resnet as a functional model, ``layers.Add``, which the engine runs
as Residual blocks), bnlab.torch (NCHW, the plain PyTorch loop) and PyTorch itself (NCHW, the same loop, its
defaults).
Data: random images, and Fashion-MNIST from Debian's dataset-fashion-mnist zero-padded to 32x32 and repeated
over three channels. Each cell trains ONE model per library for --epochs epochs; the libraries' epochs alternate
(epoch k of each, in turn), so a change in the machine's speed hits all of them, and every epoch is printed.

Roofline: the epoch's convolution and dense FLOPs (forward 2*P*K*R per layer, dW the same, dx the same except for
the first layer, which needs none) over the engine's GEMM rate measured in this run (a 1024^3 product through
its dense op). bnlab's epoch over that time is the "roofline ratio". With --profile, one more epoch per face
runs with the engine's phase timers on (bnlab.profile) and the report lists every phase: each convolution
product with its shape and GFLOP/s, BN, pooling, activations, the optimizer, and the time outside the kernels
(Python, the loop).

    python benchmarks/bench_vgg.py --out benchmarks/results_vgg.md --profile
"""

import os
import platform
import sys
import time

import numpy as np
from _common import bench_parser, publish
from bench_epochs import EpochClock, command_args, images, probe_gbs
from bench_keras_epoch import sgemm_gflops

BATCH, SAMPLES = 64, 4096


# ---- the networks' FLOPs -------------------------------------------------------------------------------------
# (H_out, W_out, C_in, K, kernel) per convolution, then the dense layer (C_in, units).
CONVS = {
    "vgg": [(32, 32, 3, 32, 3), (32, 32, 32, 32, 3), (16, 16, 32, 64, 3), (16, 16, 64, 64, 3)],
    "resnet": [(32, 32, 3, 32, 3), (16, 16, 32, 64, 3), (16, 16, 64, 64, 3), (16, 16, 32, 64, 1)]
    + [(16, 16, 64, 64, 3)] * 2,
}
DENSE = {"vgg": (64, 10), "resnet": (64, 10)}


def epoch_flops(net, samples):
    """Forward, dW and dx products of one epoch (the first layer has no dx)."""
    per_sample = 0.0
    for i, (oh, ow, c, k, kk) in enumerate(CONVS[net]):
        fwd = 2.0 * oh * ow * k * c * kk * kk
        per_sample += fwd * (2 if i == 0 else 3)
    per_sample += 3 * 2.0 * DENSE[net][0] * DENSE[net][1]
    return per_sample * samples


# ---- the models ------------------------------------------------------------------------------------------------
def keras_net(net):
    import bnlab.keras as keras
    from bnlab.keras import layers

    keras.utils.set_random_seed(0)

    def cbr(h, width, stride=1, relu=True, k=3):
        h = layers.BatchNormalization()(layers.Conv2D(width, k, strides=stride, padding="same")(h))
        return layers.Activation("relu")(h) if relu else h

    inputs = layers.Input((32, 32, 3))
    h = cbr(inputs, 32)
    if net == "vgg":
        for i, width in enumerate((32, 64, 64)):
            h = cbr(h, width)
            if i % 2 == 0:
                h = layers.MaxPooling2D(2)(h)
    else:
        for stride in (2, 1):
            main = cbr(cbr(h, 64, stride), 64, relu=False)
            skip = cbr(h, 64, stride, relu=False, k=1) if stride > 1 else h
            h = layers.Activation("relu")(layers.Add()([main, skip]))
    outputs = layers.Dense(10)(layers.GlobalAveragePooling2D()(h))
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def torch_net(lib, net):
    """The network as an nn.Module of `lib` (bnlab.torch or torch)."""
    nn = lib.nn

    def cbr(cin, cout, stride=1, relu=True, k=3):
        parts = [nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2), nn.BatchNorm2d(cout)]
        return [*parts, nn.ReLU()] if relu else parts

    if net == "vgg":
        return nn.Sequential(
            *cbr(3, 32), *cbr(32, 32), nn.MaxPool2d(2), *cbr(32, 64), *cbr(64, 64), nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10),
        )  # fmt: skip

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.main = nn.Sequential(*cbr(cin, cout, stride), *cbr(cout, cout, relu=False))
            self.shortcut = nn.Sequential(*cbr(cin, cout, stride, relu=False, k=1)) if stride > 1 else None
            self.relu = nn.ReLU()

        def forward(self, x):
            skip = x if self.shortcut is None else self.shortcut(x)
            return self.relu(self.main(x) + skip)

    return nn.Sequential(
        *cbr(3, 32), Block(32, 64, 2), Block(64, 64, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)
    )


class TorchLoop:
    """The plain PyTorch epoch (fresh randperm, x[idx], forward, loss, zero_grad, backward, step) on `lib`."""

    def __init__(self, lib, net, x, y):
        lib.manual_seed(0)
        self.lib, self.model = lib, torch_net(lib, net)
        self.opt = lib.optim.Adam(self.model.parameters(), lr=1e-3)
        self.loss = lib.nn.CrossEntropyLoss()
        nchw = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        self.x, self.y = lib.tensor(nchw), lib.tensor(y.astype(np.int64))

    def epoch(self):
        perm = self.lib.randperm(len(self.y))
        for i in range(len(self.y) // BATCH):
            idx = perm[i * BATCH : (i + 1) * BATCH]
            loss = self.loss(self.model(self.x[idx]), self.y[idx])
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
        return float(loss.detach())


# ---- one cell: one model per library, epochs alternating ---------------------------------------------------------
def run_cell(net, x, y, epochs, label):
    import torch

    import bnlab.torch as bt

    loops = {"bnlab.torch": TorchLoop(bt, net, x, y), "PyTorch": TorchLoop(torch, net, x, y)}
    times = {name: [] for name in ["bnlab.keras", *loops]}
    probes = []

    def others(epoch):
        for name, loop in loops.items():
            time.sleep(0.1)  # the other library's worker threads go idle first
            t = time.perf_counter()
            loop.epoch()
            times[name].append(time.perf_counter() - t)
        probes.append(probe_gbs())
        cells = "  ".join(f"{name} {t[-1]:.3f} s" for name, t in times.items())
        print(f"  {label} epoch {epoch + 1}: {cells}  (copy probe {probes[-1]:.0f} GB/s)", flush=True)
        time.sleep(0.1)

    clock = EpochClock(others)
    clock.times = times["bnlab.keras"]
    keras_net(net).fit(x, y, batch_size=BATCH, epochs=epochs, verbose=0, shuffle=True, callbacks=[clock.callback])
    return times, probes


# ---- the profile -----------------------------------------------------------------------------------------------
def profile_face(face, net, x, y):
    """One warm epoch, then one epoch with the phase timers on: (wall seconds, bnlab.profile rows)."""
    import bnlab.profile as prof
    import bnlab.torch as bt

    if face == "bnlab.keras":
        model = keras_net(net)
        model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)

        def run():
            model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
    else:
        loop = TorchLoop(bt, net, x, y)
        loop.epoch()
        run = loop.epoch
    prof.reset()
    prof.enable()
    t = time.perf_counter()
    run()
    wall = time.perf_counter() - t
    prof.disable()
    return wall, prof.read()


def profile_group(phase):
    head = phase.split(".")[0]
    if phase.startswith("conv.gemm") or phase.startswith("gemm."):
        return "convolution and dense products"
    return {
        "conv": "convolution: im2col, bias, col2im",
        "bn": "batch norm",
        "maxpool": "pooling",
        "avgpool": "pooling",
        "adam": "optimizer",
        "loss": "loss + metrics",
        "gather": "batch gather",
        "train_step": "train_step",
    }.get(head, "activations, transposes, other kernels")


def profile_report(face, net, wall, rows):
    lines = [f"#### {face}, {net}: profiled epoch {wall:.3f} s", ""]
    lines += ["| phase | shape m×n×k | calls | s/epoch | % of epoch | GFLOP/s |", "|---|---|---:|---:|---:|---:|"]
    sums = {}
    for r in rows:
        if r["phase"] != "train_step":
            g = profile_group(r["phase"])
            sums[g] = sums.get(g, 0.0) + r["seconds"]
        if r["seconds"] < 0.002 * wall and not r["phase"].startswith("conv"):
            continue
        shape = "×".join(str(v) for v in (r["m"], r["n"], r["k"]) if v)
        if r["phase"].startswith(("conv.gemm", "gemm.")):
            shape += f" {r['trans_a']}{r['trans_b']}"
        gf = f"{r['gflops']:.1f}" if r["gflops"] else ""
        lines.append(
            f"| {r['phase']} | {shape} | {r['calls']} | {r['seconds']:.4f} | {100 * r['seconds'] / wall:.1f} | {gf} |"
        )
    kernels = sum(sums.values())
    sums["outside the kernels (Python, autograd, the loop)"] = wall - kernels
    lines += ["", "| summary | s/epoch | % of epoch |", "|---|---:|---:|"]
    for k, v in sorted(sums.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {k} | {v:.4f} | {100 * v / wall:.1f} |")
    return [*lines, ""]


# ---- report ----------------------------------------------------------------------------------------------------
def summarize(rows, roof):
    out = [
        "| network | data | round | library | s per epoch | total | / PyTorch | slowest / first | / roofline |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    spread = {}
    for (net, data, r), (times, probes) in rows.items():
        base = sum(times["PyTorch"])
        for name, t in times.items():
            ratio, steady, vs_roof = sum(t) / base, max(t) / t[0], (sum(t) / len(t)) / roof[net]
            spread.setdefault((net, data, name), []).append((ratio, steady, vs_roof, t[0], sum(t) / len(t)))
            out.append(
                f"| {net} | {data} | {r + 1} | {name} | {' '.join(f'{v:.2f}' for v in t)} | {sum(t):.2f} | "
                f"{ratio:.3f} | {steady:.2f} | {vs_roof:.2f} |"
            )
        out.append(f"| | | | copy probe GB/s | {' '.join(f'{p:.0f}' for p in probes)} | | | | |")
    out += [
        "",
        "Over the rounds (min - max):",
        "",
        "| network | data | library | / PyTorch (total) | slowest / first | mean epoch / roofline |",
        "|---|---|---|---|---|---|",
    ]
    for (net, data, name), vals in spread.items():
        col = list(zip(*vals, strict=True))
        out.append(
            f"| {net} | {data} | {name} | {min(col[0]):.3f} - {max(col[0]):.3f} | "
            f"{min(col[1]):.2f} - {max(col[1]):.2f} | {min(col[2]):.2f} - {max(col[2]):.2f} |"
        )
    return out


def main():
    parser = bench_parser(__doc__, batch_sizes=None)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--samples", type=int, default=SAMPLES)
    parser.add_argument("--nets", nargs="+", default=["vgg", "resnet"], choices=["vgg", "resnet"])
    parser.add_argument("--data", nargs="+", default=["random", "fashion"], choices=["random", "fashion"])
    parser.add_argument("--profile", action="store_true", help="add a profiled epoch per face (bnlab.profile)")
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: the benchmark compares later epochs with the first")
    if args.samples < BATCH:
        parser.error(f"--samples must be at least the batch size {BATCH}")

    import torch

    from bnlab import _core

    torch.set_num_threads(args.threads)
    _core.set_num_threads(args.threads)
    rates = [sgemm_gflops(args.threads, engine=True)]  # again at the end: the faster of the two is the roofline
    _core.set_num_threads(args.threads)
    steps_samples = (args.samples // BATCH) * BATCH
    flops = {net: epoch_flops(net, steps_samples) for net in args.nets}
    for net in args.nets:
        print(
            f"{net}: {flops[net] / 1e9:.0f} GFLOP per epoch, "
            f"{flops[net] / rates[0] / 1e9:.2f} s at {rates[0]:.0f} GFLOP/s"
        )
    rows = {}
    started = time.perf_counter()
    for r in range(args.rounds):
        for data in args.data:
            x, y = images(data, (32, 32, 3), args.samples, np.random.default_rng(r))
            for net in args.nets:
                rows[(net, data, r)] = run_cell(net, x, y, args.epochs, f"round {r + 1} {net} {data}")
    rates.append(sgemm_gflops(args.threads, engine=True))
    _core.set_num_threads(args.threads)
    rate = max(rates)
    roof = {net: flops[net] / (rate * 1e9) for net in args.nets}
    header = [
        "## CNNs, many epochs on one model: bnlab.keras (NHWC) and bnlab.torch (NCHW) against PyTorch",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; threads: {args.threads}; "
        f"PyTorch {torch.__version__}; {args.samples} images, batch {BATCH}, Adam; {args.epochs} epochs per model, "
        f"{args.rounds} round(s); whole run {time.perf_counter() - started:.0f} s.",
        "",
        f"Engine GEMM rate (1024^3 through the dense op, at the start and the end of this run): "
        f"{rates[0]:.0f} and {rates[1]:.0f} GFLOP/s; the roofline uses the faster. Roofline per epoch: "
        + "; ".join(f"{net} {flops[net] / 1e9:.0f} GFLOP -> {roof[net]:.2f} s" for net in args.nets)
        + ".",
        "",
        f"Command: `python benchmarks/bench_vgg.py {command_args(sys.argv[1:])}`",
        "",
    ]
    lines = header + summarize(rows, roof)
    if args.profile:
        x, y = images("random", (32, 32, 3), args.samples, np.random.default_rng(0))
        lines += ["", "### Profile: one warm epoch per face with the engine's phase timers on", ""]
        for net in args.nets:
            for face in ["bnlab.keras", "bnlab.torch"]:
                wall, prows = profile_face(face, net, x, y)
                lines += profile_report(face, net, wall, prows)
    publish(lines, args.out)


if __name__ == "__main__":
    main()
