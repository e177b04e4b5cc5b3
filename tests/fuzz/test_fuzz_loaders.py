"""Fuzz the dataset loaders on mutated files: small IDX files (gzipped or raw), CIFAR-10 Python batches
(pickles) and binary batches, truncated and with flipped bytes (tests/dataset_fixtures.py writes them). A
loader must raise DatasetFileError naming the file, or return arrays of the shape and dtype it promises;
never another exception, a crash, or a memory blow-up from a header that lies about the size.
"""

from __future__ import annotations

import dataset_fixtures as fx
import numpy as np
import pytest
from fuzz_support import examples, watchdog
from hypothesis import given
from hypothesis import strategies as st

from bnlab.datasets import _cifar, _idx
from bnlab.datasets._errors import DatasetFileError


@st.composite
def mutations(draw, raw: bytes) -> bytes:
    """``raw`` truncated, or with 1-8 bytes flipped (header bytes more often), or both."""
    data = bytearray(raw)
    if draw(st.booleans()):
        for _ in range(draw(st.integers(1, 8))):
            where = draw(st.one_of(st.integers(0, min(15, len(data) - 1)), st.integers(0, len(data) - 1)))
            data[where] ^= draw(st.integers(1, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


IMAGES = fx.make_images(6, (5, 4))
LABELS = fx.make_labels(6, 0)


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
@examples(0.5)
@given(data=st.data())
def test_idx_files(gz, data, tmp_path_factory):
    images = data.draw(mutations(fx.idx_bytes(IMAGES)), label="images file")
    labels = data.draw(mutations(fx.idx_bytes(LABELS)), label="labels file")
    folder = tmp_path_factory.mktemp("idx")
    paths = [fx.write_bytes(folder / name, raw, gz=gz) for name, raw in (("i", images), ("l", labels))]
    if gz and data.draw(st.booleans(), label="corrupt the gzip stream too"):
        packed = paths[0].read_bytes()
        paths[0].write_bytes(data.draw(mutations(packed)))
    with watchdog():
        try:
            x = _idx.read_idx_images(paths[0], count=None, rows=5, cols=4)
            y = _idx.read_idx_labels(paths[1], count=None)
        except DatasetFileError as e:
            assert str(paths[0]) in str(e) or str(paths[1]) in str(e)
            return
    assert x.dtype == np.uint8 and x.ndim == 3 and x.shape[1:] == (5, 4)
    assert y.dtype == np.uint8 and y.ndim == 1 and ((y >= 0) & (y < 10)).all()


@examples(0.5)
@given(data=st.data())
def test_cifar_python_batches(data):
    images = fx.make_images(3, (3072,))
    style = data.draw(st.sampled_from([fx.py2_batch_pickle, fx.modern_batch_pickle]), label="writer")
    raw = data.draw(mutations(style(images, [1, 2, 3], "batch")), label="pickle")
    with watchdog():
        try:
            x, y = _cifar.parse_python_batch(_cifar.restricted_loads(raw, "batch"), "batch", count=None)
        except DatasetFileError as e:
            assert "batch" in str(e)
            return
    assert x.dtype == np.uint8 and x.shape[1:] == (3072,) and y.shape == (len(x),)


@examples(0.5)
@given(data=st.data())
def test_cifar_binary_batches(data):
    raw = data.draw(mutations(fx.binary_batch(fx.make_images(3, (3072,)), [1, 2, 3])), label="batch")
    try:
        x, y = _cifar.parse_binary_batch(raw, "batch", count=None)
    except DatasetFileError as e:
        assert "batch" in str(e)
        return
    assert x.shape == (len(raw) // 3073, 3072) and y.shape == (len(x),) and (y < 10).all()
