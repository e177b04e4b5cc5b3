"""Each normalization's forward + backward against PyTorch's, and what fold_batchnorm saves at prediction.

Shapes (1024, 512) and (64, 4096), float32, CPU. bnlab: one engine layer's forward then backward
(Layer.forward_backward: no copies back to Python). PyTorch 2.13: the module's forward then backward(dout) on
a fresh graph, with torch.set_num_threads(--threads); bnlab's normalization kernels split their passes over
the same thread count; no GEMM is involved. Batch renorm and ghost batch norm have no PyTorch module, so they
are compared with the composition a user would write (see torch_renorm and torch_ghost). Each cell is the
median of --repeats timings of --inner steps, each after 30 ms of untimed steps, the two frameworks
alternating.

Folding: seed 003's network (784-128-BN-ReLU-64-BN-ReLU-10 softmax) and the lab's CNN (``--arch cnn``)
predicting 10,000 samples, batch 1024, before and after bnlab.fold_batchnorm (median of --repeats x 3).

    python benchmarks/bench_norms.py [--repeats 7] [--inner 20] [--threads 2] [--out FILE]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from report import write_report

import bnlab
from bnlab import _core
from bnlab.keras import layers, models

CLIP = {"rmin": 1 / 3, "rmax": 3.0, "dmax": 5.0}
WARM_S = 0.03  # untimed steps before each timed batch (see timed)


def bnlab_layer(kind: str, C: int, k: int):
    if kind == "BN":
        return _core.BatchNorm(0, 0.99, 1e-3, True, True)
    if kind == "LN":
        return _core.LayerNorm(0, 1e-3, True, True)
    if kind == "GN":
        return _core.GroupNorm(32, 0, 1e-3, True, True)
    if kind == "BRN":
        clip = _core.RenormClip(CLIP["rmin"], CLIP["rmax"], CLIP["dmax"])
        return _core.BatchRenorm(0, 0.99, 1e-3, True, True, clip, 0.99)
    return _core.GhostBatchNorm(0, 0.99, 1e-3, True, True, k)


def torch_renorm(C: int):
    """Batch renorm as a PyTorch user writes it (r and d detached; the moving statistics updated in place)."""
    w, b = torch.ones(C, requires_grad=True), torch.zeros(C, requires_grad=True)
    mu_r, sig_r = torch.zeros(C), torch.ones(C)

    def f(x):
        mu, var = x.mean(0), x.var(0, unbiased=False)
        sig = (var + 1e-3).sqrt()
        r = (sig / sig_r).clamp(CLIP["rmin"], CLIP["rmax"]).detach()
        d = ((mu - mu_r) / sig_r).clamp(-CLIP["dmax"], CLIP["dmax"]).detach()
        with torch.no_grad():
            mu_r.mul_(0.99).add_(0.01 * mu)
            sig_r.mul_(0.99).add_(0.01 * sig)
        return ((x - mu) / sig * r + d) * w + b

    return f


def torch_ghost(C: int, k: int):
    """Ghost batch norm as a PyTorch user writes it: BatchNorm1d over each chunk of k samples."""
    bn = torch.nn.BatchNorm1d(C, eps=1e-3)
    return lambda x: torch.cat([bn(c) for c in x.split(k)])


def torch_layer(kind: str, C: int, k: int):
    if kind == "BN":
        return torch.nn.BatchNorm1d(C, eps=1e-3)
    if kind == "LN":
        return torch.nn.LayerNorm(C, eps=1e-3)
    if kind == "GN":
        return torch.nn.GroupNorm(32, C, eps=1e-3)
    return torch_renorm(C) if kind == "BRN" else torch_ghost(C, k)


def timed(fn, repeats: int, inner: int) -> list[float]:
    """Per-step times of `repeats` batches of `inner` steps, after WARM_S of untimed steps: both libraries'
    worker threads poll for a while after their last job (PyTorch's OpenMP threads for milliseconds), so the
    library measured just before would otherwise share the cores with the one being measured."""
    end = time.perf_counter() + WARM_S
    fn()
    while time.perf_counter() < end:
        fn()
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(inner):
            fn()
        out.append((time.perf_counter() - t) / inner)
    return out


def norms_table(args) -> list[str]:
    lines = [
        "| op | shape | bnlab (ms) | PyTorch (ms) | speed-up |",
        "|---|---|---:|---:|---:|",
    ]
    rng = np.random.default_rng(0)
    for N, C in ((1024, 512), (64, 4096)):
        x_np = rng.normal(0.5, 2.0, (N, C)).astype(np.float32)
        dy_np = rng.normal(size=(N, C)).astype(np.float32)
        k = 32 if N >= 256 else 16
        xt, dyt = _core.Tensor.from_numpy(x_np), _core.Tensor.from_numpy(dy_np)
        for kind in ("BN", "LN", "GN", "BRN", "ghost"):
            layer = bnlab_layer(kind, C, k)
            layer.build([C])
            tl = torch_layer(kind, C, k)
            tx = torch.tensor(x_np, requires_grad=True)
            tdy = torch.tensor(dy_np)

            def ours(layer=layer, xt=xt, dyt=dyt):
                layer.forward_backward(xt, dyt, True)

            def theirs(tl=tl, tx=tx, tdy=tdy):
                tx.grad = None
                tl(tx).backward(tdy)

            a, b = [], []
            for _ in range(args.repeats):  # alternate, so that load drifts hit both
                a += timed(ours, 1, args.inner)
                b += timed(theirs, 1, args.inner)
            ta, tb = statistics.median(a) * 1e3, statistics.median(b) * 1e3
            name = f"{kind} (k={k})" if kind == "ghost" else kind
            lines.append(f"| {name} | ({N}, {C}) | {ta:.3f} | {tb:.3f} | {tb / ta:.2f}x |")
    return lines


def _seed003_model():
    """Seed 003's network on flattened input: Dense-BN-ReLU at 128 and 64, a softmax head."""
    L = layers
    hidden = [layer for width in (128, 64) for layer in (L.Dense(width), L.BatchNormalization(), L.Activation("relu"))]
    return models.Sequential([L.Input(shape=(784,)), *hidden, L.Dense(10, activation="softmax")])


def _lab_cnn_model():
    """The network of ``bnlab compare --arch cnn`` with BN (conv 16, conv 32, dense 64)."""
    from bnlab.lab.config import SweepConfig
    from bnlab.lab.networks import build_model

    spec = next(s for s in SweepConfig(arch="cnn", norms=("batch",)).runs() if s.norm == "batch")
    return build_model(spec, (28, 28, 1), 10)


def fold_table(args) -> list[str]:
    lines = [
        "| model | predict 10,000 with BN (ms) | folded (ms) | time saved | largest difference |",
        "|---|---:|---:|---:|---:|",
    ]
    rng = np.random.default_rng(1)
    for name, build, shape in (
        ("seed 003 MLP (784-128-BN-ReLU-64-BN-ReLU-10)", _seed003_model, (784,)),
        ("lab CNN (--arch cnn: 3 BNs after conv 16, conv 32, dense 64)", _lab_cnn_model, (28, 28, 1)),
    ):
        x = rng.random((10_000, *shape), dtype=np.float32)
        y = rng.integers(0, 10, 10_000)
        model = build()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(x[:2048], y[:2048], batch_size=128, epochs=1, verbose=0)
        folded = bnlab.fold_batchnorm(model)
        diff = float(np.abs(folded.predict(x, verbose=0) - model.predict(x, verbose=0)).max())
        a, b = [], []
        for _ in range(args.repeats):
            a += timed(lambda m=model, x=x: m.predict(x, batch_size=1024, verbose=0), 1, 3)
            b += timed(lambda m=folded, x=x: m.predict(x, batch_size=1024, verbose=0), 1, 3)
        ta, tb = statistics.median(a) * 1e3, statistics.median(b) * 1e3
        lines.append(
            f"| {name}: {len(model.layers)} -> {len(folded.layers)} layers | {ta:.2f} | {tb:.2f} "
            f"| {100 * (1 - tb / ta):.0f}% ({ta - tb:.2f} ms) | {diff:.1e} |"
        )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--inner", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out")
    args = ap.parse_args()
    _core.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    text = "\n".join(
        [
            "# Normalization layers: forward + backward, bnlab against PyTorch 2.13 (CPU)",
            "",
            f"Median of {args.repeats} x {args.inner} steps; threads {args.threads}; float32. "
            "BRN and ghost BN against the PyTorch composition a user writes (benchmarks/bench_norms.py).",
            "",
            *norms_table(args),
            "",
            "## fold_batchnorm: prediction time",
            "",
            *fold_table(args),
            "",
        ]
    )
    print(text)
    if args.out:
        write_report(args.out, text)


if __name__ == "__main__":
    main()
