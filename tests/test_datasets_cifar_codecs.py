"""CIFAR-10 batches pickled by Python 3 at protocols 0-2, where ``bytes`` is written as
``_codecs.encode(text, "latin1")``: the restricted unpickler accepts exactly that call (as PyTorch's
weights-only unpickler accepts ``_codecs.encode``) and still refuses every other global and every other use
of ``_codecs.encode``. Each malicious payload would create a marker file if it ran; the marker stays absent.
"""

import builtins
import codecs
import copyreg
import functools
import os
import pickle
import subprocess
from pathlib import Path

import dataset_fixtures as fx
import numpy as np
import pytest
from _helpers import assert_pickle_refused

from bnlab.datasets import _cifar
from bnlab.datasets._errors import DatasetFileError


class _Reduce:
    """Pickles as ``func(*args)``: what an attacker's batch file would contain."""

    def __init__(self, func, *args) -> None:
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def _py3_batch(data, labels, protocol):
    return pickle.dumps({b"batch_label": b"training batch 1 of 5", b"labels": labels, b"data": data}, protocol)


@pytest.mark.parametrize("protocol", [0, 1, 2])
def test_python3_low_protocol_batches_load(protocol, tmp_path):
    batches = fx.make_cifar(per_batch=7)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name, (data, labels) in zip(fx.CIFAR_PY_NAMES, batches, strict=True):
        raw = _py3_batch(data, labels, protocol)
        assert b"_codecs\nencode" in raw  # the form under test
        (folder / name).write_bytes(raw)
    (x_train, y_train), (x_test, y_test) = _cifar.load_batches_dir(folder, count=7)
    (ex_train, ey_train), (ex_test, ey_test) = fx.cifar_expected(batches)
    fx.assert_same(x_train, ex_train)
    fx.assert_same(y_train, ey_train)
    fx.assert_same(x_test, ex_test)
    fx.assert_same(y_test, ey_test)


def test_bytes_rebuilt_by_encode_are_exact():
    every_byte = bytes(range(256))
    assert _cifar.restricted_loads(pickle.dumps({b"k": every_byte}, protocol=2), "b") == {b"k": every_byte}


def _touch(marker: Path) -> str:
    return f"__import__('pathlib').Path({str(marker)!r}).touch()"


def _refused_globals(marker: Path) -> dict[str, bytes]:
    """Payloads whose first callable is a forbidden global: refused by name, before anything is called."""
    touch, shell = _touch(marker), f"touch '{marker}'"
    return {
        "os.system": pickle.dumps(_Reduce(os.system, shell), protocol=2),
        "builtins.eval": pickle.dumps(_Reduce(builtins.eval, touch), protocol=2),
        "subprocess.Popen": pickle.dumps(_Reduce(subprocess.Popen, ["touch", str(marker)]), protocol=2),
        "functools.partial(os.system)": pickle.dumps(_Reduce(functools.partial(os.system, shell)), protocol=2),
        "functools.partial in the labels": pickle.dumps(
            {b"data": np.zeros((1, 3072), np.uint8), b"labels": [_Reduce(functools.partial(eval, touch))]},
            protocol=2,
        ),
        "_codecs.encode around eval": pickle.dumps(_Reduce(codecs.encode, _Reduce(eval, touch), "latin1"), 2),
        "numpy runstring": pickle.dumps(_Reduce(np.testing._private.utils.runstring, touch, {}), protocol=2),
        "copyreg._reconstructor": pickle.dumps(_Reduce(copyreg._reconstructor, object, object, None), protocol=2),
        "codecs.encode (not _codecs)": b"\x80\x02ccodecs\nencode\nX\x03\x00\x00\x00abcX\x06\x00\x00\x00latin1\x86R.",
        "_codecs.decode": b"\x80\x02c_codecs\ndecode\nX\x03\x00\x00\x00abcX\x06\x00\x00\x00latin1\x86R.",
        "_codecs.lookup": b"\x80\x02c_codecs\nlookup\nX\x06\x00\x00\x00latin1\x85R.",
        "a dotted name from encode": b"\x80\x04\x8c\x07_codecs\x8c\x0fencode.__self__\x93.",
    }


def _refused_encodes() -> dict[str, bytes]:
    """``_codecs.encode`` called with anything but ``(str, "latin1")``: refused when called."""

    def call(*args_pickled: bytes) -> bytes:
        return b"\x80\x02c_codecs\nencode\n(" + b"".join(args_pickled) + b"tR."

    text = b"X\x03\x00\x00\x00abc"
    return {
        "rot13": call(text, b"X\x05\x00\x00\x00rot13"),
        "utf-16": call(text, b"X\x06\x00\x00\x00utf-16"),
        "latin1 with an errors handler": call(text, b"X\x06\x00\x00\x00latin1", b"X\x06\x00\x00\x00strict"),
        "one argument": call(text),
        "bytes to encode": call(b"C\x03abc", b"X\x06\x00\x00\x00latin1"),
        "an int": call(b"K\x05", b"X\x06\x00\x00\x00latin1"),
        "encoding not a str": call(text, b"C\x06latin1"),
    }


@pytest.mark.parametrize("name", list(_refused_globals(Path("m"))))
def test_forbidden_globals_are_refused_and_never_run(name, tmp_path):
    marker = tmp_path / "pwned"
    assert_pickle_refused(_refused_globals(marker)[name], marker)


LIVE = [
    "os.system",
    "builtins.eval",
    "subprocess.Popen",
    "functools.partial(os.system)",
    "functools.partial in the labels",
    "_codecs.encode around eval",
    "numpy runstring",
]


@pytest.mark.parametrize("name", LIVE)
def test_the_payloads_are_live(name, tmp_path):
    """Control: an ordinary unpickler runs them, so the refusals above are meaningful."""
    marker = tmp_path / "pwned"
    try:
        obj = pickle.loads(_refused_globals(marker)[name])
    except TypeError:  # "_codecs.encode around eval": eval runs, then encode fails on its None
        obj = None
    if isinstance(obj, subprocess.Popen):
        obj.wait()
    assert marker.exists()


@pytest.mark.parametrize("name", list(_refused_encodes()))
def test_other_uses_of_codecs_encode_are_refused(name):
    with pytest.raises(DatasetFileError, match=r"unsafe or malformed pickle: refusing _codecs\.encode\("):
        _cifar.restricted_loads(_refused_encodes()[name], "batch")


def test_non_latin1_text_is_a_malformed_pickle():
    payload = b"\x80\x02c_codecs\nencode\nX\x02\x00\x00\x00\xc4\x81X\x06\x00\x00\x00latin1\x86R."  # "ā"
    with pytest.raises(DatasetFileError, match="malformed pickle"):
        _cifar.restricted_loads(payload, "batch")
