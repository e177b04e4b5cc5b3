"""bnlab.torch's host-computed elementwise ops (bnlab/torch/_pointwise.py, _binary.py) against PyTorch: values,
dtypes and gradients of the function and the method forms, the in-place forms, and the errors of the common
misuse. Skipped without torch (test_torch_more_harness.py)."""

from __future__ import annotations

import numpy as np
import pytest
from test_torch_more_harness import assert_same, bt, check, check_inplace, torch

RNG = np.random.default_rng(3)
X = RNG.standard_normal((3, 4)).astype(np.float32)
Y = RNG.standard_normal((3, 4)).astype(np.float32)
ROW = RNG.standard_normal(4).astype(np.float32)
P = RNG.uniform(0.05, 0.95, (3, 4)).astype(np.float32)  # in (0, 1): asin, acos, atanh, erfinv, logit
BIG = RNG.uniform(1.1, 4.0, (3, 4)).astype(np.float32)  # > 1: acosh
POS = RNG.uniform(0.2, 3.0, (3, 4)).astype(np.float32)  # > 0: rsqrt, xlogy's y
INTS = RNG.integers(-5, 6, (3, 4))
BOOLS = RNG.random((3, 4)) > 0.5
SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.5, -2.5], np.float32)

UNARY = {  # name: the input it is defined on
    "asin": P,
    "acos": P,
    "atan": X,
    "asinh": X,
    "acosh": BIG,
    "atanh": P,
    "arcsin": P,
    "arccos": P,
    "arctan": X,
    "arcsinh": X,
    "arccosh": BIG,
    "arctanh": P,
    "reciprocal": POS,
    "rsqrt": POS,
    "square": X,
    "erf": X,
    "erfc": X,
    "erfinv": P * 2 - 1,
    "exp2": X,
    "frac": X * 3,
    "fix": X * 3,
    "deg2rad": X * 90,
    "rad2deg": X,
    "sign": X,
    "sgn": X,
    "sinc": X,
    "logit": P,
    "nan_to_num": X,
    "clamp_min": X,
    "clamp_max": X,
}
ARGS = {"clamp_min": (0.1,), "clamp_max": (-0.2,)}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_functions_methods_and_gradients(name):
    x, args = UNARY[name], ARGS.get(name, ())
    check(lambda lib, t: getattr(lib, name)(t, *args), x, rtol=2e-5)
    check(lambda lib, t: getattr(t, name)(*args), x, rtol=2e-5)


@pytest.mark.parametrize("name", ["reciprocal", "rsqrt", "square", "erf", "exp2", "sign", "fix", "sinc", "atan"])
def test_integer_and_bool_inputs_promote_as_pytorch_does(name):
    check(lambda lib, t: getattr(lib, name)(t), np.abs(INTS) + 1, grad=False, rtol=2e-5)
    if name in ("sign", "square", "fix"):
        check(lambda lib, t: getattr(lib, name)(t), INTS, grad=False)


@pytest.mark.parametrize("name", ["isnan", "isinf", "isfinite", "isposinf", "isneginf", "signbit", "isreal"])
def test_the_value_tests(name):
    check(lambda lib, t: getattr(lib, name)(t), SPECIAL, grad=False)
    check(lambda lib, t: getattr(t, name)(), INTS, grad=False)


def test_special_values_of_the_unary_functions():
    for name in ("sign", "reciprocal", "rsqrt", "frac", "fix", "erf", "erfc", "exp2", "sinc", "nan_to_num"):
        check(lambda lib, t, n=name: getattr(lib, n)(t), SPECIAL, grad=False)
    check(lambda lib, t: lib.erfinv(t), np.array([-1, 1, 0, 0.999, -0.5, 2], np.float32), grad=False)
    check(lambda lib, t: lib.nan_to_num(t, nan=1.0, posinf=9.0, neginf=-9.0), SPECIAL, grad=False)
    check(lambda lib, t: t.logit(eps=0.1), np.array([0.0, 0.05, 0.5, 0.97, 1.0], np.float32))
    check(lambda lib, t: lib.sinc(t), np.array([0.0, 0.5, -1.25], np.float32))


