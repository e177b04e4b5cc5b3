"""``bnlab claims``: one small experiment per claim made about batch normalization, each with a verdict
computed from the measurements by one stated rule.

Every claim is a comparison across seeds: for each seed s an *effect* e_s is computed from paired runs
(the same seed gives every model the same initial kernels and batch order), signed so that a positive
effect is what the claim predicts. The verdict (``verdict``) is the same rule for every claim:

* **supports** — every seed's effect is > 0 and the mean exceeds K = 1 times the seed-to-seed standard
  deviation (sample std, n − 1);
* **weakens** — every seed's effect is < 0 and −mean exceeds K times the standard deviation;
* **cannot tell** — anything else (mixed signs, an effect within the noise, fewer than 3 finite effects).

The experiments are sweeps (sweep.py) into sub-folders of ``out`` (so an interrupted run resumes, and each
sub-folder has its metrics.json and CSV tables); several claims read the same sweep. Networks: seed 003's
MLP (128-64, normalization before the ReLU) on a subset of Fashion-MNIST, plain SGD. The presets
(``PRESETS``) size them: the default takes about 10 minutes on 2 cores, ``quick`` under 2.
"""

import math
from dataclasses import dataclass

import numpy as np

from bnlab.lab import records
from bnlab.lab.config import LabError
from bnlab.lab.networks import norm_available

K_SPREAD = 1.0
VERDICTS = ("supports", "weakens", "cannot tell")
ALTERNATIVES = ("layer", "group", "renorm", "ghost")  # the small-batch claim adds those this build has

# Sizes of the experiments: training subset (the last 20% held out), epochs, default seeds, the batch sizes of the
# small-batch claim, the learning-rate grid, and (subset, epochs) of the overfitting regularization
# experiment. The rest is fixed by the claims below.
PRESETS = {
    "full": {
        "limit": 20000,
        "epochs": 6,
        "seeds": 5,
        "small_batches": (4, 64),
        "lrs": (0.1, 1.0, 4.0),
        "overfit": (2500, 30),
    },
    "quick": {
        "limit": 4000,
        "epochs": 3,
        "seeds": 3,
        "small_batches": (8, 64),
        "lrs": (0.1, 2.0),
        "overfit": (1500, 12),
    },
}
BASE = {"arch": "seed003", "dataset": "fashion_mnist", "optimizer": "sgd", "probes_per_epoch": 2}
LR = 0.1  # SGD learning rate of every experiment but the learning-rate one
BATCH = 64


def verdict(effects, k=K_SPREAD):
    """(verdict, reason) of the per-seed effects by the rule of the module docstring."""
    e = np.array([v for v in effects if v is not None and math.isfinite(v)], dtype=float)
    if len(e) < 3:
        return "cannot tell", f"only {len(e)} finite per-seed effect(s); the rule needs at least 3"
    mean, std = float(e.mean()), float(e.std(ddof=1))
    if np.all(e > 0) and mean > k * std:
        return "supports", f"all {len(e)} seeds > 0 and mean {mean:.3g} > {k:g} × std {std:.3g}"
    if np.all(e < 0) and -mean > k * std:
        return "weakens", f"all {len(e)} seeds < 0 and |mean| {abs(mean):.3g} > {k:g} × std {std:.3g}"
    signs = f"{int(np.sum(e > 0))} of {len(e)} seeds > 0"
    return "cannot tell", f"{signs}; mean {mean:.3g} against {k:g} × std {std:.3g}: within the seed-to-seed noise"


@dataclass(frozen=True)
class Claim:
    name: str
    statement: str  # the claim, as the answers make it
    measured: str  # what the effect is, in words
    unit: str
    sweep: str  # the name of the sweep (sub-folder) it reads


