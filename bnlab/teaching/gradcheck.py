"""Gradient checking for students' own NumPy layers ("write your own backward"), and a comparison with bnlab's engine.

A layer, in the convention of CS231n's assignments, is a pair of functions::

    out, cache = layer_forward(x, w, ..., *extra)     # e.g. batchnorm_forward(x, gamma, beta, bn_param)
    dx, dw, ... = layer_backward(dout, cache)         # e.g. batchnorm_backward(dout, cache)

where ``dout`` is dL/d(out) for some loss L, and the backward returns dL/dx, dL/dw, ... in the order of the
forward's differentiated arguments. This module checks such a pair:

* ``eval_numerical_gradient(f, x)`` and ``eval_numerical_gradient_array(f, x, df)``: central differences,
  with CS231n's names. For a scalar f, ``grad[i] = (f(x + h e_i) - f(x - h e_i)) / (2h)``; for an array
  output with upstream gradient df, ``grad[i] = sum((f(x + h e_i) - f(x - h e_i)) * df) / (2h)``, the
  gradient of L = sum(f(x) * df). The error of a central difference is ``h^2 / 6 * |f'''|`` (truncation) plus
  about ``2^-53 * |L| / h`` (rounding), both ~1e-10 relative for h = 1e-5 and O(1) data in float64.
* ``rel_error(x, y)``: CS231n's ``max(|x - y| / max(1e-8, |x| + |y|))``.
* ``check_layer(forward, backward, inputs)``: runs the pair on float64 copies of ``inputs`` (a dict, in the
  order of the forward's arguments) with a seeded random dout, differentiates each input numerically, and
  returns a ``GradCheckReport``: the largest relative error per input, with CS231n's rule of thumb
  (< 1e-7 great, < 1e-5 ok for most ops, < 1e-3 suspicious, fine only next to a kink such as ReLU's at 0,
  larger: wrong).
* ``compare_with_engine(forward, backward, x, gamma, beta)`` (batch norm) and
  ``compare_layernorm_with_engine(...)`` (layer norm): the student's forward output, cached mean, variance and
  x_hat, and dx, dgamma, dbeta, against bnlab's own float32 kernels, with a tolerance derived from float32
  rounding; returns an ``EngineComparison``.

Nothing here changes the caller's arrays: the checks work on copies, and each call of the student's forward gets
a fresh deep copy of ``extra_args`` (so a ``bn_param`` keeps its running statistics).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "EngineComparison",
    "GradCheckReport",
    "check_layer",
    "compare_layernorm_with_engine",
    "compare_with_engine",
    "eval_numerical_gradient",
    "eval_numerical_gradient_array",
    "grad_verdict",
    "rel_error",
]

# CS231n's rule of thumb for the relative error between an analytic and a numerical gradient
GREAT, OK, SUSPICIOUS = 1e-7, 1e-5, 1e-3

# the unit roundoff of float32 (half its machine epsilon) and the safety factor of the engine tolerance
FLOAT32_U = 2.0**-24
ENGINE_SAFETY = 32.0
# the second word of the seed of the random dout (see _random_dout)
DOUT_STREAM = 231


# ---------------------------------------------------------------- argument checks
def _check_h(h) -> float:
    if isinstance(h, bool) or not isinstance(h, (int, float, np.floating, np.integer)):
        raise TypeError(f"h must be a positive number (the finite-difference step), got {type(h).__name__}")
    h = float(h)
    if not (math.isfinite(h) and h > 0):
        raise ValueError(f"h must be positive and finite (the finite-difference step), got {h}")
    return h


def _check_callable(name: str, f) -> None:
    if not callable(f):
        raise TypeError(f"{name} must be a function, got {type(f).__name__}")


def _float64_copy(name: str, a) -> np.ndarray:
    """A float64 copy of a floating-point array; anything else raises TypeError naming ``name``."""
    arr = np.asarray(a)
    if not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"{name} must be a floating-point array, got dtype {arr.dtype} (use .astype(np.float64))")
    return np.array(arr, dtype=np.float64, copy=True)


def _as_float_array(name: str, a) -> np.ndarray:
    """A returned value as a float64 array (a copy); None or a non-float value raises TypeError naming it."""
    if a is None:
        raise TypeError(f"{name} is None (not implemented yet?)")
    arr = np.asarray(a)
    if not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"{name} must be a floating-point array, got {type(a).__name__} of dtype {arr.dtype}")
    return np.array(arr, dtype=np.float64, copy=True)


def _check_extra_args(extra_args) -> tuple:
    if extra_args is None:
        return ()
    if isinstance(extra_args, (Mapping, np.ndarray, str)) or not isinstance(extra_args, Sequence):
        raise TypeError(
            "extra_args must be a tuple of the forward's further (not differentiated) arguments, e.g. "
            f"extra_args=(bn_param,); got {type(extra_args).__name__}"
        )
    return tuple(extra_args)


def _call_forward(forward, arrays: Sequence[np.ndarray], extra_args: tuple):
    """``forward(*arrays, *deepcopy(extra_args))``, checked to return (out, cache) with a float array out."""
    result = forward(*arrays, *copy.deepcopy(extra_args))
    if not (isinstance(result, tuple) and len(result) == 2):
        got = f"a tuple of {len(result)}" if isinstance(result, tuple) else type(result).__name__
        raise TypeError(f"forward must return (out, cache), as CS231n's layers do; it returned {got}")
    out, cache = result
    return _as_float_array("forward's out (the first of (out, cache))", out), cache


def _check_grads(grads, names: Sequence[str], shapes: Mapping[str, tuple], labels: Sequence[str]) -> dict:
    """The backward's gradients, one per name in order, each a float array of its input's shape."""
    if len(names) == 1 and not isinstance(grads, (tuple, list)):
        grads = (grads,)
    if not isinstance(grads, (tuple, list)):
        raise TypeError(f"backward must return a tuple of gradients ({', '.join(labels)}), got {type(grads).__name__}")
    if len(grads) != len(names):
        raise ValueError(
            f"backward returned {len(grads)} gradient(s), expected {len(names)}: one per input, in the order "
            f"{', '.join(labels)}"
        )
    out = {}
    for name, label, g in zip(names, labels, grads, strict=True):
        arr = _as_float_array(f"backward's {label}", g)
        if arr.shape != shapes[name]:
            raise ValueError(
                f"backward's {label} has shape {arr.shape}, expected {shapes[name]} (the shape of {name!r})"
            )
        out[name] = arr
    return out


def _random_dout(seed, shape) -> np.ndarray:
    """A standard normal dout from ``np.random.default_rng([seed, DOUT_STREAM])``, a stream of its own.

    Not ``default_rng(seed)``: a student's data drawn as ``default_rng(0).normal(size=(N, D)) * scale + shift``
    would then have dout = (x - shift) / scale exactly, an affine function of x per feature, and batch norm's
    dx, which removes each feature's mean and its component along x_hat, would be ~0 (a check of nothing).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be a non-negative int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed}")
    return np.random.default_rng([int(seed), DOUT_STREAM]).standard_normal(shape)


