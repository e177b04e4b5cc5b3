"""bnlab.torch.save / load in PyTorch's checkpoint format: files both ways against real PyTorch (skipped without
it), the weights-only unpickler refusing code (a malicious file never runs), bad input, map_location, atomic
writes and the plain-pickle files of earlier bnlab versions."""

import builtins
import io
import os
import pickle
import re
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import bnlab.torch as bt
from bnlab.torch import _checkpoint_zip
from bnlab.torch.tensor import host

nn = bt.nn


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _bits(a) -> bytes:
    a = np.ascontiguousarray(a)
    return a.dtype.str.encode() + repr(a.shape).encode() + a.tobytes()


def _tensor_bits(t) -> bytes:
    """dtype, shape and every byte of a bnlab or PyTorch tensor's values."""
    return _bits(t.detach().numpy())


def _net(lib):
    return lib.nn.Sequential(lib.nn.Linear(4, 3), lib.nn.BatchNorm1d(3), lib.nn.ReLU(), lib.nn.Linear(3, 2))


def _trained_checkpoint():
    """A bnlab checkpoint as a training script writes one: epoch, model and Adam state after two steps."""
    bt.manual_seed(0)
    model = _net(bt)
    opt = bt.optim.Adam(model.parameters(), lr=1e-2)
    x = bt.randn(8, 4)
    for _ in range(2):
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        opt.step()
    return model, opt, {"epoch": 3, "model": model.state_dict(), "optimizer": opt.state_dict()}


_VALUES = {
    "float32": np.array([[0.0, -0.0, 1.5, np.nan], [np.inf, -np.inf, 3.4e38, -1e-30]], dtype=np.float32),
    "int64": np.array([-(2**63), 2**63 - 1, 0, 7], dtype=np.int64),
    "int32": np.array([[-(2**31)], [2**31 - 1]], dtype=np.int32),
    "uint8": np.array([0, 1, 254, 255], dtype=np.uint8),
    "bool": np.array([[True, False, True]]),
}


# ---------------------------------------------------------------- bnlab -> PyTorch
def test_a_bnlab_file_is_what_torch_save_writes_byte_for_byte(torch, tmp_path):
    """Same content, same name: the files differ only in the random .data/serialization_id (and its CRC)."""

    def content(lib):
        w = lib.tensor(np.arange(12, dtype=np.float32).reshape(3, 4))
        sd = OrderedDict([("w", w), ("n", lib.tensor(5)), ("m", lib.tensor([True, False]))])
        return {"sd": sd, "epoch": 3, "z": lib.tensor(2.5), "e": lib.zeros(0, 3), "l": [1, 2.5, "x", None, (1, 2)]}

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    torch.save(content(torch), tmp_path / "a" / "ck.pt")
    bt.save(content(bt), tmp_path / "b" / "ck.pt")
    ours, theirs = (tmp_path / "b" / "ck.pt").read_bytes(), (tmp_path / "a" / "ck.pt").read_bytes()
    assert len(ours) == len(theirs)
    ours_zip, theirs_zip = zipfile.ZipFile(io.BytesIO(ours)), zipfile.ZipFile(io.BytesIO(theirs))
    for zb, zt in zip(ours_zip.infolist(), theirs_zip.infolist(), strict=True):
        assert (zb.filename, zb.header_offset, zb.file_size) == (zt.filename, zt.header_offset, zt.file_size)
    sid = ours_zip.getinfo("ck/.data/serialization_id")
    differ = [i for i in range(len(ours)) if ours[i] != theirs[i]]
    assert differ and all(i >= sid.header_offset for i in differ)  # nothing before the id's record differs
    buf_ours, buf_theirs = io.BytesIO(), io.BytesIO()  # a file object: PyTorch's folder name "archive"
    bt.save(content(bt), buf_ours)
    torch.save(content(torch), buf_theirs)
    assert zipfile.ZipFile(buf_ours).namelist() == zipfile.ZipFile(buf_theirs).namelist()


