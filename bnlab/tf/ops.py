"""The top-level names of TensorFlow's core that concern tensors and ops (``tf.constant``, ``tf.reduce_mean``,
``tf.float32``...), gathered from the modules that define them, plus ``tf.print``.

The set follows TensorFlow 2's top level: names that TensorFlow keeps in a namespace only (``tf.math.log``,
``tf.math.rsqrt``, ``tf.math.reduce_variance``, ``tf.nn.relu``, ``tf.random.normal``...) are not here but in
``bnlab.tf.math``, ``bnlab.tf.nn``, ``bnlab.tf.random``, ``bnlab.tf.linalg`` and ``bnlab.tf.dtypes``; ``tf.config``
is ``bnlab.config`` and ``tf.errors`` is ``bnlab.tf.errors``.
"""

from __future__ import annotations

import builtins
import sys

import numpy as np

from . import dtypes, errors, linalg, math, nn, random
from .clip_ops import clip_by_global_norm, clip_by_norm, clip_by_value
from .creation import (
    cast,
    eye,
    fill,
    identity,
    linspace,
    one_hot,
    ones,
    ones_like,
    range,
    stop_gradient,
    zeros,
    zeros_like,
)
from .device import DeviceSpec, device, executing_eagerly, function
from .dtypes import (
    DType,
    as_dtype,
    bool,
    double,
    float16,
    float32,
    float64,
    half,
    int8,
    int16,
    int32,
    int64,
    uint8,
    uint16,
    uint32,
    uint64,
)
from .linalg import matmul, norm, tensordot
from .math_ops import (
    abs,
    add,
    cos,
    cosh,
    divide,
    equal,
    exp,
    floor,
    greater,
    greater_equal,
    less,
    less_equal,
    logical_and,
    logical_not,
    logical_or,
    maximum,
    minimum,
    multiply,
    negative,
    not_equal,
    pow,
    round,
    sigmoid,
    sign,
    sin,
    sinh,
    sqrt,
    square,
    subtract,
    tan,
    tanh,
    truediv,
)
from .ranking import argsort, sort
from .reduce_ops import (
    add_n,
    argmax,
    argmin,
    cumsum,
    reduce_all,
    reduce_any,
    reduce_logsumexp,
    reduce_max,
    reduce_mean,
    reduce_min,
    reduce_prod,
    reduce_sum,
)
from .shape_ops import (
    boolean_mask,
    broadcast_to,
    concat,
    ensure_shape,
    expand_dims,
    gather,
    gather_nd,
    newaxis,
    pad,
    rank,
    repeat,
    reshape,
    reverse,
    roll,
    shape,
    size,
    slice,
    split,
    squeeze,
    stack,
    tile,
    transpose,
    unstack,
    where,
)
from .tensor import Tensor, TensorShape
from .tensor_shape import TensorSpec
from .variables import Variable, constant, convert_to_tensor, is_tensor

__all__ = [
    "DType",
    "DeviceSpec",
    "Tensor",
    "TensorShape",
    "TensorSpec",
    "Variable",
    "abs",
    "add",
    "add_n",
    "argmax",
    "argmin",
    "argsort",
    "as_dtype",
    "bool",
    "boolean_mask",
    "broadcast_to",
    "cast",
    "clip_by_global_norm",
    "clip_by_norm",
    "clip_by_value",
    "concat",
    "constant",
    "convert_to_tensor",
    "cos",
    "cosh",
    "cumsum",
    "device",
    "divide",
    "double",
    "dtypes",
    "ensure_shape",
    "equal",
    "errors",
    "executing_eagerly",
    "exp",
    "expand_dims",
    "eye",
    "fill",
    "float16",
    "float32",
    "float64",
    "floor",
    "function",
    "gather",
    "gather_nd",
    "greater",
    "greater_equal",
    "half",
    "identity",
    "int8",
    "int16",
    "int32",
    "int64",
    "is_tensor",
    "less",
    "less_equal",
    "linalg",
    "linspace",
    "logical_and",
    "logical_not",
    "logical_or",
    "math",
    "matmul",
    "maximum",
    "minimum",
    "multiply",
    "negative",
    "newaxis",
    "nn",
    "norm",
    "not_equal",
    "one_hot",
    "ones",
    "ones_like",
    "pad",
    "pow",
    "print",
    "random",
    "range",
    "rank",
    "realdiv",
    "reduce_all",
    "reduce_any",
    "reduce_logsumexp",
    "reduce_max",
    "reduce_mean",
    "reduce_min",
    "reduce_prod",
    "reduce_sum",
    "repeat",
    "reshape",
    "reverse",
    "roll",
    "round",
    "scalar_mul",
    "shape",
    "sigmoid",
    "sign",
    "sin",
    "sinh",
    "size",
    "slice",
    "sort",
    "split",
    "sqrt",
    "square",
    "squeeze",
    "stack",
    "stop_gradient",
    "subtract",
    "tan",
    "tanh",
    "tensordot",
    "tile",
    "transpose",
    "truediv",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "unstack",
    "where",
    "zeros",
    "zeros_like",
]

realdiv = truediv


def scalar_mul(scalar, x, name=None):
    """``scalar * x`` for a scalar (a number or a 0-d tensor)."""
    return multiply(scalar, x)


def _value_text(a: np.ndarray, summarize: int) -> str:
    """A tensor's values as TensorFlow's print writes them: ``[[1 2]\\n [3 4]]``, with ``...`` past ``summarize``
    elements at each end of a dimension (all of them when ``summarize`` is -1)."""

    def scalar(v) -> str:
        if isinstance(v, (np.bool_, builtins.bool)):
            return "1" if v else "0"
        if isinstance(v, np.floating):
            text = f"{float(v):.6g}"
            return text if np.float32(text) == v or not np.isfinite(v) else f"{float(v):.9g}"
        return str(v)

    def block(x: np.ndarray, depth: int) -> str:
        if x.ndim == 0:
            return scalar(x[()])
        n = x.shape[0]
        cut = 0 <= summarize < n and n > 2 * summarize
        keys = list(builtins.range(n))
        if cut:
            keys = [*keys[:summarize], None, *keys[n - summarize :]]
        sep = " " if x.ndim == 1 else "\n" * (x.ndim - 1) + " " * (depth + 1)
        return "[" + sep.join("..." if k is None else block(x[k], depth + 1) for k in keys) + "]"

    return block(a, 0)


def print(*inputs, output_stream=None, summarize=3, sep=" ", end="\n", name=None):
    """Print ``inputs`` (tensors as their values, e.g. ``[1 2 3]``, other objects with ``str``) to
    ``output_stream`` (standard error by default, as TensorFlow)."""
    parts = []
    for v in inputs:
        if isinstance(v, (Tensor, Variable)):
            parts.append(_value_text(np.asarray(v), -1 if summarize is None else int(summarize)))
        else:
            parts.append(str(v))
    stream = sys.stderr if output_stream is None else output_stream
    stream.write(sep.join(parts) + end)
