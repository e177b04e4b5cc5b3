"""Progress of a sweep on stderr: one bar over the runs, plus the epoch each running run has reached.

In a terminal it is one line redrawn in place::

    runs ━━━━━━━━━━──────────  5/12  0:41 | bs=32 seed=1 BN 3/5 · bs=32 seed=1 no BN 2/5

Elsewhere (a log file, CI) it writes one line per finished epoch and per finished run. Workers report
epochs as small dicts (``run_id``, ``epoch``, ``epochs``, ``loss``, ``val_accuracy``); ``quiet`` turns
everything off.
"""

import shutil
import sys
import time


def _clock(seconds):
    m, s = divmod(int(seconds), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m}:{s:02d}"


def _num(v, fmt=".3f"):
    return "nan" if v is None or v != v else format(v, fmt)


class SweepProgress:
    WIDTH = 20

    def __init__(self, total, quiet=False, stream=None):
        self.total, self.quiet = total, quiet
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self.done = 0
        self.active = {}  # run_id -> (label, epoch, epochs)
        self.finished = set()  # a late epoch event (Dask's queue) must not bring a finished run back
        self.labels = {}
        self.start = time.perf_counter()
        self._last = 0.0
        self._width = 0

    def register(self, specs):
        self.labels.update({s.run_id: s.label for s in specs})

    def skipped(self, n):
        if n and not self.quiet:
            self._print(f"{n} of {self.total + n} runs already finished in this folder: skipping them")

    def epoch(self, event):
        rid = event["run_id"]
        if self.quiet or rid in self.finished:
            return
        label = self.labels.get(rid, rid)
        self.active[rid] = (label, event["epoch"], event["epochs"])
        if self.interactive:
            self._draw()
        else:
            self._print(
                f"  {label}: epoch {event['epoch']}/{event['epochs']}  loss {_num(event['loss'])}  "
                f"val acc {_num(event['val_accuracy'])}"
            )

    def run_done(self, record):
        self.done += 1
        self.active.pop(record["run_id"], None)
        self.finished.add(record["run_id"])
        if self.quiet:
            return
        if self.interactive:
            self._draw(force=True)
            return
        last = record["epochs"][-1] if record["epochs"] else {}
        n = len(record["epochs"])
        self._print(
            f"[{self.done}/{self.total}] {self.labels.get(record['run_id'], record['run_id'])}: "
            f"val acc {_num(last.get('val_accuracy'))} after {n} epoch{'s' if n != 1 else ''} "
            f"({record['wall_time']:.1f} s)"
        )

    def run_failed(self, spec, message):
        self.done += 1
        self.active.pop(spec.run_id, None)
        self.finished.add(spec.run_id)
        self._print(f"bnlab: run {spec.label} failed: {message}", always=True)

    def close(self):
        if not self.quiet and self.interactive and self._width:
            self._draw(force=True)
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0

    def _draw(self, force=False):
        now = time.perf_counter()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        filled = int(self.WIDTH * self.done / max(self.total, 1))
        bar = "━" * filled + "─" * (self.WIDTH - filled)
        running = " · ".join(f"{label} {e}/{n}" for label, e, n in self.active.values())
        line = f"runs {bar} {self.done:>{len(str(self.total))}}/{self.total}  {_clock(now - self.start)}"
        if running:
            line += f" | {running}"
        width = shutil.get_terminal_size().columns - 1  # a wrapped line could not be redrawn in place
        if len(line) > width:
            line = line[: max(0, width - 1)] + "…"
        pad = max(0, self._width - len(line))
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()
        self._width = len(line)

    def _print(self, line, always=False):
        if self.quiet and not always:
            return
        if self.interactive and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self._width = 0
        print(line, file=self.stream, flush=True)
        if self.interactive and self.total:
            self._draw(force=True)
