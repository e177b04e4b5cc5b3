"""``tf.errors``: the exceptions the TensorFlow face raises for bad input to an op.

TensorFlow raises ``tf.errors.InvalidArgumentError`` when an op's arguments are wrong at run time (mixed dtypes,
incompatible shapes, an index out of range), with a message that ends in ``[Op:<OpName>]``. bnlab raises the same
class with the same kind of message. It derives from ``OpError`` as in TensorFlow, and also from ``ValueError``, so
that Python code catching ``ValueError`` catches it too. Errors TensorFlow raises as Python ``TypeError`` or
``ValueError`` (a wrong dtype given to a conversion, a bad ``dtype=`` argument) are those classes here as well.
"""

from __future__ import annotations

__all__ = ["InvalidArgumentError", "OpError"]


class OpError(Exception):
    """An op failed: ``message`` says why, ``op`` names the TensorFlow op (``"AddV2"``) or is None."""

    def __init__(self, node_def=None, op=None, message: str = "", *args) -> None:
        super().__init__(message)
        self.node_def = node_def
        self.op = op
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidArgumentError(OpError, ValueError):
    """An op received an invalid argument (TensorFlow's ``INVALID_ARGUMENT`` status)."""


def invalid(message: str, op: str | None = None) -> InvalidArgumentError:
    """The InvalidArgumentError for op ``op`` (TensorFlow's suffix ``[Op:<op>]`` is appended when given)."""
    text = f"{message} [Op:{op}]" if op else message
    return InvalidArgumentError(None, op, text)
