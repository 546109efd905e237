"""``autogradx.save`` and ``autogradx.load``: tensors and containers of them in a
file that loading cannot turn into code execution (no pickle anywhere).

The file is a zip archive holding

* ``autogradx.json``: ``{"format": "autogradx", "version": 1, "root": node}``,
  where a node is a JSON scalar (None, bool, int, float, str) or a one-key
  object tagging a container or a tensor: ``{"list": [...]}``,
  ``{"tuple": [...]}``, ``{"dict": [[key, value], ...]}`` (keys are nodes, so
  optimizer state keyed by int survives), ``{"odict": ...}`` (an OrderedDict),
  ``{"complex": [re, im]}``, ``{"tensor": i, "requires_grad": b, "parameter": b}``;
* ``tensors/<i>.npy``: the arrays in NumPy's format, one per tensor.

A tensor that appears several times (tied weights) is stored once and loads as
one tensor.

``load`` reads files it does not trust. It refuses, with a
:class:`~autogradx.serialization.LoadError` naming the file and what is wrong: an
archive that is not a zip, is truncated, or has an entry that is damaged (bad CRC,
broken data), encrypted, compressed other than stored or deflated, or listed
twice; a manifest that is not UTF-8 JSON or nests more than 100 levels deep; an
array that would need pickle, has a dtype autogradx has no type for, or is not the
size its header says. Sizes are bounded by
:class:`~autogradx.serialization.LoadLimitError`, whose limits are ``load``'s
keyword arguments. What ``load`` returns holds only tensors, Parameters, numbers,
strings, None and dicts, lists and tuples of them.
"""

import contextlib
import math
import os
from collections import OrderedDict

import numpy as np

from autogradx._core.tensor import TensorBase
from autogradx._dtype import ALL as _DTYPES, from_numpy_dtype

__all__ = ["save", "load", "LoadError", "LoadLimitError"]

_MANIFEST = "autogradx.json"
_FORMAT, _VERSION = "autogradx", 1
_MAX_DEPTH = 100                # JSON levels; a model's or optimizer's state dict uses about 10
_RATIO_GRACE = 1 << 20          # entries this small skip max_ratio: short JSON compresses well
_CHUNK = 1 << 20                # bytes asked of an entry at a time
# Zip compression methods load reads: stored (what save writes) and deflated.
# zipfile bounds a deflated read by the bytes asked for, but hands bzip2 and
# LZMA data to the decompressor whole (a 4 KiB read of bzip2 can come out as
# gigabytes before any limit here sees it), so those are refused.
_METHODS = (0, 8)               # zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED (zipfile loads lazily)
_LIMITS = {"max_total_size": "the archive's entries hold more than {:,} bytes in all",
           "max_entry_size": "it holds more than {:,} bytes",
           "max_manifest_size": "it holds more than {:,} bytes",
           "max_ratio": "it decompresses to more than {} times its compressed size",
           "max_entries": "it has more than {:,} entries"}


class LoadError(ValueError):
    """``autogradx.load`` refuses a file: it is not an autogradx file, is damaged, or
    holds something autogradx does not read. The message names the file and what is
    wrong with it."""


class LoadLimitError(LoadError):
    """``autogradx.load`` refuses a file that goes past one of its limits. The message
    names the entry and the limit; a trusted file loads with a larger value of the
    keyword argument it names (or None for no limit)."""


def save(obj, f):
    """Write ``obj`` (tensors, Parameters, Python scalars and strings, nested in
    dicts, lists and tuples: a ``state_dict``, an optimizer's state dict) to
    ``f``, a path or a binary file object.

    A path is replaced atomically: the file is written under a temporary name in
    the same folder, flushed to disk, and renamed over ``f`` only when complete, so
    an error, an interrupt or a full disk leaves any old file at ``f`` as it was
    (and no temporary file behind). A file object is written in place."""
    import json
    arrays = []
    try:
        root = _Encoder(arrays).encode(obj, "obj")
        manifest = json.dumps({"format": _FORMAT, "version": _VERSION, "root": root})
    except RecursionError:
        manifest = None
    if manifest is None or _nesting_depth(manifest) > _MAX_DEPTH:
        raise ValueError(f"autogradx.save cannot store obj: its containers nest deeper than "
                         f"autogradx.load reads ({_MAX_DEPTH} levels of the file's JSON)")
    if isinstance(f, (str, os.PathLike)):
        _replace_atomically(os.fspath(f), lambda fh: _write_archive(fh, manifest, arrays))
    else:
        _write_archive(f, manifest, arrays)


