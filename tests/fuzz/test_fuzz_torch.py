"""Fuzz bnlab.torch against PyTorch 2.13 itself: tensor ops (arithmetic and broadcasting, dtypes, reductions,
shape ops, indexing) and modules (constructor arguments, input shapes). Both libraries get the same NumPy
data; where PyTorch returns a result, bnlab returns the same one (shape, dtype, values) or raises an expected
exception with a message; where PyTorch refuses, bnlab must refuse too (no silently accepted nonsense).
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from fuzz_support import check_error, examples, quiet, watchdog
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import bnlab.torch as ours
from bnlab import config
from bnlab.torch import BatchNormTrainingModeWarning

real = pytest.importorskip("torch")  # hidden by .ci/gpu/run.sh's CPU stage: a skip, not a collection error


@contextlib.contextmanager
def in_bnlab_denormal_mode():
    """PyTorch in bnlab's denormal mode for one call: the engine flushes denormals by default (FTZ+DAZ,
    TensorFlow's choice; README), PyTorch keeps them unless told. Both then compute the same arithmetic: with DAZ,
    0 / 1e-45 is 0 / 0 = nan in both, where IEEE gives 0 (a Hypothesis find). The mode is the calling thread's,
    so it is restored at once: Hypothesis and NumPy need IEEE denormals."""
    real.set_flush_denormal(config.get_flush_denormals())
    try:
        yield
    finally:
        real.set_flush_denormal(False)


# The engine's dtype, float32, is fuzzed everywhere; integer and bool tensors (host data computed by NumPy)
# only where NumPy's rules are PyTorch's (shape ops, indexing, comparisons): their arithmetic follows NumPy's
# type promotion and warnings, a known difference (README, "Reliability").
DTYPES = [np.float32]
ALL_DTYPES = [np.float32, np.float32, np.int64, np.int32, np.uint8, np.bool_]


def _numpy(out):
    """A result as comparable NumPy parts: a tensor -> [array], a (values, indices) pair -> two arrays."""
    if isinstance(out, (tuple, list)):
        return [part for item in out for part in _numpy(item)]
    if hasattr(out, "detach"):
        out = out.detach()
    return [(np.asarray(out.numpy()).copy(), str(out.dtype).replace("torch.", ""))]


def outcome(lib, fn, arrays):
    """("ok", parts) or ("error", exception): ``fn(lib, *tensors)`` on copies of ``arrays``."""
    try:
        with quiet(BatchNormTrainingModeWarning, UserWarning):
            tensors = [lib.from_numpy(np.array(a, copy=True)) for a in arrays]
            return ("ok", _numpy(fn(lib, *tensors)))
    except Exception as e:
        return ("error", e)


def assert_agrees(fn, arrays, rtol=1e-5, atol=1e-6):
    """The property, for one op on one set of inputs (see the module docstring)."""
    with watchdog():
        with in_bnlab_denormal_mode():
            theirs = outcome(real, fn, arrays)
        mine = outcome(ours, fn, arrays)
    if mine[0] == "error":
        check_error(mine[1])
        return
    assert theirs[0] == "ok", f"PyTorch refuses ({type(theirs[1]).__name__}: {theirs[1]}) but bnlab returned {mine[1]}"
    assert len(mine[1]) == len(theirs[1])
    for (got, got_dtype), (want, want_dtype) in zip(mine[1], theirs[1], strict=True):
        assert got.shape == want.shape, f"shape {got.shape}, PyTorch {want.shape}"
        assert got_dtype == want_dtype, f"dtype {got_dtype}, PyTorch {want_dtype}"
        if want.dtype.kind == "f":
            scale = float(np.nanmax(np.abs(want[np.isfinite(want)]), initial=1.0))
            np.testing.assert_allclose(got, want, rtol=rtol, atol=atol * scale, equal_nan=True)
        else:
            np.testing.assert_array_equal(got, want)


@st.composite
def array(draw, shape=None, dtype=None, dtypes=DTYPES):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)) if shape is None else shape
    dtype = np.dtype(draw(st.sampled_from(dtypes)) if dtype is None else dtype)
    if dtype.kind == "f":
        elements = st.one_of(st.floats(-10, 10, width=32), st.sampled_from([0.0, np.nan, np.inf, -np.inf]))
    elif dtype.kind == "b":
        elements = st.booleans()
    else:
        lo = 0 if dtype.kind == "u" else -5
        elements = st.integers(lo, 5)
    return draw(hnp.arrays(dtype, shape, elements=elements))


@st.composite
def two_arrays(draw):
    """Two arrays whose shapes broadcast, or (a third of the time) arbitrary shapes that may not."""
    if draw(st.integers(0, 2)):
        shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4)).input_shapes
    else:
        shapes = draw(
            st.lists(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4), min_size=2, max_size=2)
        )
    return draw(array(shapes[0])), draw(array(shapes[1]))


BINARY = {
    "add": lambda lib, a, b: a + b,
    "sub": lambda lib, a, b: a - b,
    "mul": lambda lib, a, b: a * b,
    "div": lambda lib, a, b: a / b,
    "eq": lambda lib, a, b: a == b,
    "lt": lambda lib, a, b: a < b,
    "ge": lambda lib, a, b: a >= b,
    "pow": lambda lib, a, b: a**b,
    "matmul": lambda lib, a, b: a @ b,
    "cat": lambda lib, a, b: lib.cat([a, b], dim=0),
    "stack": lambda lib, a, b: lib.stack([a, b], dim=-1),
}


@pytest.mark.parametrize("name", list(BINARY))
@examples(0.5)
@given(pair=two_arrays())
def test_binary_ops_broadcasting_and_dtypes(name, pair):
    assert_agrees(BINARY[name], pair)


SCALARS = [0, 1, -2, 2.5, 0.0, True, float("nan")]
UNARY = {
    "neg": lambda lib, a, s: -a,
    "exp": lambda lib, a, s: lib.exp(a),
    "log": lambda lib, a, s: lib.log(a),
    "sqrt": lambda lib, a, s: lib.sqrt(a),
    "abs": lambda lib, a, s: lib.abs(a),
    "relu": lambda lib, a, s: lib.relu(a),
    "sigmoid": lambda lib, a, s: lib.sigmoid(a),
    "tanh": lambda lib, a, s: lib.tanh(a),
    "float/long": lambda lib, a, s: (a.float(), a[lib.abs(a) < 1e6].long()),  # NaN/inf -> int is undefined
    "add scalar": lambda lib, a, s: a + s,
    "rsub scalar": lambda lib, a, s: s - a,
    "mul scalar": lambda lib, a, s: s * a,
    "div scalar": lambda lib, a, s: a / s,
    "pow scalar": lambda lib, a, s: a**s,
    "compare scalar": lambda lib, a, s: (a > s, a == s),
}


@pytest.mark.parametrize("name", list(UNARY))
@examples(0.3)
@given(a=array(), scalar=st.sampled_from(SCALARS))
def test_unary_and_scalar_ops(name, a, scalar):
    assert_agrees(lambda lib, t: UNARY[name](lib, t, scalar), [a])


DIMS = st.one_of(st.none(), st.integers(-4, 3))
REDUCTIONS = {
    "sum": lambda lib, a, d, k: a.sum() if d is None else a.sum(d, keepdim=k),
    "mean": lambda lib, a, d, k: a.mean() if d is None else a.mean(d, keepdim=k),
    "max": lambda lib, a, d, k: a.max() if d is None else a.max(d, keepdim=k),
    "argmax": lambda lib, a, d, k: lib.argmax(a) if d is None else lib.argmax(a, dim=d, keepdim=k),
    "var": lambda lib, a, d, k: a.var() if d is None else a.var(d, keepdim=k),
    "softmax": lambda lib, a, d, k: a.softmax(dim=-1 if d is None else d),
}


@pytest.mark.parametrize("name", list(REDUCTIONS))
@examples(0.4)
@given(a=array(), dim=DIMS, keepdim=st.booleans())
def test_reductions(name, a, dim, keepdim):
    assert_agrees(lambda lib, t: REDUCTIONS[name](lib, t, dim, keepdim), [a], rtol=1e-4, atol=1e-5)


SHAPE_OPS = {
    "reshape": lambda lib, a, s, d: a.reshape(s),
    "view": lambda lib, a, s, d: a.view(*s),
    "transpose": lambda lib, a, s, d: a.transpose(d[0], d[1]),
    "permute": lambda lib, a, s, d: a.permute(*d),
    "squeeze": lambda lib, a, s, d: a.squeeze(d[0]),
    "unsqueeze": lambda lib, a, s, d: a.unsqueeze(d[0]),
    "flatten": lambda lib, a, s, d: lib.flatten(a, d[0], d[1]),
}


@pytest.mark.parametrize("name", list(SHAPE_OPS))
@examples(0.3)
@given(
    a=array(dtypes=ALL_DTYPES),
    shape=st.lists(st.integers(-1, 6), min_size=0, max_size=3).map(tuple),
    dims=st.lists(st.integers(-4, 3), min_size=0, max_size=3).map(tuple),
)
def test_shape_ops(name, a, shape, dims):
    dims = dims if name == "permute" else (*dims, 0, 0)[:2]
    assert_agrees(lambda lib, t: SHAPE_OPS[name](lib, t, shape, dims), [a])


INDEX_PART = st.one_of(
    st.integers(-5, 5),
    st.builds(slice, st.none() | st.integers(-5, 5), st.none() | st.integers(-5, 5), st.none() | st.integers(1, 3)),
    st.just(None),
    st.just(Ellipsis),
)


@st.composite
def index_keys(draw, shape):
    kind = draw(st.sampled_from(["basic", "basic", "mask", "ints"]))
    if kind == "mask":
        return ("mask", draw(hnp.arrays(np.bool_, shape)))
    if kind == "ints":
        return ("ints", draw(hnp.arrays(np.int64, draw(st.integers(0, 4)), elements=st.integers(-5, 5))))
    return ("basic", tuple(draw(st.lists(INDEX_PART, max_size=3))))


@examples(1.0)
@given(data=st.data())
def test_indexing(data):
    a = data.draw(array(dtypes=ALL_DTYPES), label="a")
    kind, key = data.draw(index_keys(a.shape), label="key")
    if kind == "basic":
        assert_agrees(lambda lib, t: t[key], [a])
    else:  # a tensor index, built by each library
        assert_agrees(lambda lib, t, k: t[k], [a, key])


# ------------------------------------------------------------------------------------------ modules
ODD = [None, -1, 0, 1.5, float("nan"), True, "x"]
ANY_SHAPE = hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=5)


def _shapes_with(dims, leading):
    """Input shapes for a module whose input must hold ``dims`` after ``leading`` dimensions (LayerNorm's
    normalized_shape last; GroupNorm's C after N), with zero to two more dimensions on the other side, two
    times in three; else (and when the drawn arguments are not sizes) any shape, for the refusals."""
    dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in dims):
        return ANY_SHAPE
    more = st.lists(st.integers(0, 4), max_size=2).map(tuple)
    if leading:
        fitting = st.tuples(st.integers(0, 4), more).map(lambda t: (t[0], *dims, *t[1]))
    else:
        fitting = more.map(lambda m: (*m, *dims))
    return st.one_of(fitting, fitting, ANY_SHAPE)


# name: (make(nn, kwargs), the kwargs' strategy[, the input shapes' strategy given the kwargs; default ANY_SHAPE])
MODULES = {
    "Linear": (
        lambda nn, kw: nn.Linear(**kw),
        st.fixed_dictionaries(
            {"in_features": st.one_of(st.integers(0, 5), st.sampled_from(ODD)), "out_features": st.integers(-1, 5)},
            optional={"bias": st.booleans()},
        ),
    ),
    "BatchNorm1d": (
        lambda nn, kw: nn.BatchNorm1d(**kw),
        st.fixed_dictionaries(
            {"num_features": st.one_of(st.integers(0, 5), st.sampled_from(ODD))},
            optional={
                "eps": st.sampled_from([1e-5, 0.1]),
                "momentum": st.sampled_from([0.1, 0.0, 1.0, None]),
                "affine": st.booleans(),
                "track_running_stats": st.booleans(),
            },
        ),
    ),
    "LayerNorm": (
        lambda nn, kw: nn.LayerNorm(**kw),
        st.fixed_dictionaries(
            {
                "normalized_shape": st.one_of(
                    st.integers(1, 5), st.sampled_from([(3,), (2, 3), [4], ()]), st.sampled_from(ODD)
                )
            },
            optional={"eps": st.sampled_from([1e-5, 0.1]), "elementwise_affine": st.booleans(), "bias": st.booleans()},
        ),
        lambda kw: _shapes_with(kw["normalized_shape"], leading=False),
    ),
    "GroupNorm": (
        lambda nn, kw: nn.GroupNorm(**kw),
        st.fixed_dictionaries(
            {
                "num_groups": st.sampled_from([1, 2, 3, 4, *ODD]),
                "num_channels": st.sampled_from([1, 2, 3, 4, 6, *ODD]),
            },
            optional={"eps": st.sampled_from([1e-5, 0.1]), "affine": st.booleans()},
        ),
        lambda kw: _shapes_with(kw["num_channels"], leading=True),
    ),
    "Dropout(p=0)": (lambda nn, kw: nn.Dropout(p=0.0), st.just({})),
    "ReLU": (lambda nn, kw: nn.ReLU(), st.just({})),
    "Softmax": (lambda nn, kw: nn.Softmax(**kw), st.fixed_dictionaries({"dim": st.integers(-3, 2)})),
    "CrossEntropyLoss": (lambda nn, kw: nn.CrossEntropyLoss(), st.just({})),
}


@pytest.mark.parametrize("name", list(MODULES))
@examples(0.5)
@given(data=st.data())
def test_modules(name, data):
    make, kwargs, *shapes = MODULES[name]
    kw = data.draw(kwargs, label="kwargs")
    shape = data.draw(shapes[0](kw) if shapes else ANY_SHAPE, label="shape")
    x = data.draw(array(shape, np.float32), label="x")
    training = data.draw(st.booleans(), label="training")
    target = np.zeros(shape[:1], np.int64)
    seed = data.draw(st.integers(0, 2**16))

    def forward(lib, t, y):
        lib.manual_seed(seed)  # both libraries draw their initial weights from their own generators
        module = make(lib.nn, kw)
        module.train(training)
        params = list(module.parameters())
        for p, value in zip(params, _shared_weights(kw, len(params), seed), strict=False):
            with lib.no_grad():
                p.copy_(lib.from_numpy(value.reshape(tuple(p.shape))))
        return module(t, y) if name == "CrossEntropyLoss" else module(t)

    assert_agrees(forward, [x, target], rtol=1e-4, atol=1e-5)


def _shared_weights(kw, count, seed):
    """The same parameter values for both libraries (each would draw its own), in the shapes PyTorch documents:
    Linear weight (out, in) and bias (out); LayerNorm weight and bias normalized_shape; BatchNorm1d and GroupNorm
    weight and bias (C)."""
    rng = np.random.default_rng(seed)
    if "out_features" in kw:
        shapes = [(kw["out_features"], kw["in_features"]), (kw["out_features"],)]
    elif "normalized_shape" in kw:
        ns = kw["normalized_shape"]
        shapes = [tuple(ns) if isinstance(ns, (tuple, list)) else (ns,)] * 2
    else:
        c = kw.get("num_features", kw.get("num_channels", 0))
        shapes = [(c,), (c,)]
    return [rng.normal(size=s).astype(np.float32) for s in shapes[:count]]
