"""The ``bnlab`` command line: ``bnlab compare [options]`` and ``bnlab claims [options]`` (also
``python -m bnlab ...``).

Exit status: 0 when every run finished and the report is written; 1 when some runs failed (the report
covers the others); 2 for bad input — an unknown option value, a missing dataset, an unwritable ``--out``
— with one line on stderr that says how to fix it; 130 after Ctrl-C (every finished run is kept, and the
same command resumes the sweep).
"""

import argparse
import sys

from bnlab.lab import config as cfg
from bnlab.lab.config import LabError


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's usage block is many lines; ours is one
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser():
    from bnlab.lab.executor import usable_cores

    p = _Parser(prog="bnlab", description="bnlab: learn, teach and measure batch normalization.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    c = sub.add_parser(
        "compare",
        help="train one network with each normalization across the sweep's axes and write a report",
        description="Train one network with each normalization (default: none and batch), across batch "
        "sizes, learning rates, initial-weight scales, dropout rates and seeds, from fresh weights each "
        "time, and write a report with plots. With no options it runs the demo (about 3 minutes on 2 cores).",
    )
    archs = ", ".join(f"{a.name} ({a.description})" for a in cfg.ARCHS.values())
    c.add_argument(
        "--dataset",
        default=cfg.DEFAULT_DATASET,
        help=f"{', '.join(cfg.DATASETS)} (default {cfg.DEFAULT_DATASET})",
    )
    c.add_argument("--arch", default=None, help=f"{archs}; default {cfg.DEFAULT_ARCH}")
    c.add_argument("--hidden", type=int, nargs="+", metavar="N", help="your own hidden widths, e.g. 256 128")
    c.add_argument(
        "--bn-position", default=None, help="where the normalization goes: before|after the ReLU (default: the arch's)"
    )
    c.add_argument(
        "--norm",
        nargs="+",
        default=list(cfg.DEFAULT_NORMS),
        metavar="NORM",
        help=f"the normalizations compared, the first is the baseline: {' '.join(cfg.NORMS)} "
        f"(default {' '.join(cfg.DEFAULT_NORMS)})",
    )
    c.add_argument(
        "--groups",
        type=int,
        default=cfg.DEFAULT_GROUPS,
        help=f"group norm's group count, dividing every width (default {cfg.DEFAULT_GROUPS})",
    )
    c.add_argument(
        "--virtual-batch-size",
        type=int,
        default=cfg.DEFAULT_VIRTUAL_BATCH_SIZE,
        help=f"ghost BN's sub-batch size, dividing every batch size (default {cfg.DEFAULT_VIRTUAL_BATCH_SIZE})",
    )
    c.add_argument(
        "--init-scale",
        type=float,
        nargs="+",
        default=[1.0],
        metavar="S",
        help="multiples of the default initial kernels (glorot_uniform), e.g. 0.25 1 4 (default 1)",
    )
    c.add_argument(
        "--dropout", type=float, nargs="+", default=[0.0], metavar="P", help="dropout rates, e.g. 0 0.5 (default 0)"
    )
    c.add_argument(
        "--dropout-position",
        default="before",
        help="before (right before the normalization) or after (at each block's end, after the ReLU); default before",
    )
    c.add_argument(
        "--optimizer",
        default=cfg.DEFAULT_OPTIMIZER,
        help=f"{', '.join(cfg.OPTIMIZERS)} (default {cfg.DEFAULT_OPTIMIZER})",
    )
    c.add_argument(
        "--lr",
        type=float,
        nargs="+",
        default=None,
        metavar="LR",
        help=f"learning rates, e.g. 0.05 0.5 (default {cfg.DEFAULT_SGD_LR} for sgd, Keras's default 0.001 for "
        "adam and rmsprop)",
    )
    c.add_argument("--epochs", type=int, default=cfg.DEFAULT_EPOCHS, help=f"default {cfg.DEFAULT_EPOCHS}")
    c.add_argument(
        "--batch-sizes",
        type=int,
        nargs="+",
        default=list(cfg.DEFAULT_BATCH_SIZES),
        metavar="B",
        help=f"batch sizes, an axis of the sweep (default {' '.join(map(str, cfg.DEFAULT_BATCH_SIZES))})",
    )
    c.add_argument(
        "--seeds",
        type=int,
        default=cfg.DEFAULT_SEEDS,
        help=f"repeats with seeds 0..N-1 (default {cfg.DEFAULT_SEEDS})",
    )
    c.add_argument(
        "--limit",
        type=int,
        default=cfg.DEFAULT_LIMIT,
        help=f"use the first N training samples, 0 for all (default {cfg.DEFAULT_LIMIT})",
    )
    c.add_argument(
        "--validation-split",
        type=float,
        default=cfg.DEFAULT_VALIDATION_SPLIT,
        help=f"last fraction held out for validation (default {cfg.DEFAULT_VALIDATION_SPLIT})",
    )
    c.add_argument(
        "--target",
        type=float,
        default=None,
        help="validation accuracy to count epochs to, e.g. "
        "0.85 (default: the best accuracy every model reached, rounded down)",
    )
    c.add_argument(
        "--probes-per-epoch",
        type=int,
        default=cfg.DEFAULT_PROBES_PER_EPOCH,
        help=f"looks inside the network per epoch (default {cfg.DEFAULT_PROBES_PER_EPOCH})",
    )
    c.add_argument(
        "--out",
        default="bnlab-compare",
        help="run folder; an existing one is resumed (default ./bnlab-compare)",
    )
    c.add_argument(
        "--jobs",
        type=int,
        default=usable_cores(),
        help="parallel local processes (default: the usable cores)",
    )
    c.add_argument(
        "--threads",
        type=int,
        default=None,
        help="BLAS threads per run (default: cores / jobs locally, 1 on Dask)",
    )
    c.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="run on this Dask distributed cluster instead of local processes",
    )
    c.add_argument("--rerun", action="store_true", help="run again the runs already finished in --out")
    c.add_argument("--quiet", action="store_true", help="no progress bars; print only the report's path")
    _claims_parser(sub, usable_cores())
    return p


