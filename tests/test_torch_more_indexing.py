"""bnlab.torch's selection, indexing and layout ops (bnlab/torch/_indexing.py, _layout.py) against PyTorch:
values, dtypes, gradients, in-place forms and the common errors. Skipped without torch
(test_torch_more_harness.py)."""

from __future__ import annotations

import numpy as np
import pytest
from test_torch_more_harness import bt, check, check_inplace, torch

RNG = np.random.default_rng(9)
X = RNG.standard_normal((3, 4)).astype(np.float32)
X3 = RNG.standard_normal((2, 3, 4)).astype(np.float32)
SQ = RNG.standard_normal((4, 4)).astype(np.float32)
INTS = RNG.integers(-4, 5, (3, 4))
IDX = np.array([[0, 2, 1, 0], [2, 2, 0, 1]])  # for dim 0 of X (and for gather: a smaller index)
MASK = X > 0.2
VEC = RNG.standard_normal(4).astype(np.float32)


def test_gather_scatter_and_scatter_add():
    check(lambda lib, t, i: lib.gather(t, 0, i), X, IDX)
    check(lambda lib, t, i: t.gather(1, i), X, IDX[:, :3] % 4)
    check(lambda lib, t, i: t.gather(1, i), INTS, IDX, grad=False)
    check(lambda lib, t, i: t.gather(-1, i), X, IDX.astype(np.int32))
    src = RNG.standard_normal((2, 4)).astype(np.float32)
    unique_rows = np.array([[0, 2, 1, 0], [2, 1, 0, 1]])
    check(lambda lib, t, i, s: lib.scatter(t, 0, i, s), X, unique_rows, src)
    check(lambda lib, t, i: t.scatter(0, i, 1.5), X, unique_rows)
    check(lambda lib, t, i: lib.scatter(t, 1, i, value=-1.0), X, np.array([[0], [3], [1]]))
    check(lambda lib, t, i, s: lib.scatter_add(t, 0, i, s), X, IDX, src)
    check(
        lambda lib, t, i, s: t.scatter_add(1, i, s),
        np.zeros((3, 5), np.float32),
        np.array([[0, 0], [4, 1], [2, 2]]),
        src[:, :2].copy()[[0, 1, 0]],
    )
    check_inplace("scatter_", X, 0, unique_rows, src)
    check_inplace("scatter_add_", X, 0, IDX, src)
    for lib in (bt, torch):
        with pytest.raises(RuntimeError, match="index 5 is out of bounds for dimension 1 with size 4"):
            lib.gather(lib.tensor(X), 1, lib.tensor([[5]]))
        with pytest.raises(RuntimeError, match="Index tensor must have the same number of dimensions"):
            lib.gather(lib.tensor(X), 1, lib.tensor([1]))


def test_index_select_add_copy_fill():
    rows = np.array([2, 0, 2])
    check(lambda lib, t, i: (lib.index_select(t, 0, i), t.index_select(1, i)), X, rows)
    check(lambda lib, t, i: t.index_select(-1, i), INTS, rows, grad=False)
    src = RNG.standard_normal((3, 4)).astype(np.float32)
    check(lambda lib, t, i, s: lib.index_add(t, 0, i, s, alpha=2), X, rows, src)
    check(lambda lib, t, i, s: t.index_add(1, i, s[:, :3]), X, rows, src)
    check(lambda lib, t, i, s: lib.index_copy(t, 0, i, s), X, np.array([2, 0, 1]), src)
    check(lambda lib, t, i: (lib.index_fill(t, 1, i, -2.0), t.index_fill(0, i[:1], 0.5)), X, rows)
    check_inplace("index_add_", X, 0, rows, src)
    check_inplace("index_copy_", X, 0, np.array([1, 0, 2]), src)
    check_inplace("index_fill_", X, 1, rows, 3.0)
    for lib in (bt, torch):
        with pytest.raises(IndexError, match="index out of range in self"):
            lib.index_select(lib.tensor(X), 0, lib.tensor([3]))


def test_masked_fill_select_scatter():
    check(lambda lib, t, m: (lib.masked_fill(t, m, -1e9), t.masked_fill(m, 0.0)), X, MASK)
    check(lambda lib, t, m: t.masked_fill(m, 2.5), X, MASK[0])
    check(lambda lib, t, m: t.masked_fill(m, 7), INTS, MASK, grad=False)
    check(lambda lib, t, m, v: t.masked_fill(m, v), X, MASK, np.array(0.5, np.float32))
    check(lambda lib, t, m: (lib.masked_select(t, m), t.masked_select(m[0])), X, MASK)
    src = RNG.standard_normal(12).astype(np.float32)
    check(lambda lib, t, m, s: lib.masked_scatter(t, m, s), X, MASK, src)
    check_inplace("masked_fill_", X, MASK, float("-inf"))
    check_inplace("masked_scatter_", X, MASK, src)
    tril = np.tril(np.ones((4, 4), bool))
    check(lambda lib, t, m: lib.softmax(t.masked_fill(~m, float("-inf")), -1), SQ, tril)  # causal attention
    for lib in (bt, torch):
        with pytest.raises(RuntimeError, match="only supports boolean masks"):
            lib.tensor(X).masked_fill(lib.tensor(INTS), 0.0)
        with pytest.raises(RuntimeError, match="0-dimensional value tensor"):
            lib.tensor(X).masked_fill(lib.tensor(MASK), lib.tensor([1.0]))


