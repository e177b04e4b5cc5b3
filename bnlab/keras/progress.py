"""Keras-style progress output for fit, evaluate and predict.

verbose=1: "Epoch 3/20", then "625/625 ━━━━━━━━━━━━━━━━━━━━ 4s 6ms/step - accuracy: 0.9134 - loss: 0.2871",
redrawn in place (carriage return) in a terminal or a Jupyter cell, at most every 50 ms; when the output is
neither (a log file), only the final line of each epoch is written. verbose=2: one line per epoch.
verbose=0: silent.
"""

import sys
import time


def _interactive():
    stream = sys.stdout
    if getattr(stream, "isatty", lambda: False)():
        return True
    return "ipykernel" in sys.modules and type(stream).__module__.startswith("ipykernel")


def _fmt_time(seconds):
    if seconds >= 1:
        return f"{seconds:.0f}s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms"
    return f"{seconds * 1e6:.0f}us"


def format_logs(logs):
    """Keras's rule: 4 decimals, or 4 significant digits in e-notation at or below 1e-3 (learning_rate: 1.0000e-04)."""
    return " - ".join(f"{k}: {v:.4f}" if abs(v) > 1e-3 else f"{k}: {v:.4e}" for k, v in logs.items())


class Progbar:
    WIDTH = 20

    def __init__(self, target, verbose=1, unit="step"):
        self.target, self.verbose, self.unit = target, verbose, unit
        self.interactive = _interactive()
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self._last_len = 0

    def _line(self, current, logs, final):
        if self.target is None:  # unknown length: show the count so far
            self.target = current if final else None
            if self.target is None:
                return f"{current}/Unknown - " + format_logs(logs or {})
        elapsed = time.perf_counter() - self.start
        per = elapsed / max(current, 1)
        if self.verbose == 2:
            parts = [f"{current}/{self.target}", _fmt_time(elapsed), f"{_fmt_time(per)}/{self.unit}"]
        else:
            filled = int(self.WIDTH * current / max(self.target, 1))
            bar = "━" * filled + ("\x1b[2m" + "━" * (self.WIDTH - filled) + "\x1b[0m" if filled < self.WIDTH else "")
            if not self.interactive:
                bar = "━" * filled + " " * (self.WIDTH - filled)
            eta = per * (self.target - current)
            timing = f"{_fmt_time(elapsed)} {_fmt_time(per)}/{self.unit}" if final else f"{_fmt_time(eta)}"
            parts = [f"{current}/{self.target} {bar} {timing}"]
        line = " - ".join(parts)
        if logs:
            line += " - " + format_logs(logs)
        return line

    def due(self):
        """Whether update() would redraw now (so the caller can skip reading the numbers it would show)."""
        return self.verbose == 1 and self.interactive and time.perf_counter() - self._last_draw >= 0.05

    def update(self, current, logs=None, final=False):
        if self.verbose != 1 or not self.interactive:
            if final and self.verbose in (1, 2):
                print(self._line(current, logs, True), flush=True)
            return
        if not final and not self.due():
            return
        self._last_draw = time.perf_counter()
        line = self._line(current, logs, final)
        pad = max(0, self._last_len - len(line))
        sys.stdout.write("\r" + line + " " * pad + ("\n" if final else ""))
        sys.stdout.flush()
        self._last_len = len(line)