CLAIMS = {
    c.name: c
    for c in (
        Claim(
            "convergence",
            "BN makes training converge faster.",
            "validation accuracy after the first epoch, BN minus no normalization",
            "points",
            "base",
        ),
        Claim(
            "learning_rate",
            "BN allows higher learning rates.",
            "final validation accuracy at the largest learning rate of the grid, BN minus no normalization",
            "points",
            "learning_rate",
        ),
        Claim(
            "initialization",
            "BN makes training less sensitive to the initialization.",
            "spread (max − min) of the final validation accuracy over the init scales, without BN minus with BN",
            "points",
            "initialization",
        ),
        Claim(
            "regularization",
            "BN has a regularizing effect.",
            "train − validation accuracy gap after training (both in inference mode, on as many images), "
            "without BN minus with BN, on a small training set trained long enough to overfit",
            "points",
            "regularization",
        ),
        Claim(
            "small_batch",
            "BN has trouble with small batches.",
            "how much more final validation accuracy BN loses than the model without normalization when the batch "
            "shrinks: (none(small) − none(large)) − (BN(small) − BN(large))",
            "points",
            "small_batch",
        ),
        Claim(
            "dropout",
            "BN interacts badly with dropout.",
            "the final validation accuracy that dropout 0.5 (right before the normalization) costs with BN, minus "
            "what it costs without normalization",
            "points",
            "dropout",
        ),
        Claim(
            "overhead",
            "BN adds computational overhead.",
            "fastest epoch with BN over the fastest without, minus 1 (paired runs, side by side; the fastest "
            "of a run's epochs is the one a busy machine disturbed least)",
            "%",
            "base",
        ),
        Claim(
            "deployment",
            "BN is harder to deploy: training and inference behave differently.",
            "|inference-mode − train-mode accuracy| on held-out batches of 8, with BN minus without normalization",
            "points",
            "base",
        ),
    )
}