# ---------------------------------------------------------------- numerical gradients
def _check_perturbable(x) -> None:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"x must be a NumPy array (it is perturbed in place), got {type(x).__name__}")
    if x.dtype != np.float64:
        kind = "floating-point" if np.issubdtype(x.dtype, np.floating) else "a float64"
        raise TypeError(
            f"x must be a float64 array, got dtype {x.dtype}: central differences with a small h need float64"
            + (" (pass x.astype(np.float64))" if kind == "floating-point" else "")
        )
    if not x.flags.writeable:
        raise ValueError("x must be writeable: it is perturbed in place (and restored)")


def eval_numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5, *, verbose=False):
    """The numerical gradient of a scalar function ``f`` at ``x`` by central differences, in float64.

        grad[i] = (f(x + h e_i) - f(x - h e_i)) / (2h)

    ``x`` (a float64 array) is modified in place, one element at a time, and each element is restored after its
    two evaluations, also when ``f`` raises. ``f`` is called with ``x`` and must return a scalar (a loss); for
    an array-valued function use ``eval_numerical_gradient_array``. ``verbose`` prints each index and value.
    """
    _check_callable("f", f)
    _check_perturbable(x)
    h = _check_h(h)

    def scalar(v) -> float:
        arr = np.asarray(v)
        if arr.size != 1 or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
            raise ValueError(
                f"f must return a scalar (a loss), got shape {arr.shape} dtype {arr.dtype}; for an array output "
                "use eval_numerical_gradient_array(f, x, df)"
            )
        return float(arr.reshape(()))

    grad = np.zeros(x.shape, dtype=np.float64)
    for i in np.ndindex(x.shape):
        old = x[i]
        try:
            x[i] = old + h
            fp = scalar(f(x))
            x[i] = old - h
            fm = scalar(f(x))
        finally:
            x[i] = old
        grad[i] = (fp - fm) / (2 * h)
        if verbose:
            print(i, grad[i])
    return grad


