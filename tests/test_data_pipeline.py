"""``bnlab.data.Dataset``: tf.data semantics of from_tensor_slices / shuffle / batch / map / take / repeat /
prefetch / unbatch, iteration (``.next()``), sizes, seeds, argument checking and the FastPlan contract."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnlab.data import AUTOTUNE, INFINITE_CARDINALITY, UNKNOWN_CARDINALITY, Dataset, FastPlan
from bnlab.data import dataset as dataset_module


def values(ds) -> list:
    """Elements as plain Python (lists / tuples / dicts of lists) for easy comparison."""

    def plain(e):
        if isinstance(e, tuple):
            return tuple(plain(v) for v in e)
        if isinstance(e, dict):
            return {k: plain(v) for k, v in e.items()}
        return np.asarray(e).tolist()

    return [plain(e) for e in ds]


# ------------------------------------------------------------------------------------------ structure
def test_from_tensor_slices_structures():
    x = np.arange(12).reshape(4, 3)
    y = np.array([0, 1, 0, 1])
    assert values(Dataset.from_tensor_slices(x)) == x.tolist()
    assert values(Dataset.from_tensor_slices((x, y))) == [(r, c) for r, c in zip(x.tolist(), y.tolist(), strict=True)]
    assert values(Dataset.from_tensor_slices([x, y])) == values(Dataset.from_tensor_slices((x, y)))
    first = next(iter(Dataset.from_tensor_slices({"image": x, "label": y})))
    assert set(first) == {"image", "label"} and first["image"].shape == (3,)
    nested = next(iter(Dataset.from_tensor_slices((x, (y, y * 2)))))
    assert nested[1][1] == 0 and nested[0].shape == (3,)
    assert values(Dataset.from_tensor_slices([1, 2, 3])) == [1, 2, 3]


def test_elements_are_arrays_with_shape():
    x = np.zeros((5, 28, 28, 1), np.float32)
    y = np.eye(5, dtype=np.float32)
    image, label = next(iter(Dataset.from_tensor_slices((x, y))))
    assert image.shape == (28, 28, 1) and image.dtype == np.float32 and label.shape == (5,)


@pytest.mark.parametrize(
    ("tensors", "error", "message"),
    [
        (
            (np.zeros((3, 2)), np.zeros(4)),
            ValueError,
            r"same first dimension; got shapes \[\(3, 2\), \(4,\)\]",
        ),
        (
            (np.zeros(3), np.float32(1.0)),
            ValueError,
            r"at least one dimension to slice; got shapes \[\(3,\), \(\)\]",
        ),
        ((), ValueError, "must contain at least one array"),
    ],
)
def test_from_tensor_slices_rejects_bad_input(tensors, error, message):
    with pytest.raises(error, match=message):
        Dataset.from_tensor_slices(tensors)


# ------------------------------------------------------------------------------------------ batch
def test_batch_sizes_remainder_and_len():
    x, y = np.arange(10), np.arange(10) * 10
    ds = Dataset.from_tensor_slices((x, y)).batch(4)
    batches = list(ds)
    assert [b[0].shape for b in batches] == [(4,), (4,), (2,)]
    assert batches[2][1].tolist() == [80, 90]
    assert len(ds) == 3 and ds.cardinality() == 3
    dropped = Dataset.from_tensor_slices((x, y)).batch(4, drop_remainder=True)
    assert [b[0].tolist() for b in dropped] == [[0, 1, 2, 3], [4, 5, 6, 7]] and len(dropped) == 2
    assert len(Dataset.from_tensor_slices(x).batch(20)) == 1
    assert len(Dataset.from_tensor_slices(x).batch(20, drop_remainder=True)) == 0


def test_batch_of_batches_and_generic_batching_match_tf():
    x = np.arange(12).reshape(6, 2)
    nested = list(Dataset.from_tensor_slices(x).batch(2, drop_remainder=True).batch(2))
    assert [b.shape for b in nested] == [(2, 2, 2), (1, 2, 2)]
    mapped = list(Dataset.from_tensor_slices(x).map(lambda row: row * 10).batch(4))
    assert [b.tolist() for b in mapped] == [(x[:4] * 10).tolist(), (x[4:] * 10).tolist()]
    ragged = Dataset.from_tensor_slices(np.arange(3)).map(lambda v: np.zeros(int(v) + 1)).batch(3)
    with pytest.raises(ValueError, match="cannot stack elements of different shapes"):
        list(ragged)


def test_batching_is_vectorised(monkeypatch):
    """from_tensor_slices -> shuffle -> batch gathers whole batches: no per-sample packing."""
    calls = []
    original = dataset_module._pack
    monkeypatch.setattr(dataset_module, "_pack", lambda t, leaves: calls.append(1) or original(t, leaves))
    n = 10_000
    ds = Dataset.from_tensor_slices((np.zeros((n, 8), np.float32), np.arange(n))).shuffle(n, seed=1).batch(100)
    assert sum(len(b[1]) for b in ds) == n
    assert len(calls) <= 3 * 100 + 3  # a handful per batch (tuple + 2 leaves), never one per sample


# ------------------------------------------------------------------------------------------ shuffle
def test_full_shuffle_is_a_permutation_keeping_pairs_aligned():
    x = np.arange(1000)
    batches = list(Dataset.from_tensor_slices((x, x * 2)).shuffle(1000, seed=3).batch(64))
    xs = np.concatenate([b[0] for b in batches])
    ys = np.concatenate([b[1] for b in batches])
    assert sorted(xs.tolist()) == x.tolist() and not np.array_equal(xs, x)
    assert np.array_equal(ys, xs * 2)


def test_seeds_make_runs_reproducible_and_epochs_differ():
    def make(**kw):
        return Dataset.from_tensor_slices(np.arange(50)).shuffle(50, **kw)

    a, b = make(seed=7), make(seed=7)
    first_a, first_b = values(a), values(b)
    assert first_a == first_b  # same seed, same first epoch
    assert values(a) == values(b) and values(a) != first_a  # reshuffled each iteration, reproducibly
    assert values(make(seed=8)) != first_a
    fixed = make(seed=7, reshuffle_each_iteration=False)
    assert values(fixed) == values(fixed)
    unseeded = make(reshuffle_each_iteration=False)
    assert values(unseeded) == values(unseeded)


def test_shuffle_before_repeat_reshuffles_every_epoch():
    ds = Dataset.from_tensor_slices(np.arange(20)).shuffle(20, seed=0).repeat(3)
    flat = values(ds)
    epochs = [flat[i : i + 20] for i in (0, 20, 40)]
    assert all(sorted(e) == list(range(20)) for e in epochs)
    assert epochs[0] != epochs[1] != epochs[2]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 60), buffer=st.integers(1, 80), seed=st.integers(0, 2**32), batch=st.integers(1, 7))
def test_small_buffer_follows_tf_buffer_semantics(n, buffer, seed, batch):
    """tf's buffer shuffle: a permutation where position p holds an element with index <= p + buffer - 1."""
    for ds in (
        Dataset.from_tensor_slices(np.arange(n)).shuffle(buffer, seed=seed),  # index path
        Dataset.from_tensor_slices(np.arange(n)).map(lambda v: v).shuffle(buffer, seed=seed),  # generic path
    ):
        out = values(ds)
        assert sorted(out) == list(range(n))
        assert all(v <= p + buffer - 1 for p, v in enumerate(out))
    batched = values(Dataset.from_tensor_slices(np.arange(n)).shuffle(buffer, seed=seed).batch(batch))
    assert [v for b in batched for v in b] == values(
        Dataset.from_tensor_slices(np.arange(n)).shuffle(buffer, seed=seed)
    )


