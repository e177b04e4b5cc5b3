"""Downloads against a loopback HTTP server: success, checksum and size mismatches, truncated and stalled
transfers, HTTP 404, no server, Ctrl-C. After every failure the cache folder must hold no file at all."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import time

import dataset_fixtures as fx
import pytest

from bnlab.datasets import (
    DatasetNotFoundError,
    DownloadError,
    _download,
    _sources,
    download,
    fashion_mnist,
    fetch_file,
    mnist,
)

PAYLOAD = bytes(range(256)) * 1000  # 256,000 bytes: several 64 KiB chunks


def expect(monkeypatch, name: str, files: dict[str, bytes]) -> None:
    """Make ``files`` (name -> content) the expected upstream files of dataset ``name``."""
    remote = tuple(
        _sources.RemoteFile(fname, len(body), hashlib.sha256(body).hexdigest()) for fname, body in files.items()
    )
    monkeypatch.setitem(_sources.SOURCES, name, dataclasses.replace(_sources.SOURCES[name], files=remote))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    data = fx.isolate(monkeypatch, tmp_path)
    monkeypatch.setenv("BNLAB_DOWNLOAD_TIMEOUT", "0.5")
    return data


@pytest.fixture
def server(monkeypatch):
    with fx.LoopbackServer() as srv:
        for src in _sources.SOURCES.values():
            monkeypatch.setenv(src.url_env, srv.url)
        yield srv


# ------------------------------------------------------------------------------------------ success
def test_good_download_only_fetches_missing_files(cache, server, monkeypatch):
    files = {r.name: PAYLOAD[: 1000 + i] for i, r in enumerate(_sources.SOURCES["fashion_mnist"].files)}
    expect(monkeypatch, "fashion_mnist", files)
    server.routes.update({name: fx.Route(body) for name, body in files.items()})
    (cache / "fashion-mnist").mkdir(parents=True)
    (cache / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"kept as is")
    paths = download("fashion-mnist", cache, progress=False)
    assert [p.name for p in paths] == list(files)
    assert sorted(server.hits) == sorted(set(files) - {"t10k-labels-idx1-ubyte.gz"})
    for path in paths[:3]:
        assert path.read_bytes() == files[path.name]
        assert path.stat().st_mode & 0o777 == 0o644
    assert paths[3].read_bytes() == b"kept as is"
    assert fx.files_under(cache) == sorted(f"fashion-mnist/{name}" for name in files)


def test_load_data_downloads_verifies_and_caches(cache, server, monkeypatch, capsys):
    body = fx.npz_bytes(fx.full_mnist())
    expect(monkeypatch, "mnist", {"mnist.npz": body})
    server.routes["mnist.npz"] = fx.Route(body)
    (x_train, _), (_, y_test) = mnist.load_data()
    assert x_train.shape == (60000, 28, 28) and y_test.shape == (10000,)
    fx.assert_same(x_train, fx.full_mnist()[0][0])
    assert fx.files_under(cache) == ["mnist.npz"]
    assert (cache / "mnist.npz").read_bytes() == body
    assert f"Downloading {server.url}mnist.npz" in capsys.readouterr().err
    mnist.load_data()  # second call: from the cache
    assert server.hits == ["mnist.npz"]


def test_real_upstream_table_is_used_by_default(cache, server):
    body = b"not the real mnist.npz"
    server.routes["mnist.npz"] = fx.Route(body, length=11490434)
    with pytest.raises(DownloadError, match=r"transfer truncated: got 22 of 11490434 bytes \(after 2 attempts\)"):
        download("mnist", cache, progress=False)
    server.routes["mnist.npz"] = fx.Route(body)
    with pytest.raises(DownloadError, match="server announced 22 bytes, expected 11490434 bytes"):
        download("mnist", cache, progress=False)
    assert fx.files_under(cache) == []


# ------------------------------------------------------------------------------------------ failures
def test_checksum_mismatch_leaves_nothing(cache, server, monkeypatch):
    expect(monkeypatch, "mnist", {"mnist.npz": PAYLOAD})
    tampered = PAYLOAD[:-1] + b"\x00"
    server.routes["mnist.npz"] = fx.Route(tampered)
    with pytest.raises(DownloadError, match=r"checksum mismatch: expected sha256 [0-9a-f]{64}, got") as info:
        download("mnist", cache, progress=False)
    assert hashlib.sha256(tampered).hexdigest() in str(info.value)
    assert server.hits == ["mnist.npz"]  # a wrong file is not fetched twice
    assert fx.files_under(cache) == []


def test_truncated_transfer_is_retried_once_then_cleaned(cache, server, monkeypatch):
    expect(monkeypatch, "mnist", {"mnist.npz": PAYLOAD})
    server.routes["mnist.npz"] = fx.Route(PAYLOAD[:100_000], length=len(PAYLOAD))
    with pytest.raises(DownloadError, match=r"transfer truncated: got 100000 of 256000 bytes \(after 2 attempts\)"):
        download("mnist", cache, progress=False)
    assert server.hits == ["mnist.npz", "mnist.npz"]
    assert fx.files_under(cache) == []


def test_retry_recovers_from_one_truncated_transfer(cache, server, monkeypatch):
    expect(monkeypatch, "mnist", {"mnist.npz": PAYLOAD})

    class Flaky(dict):
        def get(self, name, default=None):
            good = len(server.hits) > 1
            return fx.Route(PAYLOAD) if good else fx.Route(PAYLOAD[:5000], length=len(PAYLOAD))

    server.routes = Flaky()
    (path,) = download("mnist", cache, progress=False)
    assert path.read_bytes() == PAYLOAD and len(server.hits) == 2
    assert fx.files_under(cache) == ["mnist.npz"]


def test_http_404_is_not_retried(cache, server, monkeypatch):
    expect(monkeypatch, "mnist", {"mnist.npz": PAYLOAD})
    with pytest.raises(DownloadError, match="HTTP 404"):
        download("mnist", cache, progress=False)
    assert server.hits == ["mnist.npz"]
    assert fx.files_under(cache) == []


def test_no_server_at_all(cache, monkeypatch):
    monkeypatch.setenv("BNLAB_MNIST_URL", f"http://127.0.0.1:{fx.closed_port()}/")
    with pytest.raises(DownloadError, match=r"cannot connect.*after 2 attempts"):
        download("mnist", cache, progress=False)
    assert fx.files_under(cache) == []


def test_stalled_transfer_times_out(cache, server, monkeypatch):
    expect(monkeypatch, "mnist", {"mnist.npz": PAYLOAD})
    server.routes["mnist.npz"] = fx.Route(PAYLOAD, stall=0.8)
    start = time.monotonic()
    with pytest.raises(DownloadError, match=r"(?i)timed out.*after 2 attempts"):
        fetch_file(server.url + "mnist.npz", cache / "mnist.npz", sha256=None, timeout=0.2, progress=False)
    assert time.monotonic() - start < 3
    assert len(server.hits) == 2
    assert fx.files_under(cache) == []


def test_keyboard_interrupt_mid_transfer_removes_the_temporary_file(cache, server, monkeypatch):
    expect(monkeypatch, "mnist", {"mnist.npz": PAYLOAD})
    server.routes["mnist.npz"] = fx.Route(PAYLOAD)
    seen = []

    def interrupt(self, n):
        seen.append(fx.files_under(cache))  # the partial file exists at this point...
        raise KeyboardInterrupt

    monkeypatch.setattr(_download._Progress, "update", interrupt)
    with pytest.raises(KeyboardInterrupt):
        download("mnist", cache, progress=False)
    assert seen and seen[0][0].startswith(".mnist.npz.") and seen[0][0].endswith(".part")
    assert fx.files_under(cache) == []  # ...and is gone afterwards


def test_failed_download_in_load_data_reports_everything(cache, server, monkeypatch):
    expect(monkeypatch, "fashion_mnist", {r.name: PAYLOAD for r in _sources.SOURCES["fashion_mnist"].files})
    with pytest.raises(DatasetNotFoundError) as info:
        fashion_mnist.load_data()
    message = str(info.value)
    assert "Fashion-MNIST was not found locally and the download failed" in message
    assert f"{server.url}train-images-idx3-ubyte.gz failed: HTTP 404" in message
    assert f"{cache / 'fashion-mnist'}/ (IDX files): missing train-images-idx3-ubyte.gz" in message
    assert isinstance(info.value.download_error, DownloadError)
    assert fx.files_under(cache) == []


# ------------------------------------------------------------------------------------------ details
class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_and_in_a_log(cache, server):
    server.routes["f.bin"] = fx.Route(PAYLOAD)
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    tty = _Terminal()
    fetch_file(server.url + "f.bin", cache / "a.bin", sha256=digest, size=len(PAYLOAD), stream=tty)
    assert "\ra.bin 100%|#########################| 0.3/0.3 MB" in tty.getvalue()
    log = io.StringIO()
    fetch_file(server.url + "f.bin", cache / "b.bin", sha256=digest, stream=log)
    lines = log.getvalue().splitlines()
    assert len(lines) == 2 and lines[0] == f"Downloading {server.url}f.bin" and lines[1].startswith("b.bin: 0.3 MB")
    quiet = io.StringIO()
    fetch_file(server.url + "f.bin", cache / "c.bin", sha256=digest, stream=quiet, progress=False)
    assert quiet.getvalue() == ""


def test_timeout_and_retries_are_checked(cache, monkeypatch):
    monkeypatch.setenv("BNLAB_DOWNLOAD_TIMEOUT", "soon")
    with pytest.raises(ValueError, match=r"\$BNLAB_DOWNLOAD_TIMEOUT must be a number of seconds, got 'soon'"):
        download("mnist", cache)
    with pytest.raises(ValueError, match="timeout must be a positive number of seconds, got -1"):
        fetch_file("http://127.0.0.1:1/x", cache / "x", sha256=None, timeout=-1)
    with pytest.raises(ValueError, match="retries must be an int >= 0, got -1"):
        fetch_file("http://127.0.0.1:1/x", cache / "x", sha256=None, timeout=1, retries=-1)
    assert fx.files_under(cache) == []
