"""autogradx.save / autogradx.load: round trips of tensors, Parameters and nested
containers, and the refusal of anything that would need unpickling."""

import io
import json
import math
import pickle
import zipfile
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
], ids=["bad-json", "other-format", "future-version", "missing-array", "bad-index",
        "unknown-tag", "bare-list", "unhashable-key"])
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
