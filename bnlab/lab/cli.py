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

_COMPARE = (
    "Train one network with each normalization (default: none and batch), across batch sizes, learning rates, "
    "initial-weight scales, dropout rates and seeds, from fresh weights each time, and write a report with plots. "
    "With no options it runs the demo (about 3 minutes on 2 cores)."
)
_CLAIMS = """Run one small experiment per claim of the assignment (faster convergence, higher learning rates, less
sensitivity to initialization, regularization, small batches, dropout, overhead, deployment) and write a report
with a verdict per claim computed from the measurements (about 10 minutes on 2 cores; --quick under 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's usage block is many lines; ours is one
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _shown(default):
    """A default as --help shows it: a list space-separated, a float without a trailing .0."""
    if isinstance(default, (list, tuple)):
        return " ".join(_shown(d) for d in default)
    return f"{default:g}" if isinstance(default, float) else str(default)


def _option(parser, flag, text, default=None, **kwargs):
    """Declare ``flag`` with help ``text``, which names the default when there is one (not None)."""
    shown = "" if default is None else f" (default {_shown(default)})"
    parser.add_argument(flag, default=default, help=text + shown, **kwargs)


def _run_options(parser, out, cores, threads, progress):
    """The options of every command that runs a set of runs into a resumable folder."""
    parser.add_argument("--out", default=out, help=f"run folder; an existing one is resumed (default ./{out})")
    parser.add_argument("--jobs", type=int, default=cores, help="parallel local processes (default: the usable cores)")
    parser.add_argument("--threads", type=int, default=None, help=f"BLAS threads per run (default: {threads})")
    parser.add_argument("--rerun", action="store_true", help="run again the runs already finished in --out")
    parser.add_argument("--quiet", action="store_true", help=f"no {progress}; print only the report's path")


def _parser():
    from bnlab.lab.executor import usable_cores

    p = _Parser(prog="bnlab", description="bnlab: learn, teach and measure batch normalization.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    _compare_parser(sub, usable_cores())
    _claims_parser(sub, usable_cores())
    return p


def _compare_parser(sub, cores):
    summary = "train one network with each normalization across the sweep's axes and write a report"
    c = sub.add_parser("compare", help=summary, description=_COMPARE)
    archs = ", ".join(f"{a.name} ({a.description})" for a in cfg.ARCHS.values())
    _option(c, "--dataset", ", ".join(cfg.DATASETS), cfg.DEFAULT_DATASET)
    _option(c, "--arch", f"{archs} (default {cfg.DEFAULT_ARCH})")
    c.add_argument("--hidden", type=int, nargs="+", metavar="N", help="your own hidden widths, e.g. 256 128")
    _option(c, "--bn-position", "where the normalization goes: before|after the ReLU (default: the arch's)")
    norms = f"the normalizations compared, the first is the baseline: {' '.join(cfg.NORMS)}"
    _option(c, "--norm", norms, list(cfg.DEFAULT_NORMS), nargs="+", metavar="NORM")
    _option(c, "--groups", "group norm's group count, dividing every width", cfg.DEFAULT_GROUPS, type=int)
    ghost = "ghost BN's sub-batch size, dividing every batch size"
    _option(c, "--virtual-batch-size", ghost, cfg.DEFAULT_VIRTUAL_BATCH_SIZE, type=int)
    scales = "multiples of the default initial kernels (glorot_uniform), e.g. 0.25 1 4"
    _option(c, "--init-scale", scales, [1.0], type=float, nargs="+", metavar="S")
    _option(c, "--dropout", "dropout rates, e.g. 0 0.5", [0.0], type=float, nargs="+", metavar="P")
    where = "before (right before the normalization) or after (at each block's end, after the ReLU)"
    _option(c, "--dropout-position", where, "before")
    _option(c, "--optimizer", ", ".join(cfg.OPTIMIZERS), cfg.DEFAULT_OPTIMIZER)
    rates = (
        f"learning rates, e.g. 0.05 0.5 (default {cfg.DEFAULT_SGD_LR} for sgd, Keras's default 0.001 for adam "
        "and rmsprop)"
    )
    _option(c, "--lr", rates, type=float, nargs="+", metavar="LR")
    _option(c, "--epochs", "epochs per run", cfg.DEFAULT_EPOCHS, type=int)
    sizes = "batch sizes, an axis of the sweep"
    _option(c, "--batch-sizes", sizes, list(cfg.DEFAULT_BATCH_SIZES), type=int, nargs="+", metavar="B")
    _option(c, "--seeds", "repeats with seeds 0..N-1", cfg.DEFAULT_SEEDS, type=int)
    _option(c, "--limit", "use the first N training samples, 0 for all (default: all)", cfg.DEFAULT_LIMIT, type=int)
    split = "last fraction held out for validation"
    _option(c, "--validation-split", split, cfg.DEFAULT_VALIDATION_SPLIT, type=float)
    target = "validation accuracy to count epochs to, e.g. 0.85 (default: the best accuracy every model reached, "
    _option(c, "--target", target + "rounded down)", type=float)
    probes = "looks inside the network per epoch"
    _option(c, "--probes-per-epoch", probes, cfg.DEFAULT_PROBES_PER_EPOCH, type=int)
    _run_options(c, "bnlab-compare", cores, "cores / jobs locally, 1 on Dask", "progress bars")
    dask = "run on this Dask distributed cluster instead of local processes"
    _option(c, "--scheduler", dask, metavar="tcp://HOST:PORT")


def _claims_parser(sub, cores):
    from bnlab.lab.claimset import CLAIMS

    summary = "one small experiment per claim about batch normalization, with computed verdicts"
    c = sub.add_parser("claims", help=summary, description=_CLAIMS)
    c.add_argument("--quick", action="store_true", help="smaller experiments (under 2 minutes on 2 cores)")
    c.add_argument("--only", nargs="+", metavar="CLAIM", help=f"run only these claims: {' '.join(CLAIMS)}")
    _option(c, "--seeds", "seeds per comparison, at least 3 (default 5; 3 with --quick)", type=int)
    _run_options(c, "bnlab-claims", cores, "cores / jobs", "progress")


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
    return _finish(args, result.out, result.text, result.failed)


def _finish(args, out, text, failed):
    """Print ``text()`` (unless --quiet) and the report's path; exit status 1 when ``failed`` runs failed."""
    if not args.quiet:
        print()
        print(text())
        print()
    print(f"report: {out / 'report.html'}")
    if failed:
        print(
            f"bnlab: {failed} run(s) failed (listed in the report); run the same command again to retry them",
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
    return _finish(args, results.out, results.summary, len(results.failed))
