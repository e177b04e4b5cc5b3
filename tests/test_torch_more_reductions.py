"""bnlab.torch's host-computed reductions, scans and selections (bnlab/torch/_reductions.py) and products
(_linalg.py) against PyTorch: values, dtypes, named tuples, gradients and the common errors. Skipped without
torch (test_torch_more_harness.py)."""

from __future__ import annotations

import numpy as np
import pytest
from test_torch_more_harness import bt, check, check_inplace, torch

RNG = np.random.default_rng(5)
X = RNG.standard_normal((3, 5)).astype(np.float32)  # distinct values: the selections' indices are unique
X3 = RNG.standard_normal((2, 3, 4)).astype(np.float32)
WITH_ZEROS = np.array([[1.5, 0.0, -2.0, 3.0], [0.0, 2.0, 0.0, 1.0], [1.0, -1.0, 0.5, 2.0]], np.float32)
INTS = RNG.integers(-4, 5, (3, 5))
BOOLS = RNG.random((3, 5)) > 0.4
VEC = RNG.standard_normal(5).astype(np.float32)


@pytest.mark.parametrize("dim", [None, 0, 1, -1])
def test_prod_with_and_without_zeros(dim):
    for x in (X, WITH_ZEROS):
        check(lambda lib, t, d=dim: t.prod() if d is None else lib.prod(t, d), x)
    check(lambda lib, t, d=dim: t.prod() if d is None else t.prod(d, keepdim=True), INTS, grad=False)
    check(lambda lib, t: lib.prod(t, 1, dtype=lib.float32), INTS, grad=False)


@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
def test_scans(name):
    for x in (X, WITH_ZEROS):
        for dim in (0, 1, -1):
            check(lambda lib, t, d=dim: getattr(lib, name)(t, d), x)
    check(lambda lib, t: getattr(t, name)(dim=1), INTS, grad=False)
    check(lambda lib, t: getattr(t, name)(0), BOOLS, grad=False)
    check(lambda lib, t: getattr(lib, name)(t, 0), np.array(1.5, np.float32))
    check_inplace(name + "_", X, 1)


def test_logsumexp_and_logcumsumexp():
    big = X * 40
    for dim in (0, 1, (0, 1), -1):
        check(lambda lib, t, d=dim: lib.logsumexp(t, d), big)
    check(lambda lib, t: t.logsumexp(1, keepdim=True), X)
    check(lambda lib, t: lib.logsumexp(t, 0), np.array([-np.inf, -np.inf], np.float32), grad=False)
    check(lambda lib, t: lib.logsumexp(t, 1), INTS, grad=False)
    for dim in (0, 1):
        check(lambda lib, t, d=dim: lib.logcumsumexp(t, d), X * 5)
    check(lambda lib, t: t.logcumsumexp(-1), X3)


@pytest.mark.parametrize("p", ["fro", 2, 1, 3, 0.5, float("inf"), float("-inf"), 0])
def test_norm(p):
    check(lambda lib, t: lib.norm(t, p), X)
    check(lambda lib, t: t.norm(p, dim=1), X, rtol=2e-5)
    check(lambda lib, t: t.norm(p, dim=(0, 2), keepdim=True), X3, rtol=2e-5)


def test_norm_of_zeros_dist_and_errors():
    check(lambda lib, t: (lib.norm(t), t.norm(dim=0)), np.zeros((2, 3), np.float32))
    check(lambda lib, a, b: (lib.dist(a, b), a.dist(b, 1), lib.dist(a, b, float("inf"))), X, X[::-1].copy())
    for lib in (bt, torch):
        with pytest.raises(RuntimeError, match="Expected a floating point or complex tensor as input"):
            lib.norm(lib.tensor([1, 2]))


@pytest.mark.parametrize("name", ["amax", "amin"])
def test_amax_amin_share_the_gradient_among_ties(name):
    ties = np.array([[1.0, 3.0, 3.0], [2.0, -1.0, -1.0]], np.float32)
    for dim in ((), 0, 1, (0, 1), -1):
        check(lambda lib, t, d=dim: getattr(lib, name)(t, d), ties)
        check(lambda lib, t, d=dim: getattr(t, name)(d, keepdim=True), X3)
    check(lambda lib, t: getattr(t, name)(), INTS, grad=False)
    check(lambda lib, t: getattr(t, name)(axis=1, keepdims=True), X)
    check(lambda lib, t: lib.aminmax(t), X)
    check(lambda lib, t: t.aminmax(dim=1, keepdim=True), X)