def _write_archive(f, manifest, arrays):
    import zipfile
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(_MANIFEST, manifest)
        for i, array in enumerate(arrays):
            with zf.open(f"tensors/{i}.npy", "w", force_zip64=True) as out:
                np.lib.format.write_array(out, array, allow_pickle=False)


def _replace_atomically(path, write):
    """Call ``write`` on a new file beside ``path`` (so the rename stays on one file
    system), make it durable, then rename it to ``path``; on any failure remove it,
    leaving ``path`` untouched."""
    path = os.path.realpath(path)       # through a symlink, as writing in place would
    folder, base = os.path.split(path)
    tmp = os.path.join(folder, f".{base}.{os.urandom(8).hex()}.tmp")
    # Mode 0o666 less the umask, what open() gives a new file (mkstemp would give 0o600).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with open(fd, "wb") as fh:
            _keep_mode(path, tmp)
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass                        # the original error is the one to report
        raise
    _fsync_folder(folder)


def _keep_mode(path, tmp):
    """Give ``tmp`` the permissions of the file at ``path`` it will replace, which
    writing ``path`` in place would have kept."""
    try:
        os.chmod(tmp, os.stat(path).st_mode & 0o7777)
    except FileNotFoundError:
        pass


def _fsync_folder(folder):
    """Make a rename in ``folder`` durable (POSIX; elsewhere a folder cannot be opened)."""
    if hasattr(os, "O_DIRECTORY"):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def load(f, map_location=None, *, weights_only=None, max_total_size=4 << 30,
         max_entry_size=2 << 30, max_manifest_size=64 << 20, max_ratio=100, max_entries=100_000):
    """Read what ``save`` wrote from ``f``, a path or a seekable binary file object.

    ``map_location`` may only name the CPU for now.

    ``weights_only``: loading is always weights-only, since an autogradx file holds
    only tensors, numbers, strings and containers of them and is never unpickled.
    ``True`` and ``None`` (PyTorch's spellings) are accepted and change nothing;
    ``weights_only=False``, which in PyTorch asks for arbitrary pickled objects, is
    refused with a ``ValueError``.

    The file need not be trusted: see :mod:`autogradx.serialization` for what is
    refused (always a :class:`~autogradx.serialization.LoadError`). These limits bound
    what a small file can make ``load`` decompress and allocate; past one,
    :class:`~autogradx.serialization.LoadLimitError` names the entry and the limit.
    For a file you trust, pass a larger value, or None for no limit:

    * ``max_total_size``: bytes of all entries together, decompressed (4 GiB);
    * ``max_entry_size``: bytes of any one entry, decompressed (2 GiB);
    * ``max_manifest_size``: bytes of the JSON manifest, decompressed (64 MiB; it
      becomes Python objects several times its size, and a state dict of 100,000
      tensors needs about 10 MiB);
    * ``max_ratio``: decompressed bytes per compressed byte of an entry over 1 MiB
      (100; ``save`` stores entries uncompressed, a ratio of 1);
    * ``max_entries``: entries in the archive (100,000).

    The sizes the zip directory and the arrays' headers declare are checked before
    anything is allocated, and the bytes actually decompressed are counted against
    the same limits as they are read, since a crafted header can lie."""
    if map_location not in (None, "cpu") and str(map_location) != "cpu":
        raise RuntimeError(f"load: map_location={map_location!r} is not available: only the "
                           f"CPU is supported")
    if weights_only is not None and not weights_only:
        raise ValueError("load: weights_only=False asks for arbitrary pickled objects, and "
                         "autogradx never unpickles: its files hold only tensors, numbers, "
                         "strings and containers of them, so every load is weights-only. "
                         "Leave weights_only out or pass True.")
    limits = _Limits(max_total_size=max_total_size, max_entry_size=max_entry_size,
                     max_manifest_size=max_manifest_size, max_ratio=max_ratio,
                     max_entries=max_entries)
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as fh:
            return _load(fh, os.fspath(f), limits)
    return _load(f, getattr(f, "name", repr(f)), limits)


