"""What an experiment is: the networks, the sweep's axes, and one run's spec.

A *sweep* (``SweepConfig``) is the user's request: one network, trained with each normalization of
``norms`` (``none`` is the network without any), for every combination of the other axes — batch size,
learning rate, initial-weight scale, dropout rate — and every seed. It expands into *runs* (``RunSpec``):
one model trained from fresh weights. A *cell* is one combination of the axes (batch size, learning rate,
init scale, dropout): within a cell the norms are compared seed by seed. A run's spec is everything that
decides its numbers, so its hash names the run's file and lets an interrupted sweep skip what it already
finished. How a run is executed (threads, processes, a Dask cluster) is not part of the spec.

Every bad option raises ``LabError`` with a one-line message that says how to fix it; the CLI prints it
and exits with status 2.
"""

import hashlib
import json
import math
import numbers
from dataclasses import asdict, dataclass, field, replace


class LabError(ValueError):
    """A user-fixable problem (bad option, missing dataset, unwritable folder), in one line."""


@dataclass(frozen=True)
class Arch:
    """A network: hidden Dense widths (or a CNN) and where the normalization goes relative to the ReLU."""

    name: str
    hidden: tuple[int, ...]
    bn_position: str  # "before": Dense -> norm -> ReLU; "after": Dense -> ReLU -> norm
    description: str


CNN_ARCH = "cnn"
ARCHS = {
    "seed000": Arch("seed000", (128,), "before", "784-128-10, BN between Linear and ReLU (seed 000, PyTorch)"),
    "seed002": Arch("seed002", (512, 256, 128), "after", "512-256-128, BN after each ReLU (seed 002)"),
    "seed003": Arch("seed003", (128, 64), "before", "128-64, BN between Dense and ReLU (seed 003)"),
    CNN_ARCH: Arch(CNN_ARCH, (16, 32, 64), "before", "small CNN: conv 16, pool, conv 32, pool, dense 64 (CIFAR style)"),
}
CUSTOM_ARCH = "custom"
DATASETS = ("fashion_mnist", "mnist", "cifar10")
OPTIMIZERS = ("sgd", "adam", "rmsprop")
BN_POSITIONS = ("before", "after")
# The normalizations a sweep can compare; "none" is the network without one.
NORMS = ("none", "batch", "layer", "group", "renorm", "ghost")
NORM_NAMES = {
    "none": "no norm",
    "batch": "BN",
    "layer": "LN",
    "group": "GN",
    "renorm": "BRN",
    "ghost": "ghost BN",
}
DROPOUT_POSITIONS = ("before", "after")  # before the normalization / after the block's activation
CELL_AXES = ("batch_size", "learning_rate", "init_scale", "dropout")

# The demo (`bnlab compare` with no options, `make demo`): chosen by measurement, see docs/LAB.md.
DEFAULT_DATASET = "fashion_mnist"
DEFAULT_ARCH = "seed003"
DEFAULT_NORMS = ("none", "batch")
DEFAULT_OPTIMIZER = "sgd"
DEFAULT_SGD_LR = 0.5
DEFAULT_EPOCHS = 10
DEFAULT_BATCH_SIZES = (32, 128, 512)
DEFAULT_SEEDS = 5
DEFAULT_LIMIT = None
DEFAULT_VALIDATION_SPLIT = 0.2
DEFAULT_PROBE_SIZE = 256
DEFAULT_PROBES_PER_EPOCH = 10
DEFAULT_GROUPS = 4  # group norm: channels per group = width / groups
DEFAULT_VIRTUAL_BATCH_SIZE = 8  # ghost BN: statistics over sub-batches of this size
# Batch renormalization (Ioffe 2017): the clipping the paper ends its ramp at, Keras 2's renorm momentum.
RENORM_CLIPPING = {"rmax": 3.0, "rmin": 1.0 / 3.0, "dmax": 5.0}
RENORM_MOMENTUM = 0.99
# Keras's default learning rates, used when --optimizer is not the demo's and --lr is not given.
KERAS_LR = {"sgd": 0.01, "adam": 0.001, "rmsprop": 0.001}


def default_learning_rate(optimizer):
    return DEFAULT_SGD_LR if optimizer == DEFAULT_OPTIMIZER else KERAS_LR[optimizer]


