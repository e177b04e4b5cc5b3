"""``sweep`` and ``compare``: the Python face of ``bnlab compare``.

A sweep validates its options, loads the data once, skips the runs already finished in ``out``, runs the
rest (here, in local processes or on Dask, see executor.py), saves each run the moment it arrives, and
finally writes the folder: metrics, tables, figures, report. Without ``out`` nothing is written and the
Results live in memory.
"""

from bnlab.lab import data as data_module
from bnlab.lab.config import (
    DEFAULT_BATCH_SIZES,
    DEFAULT_DATASET,
    DEFAULT_EPOCHS,
    DEFAULT_GROUPS,
    DEFAULT_LIMIT,
    DEFAULT_NORMS,
    DEFAULT_OPTIMIZER,
    DEFAULT_PROBES_PER_EPOCH,
    DEFAULT_SEEDS,
    DEFAULT_VALIDATION_SPLIT,
    DEFAULT_VIRTUAL_BATCH_SIZE,
    LabError,
    SweepConfig,
)
from bnlab.lab.executor import default_threads, execute
from bnlab.lab.networks import check_available
from bnlab.lab.progress import SweepProgress
from bnlab.lab.results import Results
from bnlab.lab.store import RunStore


def sweep(
    dataset=DEFAULT_DATASET,
    arch=None,
    *,
    hidden=None,
    bn_position=None,
    norms=DEFAULT_NORMS,
    groups=DEFAULT_GROUPS,
    virtual_batch_size=DEFAULT_VIRTUAL_BATCH_SIZE,
    init_scales=(1.0,),
    dropout=0.0,
    dropout_position="before",
    optimizer=DEFAULT_OPTIMIZER,
    learning_rate=None,
    epochs=DEFAULT_EPOCHS,
    batch_sizes=DEFAULT_BATCH_SIZES,
    seeds=DEFAULT_SEEDS,
    limit=DEFAULT_LIMIT,
    validation_split=DEFAULT_VALIDATION_SPLIT,
    probes_per_epoch=DEFAULT_PROBES_PER_EPOCH,
    target_accuracy=None,
    out=None,
    jobs=1,
    threads=None,
    scheduler=None,
    rerun=False,
    quiet=True,
    report=True,
):
    """Train the network with each normalization for every cell of the axes and every seed; return the
    Results.

    Args:
        dataset: "fashion_mnist", "mnist" or "cifar10".
        arch: "seed000" (784-128-10, BN before ReLU), "seed002" (512-256-128, BN after ReLU), "seed003"
            (128-64, BN before ReLU; the default), "cnn" (the small CNN); leave it out when giving ``hidden``.
        hidden, bn_position: your own hidden widths, and where the normalization goes ("before"/"after"
            the ReLU; it overrides a built-in network's position too).
        norms: the normalizations compared, the first is the baseline: "none", "batch", "layer",
            "group", "renorm", "ghost".
        groups, virtual_batch_size: group norm's group count (divides every width); ghost BN's virtual
            batch size (divides every batch size).
        init_scales: multiples of the default initial kernels (glorot_uniform draws, scaled).
        dropout, dropout_position: a rate or several in [0, 1); "before" the normalization or "after"
            the block's activation.
        optimizer, learning_rate: "sgd", "adam" or "rmsprop"; one rate or several (an axis); the rate
            defaults to the demo's for SGD and to Keras's default otherwise.
        epochs, batch_sizes, seeds: the sweep (seeds 0 .. seeds-1).
        limit: use the first ``limit`` training samples (None: all).
        validation_split: the last fraction of those held out for validation (Keras's rule).
        probes_per_epoch: how often per epoch the recorder looks inside the network.
        target_accuracy: the validation accuracy the summary counts epochs to (None: chosen from the data).
        out: folder to save runs and the report in; a finished run found there is not run again.
        jobs, threads: local worker processes, and BLAS threads per run (default: cores / jobs).
        scheduler: a Dask scheduler address (``"tcp://host:8786"``) or a ``distributed.Client``.
        rerun: run again even the runs already finished in ``out``.
        quiet: no progress output.
        report: with ``out``, write the figures and report.html/.md too (else only the data files).
    Raises:
        LabError: a bad option, a missing dataset or an unwritable ``out`` (one line, with the fix).
    """
    config = SweepConfig(
        dataset=dataset,
        arch=arch,
        hidden=tuple(hidden) if hidden else None,
        bn_position=bn_position,
        norms=_seq(norms),
        groups=groups,
        virtual_batch_size=virtual_batch_size,
        init_scales=_seq(init_scales),
        dropouts=_seq(dropout),
        dropout_position=dropout_position,
        optimizer=optimizer,
        learning_rates=_seq(learning_rate) if learning_rate is not None else None,
        epochs=epochs,
        batch_sizes=_seq(batch_sizes),
        seeds=seeds,
        limit=limit,
        validation_split=validation_split,
        probes_per_epoch=probes_per_epoch,
        target_accuracy=target_accuracy,
    ).resolved()
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise LabError(f"jobs must be a whole number >= 1, got {jobs!r}: fix --jobs")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise LabError(f"threads must be a whole number >= 1, got {threads!r}: fix --threads")
    threads = threads or default_threads(jobs, scheduler)
    check_available(config)
    store = RunStore(out) if out is not None else None
    if store is not None:
        store.prepare()
    data = data_module.load(config.dataset, config.limit, quiet=quiet)
    specs = config.runs()
    records = {}
    if store is not None and not rerun:
        for spec in specs:
            found = store.load(spec)
            if found is not None:
                records[spec.run_id] = found
    todo = [s for s in specs if s.run_id not in records]
    progress = SweepProgress(len(todo), quiet=quiet)
    progress.register(specs)
    progress.skipped(len(records))
    failed = []

    def on_done(record):
        if store is not None:
            store.save(record)
        records[record["run_id"]] = record
        progress.run_done(record)

    def on_failed(spec, message):
        failed.append({"run_id": spec.run_id, "error": message})
        progress.run_failed(spec, message)

    try:
        execute(
            todo,
            data,
            jobs=jobs,
            threads=threads,
            scheduler=scheduler,
            on_epoch=progress.epoch,
            on_done=on_done,
            on_failed=on_failed,
        )
    finally:
        progress.close()
    dataset_info = {
        "name": data.name,
        "classes": data.classes,
        "input_shape": list(data.input_shape),
        "n_samples": len(data.x_train),
        "n_test": len(data.x_test),
    }
    scheduler_name = (
        scheduler
        if scheduler is None or isinstance(scheduler, str)
        else str(getattr(getattr(scheduler, "scheduler", None), "address", scheduler))
    )
    execution = {"jobs": jobs, "threads": threads, "scheduler": scheduler_name}
    results = Results(config.to_dict(), list(records.values()), out, failed, dataset_info, execution)
    if store is not None:
        results.write(out, report=report)
    return results


def compare(dataset=DEFAULT_DATASET, arch=None, *, batch_size=DEFAULT_BATCH_SIZES[0], **kwargs):
    """One batch size, each normalization (``seeds`` repeats): ``sweep(batch_sizes=[batch_size])``."""
    return sweep(dataset, arch, batch_sizes=(batch_size,), **kwargs)


def _seq(value):
    return tuple(value) if isinstance(value, (list, tuple)) else (value,)
