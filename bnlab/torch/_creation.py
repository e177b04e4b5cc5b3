"""Creating tensors from other tensors and the small tensor queries: ``new_zeros``/``new_ones``/``new_full``/
``new_empty``/``new_tensor``, ``empty_like``/``rand_like``/``randn_like``/``randint_like``, ``logspace``,
``scalar_tensor``, ``asarray``; the random in-place fills (``uniform_``, ``normal_``, ``bernoulli_``,
``exponential_``, ``random_``...), ``fill_diagonal_``, ``apply_``/``map_``; the in-place shape changes
(``unsqueeze_``, ``squeeze_``, ``t_``, ``transpose_``); ``stride``, ``nbytes``, ``is_signed`` and friends; and the
dtype helpers ``promote_types``, ``result_type``, ``can_cast``, ``get_default_dtype``.

Tensors are contiguous (tensor.py), so ``stride`` is the row-major one and ``storage_offset`` is 0. Random fills
draw from a ``Generator`` (``generator=``, else the default one): reproducible, not PyTorch's numbers. None of
these is differentiable: the fills write like ``fill_`` (allowed on a leaf under ``no_grad``, as in
``nn.init``); ``transpose_``/``t_`` give the tensor new memory (views made before keep the old layout).
"""

from __future__ import annotations

import builtins

import numpy as np

from . import _factory, _shape, _types, _versions
from ._host import check_tensor, result
from ._random import rng_of
from ._shape import _shape_args, check_inplace
from ._types import as_device
from .tensor import Tensor, host

# ---------------------------------------------------------------- new tensors like another


def _like(t, dtype, device):
    return dtype or t.dtype, device or t.device


def new_zeros(t, *size, dtype=None, device=None, requires_grad: bool = False):
    """Zeros of ``size`` with t's dtype and device (unless given)."""
    dtype, device = _like(t, dtype, device)
    return _factory.zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def new_ones(t, *size, dtype=None, device=None, requires_grad: bool = False):
    """Ones of ``size`` with t's dtype and device."""
    dtype, device = _like(t, dtype, device)
    return _factory.ones(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def new_empty(t, *size, dtype=None, device=None, requires_grad: bool = False):
    """A tensor of ``size`` with t's dtype and device (zero-filled here)."""
    return new_zeros(t, *size, dtype=dtype, device=device, requires_grad=requires_grad)


def new_full(t, size, fill_value, *, dtype=None, device=None, requires_grad: bool = False):
    """``fill_value`` everywhere, with t's dtype and device."""
    dtype, device = _like(t, dtype, device)
    return _factory.full(size, fill_value, dtype=dtype, device=device, requires_grad=requires_grad)


def new_tensor(t, data, *, dtype=None, device=None, requires_grad: bool = False):
    """A copy of ``data`` with t's dtype and device (unless given)."""
    dtype, device = _like(t, dtype, device)
    return _factory.tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


def empty_like(input, *, dtype=None, device=None, requires_grad: bool = False, memory_format=None):
    """A tensor shaped like input (zero-filled here; PyTorch leaves it uninitialized)."""
    return _factory.zeros_like(input, dtype=dtype, device=device, requires_grad=requires_grad)


def _float_like(name, input, dtype):
    dtype = dtype or input.dtype
    if not dtype.is_floating_point:
        raise NotImplementedError(f"\"{name}\" not implemented for '{_versions.scalar_name(dtype)}'")
    return dtype


def rand_like(input, *, generator=None, dtype=None, device=None, requires_grad: bool = False, memory_format=None):
    """Uniform samples on [0, 1) shaped like input."""
    dtype = _float_like("check_uniform_bounds", input, dtype)
    return _factory.rand(
        *input.shape, generator=generator, dtype=dtype, device=device or input.device, requires_grad=requires_grad
    )


def randn_like(input, *, generator=None, dtype=None, device=None, requires_grad: bool = False, memory_format=None):
    """Standard normal samples shaped like input."""
    dtype = _float_like("normal_kernel_cpu", input, dtype)
    return _factory.randn(
        *input.shape, generator=generator, dtype=dtype, device=device or input.device, requires_grad=requires_grad
    )


def randint_like(
    input, low=0, high=None, *, generator=None, dtype=None, device=None, requires_grad: bool = False, memory_format=None
):
    """Integers uniform in [low, high) shaped like input, in input's dtype (``randint_like(x, high)``)."""
    if high is None:
        low, high = 0, low
    array = rng_of(generator).integers(int(low), int(high), size=tuple(input.shape))
    out = host(array.astype((dtype or input.dtype).np), as_device(device or input.device))
    return out.requires_grad_(True) if requires_grad else out


def logspace(start, end, steps: int, base: float = 10.0, *, dtype=None, device=None, requires_grad: bool = False):
    """base ** linspace(start, end, steps)."""
    exps = np.linspace(float(start), float(end), int(steps))
    dtype = dtype or _types.float32
    t = host(np.power(float(base), exps).astype(dtype.np), as_device(device or "cpu"))
    return t.requires_grad_(True) if requires_grad else t


def scalar_tensor(s, *, dtype=None, device=None, requires_grad: bool = False):
    """A 0-dim tensor holding the number s (float32 unless ``dtype``)."""
    return _factory.tensor(float(s), dtype=dtype or _types.float32, device=device, requires_grad=requires_grad)


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad: bool = False):
    """``obj`` as a tensor: a tensor itself when it already fits (unless ``copy=True``), else a new one."""
    if isinstance(obj, Tensor):
        out = obj.to(device=device, dtype=dtype) if (device or dtype) else obj
        if copy and out is obj:
            out = _shape.clone(obj)
    elif isinstance(obj, np.ndarray) and copy is not True and dtype is None and device is None:
        out = _factory.from_numpy(obj)
    else:
        out = _factory.tensor(obj, dtype=dtype, device=device)
    return out.requires_grad_(True) if requires_grad else out