def test_clamp_and_clip_with_numbers_and_tensors():
    check(lambda lib, t: lib.clamp(t, -0.5, 0.5), X)
    check(lambda lib, t: t.clip(min=-0.3), X)
    check(lambda lib, t: t.clamp(max=0.0), X)
    check(lambda lib, t: lib.clamp(t, 0.5), np.array([0.5, 0.2, 0.9], np.float32))  # the tie passes the gradient
    check(lambda lib, t, lo, hi: lib.clamp(t, lo, hi), X, Y, Y + 0.5)
    check(
        lambda lib, t, lo, hi: t.clamp(lo, hi),
        np.array([1, 2, 3.0], np.float32),
        np.array([2, 2.5, 0], np.float32),
        np.array([3, 2, 1.0], np.float32),
    )
    check(lambda lib, t, lo: t.clamp(min=lo), X, ROW)
    check(lambda lib, t: lib.clamp(t, 0.5, 2), INTS, grad=False)  # an int tensor with float bounds gives float32
    check(lambda lib, t: lib.clamp(t, -2, 2), INTS, grad=False)
    for lib in (bt, torch):
        with pytest.raises(RuntimeError, match="At least one of 'min' or 'max' must not be None"):
            lib.clamp(lib.tensor(X))


BINARY = [
    "maximum",
    "minimum",
    "fmax",
    "fmin",
    "fmod",
    "remainder",
    "atan2",
    "arctan2",
    "hypot",
    "logaddexp",
    "logaddexp2",
    "xlogy",
    "copysign",
]


@pytest.mark.parametrize("name", BINARY)
def test_binary_functions_broadcast_and_their_gradients(name):
    y = POS if name == "xlogy" else Y
    check(lambda lib, a, b: getattr(lib, name)(a, b), X, y)
    check(lambda lib, a, b: getattr(a, name)(b), X, y[0])