def test_real_torch_loads_a_bnlab_training_checkpoint_weights_only(torch, tmp_path, monkeypatch):
    model, _, ckpt = _trained_checkpoint()
    bt.save(ckpt, tmp_path / "ckpt.pt")
    monkeypatch.setenv("TORCH_SERIALIZATION_DEBUG", "1")  # PyTorch checks the storage offsets it computes
    for loaded in (torch.load(tmp_path / "ckpt.pt"), torch.load(tmp_path / "ckpt.pt", mmap=True)):
        assert loaded["epoch"] == 3 and type(loaded["model"]) is OrderedDict
        assert list(loaded["model"]) == list(ckpt["model"])
        for key, value in ckpt["model"].items():
            assert _tensor_bits(loaded["model"][key]) == _tensor_bits(value), key
        assert loaded["optimizer"]["param_groups"] == ckpt["optimizer"]["param_groups"]
        for idx, slots in ckpt["optimizer"]["state"].items():
            for name, value in slots.items():
                assert _tensor_bits(loaded["optimizer"]["state"][idx][name]) == _tensor_bits(value), (idx, name)
    theirs = _net(torch)
    assert not theirs.load_state_dict(loaded["model"]).missing_keys  # strict: every key, no _metadata needed
    theirs_opt = torch.optim.Adam(theirs.parameters(), lr=1e-2)
    theirs_opt.load_state_dict(loaded["optimizer"])
    assert theirs_opt.state[theirs[0].weight]["step"].item() == 2
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    model.eval()
    theirs.eval()
    with bt.no_grad(), torch.no_grad():
        np.testing.assert_allclose(theirs(torch.from_numpy(x)).numpy(), model(bt.from_numpy(x)).numpy(), atol=1e-6)


@pytest.mark.parametrize("name", sorted(_VALUES))
@pytest.mark.parametrize("shape", [None, (), (0,), (0, 3), (2, 0, 3)])
def test_each_dtype_and_shape_both_ways_bit_for_bit(torch, name, shape):
    values = _VALUES[name] if shape is None else np.zeros(shape, _VALUES[name].dtype)
    if shape == ():
        values = _VALUES[name].reshape(-1)[-1:].reshape(())
    ours = bt.tensor(values, dtype=getattr(bt, name))
    buf = io.BytesIO()
    bt.save({"t": ours, "again": ours}, buf)
    buf.seek(0)
    theirs = torch.load(buf)
    assert theirs["t"].dtype == getattr(torch, name) and tuple(theirs["t"].shape) == values.shape
    assert _tensor_bits(theirs["t"]) == _bits(values) and theirs["again"] is theirs["t"]
    assert theirs["t"].is_contiguous()
    back = io.BytesIO()
    torch.save(theirs, back)
    back.seek(0)
    mine = bt.load(back)
    assert mine["t"].dtype is getattr(bt, name) and _tensor_bits(mine["t"]) == _bits(values)


def test_parameters_sizes_devices_and_dtypes_as_values(torch):
    p = nn.Parameter(bt.tensor([1.0, 2.0]))
    frozen = nn.Parameter(bt.tensor([3.0]), requires_grad=False)
    buf = io.BytesIO()
    bt.save({"p": p, "frozen": frozen, "size": bt.Size([2, 3]), "dev": bt.device("cuda", 0), "dt": bt.int64}, buf)
    buf.seek(0)
    theirs = torch.load(buf)
    assert type(theirs["p"]) is torch.nn.Parameter and theirs["p"].requires_grad
    assert type(theirs["frozen"]) is torch.nn.Parameter and not theirs["frozen"].requires_grad
    assert theirs["size"] == torch.Size([2, 3]) and theirs["dev"] == torch.device("cuda", 0)
    assert theirs["dt"] is torch.int64
    buf.seek(0)
    mine = bt.load(buf)
    assert type(mine["p"]) is nn.Parameter and mine["p"].requires_grad and not mine["frozen"].requires_grad
    assert mine["size"] == (2, 3) and isinstance(mine["size"], bt.Size) and mine["dt"] is bt.int64
    assert mine["dev"] == bt.device("cuda", 0)


def test_tensors_sharing_memory_share_one_storage():
    w = bt.tensor(np.arange(6, dtype=np.float32))
    buf = io.BytesIO()
    bt.save({"w": w, "view": w.view(2, 3), "copy": w.clone()}, buf)
    names = zipfile.ZipFile(buf).namelist()
    assert sorted(n for n in names if "/data/" in n) == ["archive/data/0", "archive/data/1"]
    buf.seek(0)
    back = bt.load(buf)
    assert back["view"].shape == (2, 3) and _tensor_bits(back["view"].reshape(6)) == _tensor_bits(w)


