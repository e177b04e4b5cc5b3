"""Reductions and scans computed on the host with NumPy (_host.py): ``prod``, ``cumsum``, ``cumprod``,
``logsumexp``, ``logcumsumexp``, ``norm``, ``dist``, ``amax``/``amin``/``aminmax``, ``all``/``any``,
``count_nonzero``, ``nansum``/``nanmean``, ``var_mean``/``std_mean``, ``diff`` and ``trace``; the selections
(``median``, ``sort``, ``topk``...) are in ``_selections``.

Dims and results follow PyTorch: ``dim`` may be negative (``axis``/``keepdims`` accepted, _names.py), integer
sums and products give int64. Backward rules (g = dL/d(out), broadcast back over the reduced dims):

    prod: g * (the product of the other elements), exact with zeros        cumsum: the reversed cumsum of g
    cumprod: revcumsum(g out) / x (a direct sum where the slice holds a 0)
    logsumexp: g e^(x - out)                   logcumsumexp: g_j summed over j >= i times e^(x_i - out_j)
    norm p=2: g x / out (0 where out = 0)      p=1: g sign x     p=inf/-inf: as amax/amin of |x|, times sign x
    other p: g x |x|^(p-2) / out^(p-1)         amax, amin: g shared evenly by the ties
    nansum: g where x is not nan                nanmean: that divided by the count of non-nan values
    trace: g on the diagonal; var_mean, std_mean, dist, diff are compositions of taped ops.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from . import _math, _shape
from ._host import check_tensor, result
from ._names import numpy_aliases
from ._shape import norm_dim
from .tensor import Tensor

_AMinMax = namedtuple("aminmax", ["min", "max"])


class AminmaxResult(_AMinMax):
    """``torch.return_types.aminmax(min=..., max=...)``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"torch.return_types.aminmax(\nmin={self.min!r},\nmax={self.max!r})"


def _axes(dim, ndim: int):
    """``dim`` (None, an int or a sequence) as a tuple of axes of an ndim-dimensional array (None: all)."""
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    if not dims:
        return None
    axes = tuple(norm_dim(d, ndim) for d in dims)
    if len(set(axes)) != len(axes):
        raise RuntimeError(f"dim {axes[0]} appears multiple times in the list of dims")
    return axes if ndim else None


def _back(g, shape, axes, keepdim):
    """g (the reduced result's gradient) broadcast back over the reduced axes to ``shape``."""
    if not keepdim and axes is not None:
        g = np.expand_dims(g, axes)
    elif not keepdim:
        g = np.reshape(g, (1,) * len(shape))
    return np.broadcast_to(g, shape)


def _squeeze(kd, axes, keepdim):
    """A result computed with keepdims=True, without the reduced dims unless ``keepdim``."""
    if keepdim:
        return kd
    return np.squeeze(kd, axes) if axes is not None else kd.reshape(())


def _along(t: Tensor, dim):
    """(array at least 1-D, axis): a 0-dim tensor reduces over a dimension of size 1."""
    a = t._np()
    axis = norm_dim(dim, a.ndim)
    return (a.reshape(1), 0) if a.ndim == 0 else (a, axis)


def _int64(a):
    return a.astype(np.int64) if a.dtype.kind in "biu" else a


@numpy_aliases
def prod(input, dim=None, keepdim: bool = False, *, dtype=None):
    """The product of all elements, or along ``dim``."""
    check_tensor(input, "prod")
    if dtype is not None:
        input = input.to(dtype)
    a = _int64(input._np())
    if dim is None:
        flat = a.reshape(-1)
        return result("Prod", np.prod(flat), (input,), lambda g: (g * _others_product(flat, 0).reshape(a.shape),))
    x, axis = _along(input, dim)
    x = _int64(x)
    out = np.prod(x, axis=axis, keepdims=keepdim)
    out = out.reshape(()) if a.ndim == 0 else out

    def backward(g):
        return ((_back(g, x.shape, (axis,), keepdim) * _others_product(x, axis)).reshape(a.shape),)

    return result("Prod", out, (input,), backward)


