"""autogradx.save / autogradx.load: round trips of tensors, Parameters and nested
containers; the refusal of anything that would need unpickling, and of hostile
archives (bombs, lying zip directories, foreign dtypes, damage); saving that never
destroys the old file."""

import bz2
import errno
import io
import json
import math
import os
import pickle
import re
import struct
import tracemalloc
import zipfile
import zlib
from collections import OrderedDict

import numpy as np
import pytest

import autogradx as agx
from autogradx import nn


def round_trip(obj):
    buffer = io.BytesIO()
    agx.save(obj, buffer)
    buffer.seek(0)
    return agx.load(buffer)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "uint8", "int8", "int16",
                                   "int32", "int64", "bool", "complex64", "complex128"])
def test_tensor_dtypes(dtype):
    values = np.arange(-3, 3).reshape(2, 3).astype(dtype)
    back = round_trip(agx.from_numpy(values))
    assert type(back) is agx.Tensor and str(back.dtype) == f"torch.{dtype}"
    np.testing.assert_array_equal(back.numpy(), values)


@pytest.mark.parametrize("shape", [(), (0,), (0, 3), (1,), (2, 1, 3)], ids=str)
def test_tensor_shapes(shape):
    t = agx.ones(shape)
    assert round_trip(t).shape == t.shape


def test_non_contiguous_tensor():
    t = agx.arange(6.0).reshape(2, 3).t()
    assert round_trip(t).tolist() == t.tolist()


def test_requires_grad_and_parameters():
    p = nn.Parameter(agx.ones(2))
    frozen = nn.Parameter(agx.ones(2), requires_grad=False)
    leaf = agx.ones(2, requires_grad=True)
    back = round_trip([p, frozen, leaf, leaf * 2])
    assert type(back[0]) is nn.Parameter and back[0].requires_grad
    assert type(back[1]) is nn.Parameter and not back[1].requires_grad
    assert type(back[2]) is agx.Tensor and back[2].requires_grad and back[2].is_leaf
    # A non-leaf loads as a leaf that requires grad, as in PyTorch.
    assert back[3].is_leaf and back[3].requires_grad and back[3].tolist() == [2.0, 2.0]


def test_nested_containers_and_scalars():
    obj = {
        "ints": {0: 1, -5: 2 ** 70}, "tuple": (1, (2.5, "three")), "list": [None, True, False],
        "floats": [math.inf, -0.0, 1e-300], "complex": 1 + 2j, "text": "ünïcode ✓",
        "ordered": OrderedDict([("b", 1), ("a", 2)]), ("tuple", "key"): [], 3.5: {},
        "numpy": np.float32(0.5),
    }
    back = round_trip(obj)
    expected = dict(obj, numpy=0.5)
    assert back == expected
    assert isinstance(back["ordered"], OrderedDict) and list(back["ordered"]) == ["b", "a"]
    assert isinstance(back["tuple"], tuple) and isinstance(back["tuple"][1], tuple)
    assert math.isnan(round_trip(math.nan))


def test_a_shared_tensor_loads_as_one():
    t = agx.ones(3)
    back = round_trip({"a": t, "b": [t]})
    assert back["a"] is back["b"][0]


def test_paths_and_file_objects(tmp_path):
    path = tmp_path / "weights.agx"
    agx.save({"x": agx.ones(2)}, path)
    assert agx.load(path)["x"].tolist() == [1.0, 1.0]
    agx.save(agx.zeros(1), str(path))
    assert agx.load(str(path), map_location="cpu").tolist() == [0.0]
    with open(path, "rb") as fh:
        assert agx.load(fh).tolist() == [0.0]


def test_model_state_dict_round_trip(tmp_path):
    agx.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 2))
    agx.save(net.state_dict(), tmp_path / "net.agx")
    other = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 2))
    other.load_state_dict(agx.load(tmp_path / "net.agx"))
    x = agx.ones(1, 3)
    assert net(x).tolist() == other(x).tolist()


def test_unsupported_objects_are_named():
    with pytest.raises(TypeError, match=r"cannot store obj\['model'\]\[1\]: objects of type "
                                        r"builtins.object are not supported"):
        agx.save({"model": [1, object()]}, io.BytesIO())
    with pytest.raises(TypeError, match="type builtins.set"):
        agx.save({1, 2}, io.BytesIO())


