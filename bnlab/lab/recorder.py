"""What a run measures inside the network while it trains: a Keras callback that reads the layers.

The epoch runs in C++; ``fit`` calls back into Python after every batch (``on_train_batch_end``) and at
the epoch's ends, and that is where the recorder looks. Every ``probe_every`` batches (and at each epoch's
last batch) it takes a *probe*:

* activations: a fixed batch of training images (the same for every probe and for the BN and the no-BN
  model) goes through the network layer by layer. For each hidden block it records the distribution of
  ``z`` (the Dense output x·W + b), of ``act`` (the input of the ReLU; after BN when BN comes before it)
  and of ``out`` (the block's output, which is the next layer's input). BN is applied as in training —
  the probe batch's own mean and variance — but computed on the side, so the moving averages are not
  touched. The drift of these distributions over training is what the seeds call internal covariate
  shift.
* gradients: ``||dL/dW||`` (Frobenius norm) of each Dense kernel at that step, read from the engine
  (``layer.dkernel`` holds the last step's gradient of the batch-mean loss), and ``||dL/dgamma||``
  for BN layers.
* updates: ``||W_{t} - W_{t-1}|| / ||W_{t-1}||`` of each Dense kernel for that one step (the weights are
  copied one batch before each probe).

At each epoch's end it adds ``||W_end - W_begin|| / ||W_begin||`` over the whole epoch and the state of
each BN layer (moving mean and variance, gamma, beta). The time the probes take is measured and taken out
of the epoch's time, so the BN / no-BN timing compares training alone.
"""

import itertools
import time

import numpy as np

from bnlab.keras.callbacks import Callback
from bnlab.keras.layers import Activation, BatchNormalization, Dense

STAT_KINDS = ("z", "act", "out")  # Dense output, ReLU input, block output (see the module docstring)
STATS = ("mean", "std", "p15", "p50", "p85")
PERCENTILE_SAMPLE = 16384


