"""Elementwise functions of one tensor computed on the host with NumPy (_host.py): the inverse trigonometric
and hyperbolic functions, ``sign``, ``reciprocal``, ``rsqrt``, ``square``, ``erf``/``erfc``/``erfinv``,
``exp2``, ``frac``, ``fix``, ``deg2rad``/``rad2deg``, ``sinc``, ``logit``, ``nan_to_num``, ``clamp`` and its
aliases, and the tests ``isnan``, ``isinf``, ``isfinite``, ``isposinf``, ``isneginf``, ``signbit``, ``isreal``.

Integer and bool inputs of the float-valued functions give float32 (PyTorch's promotion); ``sign``,
``square``, ``clamp`` and ``fix`` keep an integer dtype. Backward rules (g = dL/d(out), x the input):

    asin x: g / sqrt(1 - x^2)    acos x: -g / sqrt(1 - x^2)     atan x: g / (1 + x^2)
    asinh x: g / sqrt(x^2 + 1)   acosh x: g / sqrt(x^2 - 1)     atanh x: g / (1 - x^2)
    reciprocal: -g out^2         rsqrt: -g out^3 / 2            square: 2 g x
    erf: 2 g e^(-x^2) / sqrt(pi) erfc: -(erf's)                 erfinv: g sqrt(pi) e^(out^2) / 2
    exp2: g out ln 2             frac: g                        sign, sgn, fix: 0
    deg2rad: g pi / 180          rad2deg: g 180 / pi            sinc: g (cos(pi x) - sinc x) / x, 0 at x = 0
    logit: g / (x (1 - x)), 0 outside [eps, 1 - eps] when eps is given
    nan_to_num: g where x is finite, else 0
    clamp(x, lo, hi) = min(max(x, lo), hi): x gets g where lo <= x <= hi; a tensor lo gets g where x < lo <= hi,
    a tensor hi where max(x, lo) > hi.
"""

from __future__ import annotations

import math

import numpy as np

from ._host import as_array, check_tensor, device_of, float_array, inplace, result
from .tensor import Tensor

_SQRT_PI = math.sqrt(math.pi)
_erf = np.vectorize(math.erf, otypes=[np.float64])
_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def _erfinv(y):
    """The inverse of erf, in float64: Giles's single-precision approximation, then two Newton steps."""
    y = np.asarray(y, np.float64)
    with np.errstate(all="ignore"):
        w = -np.log((1.0 - y) * (1.0 + y))
        small = w < 5.0
        ws, wl = w - 2.5, np.sqrt(w) - 3.0
        ps = np.polyval(
            [
                2.81022636e-08,
                3.43273939e-07,
                -3.5233877e-06,
                -4.39150654e-06,
                0.00021858087,
                -0.00125372503,
                -0.00417768164,
                0.246640727,
                1.50140941,
            ],
            ws,
        )
        pl = np.polyval(
            [
                -0.000200214257,
                0.000100950558,
                0.00134934322,
                -0.00367342844,
                0.00573950773,
                -0.0076224613,
                0.00943887047,
                1.00167406,
                2.83297682,
            ],
            wl,
        )
        x = np.where(small, ps, pl) * y
        for _ in range(2):
            x = x - (_erf(x) - y) / (2.0 / _SQRT_PI * np.exp(-x * x))
    x = np.where(y == 1, np.inf, np.where(y == -1, -np.inf, x))
    return np.where(np.abs(y) > 1, np.nan, x)


def _unary(name, x, forward, grad=None, keep_int=False):
    """``forward(a)`` of x's array (float32 unless ``keep_int`` and x is integer), taped with
    ``grad(g, a, out)``."""
    check_tensor(x, name)
    a = x._np() if keep_int else float_array(x._np())
    with np.errstate(all="ignore"):
        out = np.asarray(forward(a))
        if out.dtype == np.float64:
            out = out.astype(np.float32)
    backward = None
    if grad is not None:

        def backward(g):
            with np.errstate(all="ignore"):
                return (grad(g, a, out),)

    return result(name, out, (x,), backward)


