"""What a BN-versus-no-BN experiment is: the seeds' networks, the sweep's options, and one run's spec.

A *sweep* (``SweepConfig``) is the user's request: one network, trained with and without batch
normalization, for every batch size and every seed. It expands into *runs* (``RunSpec``): one model
trained from fresh weights. A run's spec is everything that decides its numbers, so its hash names the
run's file and lets an interrupted sweep skip what it already finished. How a run is executed (threads,
processes, a Dask cluster) is not part of the spec.

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
    """A network of the seeds: hidden Dense widths and where BN goes relative to the ReLU."""

    name: str
    hidden: tuple[int, ...]
    bn_position: str  # "before": Dense -> BN -> ReLU; "after": Dense -> ReLU -> BN
    description: str


ARCHS = {
    "seed000": Arch("seed000", (128,), "before", "784-128-10, BN between Linear and ReLU (seed 000, PyTorch)"),
    "seed002": Arch("seed002", (512, 256, 128), "after", "512-256-128, BN after each ReLU (seed 002)"),
    "seed003": Arch("seed003", (128, 64), "before", "128-64, BN between Dense and ReLU (seed 003)"),
}
CUSTOM_ARCH = "custom"
DATASETS = ("fashion_mnist", "mnist", "cifar10")
OPTIMIZERS = ("sgd", "adam", "rmsprop")
BN_POSITIONS = ("before", "after")

# The demo (`bnlab compare` with no options, `make demo`): chosen by measurement, see docs/LAB.md.
DEFAULT_DATASET = "fashion_mnist"
DEFAULT_ARCH = "seed003"
DEFAULT_OPTIMIZER = "sgd"
DEFAULT_SGD_LR = 0.5
DEFAULT_EPOCHS = 10
DEFAULT_BATCH_SIZES = (32, 128, 512)
DEFAULT_SEEDS = 5
DEFAULT_LIMIT = None
DEFAULT_VALIDATION_SPLIT = 0.2
DEFAULT_PROBE_SIZE = 256
DEFAULT_PROBES_PER_EPOCH = 10
# Keras's default learning rates, used when --optimizer is not the demo's and --lr is not given.
KERAS_LR = {"sgd": 0.01, "adam": 0.001, "rmsprop": 0.001}


def default_learning_rate(optimizer):
    return DEFAULT_SGD_LR if optimizer == DEFAULT_OPTIMIZER else KERAS_LR[optimizer]


@dataclass(frozen=True)
class RunSpec:
    """One training run: a network with or without BN, one batch size, one seed, fresh weights."""

    dataset: str
    arch: str
    hidden: tuple[int, ...]
    bn_position: str
    bn: bool
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
    def run_id(self):
        return f"bs{self.batch_size}-seed{self.seed}-{'bn' if self.bn else 'nobn'}-{self.key}"

    @property
    def label(self):
        return f"bs={self.batch_size} seed={self.seed} {'BN' if self.bn else 'no BN'}"


@dataclass(frozen=True)
class SweepConfig:
    """The request: one network, with and without BN, for each batch size and seed."""

    dataset: str = DEFAULT_DATASET
    arch: str | None = None  # None: DEFAULT_ARCH, or "custom" when hidden is given
    hidden: tuple[int, ...] | None = None  # None: the arch's own widths
    bn_position: str | None = None  # None: the arch's own position
    optimizer: str = DEFAULT_OPTIMIZER
    learning_rate: float | None = None  # None: DEFAULT_SGD_LR for SGD, Keras's default otherwise
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
                    f"--hidden describes your own network, but --arch {self.arch} is a seed's: drop "
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
        lr = default_learning_rate(optimizer) if self.learning_rate is None else self.learning_rate
        if not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
            raise LabError(f"learning rate must be a positive number, got {lr!r}: e.g. --lr 0.05")
        epochs = _positive_int(self.epochs, "epochs", "--epochs")
        sizes = list(self.batch_sizes) if isinstance(self.batch_sizes, (list, tuple)) else [self.batch_sizes]
        if not sizes:
            raise LabError("no batch size given: e.g. --batch-sizes 32 128")
        sizes = tuple(dict.fromkeys(_positive_int(b, "batch size", "--batch-sizes") for b in sizes))
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
            optimizer=optimizer,
            learning_rate=float(lr),
            epochs=epochs,
            batch_sizes=sizes,
            seeds=seeds,
            limit=limit,
            validation_split=float(split),
            probe_size=probe,
            probes_per_epoch=per_epoch,
            seed_list=tuple(range(seeds)),
        )

    def runs(self):
        """The runs of the sweep, BN and no-BN of each configuration side by side (so that parallel
        workers time them under the same load)."""
        c = self if self.seed_list else self.resolved()
        out = []
        for bs in c.batch_sizes:
            for seed in c.seed_list:
                for bn in (False, True):
                    out.append(
                        RunSpec(
                            c.dataset,
                            c.arch,
                            c.hidden,
                            c.bn_position,
                            bn,
                            c.optimizer,
                            c.learning_rate,
                            c.epochs,
                            bs,
                            seed,
                            c.limit,
                            c.validation_split,
                            c.probe_size,
                            c.probes_per_epoch,
                        )
                    )
        return out

    def to_dict(self):
        d = asdict(self)
        d["hidden"] = list(self.hidden) if self.hidden else None
        d["batch_sizes"] = list(self.batch_sizes)
        d["seed_list"] = list(self.seed_list)
        return d

    @classmethod
    def from_dict(cls, d):
        d = dict(d)
        d["hidden"] = tuple(d["hidden"]) if d.get("hidden") else None
        d["batch_sizes"] = tuple(d["batch_sizes"])
        d["seed_list"] = tuple(d.get("seed_list", ()))
        return cls(**d)


def _choice(value, allowed, what, option):
    if value not in allowed:
        raise LabError(f"unknown {what} {value!r}: use {option} with one of {', '.join(allowed)}")
    return value


def _positive_int(value, what, option):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise LabError(f"{what} must be a whole number >= 1, got {value!r}: fix {option}")
    return int(value)