def test_take_take_along_dim_nonzero_argwhere():
    check(lambda lib, t, i: (lib.take(t, i), t.take(i)), X, np.array([[0, 11], [-1, 5]]))
    order = np.argsort(X, axis=1)
    check(lambda lib, t, i: (lib.take_along_dim(t, i, 1), t.take_along_dim(i, dim=1)), X, order)
    check(lambda lib, t, i: lib.take_along_dim(t, i, 0), X, np.argmax(X, axis=0)[None])
    check(lambda lib, t, i: lib.take_along_dim(t, i), X, np.array([3, 0]))
    for x in (INTS, MASK, X, np.array(2.0, np.float32), np.array(0, np.int64)):
        check(lambda lib, t: (lib.nonzero(t), t.nonzero(), lib.argwhere(t), t.argwhere()), x, grad=False)
        check(lambda lib, t: lib.nonzero(t, as_tuple=True), x, grad=False)


def test_triangles_and_diagonals():
    for k in (-1, 0, 2):
        check(lambda lib, t, k=k: (lib.tril(t, k), t.triu(k)), X)
        check(lambda lib, t, k=k: (lib.diag(t, k), lib.diagonal(t, k)), X)
        check(lambda lib, v, k=k: (lib.diag(v, k), v.diag_embed(k)), VEC)
        check(lambda lib, t, k=k: (lib.tril_indices(3, 4, k), lib.triu_indices(4, 3, k)), X, grad=False)
    check(lambda lib, t: (t.diagonal(0, 1, 2), lib.diagonal(t, -1, 2, 0)), X3)
    check(lambda lib, t: lib.diag_embed(t, 1, 0, 2), X)
    check(lambda lib, t: lib.tril(t), X3)
    check(lambda lib, t: lib.triu(t, 1), INTS, grad=False)
    check_inplace("tril_", X, -1)
    check_inplace("triu_", X)
    for lib in (bt, torch):
        with pytest.raises(RuntimeError, match="tril: input tensor must have at least 2 dimensions"):
            lib.tril(lib.tensor(VEC))


def test_unique_bincount_searchsorted_bucketize():
    vals = np.array([3, 1, 2, 3, 3, 0, 1, 1])
    check(
        lambda lib, t: (lib.unique(t), t.unique(return_counts=True), lib.unique(t, return_inverse=True)),
        vals,
        grad=False,
    )
    check(lambda lib, t: lib.unique(t, dim=0), np.array([[1, 2], [0, 1], [1, 2]]), grad=False)
    check(
        lambda lib, t: (lib.unique_consecutive(t), t.unique_consecutive(return_inverse=True, return_counts=True)),
        vals,
        grad=False,
    )
    check(lambda lib, t: (lib.bincount(t), t.bincount(minlength=7)), vals, grad=False)
    check(lambda lib, t, w: lib.bincount(t, w), vals, np.linspace(0, 1, 8, dtype=np.float32), grad=False)
    edges = np.array([-1.0, 0.0, 0.5, 2.0], np.float32)
    for right in (False, True):
        check(
            lambda lib, e, t, r=right: (lib.searchsorted(e, t, right=r), lib.bucketize(t, e, right=r)),
            edges,
            X,
            grad=False,
        )
    check(
        lambda lib, e, t: lib.searchsorted(e, t, side="right", out_int32=True), edges, np.array([0.0, 0.5]), grad=False
    )
    check(lambda lib, e, t: lib.searchsorted(e, t), np.sort(X, axis=1), X[:, :2].copy(), grad=False)
    for lib in (bt, torch):
        with pytest.raises(RuntimeError, match="bincount only supports 1-d non-negative integral inputs"):
            lib.bincount(lib.tensor([-1, 2]))


def test_flips_rolls_rotations():
    check(lambda lib, t: (lib.flip(t, [0, 2]), t.flip(1), lib.fliplr(t), t.flipud()), X3)
    check(lambda lib, t: (lib.roll(t, 1), t.roll(-2, 1), lib.roll(t, (1, 2), (0, 2))), X3)
    for k in (1, 2, 3, -1):
        check(lambda lib, t, k=k: (lib.rot90(t, k), t.rot90(k, [1, 2])), X3)
    check(lambda lib, t: lib.flip(t, [0]), INTS, grad=False)