def test_map_location_other_than_cpu():
    buffer = io.BytesIO()
    agx.save(1, buffer)
    with pytest.raises(RuntimeError, match="map_location='cuda' is not available"):
        agx.load(buffer, map_location="cuda")


# -- safety -----------------------------------------------------------------------------------

class Payload:
    """Unpickling this would create a file: the proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_pickle_file_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"w": Payload(marker)}))
    with pytest.raises(ValueError, match=r"evil.pt' is not an autogradx file: it is a pickle "
                                         r"file, which autogradx never loads"):
        agx.load(path)
    assert not marker.exists()


def test_a_protocol_0_pickle_is_refused(tmp_path):
    path = tmp_path / "old.pkl"
    path.write_bytes(pickle.dumps([1, 2], protocol=0))
    with pytest.raises(ValueError, match="it is a pickle file"):
        agx.load(path)


def test_a_pytorch_checkpoint_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    with zipfile.ZipFile(path, "w") as zf:          # the layout torch.save writes
        zf.writestr("model/data.pkl", pickle.dumps({"w": Payload(tmp_path / "pwned")}))
        zf.writestr("model/version", "3\n")
    with pytest.raises(ValueError, match="it is a PyTorch checkpoint"):
        agx.load(path)
    assert not (tmp_path / "pwned").exists()


def test_an_object_array_is_refused(tmp_path):
    path = tmp_path / "objects.agx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("autogradx.json", json.dumps({"format": "autogradx", "version": 1,
                                                  "root": {"tensor": 0}}))
        with zf.open("tensors/0.npy", "w") as fh:
            np.lib.format.write_array(fh, np.array([Payload(tmp_path / "pwned")], dtype=object),
                                      allow_pickle=True)
    with pytest.raises(ValueError, match="tensors/0.npy cannot be read without pickle"):
        agx.load(path)
    assert not (tmp_path / "pwned").exists()


def manifest_file(tmp_path, manifest, raw=False):
    path = tmp_path / "f.agx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("autogradx.json", manifest if raw else json.dumps(manifest))
    return path


@pytest.mark.parametrize("manifest, raw, message", [
    ("{not json", True, "the autogradx.json manifest is not valid JSON"),
    ({"format": "other", "version": 1, "root": 1}, False, "does not describe an autogradx file"),
    ({"format": "autogradx", "version": 99, "root": 1}, False, "format version 99 is not "
                                                               "supported"),
    ({"format": "autogradx", "version": 1, "root": {"tensor": 0}}, False,
     "tensors/0.npy is missing"),
    ({"format": "autogradx", "version": 1, "root": {"tensor": "0"}}, False,
     "tensor index '0' is not an integer"),
    ({"format": "autogradx", "version": 1, "root": {"pickle": "x"}}, False,
     "unknown node 'pickle'"),
    ({"format": "autogradx", "version": 1, "root": [1]}, False, "unexpected node"),
    ({"format": "autogradx", "version": 1, "root": {"dict": [[{"list": []}, 1]]}}, False,
     "unhashable dict key"),
    ({"format": "autogradx", "version": 1, "root": {"dict": [[{"tuple": [{"list": []}]}, 1]]}},
     False, "unhashable dict key"),
    ({"format": "autogradx", "version": 1, "root": {"complex": ["1", 2]}}, False,
     "unknown node 'complex'"),
    (b'{"format": "autogradx", "version": 1, "root": "\xff"}', True,
     "the autogradx.json manifest is not valid JSON: 'utf-8' codec"),
], ids=["bad-json", "other-format", "future-version", "missing-array", "bad-index",
        "unknown-tag", "bare-list", "unhashable-key", "unhashable-tuple-key", "bad-complex",
        "not-utf-8"])
def test_malformed_files(tmp_path, manifest, raw, message):
    with pytest.raises(ValueError, match=message):
        agx.load(manifest_file(tmp_path, manifest, raw))


@pytest.mark.parametrize("content, message", [
    (b"", "the file is empty"), (b"hello world", "it is not a zip archive"),
], ids=["empty", "text"])
def test_files_that_are_not_archives(tmp_path, content, message):
    path = tmp_path / "data.bin"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=f"data.bin' is not an autogradx file: {message}"):
        agx.load(path)


def test_a_zip_without_manifest(tmp_path):
    path = tmp_path / "plain.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hi")
    with pytest.raises(ValueError, match="the zip archive has no autogradx.json manifest"):
        agx.load(path)


# -- hostile archives -------------------------------------------------------------------------
# Made by hand with struct, so that every field of the zip directory can lie.

MANIFEST = json.dumps({"format": "autogradx", "version": 1, "root": {"tensor": 0}}).encode()


def raw_zip(*entries):
    """A zip archive of entries given as dicts: name, data (the bytes as stored) and,
    to make them lie or differ, plain (the data before compression), method, flags,
    crc, size (uncompressed) and csize (compressed) as the directory declares them."""
    out, directory = io.BytesIO(), []
    for e in entries:
        name, data = e["name"].encode(), e["data"]
        plain = e.get("plain", data)
        fields = struct.pack("<HHHHHIIIHH", 20, e.get("flags", 0), e.get("method", 0), 0, 0x21,
                             e.get("crc", zlib.crc32(plain)), e.get("csize", len(data)),
                             e.get("size", len(plain)), len(name), 0)
        directory.append(b"PK\x01\x02" + struct.pack("<H", 20) + fields +
                         struct.pack("<HHHII", 0, 0, 0, 0, out.tell()) + name)
        out.write(b"PK\x03\x04" + fields + name + data)
    start = out.tell()
    out.write(b"".join(directory))
    out.write(b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, len(directory), len(directory),
                                          out.tell() - start, start, 0))
    return out.getvalue()


def npy(array, allow_pickle=False):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def deflate(data):
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def tensor_file(tmp_path, tensor_entry, manifest=MANIFEST):
    """A file whose manifest holds one tensor, stored in the entry given."""
    path = tmp_path / "hostile.agx"
    path.write_bytes(raw_zip({"name": "autogradx.json", "data": manifest},
                             dict({"name": "tensors/0.npy"}, **tensor_entry)))
    return path


def test_raw_zip_writes_what_load_reads(tmp_path):
    values = np.arange(6.0).reshape(2, 3)
    assert agx.load(tensor_file(tmp_path, {"data": npy(values)})).tolist() == values.tolist()
    plain = npy(values)
    path = tensor_file(tmp_path, {"data": deflate(plain), "plain": plain, "method": 8})
    assert agx.load(path).tolist() == values.tolist()


@pytest.fixture(scope="module")
def bomb():
    """An .npy of 64 MiB that compresses to almost nothing, and its deflated bytes."""
    plain = npy(np.zeros(16 << 20, np.float32))
    return plain, deflate(plain)


def test_a_deflate_bomb_is_refused_and_loads_when_trusted(tmp_path, bomb):
    path = tensor_file(tmp_path, {"data": bomb[1], "plain": bomb[0], "method": 8})
    assert path.stat().st_size < 100_000
    with pytest.raises(agx.serialization.LoadLimitError,
                       match=r"hostile.agx': tensors/0.npy goes past load's limit max_ratio=100 "
                             r"\(it decompresses to more than 100 times its compressed size\)\. "
                             r"If you trust the file, pass a larger max_ratio to autogradx.load"):
        agx.load(path)
    assert agx.load(path, max_ratio=None).shape == (16 << 20,)


def test_a_bzip2_bomb_is_refused(tmp_path, bomb):
    path = tensor_file(tmp_path, {"data": bz2.compress(bomb[0]), "plain": bomb[0], "method": 12})
    assert path.stat().st_size < 1_000
    with pytest.raises(agx.serialization.LoadLimitError, match="limit max_ratio=100"):
        agx.load(path)
    # Without the limit, still not decompressed: zipfile would inflate a whole chunk at once.
    with pytest.raises(agx.serialization.LoadError,
                       match="tensors/0.npy uses zip compression method 12; autogradx reads "
                             "stored and deflated entries only"):
        agx.load(path, max_ratio=None)


@pytest.mark.parametrize("lie", ["compressed-size", "uncompressed-size"])
def test_a_lying_directory_gets_no_large_allocation(tmp_path, bomb, lie):
    # The directory says the entry came from 4 GiB (a ratio under 1), or that it holds
    # 200 bytes (under every size limit, with the CRC of those 200); the file and the
    # .npy header tell the truth.
    entry = {"data": bomb[1], "plain": bomb[0], "method": 8}
    if lie == "compressed-size":
        entry.update(csize=0xFFFFFFFE)
    else:
        entry.update(size=200, crc=zlib.crc32(bomb[0][:200]))
    path = tensor_file(tmp_path, entry)
    tracemalloc.start()
    try:
        with pytest.raises(agx.serialization.LoadLimitError, match="limit max_ratio=100"):
            agx.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20


def test_the_size_and_count_limits(tmp_path):
    path = tmp_path / "two.agx"
    agx.save([agx.zeros(1000, dtype=agx.float64), agx.ones(1000, dtype=agx.float64)], path)
    with pytest.raises(agx.serialization.LoadLimitError,
                       match=r"tensors/0.npy goes past load's limit max_entry_size=8000 \(it "
                             r"holds more than 8,000 bytes\)"):
        agx.load(path, max_entry_size=8000)
    with pytest.raises(agx.serialization.LoadLimitError,
                       match=r"tensors/1.npy goes past load's limit max_total_size=16000 \(the "
                             r"archive's entries hold more than 16,000 bytes in all\)"):
        agx.load(path, max_total_size=16000)
    with pytest.raises(agx.serialization.LoadLimitError,
                       match=r"the archive goes past load's limit max_entries=2 \(it has more "
                             r"than 2 entries\)"):
        agx.load(path, max_entries=2)
    sizes = [info.file_size for info in zipfile.ZipFile(path).infolist()]
    back = agx.load(path, max_entry_size=max(sizes), max_total_size=sum(sizes), max_entries=3)
    assert back[1].tolist() == [1.0] * 1000


def test_a_large_manifest_is_refused(tmp_path):
    path = tmp_path / "scalars.agx"
    agx.save(list(range(200_000)), path)
    with pytest.raises(agx.serialization.LoadLimitError,
                       match=r"autogradx.json goes past load's limit max_manifest_size=1000000 "
                             r"\(it holds more than 1,000,000 bytes\)"):
        agx.load(path, max_manifest_size=1_000_000)
    assert agx.load(path, max_manifest_size=None)[-1] == 199_999


@pytest.mark.parametrize("keyword, value", [("max_ratio", -1), ("max_total_size", "4G"),
                                            ("max_entries", True)])
def test_a_bad_limit_is_named(keyword, value):
    with pytest.raises(ValueError, match=f"load: {keyword} must be a number >= 0 or None"):
        agx.load(io.BytesIO(), **{keyword: value})


@pytest.mark.parametrize("dtype", [">f4", ">f2", ">i8", ">c16", ">i2"])
def test_a_big_endian_array_loads_in_native_order(tmp_path, dtype):
    values = np.arange(-3, 3).astype(dtype).reshape(2, 3)
    back = agx.load(tensor_file(tmp_path, {"data": npy(values)}))
    assert back.numpy().dtype == values.dtype.newbyteorder("=")
    np.testing.assert_array_equal(back.numpy(), values)


def test_a_fortran_order_array_loads(tmp_path):
    values = np.asfortranarray(np.arange(12.0).reshape(3, 4))
    back = agx.load(tensor_file(tmp_path, {"data": npy(values)}))
    np.testing.assert_array_equal(back.numpy(), values)


@pytest.mark.parametrize("dtype", ["<U3", ">U3", "S3", "V4", "<M8[s]", "<m8[s]", np.longdouble,
                                   "<u8", ">u4", "<u2", [("a", "<i4"), ("b", "<f4")],
                                   [("a", "<f4", (2,))]], ids=str)
def test_a_dtype_autogradx_has_no_type_for_is_refused(tmp_path, dtype):
    array = np.zeros(3, dtype)
    with pytest.raises(agx.serialization.LoadError,
                       match=re.escape(f"tensors/0.npy has dtype {array.dtype}, for which "
                                       f"autogradx has no type (it has float16, float32")):
        agx.load(tensor_file(tmp_path, {"data": npy(array)}))


def test_an_integer_tensor_that_requires_grad_is_refused(tmp_path):
    manifest = json.dumps({"format": "autogradx", "version": 1,
                           "root": {"tensor": 0, "requires_grad": True}}).encode()
    with pytest.raises(agx.serialization.LoadError,
                       match="malformed autogradx file: tensor 0: only Tensors of floating point"):
        agx.load(tensor_file(tmp_path, {"data": npy(np.arange(3))}, manifest))


def test_an_array_of_the_wrong_size_is_refused(tmp_path):
    header = npy(np.zeros(4, np.float32))[:-16]
    with pytest.raises(agx.serialization.LoadError,
                       match="tensors/0.npy is shorter than its array header says"):
        agx.load(tensor_file(tmp_path, {"data": header + b"\0" * 8}))
    with pytest.raises(agx.serialization.LoadError,
                       match="tensors/0.npy holds more bytes than its array header describes"):
        agx.load(tensor_file(tmp_path, {"data": header + b"\0" * 20}))


@pytest.mark.parametrize("name", ["tensors/0.npy", "autogradx.json"])
def test_a_name_listed_twice_is_refused(tmp_path, name):
    copies = [{"name": name, "data": MANIFEST if name == "autogradx.json" else npy(np.ones(2))}
              for _ in range(2)]
    path = tmp_path / "twice.agx"
    path.write_bytes(raw_zip({"name": "autogradx.json", "data": MANIFEST},
                             {"name": "tensors/0.npy", "data": npy(np.zeros(2))}, *copies[1:]))
    with pytest.raises(agx.serialization.LoadError,
                       match=f"twice.agx': the archive lists {name} twice"):
        agx.load(path)


def nested_manifest(levels):
    root = '{"list": [' * levels + "1" + "]}" * levels
    return f'{{"format": "autogradx", "version": 1, "root": {root}}}'


def test_deep_nesting_is_refused(tmp_path):
    # Each list is two levels of JSON, under the manifest's own object: 1 + 2 * 49 = 99.
    assert agx.load(manifest_file(tmp_path, nested_manifest(49), raw=True)) is not None
    for levels in (50, 100_000):
        with pytest.raises(agx.serialization.LoadError,
                           match=f"the autogradx.json manifest nests {1 + 2 * levels} levels "
                                 f"deep; autogradx reads at most 100"):
            agx.load(manifest_file(tmp_path, nested_manifest(levels), raw=True))


def test_brackets_in_strings_are_not_nesting(tmp_path):
    text = '[{"\\"' * 200
    assert round_trip({text: ["]" * 300]}) == {text: ["]" * 300]}


def test_save_refuses_what_load_would(tmp_path):
    deep = 1
    for _ in range(50):
        deep = [deep]
    with pytest.raises(ValueError, match="its containers nest deeper than autogradx.load reads "
                                         r"\(100 levels"):
        agx.save(deep, io.BytesIO())
    assert round_trip(deep[0]) == deep[0]
    for _ in range(10_000):
        deep = [deep]
    with pytest.raises(ValueError, match="nest deeper than autogradx.load reads"):
        agx.save(deep, io.BytesIO())


def damaged(tmp_path, how):
    plain = npy(np.ones(4, np.float32))
    entry = {"bad-crc": {"data": plain, "crc": zlib.crc32(plain) ^ 1},
             "bad-deflate": {"data": b"\xff" * 40, "plain": plain, "method": 8},
             "unknown-method": {"data": plain, "method": 99},
             "encrypted": {"data": plain, "flags": 1},
             "declared-too-long": {"data": plain, "csize": 5000, "size": 5000}}[how]
    return tensor_file(tmp_path, entry)


@pytest.mark.parametrize("how, message", [
    ("bad-crc", "the zip entry tensors/0.npy is damaged: Bad CRC-32"),
    ("bad-deflate", "the zip entry tensors/0.npy is damaged: Error -3 while decompressing"),
    ("unknown-method", "tensors/0.npy uses zip compression method 99"),
    ("encrypted", "tensors/0.npy is encrypted; autogradx files never are"),
    # zipfile reads on into the directory that follows the entry.
    ("declared-too-long", "tensors/0.npy holds more bytes than its array header describes"),
])
def test_a_damaged_entry_is_named(tmp_path, how, message):
    with pytest.raises(agx.serialization.LoadError, match=f"hostile.agx': {message}"):
        agx.load(damaged(tmp_path, how))


def test_a_truncated_archive_is_named(tmp_path):
    path = tmp_path / "cut.agx"
    agx.save({"w": agx.ones(100)}, path)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(agx.serialization.LoadError,
                       match="cut.agx' is not an autogradx file: it is a truncated or damaged "
                             "zip archive"):
        agx.load(path)


def test_any_one_damaged_byte_gives_a_load_error_or_the_data():
    buffer = io.BytesIO()
    agx.save({"w": nn.Parameter(agx.arange(3.0)), "step": 2}, buffer)
    original = buffer.getvalue()
    outcomes = set()
    for offset in range(len(original)):
        for flip in (0x01, 0x80, 0xFF):
            data = bytearray(original)
            data[offset] ^= flip
            try:
                back = agx.load(io.BytesIO(bytes(data)))
            except agx.serialization.LoadError:
                outcomes.add("refused")
                continue
            outcomes.add("loaded")
            assert isinstance(back, dict)
    assert outcomes == {"refused", "loaded"}        # some bytes (dates, padding) do not matter


# -- weights_only -----------------------------------------------------------------------------

def test_weights_only():
    buffer = io.BytesIO()
    agx.save({"w": agx.ones(2)}, buffer)
    for weights_only in (True, None):
        buffer.seek(0)
        assert agx.load(buffer, weights_only=weights_only)["w"].tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="weights_only=False asks for arbitrary pickled "
                                         "objects, and autogradx never unpickles"):
        agx.load(buffer, weights_only=False)


# -- saving is atomic -------------------------------------------------------------------------

def write_then_fail(error):
    real = np.lib.format.write_array

    def write_array(fp, array, **kwargs):
        real(fp, array[: array.size // 2], **kwargs)    # half of it reaches the file
        raise error
    return write_array


@pytest.mark.parametrize("error", [OSError(errno.ENOSPC, "No space left on device"),
                                   KeyboardInterrupt()], ids=["disk-full", "interrupt"])
def test_a_failed_save_leaves_the_old_file(tmp_path, monkeypatch, error):
    path = tmp_path / "weights.agx"
    agx.save({"w": agx.ones(1000)}, path)
    before = path.read_bytes()
    monkeypatch.setattr(np.lib.format, "write_array", write_then_fail(error))
    with pytest.raises(type(error)):
        agx.save({"w": agx.zeros(100_000)}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["weights.agx"]


def test_a_failed_save_to_a_new_path_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(np.lib.format, "write_array", write_then_fail(OSError("boom")))
    with pytest.raises(OSError, match="boom"):
        agx.save(agx.ones(10), tmp_path / "new.agx")
    assert os.listdir(tmp_path) == []


def test_save_syncs_the_file_before_renaming_it(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append(("fsync", os.fstat(fd).st_ino)),
                                                 real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append(("replace", a, b)),
                                                     real_replace(a, b))[1])
    path = tmp_path / "weights.agx"
    agx.save(agx.ones(3), path)
    (first, inode), (replace, src, dst) = events[:2]
    assert (first, replace) == ("fsync", "replace")
    assert inode == path.stat().st_ino and dst == str(path) and os.path.dirname(src) == dst[:-12]
    assert agx.load(path).tolist() == [1.0] * 3


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions and symlinks")
def test_save_keeps_permissions_and_symlinks(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    new = tmp_path / "new.agx"
    agx.save(agx.ones(1), new)
    assert new.stat().st_mode & 0o777 == 0o666 & ~umask
    new.chmod(0o640)
    agx.save(agx.ones(2), new)
    assert new.stat().st_mode & 0o777 == 0o640
    link = tmp_path / "link.agx"
    link.symlink_to(new)
    agx.save(agx.zeros(3), link)
    assert link.is_symlink() and agx.load(new).tolist() == [0.0] * 3