def eval_numerical_gradient_array(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, df: np.ndarray, h: float = 1e-5
) -> np.ndarray:
    """The numerical gradient of L = sum(f(x) * df) at ``x``, by central differences in float64.

        grad[i] = sum((f(x + h e_i) - f(x - h e_i)) * df) / (2h)

    ``df`` is dL/d(f(x)), the upstream gradient, of f(x)'s shape; the result is dL/dx, of x's shape. ``x`` (a
    float64 array) is modified in place and each element restored, also when ``f`` raises. CS231n's name and
    arguments: ``eval_numerical_gradient_array(lambda x: affine_forward(x, w, b)[0], x, dout)``.
    """
    _check_callable("f", f)
    _check_perturbable(x)
    h = _check_h(h)
    df = _float64_copy("df", df)
    grad = np.zeros(x.shape, dtype=np.float64)

    def value(v) -> np.ndarray:
        arr = _as_float_array("f(x)", v)  # a copy: f may return a view of x
        if arr.shape != df.shape:
            raise ValueError(f"f(x) has shape {arr.shape} but df has shape {df.shape}; they must match")
        return arr

    for i in np.ndindex(x.shape):
        old = x[i]
        try:
            x[i] = old + h
            pos = value(f(x))
            x[i] = old - h
            neg = value(f(x))
        finally:
            x[i] = old
        grad[i] = np.sum((pos - neg) * df) / (2 * h)
    return grad


def rel_error(x, y) -> float:
    """CS231n's relative error: ``max(|x - y| / max(1e-8, |x| + |y|))`` over all elements, in float64.

    The shapes must be equal (broadcasting would hide a gradient of the wrong shape); 0.0 for empty arrays.
    """
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: x has shape {a.shape} but y has shape {b.shape}; they must match")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def grad_verdict(error: float) -> str:
    """CS231n's rule of thumb for a relative error between an analytic and a numerical gradient."""
    if not math.isfinite(error):
        return "WRONG (not finite)"
    if error < GREAT:
        return "great"
    if error < OK:
        return "ok for most ops"
    if error < SUSPICIOUS:
        return "suspicious (fine only next to a kink)"
    return "WRONG"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]]
    return "\n".join(lines)


# ---------------------------------------------------------------- check_layer
class GradCheckReport(Mapping):
    """The result of ``check_layer``: a read-only mapping input name -> largest relative error of its gradient.

    ``rel_error(analytic, numeric)`` = max |a - n| / max(1e-8, |a| + |n|) per input. Also:

    * ``analytic``, ``numeric``: dicts of the backward's and the central differences' gradients (float64);
    * ``shapes``, ``h``, ``dout`` (the upstream gradient used);
    * ``verdict(name)``: CS231n's rule of thumb, ``worst``: the largest error, ``passed``: every error < 1e-5
      (a layer with kinks, like ReLU at 0, may need its inputs kept away from them);
    * ``str(report)`` (and its repr): a table of input, shape, max rel error and verdict.
    """

    def __init__(self, errors, shapes, analytic, numeric, h, dout):
        self._errors = dict(errors)
        self.shapes = dict(shapes)
        self.analytic = dict(analytic)
        self.numeric = dict(numeric)
        self.h = h
        self.dout = dout

    def __getitem__(self, name: str) -> float:
        return self._errors[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._errors)

    def __len__(self) -> int:
        return len(self._errors)

    def verdict(self, name: str) -> str:
        return grad_verdict(self._errors[name])

    @property
    def worst(self) -> float:
        return max(self._errors.values())

    @property
    def passed(self) -> bool:
        return all(e < OK for e in self._errors.values())

    def __str__(self) -> str:
        rows = [[n, str(self.shapes[n]), f"{e:.2e}", self.verdict(n)] for n, e in self._errors.items()]
        head = f"gradient check, central differences with h = {self.h:g} in float64"
        return head + "\n" + _table(["input", "shape", "max rel error", "verdict"], rows)

    __repr__ = __str__