def _others_product(a, axis):
    """The product of the other elements along ``axis``, for each element (no division: exact with zeros)."""
    m = np.moveaxis(a, axis, -1)
    ones = np.ones((*m.shape[:-1], 1), m.dtype)
    left = np.cumprod(np.concatenate([ones, m[..., :-1]], -1), -1)
    right = np.cumprod(np.concatenate([ones, m[..., :0:-1]], -1), -1)[..., ::-1]
    return np.moveaxis(left * right, -1, axis)


def _scan(name, input, dim, dtype, np_fn, grad):
    check_tensor(input, name)
    if dtype is not None:
        input = input.to(dtype)
    x, axis = _along(input, dim)
    x = _int64(x)
    out = np_fn(x, axis=axis)
    shape = input.shape
    return result(
        name.capitalize(),
        out.reshape(shape),
        (input,),
        lambda g: (grad(g.reshape(x.shape), x, out, axis).reshape(shape),),
    )


def _revcumsum(g, axis):
    return np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis)


def cumsum(input, dim, *, dtype=None):
    """Running sums along ``dim`` (integers give int64)."""
    return _scan("cumsum", input, dim, dtype, np.cumsum, lambda g, x, out, axis: _revcumsum(g, axis))


def _cumprod_grad(g, x, out, axis):
    gm, xm = np.moveaxis(g, axis, -1).astype(np.float64), np.moveaxis(x, axis, -1).astype(np.float64)
    om = np.moveaxis(out, axis, -1).astype(np.float64)
    with np.errstate(all="ignore"):
        grad = _revcumsum(gm * om, -1) / xm
    n = xm.shape[-1]
    rows = np.argwhere(np.any(xm == 0, axis=-1)) if xm.ndim > 1 else ([()] if np.any(xm == 0) else [])
    for r in rows:
        r = tuple(r)
        v, gv = xm[r], gm[r]
        for i in range(n):
            p = v.copy()
            p[i] = 1.0
            grad[(*r, i)] = np.sum(gv[i:] * np.cumprod(p)[i:])
    return np.moveaxis(grad, -1, axis)


def cumprod(input, dim, *, dtype=None):
    """Running products along ``dim`` (integers give int64)."""
    return _scan("cumprod", input, dim, dtype, np.cumprod, _cumprod_grad)


def _float_in(input, name):
    check_tensor(input, name)
    a = input._np()
    return a if a.dtype.kind == "f" else a.astype(np.float32)


@numpy_aliases
def logsumexp(input, dim, keepdim: bool = False):
    """log(sum(e^x)) over ``dim``, computed without overflow."""
    a = _float_in(input, "logsumexp")
    axes = _axes(dim, a.ndim)
    m = np.max(a, axis=axes, keepdims=True) if a.size else np.zeros((1,) * a.ndim, a.dtype)
    m = np.where(np.isfinite(m), m, 0)
    with np.errstate(all="ignore"):
        kd = np.log(np.sum(np.exp(a.astype(np.float64) - m), axis=axes, keepdims=True)) + m
    out = _squeeze(kd, axes, keepdim)
    return result(
        "Logsumexp", out.astype(np.float32), (input,), lambda g: (_back(g, a.shape, axes, keepdim) * np.exp(a - kd),)
    )


def logcumsumexp(input, dim):
    """log of the running sums of e^x along ``dim``."""
    check_tensor(input, "logcumsumexp")

    def grad(g, x, out, axis):
        x64, o64 = x.astype(np.float64), out.astype(np.float64)
        c = np.max(x64, axis=axis, keepdims=True) if x.size else 0.0
        c = np.where(np.isfinite(c), c, 0)
        return np.exp(x64 - c) * _revcumsum(g * np.exp(c - o64), axis)

    def forward(x, axis):
        return np.logaddexp.accumulate(x.astype(np.float64), axis=axis).astype(np.float32)

    return _scan("logcumsumexp", input.float() if input._c is None else input, dim, None, forward, grad)


