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
    DEFAULT_LIMIT,
    DEFAULT_OPTIMIZER,
    DEFAULT_PROBES_PER_EPOCH,
    DEFAULT_SEEDS,
    DEFAULT_VALIDATION_SPLIT,
    LabError,
    SweepConfig,
)
from bnlab.lab.executor import default_threads, execute
from bnlab.lab.progress import SweepProgress
from bnlab.lab.results import Results
from bnlab.lab.store import RunStore


def sweep(
    dataset=DEFAULT_DATASET,
    arch=None,
    *,
    hidden=None,
    bn_position=None,
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
):
    """Train the network with and without BN for every batch size and seed; return the Results.

    Args:
        dataset: "fashion_mnist", "mnist" or "cifar10".
        arch: "seed000" (784-128-10, BN before ReLU), "seed002" (512-256-128, BN after ReLU), "seed003"
            (128-64, BN before ReLU; the default); leave it out when giving ``hidden``.
        hidden, bn_position: your own hidden widths, and where BN goes ("before"/"after" the ReLU; it
            overrides a seed network's position too).
        optimizer, learning_rate: "sgd", "adam" or "rmsprop"; the rate defaults to the demo's for SGD and
            to Keras's default otherwise.
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
    Raises:
        LabError: a bad option, a missing dataset or an unwritable ``out`` (one line, with the fix).
    """
    config = SweepConfig(
        dataset=dataset,
        arch=arch,
        hidden=tuple(hidden) if hidden else None,
        bn_position=bn_position,
        optimizer=optimizer,
        learning_rate=learning_rate,
        epochs=epochs,
        batch_sizes=tuple(batch_sizes) if isinstance(batch_sizes, (list, tuple)) else batch_sizes,
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
        results.write(out)
    return results


def compare(dataset=DEFAULT_DATASET, arch=None, *, batch_size=DEFAULT_BATCH_SIZES[0], **kwargs):
    """One batch size, with and without BN (``seeds`` repeats): ``sweep(batch_sizes=[batch_size])``."""
    return sweep(dataset, arch, batch_sizes=(batch_size,), **kwargs)