def check_layer(
    forward: Callable[..., tuple[np.ndarray, Any]],
    backward: Callable[[np.ndarray, Any], Any],
    inputs,
    extra_args: Sequence = (),
    dout=None,
    h: float = 1e-5,
    seed: int = 0,
) -> GradCheckReport:
    """Check a layer's backward against central differences of its forward; returns a ``GradCheckReport``.

    The convention (CS231n's): ``inputs`` is a dict of the differentiated arguments, in the forward's order,
    and ``extra_args`` the forward's further arguments::

        out, cache = forward(*inputs.values(), *extra_args)
        grads = backward(dout, cache)           # one gradient per input, in the order of inputs

    for example ``check_layer(batchnorm_forward, batchnorm_backward, {"x": x, "gamma": gamma, "beta": beta},
    extra_args=(bn_param,))`` or ``check_layer(relu_forward, relu_backward, {"x": x})`` (a single input's
    backward may return the bare array; a single array as ``inputs`` means ``{"x": inputs}``).

    With L = sum(out * dout), each input's numerical gradient is
    ``dL/dv[i] = sum((out(v + h e_i) - out(v - h e_i)) * dout) / (2h)``, compared with the backward's by
    ``rel_error``. ``dout`` defaults to a standard normal array of out's shape drawn with ``seed`` (from a
    stream of its own, see ``_random_dout``).

    Everything runs in float64 on copies: the caller's arrays (float32 ones are promoted) are never changed,
    and each call of ``forward`` gets a deep copy of ``extra_args``. Raises TypeError or ValueError naming the
    culprit for non-float inputs, h <= 0, a forward that does not return (out, cache) or that modifies its
    arguments in place, and a backward that returns the wrong number of gradients or one of the wrong shape, or
    that modifies the inputs through the cache.
    """
    _check_callable("forward", forward)
    _check_callable("backward", backward)
    h = _check_h(h)
    extra_args = _check_extra_args(extra_args)
    if isinstance(inputs, np.ndarray):
        inputs = {"x": inputs}
    if not isinstance(inputs, Mapping):
        raise TypeError(f"inputs must be a dict name -> array, e.g. {{'x': x, 'w': w}}, got {type(inputs).__name__}")
    if not inputs:
        raise ValueError("inputs is empty: name at least one array to differentiate, e.g. {'x': x}")
    arrays = {}
    for name, value in inputs.items():
        if not isinstance(name, str):
            raise TypeError(f"inputs' keys must be strings (the arguments' names), got {name!r}")
        arrays[name] = _float64_copy(f"inputs[{name!r}]", value)
        if arrays[name].size == 0:
            raise ValueError(f"inputs[{name!r}] is empty: there is nothing to differentiate")
    names = list(arrays)
    pristine = {n: a.copy() for n, a in arrays.items()}

    out, cache = _call_forward(forward, list(arrays.values()), extra_args)
    for n in names:
        if not np.array_equal(arrays[n], pristine[n], equal_nan=True):
            raise ValueError(
                f"forward modified its argument {n!r} in place; a layer must leave its inputs unchanged "
                "(write x - mean, not x -= mean)"
            )
    if dout is None:
        dout = _random_dout(seed, out.shape)
    else:
        dout = _float64_copy("dout", dout)
        if dout.shape != out.shape:
            raise ValueError(f"dout has shape {dout.shape} but forward's out has shape {out.shape}; they must match")

    shapes = {n: a.shape for n, a in arrays.items()}
    grads = backward(dout.copy(), cache)
    analytic = _check_grads(grads, names, shapes, [f"gradient for {n!r}" for n in names])
    for n in names:
        if not np.array_equal(arrays[n], pristine[n], equal_nan=True):
            raise ValueError(
                f"backward modified {n!r} in place (through the cache); a backward must leave the cache's arrays "
                "unchanged"
            )

    numeric = {}
    for n in names:

        def f(_, n=n):  # arrays[n] is the array being perturbed
            return _call_forward(forward, list(arrays.values()), extra_args)[0]

        numeric[n] = eval_numerical_gradient_array(f, arrays[n], dout, h)
    errors = {n: rel_error(analytic[n], numeric[n]) for n in names}
    return GradCheckReport(errors, shapes, analytic, numeric, h, dout)