# ---------------------------------------------------------------- in-place fills (random and others)
def _fill(t, array) -> Tensor:
    """``array`` written into t (as ``copy_``: no tape; refused on a leaf that requires grad while recording)."""
    check_inplace(t)
    _versions.bump(t)
    array = np.asarray(array).astype(t.dtype.np)
    if t._c is None:
        t._a[...] = array
    elif t.device.type == "cpu":
        t._np()[...] = array
    else:
        t._c.copy_from(np.ascontiguousarray(array))
    return t


def _rng(generator):
    return rng_of(generator)


def uniform_(t, from_: float = 0.0, to: float = 1.0, *, generator=None, **kwargs):
    """Samples of U(from, to) written into t (``from`` is accepted as a keyword too)."""
    from_ = kwargs.pop("from", from_)
    return _fill(t, _rng(generator).uniform(from_, to, size=tuple(t.shape)))


def normal_(t, mean: float = 0.0, std: float = 1.0, *, generator=None):
    """Samples of N(mean, std^2) written into t."""
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    return _fill(t, mean + std * _rng(generator).standard_normal(tuple(t.shape)))


def bernoulli_(t, p=0.5, *, generator=None):
    """1 with probability p (a number or a tensor of probabilities), else 0, written into t."""
    probs = p._np() if isinstance(p, Tensor) else p
    return _fill(t, _rng(generator).random(tuple(t.shape)) < probs)


def bernoulli(input, p=None, *, generator=None):
    """A new tensor of 0/1 draws with probabilities input (or the number p)."""
    check_tensor(input, "bernoulli")
    probs = input._np() if p is None else p
    if np.any((np.asarray(probs) < 0) | (np.asarray(probs) > 1)):
        raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")
    draws = _rng(generator).random(tuple(input.shape)) < probs
    return result("bernoulli", draws.astype(input.dtype.np), (input,))


def exponential_(t, lambd: float = 1.0, *, generator=None):
    """Samples of the exponential distribution with rate ``lambd`` written into t."""
    return _fill(t, _rng(generator).exponential(1.0 / lambd, size=tuple(t.shape)))


def geometric_(t, p: float, *, generator=None):
    """Samples of the geometric distribution (trials to the first success, from 1) written into t."""
    return _fill(t, _rng(generator).geometric(p, size=tuple(t.shape)))


def log_normal_(t, mean: float = 1.0, std: float = 2.0, *, generator=None):
    """Samples of exp(N(mean, std^2)) written into t."""
    return _fill(t, _rng(generator).lognormal(mean, std, size=tuple(t.shape)))


def cauchy_(t, median: float = 0.0, sigma: float = 1.0, *, generator=None):
    """Samples of the Cauchy distribution written into t."""
    return _fill(t, median + sigma * _rng(generator).standard_cauchy(size=tuple(t.shape)))