def test_all_any_count_nonzero():
    for x in (BOOLS, INTS, X, INTS.astype(np.uint8)):
        for name in ("all", "any"):
            check(lambda lib, t, n=name: getattr(lib, n)(t), x, grad=False)
            check(lambda lib, t, n=name: getattr(t, n)(1, keepdim=True), x, grad=False)
            check(lambda lib, t, n=name: getattr(t, n)(dim=0), x, grad=False)
        check(lambda lib, t: (lib.count_nonzero(t), t.count_nonzero(0), t.count_nonzero((0, 1))), x, grad=False)


def test_nansum_nanmean():
    x = X.copy()
    x[0, 1] = x[2, 3] = np.nan
    for dim in (None, 0, 1):
        check(lambda lib, t, d=dim: (lib.nansum(t, d), t.nanmean(d)), x)
    check(lambda lib, t: t.nansum(1, keepdim=True), x)
    check(lambda lib, t: lib.nansum(t), INTS, grad=False)
    for lib in (bt, torch):
        with pytest.raises(RuntimeError, match="nanmean"):
            lib.nanmean(lib.tensor([1, 2]))


def test_median_mode_kthvalue():
    check(lambda lib, t: lib.median(t), X)
    check(lambda lib, t: lib.median(t), np.array([1.0, 2.0, 2.0, 5.0], np.float32))  # ties share the gradient
    check(lambda lib, t: lib.median(t), np.array([1.0, np.nan, 2.0], np.float32))
    for dim in (0, 1):
        check(lambda lib, t, d=dim: lib.median(t, d), X)
        check(lambda lib, t, d=dim: t.median(d, keepdim=True), X)
        check(lambda lib, t, d=dim: t.kthvalue(2, d), X)
    check(lambda lib, t: t.median(1), np.array([[1.0, np.nan, 0.0], [3, 1, 2]], np.float32))
    check(lambda lib, t: lib.median(t), INTS, grad=False)
    check(lambda lib, t: lib.kthvalue(t, 3, 1, True), X)
    modes = np.array([[1, 2, 2, 3, 3, 1, 1], [5, 4, 4, 5, 0, 0, 9]])
    check(lambda lib, t: lib.mode(t), modes, grad=False)
    check(lambda lib, t: t.mode(0), np.array([[3.0, 2.0], [2.0, 2.0], [3.0, 1.0]], np.float32))
    for lib in (bt, torch):
        with pytest.raises(RuntimeError, match="out of range"):
            lib.kthvalue(lib.tensor(X), 6, 1)


def test_sort_argsort_msort_topk():
    ties = np.array([[2.0, np.nan, 1.0, 2.0, -1.0], [0.0, 0.0, 3.0, -2.0, 0.0]], np.float32)
    for descending in (False, True):
        check(lambda lib, t, d=descending: lib.sort(t, descending=d), ties)
        check(lambda lib, t, d=descending: t.sort(0, d), X)
        check(
            lambda lib, t, d=descending: (lib.argsort(t, descending=d), t.argsort(dim=0, descending=d)),
            ties,
            grad=False,
        )
        check(lambda lib, t, d=descending: lib.sort(t, dim=-1, descending=d, stable=True), INTS, grad=False)
    check(lambda lib, t: (lib.msort(t), t.msort()), X)
    for k in (1, 3, 5):
        check(lambda lib, t, k=k: lib.topk(t, k), X)
        check(lambda lib, t, k=k: t.topk(k, largest=False), X)
    check(lambda lib, t: t.topk(2, dim=0), X)
    check(lambda lib, t: lib.topk(t, 2), np.arange(15).reshape(3, 5), grad=False)
    for lib in (bt, torch):
        with pytest.raises(RuntimeError, match="selected index k out of range"):
            lib.topk(lib.tensor(X), 6)


def test_cummax_cummin_take_the_last_index_on_ties():
    ties = np.array([[1.0, 3.0, 3.0, 2.0, 3.0], [5.0, np.nan, 1.0, np.nan, 7.0]], np.float32)
    for name in ("cummax", "cummin"):
        check(lambda lib, t, n=name: getattr(lib, n)(t, 1), ties)
        check(lambda lib, t, n=name: getattr(t, n)(0), X)
        check(lambda lib, t, n=name: getattr(t, n)(dim=-1), INTS, grad=False)


