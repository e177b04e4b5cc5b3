"""The two-library harness tests/test_torch_gradcheck.py and tests/test_torch_gradgradcheck.py share: run a
scenario on bnlab.torch and, where PyTorch is installed, on PyTorch, and require the same result; silence the
float32 warnings; turn an exception into its type name and message, so that both libraries' errors compare.
Unlike tests/test_torch_more_harness.py it does not skip without torch: the scenarios then run on bnlab alone.
"""

from __future__ import annotations

import importlib.util
import warnings

import bnlab.torch as torch

HAVE_TORCH = importlib.util.find_spec("torch") is not None
WARNING = (
    "Input #{} requires gradient and is not a double precision floating point or complex. This check will likely "
    "fail if all the inputs are not of double precision floating point or complex. "
)


def on_both(scenario):
    """scenario(bnlab.torch) and, when PyTorch is installed, scenario(PyTorch), which must give the same."""
    ours = scenario(torch)
    if HAVE_TORCH:
        import torch as real

        assert ours == scenario(real)
    return ours


def quiet(fn):
    """fn() with the float32 warnings silenced (their text is tested once, in each test file)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return fn()


def outcome(fn, *, first_line: bool = False, uncaught: tuple = ()):
    """fn()'s result, or the exception's type name and message (its first line when ``first_line``); the
    exception types in ``uncaught`` propagate."""
    try:
        return quiet(fn)
    except uncaught:
        raise
    except (RuntimeError, ValueError, TypeError) as e:
        return type(e).__name__, str(e).split("\n")[0] if first_line else str(e)