def sweeps(preset, seeds=None):
    """{sweep name: keyword arguments of sweep()} of a preset (``seeds``: the preset's when None)."""
    p = PRESETS[preset]
    common = {**BASE, "limit": p["limit"], "epochs": p["epochs"], "seeds": seeds or p["seeds"]}
    small_norms = ("none", "batch", *(n for n in ALTERNATIVES if norm_available(n)))
    small = min(p["small_batches"])
    return {
        "base": {**common, "norms": ("none", "batch"), "batch_sizes": (BATCH,), "learning_rate": LR},
        "regularization": {
            **common,
            "limit": p["overfit"][0],
            "epochs": p["overfit"][1],
            "norms": ("none", "batch"),
            "batch_sizes": (BATCH,),
            "learning_rate": LR,
        },
        "learning_rate": {**common, "norms": ("none", "batch"), "batch_sizes": (BATCH,), "learning_rate": p["lrs"]},
        "initialization": {
            **common,
            "norms": ("none", "batch"),
            "batch_sizes": (BATCH,),
            "learning_rate": LR,
            "init_scales": (0.25, 1.0, 4.0),
        },
        "small_batch": {
            **common,
            "norms": small_norms,
            "batch_sizes": p["small_batches"],
            "learning_rate": LR / 2,
            "virtual_batch_size": max(1, small // 2),
        },
        "dropout": {
            **common,
            "norms": ("none", "batch"),
            "batch_sizes": (BATCH,),
            "learning_rate": LR,
            "dropout": (0.0, 0.5),
            "dropout_position": "before",
        },
    }


# ---- the effects: per seed, from the sweep's records ----
def _by_seed(results, norm, **cell):
    """{seed: record} of one norm in the cell matching ``cell`` (axis=value)."""
    out = {}
    for r in results.records:
        if r["norm"] == norm and all(r[k] == v for k, v in cell.items()):
            out[r["seed"]] = r
    return out


def _fastest_epoch(r):
    return float(np.nanmin(records.series(r, "epoch_time")))


def _final(r):
    return 100 * records.value(r["epochs"][-1].get("val_accuracy"))


def _paired(a, b, fn):
    """{seed: fn(a[seed], b[seed])} over the seeds both have."""
    return {s: fn(a[s], b[s]) for s in sorted(set(a) & set(b))}


def _final_change(results, norm, axis, first, second):
    """{seed: final accuracy with ``axis=first`` minus with ``axis=second``} of ``norm``'s runs (points)."""
    at_first, at_second = _by_seed(results, norm, **{axis: first}), _by_seed(results, norm, **{axis: second})
    return _paired(at_first, at_second, lambda a, b: _final(a) - _final(b))


def measure(name, results):
    """(per-seed effects {seed: value}, panels) of claim ``name`` on its sweep's Results. ``panels`` is
    {"conditions": [...], "values": {norm: [[per-seed values] per condition]}} for the figure."""
    cfg = results.config
    none, bn = (lambda **c: _by_seed(results, "none", **c)), (lambda **c: _by_seed(results, "batch", **c))

    def panel(conditions, norms, value):
        return {
            "conditions": [label for label, _ in conditions],
            "values": {
                n: [[value(r) for r in _by_seed(results, n, **cell).values()] for _, cell in conditions] for n in norms
            },
        }

    if name == "convergence":
        effects = _paired(
            bn(), none(), lambda b, n: 100 * (b["epochs"][0]["val_accuracy"] - n["epochs"][0]["val_accuracy"])
        )
        conditions = [(f"epoch {e}", {}) for e in (1, cfg["epochs"])]
        return effects, {
            "conditions": [c for c, _ in conditions],
            "values": {
                n: [
                    [100 * records.value(r["epochs"][e - 1]["val_accuracy"]) for r in _by_seed(results, n).values()]
                    for e in (1, cfg["epochs"])
                ]
                for n in ("none", "batch")
            },
            "ylabel": "validation accuracy (%)",
        }
    if name == "learning_rate":
        top = max(cfg["learning_rates"])
        effects = _paired(bn(learning_rate=top), none(learning_rate=top), lambda b, n: _final(b) - _final(n))
        conds = [(f"lr {v:g}", {"learning_rate": v}) for v in cfg["learning_rates"]]
        return effects, {**panel(conds, ("none", "batch"), _final), "ylabel": "final validation accuracy (%)"}
    if name == "initialization":
        scales = cfg["init_scales"]

        def spread(norm):
            per = [_by_seed(results, norm, init_scale=s) for s in scales]
            seeds = set.intersection(*(set(p) for p in per))
            return {seed: max(_final(p[seed]) for p in per) - min(_final(p[seed]) for p in per) for seed in seeds}

        effects = _paired(spread("none"), spread("batch"), lambda n, b: n - b)
        conds = [(f"init ×{v:g}", {"init_scale": v}) for v in scales]
        return effects, {**panel(conds, ("none", "batch"), _final), "ylabel": "final validation accuracy (%)"}
    if name == "regularization":

        def gap(r):
            d = r["deploy"]
            return 100 * (records.value(d["train_accuracy"]) - records.value(d["inference_accuracy"]))

        effects = _paired(none(), bn(), lambda n, b: gap(n) - gap(b))
        return effects, {**panel([("train − val gap", {})], ("none", "batch"), gap), "ylabel": "points"}
    if name == "small_batch":
        small, large = min(cfg["batch_sizes"]), max(cfg["batch_sizes"])

        def drop(norm):
            return _final_change(results, norm, "batch_size", small, large)

        effects = _paired(drop("none"), drop("batch"), lambda n, b: n - b)
        conds = [(f"batch {b}", {"batch_size": b}) for b in cfg["batch_sizes"]]
        return effects, {**panel(conds, cfg["norms"], _final), "ylabel": "final validation accuracy (%)"}
    if name == "dropout":
        rates = cfg["dropouts"]
        lo, hi = min(rates), max(rates)

        def cost(norm):
            return _final_change(results, norm, "dropout", lo, hi)

        effects = _paired(cost("batch"), cost("none"), lambda b, n: b - n)
        conds = [(f"dropout {v:g}", {"dropout": v}) for v in rates]
        return effects, {**panel(conds, ("none", "batch"), _final), "ylabel": "final validation accuracy (%)"}
    if name == "overhead":
        effects = _paired(bn(), none(), lambda b, n: 100 * (_fastest_epoch(b) / _fastest_epoch(n) - 1))
        return effects, {**panel([("fastest epoch", {})], ("none", "batch"), _fastest_epoch), "ylabel": "seconds"}
    if name == "deployment":

        def discrepancy(r):
            d = r["deploy"]
            return 100 * abs(records.value(d["inference_accuracy"]) - records.value(d["train_mode_accuracy"]))

        effects = _paired(bn(), none(), lambda b, n: discrepancy(b) - discrepancy(n))
        keys = [
            ("inference", "inference_accuracy"),
            ("train mode, batches of 8", "train_mode_accuracy"),
            ("shifted, inference", "shifted_inference_accuracy"),
            ("shifted, train mode", "shifted_train_mode_accuracy"),
        ]
        return effects, {
            "conditions": [label for label, _ in keys],
            "values": {
                n: [[100 * records.value(r["deploy"][k]) for r in _by_seed(results, n).values()] for _, k in keys]
                for n in ("none", "batch")
            },
            "ylabel": "accuracy on held-out images (%)",
        }
    raise LabError(f"unknown claim {name!r}: choose from {', '.join(CLAIMS)}")


def extras(name, results):
    """Further measured comparisons a claim's section reports (not part of its verdict)."""
    out = []
    if name == "small_batch":
        small = min(results.config["batch_sizes"])
        bn = _by_seed(results, "batch", batch_size=small)
        for alt in results.config["norms"]:
            if alt in ("none", "batch"):
                continue
            eff = _paired(_by_seed(results, alt, batch_size=small), bn, lambda a, b: _final(a) - _final(b))
            v, reason = verdict(list(eff.values()))
            word = {"supports": "better than BN", "weakens": "worse than BN", "cannot tell": "cannot tell"}[v]
            out.append(_summary(f"{alt} minus BN at batch {small} (final val acc)", eff, "points", word, reason))
    if name == "deployment":
        bn = _by_seed(results, "batch")
        lag = {
            s: max(m["mean_error"] for m in r["deploy"]["moving_stats"].values())
            for s, r in bn.items()
            if r.get("deploy")
        }
        out.append(
            _summary("moving-mean lag of the most lagging BN layer (in std of its input)", lag, "std", None, None)
        )
        shift = _paired(
            bn,
            _by_seed(results, "none"),
            lambda b, n: (
                100
                * (
                    (b["deploy"]["inference_accuracy"] - b["deploy"]["shifted_inference_accuracy"])
                    - (n["deploy"]["inference_accuracy"] - n["deploy"]["shifted_inference_accuracy"])
                )
            ),
        )
        v, reason = verdict(list(shift.values()))
        out.append(
            _summary("accuracy lost to the input shift, BN minus none (inference mode)", shift, "points", v, reason)
        )
    return out


def _summary(what, effects, unit, word, reason):
    vals = np.array([v for v in effects.values() if v is not None and math.isfinite(v)], dtype=float)
    return {
        "what": what,
        "unit": unit,
        "per_seed": {str(s): v for s, v in effects.items()},
        "mean": float(vals.mean()) if len(vals) else None,
        "std": float(vals.std(ddof=1)) if len(vals) > 1 else None,
        "min": float(vals.min()) if len(vals) else None,
        "max": float(vals.max()) if len(vals) else None,
        "verdict": word,
        "reason": reason,
    }


def evaluate(name, results):
    """The claim's entry of claims.json: what was measured, the effect per seed and its spread, the verdict
    by the rule, the figure's data and the extras."""
    claim = CLAIMS[name]
    effects, panels = measure(name, results)
    word, reason = verdict(list(effects.values()))
    return {
        "name": name,
        "statement": claim.statement,
        "measured": claim.measured,
        "sweep": claim.sweep,
        "effect": _summary(claim.measured, effects, claim.unit, word, reason),
        "verdict": word,
        "panels": panels,
        "extras": extras(name, results),
    }