def _claims_parser(sub, cores):
    from bnlab.lab.claimset import CLAIMS

    c = sub.add_parser(
        "claims",
        help="one small experiment per claim about batch normalization, with computed verdicts",
        description="Run one small experiment per claim of the assignment (faster convergence, higher "
        "learning rates, less sensitivity to initialization, regularization, small batches, dropout, "
        "overhead, deployment) and write a report with a verdict per claim computed from the measurements "
        "(about 10 minutes on 2 cores; --quick under 2).",
    )
    c.add_argument("--quick", action="store_true", help="smaller experiments (under 2 minutes on 2 cores)")
    c.add_argument("--only", nargs="+", metavar="CLAIM", help=f"run only these claims: {' '.join(CLAIMS)}")
    c.add_argument(
        "--seeds", type=int, default=None, help="seeds per comparison, at least 3 (default 5; 3 with --quick)"
    )
    c.add_argument(
        "--out", default="bnlab-claims", help="run folder; an existing one is resumed (default ./bnlab-claims)"
    )
    c.add_argument("--jobs", type=int, default=cores, help="parallel local processes (default: the usable cores)")
    c.add_argument("--threads", type=int, default=None, help="BLAS threads per run (default: cores / jobs)")
    c.add_argument("--rerun", action="store_true", help="run again the runs already finished in --out")
    c.add_argument("--quiet", action="store_true", help="no progress; print only the report's path")


def main(argv=None):
    """Entry point of the ``bnlab`` console script; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "compare":
        return _guarded(_compare, args)
    if args.command == "claims":
        return _guarded(_claims, args)
    parser.print_usage(sys.stderr)
    print(
        "bnlab: error: choose a command: bnlab compare [options] or bnlab claims [options] (see --help)",
        file=sys.stderr,
    )
    return 2


def _guarded(command, args):
    """Bad input is one line and exit status 2; Ctrl-C keeps the finished runs and exits 130."""
    try:
        return command(args)
    except LabError as e:
        print(f"bnlab: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"bnlab: interrupted; every finished run is saved in {args.out}; run the same command "
            "again to finish the rest",
            file=sys.stderr,
        )
        return 130


def _claims(args):
    from bnlab.lab.claims_run import claims

    result = claims(
        out=args.out,
        quick=args.quick,
        only=args.only,
        seeds=args.seeds,
        jobs=args.jobs,
        threads=args.threads,
        rerun=args.rerun,
        quiet=args.quiet,
    )
    if not args.quiet:
        print()
        print(result.text())
        print()
    print(f"report: {result.out / 'report.html'}")
    if result.failed:
        print(
            f"bnlab: {result.failed} run(s) failed (listed in the report); run the same command again to retry them",
            file=sys.stderr,
        )
        return 1
    return 0


def _compare(args):
    from bnlab.lab.sweep import sweep

    results = sweep(
        args.dataset,
        args.arch,
        hidden=args.hidden,
        bn_position=args.bn_position,
        norms=args.norm,
        groups=args.groups,
        virtual_batch_size=args.virtual_batch_size,
        init_scales=args.init_scale,
        dropout=args.dropout,
        dropout_position=args.dropout_position,
        optimizer=args.optimizer,
        learning_rate=args.lr,
        epochs=args.epochs,
        batch_sizes=args.batch_sizes,
        seeds=args.seeds,
        limit=args.limit or None,
        validation_split=args.validation_split,
        probes_per_epoch=args.probes_per_epoch,
        target_accuracy=args.target,
        out=args.out,
        jobs=args.jobs,
        threads=args.threads,
        scheduler=args.scheduler,
        rerun=args.rerun,
        quiet=args.quiet,
    )
    report = results.out / "report.html"
    if not args.quiet:
        print()
        print(results.summary())
        print()
    print(f"report: {report}")
    if results.failed:
        print(
            f"bnlab: {len(results.failed)} run(s) failed (listed in the report); run the same command "
            "again to retry them",
            file=sys.stderr,
        )
        return 1
    return 0
