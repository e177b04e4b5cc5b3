"""Where the runs execute: in this process, in parallel local processes, or on a Dask cluster.

* ``jobs == 1`` (no scheduler): one run after the other in this process.
* ``jobs > 1``: ``jobs`` worker processes (``bnlab.lab.worker.main``, see worker.py), each fed one
  run at a time. Each run gets ``threads`` BLAS threads (default: the usable cores divided by ``jobs``,
  at least 1) so that jobs x threads does not oversubscribe the machine; the workers start with
  ``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS``/``MKL_NUM_THREADS`` set to it, and ``run_one`` calls
  ``bnlab.config.set_num_threads`` too.
* ``scheduler``: a Dask distributed cluster (``dask.distributed.Client(address)``, or a Client), with
  Dask's own scheduler and workers. The data is scattered to the workers once; each run is one task;
  epoch progress comes back through a ``distributed.Queue``. Default threads per run: 1 (start the
  workers as ``dask worker ADDRESS --nthreads 1 --nworkers N``: a worker process runs one run at a time).

Every path calls the same ``runner.attempt`` (``run_one``, a failure turned into an outcome), so for the same
specs and thread count the numbers are equal. Finished runs are handed to ``on_done`` in this process as
they arrive (the caller saves them at once). A failing run (or a worker process that dies) is reported to
``on_failed`` and the others go on; a worker process that cannot even start (a broken install) raises
LabError with its own last stderr line. On Ctrl-C, workers are stopped (local processes killed, Dask
futures cancelled) and KeyboardInterrupt propagates; what was handed over is safe.
"""

import contextlib
import json
import os
import selectors
import subprocess
import sys
import time
import uuid
from collections import deque

from bnlab.lab import worker
from bnlab.lab.config import LabError, RunSpec
from bnlab.lab.runner import attempt

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
            outcome = attempt(spec, data, threads, on_epoch)
            _deliver(outcome, on_done, on_failed)
    else:
        _in_processes(specs, data, min(jobs, len(specs)), threads, on_epoch, on_done, on_failed)


def _deliver(outcome, on_done, on_failed):
    if outcome[0] == "ok":
        on_done(outcome[1])
    else:
        on_failed(RunSpec.from_dict(outcome[1]), outcome[2])


# ---- local processes ----
# The worker runs this interpreter with this process's flags (-S, -I, -X ... as multiprocessing passes them)
# and this process's sys.path, so it imports the bnlab this process imported: ``python -c`` would otherwise
# put the current folder first, and a source checkout's bnlab (without the compiled _core) would shadow an
# installed one. worker.main then checks that it did.
_BOOT = (
    "import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
    "from bnlab.lab.worker import main; sys.exit(main(sys.argv[2]))"
)
_STDERR_KEPT = 8192  # bytes of a worker's stderr kept to explain its death


class _Worker:
    """One worker process running ``bnlab.lab.worker.main`` (see worker.py for why not multiprocessing).

    Its stderr is a pipe that the parent copies to its own stderr as it arrives (``pump_stderr``), keeping the
    tail, so a worker that dies can say why: before it reported ready, ``LabError`` with its last line; after,
    the run fails with it."""

    def __init__(self, threads, data):
        import bnlab

        env = dict(os.environ, **dict.fromkeys(_THREAD_VARS, str(threads)))
        flags = subprocess._args_from_interpreter_flags()  # what multiprocessing passes its children
        command = [sys.executable, *flags, "-c", _BOOT, json.dumps(sys.path), bnlab.__file__]
        self.proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            bufsize=0,
            start_new_session=True,
        )
        self.spec, self.ready, self.stderr_tail = None, False, b""
        try:
            worker.send(self.proc.stdin, ("init", threads, data))
        except OSError:  # it exited before reading its data: its stderr says why
            self.stop(kill=True)
            raise LabError(self.death("could not start")) from None

    def start(self, spec):
        self.spec = spec
        worker.send(self.proc.stdin, ("run", spec.to_dict()))

    def pump_stderr(self):
        """Copy what the worker wrote to stderr to ours; False at its end."""
        chunk = os.read(self.proc.stderr.fileno(), 65536)
        self._keep(chunk)
        return bool(chunk)

    def _keep(self, chunk):
        if chunk:
            sys.stderr.write(chunk.decode(errors="replace"))
            sys.stderr.flush()
            self.stderr_tail = (self.stderr_tail + chunk)[-_STDERR_KEPT:]

    def death(self, what):
        """One line: ``worker process <what> (exit status N): <its last stderr line>``."""
        lines = [line.strip() for line in self.stderr_tail.decode(errors="replace").splitlines() if line.strip()]
        why = f": {lines[-1]}" if lines else ""
        return f"worker process {what} (exit status {self.proc.returncode}){why}"

    def stop(self, kill=False):
        with contextlib.suppress(OSError):
            if kill:
                self.proc.kill()
            else:
                worker.send(self.proc.stdin, ("stop",))
        _, rest = self.proc.communicate()  # closes stdin, reads stdout and stderr to their end, waits
        self._keep(rest)


def _in_processes(specs, data, jobs, threads, on_epoch, on_done, on_failed):
    todo = deque(specs)
    selector = selectors.DefaultSelector()
    workers, clean = [], False

    def add_worker():
        w = _Worker(threads, data)
        workers.append(w)
        selector.register(w.proc.stdout, selectors.EVENT_READ, (w, True))
        selector.register(w.proc.stderr, selectors.EVENT_READ, (w, False))
        return w

    def drop(w):
        for stream in (w.proc.stdout, w.proc.stderr):
            with contextlib.suppress(KeyError):
                selector.unregister(stream)
        workers.remove(w)
        w.stop(kill=True)

    def next_run(w):
        w.spec = None
        if todo:
            w.start(todo.popleft())

    try:
        for _ in range(jobs):
            next_run(add_worker())
        while any(w.spec is not None for w in workers):
            for key, _ in selector.select(timeout=0.5):
                w, is_messages = key.data
                if w not in workers:  # dropped earlier in this batch
                    continue
                if not is_messages:
                    if not w.pump_stderr():
                        selector.unregister(key.fileobj)
                    continue
                message = worker.receive(w.proc.stdout)
                if message is None and not w.ready:  # it could not even start: neither will the others
                    drop(w)
                    raise LabError(w.death("could not start"))
                if message is None:  # the process died (killed, out of memory): report, replace, go on
                    drop(w)
                    if w.spec is not None:  # (it may have died idle, its run delivered)
                        on_failed(w.spec, w.death("died"))
                    if todo:
                        next_run(add_worker())
                elif message[0] == "ready":
                    w.ready = True
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
    return attempt(RunSpec.from_dict(spec_dict), data, threads, events.put)


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