def test_buffer_of_one_keeps_order_and_shuffling_batches_moves_whole_batches():
    assert values(Dataset.from_tensor_slices(np.arange(9)).shuffle(1)) == list(range(9))
    batches = values(Dataset.from_tensor_slices(np.arange(9)).batch(3).shuffle(3, seed=2))
    assert sorted(batches) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]


# ------------------------------------------------------------------------------------------ map, take, ...
def test_map_calling_convention():
    x, y = np.arange(4), np.arange(4) * 10
    assert values(Dataset.from_tensor_slices((x, y)).map(lambda a, b: a + b)) == [0, 11, 22, 33]
    assert values(Dataset.from_tensor_slices(x).map(lambda a: a * 2)) == [0, 2, 4, 6]
    as_dict = Dataset.from_tensor_slices({"a": x, "b": y}).map(lambda d: d["a"] - d["b"])
    assert values(as_dict) == [0, -9, -18, -27]
    to_tuple = Dataset.from_tensor_slices(x).map(lambda a: [a, a + 1])
    assert values(to_tuple)[1] == (1, 2)
    batched = Dataset.from_tensor_slices((x, y)).batch(2).map(lambda a, b: (a.astype(np.float32) / 2, b))
    first = next(iter(batched))
    assert first[0].dtype == np.float32 and first[0].tolist() == [0.0, 0.5]


def test_take_repeat_prefetch_unbatch():
    ds = Dataset.from_tensor_slices(np.arange(5))
    assert values(ds.take(3)) == [0, 1, 2] and len(ds.take(3)) == 3
    assert values(ds.take(-1)) == list(range(5)) and values(ds.take(0)) == []
    assert values(ds.batch(2).take(2)) == [[0, 1], [2, 3]]
    assert values(ds.repeat(2)) == list(range(5)) * 2 and len(ds.repeat(2)) == 10
    assert values(ds.repeat().take(7)) == [0, 1, 2, 3, 4, 0, 1]
    assert values(ds.prefetch(AUTOTUNE)) == values(ds) == values(ds.prefetch(2))
    assert values(ds.batch(2).unbatch()) == list(range(5)) and len(ds.batch(2).unbatch()) == 5
    assert values(ds.batch(2).map(lambda b: b + 1).unbatch()) == [1, 2, 3, 4, 5]
    assert values(Dataset.from_tensor_slices(np.arange(0)).repeat()) == []