# ---------------------------------------------------------------- PyTorch -> bnlab
def test_views_with_offsets_and_strides_from_torch_load_by_value(torch, tmp_path):
    t = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    views = {"t": t, "v": t[1:, ::2], "T": t.T, "row": t[2], "tail": t.view(-1)[5:9], "one": t[1, 1]}
    views["x"] = torch.arange(10, dtype=torch.int64)[3:].view(7, 1).expand(7, 3)  # stride 0
    torch.save(views, tmp_path / "views.pt")
    records = [n for n in zipfile.ZipFile(tmp_path / "views.pt").namelist() if "/data/" in n]
    assert len(records) == 2  # all the float views share one storage
    mine = bt.load(tmp_path / "views.pt")
    for key, value in views.items():
        assert _tensor_bits(mine[key]) == _tensor_bits(value.contiguous()), key
        assert mine[key].dtype is (bt.int64 if key == "x" else bt.float32)
    mine["v"][0, 0] = -1.0  # bnlab tensors own their memory: views load as copies
    assert mine["t"][1, 0].item() == 6.0


def test_torch_dtypes_bnlab_lacks_are_converted(torch):
    src = {
        "f64": torch.tensor([1 / 3, 1e300, -0.0], dtype=torch.float64),
        "f16": torch.tensor([1.5, -65504.0, 6e-8], dtype=torch.float16),
        "bf16": torch.tensor([3.140625, -1e38], dtype=torch.bfloat16),
        "i8": torch.tensor([-128, 127], dtype=torch.int8),
        "i16": torch.tensor([-32768], dtype=torch.int16),
        "u16": torch.tensor([65535], dtype=torch.uint16),
        "u32": torch.tensor([2**32 - 1], dtype=torch.uint32),
    }
    buf = io.BytesIO()
    torch.save(src, buf)
    buf.seek(0)
    mine = bt.load(buf)
    for key in ("f64", "f16", "bf16"):
        assert mine[key].dtype is bt.float32
        assert _tensor_bits(mine[key]) == _bits(src[key].float().numpy()), key
    for key in ("i8", "i16", "u16", "u32"):
        assert mine[key].dtype is bt.int64 and mine[key].tolist() == src[key].long().tolist(), key
    buf = io.BytesIO()
    torch.save({"c": torch.zeros(2, dtype=torch.complex64)}, buf)
    buf.seek(0)
    with pytest.raises(pickle.UnpicklingError, match=r"has no tensors of PyTorch's torch\.ComplexFloatStorage"):
        bt.load(buf)


def test_a_torch_state_dict_and_optimizer_load_into_bnlab(torch, tmp_path):
    torch.manual_seed(0)
    theirs = _net(torch)
    theirs_opt = torch.optim.Adam(theirs.parameters(), lr=1e-2)
    x = torch.randn(8, 4)
    theirs_opt.zero_grad()
    theirs(x).pow(2).mean().backward()
    theirs_opt.step()
    torch.save(
        {"model": theirs.state_dict(), "optimizer": theirs_opt.state_dict(), "p": theirs[0].weight}, tmp_path / "t.pt"
    )
    ckpt = bt.load(tmp_path / "t.pt")
    assert type(ckpt["model"]) is OrderedDict and ckpt["model"]._metadata[""] == {"version": 1}
    assert type(ckpt["p"]) is nn.Parameter and ckpt["p"].requires_grad
    again = io.BytesIO()  # bnlab saves the attribute back as PyTorch does
    bt.save(ckpt["model"], again)
    again.seek(0)
    assert torch.load(again)._metadata == theirs.state_dict()._metadata
    ours = _net(bt)
    ours.load_state_dict(ckpt["model"])
    for key, value in theirs.state_dict().items():
        assert _tensor_bits(ours.state_dict()[key]) == _tensor_bits(value), key
    opt = bt.optim.Adam(ours.parameters(), lr=1e-2)
    opt.load_state_dict(ckpt["optimizer"])
    assert opt.state[ours[0].weight]["step"].item() == 1
    assert _tensor_bits(opt.state[ours[0].weight]["exp_avg"]) == _tensor_bits(
        theirs_opt.state[theirs[0].weight]["exp_avg"]
    )


def test_a_stream_that_cannot_seek_is_read(torch):
    buf = io.BytesIO()
    torch.save({"a": torch.ones(3)}, buf)

    class Stream:
        def __init__(self, data):
            self._data = io.BytesIO(data)

        def read(self, n=-1):
            return self._data.read(n)

    assert bt.load(Stream(buf.getvalue()))["a"].tolist() == [1.0, 1.0, 1.0]