def test_binary_ops_with_numbers_ties_nans_and_integers():
    ties = np.array([1.0, 2.0, np.nan, 3.0], np.float32)
    other = np.array([1.0, 1.0, 1.0, np.nan], np.float32)
    for name in ("maximum", "minimum", "fmax", "fmin"):
        check(lambda lib, a, b, n=name: getattr(lib, n)(a, b), ties, other)
    check(lambda lib, a: lib.fmod(a, 1.5), X * 4)
    check(lambda lib, a: lib.remainder(a, -1.5), X * 4)
    check(lambda lib, a: lib.remainder(a, 3), INTS, grad=False)
    check(lambda lib, a: lib.fmod(a, -3), INTS, grad=False)
    check(lambda lib, a, b: lib.maximum(a, b), INTS, X, grad=False)  # int and float: float32
    check(lambda lib, a, b: lib.atan2(a, b), INTS, np.abs(INTS) + 1, grad=False)
    check(
        lambda lib, a, b: lib.xlogy(a, b), np.array([0, 0, 1, 2.0], np.float32), np.array([0, np.nan, 3, 0], np.float32)
    )
    check(lambda lib, a: lib.copysign(a, -0.0), X)
    check(lambda lib, a, b: a % b, X * 4, Y)
    check(lambda lib, a: 7.5 % a, POS, grad=False)
    check(lambda lib, a: a // 2, INTS, grad=False)
    check(lambda lib, a: lib.floor_divide(a, 0.7), X, grad=False)
    check(lambda lib, a: 5 // a, np.abs(INTS) + 1, grad=False)
    for lib in (bt, torch):
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            lib.remainder(lib.tensor([1, 2]), 0)
        with pytest.raises(RuntimeError, match="derivative for aten::floor_divide is not implemented"):
            (lib.tensor(X, requires_grad=True) // 2).sum().backward()


def test_div_rounding_modes_and_the_aliases():
    for mode in (None, "trunc", "floor"):
        check(lambda lib, a, b, m=mode: lib.div(a, b, rounding_mode=m), X * 5, Y, grad=mode is None)
        check(lambda lib, a, m=mode: lib.divide(a, 3, rounding_mode=m), INTS, grad=False)
        check(lambda lib, a, b, m=mode: a.div(b, rounding_mode=m), X * 5, Y, grad=mode is None)
    check(lambda lib, a, b: lib.true_divide(a, b), INTS, np.abs(INTS) + 1, grad=False)
    check(lambda lib, a, b: a.true_divide(b), X, Y)
    check(lambda lib, a, b: lib.multiply(a, b), X, Y)
    check(lambda lib, a, b: a.subtract(b, alpha=2), X, Y)
    check(lambda lib, a, b: lib.subtract(a, b), X, Y)
    check(lambda lib, a, b: lib.add(a, b, alpha=0.5), X, Y)
    check(lambda lib, a, b: lib.sub(a, b), X, Y)
    check(lambda lib, a, b: lib.mul(a, 3), X, Y)
    check(lambda lib, a, b: lib.rsub(a, b, alpha=2), X, Y)
    check(lambda lib, a: lib.rsub(a, 1.5), X)
    check(lambda lib, a: lib.pow(a, 2), X)
    check(lambda lib, a: lib.pow(2, a), X)
    check(lambda lib, a: (lib.neg(a), lib.negative(a), a.negative(), lib.positive(a), a.positive()), X)
    check(lambda lib, a: (lib.absolute(a), a.absolute()), X)
    with pytest.raises(RuntimeError, match="rounding_mode"):
        bt.div(bt.tensor(X), 2, rounding_mode="round")
    for lib in (bt, torch):
        with pytest.raises(RuntimeError, match="bool tensor is not supported"):
            lib.positive(lib.tensor([True]))


def test_heaviside_lerp_addcmul_addcdiv():
    vals = np.array([0.5], np.float32)
    check(lambda lib, a, v: lib.heaviside(a, v), np.array([-1, 0, 2.0], np.float32), vals, grad=False)
    check(lambda lib, a, v: a.heaviside(v), INTS, np.array([7]), grad=False)
    for lib in (bt, torch):
        with pytest.raises(RuntimeError, match="derivative for aten::heaviside is not implemented"):
            lib.heaviside(lib.tensor([0.0, 1], requires_grad=True), lib.tensor([0.5])).sum().backward()
    check(lambda lib, s, e: lib.lerp(s, e, 0.3), X, Y)
    check(lambda lib, s, e: s.lerp(e, 0.8), X, Y)
    check(lambda lib, s, e, w: lib.lerp(s, e, w), X, Y, P)
    check(lambda lib, x, a, b: lib.addcmul(x, a, b, value=0.5), X, Y, ROW)
    check(lambda lib, x, a, b: x.addcmul(a, b), X, Y, ROW)
    check(lambda lib, x, a, b: lib.addcdiv(x, a, b, value=-2), X, Y, POS)
    check(lambda lib, x, a, b: x.addcdiv(a, b), X, Y, POS)


def test_where():
    cond = X > 0
    check(lambda lib, c, a, b: lib.where(c, a, b), cond, X, Y)
    check(lambda lib, c, a: lib.where(c, a, 0.0), cond, X)
    check(lambda lib, c, a: lib.where(c, 1.5, a), cond[0], X)
    check(lambda lib, c, a, b: a.where(c, b), cond, X, ROW)
    check(lambda lib, c, a: lib.where(c, a, 1.5), cond, INTS, grad=False)
    check(lambda lib, c, a: lib.where(c, a, -1), cond, INTS, grad=False)
    check(lambda lib, c: lib.where(c, 1.0, 0.0), cond, grad=False)
    check(lambda lib, c: lib.where(c), cond, grad=False)
    for lib in (bt, torch):
        with pytest.raises(RuntimeError, match="where expected condition to be a boolean tensor"):
            lib.where(lib.tensor(X), lib.tensor(X), 0.0)


COMPARISONS = ["eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal", "not_equal"]


@pytest.mark.parametrize("name", COMPARISONS)
def test_comparisons_as_functions_methods_and_in_place(name):
    a, b = np.round(X), np.round(Y)
    check(lambda lib, x, y: getattr(lib, name)(x, y), a, b, grad=False)
    check(lambda lib, x: getattr(x, name)(0.0), a, grad=False)
    check_inplace(name + "_", a, 0.0)
    check_inplace(name + "_", INTS, 1)


@pytest.mark.parametrize(
    "name", ["logical_and", "logical_or", "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor"]
)
def test_logical_and_bitwise_ops(name):
    check(lambda lib, x, y: getattr(lib, name)(x, y), BOOLS, ~BOOLS, grad=False)
    check(lambda lib, x, y: getattr(x, name)(y), INTS, INTS[0], grad=False)
    if name.startswith("logical"):
        check(lambda lib, x, y: getattr(lib, name)(x, y), X, INTS, grad=False)
        check_inplace(name + "_", BOOLS, ~BOOLS)
    else:
        check_inplace(name + "_", INTS, 3)
        for lib in (bt, torch):
            with pytest.raises(RuntimeError, match="not implemented for 'Float'"):
                getattr(lib, name)(lib.tensor(X), lib.tensor(X))


def test_logical_not_and_bitwise_not():
    for x in (X, INTS, BOOLS):
        check(lambda lib, t: lib.logical_not(t), x, grad=False)
    check(lambda lib, t: (lib.bitwise_not(t), t.bitwise_not()), INTS, grad=False)
    check(lambda lib, t: lib.bitwise_not(t), BOOLS, grad=False)
    check_inplace("logical_not_", BOOLS)
    check_inplace("bitwise_not_", INTS)


def test_isclose_allclose_equal():
    y = X + np.float32(1e-6) * np.sign(X)
    check(lambda lib, a, b: lib.isclose(a, b), X, y, grad=False)
    check(lambda lib, a, b: a.isclose(b, rtol=0, atol=1e-7), X, y, grad=False)
    check(lambda lib, a, b: (lib.allclose(a, b), a.allclose(b, rtol=0, atol=0)), X, y, grad=False)
    check(lambda lib, a: (lib.isclose(a, a, equal_nan=True), lib.isclose(a, a)), SPECIAL, grad=False)
    check(lambda lib, a, b: (lib.equal(a, a), lib.equal(a, b), a.equal(a[:2])), X, y, grad=False)
    check(lambda lib, a, b: lib.isclose(a, b), INTS, INTS.T.copy().T, grad=False)
    for lib in (bt, torch):
        with pytest.raises(RuntimeError, match="Long did not match Float"):
            lib.isclose(lib.tensor([1]), lib.tensor([1.0]))


INPLACE = {  # name: (input, arguments)
    "clamp_": (X, (-0.5, 0.5)),
    "clip_": (X, (None, 0.2)),
    "clamp_min_": (X, (0.0,)),
    "clamp_max_": (X, (0.1,)),
    "asin_": (P, ()),
    "acos_": (P, ()),
    "atan_": (X, ()),
    "asinh_": (X, ()),
    "acosh_": (BIG, ()),
    "atanh_": (P, ()),
    "arcsin_": (P, ()),
    "arccos_": (P, ()),
    "arctan_": (X, ()),
    "arcsinh_": (X, ()),
    "arccosh_": (BIG, ()),
    "arctanh_": (P, ()),
    "reciprocal_": (POS, ()),
    "rsqrt_": (POS, ()),
    "square_": (X, ()),
    "erf_": (X, ()),
    "erfc_": (X, ()),
    "erfinv_": (P, ()),
    "exp2_": (X, ()),
    "frac_": (X, ()),
    "fix_": (X, ()),
    "deg2rad_": (X, ()),
    "rad2deg_": (X, ()),
    "sign_": (X, ()),
    "sgn_": (X, ()),
    "sinc_": (X, ()),
    "logit_": (P, ()),
    "nan_to_num_": (X, ()),
    "fmod_": (X, (0.7,)),
    "remainder_": (X, (0.7,)),
    "floor_divide_": (INTS, (2,)),
    "atan2_": (X, (Y,)),
    "arctan2_": (X, (Y,)),
    "hypot_": (X, (Y,)),
    "xlogy_": (X, (POS,)),
    "copysign_": (X, (Y,)),
    "heaviside_": (INTS, (np.array([3]),)),
    "lerp_": (X, (Y, 0.25)),
    "addcmul_": (X, (Y, ROW)),
    "addcdiv_": (X, (Y, POS)),
    "divide_": (X, (POS,)),
    "true_divide_": (X, (2.0,)),
    "multiply_": (X, (Y,)),
    "subtract_": (X, (Y,)),
    "pow_": (POS, (1.5,)),
    "absolute_": (X, ()),
    "negative_": (X, ()),
}


NO_TORCH_INPLACE_GRAD = {"acosh_", "asinh_", "atanh_", "arccosh_", "arcsinh_", "arctanh_"}


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_in_place_forms(name):
    # PyTorch has no derivative for the in-place inverse hyperbolic functions; bnlab's rebase gives the one of
    # the out-of-place function, so only their values are compared
    x, args = INPLACE[name]
    check_inplace(name, x, *args, rtol=2e-5, graph=name not in NO_TORCH_INPLACE_GRAD)


def test_in_place_errors_as_pytorch():
    for lib in (bt, torch):
        leaf = lib.tensor(X, requires_grad=True)
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
            leaf.clamp_(0, 1)
        with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type"):
            lib.tensor([1, 2]).clamp_(0.5, 1.5)
        with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
            lib.tensor(ROW).atan2_(lib.tensor(X))
    with torch.no_grad():
        leaf = torch.tensor(X, requires_grad=True)
        leaf.clamp_(0, 1)
    with bt.no_grad():
        ours = bt.tensor(X, requires_grad=True)
        ours.clamp_(0, 1)
    assert_same(ours, leaf)


def test_a_gradient_flows_to_the_other_operand_of_an_in_place_op():
    def f(lib, a, b):
        h = a.detach() * 1
        h.lerp_(b, 0.3)
        h.mul_(b)
        return h

    check(f, X, Y)