@numpy_aliases
def norm(input, p="fro", dim=None, keepdim: bool = False, dtype=None):
    """The vector p-norm over all elements or ``dim``: p = 'fro' or 2, 1, inf, -inf, 0 or another number."""
    check_tensor(input, "norm")
    if dtype is not None:
        input = input.to(dtype)
    if input._c is None:
        raise RuntimeError(
            f"linalg.vector_norm: Expected a floating point or complex tensor as input. Got {_math._types_name(input)}"
        )
    if p == "fro" or p is None:
        p = 2
    if isinstance(p, str):
        raise RuntimeError(f"bnlab.torch norm supports p = 'fro' or a number, got {p!r}")
    a = input._np()
    axes = _axes(dim, a.ndim)
    x = np.abs(a.astype(np.float64))
    if p == np.inf:
        kd = np.max(x, axis=axes, keepdims=True)
    elif p == -np.inf:
        kd = np.min(x, axis=axes, keepdims=True)
    elif p == 0:
        kd = np.sum(x != 0, axis=axes, keepdims=True).astype(np.float64)
    else:
        kd = np.sum(x**p, axis=axes, keepdims=True) ** (1.0 / p)
    out = _squeeze(kd, axes, keepdim)

    def backward(g):
        gb = _back(g, a.shape, axes, keepdim).astype(np.float64)
        with np.errstate(all="ignore"):
            if p in (np.inf, -np.inf):
                ties = x == kd
                return (gb * np.sign(a) * ties / np.sum(ties, axis=axes, keepdims=True),)
            if p == 0:
                return (np.zeros_like(gb),)
            if p == 1:
                return (gb * np.sign(a),)
            d = a * x ** (p - 2) / kd ** (p - 1) if p != 2 else a / kd
            return (np.where(kd == 0, 0.0, gb * d),)

    return result("Norm", out.astype(np.float32), (input,), backward)


def dist(input, other, p=2):
    """norm(input - other, p)."""
    return norm(input - other, p)


def _extremum(name, input, dim, keepdim, np_fn):
    check_tensor(input, name)
    a = input._np()
    axes = _axes(dim, a.ndim)
    if a.size == 0 and axes is None:
        raise IndexError(
            f"{name}(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim "
            "with the 'dim' argument."
        )
    kd = np_fn(a, axis=axes, keepdims=True)
    out = _squeeze(kd, axes, keepdim)

    def backward(g):
        ties = a == kd
        return (_back(g, a.shape, axes, keepdim) * ties / np.sum(ties, axis=axes, keepdims=True),)

    return result(name.capitalize(), out, (input,), backward)


@numpy_aliases
def amax(input, dim=(), keepdim: bool = False):
    """The largest value over ``dim`` (all dims by default); the gradient is shared by the ties."""
    return _extremum("amax", input, dim, keepdim, np.max)


@numpy_aliases
def amin(input, dim=(), keepdim: bool = False):
    """The smallest value over ``dim`` (all dims by default)."""
    return _extremum("amin", input, dim, keepdim, np.min)


def aminmax(input, *, dim=None, keepdim: bool = False):
    """(amin, amax) as ``torch.return_types.aminmax(min, max)``."""
    d = () if dim is None else dim
    return AminmaxResult(amin(input, d, keepdim), amax(input, d, keepdim))


def _boolean(name, np_fn):
    @numpy_aliases
    def op(input, dim=None, keepdim: bool = False):
        check_tensor(input, name)
        a = input._np()
        axes = _axes(dim, a.ndim)
        out = np_fn(a, axis=axes, keepdims=keepdim)
        return result(name, out.astype(np.uint8) if a.dtype == np.uint8 else out, (input,))

    op.__name__ = name
    op.__doc__ = f"Whether {'every' if name == 'all' else 'some'} element is nonzero (over ``dim``)."
    return op


all = _boolean("all", np.all)
any = _boolean("any", np.any)


def count_nonzero(input, dim=None):
    """The number of nonzero elements (over ``dim``), int64."""
    check_tensor(input, "count_nonzero")
    a = input._np()
    return result("count_nonzero", np.count_nonzero(a, axis=_axes(dim, a.ndim)).astype(np.int64), (input,))