# ---------------------------------------------------------------- safety
class _Payload:
    """Pickles as a call of ``func(*args)``: what a malicious checkpoint carries."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _payloads(marker):
    code = f"open({str(marker)!r}, 'w').close()"
    return {
        "exec": (_Payload(builtins.exec, code), r"Unsupported global: GLOBAL exec was not an allowed global"),
        "eval": (_Payload(builtins.eval, f"exec({code!r})"), r"Unsupported global: GLOBAL eval was not an allowed"),
        "system": (_Payload(os.system, f"touch {marker}"), rf"GLOBAL {os.system.__module__}.system whose module"),
    }


@pytest.mark.parametrize("kind", ["exec", "eval", "system"])
def test_a_malicious_checkpoint_never_runs(tmp_path, kind):
    marker = tmp_path / "pwned"
    payload, message = _payloads(marker)[kind]
    bt.save({"model": OrderedDict(w=bt.ones(2)), "x": payload}, tmp_path / "evil.pt")  # saving pickles anything
    plain = tmp_path / "evil.pkl"  # and as a plain pickle (the old bnlab format goes through the same unpickler)
    plain.write_bytes(pickle.dumps({"x": payload}, protocol=pickle.HIGHEST_PROTOCOL))
    for path in (tmp_path / "evil.pt", plain):
        with pytest.raises(pickle.UnpicklingError, match=r"^Weights only load failed\.") as info:
            bt.load(path)
        assert re.search(message, str(info.value)), str(info.value)
        assert not marker.exists()
    bt.load(tmp_path / "evil.pt", weights_only=False)  # the payload is live: only the allowlist kept it inert
    assert marker.exists()


def _zip_with(data_pkl: bytes, storages=()) -> io.BytesIO:
    buf = io.BytesIO()
    _checkpoint_zip.write_checkpoint(buf, "archive", data_pkl, list(storages))
    buf.seek(0)
    return buf


def test_hand_written_pickles_are_refused_without_side_effects(tmp_path):
    marker = tmp_path / "pwned"
    os_system = b"\x80\x02cos\nsystem\nX" + len(f"touch {marker}").to_bytes(4, "little") + f"touch {marker}".encode()
    cases = {
        "os.system": (
            os_system + b"\x85R.",
            r"Trying to load unsupported GLOBAL os\.system whose module os is blocked",
        ),
        "getattr": (b"\x80\x02cbuiltins\ngetattr\n.", r"GLOBAL getattr was not an allowed global"),
        "subprocess": (b"\x80\x02csubprocess\nPopen\n.", r"GLOBAL subprocess\.Popen was not"),
        "persid": (b"\x80\x02X\x03\x00\x00\x00abcQ.", r"Only persistent_load of storage is allowed"),
        "zlib": (b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x04\x00\x00\x00zlib\x86R.", r"latin1"),
        "bytearray": (b"\x80\x02c__builtin__\nbytearray\nJ\x00\x00\x00\x7f\x85R.", r"bytearray\(int\)"),
    }
    for name, (data, message) in cases.items():
        with pytest.raises(pickle.UnpicklingError, match=message):
            bt.load(_zip_with(data))
        with pytest.raises(pickle.UnpicklingError, match=message):  # a plain pickle: the same refusals
            bt.load(io.BytesIO(data))
        assert not marker.exists(), name


def test_build_cannot_alter_bnlab_objects():
    """BUILD sets attributes on the object below it; nothing that outlives the load can be its target."""
    state = b"N}X\x04\x00\x00\x00nameX\x04\x00\x00\x00evils\x86b"
    dtype_value = bt.load(_zip_with(b"\x80\x02ctorch\nfloat32\n" + state + b"."))
    assert bt.float32.name == "float32" and dtype_value is not bt.float32
    size = b"\x80\x02ctorch\nSize\nN}X\x05\x00\x00\x00numelX\x01\x00\x00\x00xs\x86b."
    bt.load(_zip_with(size))
    assert bt.Size([2, 3]).numel() == 6
    counter = b"\x80\x02ccollections\nCounter\nN}X\x0b\x00\x00\x00most_commonX\x01\x00\x00\x00xs\x86b."
    bt.load(_zip_with(counter))
    from collections import Counter

    assert callable(Counter.most_common)


def test_malformed_tensors_are_errors_not_crashes():
    storage = np.arange(4, dtype=np.float32).view(np.uint8)

    def tensor_pickle(size, stride, offset=0, numel=4):
        head = b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\n"
        pid = head + b"X\x01\x00\x00\x000X\x03\x00\x00\x00cpuJ" + numel.to_bytes(4, "little") + b"tQ"
        ints = b"".join(b"J" + v.to_bytes(4, "little") for v in [offset])
        dims = b"(" + b"".join(b"J" + v.to_bytes(4, "little") for v in size) + b"t"
        strides = b"(" + b"".join(b"J" + v.to_bytes(4, "little") for v in stride) + b"t"
        return pid + ints + dims + strides + b"\x89ccollections\nOrderedDict\n)RtR."

    assert bt.load(_zip_with(tensor_pickle([2, 2], [1, 2]), [storage])).tolist() == [[0.0, 2.0], [1.0, 3.0]]
    for size, stride, offset, numel, message in [
        ([3, 2], [2, 1], 0, 4, r"reaches element 5 of a storage of 4"),
        ([2], [1], 3, 4, r"reaches element 4"),
        ([2, 2], [1], 0, 4, r"malformed tensor view"),
        ([2], [1], 0, 5, r"holds 16 bytes, its storage id says 5 elements"),
        ([10**6, 10**6], [1, 1], 0, 4, r"reaches element"),
    ]:
        with pytest.raises(pickle.UnpicklingError, match=message):
            bt.load(_zip_with(tensor_pickle(size, stride, offset, numel), [storage]))
    with pytest.raises(pickle.UnpicklingError, match=r"has no record archive/data/0"):
        bt.load(_zip_with(tensor_pickle([2], [1])))


# ---------------------------------------------------------------- bad input
def test_bad_files_are_named_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        bt.load(tmp_path / "missing.pt")
    cases = {
        "empty.pt": (b"", r"the file is empty"),
        "random.pt": (np.random.default_rng(0).bytes(300), r"not a checkpoint of torch\.save"),
        "text.pt": (b"hello", r"neither a zip archive nor a pickle"),
        "legacy.pt": (b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.\x80\x02M\xe9\x03.", r"PyTorch's legacy format"),
    }
    flat = io.BytesIO()
    with zipfile.ZipFile(flat, "w") as z:
        z.writestr("config.json", "{}")
    cases["flat.zip"] = (flat.getvalue(), r"is in no folder")
    foreign = io.BytesIO()
    with zipfile.ZipFile(foreign, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("x/readme.txt", "hi")
    cases["foreign.zip"] = (foreign.getvalue(), r"it has no x/data\.pkl")
    for name, (data, message) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(pickle.UnpicklingError, match=message):
            bt.load(tmp_path / name)
    with pytest.raises(TypeError, match="binary file object"), open(tmp_path / "text.pt") as text:
        bt.load(text)


def test_truncated_and_corrupted_checkpoints_raise_unpickling_errors():
    buf = io.BytesIO()
    bt.save({"w": bt.ones(40), "n": bt.tensor([1, 2])}, buf)
    data = buf.getvalue()
    for cut in [5, 31, 100, 200, len(data) // 2, len(data) - 100, len(data) - 22, len(data) - 1]:
        with pytest.raises(pickle.UnpicklingError):
            bt.load(io.BytesIO(data[:cut]))
    data_at = data.index(b"\x00\x00\x80\x3f")  # the first 1.0 of w: a flipped bit fails the CRC
    flipped = data[:data_at] + b"\x01" + data[data_at + 1 :]
    with pytest.raises(pickle.UnpicklingError, match=r"record archive/data/0 cannot be read.*CRC"):
        bt.load(io.BytesIO(flipped))


def test_save_names_what_it_cannot_save(tmp_path):
    with pytest.raises(pickle.PicklingError, match=r"cannot pickle this object: .*lambda"):
        bt.save({"f": lambda x: x}, tmp_path / "a.pt")
    with open(tmp_path / "open.txt", "w") as handle, pytest.raises(pickle.PicklingError, match="TextIOWrapper"):
        bt.save({"f": handle}, tmp_path / "a.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["open.txt"]  # nothing written, no temporary left
    with pytest.raises(FileNotFoundError, match="Parent directory does not exist"):
        bt.save({}, tmp_path / "no" / "a.pt")
    with pytest.raises(IsADirectoryError):
        bt.save({}, tmp_path)
    with pytest.raises(AttributeError, match="has no callable attribute 'write'"):
        bt.save({}, 42)
    with open(tmp_path / "t.txt", "w") as text, pytest.raises(TypeError, match="binary file object"):
        bt.save({}, text)


def test_save_refuses_pytorch_tensors_by_name(torch, tmp_path):
    with pytest.raises(pickle.PicklingError, match=r"got a PyTorch torch\.Tensor.*from_numpy"):
        bt.save({"t": torch.ones(2)}, tmp_path / "a.pt")
    assert list(tmp_path.iterdir()) == []


_NO_TORCH = """
import io, pickle, sys
sys.modules["torch"] = None  # any import of PyTorch fails loudly
import bnlab.torch as bt
ckpt = bt.load(sys.argv[1])
assert ckpt["w"].tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
assert ckpt["T"].tolist() == [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]
buf = io.BytesIO()
bt.save({"model": ckpt, "epoch": 1}, buf)
buf.seek(0)
assert bt.load(buf)["epoch"] == 1
try:
    bt.load(sys.argv[2], weights_only=False)
