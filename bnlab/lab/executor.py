"""Where the runs execute: in this process, in parallel local processes, or on a Dask cluster.

* ``jobs == 1`` (no scheduler): one run after the other in this process.
* ``jobs > 1``: ``jobs`` worker processes (``bnlab.lab.worker.main``, see worker.py), each fed one
  run at a time. Each run gets ``threads`` BLAS threads (default: the usable cores divided by ``jobs``,
  at least 1) so that jobs x threads does not oversubscribe the machine; the workers start with
  ``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS``/``MKL_NUM_THREADS`` set to it, and ``run_one`` calls
  ``bnlab._core.set_num_threads`` too.
* ``scheduler``: a Dask distributed cluster (``dask.distributed.Client(address)``, or a Client), with
  Dask's own scheduler and workers. The data is scattered to the workers once; each run is one task;
  epoch progress comes back through a ``distributed.Queue``. Default threads per run: 1 (start the
  workers as ``dask worker ADDRESS --nthreads 1 --nworkers N``: a worker process runs one run at a time).

Every path calls the same ``run_one``, so for the same specs and thread count the numbers are equal.
Finished runs are handed to ``on_done`` in this process as they arrive (the caller saves them at once). A
failing run (or a worker process that dies) is reported to ``on_failed`` and the others go on. On Ctrl-C,
workers are stopped (local processes killed, Dask futures cancelled) and KeyboardInterrupt propagates;
what was handed over is safe.
"""

import contextlib
import os
import selectors
import subprocess
import sys
import time
import traceback
import uuid
from collections import deque
from pathlib import Path

from bnlab.lab import worker
from bnlab.lab.config import LabError, RunSpec
from bnlab.lab.runner import run_one

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def usable_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_threads(jobs, scheduler=None):
    return 1 if scheduler is not None else max(1, usable_cores() // max(1, jobs))


def execute(specs, data, *, jobs=1, threads=None, scheduler=None, on_epoch=None, on_done=None, on_failed=None):
    """Run every spec; see the module docstring."""
    on_epoch = on_epoch or (lambda event: None)
    on_done = on_done or (lambda record: None)
    on_failed = on_failed or (lambda spec, message: None)
    threads = threads or default_threads(jobs, scheduler)
    if not specs:
        return
    if scheduler is not None:
        _on_dask(specs, data, threads, scheduler, on_epoch, on_done, on_failed)
    elif jobs <= 1 or len(specs) == 1:
        for spec in specs:
            outcome = _attempt(spec, data, threads, on_epoch)
            _deliver(outcome, on_done, on_failed)
    else:
        _in_processes(specs, data, min(jobs, len(specs)), threads, on_epoch, on_done, on_failed)


def _attempt(spec, data, threads, progress):
    """("ok", record) or ("failed", spec dict, one line naming the exception and where it was raised)."""
    try:
        return ("ok", run_one(spec, data, threads, progress))
    except LabError as e:
        return ("failed", spec.to_dict(), str(e))
    except Exception as e:
        last = traceback.extract_tb(e.__traceback__)[-1]
        where = f"{os.path.basename(last.filename)}:{last.lineno}"
        first = (str(e).splitlines() or [""])[0]
        return ("failed", spec.to_dict(), f"{type(e).__name__}: {first} (at {where})")


def _deliver(outcome, on_done, on_failed):
    if outcome[0] == "ok":
        on_done(outcome[1])
    else:
        on_failed(RunSpec.from_dict(outcome[1]), outcome[2])


# ---- local processes ----
class _Worker:
    """One worker process running ``bnlab.lab.worker.main`` (see worker.py for why not multiprocessing)."""

    def __init__(self, threads, data):
        import bnlab

        env = dict(os.environ, **dict.fromkeys(_THREAD_VARS, str(threads)))
        root = str(Path(bnlab.__file__).resolve().parent.parent)  # import the same bnlab as this process
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        command = [sys.executable, "-c", "import sys; from bnlab.lab.worker import main; sys.exit(main())"]
        self.proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, bufsize=0, start_new_session=True
        )
        self.spec = None
        worker.send(self.proc.stdin, ("init", threads, data))

    def start(self, spec):
        self.spec = spec
        worker.send(self.proc.stdin, ("run", spec.to_dict()))

    def stop(self, kill=False):
        with contextlib.suppress(OSError):
            if kill:
                self.proc.kill()
            else:
                worker.send(self.proc.stdin, ("stop",))
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                stream.close()