def _load(fh, name, limits):
    import struct
    import zipfile
    size = fh.seek(0, os.SEEK_END)
    try:
        zf = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, NotImplementedError, EOFError, ValueError, struct.error) as exc:
        raise LoadError(f"{name!r} is not an autogradx file: {_sniff(fh, exc)}") from None
    with zf:
        archive = _Archive(zf, name, limits, size)
        return _Decoder(archive).decode(_read_manifest(archive))


def _read_manifest(archive):
    """The root node of the archive's manifest."""
    import json
    with archive.open(_MANIFEST) as entry:
        data = entry.read_to_end()
    try:
        text = data.decode("utf-8")
        depth = _nesting_depth(text)
        if depth <= _MAX_DEPTH:
            manifest = json.loads(text)
    except ValueError as exc:           # UnicodeDecodeError and JSONDecodeError among them
        archive.fail(f"the {_MANIFEST} manifest is not valid JSON: {exc}")
    if depth > _MAX_DEPTH:
        archive.fail(f"the {_MANIFEST} manifest nests {depth} levels deep; autogradx reads at "
                     f"most {_MAX_DEPTH}")
    if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
        archive.fail(f"the {_MANIFEST} manifest does not describe an autogradx file")
    if manifest.get("version") != _VERSION:
        archive.fail(f"format version {manifest.get('version')!r} is not supported (this "
                     f"autogradx reads version {_VERSION})")
    return manifest.get("root")


def _sniff(fh, exc):
    """Why a file that zipfile cannot open is not ours, from its first bytes."""
    fh.seek(0)
    head = fh.read(4)
    if head[:1] == b"\x80" or head[:1] in (b"(", b"}", b"]"):
        return ("it is a pickle file, which autogradx never loads (unpickling can run "
                "arbitrary code)")
    if not head:
        return "the file is empty"
    if head.startswith(b"PK"):
        return f"it is a truncated or damaged zip archive ({exc})"
    return "it is not a zip archive"


def _nesting_depth(text):
    """How deeply JSON text nests arrays and objects, found without parsing it (json's
    parser recurses, so a deep enough file exhausts the stack)."""
    import re
    brackets = re.sub(r'[^\[\]{}]', "", re.sub(r'"[^"\\]*(?:\\.[^"\\]*)*"', "", text))
    codes = np.frombuffer(brackets.encode("ascii"), np.uint8)
    depth = deepest = 0
    for start in range(0, len(codes), _CHUNK):     # a cumsum of all at once: 8 bytes a bracket
        chunk = codes[start:start + _CHUNK]
        levels = depth + np.cumsum(np.where((chunk == ord("[")) | (chunk == ord("{")), 1, -1))
        deepest, depth = max(deepest, int(levels.max())), int(levels[-1])
    return deepest


class _Limits:
    """``load``'s limits on what a file may make it decompress (None: no limit)."""

    def __init__(self, **limits):
        for keyword, value in limits.items():
            if value is not None and (isinstance(value, bool) or
                                      not isinstance(value, (int, float)) or not value >= 0):
                raise ValueError(f"load: {keyword} must be a number >= 0 or None, not "
                                 f"{value!r}")
            setattr(self, keyword, math.inf if value is None else value)

    def allowance(self, member, compressed, before):
        """The most bytes ``member``, of at most ``compressed`` compressed bytes, may hold
        after ``before`` bytes of other entries, and the keyword of the limit that sets it."""
        by_ratio = max(_RATIO_GRACE, self.max_ratio * max(compressed, 1))
        limit, keyword = min((self.max_entry_size, "max_entry_size"),
                             (self.max_total_size - before, "max_total_size"),
                             (by_ratio, "max_ratio"),
                             (self.max_manifest_size if member == _MANIFEST else math.inf,
                              "max_manifest_size"))
        return (limit if limit == math.inf else int(limit)), keyword

    def refuse(self, name, where, keyword):
        value = getattr(self, keyword)
        raise LoadLimitError(f"{name!r}: {where} goes past load's limit {keyword}={value!r} "
                             f"({_LIMITS[keyword].format(value)}). If you trust the file, pass "
                             f"a larger {keyword} to autogradx.load (None: no limit).")