@dataclass(frozen=True)
class RunSpec:
    """One training run: a network with one normalization (or none), one cell of the axes, one seed."""

    dataset: str
    arch: str
    hidden: tuple[int, ...]
    bn_position: str
    norm: str
    groups: int | None  # group norm only
    virtual_batch_size: int | None  # ghost BN only
    init_scale: float
    dropout: float
    dropout_position: str | None  # None without dropout
    optimizer: str
    learning_rate: float
    epochs: int
    batch_size: int
    seed: int
    limit: int | None
    validation_split: float
    probe_size: int
    probes_per_epoch: int

    def to_dict(self):
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d):
        return cls(**{**d, "hidden": tuple(d["hidden"])})

    @property
    def key(self):
        """A hash of everything that decides the run's numbers (10 hex digits)."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:10]

    @property
    def cell(self):
        return cell_of(self.to_dict())

    @property
    def run_id(self):
        return f"bs{self.batch_size}-seed{self.seed}-{self.norm}-{self.key}"

    @property
    def label(self):
        extra = f" lr={self.learning_rate:g}"
        extra += f" init×{self.init_scale:g}" if self.init_scale != 1.0 else ""
        extra += f" dropout {self.dropout:g} {self.dropout_position}" if self.dropout else ""
        return f"bs={self.batch_size}{extra} seed={self.seed} {NORM_NAMES[self.norm]}"


def cell_of(d):
    """The cell (batch size, learning rate, init scale, dropout) of a spec or run record as a tuple."""
    return tuple(d[k] for k in CELL_AXES)


@dataclass(frozen=True)
class SweepConfig:
    """The request: one network, with each normalization, for each cell of the axes and each seed."""

    dataset: str = DEFAULT_DATASET
    arch: str | None = None  # None: DEFAULT_ARCH, or "custom" when hidden is given
    hidden: tuple[int, ...] | None = None  # None: the arch's own widths
    bn_position: str | None = None  # None: the arch's own position
    norms: tuple[str, ...] = DEFAULT_NORMS
    groups: int = DEFAULT_GROUPS
    virtual_batch_size: int = DEFAULT_VIRTUAL_BATCH_SIZE
    init_scales: tuple[float, ...] = (1.0,)
    dropouts: tuple[float, ...] = (0.0,)
    dropout_position: str = "before"
    optimizer: str = DEFAULT_OPTIMIZER
    learning_rates: tuple[float, ...] | None = None  # None: DEFAULT_SGD_LR for SGD, Keras's default otherwise
    epochs: int = DEFAULT_EPOCHS
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES
    seeds: int = DEFAULT_SEEDS
    limit: int | None = DEFAULT_LIMIT
    validation_split: float = DEFAULT_VALIDATION_SPLIT
    probe_size: int = DEFAULT_PROBE_SIZE
    probes_per_epoch: int = DEFAULT_PROBES_PER_EPOCH
    target_accuracy: float | None = None  # None: chosen from the results (see analysis.py)
    seed_list: tuple[int, ...] = field(default=(), repr=False)  # filled by resolved()

    def resolved(self):
        """Validate every option and fill the defaults that depend on others; raises LabError."""
        dataset = _choice(self.dataset, DATASETS, "dataset", "--dataset")
        optimizer = _choice(str(self.optimizer).lower(), OPTIMIZERS, "optimizer", "--optimizer")
        if self.hidden:
            if self.arch not in (None, CUSTOM_ARCH):
                _choice(self.arch, (*ARCHS, CUSTOM_ARCH), "arch", "--arch")
                raise LabError(
                    f"--hidden describes your own network, but --arch {self.arch} is a built-in one: drop "
                    "--arch (or use --arch custom)"
                )
            arch = CUSTOM_ARCH
            hidden = tuple(_positive_int(h, "hidden width", "--hidden") for h in self.hidden)
            position = self.bn_position or "before"
        else:
            arch = _choice(self.arch or DEFAULT_ARCH, (*ARCHS, CUSTOM_ARCH), "arch", "--arch")
            if arch == CUSTOM_ARCH:
                raise LabError("--arch custom needs the hidden widths: add --hidden 256 128")
            hidden, position = ARCHS[arch].hidden, self.bn_position or ARCHS[arch].bn_position
        position = _choice(position, BN_POSITIONS, "BN position", "--bn-position")
        norms = _as_tuple(self.norms)
        if not norms:
            raise LabError(f"no normalization given: e.g. --norm {' '.join(DEFAULT_NORMS)}")
        norms = tuple(dict.fromkeys(_choice(str(n).lower(), NORMS, "normalization", "--norm") for n in norms))
        lrs = _as_tuple(self.learning_rates) or (default_learning_rate(optimizer),)
        lrs = tuple(dict.fromkeys(_positive_float(v, "learning rate", "e.g. --lr 0.05") for v in lrs))
        scales = tuple(
            dict.fromkeys(
                _positive_float(v, "init scale", "e.g. --init-scale 0.5 1 2") for v in _as_tuple(self.init_scales)
            )
        )
        if not scales:
            raise LabError("no init scale given: e.g. --init-scale 1")
        dropouts = tuple(dict.fromkeys(_dropout(v) for v in _as_tuple(self.dropouts) or (0.0,)))
        drop_position = _choice(self.dropout_position, DROPOUT_POSITIONS, "dropout position", "--dropout-position")
        epochs = _positive_int(self.epochs, "epochs", "--epochs")
        sizes = _as_tuple(self.batch_sizes)
        if not sizes:
            raise LabError("no batch size given: e.g. --batch-sizes 32 128")
        sizes = tuple(dict.fromkeys(_positive_int(b, "batch size", "--batch-sizes") for b in sizes))
        groups = _positive_int(self.groups, "group count", "--groups")
        if "group" in norms:
            _divides(groups, hidden, _GROUPS_MISFIT)
        vbs = _positive_int(self.virtual_batch_size, "virtual batch size", "--virtual-batch-size")
        if "ghost" in norms:
            _divides(vbs, sizes, _GHOST_MISFIT)
        seeds = _positive_int(self.seeds, "number of seeds", "--seeds")
        limit = None if self.limit in (None, 0) else _positive_int(self.limit, "limit", "--limit")
        split = self.validation_split
        if not isinstance(split, (int, float)) or not 0.0 < split < 1.0:
            raise LabError(f"validation split must be in (0, 1), got {split!r}: e.g. --validation-split 0.2")
        probe = _positive_int(self.probe_size, "probe size", "probe_size")
        per_epoch = _positive_int(self.probes_per_epoch, "probes per epoch", "--probes-per-epoch")
        target = self.target_accuracy
        if target is not None and (not isinstance(target, (int, float)) or not 0.0 < target < 1.0):
            raise LabError(f"target accuracy must be in (0, 1), got {target!r}: e.g. --target 0.85")
        return replace(
            self,
            dataset=dataset,
            arch=arch,
            hidden=hidden,
            bn_position=position,
            norms=norms,
            groups=groups,
            virtual_batch_size=vbs,
            init_scales=scales,
            dropouts=dropouts,
            dropout_position=drop_position,
            optimizer=optimizer,
            learning_rates=lrs,
            epochs=epochs,
            batch_sizes=sizes,
            seeds=seeds,
            limit=limit,
            validation_split=float(split),
            probe_size=probe,
            probes_per_epoch=per_epoch,
            seed_list=tuple(range(seeds)),
        )

    def cells(self):
        """Every (batch size, learning rate, init scale, dropout), in the order of the runs."""
        c = self if self.seed_list else self.resolved()
        return [
            (bs, lr, s, p) for bs in c.batch_sizes for lr in c.learning_rates for s in c.init_scales for p in c.dropouts
        ]

    def runs(self):
        """The runs of the sweep, the norms of each cell and seed side by side (so that parallel workers
        time them under the same load)."""
        c = self if self.seed_list else self.resolved()
        out = []
        for bs, lr, scale, rate in c.cells():
            for seed in c.seed_list:
                for norm in c.norms:
                    out.append(
                        RunSpec(
                            dataset=c.dataset,
                            arch=c.arch,
                            hidden=c.hidden,
                            bn_position=c.bn_position,
                            norm=norm,
                            groups=c.groups if norm == "group" else None,
                            virtual_batch_size=c.virtual_batch_size if norm == "ghost" else None,
                            init_scale=scale,
                            dropout=rate,
                            dropout_position=c.dropout_position if rate else None,
                            optimizer=c.optimizer,
                            learning_rate=lr,
                            epochs=c.epochs,
                            batch_size=bs,
                            seed=seed,
                            limit=c.limit,
                            validation_split=c.validation_split,
                            probe_size=c.probe_size,
                            probes_per_epoch=c.probes_per_epoch,
                        )
                    )
        return out

    def to_dict(self):
        d = asdict(self)
        d["hidden"] = list(self.hidden) if self.hidden else None
        for k in ("norms", "init_scales", "dropouts", "learning_rates", "batch_sizes", "seed_list"):
            d[k] = list(d[k]) if d[k] is not None else None
        return d

    @classmethod
    def from_dict(cls, d):
        d = dict(d)
        d["hidden"] = tuple(d["hidden"]) if d.get("hidden") else None
        for k in ("norms", "init_scales", "dropouts", "learning_rates", "batch_sizes", "seed_list"):
            d[k] = tuple(d[k]) if d.get(k) is not None else None
        d["seed_list"] = d["seed_list"] or ()
        return cls(**d)


def _as_tuple(value):
    if value is None:
        return ()
    return tuple(value) if isinstance(value, (list, tuple)) else (value,)


def _choice(value, allowed, what, option):
    if value not in allowed:
        raise LabError(f"unknown {what} {value!r}: use {option} with one of {', '.join(allowed)}")
    return value


_GROUPS_MISFIT = (
    "--groups {d} does not divide the width {bad} (widths {all}): choose a group count that divides every width, "
    "e.g. --groups 2"
)
_GHOST_MISFIT = (
    "--virtual-batch-size {d} does not divide the batch size {bad}: choose one that divides every batch size ({all})"
)


def _divides(divisor, values, message):
    """Raise LabError(``message``) unless ``divisor`` divides every value; the message may name the divisor
    ``{d}``, the first value it does not divide ``{bad}`` and all the values ``{all}``."""
    bad = [v for v in values if v % divisor]
    if bad:
        raise LabError(message.format(d=divisor, bad=bad[0], all=", ".join(map(str, values))))


def _positive_int(value, what, option):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise LabError(f"{what} must be a whole number >= 1, got {value!r}: fix {option}")
    return int(value)


def _positive_float(value, what, example):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise LabError(f"{what} must be a positive number, got {value!r}: {example}")
    return float(value)


def _dropout(value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value < 1.0:
        raise LabError(f"dropout rate must be in [0, 1), got {value!r}: e.g. --dropout 0.2")
    return float(value)