def _fn(name, forward, grad, keep_int=False, doc=""):
    def op(input):
        return _unary(name, input, forward, grad, keep_int)

    op.__name__, op.__doc__ = name.lower(), doc
    return op


def _zero(g, a, out):
    return np.zeros_like(g)


asin = _fn("Asin", np.arcsin, lambda g, a, o: g / np.sqrt(1 - a * a), doc="arcsin x, in [-pi/2, pi/2].")
acos = _fn("Acos", np.arccos, lambda g, a, o: -g / np.sqrt(1 - a * a), doc="arccos x, in [0, pi].")
atan = _fn("Atan", np.arctan, lambda g, a, o: g / (1 + a * a), doc="arctan x, in (-pi/2, pi/2).")
asinh = _fn("Asinh", np.arcsinh, lambda g, a, o: g / np.sqrt(a * a + 1), doc="The inverse of sinh.")
acosh = _fn("Acosh", np.arccosh, lambda g, a, o: g / np.sqrt(a * a - 1), doc="The inverse of cosh (x >= 1).")
atanh = _fn("Atanh", np.arctanh, lambda g, a, o: g / (1 - a * a), doc="The inverse of tanh (|x| < 1).")
reciprocal = _fn("Reciprocal", lambda a: np.float32(1) / a, lambda g, a, o: -g * o * o, doc="1 / x.")
rsqrt = _fn("Rsqrt", lambda a: np.float32(1) / np.sqrt(a), lambda g, a, o: -0.5 * g * o * o * o, doc="1 / sqrt x.")
square = _fn("Square", lambda a: a * a, lambda g, a, o: 2 * g * a, keep_int=True, doc="x * x (integers stay).")
erf = _fn("Erf", _erf, lambda g, a, o: g * (2 / _SQRT_PI) * np.exp(-a * a), doc="The error function.")
erfc = _fn("Erfc", _erfc, lambda g, a, o: -g * (2 / _SQRT_PI) * np.exp(-a * a), doc="1 - erf x.")
erfinv = _fn("Erfinv", _erfinv, lambda g, a, o: g * (_SQRT_PI / 2) * np.exp(o.astype(np.float64) ** 2), doc="erf^-1.")
exp2 = _fn("Exp2", np.exp2, lambda g, a, o: g * o * np.float32(math.log(2.0)), doc="2 ** x.")
frac = _fn("Frac", lambda a: a - np.trunc(a), lambda g, a, o: g, doc="x - trunc(x) (the sign of x).")
fix = _fn("Fix", np.trunc, _zero, keep_int=True, doc="trunc x: rounded toward zero.")
deg2rad = _fn("Deg2Rad", lambda a: a * np.float32(math.pi / 180), lambda g, a, o: g * np.float32(math.pi / 180))
rad2deg = _fn("Rad2Deg", lambda a: a * np.float32(180 / math.pi), lambda g, a, o: g * np.float32(180 / math.pi))


def _sign_array(a):
    if a.dtype == np.bool_:
        return a.copy()
    out = np.sign(a)
    return np.where(np.isnan(out), 0, out).astype(a.dtype) if a.dtype.kind == "f" else out


sign = _fn("Sign", _sign_array, _zero, keep_int=True, doc="-1, 0 or 1 (0 for 0, -0 and nan, as PyTorch).")
sgn = _fn("Sgn", _sign_array, _zero, keep_int=True, doc="sign x (for real tensors).")


def _sinc_grad(g, a, o):
    pa = np.pi * a.astype(np.float64)
    d = (np.cos(pa) - o) / a
    return np.where(a == 0, 0.0, g * d)


sinc = _fn("Sinc", lambda a: np.sinc(a.astype(np.float64)), _sinc_grad, doc="sin(pi x) / (pi x), 1 at x = 0.")


def logit(input, eps=None):
    """log(x / (1 - x)); with ``eps``, x is first clamped to [eps, 1 - eps] (gradient 0 outside)."""
    lo = None if eps is None else float(eps)

    def forward(a):
        z = a if lo is None else np.clip(a, np.float32(lo), np.float32(1 - lo))
        return np.log(z / (np.float32(1) - z))

    def grad(g, a, o):
        d = g / (a * (np.float32(1) - a))
        if lo is None:
            return d
        return np.where((a < lo) | (a > 1 - lo), 0.0, d)

    return _unary("Logit", input, forward, grad)