def random_(t, from_=0, to=None, *, generator=None, **kwargs):
    """Integers uniform in [from, to) written into t (``random_(to)``; without bounds, [0, 2^24] for float32)."""
    from_ = kwargs.pop("from", from_)
    if to is None:
        from_, to = (0, from_) if from_ else (0, (2**24 + 1) if t.dtype.is_floating_point else np.iinfo(t.dtype.np).max)
    return _fill(t, _rng(generator).integers(int(from_), int(to), size=tuple(t.shape)))


def fill_diagonal_(t, fill_value, wrap: bool = False):
    """``fill_value`` written on the main diagonal (all dims equal, or a tall matrix with ``wrap``)."""
    a = t._np().copy()
    if a.ndim < 2:
        raise RuntimeError("dimensions must larger than 1")
    if a.ndim > 2 and len(set(a.shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    np.fill_diagonal(a, fill_value, wrap=wrap)
    return _fill(t, a)


def apply_(t, callable):
    """Each element replaced by callable(element) (CPU tensors; slow: one Python call per element)."""
    if t.device.type != "cpu":
        raise TypeError("apply_ is only implemented on CPU tensors")
    flat = t._np().reshape(-1)
    return _fill(t, np.array([callable(v) for v in flat.tolist()]).reshape(t.shape))


def map_(t, tensor, callable):
    """Each element replaced by callable(element, the other tensor's element), that tensor broadcast to t."""
    if t.device.type != "cpu":
        raise TypeError("map_ is only implemented on CPU tensors")
    other = np.broadcast_to(tensor._np(), t.shape).reshape(-1).tolist()
    mine = t._np().reshape(-1).tolist()
    return _fill(t, np.array([callable(a, b) for a, b in zip(mine, other, strict=True)]).reshape(t.shape))


# ---------------------------------------------------------------- in-place shape changes
def _reshape_in_place(t, new):
    check_inplace(t)
    if new._c is None:
        t._a = new._a
    else:
        t._set_core(new._c, t.device)
    return t


def unsqueeze_(t, dim):
    """t given a dim of size 1 at ``dim`` (the same memory)."""
    return _reshape_in_place(t, _shape.unsqueeze(t.detach(), dim))


def squeeze_(t, dim=None):
    """t without its size-1 dims (or only ``dim``)."""
    return _reshape_in_place(t, _shape.squeeze(t.detach(), dim))


def transpose_(t, dim0, dim1):
    """t with dims dim0 and dim1 swapped (new memory: bnlab tensors are contiguous)."""
    return _reshape_in_place(t, _shape.transpose(t.detach(), dim0, dim1))


def t_in_place(t):
    """``t.t_()``: a matrix transposed in place."""
    return _reshape_in_place(t, _shape.t_(t.detach()))


# ---------------------------------------------------------------- queries
def stride(t, dim=None):
    """The row-major strides (elements) of t's contiguous memory, or the stride of ``dim``."""
    shape = list(t.shape)
    out, step = [], 1
    for s in reversed(shape):
        out.append(step)
        step *= builtins.max(s, 1)
    out = tuple(reversed(out))
    return out if dim is None else out[_shape.norm_dim(dim, len(shape))]


def is_signed(t) -> bool:
    """Whether t's dtype holds negative numbers (not uint8, not bool)."""
    return t.dtype not in (_types.uint8, _types.bool)


def is_nonzero(t) -> bool:
    """Whether the single element of t is nonzero (RuntimeError for other sizes)."""
    n = t.numel()
    if n == 0:
        raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
    if n > 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return bool(t.item())


def is_same_size(t, other) -> bool:
    return tuple(t.shape) == tuple(other.shape)


def sum_to_size(t, *size):
    """t summed down to ``size`` (which t must broadcast from)."""
    shape = tuple(_shape_args(size))
    try:
        np.broadcast_shapes(shape, tuple(t.shape))
    except ValueError:
        raise RuntimeError(f"size {{{list(shape)}}} is not expandable to size {{{list(t.shape)}}}.") from None
    lead = t.dim() - len(shape)
    dims = [i for i in range(t.dim()) if i < lead or (shape[i - lead] == 1 and t.shape[i] != 1)]
    out = t.sum(dims, keepdim=True) if dims else t
    return out.view(shape) if tuple(out.shape) != shape else out


def mT(t):  # noqa: N802 - PyTorch's name
    """The last two dims swapped."""
    if t.dim() < 2:
        raise RuntimeError(f"tensor.mT is only supported on matrices or batches of matrices. Got {t.dim()}-D tensor.")
    return _shape.transpose(t, -2, -1)


def get_device(t) -> int:
    """-1 for a CPU tensor, the GPU's index for a CUDA one."""
    return -1 if t.device.type == "cpu" else (t.device.index or 0)


def _to_np(d):
    return d.np if isinstance(d, _types.dtype) else np.asarray(d).dtype


def _from_np(np_dtype):
    return _types.dtype_of_numpy(np_dtype)


def promote_types(type1, type2):
    """The dtype an op on tensors of type1 and type2 gives."""
    return _from_np(np.promote_types(type1.np, type2.np))


def result_type(tensor1, tensor2):
    """The dtype of an op on two tensors or numbers (numbers promote as PyTorch's scalars do)."""

    def operand(x):
        return x._np() if isinstance(x, Tensor) else x

    return _from_np(np.result_type(operand(tensor1), operand(tensor2)))


def can_cast(from_, to) -> bool:
    """Whether PyTorch's type promotion allows casting ``from_`` to ``to`` (no float to integer, no number to
    bool)."""

    def kind(d):
        return 0 if d is _types.bool else 2 if d.is_floating_point else 1

    return kind(from_) <= kind(to)


def fill(input, value):
    """A new tensor shaped like input, ``value`` everywhere (its gradient with respect to input is 0)."""
    check_tensor(input, "fill")
    v = value.item() if isinstance(value, Tensor) else value
    return result("Fill", np.full(input.shape, v, dtype=input.dtype.np), (input,), lambda g: (np.zeros_like(g),))


def get_default_dtype():
    """float32: the only floating dtype of bnlab.torch."""
    return _types.float32


def set_default_dtype(d) -> None:
    """Accepts float32 only (the engine computes in float32)."""
    if d is not _types.float32:
        raise TypeError(f"bnlab.torch computes in float32 only; set_default_dtype({d}) is not supported")


def typename(obj) -> str:
    """'torch.FloatTensor' and the like for a tensor, the type's name otherwise."""
    return obj.type() if isinstance(obj, Tensor) else type(obj).__name__


METHODS = {
    "new_zeros": new_zeros,
    "new_ones": new_ones,
    "new_empty": new_empty,
    "new_full": new_full,
    "new_tensor": new_tensor,
    "uniform_": uniform_,
    "normal_": normal_,
    "bernoulli_": bernoulli_,
    "bernoulli": bernoulli,
    "exponential_": exponential_,
    "geometric_": geometric_,
    "log_normal_": log_normal_,
    "cauchy_": cauchy_,
    "random_": random_,
    "fill_diagonal_": fill_diagonal_,
    "apply_": apply_,
    "map_": map_,
    "unsqueeze_": unsqueeze_,
    "squeeze_": squeeze_,
    "transpose_": transpose_,
    "swapaxes_": transpose_,
    "swapdims_": transpose_,
    "t_": t_in_place,
    "stride": stride,
    "is_signed": is_signed,
    "is_nonzero": is_nonzero,
    "is_same_size": is_same_size,
    "sum_to_size": sum_to_size,
    "get_device": get_device,
    "type_as": lambda t, other: t.to(other.dtype),
    "byte": lambda t: t.to(_types.uint8),
    "ndimension": lambda t: t.dim(),
    "is_contiguous": lambda t, memory_format=None: True,
    "is_complex": lambda t: False,
    "is_inference": lambda t: False,
    "storage_offset": lambda t: 0,
    "is_cpu": property(lambda t: t.device.type == "cpu"),
    "itemsize": property(lambda t: t.dtype.itemsize),
    "nbytes": property(lambda t: t.dtype.itemsize * t.numel()),
    "mT": property(mT),
}
FUNCTIONS = {
    "empty_like": empty_like,
    "rand_like": rand_like,
    "randn_like": randn_like,
    "randint_like": randint_like,
    "logspace": logspace,
    "scalar_tensor": scalar_tensor,
    "asarray": asarray,
    "bernoulli": bernoulli,
    "is_nonzero": is_nonzero,
    "is_same_size": is_same_size,
    "is_signed": is_signed,
    "is_complex": lambda input: False,
    "is_floating_point": lambda input: input.is_floating_point(),
    "promote_types": promote_types,
    "result_type": result_type,
    "can_cast": can_cast,
    "get_default_dtype": get_default_dtype,
    "set_default_dtype": set_default_dtype,
    "typename": typename,
    "fill": fill,
}