def _summary(a):
    """Mean, std and the 15th/50th/85th percentiles (the three lines of Ioffe & Szegedy's figure 1) of
    all values, over probe samples and units. The percentiles come from at most PERCENTILE_SAMPLE values
    taken at a fixed stride (their error is far below the drift they measure), to keep probes cheap."""
    a = np.asarray(a, dtype=np.float32).ravel()
    with np.errstate(all="ignore"):
        if not np.all(np.isfinite(a)):
            return dict.fromkeys(STATS, float("nan"))
        mean = float(a.mean(dtype=np.float64))
        std = float(np.sqrt(np.mean(np.square(a - np.float32(mean)), dtype=np.float64)))
        sample = a[:: max(1, a.size // PERCENTILE_SAMPLE)]
        p15, p50, p85 = (float(v) for v in np.percentile(sample, (15, 50, 85)))
    return {"mean": mean, "std": std, "p15": p15, "p50": p50, "p85": p85}


def _norm(a):
    """The Frobenius norm, without BLAS (whose threads would compete with the engine's)."""
    with np.errstate(all="ignore"):
        return float(np.sqrt(np.sum(np.square(np.asarray(a, dtype=np.float32)), dtype=np.float64)))


def _bn_train_view(layer, h):
    """BN in training mode on the probe batch, without updating the moving averages."""
    with np.errstate(all="ignore"):
        mean, var = h.mean(axis=0, dtype=np.float64), h.var(axis=0, dtype=np.float64)
        y = (h - mean.astype(np.float32)) / np.sqrt(var + layer.epsilon).astype(np.float32)
    if layer.gamma is not None:
        y = y * layer.gamma.numpy()
    if layer.beta is not None:
        y = y + layer.beta.numpy()
    return y.astype(np.float32)


def hidden_blocks(model):
    """[(dense, [the layers after it, up to the next Dense])] for each hidden Dense layer."""
    layers = model.layers
    dense_idx = [i for i, layer in enumerate(layers) if isinstance(layer, Dense)]
    return [(layers[i], layers[i + 1 : j]) for i, j in itertools.pairwise(dense_idx)]


def probe_activations(model, x):
    """{hidden Dense name: {"z_mean", ..., "act_p85", ..., "out_std", "relu_zero_frac"}} on probe batch x."""
    h = np.ascontiguousarray(x, dtype=np.float32)
    for layer in model.layers:  # what comes before the first Dense (Flatten)
        if isinstance(layer, Dense):
            break
        h = layer(h, training=False)
    out = {}
    for dense, rest in hidden_blocks(model):
        z = dense(h, training=False)
        h, act = z, None
        for layer in rest:
            if isinstance(layer, BatchNormalization):
                h = _bn_train_view(layer, h)
            elif isinstance(layer, Activation) and act is None:
                act = h
                h = layer(h, training=False)
            else:
                h = layer(h, training=False)
        act = h if act is None else act
        stats = {
            f"{kind}_{k}": v for kind, a in zip(STAT_KINDS, (z, act, h), strict=True) for k, v in _summary(a).items()
        }
        with np.errstate(all="ignore"):
            stats["relu_zero_frac"] = float(np.mean(act <= 0))
        out[dense.name] = stats
    return out


def bn_state(layer):
    """Summaries of a BN layer's moving statistics and of gamma and beta (over its features)."""
    mm, mv = layer.moving_mean.numpy(), layer.moving_variance.numpy()
    state = {
        "moving_mean_mean": float(mm.mean()),
        "moving_mean_std": float(mm.std()),
        "moving_var_mean": float(mv.mean()),
        "moving_var_min": float(mv.min()),
        "moving_var_max": float(mv.max()),
    }
    for name in ("gamma", "beta"):
        var = getattr(layer, name)
        if var is not None:
            v = var.numpy()
            state.update(
                {
                    f"{name}_mean": float(v.mean()),
                    f"{name}_std": float(v.std()),
                    f"{name}_min": float(v.min()),
                    f"{name}_max": float(v.max()),
                }
            )
    return state


class Recorder(Callback):
    """Collects the trace (per probe), the per-epoch layer and BN records, and reports progress."""

    def __init__(self, probe_x, steps_per_epoch, probes_per_epoch, on_epoch=None):
        super().__init__()
        self.probe_x = probe_x
        self.steps = steps_per_epoch
        self.every = max(1, steps_per_epoch // probes_per_epoch)
        self.on_epoch = on_epoch
        self.trace, self.epochs, self.bn_initial = [], [], {}
        self._epoch = 0

    # ---- helpers ----
    def _dense(self):
        return [layer for layer in self.model.layers if isinstance(layer, Dense)]

    def _bns(self):
        return [layer for layer in self.model.layers if isinstance(layer, BatchNormalization)]

    def _is_probe(self, batch):
        return (batch + 1) % self.every == 0 or batch == self.steps - 1

    def _kernels(self):
        return {d.name: np.array(d.kernel.numpy(), copy=True) for d in self._dense()}

    # ---- hooks ----
    def on_train_begin(self, logs=None):
        self.trace = [{"step": 0, "epoch": 0.0, "layers": probe_activations(self.model, self.probe_x)}]
        self.bn_initial = {b.name: bn_state(b) for b in self._bns()}
        self._step_snapshot = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._probe_time = 0.0
        self._epoch_start_kernels = self._kernels()
        self._grads, self._ratios, self._bn_grads = [], [], []
        self._t0 = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if not (self._is_probe(batch) or self._is_probe(batch + 1)):
            return
        t = time.perf_counter()
        if self._is_probe(batch):
            self._probe(batch)
        self._step_snapshot = self._kernels() if self._is_probe(batch + 1) and batch + 1 < self.steps else None
        self._probe_time += time.perf_counter() - t

    def _probe(self, batch):
        layers = probe_activations(self.model, self.probe_x)
        grads, ratios = {}, {}
        for d in self._dense():
            g = d.dkernel
            grads[d.name] = _norm(g) if g is not None and g.size else float("nan")
            if self._step_snapshot is not None:
                before = self._step_snapshot[d.name]
                ratios[d.name] = _norm(d.kernel.numpy() - before) / max(_norm(before), 1e-30)
            layers.setdefault(d.name, {}).update(grad_norm=grads[d.name], update_ratio=ratios.get(d.name))
        bn_grads = {b.name: _norm(b.dgamma) if b.dgamma is not None else float("nan") for b in self._bns()}
        step = self._epoch * self.steps + batch + 1
        self.trace.append({"step": step, "epoch": step / self.steps, "layers": layers})
        self._grads.append(grads)
        self._bn_grads.append(bn_grads)
        if ratios:
            self._ratios.append(ratios)

    def on_epoch_end(self, epoch, logs=None):
        elapsed = time.perf_counter() - self._t0
        layers = {}
        end_stats = self.trace[-1]["layers"]
        for d in self._dense():
            before, after = self._epoch_start_kernels[d.name], d.kernel.numpy()
            rec = {k: v for k, v in end_stats.get(d.name, {}).items() if k not in ("grad_norm", "update_ratio")}
            rec["grad_norm"] = _mean([g[d.name] for g in self._grads])
            rec["update_ratio_step"] = _mean([r[d.name] for r in self._ratios])
            rec["update_ratio_epoch"] = _norm(after - before) / max(_norm(before), 1e-30)
            rec["weight_norm"] = _norm(after)
            layers[d.name] = rec
        bn = {}
        for b in self._bns():
            bn[b.name] = {**bn_state(b), "gamma_grad_norm": _mean([g[b.name] for g in self._bn_grads])}
        logs = logs or {}
        record = {
            "epoch": epoch + 1,
            "loss": logs.get("loss"),
            "accuracy": logs.get("accuracy"),
            "val_loss": logs.get("val_loss"),
            "val_accuracy": logs.get("val_accuracy"),
            "epoch_time": elapsed - self._probe_time,
            "probe_time": self._probe_time,
            "layers": layers,
            "bn": bn,
        }
        self.epochs.append(record)
        if self.on_epoch is not None:
            self.on_epoch(record)


def _mean(values):
    vals = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(vals)) if vals else float("nan")