# ---------------------------------------------------------------- the engine's kernels
def _engine_pass(kind: str, x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float, dout: np.ndarray):
    """One forward and backward through bnlab's float32 kernel; every result as a float64 array.

    batch: ``batchnorm_forward_train`` / ``batchnorm_backward`` with (N, C, L) = (N, D, 1); its cache holds the
    per-feature mean, the biased variance, rstd = 1 / sqrt(var + eps) and x_hat. layer: ``layernorm_forward``
    / ``layernorm_backward`` with (R, D) = x.shape; its cache holds the per-row mean, rstd and x_hat, and the
    variance is derived here in float64 as 1 / rstd^2 - eps. The backward kernels accumulate into dgamma and
    dbeta, so they get fresh zero buffers.
    """
    from bnlab import _core

    ops = _core.ops

    def tensor(a):
        return _core.Tensor.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

    def f64(t):
        return np.array(t.numpy(), dtype=np.float64)

    N, D = x.shape
    out, g = _core.Tensor(), tensor(gamma)
    dx, dgamma, dbeta = _core.Tensor(), _core.Tensor([D]), _core.Tensor([D])
    if kind == "batch":
        cache = ops.BNCache()
        ops.batchnorm_forward_train(out, cache, tensor(x), g, tensor(beta), N, D, 1, eps)
        ops.batchnorm_backward(dx, dgamma, dbeta, tensor(dout), cache, g, N, D, 1)
        var = f64(cache.var).reshape(D)
    else:
        cache = ops.NormCache()
        ops.layernorm_forward(out, cache, tensor(x), g, tensor(beta), N, D, eps)
        ops.layernorm_backward(dx, dgamma, dbeta, tensor(dout), cache, g, N, D)
        var = 1.0 / f64(cache.rstd).reshape(N) ** 2 - eps
    stats = D if kind == "batch" else N
    inv_std = f64(cache.rstd).reshape(stats)
    return {
        "out": f64(out).reshape(N, D),
        "mean": f64(cache.mean).reshape(stats),
        "var": var,
        "x_hat": f64(cache.xhat).reshape(N, D),
        "inv_std": inv_std,
        "std": 1.0 / inv_std,
        "dx": f64(dx).reshape(N, D),
        "dgamma": f64(dgamma).reshape(D),
        "dbeta": f64(dbeta).reshape(D),
    }


# the cache entries compared with the engine's, and the names students commonly give them (matched ignoring case)
CACHE_NAMES = {
    "mean": ("mean", "mu", "sample_mean", "batch_mean", "x_mean", "means"),
    "var": ("var", "sample_var", "variance", "batch_var", "x_var", "sigma2", "sigma_sq"),
    "x_hat": ("x_hat", "xhat", "x_norm", "xnorm", "x_normalized", "x_normed", "xn", "x_hat_norm"),
    "inv_std": ("inv_std", "istd", "ivar", "rstd", "inv_sigma", "invstd"),
    "std": ("std", "sqrtvar", "sigma", "sqrt_var", "stddev"),
}


def _cache_lookup(cache, key):
    """``cache[key]`` for a dict, list or tuple, else ``getattr(cache, key)``; KeyError when absent."""
    if isinstance(cache, Mapping):
        return cache[key]
    if isinstance(cache, (tuple, list)):
        if isinstance(key, bool) or not isinstance(key, (int, np.integer)):
            raise KeyError(key)
        return cache[key]
    if not isinstance(key, str) or not hasattr(cache, key):
        raise KeyError(key)
    return getattr(cache, key)