@numpy_aliases
def nansum(input, dim=None, keepdim: bool = False, *, dtype=None):
    """The sum with nan counted as 0."""
    check_tensor(input, "nansum")
    if dtype is not None:
        input = input.to(dtype)
    a = _int64(input._np())
    axes = _axes(dim, a.ndim)
    out = np.nansum(a, axis=axes, keepdims=keepdim)
    return result("Nansum", out, (input,), lambda g: (_back(g, a.shape, axes, keepdim) * ~np.isnan(a),))


@numpy_aliases
def nanmean(input, dim=None, keepdim: bool = False, *, dtype=None):
    """The mean of the values that are not nan."""
    check_tensor(input, "nanmean")
    if dtype is not None:
        input = input.to(dtype)
    if input._c is None:
        raise RuntimeError(
            f"nanmean(): expected input to have floating point or complex dtype but got {_math._types_name(input)}"
        )
    a = input._np()
    axes = _axes(dim, a.ndim)
    ok = ~np.isnan(a)
    count = np.sum(ok, axis=axes, keepdims=True)
    with np.errstate(all="ignore"):
        kd = np.nansum(a, axis=axes, keepdims=True) / count
    return result(
        "Nanmean", _squeeze(kd, axes, keepdim), (input,), lambda g: (_back(g, a.shape, axes, keepdim) * ok / count,)
    )


# ---------------------------------------------------------------- compositions of taped ops
def _var_args(dim, unbiased, correction):
    if isinstance(dim, bool):  # var_mean(x, False): the unbiased flag in dim's place
        dim, unbiased = None, dim
    return dim, unbiased, correction


@numpy_aliases
def var_mean(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """(var, mean) over ``dim``, with ``var``'s correction."""
    dim, unbiased, correction = _var_args(dim, unbiased, correction)
    return _math.var(input, dim, unbiased, keepdim, correction=correction), _math.mean(input, dim, keepdim)


@numpy_aliases
def std_mean(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """(std, mean) over ``dim``."""
    dim, unbiased, correction = _var_args(dim, unbiased, correction)
    return _math.std(input, dim, unbiased, keepdim, correction=correction), _math.mean(input, dim, keepdim)


def diff(input, n: int = 1, dim: int = -1, prepend=None, append=None):
    """The n-th forward difference along ``dim`` (``prepend``/``append`` joined first)."""
    check_tensor(input, "diff")
    if input.dim() == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    d = norm_dim(dim, input.dim())
    parts = [x for x in (prepend, input, append) if x is not None]
    x = _shape.cat(parts, d) if len(parts) > 1 else input
    for _ in range(n):
        size = x.shape[d]
        if size == 0:
            break
        hi = tuple([slice(None)] * d + [slice(1, None)])
        lo = tuple([slice(None)] * d + [slice(0, size - 1)])
        x = (x[hi] ^ x[lo]) if x.dtype.name == "bool" else x[hi] - x[lo]
    return x


def trace(input):
    """The sum of the diagonal of a 2-D tensor."""
    check_tensor(input, "trace")
    if input.dim() != 2:
        raise RuntimeError("trace: expected a matrix, but got tensor with dim " + str(input.dim()))
    a = input._np()
    shape = a.shape
    return result("Trace", np.trace(_int64(a)), (input,), lambda g: (np.eye(*shape, dtype=np.float32) * g,))


FUNCTIONS = {
    "prod": prod,
    "cumsum": cumsum,
    "cumprod": cumprod,
    "logsumexp": logsumexp,
    "logcumsumexp": logcumsumexp,
    "norm": norm,
    "dist": dist,
    "amax": amax,
    "amin": amin,
    "aminmax": aminmax,
    "all": all,
    "any": any,
    "count_nonzero": count_nonzero,
    "nansum": nansum,
    "nanmean": nanmean,
    "var_mean": var_mean,
    "std_mean": std_mean,
    "diff": diff,
    "trace": trace,
}
