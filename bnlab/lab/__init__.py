"""bnlab.lab: measure what batch normalization does — one network trained with and without BN.

``bnlab compare`` (``python -m bnlab compare``) and this API train the same network from fresh weights with
and without BN, for several batch sizes and seeds, record what happens inside it (per-layer activation
distributions, gradient norms, update ratios, BN's statistics and parameters) and write a report::

    from bnlab import lab
    res = lab.sweep(arch="seed003", batch_sizes=[32, 128], seeds=2, epochs=3, out="runs/demo")
    res.summary()          # the table and the conclusion computed from the measurements
    res.plot("curves")     # a matplotlib Figure (also batch_size, drift, gradients, bn_params)
    res.to_frame("epochs") # with pandas installed

docs/LAB.md documents the run folder and the metrics schema (``bnlab.lab.schema``).
"""

from bnlab.lab.config import ARCHS, DATASETS, LabError, RunSpec, SweepConfig
from bnlab.lab.results import Results, Summary
from bnlab.lab.runner import build_model, run_one
from bnlab.lab.schema import SCHEMA, validate
from bnlab.lab.sweep import compare, sweep

__all__ = [
    "ARCHS",
    "DATASETS",
    "SCHEMA",
    "LabError",
    "Results",
    "RunSpec",
    "Summary",
    "SweepConfig",
    "build_model",
    "compare",
    "run_one",
    "sweep",
    "validate",
]