def _find_cache_entries(cache, cache_keys) -> tuple[dict, list[str]]:
    """quantity -> (description, value) for the entries found, and notes on those not found."""
    found, notes = {}, []
    if cache_keys is not None:
        if not isinstance(cache_keys, Mapping):
            raise TypeError(f"cache_keys must be a dict quantity -> key or index, got {type(cache_keys).__name__}")
        unknown = set(cache_keys) - set(CACHE_NAMES)
        if unknown:
            raise ValueError(f"cache_keys names unknown quantities {sorted(unknown)}; known: {sorted(CACHE_NAMES)}")
        for quantity, key in cache_keys.items():
            try:
                value = _cache_lookup(cache, key)
            except (KeyError, IndexError, TypeError):
                raise KeyError(
                    f"cache_keys[{quantity!r}] = {key!r}, but the cache ({type(cache).__name__}) has no entry {key!r}"
                ) from None
            found[quantity] = (f"cache[{key!r}]", value)
        return found, notes
    if isinstance(cache, (tuple, list)):
        notes.append(
            f"the cache is a {type(cache).__name__}: name its entries by index, e.g. cache_keys={{'mean': 2, "
            "'var': 3, 'x_hat': 1}"
        )
        return found, notes
    if isinstance(cache, Mapping):
        keys = {k.lower(): k for k in cache if isinstance(k, str)}
    else:
        keys = {k.lower(): k for k in dir(cache) if not k.startswith("_")}
    for quantity, candidates in CACHE_NAMES.items():
        hit = next((keys[c] for c in candidates if c in keys), None)
        if hit is None:
            if quantity in ("mean", "var", "x_hat"):
                notes.append(f"{quantity}: not found in the cache (tried {', '.join(candidates)}; or pass cache_keys)")
            continue
        found[quantity] = (f"cache[{hit!r}]", _cache_lookup(cache, hit))
    return found, notes


class EngineComparison(Mapping):
    """The result of ``compare_with_engine``: a read-only mapping quantity -> error against bnlab's engine.

    The quantities: ``out`` (the forward's output), the cache entries found (``mean``, ``var``, ``x_hat``,
    ``inv_std``, ``std``) and ``dx``, ``dgamma``, ``dbeta``. Each error is normwise relative,
    ``max|yours - engine| / max|engine|`` (for the variance ``max|engine| + eps``: the variance enters the
    normalization as var + eps), and agrees when it is at most ``tolerance`` (see ``compare_with_engine``).
    Also: ``found`` (quantity -> where it was found), ``notes`` (what was not found, and why), ``kind``,
    ``passed`` (every compared quantity agrees), ``verdict(q)``, and ``str(report)``: a table.
    """

    def __init__(self, kind, shape, eps, tolerance, kappa, rows, notes):
        self.kind, self.shape, self.eps = kind, shape, eps
        self.tolerance, self.kappa = tolerance, kappa
        self._rows = rows  # quantity -> (where, error, verdict)
        self.notes = list(notes)
        self.found = {q: where for q, (where, _, _) in rows.items() if where.startswith("cache")}

    def __getitem__(self, quantity: str) -> float:
        return self._rows[quantity][1]

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def verdict(self, quantity: str) -> str:
        return self._rows[quantity][2]

    @property
    def passed(self) -> bool:
        return all(v == "agrees" for _, _, v in self._rows.values())

    def __str__(self) -> str:
        N, D = self.shape
        m = N if self.kind == "batch" else D
        what = "batch norm over the N samples" if self.kind == "batch" else "layer norm over the D features"
        lines = [
            f"your float64 code vs bnlab's float32 engine, {what}: x {self.shape}, eps {self.eps:g}",
            "variance: biased, mean((x - mean)^2), divided by the count, as Keras and PyTorch normalize",
            f"tolerance {self.tolerance:.1e} = {ENGINE_SAFETY:g} * 2^-24 * sqrt({m}) * kappa ({self.kappa:.1f}): "
            "float32 rounding (this is no gradient check)",
            _table(
                ["quantity", "yours", "max rel error", "verdict"],
                [[q, where, f"{err:.2e}", v] for q, (where, err, v) in self._rows.items()],
            ),
        ]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    __repr__ = __str__


def _check_eps_in_args(extra_args: tuple, eps: float, kind: str) -> None:
    for arg in extra_args:
        if not isinstance(arg, Mapping):
            continue
        if "eps" in arg and not math.isclose(float(arg["eps"]), eps, rel_tol=1e-12):
            raise ValueError(f"extra_args holds eps = {arg['eps']} but eps = {eps}: the engine must use the same eps")
        if kind == "batch" and "mode" in arg and arg["mode"] != "train":
            raise ValueError(
                f"extra_args holds mode = {arg['mode']!r}: the comparison uses the engine's training-mode kernels "
                "(batch statistics), so pass mode 'train'"
            )