except pickle.UnpicklingError as exc:
    assert "a PyTorch object that bnlab.torch cannot rebuild" in str(exc), exc
else:
    raise AssertionError("a pickled PyTorch module loaded")
print("ok")
"""


def test_bnlab_reads_torch_files_without_importing_torch(torch, tmp_path):
    import subprocess
    import sys

    w = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    torch.save({"w": w, "T": w.T}, tmp_path / "w.pt")
    torch.save(torch.nn.Linear(2, 2), tmp_path / "module.pt")  # a whole PyTorch module
    run = subprocess.run(
        [sys.executable, "-c", _NO_TORCH, str(tmp_path / "w.pt"), str(tmp_path / "module.pt")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]


# ---------------------------------------------------------------- map_location
def test_map_location_places_tensors(tmp_path):
    gpu_labelled = host(np.array([1, 2]), device=bt.device("cuda", 0))  # a host tensor labelled cuda:0
    bt.save({"t": gpu_labelled, "c": bt.tensor([1.0])}, tmp_path / "g.pt")
    with zipfile.ZipFile(tmp_path / "g.pt") as z:
        assert b"cuda:0" in z.read("g/data.pkl")
    for where in ("cpu", bt.device("cpu"), {"cuda:0": "cpu"}, {"cuda": "cpu"}):
        loaded = bt.load(tmp_path / "g.pt", map_location=where)
        assert loaded["t"].device == bt.device("cpu") and loaded["t"].tolist() == [1, 2]
        assert loaded["c"].device == bt.device("cpu")
    if not bt.cuda.is_available():
        with pytest.raises(RuntimeError, match=r"torch\.cuda\.is_available\(\) is False.*map_location"):
            bt.load(tmp_path / "g.pt")
    else:  # pragma: no cover - a GPU machine
        assert bt.load(tmp_path / "g.pt")["t"].is_cuda
    assert bt.load(tmp_path / "g.pt", map_location={"cpu": "cpu", "cuda:0": "cpu"})["c"].device == bt.device("cpu")
    with pytest.raises(TypeError, match="map_location must be a device"):
        bt.load(tmp_path / "g.pt", map_location=lambda storage, loc: storage)


def test_torch_reads_a_gpu_labelled_tensor_with_map_location(torch, tmp_path):
    bt.save({"t": host(np.array([3, 4]), device=bt.device("cuda", 0))}, tmp_path / "g.pt")
    assert torch.load(tmp_path / "g.pt", map_location="cpu")["t"].tolist() == [3, 4]


# ---------------------------------------------------------------- atomic writes
def test_a_save_that_fails_midway_leaves_no_file_and_no_temporary(tmp_path, monkeypatch):
    original = _checkpoint_zip._ZipWriter.add

    def failing_add(self, name, data):
        if name == "data/1":
            raise OSError(28, "No space left on device")
        original(self, name, data)

    target = tmp_path / "ckpt.pt"
    monkeypatch.setattr(_checkpoint_zip._ZipWriter, "add", failing_add)
    for path in (target, str(target)):
        with pytest.raises(OSError, match="No space left"):
            bt.save({"a": bt.ones(3), "b": bt.zeros(2)}, path)
        assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    bt.save({"a": bt.ones(3)}, target)
    os.chmod(target, 0o640)
    monkeypatch.setattr(_checkpoint_zip._ZipWriter, "add", failing_add)
    with pytest.raises(OSError):
        bt.save({"a": bt.full((3,), 2.0), "b": bt.zeros(2)}, target)
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"] and bt.load(target)["a"].tolist() == [1.0] * 3
    monkeypatch.undo()
    bt.save({"a": bt.full((3,), 2.0)}, target)  # replacing keeps the file's permissions
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"] and bt.load(target)["a"].tolist() == [2.0] * 3
    assert os.stat(target).st_mode & 0o777 == 0o640


def test_save_through_a_symlink_writes_its_target(tmp_path):
    real = tmp_path / "real.pt"
    bt.save({"a": 1}, real)
    (tmp_path / "link.pt").symlink_to(real)
    bt.save({"a": 2}, tmp_path / "link.pt")
    assert (tmp_path / "link.pt").is_symlink() and bt.load(real) == {"a": 2}


def test_file_objects_are_written_directly():
    class Sink:
        def __init__(self):
            self.chunks = []

        def write(self, data):
            self.chunks.append(bytes(data))

    sink = Sink()
    bt.save({"a": bt.ones(2)}, sink)  # never seeked
    assert bt.load(io.BytesIO(b"".join(sink.chunks)))["a"].tolist() == [1.0, 1.0]
    bt.save({"a": bt.ones(2)}, os.devnull)  # a device is written into, not replaced
    assert os.path.exists(os.devnull) and not os.path.isfile(os.devnull)


def test_zip64_records_are_written_when_sizes_or_offsets_need_them(tmp_path, monkeypatch):
    monkeypatch.setattr(_checkpoint_zip, "_U32", 100)  # every record past byte 100 gets zip64 fields
    obj = {"a": bt.arange(50.0), "b": bt.tensor([1, 2, 3])}
    bt.save(obj, tmp_path / "z.pt")
    with zipfile.ZipFile(tmp_path / "z.pt") as z:
        assert z.testzip() is None
        assert all(i.extra[:2] == b"\x01\x00" for i in z.infolist()[1:])
    back = bt.load(tmp_path / "z.pt")
    assert back["a"].tolist() == obj["a"].tolist() and back["b"].tolist() == [1, 2, 3]


def test_real_torch_reads_zip64_records(torch, tmp_path, monkeypatch):
    monkeypatch.setattr(_checkpoint_zip, "_U32", 100)
    bt.save({"a": bt.arange(50.0)}, tmp_path / "z.pt")
    assert torch.load(tmp_path / "z.pt")["a"].tolist() == list(range(50))


# ---------------------------------------------------------------- old bnlab files, whole modules
def test_old_bnlab_plain_pickles_still_load(tmp_path):
    model = _net(bt)
    state = model.state_dict()
    old = {"model": state, "labels": bt.tensor([1, 2]), "mask": bt.tensor([True]), "p": model[0].weight}
    (tmp_path / "old.pt").write_bytes(pickle.dumps(old, protocol=pickle.HIGHEST_PROTOCOL))  # the old save
    back = bt.load(tmp_path / "old.pt", map_location="cpu")
    assert type(back["model"]) is OrderedDict and type(back["p"]) is nn.Parameter and back["p"].requires_grad
    for key, value in state.items():
        assert _tensor_bits(back["model"][key]) == _tensor_bits(value) and back["model"][key].dtype is value.dtype
    assert back["labels"].dtype is bt.int64 and back["mask"].tolist() == [True]
    objects = np.array([1, "x"], dtype=object)
    (tmp_path / "obj.pt").write_bytes(pickle.dumps({"a": objects}, protocol=pickle.HIGHEST_PROTOCOL))
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        bt.load(tmp_path / "obj.pt")
    assert bt.load(tmp_path / "obj.pt", weights_only=False)["a"].tolist() == [1, "x"]


def test_a_whole_module_needs_weights_only_false_as_in_pytorch(tmp_path):
    model = _net(bt)
    model.eval()
    bt.save(model, tmp_path / "model.pt")
    with pytest.raises(pickle.UnpicklingError, match=r"GLOBAL bnlab\.torch\.nn\.modules\.container\.Sequential"):
        bt.load(tmp_path / "model.pt")
    again = bt.load(tmp_path / "model.pt", weights_only=False)
    x = bt.randn(3, 4)
    with bt.no_grad():
        assert _tensor_bits(again(x)) == _tensor_bits(model(x))
    assert type(again[0].weight) is nn.Parameter
