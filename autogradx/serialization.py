"""``autogradx.save`` and ``autogradx.load``: tensors and containers of them in a
file that loading cannot turn into code execution (no pickle anywhere).

The file is a zip archive holding

* ``autogradx.json``: ``{"format": "autogradx", "version": 1, "root": node}``,
  where a node is a JSON scalar (None, bool, int, float, str) or a one-key
  object tagging a container or a tensor: ``{"list": [...]}``,
  ``{"tuple": [...]}``, ``{"dict": [[key, value], ...]}`` (keys are nodes, so
  optimizer state keyed by int survives), ``{"odict": ...}`` (an OrderedDict),
  ``{"complex": [re, im]}``, ``{"tensor": i, "requires_grad": b, "parameter": b}``;
* ``tensors/<i>.npy``: the arrays in NumPy's format, read back with
  ``allow_pickle=False``.

A tensor that appears several times (tied weights) is stored once and loads as
one tensor.
"""

import os
from collections import OrderedDict

import numpy as np

from autogradx._core.tensor import TensorBase

__all__ = ["save", "load"]

_MANIFEST = "autogradx.json"
_FORMAT, _VERSION = "autogradx", 1


def save(obj, f):
    """Write ``obj`` (tensors, Parameters, Python scalars and strings, nested in
    dicts, lists and tuples: a ``state_dict``, an optimizer's state dict) to
    ``f``, a path or a binary file object."""
    import json
    import zipfile
    arrays = []
    root = _Encoder(arrays).encode(obj, "obj")
    manifest = json.dumps({"format": _FORMAT, "version": _VERSION, "root": root})
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(_MANIFEST, manifest)
        for i, array in enumerate(arrays):
            with zf.open(f"tensors/{i}.npy", "w", force_zip64=True) as out:
                np.lib.format.write_array(out, array, allow_pickle=False)


def load(f, map_location=None, *, weights_only=True):
    """Read what ``save`` wrote. ``map_location`` may only name the CPU for now;
    ``weights_only`` is accepted for PyTorch compatibility: loading never runs code."""
    import json
    import zipfile
    if map_location not in (None, "cpu") and str(map_location) != "cpu":
        raise RuntimeError(f"load: map_location={map_location!r} is not available: only the "
                           f"CPU is supported")
    name = os.fspath(f) if isinstance(f, (str, os.PathLike)) else getattr(f, "name", repr(f))
    try:
        zf = zipfile.ZipFile(f)
    except zipfile.BadZipFile:
        raise ValueError(f"{name!r} is not an autogradx file: {_sniff(f)}") from None
    with zf:
        names = set(zf.namelist())
        if _MANIFEST not in names:
            what = ("it is a PyTorch checkpoint (pickled objects inside a zip), which autogradx "
                    "never unpickles" if any(n.endswith("data.pkl") for n in names)
                    else f"the zip archive has no {_MANIFEST} manifest")
            raise ValueError(f"{name!r} is not an autogradx file: {what}")
        try:
            manifest = json.loads(zf.read(_MANIFEST))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"{name!r}: the {_MANIFEST} manifest is not valid JSON: "
                             f"{exc}") from None
        if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
            raise ValueError(f"{name!r}: the {_MANIFEST} manifest does not describe an "
                             f"autogradx file")
        if manifest.get("version") != _VERSION:
            raise ValueError(f"{name!r}: format version {manifest.get('version')!r} is not "
                             f"supported (this autogradx reads version {_VERSION})")
        return _Decoder(zf, name).decode(manifest.get("root"))


def _sniff(f):
    """Why a file that is not a zip archive is not ours, from its first bytes."""
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as fh:
            head = fh.read(2)
    else:
        f.seek(0)
        head = f.read(2)
    if head[:1] == b"\x80" or head[:1] in (b"(", b"}", b"]"):
        return ("it is a pickle file, which autogradx never loads (unpickling can run "
                "arbitrary code)")
    if not head:
        return "the file is empty"
    return "it is not a zip archive"