def compare_with_engine(
    forward: Callable[..., tuple[np.ndarray, Any]],
    backward: Callable[[np.ndarray, Any], Any],
    x,
    gamma,
    beta,
    eps: float = 1e-5,
    extra_args: Sequence | None = None,
    cache_keys: Mapping | None = None,
    dout=None,
    seed: int = 0,
    kind: str = "batch",
) -> EngineComparison:
    """Compare a student's batch-norm (or, ``kind="layer"``, layer-norm) pair with bnlab's engine kernels.

    The convention is CS231n's: ``out, cache = forward(x, gamma, beta, *extra_args)`` and
    ``dx, dgamma, dbeta = backward(dout, cache)``, x of shape (N, D), gamma and beta (D,). ``extra_args``
    defaults to ``({"mode": "train", "eps": eps},)`` for batch norm (``bn_param``) and ``({"eps": eps},)`` for
    layer norm (``ln_param``); a dict in it with another eps, or a batch-norm mode other than "train", raises.

    What the engine computes (``batchnorm_forward_train``, ``layernorm_forward`` and their backwards): per
    feature k over the N samples (batch norm), or per sample over the D features (layer norm), with m values
    per statistic,

        mean = (1/m) sum x,   var = (1/m) sum (x - mean)^2   (BIASED, as Keras and PyTorch normalize),
        inv_std = 1 / sqrt(var + eps),   x_hat = (x - mean) * inv_std,   out = gamma * x_hat + beta,
        dx = (1/m) * inv_std * (m * dxhat - sum(dxhat) - x_hat * sum(dxhat * x_hat)),   dxhat = dout * gamma,
        dgamma = sum over the N samples of dout * x_hat,   dbeta = sum over the N samples of dout.

    The batch-norm kernel's cache holds mean, var, inv_std ("rstd") and x_hat; the layer-norm kernel's holds
    mean, inv_std and x_hat, and its variance is derived as 1 / inv_std^2 - eps.

    Compared: the forward's out; the student's cache entries ``mean``, ``var``, ``x_hat`` (and ``inv_std``,
    ``std`` = sqrt(var + eps), where present), found by ``cache_keys`` (quantity -> key, or index for a tuple
    cache, e.g. ``{"mean": "sample_mean", "var": "sample_var", "x_hat": "x_hat"}``) or, without it, by common
    names (``CACHE_NAMES``; the report says which were found); and dx, dgamma, dbeta, with ``dout`` a seeded
    standard normal array unless given. The mean, variance and so on may have any shape of the right size,
    (D,) or (1, D).

    Tolerance. The engine works in float32, the student in float64. Both get the same numbers (x, gamma, beta
    and dout are rounded to float32 first), so what differs is the engine's rounding: each float32 operation
    errs by at most u = 2^-24 relative; a sum of m terms rounded step by step errs by about u * sqrt(m) times
    its terms' size when the errors are random (m * u at worst), and centering, x - mean, turns an absolute
    error u * |x| into a relative error u * |x| / sqrt(var + eps) of x_hat. Hence the normwise tolerance

        tolerance = 32 * u * sqrt(m) * kappa,   kappa = max(1, max |x| / sqrt(var + eps)) over the groups,

    e.g. 4e-5 for m = 64 standard normal samples (about 6e-6 * sqrt(m) for kappa = 3; 1e-6 * sqrt(m) is the
    scale of the random-walk error itself); 32 is a safety factor (bnlab's own errors stay below 4 * u *
    sqrt(m) * kappa). A bug errs by far more: a variance with ddof=1 is m / (m - 1) times the biased one, a
    relative error 1 / (m - 1), above the tolerance for m up to a few thousand.
    """
    if kind not in ("batch", "layer"):
        raise ValueError(f"kind must be 'batch' or 'layer', got {kind!r}")
    _check_callable("forward", forward)
    _check_callable("backward", backward)
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.floating, np.integer)):
        raise TypeError(f"eps must be a positive number, got {type(eps).__name__}")
    eps = float(eps)
    if not (math.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be positive and finite, got {eps}")
    x64 = _float64_copy("x", x)
    if x64.ndim != 2 or 0 in x64.shape:
        raise ValueError(f"x must have shape (N, D) with N, D > 0, got {x64.shape}")
    N, D = x64.shape
    params = {}
    for name, value in (("gamma", gamma), ("beta", beta)):
        params[name] = _float64_copy(name, value)
        if params[name].shape != (D,):
            raise ValueError(
                f"{name} must have shape (D,) = ({D},) for x of shape {x64.shape}, got {params[name].shape}"
            )
    if extra_args is None:
        extra_args = ({"mode": "train", "eps": eps},) if kind == "batch" else ({"eps": eps},)
    extra_args = _check_extra_args(extra_args)
    _check_eps_in_args(extra_args, eps, kind)

    # both sides get the same numbers: the float32 roundings of the inputs
    x32, g32, b32 = (a.astype(np.float32) for a in (x64, params["gamma"], params["beta"]))
    xs, gs, bs = (a.astype(np.float64) for a in (x32, g32, b32))
    out, cache = _call_forward(forward, [xs, gs, bs], extra_args)
    if out.shape != (N, D):
        raise ValueError(f"forward's out has shape {out.shape}, expected x's shape {(N, D)}")
    if dout is None:
        dout = _random_dout(seed, (N, D))
    else:
        dout = _float64_copy("dout", dout)
        if dout.shape != (N, D):
            raise ValueError(f"dout has shape {dout.shape}, expected x's shape {(N, D)}")
    dout32 = dout.astype(np.float32)
    shapes = {"x": (N, D), "gamma": (D,), "beta": (D,)}
    grads = _check_grads(backward(dout32.astype(np.float64), cache), list(shapes), shapes, ["dx", "dgamma", "dbeta"])
    entries, notes = _find_cache_entries(cache, cache_keys)
    engine = _engine_pass(kind, x32, g32, b32, eps, dout32)

    axis = 0 if kind == "batch" else 1
    m = N if kind == "batch" else D
    spread = np.sqrt(xs.var(axis=axis) + eps)
    kappa = max(1.0, float(np.max(np.max(np.abs(xs), axis=axis) / spread)))
    tolerance = ENGINE_SAFETY * FLOAT32_U * math.sqrt(m) * kappa

    theirs = {"out": ("forward's out", out)}
    theirs.update({q: entries[q] for q in CACHE_NAMES if q in entries})
    theirs["dx"] = ("backward's dx", grads["x"])
    theirs["dgamma"] = ("backward's dgamma", grads["gamma"])
    theirs["dbeta"] = ("backward's dbeta", grads["beta"])

    rows = {}
    for quantity, (where, value) in theirs.items():
        ref = engine[quantity]
        try:
            arr = _as_float_array(where, value)
        except TypeError as err:
            rows[quantity] = (where, math.inf, f"DIFFERS: {err}")
            continue
        if arr.size != ref.size:
            rows[quantity] = (where, math.inf, f"DIFFERS: shape {arr.shape}, the engine's has {ref.size} values")
            continue
        arr = arr.reshape(ref.shape)
        scale = float(np.max(np.abs(ref))) + (eps if quantity == "var" else 0.0)
        diff = float(np.max(np.abs(arr - ref)))
        error = diff / scale if scale > 0 else (0.0 if diff == 0 else math.inf)
        if not math.isfinite(error):
            verdict = "DIFFERS (not finite)"
        elif error <= tolerance:
            verdict = "agrees"
        else:
            verdict = "DIFFERS"
            if quantity == "var":
                ratio = float(np.median(arr / np.where(ref == 0, np.nan, ref)))
                if math.isfinite(ratio) and abs(ratio - m / (m - 1)) < 0.1 / m:
                    verdict += f" ({ratio:.4f} x the engine's = m/(m-1): an unbiased, ddof=1 variance?)"
        rows[quantity] = (where, error, verdict)
    return EngineComparison(kind, (N, D), eps, tolerance, kappa, rows, notes)


def compare_layernorm_with_engine(
    forward, backward, x, gamma, beta, eps: float = 1e-5, extra_args=None, cache_keys=None, dout=None, seed: int = 0
) -> EngineComparison:
    """``compare_with_engine(..., kind="layer")``: a student's layer norm (CS231n's ``layernorm_forward(x, gamma,
    beta, ln_param)``, ``layernorm_backward(dout, cache)``) against the engine's layer-norm kernels. Each sample
    (row of x) is normalized over its D features with the biased variance; gamma and beta are per feature."""
    return compare_with_engine(forward, backward, x, gamma, beta, eps, extra_args, cache_keys, dout, seed, "layer")
