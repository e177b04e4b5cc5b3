"""What every fuzz test shares: the property a public API must keep, a watchdog against hangs, and the
example budget of the active Hypothesis profile (tests/conftest.py registers them).

The property: a call either returns a correct result (the test checks it, against NumPy or the reference
framework where cheap: shape, dtype, finiteness at least) or raises one of the EXPECTED exception types with
a message. Anything else (another exception type, an empty message, a crash, a hang) fails.
"""

from __future__ import annotations

import contextlib
import faulthandler
import tempfile
import warnings
from pathlib import Path

from hypothesis import HealthCheck, settings

# What bad input may raise: the types Keras, PyTorch and tf.data raise for it.
EXPECTED = (ValueError, TypeError, IndexError, RuntimeError, NotImplementedError, KeyError)
HANG_SECONDS = 120  # one example; a hung example dumps every thread's stack and ends the process


def examples(share: float = 1.0) -> settings:
    """Settings for one fuzz test: ``share`` of the profile's examples (expensive tests take fewer)."""
    return settings(
        max_examples=max(5, int(settings.default.max_examples * share)),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )


HANG_LOG = Path(tempfile.gettempdir()) / "bnlab-fuzz-hang.txt"


@contextlib.contextmanager
def watchdog(seconds: float = HANG_SECONDS):
    """End the process if the body runs longer than ``seconds``, with every thread's traceback in HANG_LOG
    (pytest captures stderr, and a hang in C++ holds no Python frame a signal could interrupt, so this is
    faulthandler's watchdog thread)."""
    with open(HANG_LOG, "w") as log:
        faulthandler.dump_traceback_later(seconds, exit=True, file=log)
        try:
            yield
        finally:
            faulthandler.cancel_dump_traceback_later()


def check_error(exc: BaseException) -> None:
    """A rejected input: an expected type, with a message that says something."""
    assert isinstance(exc, EXPECTED), f"unexpected {type(exc).__name__}: {exc}"
    assert str(exc).strip(" '\""), f"{type(exc).__name__} without a message"


@contextlib.contextmanager
def quiet(*categories: type[Warning]):
    """Ignore the warnings an API gives on purpose (BN pitfalls...); every other warning stays an error."""
    with warnings.catch_warnings():
        for category in categories:
            warnings.simplefilter("ignore", category)
        yield