class _Encoder:
    """Turns an object into JSON nodes, collecting the tensors' arrays."""

    def __init__(self, arrays):
        self.arrays = arrays
        self.tensor_ids = {}        # id(tensor) -> index, so a shared tensor is stored once
        self.keep = []              # the tensors indexed, kept alive while ids are in use

    def encode(self, obj, path):
        if obj is None or isinstance(obj, (bool, int, str)):
            return obj
        if isinstance(obj, float):
            return obj
        if isinstance(obj, np.generic) and obj.dtype.kind in "biufc":
            return self.encode(obj.item(), path)
        if isinstance(obj, complex):
            return {"complex": [obj.real, obj.imag]}
        if isinstance(obj, TensorBase):
            return self._tensor(obj)
        if isinstance(obj, (list, tuple)):
            items = [self.encode(v, f"{path}[{i}]") for i, v in enumerate(obj)]
            return {"tuple" if isinstance(obj, tuple) else "list": items}
        if isinstance(obj, dict):
            pairs = [[self.encode(k, f"{path} key {k!r}"), self.encode(v, f"{path}[{k!r}]")]
                     for k, v in obj.items()]
            return {"odict" if isinstance(obj, OrderedDict) else "dict": pairs}
        raise TypeError(f"autogradx.save cannot store {path}: objects of type "
                        f"{type(obj).__module__}.{type(obj).__qualname__} are not supported "
                        f"(tensors, numbers, strings, None and dicts, lists and tuples of them "
                        f"are)")

    def _tensor(self, t):
        from autogradx.nn.parameter import Parameter
        index = self.tensor_ids.get(id(t))
        if index is None:
            data = t._data if type(t._data) is np.ndarray else t._data.get()
            index = self.tensor_ids[id(t)] = len(self.arrays)
            self.arrays.append(data)
            self.keep.append(t)
        # As in PyTorch, a non-leaf that requires grad loads as a leaf that does.
        return {"tensor": index, "requires_grad": bool(t.requires_grad),
                "parameter": isinstance(t, Parameter)}


class _Decoder:
    """Rebuilds objects from JSON nodes, reading arrays from the archive."""

    def __init__(self, zf, name):
        self.zf = zf
        self.name = name
        self.tensors = {}

    def fail(self, what):
        raise ValueError(f"{self.name!r}: malformed autogradx file: {what}")

    def decode(self, node):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list) or not isinstance(node, dict) or len(node) == 0:
            self.fail(f"unexpected node {node!r:.80}")
        if "tensor" in node:
            return self._tensor(node)
        if len(node) != 1:
            self.fail(f"unexpected node {node!r:.80}")
        (tag, value), = node.items()
        if tag in ("list", "tuple") and isinstance(value, list):
            items = [self.decode(v) for v in value]
            return items if tag == "list" else tuple(items)
        if tag in ("dict", "odict") and isinstance(value, list):
            if not all(isinstance(p, list) and len(p) == 2 for p in value):
                self.fail(f"a {tag} node must hold [key, value] pairs")
            pairs = [(self._key(k), self.decode(v)) for k, v in value]
            return OrderedDict(pairs) if tag == "odict" else dict(pairs)
        if tag == "complex" and isinstance(value, list) and len(value) == 2:
            return complex(*value)
        self.fail(f"unknown node {tag!r}")

    def _key(self, node):
        key = self.decode(node)
        if isinstance(key, (list, dict)):
            self.fail(f"unhashable dict key {key!r:.80}")
        return key

    def _tensor(self, node):
        from autogradx._factories import _wrap
        from autogradx.nn.parameter import Parameter
        index = node["tensor"]
        if not isinstance(index, int) or isinstance(index, bool):
            self.fail(f"tensor index {index!r} is not an integer")
        if index not in self.tensors:
            member = f"tensors/{index}.npy"
            try:
                with self.zf.open(member) as fh:
                    array = np.lib.format.read_array(fh, allow_pickle=False)
            except KeyError:
                self.fail(f"{member} is missing")
            except ValueError as exc:
                self.fail(f"{member} cannot be read without pickle: {exc}")
            t = _wrap(array)
            if node.get("parameter"):
                t = Parameter(t, requires_grad=bool(node.get("requires_grad")))
            elif node.get("requires_grad"):
                t.requires_grad_(True)
            self.tensors[index] = t
        return self.tensors[index]
