"""bnlab.lab: measure what batch normalization does — one network trained with each normalization.

``bnlab compare`` (``python -m bnlab compare``) and this API train the same network from fresh weights with
each normalization (none, batch, layer, group, renorm, ghost), for every combination of batch size,
learning rate, initial-weight scale and dropout rate, and several seeds; record what happens inside it
(per-layer activation distributions, gradient norms, update ratios, BN's statistics and parameters, the
train/inference discrepancy) and write a report. ``bnlab claims`` (``claims()``) runs one small experiment
per claim made about BN and computes a verdict for each::

    from bnlab import lab
    res = lab.sweep(arch="seed003", batch_sizes=[32, 128], seeds=2, epochs=3, out="runs/demo")
    res.summary()          # the table and the conclusion computed from the measurements
    res.plot("curves")     # a matplotlib Figure (also batch_size, axes, drift, gradients, bn_params)
    res.to_frame("epochs") # with pandas installed
    lab.claims(out="runs/claims", quick=True).text()

docs/LAB.md documents the run folder and the metrics schema (``bnlab.lab.schema``).
"""

from bnlab.lab.claims_run import claims
from bnlab.lab.config import ARCHS, DATASETS, NORMS, LabError, RunSpec, SweepConfig
from bnlab.lab.networks import build_model
from bnlab.lab.results import Results, Summary
from bnlab.lab.runner import run_one
from bnlab.lab.schema import SCHEMA, validate
from bnlab.lab.sweep import compare, sweep

__all__ = [
    "ARCHS",
    "DATASETS",
    "NORMS",
    "SCHEMA",
    "LabError",
    "Results",
    "RunSpec",
    "Summary",
    "SweepConfig",
    "build_model",
    "claims",
    "compare",
    "run_one",
    "sweep",
    "validate",
]
