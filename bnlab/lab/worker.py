"""A local worker process (``python -c "...; from bnlab.lab.worker import main; main(parent_bnlab)"``, the
command in executor.py), driven by executor.py over its stdin/stdout.

Why not multiprocessing: its "spawn" start method re-imports the caller's main script in every worker,
so a plain script that calls ``bnlab.lab.sweep`` without an ``if __name__ == "__main__"`` guard would
fail; and "fork" after the engine's BLAS threads started is unsafe. A fresh interpreter that imports only
bnlab has neither problem, and starts with ``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS`` already set.

Protocol: length-prefixed pickles (8-byte big-endian length, then the pickle). Once its imports worked the
worker says ``("ready",)``; a worker that exits before that could not start (its stderr, which the parent
copies to its own, says why). The parent sends ``("init", threads, data)`` once, then ``("run", spec_dict)``
per run, then ``("stop",)``; the worker answers each run with zero or more ``("epoch", event)`` and one
``("outcome", outcome)`` (see runner.attempt). The worker starts in its own session, so Ctrl-C in the
terminal reaches only the parent, which then kills the workers. Anything the worker prints goes to stderr;
stdout carries only messages.
"""

import os
import pickle
import struct
import sys

_HEADER = struct.Struct(">Q")


def send(stream, message):
    """Write one message (whole, even on an unbuffered pipe that takes it in pieces)."""
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEADER.pack(len(payload)) + payload)
    while view:
        view = view[stream.write(view) :]
    stream.flush()


def _read_exact(stream, size):
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def receive(stream):
    """The next message, or None at the end of the stream. The parent reads unbuffered, so that a
    message never waits in a Python buffer where select() cannot see it."""
    header = _read_exact(stream, _HEADER.size)
    if header is None:
        return None
    payload = _read_exact(stream, _HEADER.unpack(header)[0])
    return None if payload is None else pickle.loads(payload)


def main(parent_bnlab=None):
    """Serve the parent until it says stop. ``parent_bnlab``: the parent's ``bnlab.__file__``; a worker that
    imported another bnlab refuses to start."""
    messages = os.fdopen(os.dup(1), "wb")  # the message channel is the original stdout...
    os.dup2(2, 1)  # ...and whatever else writes to stdout lands on stderr
    sys.stdout = sys.stderr
    commands = sys.stdin.buffer
    import bnlab

    if parent_bnlab is not None and os.path.realpath(bnlab.__file__) != os.path.realpath(parent_bnlab):
        raise ImportError(f"the worker imported bnlab from {bnlab.__file__}, its parent from {parent_bnlab}")
    from bnlab.lab.config import RunSpec
    from bnlab.lab.runner import attempt

    send(messages, ("ready",))

    threads, data = 1, None
    while True:
        message = receive(commands)
        if message is None or message[0] == "stop":
            return 0
        if message[0] == "init":
            threads, data = message[1], message[2]
        elif message[0] == "run":
            spec = RunSpec.from_dict(message[1])
            outcome = attempt(spec, data, threads, lambda event: send(messages, ("epoch", event)))
            send(messages, ("outcome", outcome))
