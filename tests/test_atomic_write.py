"""bnlab._files: the one atomic writer (lab run folders, dataset downloads, Keras files, benchmark reports)."""

import os

import pytest

from bnlab import _files


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_a_new_file_gets_the_mode_open_would_give_it(tmp_path, mask):
    old = os.umask(mask)
    try:
        _files.write_atomic(tmp_path / "a.txt", "text")
        with open(tmp_path / "b.txt", "w") as f:
            f.write("text")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o666 & ~mask
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == (tmp_path / "b.txt").stat().st_mode & 0o777
    assert _files.new_file_mode() == 0o666 & ~_umask()


@pytest.mark.parametrize(
    ("data", "expected"), [(b"\x00\x01", b"\x00\x01"), ("é\n", "é\n".encode()), (lambda f: f.write(b"w"), b"w")]
)
def test_bytes_text_and_writer_functions(tmp_path, data, expected):
    _files.write_atomic(str(tmp_path / "x"), data)
    assert (tmp_path / "x").read_bytes() == expected


def test_replaces_an_existing_file_whole(tmp_path):
    target = tmp_path / "x.json"
    target.write_text("old and longer\n")
    _files.write_atomic(target, "new\n")
    assert target.read_text() == "new\n"
    assert os.listdir(tmp_path) == ["x.json"]


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_a_writer_that_raises_leaves_the_old_file_and_no_temporary(tmp_path, error):
    target = tmp_path / "x.bin"
    target.write_bytes(b"old")

    def half_then_fail(f):
        f.write(b"half")
        raise error("stop")

    with pytest.raises(error):
        _files.write_atomic(target, half_then_fail)
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["x.bin"]


def test_a_failed_first_write_leaves_nothing(tmp_path):
    with pytest.raises(ValueError), _files.atomic_file(tmp_path / "new.part", suffix=".part") as f:
        f.write(b"partial")
        assert [n for n in os.listdir(tmp_path) if n.startswith(".new.part.") and n.endswith(".part")]
        raise ValueError("checksum mismatch")
    assert os.listdir(tmp_path) == []


def test_the_temporary_file_is_in_the_targets_folder(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append((os.path.dirname(src), os.path.basename(src)))
        real_replace(src, dst)

    monkeypatch.setattr(_files.os, "replace", spy)
    _files.write_atomic(tmp_path / "r.md", "report")
    assert seen[0][0] == str(tmp_path) and seen[0][1].startswith(".r.md.") and seen[0][1].endswith(".tmp")