def test_cardinality_and_len():
    ds = Dataset.from_tensor_slices(np.arange(10))
    assert ds.repeat().cardinality() == INFINITE_CARDINALITY
    assert ds.repeat().take(4).cardinality() == 4
    assert ds.batch(3).repeat(2).cardinality() == 8
    assert ds.map(lambda v: v).cardinality() == 10
    with pytest.raises(TypeError, match="The dataset length is infinite"):
        len(ds.repeat())
    unknown = ds.batch(3).map(lambda v: v).unbatch()
    assert unknown.cardinality() == UNKNOWN_CARDINALITY
    with pytest.raises(TypeError, match="The dataset length is unknown"):
        len(unknown)


def test_iterator_protocols():
    ds = Dataset.from_tensor_slices((np.arange(3), np.arange(3))).batch(2)
    it = iter(ds)
    a, b = it.next()  # Python-2 style, as in seed notebooks
    assert a.tolist() == [0, 1] and b.shape == (2,)
    assert next(it)[0].tolist() == [2]
    with pytest.raises(StopIteration):
        it.next()
    assert iter(ds).get_next()[0].tolist() == [0, 1]
    assert next(iter(ds))[0].shape == (2,)
    assert [x.tolist() for x, _ in ds.as_numpy_iterator()] == [[0, 1], [2]]


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda ds: ds.batch(0), ValueError, "batch_size must be >= 1, got 0"),
        (lambda ds: ds.batch(2.5), TypeError, "batch_size must be an int, got float"),
        (lambda ds: ds.batch(True), TypeError, "batch_size must be an int, got bool"),
        (lambda ds: ds.batch(2, drop_remainder="yes"), TypeError, "drop_remainder must be a bool, got str"),
        (lambda ds: ds.shuffle(0), ValueError, "buffer_size must be >= 1, got 0"),
        (lambda ds: ds.shuffle(10, seed=-1), ValueError, "seed must be >= 0, got -1"),
        (
            lambda ds: ds.shuffle(10, reshuffle_each_iteration=1),
            TypeError,
            "reshuffle_each_iteration must be a bool",
        ),
        (lambda ds: ds.map("f"), TypeError, "map_func must be callable, got str"),
        (lambda ds: ds.take(-2), ValueError, "count must be >= -1, got -2"),
        (lambda ds: ds.repeat(-5), ValueError, "count must be >= -1, got -5"),
        (lambda ds: ds.prefetch(-3), ValueError, "buffer_size must be >= -1, got -3"),
    ],
)
def test_bad_arguments_name_the_argument(build, error, message):
    with pytest.raises(error, match=message):
        build(Dataset.from_tensor_slices(np.arange(4)))


def test_numpy_integers_are_accepted():
    ds = Dataset.from_tensor_slices(np.arange(6)).shuffle(np.int64(6), seed=np.int32(1)).batch(np.int64(4))
    assert len(ds) == 2


# ------------------------------------------------------------------------------------------ FastPlan
def test_fast_plan_for_the_fit_pipeline():
    x = np.zeros((100, 4), np.float32)
    y = np.arange(100)
    plan = Dataset.from_tensor_slices((x, y)).shuffle(100, seed=5).batch(32).prefetch(AUTOTUNE)._fast_plan()
    assert isinstance(plan, FastPlan)
    assert plan.arrays[0] is x and plan.arrays[1] is y
    assert (plan.batch_size, plan.shuffle, plan.seed, plan.drop_remainder) == (32, True, 5, False)
    plain = Dataset.from_tensor_slices((x, y)).batch(10, drop_remainder=True)._fast_plan()
    assert (plain.shuffle, plain.seed, plain.drop_remainder) == (False, None, True)
    assert "arrays=[(100, 4), (100,)]" in repr(plain)


@pytest.mark.parametrize(
    "build",
    [
        lambda ds: ds.shuffle(50).batch(8),  # buffer smaller than the data
        lambda ds: ds.shuffle(100, reshuffle_each_iteration=False).batch(8),
        lambda ds: ds.map(lambda a, b: (a, b)).batch(8),
        lambda ds: ds.batch(8).repeat(2),
        lambda ds: ds.repeat(2).batch(8),
        lambda ds: ds.shuffle(100).prefetch(1).batch(8),
        lambda ds: ds.take(50).batch(8),
        lambda ds: ds.shuffle(100),  # not batched
    ],
)
def test_fast_plan_is_none_for_other_pipelines(build):
    assert build(Dataset.from_tensor_slices((np.zeros((100, 4)), np.arange(100))))._fast_plan() is None


def test_fast_plan_needs_exactly_two_arrays():
    assert Dataset.from_tensor_slices(np.zeros((10, 2))).batch(2)._fast_plan() is None
    three = (np.zeros(10), np.zeros(10), np.zeros(10))
    assert Dataset.from_tensor_slices(three).batch(2)._fast_plan() is None
    assert Dataset.from_tensor_slices({"x": np.zeros(10), "y": np.zeros(10)}).batch(2)._fast_plan() is None