class _Archive:
    """The zip archive of a file being loaded: its directory checked on opening, its
    entries read through the limits."""

    def __init__(self, zf, name, limits, size):
        self.zf = zf
        self.name = name
        self.limits = limits
        self.size = size                # of the file: no entry can use more compressed bytes
        self.read_so_far = 0            # bytes decompressed from all entries
        self._check_directory()

    def fail(self, what):
        raise LoadError(f"{self.name!r}: {what}")

    def _check_directory(self):
        """Refuse too many entries, a name listed twice (zipfile would read the last
        copy), a missing manifest, and sizes declared past the limits."""
        infos = self.zf.infolist()
        if len(infos) > self.limits.max_entries:
            self.limits.refuse(self.name, "the archive", "max_entries")
        names, declared = set(), 0
        for info in infos:
            if info.filename in names:
                self.fail(f"the archive lists {info.filename} twice, and autogradx will not "
                          f"guess which copy is meant")
            names.add(info.filename)
            limit, keyword = self.limits.allowance(info.filename, self.compressed_size(info),
                                                   declared)
            if info.file_size > limit:
                self.limits.refuse(self.name, info.filename, keyword)
            declared += info.file_size
        if _MANIFEST not in names:
            what = ("it is a PyTorch checkpoint (pickled objects inside a zip), which autogradx "
                    "never unpickles" if any(n.endswith("data.pkl") for n in names)
                    else f"the zip archive has no {_MANIFEST} manifest")
            raise LoadError(f"{self.name!r} is not an autogradx file: {what}")

    def compressed_size(self, info):
        """The most compressed bytes reading ``info`` can consume: its declared size, which
        zipfile never reads past, and at most the whole file, which cannot lie."""
        return min(info.compress_size, self.size)

    def open(self, member):
        """The entry ``member`` as an ``_Entry``."""
        try:
            info = self.zf.getinfo(member)
        except KeyError:
            self.fail(f"malformed autogradx file: {member} is missing")
        if info.flag_bits & 0x1:
            self.fail(f"{member} is encrypted; autogradx files never are")
        if info.compress_type not in _METHODS:
            self.fail(f"{member} uses zip compression method {info.compress_type}; autogradx "
                      f"reads stored and deflated entries only")
        with _zip_errors(self, member):
            return _Entry(self, info, self.zf.open(info))

    def read_array(self, member):
        with self.open(member) as entry:
            return _read_npy(entry)


@contextlib.contextmanager
def _zip_errors(archive, member):
    """Turn zipfile's and zlib's errors on reading ``member`` into a LoadError (a
    directory can also send zipfile to seek before the start of the file: ValueError
    from a BytesIO, OSError from a real file)."""
    import zipfile
    import zlib
    try:
        yield
    except (zipfile.BadZipFile, NotImplementedError, EOFError, ValueError, OSError,
            zlib.error) as exc:
        archive.fail(f"the zip entry {member} is damaged: {exc}")


class _Entry:
    """One entry of the archive, a file object with ``read`` only: the decompressed bytes
    are counted against the limits as they come, not taken from the zip directory."""

    def __init__(self, archive, info, fh):
        self.archive = archive
        self.name = info.filename
        self.declared = info.file_size
        self.fh = fh
        self.count = 0
        self.limit, self.keyword = archive.limits.allowance(
            self.name, archive.compressed_size(info), archive.read_so_far)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.fh.close()

    def fail(self, what):
        self.archive.fail(f"{self.name} {what}")

    def reserve(self, nbytes):
        """Check, before allocating, that ``nbytes`` more can be read."""
        if self.count + nbytes > self.limit:
            self.archive.limits.refuse(self.archive.name, self.name, self.keyword)
        if self.count + nbytes > self.declared:
            self.fail(f"is shorter than its array header says: that needs {self.count + nbytes:,} "
                      f"bytes, the zip directory declares {self.declared:,}")

    def read(self, n):
        # One byte past the limit is enough to know it is passed.
        with _zip_errors(self.archive, self.name):
            data = self.fh.read(min(n, self.limit - self.count + 1))
        self.count += len(data)
        self.archive.read_so_far += len(data)
        if self.count > self.limit:
            self.archive.limits.refuse(self.archive.name, self.name, self.keyword)
        return data

    def read_to_end(self):
        chunks = [self.read(_CHUNK)]
        while chunks[-1]:
            chunks.append(self.read(_CHUNK))
        return b"".join(chunks)

    def read_into(self, buffer):
        """Fill ``buffer``, a uint8 array, from the entry."""
        filled = 0
        while filled < len(buffer):
            data = self.read(min(_CHUNK, len(buffer) - filled))
            if not data:
                self.fail(f"is truncated: {filled:,} bytes of array data where its header "
                          f"says {len(buffer):,}")
            buffer[filled:filled + len(data)] = np.frombuffer(data, np.uint8)
            filled += len(data)