def _in_processes(specs, data, jobs, threads, on_epoch, on_done, on_failed):
    todo = deque(specs)
    selector = selectors.DefaultSelector()
    workers, clean = [], False

    def add_worker():
        w = _Worker(threads, data)
        workers.append(w)
        selector.register(w.proc.stdout, selectors.EVENT_READ, w)
        return w

    def next_run(w):
        w.spec = None
        if todo:
            w.start(todo.popleft())

    try:
        for _ in range(jobs):
            next_run(add_worker())
        while any(w.spec is not None for w in workers):
            for key, _ in selector.select(timeout=0.5):
                w = key.data
                message = worker.receive(w.proc.stdout)
                if message is None:  # the process died (killed, out of memory): report, replace, go on
                    selector.unregister(w.proc.stdout)
                    workers.remove(w)
                    w.stop(kill=True)
                    on_failed(w.spec, f"worker process died (exit status {w.proc.returncode})")
                    if todo:
                        next_run(add_worker())
                elif message[0] == "epoch":
                    on_epoch(message[1])
                else:
                    _deliver(message[1], on_done, on_failed)
                    next_run(w)
        clean = True
    finally:
        for w in workers:
            w.stop(kill=not clean)
        selector.close()


# ---- Dask ----
def connect(scheduler):
    """A distributed.Client for an address (or the Client given); raises LabError with the fix."""
    try:
        from distributed import Client
    except ImportError:
        raise LabError("--scheduler needs Dask: pip install 'dask[distributed]'") from None
    if isinstance(scheduler, Client):
        return scheduler, False
    try:
        return Client(scheduler), True  # waits distributed.comm.timeouts.connect (Dask's config, 30 s)
    except (OSError, TimeoutError, ValueError) as e:
        raise LabError(
            f"cannot reach the Dask scheduler at {scheduler} ({type(e).__name__}: {e}); start one "
            "with `dask scheduler` and workers with `dask worker ADDRESS --nthreads 1`, then pass "
            "--scheduler tcp://HOST:8786"
        ) from None


def _dask_task(spec_dict, data, threads, queue_name):
    from distributed import Queue

    events = Queue(queue_name)
    return _attempt(RunSpec.from_dict(spec_dict), data, threads, events.put)


def _on_dask(specs, data, threads, scheduler, on_epoch, on_done, on_failed):
    from distributed import Queue, as_completed

    client, owned = connect(scheduler)
    tag = uuid.uuid4().hex[:8]
    events = Queue(f"bnlab-progress-{tag}", client=client)
    futures = []
    try:
        data_future = client.scatter(data, broadcast=True)
        by_key = {}
        for s in specs:
            future = client.submit(
                _dask_task,
                s.to_dict(),
                data_future,
                threads,
                events.name,
                pure=False,
                key=f"bnlab-{s.run_id}-{tag}",
            )
            futures.append(future)
            by_key[future.key] = s
        pending = as_completed(futures)
        while not pending.is_empty():
            for item in events.get(batch=True):
                on_epoch(item)
            if not pending.has_ready():
                time.sleep(0.05)
                continue
            for future in pending.next_batch(block=False):
                for item in events.get(batch=True):
                    on_epoch(item)
                try:
                    outcome = future.result()
                except Exception as e:  # the task could not run at all (a worker died, ...)
                    outcome = ("failed", by_key[future.key].to_dict(), f"{type(e).__name__}: {e}")
                _deliver(outcome, on_done, on_failed)
    except BaseException:
        if futures:
            client.cancel(futures)
        raise
    finally:
        if owned:
            client.close()
