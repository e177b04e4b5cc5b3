"""Fuzz bnlab.data.Dataset pipelines: random chains of shuffle / batch / take / repeat / map / unbatch /
prefetch, with odd arguments, against a list-based model of tf.data's semantics. Without a shuffle the
elements must equal the model's; with one, the batch shapes must, every (x, y) pair must stay together, and
the elements must be the model's as a multiset (after a take or a dropped remainder that follows a shuffle:
elements of the source). len() must agree where it is finite.
"""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
from fuzz_support import EXPECTED, check_error, examples, watchdog
from hypothesis import given
from hypothesis import strategies as st

from bnlab.data import Dataset

ODD = st.sampled_from([0, -1, -2, 1.5, None, True, "2", np.int64(2)])
STEPS = st.one_of(
    st.tuples(st.just("shuffle"), st.one_of(st.integers(1, 12), ODD), st.integers(0, 3)),
    st.tuples(st.just("batch"), st.one_of(st.integers(1, 5), ODD), st.booleans()),
    st.tuples(st.just("take"), st.one_of(st.integers(-1, 12), ODD)),
    st.tuples(st.just("repeat"), st.one_of(st.integers(0, 2), ODD)),
    st.tuples(st.just("map")),
    st.tuples(st.just("unbatch")),
    st.tuples(st.just("prefetch"), st.one_of(st.integers(-1, 3), ODD)),
)


_MOST = 9 * 2**5  # elements a valid pipeline can yield here (9 samples, repeat(2) at most 5 times)


def _model(elements, step):
    """tf.data's result for one step on a list of (x, y) elements (None where tf.data raises)."""
    kind = step[0]
    if kind == "shuffle":
        return list(elements)
    if kind == "batch":
        size, drop = step[1], step[2]
        groups = [elements[i : i + size] for i in range(0, len(elements), size)]
        if drop and groups and len(groups[-1]) < size:
            groups.pop()
        return [(np.stack([x for x, _ in g]), np.stack([y for _, y in g])) for g in groups]
    if kind == "take":
        return list(elements) if step[1] == -1 else list(elements[: step[1]])
    if kind == "repeat":  # None or -1: forever; more than the test reads is as good (len() then ends the test)
        return list(elements) * (_MOST + 1 if step[1] in (None, -1) else step[1])
    if kind == "map":
        return [(x * 2, y) for x, y in elements]
    if kind == "unbatch":
        return [(x[i], y[i]) for x, y in elements for i in range(len(x))]
    return list(elements)


def _apply(ds, step):
    kind = step[0]
    if kind == "shuffle":
        return ds.shuffle(step[1], seed=step[2])
    if kind == "batch":
        return ds.batch(step[1], drop_remainder=step[2])
    if kind == "take":
        return ds.take(step[1])
    if kind == "repeat":
        return ds.repeat(step[1])
    if kind == "map":
        return ds.map(lambda x, y: (x * 2, y))
    if kind == "unbatch":
        return ds.unbatch()
    return ds.prefetch(step[1])


def _valid(step, depth):
    """Whether tf.data accepts the step (its arguments' types and ranges), as the model needs."""
    kind, args = step[0], step[1:]
    ok_int = [type(a) is int or isinstance(a, np.integer) for a in args[:1]]
    if kind == "shuffle":
        return ok_int[0] and args[0] >= 1
    if kind == "batch":
        return ok_int[0] and args[0] >= 1
    if kind == "take":
        return ok_int[0] and args[0] >= -1
    if kind == "repeat":
        return args[0] is None or (ok_int[0] and args[0] >= -1)
    if kind == "unbatch":
        return depth > 0
    if kind == "prefetch":
        return ok_int[0] and args[0] >= -1
    return True


@examples(2.0)
@given(n=st.integers(0, 9), steps=st.lists(STEPS, max_size=5))
def test_pipelines_match_the_tf_data_model(n, steps):
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    y = np.arange(n, dtype=np.int64) * 10  # y = 5 * x[:, 0]: the pair check
    with watchdog():
        try:
            ds = Dataset.from_tensor_slices((x, y))
            for step in steps:
                ds = _apply(ds, step)
            got = [(np.asarray(a), np.asarray(b)) for a, b in itertools.islice(ds, _MOST + 1)]
            length = len(ds)
        except EXPECTED as e:
            check_error(e)
            return
    model, depth, shuffled = [(x[i], y[i]) for i in range(n)], 0, False
    subset = False
    for step in steps:
        if step[0] == "unbatch" and depth == 0:  # checked lazily, on the first element (tf.data: when built)
            assert not got, f"unbatched scalars: {steps}"
            return
        assert _valid(step, depth), f"accepted {step}"
        # after a shuffle, which elements a take or a dropped remainder keeps varies
        subset = subset or (shuffled and (step[0] == "take" or (step[0] == "batch" and step[2])))
        try:
            model = _model(model, step)
        except ValueError:  # batching ragged batches: tf.data raises when it meets them, so nothing came out
            assert not got, f"stacked ragged batches: {steps}"
            return
        depth += {"batch": 1, "unbatch": -1}.get(step[0], 0)
        shuffled = shuffled or step[0] == "shuffle"
    assert length == len(model) == len(got)
    scale = 2 ** sum(step[0] == "map" for step in steps)
    shapes = [(a.shape, b.shape) for a, b in got], [(a.shape, b.shape) for a, b in model]
    assert sorted(shapes[0]) == sorted(shapes[1]) if shuffled else shapes[0] == shapes[1]
    for (gx, gy), (mx, my) in zip(got, model, strict=True):
        np.testing.assert_array_equal(gx[..., 0] * 5 // scale, gy)  # x and y still belong together
        if not shuffled:
            np.testing.assert_array_equal(gx, mx)
            np.testing.assert_array_equal(gy, my)

    def counts(elements):
        return Counter(np.concatenate([b.ravel() for _, b in elements] or [[]]).tolist())

    seen, allowed = counts(got), counts(model)
    assert set(seen) <= set(y.tolist()) if subset else seen == allowed