def test_repeat_tile_expand_broadcast():
    check(lambda lib, t: (t.repeat(2, 3), t.repeat(2, 1, 2), lib.tile(t, (2,)), t.tile((2, 1, 1))), X)
    check(lambda lib, t: (t.expand(2, 3, 4), t[:, :1].expand(-1, 5), t.expand_as(lib.zeros(2, 3, 4))), X)
    check(lambda lib, t: (lib.broadcast_to(t, (3, 3, 4)), t.broadcast_to((2, 3, 4))), X)
    check(lambda lib, a, b: lib.broadcast_tensors(a, b), X[:, :1].copy(), VEC)
    assert bt.broadcast_shapes((3, 1), (4,), 1) == torch.broadcast_shapes((3, 1), (4,), 1)
    check(lambda lib, t: t.repeat(2, 2), INTS, grad=False)
    for lib in (bt, torch):
        with pytest.raises(RuntimeError, match="must match the existing size"):
            lib.tensor(X).expand(3, 5)
        with pytest.raises(RuntimeError, match="Number of dimensions of repeat dims can not be smaller"):
            lib.tensor(X).repeat(2)


def test_repeat_interleave_and_unfold():
    check(lambda lib, t: (lib.repeat_interleave(t, 2), t.repeat_interleave(3, dim=1)), X)
    check(lambda lib, t, r: (t.repeat_interleave(r, dim=0), lib.repeat_interleave(r)), X, np.array([1, 0, 3]))
    check(lambda lib, t: (t.unfold(1, 2, 1), t.unfold(0, 2, 2), t.unfold(-1, 3, 2)), X3)
    check(lambda lib, t: t.unfold(0, 2, 1), INTS, grad=False)


def test_splits_and_slices():
    check(lambda lib, t: (lib.split(t, 2), t.split([1, 2], 0), lib.split(t, 3, dim=1)), X)
    check(lambda lib, t: (lib.chunk(t, 2), t.chunk(3, 1), t.chunk(4, 0)), X)
    check(lambda lib, t: (lib.tensor_split(t, 3, 1), t.tensor_split([1, 3], 1), lib.tensor_split(t, 2)), X)
    check(lambda lib, t: (lib.hsplit(t, 3), lib.vsplit(t, [1]), t.dsplit([1, 3]), t.hsplit([1]), lib.dsplit(t, 2)), X3)
    check(lambda lib, t: (lib.unbind(t), t.unbind(1)), X)
    check(lambda lib, t: (lib.select(t, 1, -1), t.select(0, 2)), X)
    check(lambda lib, t: (lib.narrow(t, 1, 1, 2), t.narrow(0, -2, 2)), X)
    for lib in (bt, torch):
        with pytest.raises(RuntimeError, match="split_with_sizes expects split_sizes to sum exactly to 3"):
            lib.tensor(X).split([1, 1])
        with pytest.raises(RuntimeError, match="exceeds dimension size"):
            lib.tensor(X).narrow(0, 2, 2)
        with pytest.raises(RuntimeError, match="not divisible by the split_size"):
            lib.hsplit(lib.tensor(X), 3)


def test_moves_stacks_and_reshapes():
    check(lambda lib, t: (lib.movedim(t, 0, -1), t.moveaxis((0, 1), (2, 0)), lib.moveaxis(t, 1, 0)), X3)
    check(lambda lib, t: (lib.swapaxes(t, 0, 2), t.swapdims(1, 2), lib.swapdims(t, 0, 1), t.swapaxes(0, 1)), X3)
    check(lambda lib, t: (lib.unflatten(t, 1, (2, 2)), t.unflatten(-1, (2, -1)), lib.ravel(t), t.ravel()), X)
    check(
        lambda lib, a, b: (lib.hstack([a, b]), lib.vstack((a, b)), lib.dstack([a, b]), lib.row_stack([a, b])), X, X * 2
    )
    check(lambda lib, a, b: (lib.hstack([a, b]), lib.vstack([a, b]), lib.column_stack([a, b])), VEC, VEC * 2)
    check(lambda lib, a, b: (lib.concat([a, b], 1), lib.concatenate((a, b)), lib.column_stack([a, b[:, :1]])), X, X * 3)
    check(
        lambda lib, s, v, m: (lib.atleast_1d(s), lib.atleast_2d(v), lib.atleast_3d(m), lib.atleast_3d(s, v)),
        np.array(2.0, np.float32),
        VEC,
        X,
    )