def test_var_mean_std_mean_diff_trace():
    for dim in (None, 0, 1):
        check(lambda lib, t, d=dim: (lib.var_mean(t, d), lib.std_mean(t, d)), X)
    check(lambda lib, t: lib.var_mean(t, 1, correction=0, keepdim=True), X)
    check(lambda lib, t: lib.std_mean(t, 0, unbiased=False), X)
    check(lambda lib, t: lib.var_mean(t, False), X)
    for n in (1, 2):
        check(lambda lib, t, n=n: lib.diff(t, n), X)
        check(lambda lib, t, n=n: t.diff(n, dim=0), X)
    check(lambda lib, t, p: lib.diff(t, dim=1, prepend=p, append=p), X, X[:, :2].copy())
    check(lambda lib, t: lib.diff(t), INTS, grad=False)
    check(lambda lib, t: lib.diff(t), BOOLS, grad=False)
    check(lambda lib, t: (lib.trace(t), t[:, :3].trace()), X)
    check(lambda lib, t: lib.trace(t), INTS, grad=False)


def test_products():
    a, b = X[0].copy(), X[1].copy()
    check(lambda lib, u, v: (lib.dot(u, v), u.dot(v), lib.vdot(u, v), u.vdot(v)), a, b)
    check(lambda lib, u, v: (lib.outer(u, v), u.outer(v[:3]), lib.ger(u, v), u.ger(v)), a, b)
    check(lambda lib, m, v: (lib.mv(m, v), m.mv(v)), X, VEC)
    check(lambda lib, u, v: (lib.inner(u, v), u.inner(v)), X, X[:2].copy())
    check(lambda lib, u, v: lib.inner(u, v), X3, X[:, :4].copy())
    check(lambda lib, c, m1, m2: lib.addmm(c, m1, m2), VEC, X, RNG.standard_normal((5, 5)).astype(np.float32))
    check(lambda lib, c, m1, m2: c.addmm(m1, m2, beta=0.5, alpha=2), np.ones((3, 3), np.float32), X, X.T.copy())
    check(lambda lib, c, m, v: (lib.addmv(c, m, v), c.addmv(m, v, alpha=-1)), X[:, 0].copy(), X, VEC)
    check(lambda lib, u, v: lib.dot(u, v), INTS[0], INTS[1], grad=False)
    for lib in (bt, torch):
        with pytest.raises(RuntimeError, match="1D tensors expected"):
            lib.dot(lib.tensor(X), lib.tensor(X))
        with pytest.raises(RuntimeError, match="inconsistent tensor size"):
            lib.dot(lib.tensor(a), lib.tensor(b[:3]))
        with pytest.raises(RuntimeError, match="expected both vectors to have same dtype"):
            lib.dot(lib.tensor(a), lib.tensor(INTS[0]))


EINSUMS = {
    "ij,jk->ik": ((3, 4), (4, 5)),
    "ij,jk": ((3, 4), (4, 2)),
    "bij,bjk->bik": ((2, 3, 4), (2, 4, 2)),
    "i,i->": ((4,), (4,)),
    "i,j->ij": ((3,), (4,)),
    "ij->ji": ((3, 4),),
    "ij->i": ((3, 4),),
    "ij->": ((3, 4),),
    "bi,bj->bij": ((2, 3), (2, 4)),
    "ij,kj->ikj": ((2, 3), (4, 3)),
    "...ij,...jk->...ik": ((2, 3, 4), (2, 4, 5)),
    "ij,jk,kl->il": ((2, 3), (3, 4), (4, 2)),
    "i,j->i": ((3,), (4,)),
    "bhqd,bhkd->bhqk": ((2, 2, 3, 4), (2, 2, 5, 4)),
}


@pytest.mark.parametrize("equation", sorted(EINSUMS))
def test_einsum(equation):
    arrays = [RNG.standard_normal(s).astype(np.float32) for s in EINSUMS[equation]]
    check(lambda lib, *ts: lib.einsum(equation, *ts), *arrays)
    check(lambda lib, *ts: lib.einsum(equation, list(ts)), *arrays)


def test_einsum_of_integers_and_tensordot():
    check(lambda lib, a, b: lib.einsum("ij,jk->ik", a, b), INTS, INTS.T.copy(), grad=False)
    check(lambda lib, a: lib.einsum("ii->i", a), X[:, :3].copy(), grad=False)
    a, b = RNG.standard_normal((2, 3, 4)).astype(np.float32), RNG.standard_normal((3, 4, 5)).astype(np.float32)
    check(lambda lib, u, v: lib.tensordot(u, v), a, b)
    check(lambda lib, u, v: lib.tensordot(u, v, dims=([1], [0])), a, b)
    check(lambda lib, u, v: lib.tensordot(u, v, dims=([1, 2], [0, 1])), a, b)
    check(lambda lib, u, v: lib.tensordot(u, v, 0), X[0].copy(), X[1].copy())