def nan_to_num(input, nan: float = 0.0, posinf=None, neginf=None):
    """nan, +inf and -inf replaced by ``nan``, ``posinf`` (default: the dtype's largest) and ``neginf``."""
    check_tensor(input, "nan_to_num")
    a = input._np()
    if a.dtype.kind != "f":
        return result("NanToNum", a.copy(), (input,))
    big = np.finfo(np.float32)
    out = np.nan_to_num(
        a, nan=nan, posinf=big.max if posinf is None else posinf, neginf=big.min if neginf is None else neginf
    )
    return result("NanToNum", out.astype(np.float32), (input,), lambda g: (g * np.isfinite(a),))


def clamp(input, min=None, max=None):
    """min(max(x, min), max), elementwise; ``min`` and ``max`` are numbers or tensors (broadcast)."""
    check_tensor(input, "clamp")
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    a, lo, hi = input._np(), as_array(min), as_array(max)
    parents = [input] + [t for t in (min, max) if isinstance(t, Tensor)]
    device = device_of(*parents)
    with np.errstate(all="ignore"):
        low = a if lo is None else np.maximum(a, lo)
        out = low if hi is None else np.minimum(low, hi)
    if out is a:
        out = a.copy()

    def backward(g):
        x_ok = np.ones(a.shape, bool) if lo is None else a >= lo
        if hi is not None:
            x_ok = x_ok & (a <= hi)
        grads = [g * x_ok]
        if isinstance(min, Tensor):
            grads.append(g * ((a < lo) & (True if hi is None else lo <= hi)))
        if isinstance(max, Tensor):
            grads.append(g * (low > hi))
        return grads

    return result("Clamp", out, parents, backward, device)


def clamp_min(input, min):
    """max(x, min)."""
    return clamp(input, min=min)


def clamp_max(input, max):
    """min(x, max)."""
    return clamp(input, max=max)


clip = clamp


def _test(np_fn, name):
    def op(input):
        check_tensor(input, name)
        a = input._np()
        return result(name, np_fn(a) if a.dtype.kind == "f" else np_fn(a.astype(np.float32)), (input,))

    op.__name__ = name
    return op


isnan = _test(np.isnan, "isnan")
isinf = _test(np.isinf, "isinf")
isfinite = _test(np.isfinite, "isfinite")
isposinf = _test(np.isposinf, "isposinf")
isneginf = _test(np.isneginf, "isneginf")
signbit = _test(np.signbit, "signbit")


def isreal(input):
    """True everywhere: bnlab.torch has no complex tensors."""
    check_tensor(input, "isreal")
    return result("isreal", np.ones(input.shape, bool), (input,))


FUNCTIONS = {
    "asin": asin,
    "acos": acos,
    "atan": atan,
    "asinh": asinh,
    "acosh": acosh,
    "atanh": atanh,
    "arcsin": asin,
    "arccos": acos,
    "arctan": atan,
    "arcsinh": asinh,
    "arccosh": acosh,
    "arctanh": atanh,
    "reciprocal": reciprocal,
    "rsqrt": rsqrt,
    "square": square,
    "erf": erf,
    "erfc": erfc,
    "erfinv": erfinv,
    "exp2": exp2,
    "frac": frac,
    "fix": fix,
    "deg2rad": deg2rad,
    "rad2deg": rad2deg,
    "sign": sign,
    "sgn": sgn,
    "sinc": sinc,
    "logit": logit,
    "nan_to_num": nan_to_num,
    "clamp": clamp,
    "clip": clip,
    "clamp_min": clamp_min,
    "clamp_max": clamp_max,
}
TESTS = {
    "isnan": isnan,
    "isinf": isinf,
    "isfinite": isfinite,
    "isposinf": isposinf,
    "isneginf": isneginf,
    "signbit": signbit,
    "isreal": isreal,
}
# the in-place forms PyTorch has (every function above, as a method and as torch.<name>_ for most)
INPLACE = {name + "_": inplace(fn) for name, fn in FUNCTIONS.items()}