def _read_npy(entry):
    """The array of an .npy entry. Its dtype and size are checked before it is allocated."""
    shape, fortran_order, stored = _read_npy_header(entry)
    dtype = _tensor_dtype(stored, entry)
    if any(n < 0 for n in shape):
        entry.fail(f"has a negative dimension in its shape {shape}")
    count = math.prod(shape)
    entry.reserve(count * stored.itemsize)
    flat = np.empty(count, stored)
    entry.read_into(flat.view(np.uint8))
    if entry.read(1):                   # also the read that makes zipfile check the CRC
        entry.fail("holds more bytes than its array header describes")
    # A big-endian array of a type autogradx has is turned to native order, as
    # torch.load does with a checkpoint from a big-endian machine: the values are
    # the file's, and every op assumes native order.
    if stored != dtype:
        flat = flat.byteswap(inplace=True).view(dtype)
    return flat.reshape(shape[::-1]).T if fortran_order else flat.reshape(shape)


def _read_npy_header(entry):
    """The shape, order and dtype an .npy entry's header gives (NumPy's format 1.0 or
    2.0, as ``save`` writes; 3.0 only adds UTF-8 field names, which no tensor has)."""
    fmt = np.lib.format
    readers = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}
    try:
        version = fmt.read_magic(entry)
        if version in readers:
            return readers[version](entry)
    except LoadError:
        raise
    except ValueError as exc:
        entry.fail(f"has no valid .npy header: {exc}")
    entry.fail(f"has .npy format version {version[0]}.{version[1]}; autogradx reads 1.0 and 2.0")


def _tensor_dtype(stored, entry):
    """The native-order dtype of the autogradx type that ``stored`` holds."""
    if stored.hasobject:
        entry.fail(f"cannot be read without pickle: it holds Python objects (dtype {stored})")
    try:
        return from_numpy_dtype(stored.newbyteorder("=")).numpy
    except TypeError:
        names = ", ".join(d.name for d in _DTYPES)
        entry.fail(f"has dtype {stored}, for which autogradx has no type (it has {names}, "
                   f"in either byte order)")


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

    def __init__(self, archive):
        self.archive = archive
        self.tensors = {}

    def fail(self, what):
        self.archive.fail(f"malformed autogradx file: {what}")

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
        if (tag == "complex" and isinstance(value, list) and len(value) == 2 and
                all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
            return complex(*value)
        self.fail(f"unknown node {tag!r}")

    def _key(self, node):
        key = self.decode(node)
        try:
            hash(key)
        except TypeError:
            self.fail(f"unhashable dict key {key!r:.80}")
        return key

    def _tensor(self, node):
        from autogradx._factories import _wrap
        from autogradx.nn.parameter import Parameter
        index = node["tensor"]
        if not isinstance(index, int) or isinstance(index, bool):
            self.fail(f"tensor index {index!r} is not an integer")
        if index not in self.tensors:
            t = _wrap(self.archive.read_array(f"tensors/{index}.npy"))
            try:
                if node.get("parameter"):
                    t = Parameter(t, requires_grad=bool(node.get("requires_grad")))
                elif node.get("requires_grad"):
                    t.requires_grad_(True)
            except RuntimeError as exc:     # an integer tensor marked as requiring grad
                self.fail(f"tensor {index}: {exc}")
            self.tensors[index] = t
        return self.tensors[index]
