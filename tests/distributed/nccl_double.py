"""A test double of the few CuPy calls autogradx's ``nccl`` backend makes, over NumPy and
mpi4py, so that its bookkeeping runs under ``mpiexec`` on machines without a GPU.

What this tests is autogradx's use of the API, not NCCL and not CUDA: that every operation
hands ``cupy.cuda.nccl.NcclCommunicator`` the right pointers, counts, NCCL data types,
reduce ops, roots and peers; that gather and scatter go through ``groupStart``/``groupEnd``;
that each launch is ordered after the caller's stream (an event recorded there and waited
for by the backend's stream); that a ``Work`` completes when the event recorded after the
launch has passed, and not before; and that the data lands where autogradx reads it
(buffers, dtypes, staging, AVG, sub-groups, DDP's buckets). Whether NCCL itself behaves as
its documentation says is checked only on a GPU (``tools/gpu-check.sh``).

How it stands in:

* ``install()`` puts a module ``cupy`` (with ``cupy.cuda``, ``cupy.cuda.nccl``) in
  ``sys.modules`` and registers autogradx's ``cuda`` device over it. Its arrays are the
  strict fake-device arrays of tests/backends/conftest.py (NumPy memory that NumPy's own
  functions refuse: code must use the array module it is handed), with CuPy's ``.data.ptr``
  and ``.device.id``.
* ``NcclCommunicator`` turns each pointer back into the memory it points to (``ctypes``),
  and runs the operation as MPI's non-blocking counterpart on a communicator of the same
  ranks. It finds them as NCCL does: the unique id names the rank that made it, and every
  member reports to that rank (``_connect``). Operations inside ``groupStart``/``groupEnd``
  are held until ``groupEnd``, as NCCL launches them.
* A stream collects the MPI requests of the operations queued on it; an event recorded on it
  takes those requests, and ``done`` is True once all have completed, never at the first
  query (``LAG``), so that waiting is exercised.
"""

import ctypes
import importlib.machinery
import importlib.util
import itertools
import os
import sys
import threading
import types
from pathlib import Path

import numpy as np
from mpi4py import MPI

LAG = 2                   # queries of an event that answer "not yet" before its requests

# ncclDataType_t and ncclRedOp_t, as nccl.h numbers them.
_TYPES = {0: np.int8, 1: np.uint8, 2: np.int32, 3: np.uint32, 4: np.int64, 5: np.uint64,
          6: np.float16, 7: np.float32, 8: np.float64}
_OPS = {0: MPI.SUM, 1: MPI.PROD, 2: MPI.MAX, 3: MPI.MIN}


class DoubleError(AssertionError):
    """autogradx used the stand-in API in a way the real one would not accept."""


def _fake_device():
    """tests/backends/conftest.py, the strict fake device (imported by path: this runs as a
    script under mpiexec, outside pytest)."""
    path = Path(__file__).resolve().parent.parent / "backends" / "conftest.py"
    spec = importlib.util.spec_from_file_location("fake_device_conftest", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- devices, streams, events --------------------------------------------------------------

_local = threading.local()


def _current_device():
    return getattr(_local, "device", 0)


class Device:
    def __init__(self, device=None):
        self.id = _current_device() if device is None else int(device)
        if not 0 <= self.id < _device_count():
            raise DoubleError(f"Device({device}): the double has {_device_count()} device(s)")

    def use(self):
        _local.device = self.id

    def __enter__(self):
        _local.__dict__.setdefault("devices", []).append(_current_device())
        self.use()
        return self

    def __exit__(self, *exc):
        _local.device = _local.devices.pop()

    def synchronize(self):
        pass


def _device_count():
    return int(os.environ.get("NCCL_DOUBLE_DEVICES", "1"))


_STREAMS = {}             # pointer -> Stream
_pointers = itertools.count(0x1000)


class Stream:
    def __init__(self, non_blocking=False, ptr=None):
        self.ptr = next(_pointers) if ptr is None else ptr
        self.requests = []          # the MPI requests of the operations queued here
        self.after = None           # the event this stream was last told to wait for
        _STREAMS[self.ptr] = self

    def wait_event(self, event):
        self.after = event

    def __enter__(self):
        _local.__dict__.setdefault("streams", []).append(get_current_stream())
        _local.stream = self
        return self

    def __exit__(self, *exc):
        _local.stream = _local.streams.pop()


_NULL_STREAM = Stream(ptr=0)


def get_current_stream():
    return getattr(_local, "stream", _NULL_STREAM)


class Event:
    def __init__(self, disable_timing=False):
        self.stream = None
        self._requests = []
        self._lag = LAG

    def record(self, stream=None):
        self.stream = get_current_stream() if stream is None else stream
        self._requests = list(self.stream.requests)
        self.stream.after = None        # the next launch must be ordered anew

    @property
    def done(self):
        if self._lag > 0:
            self._lag -= 1
            return False
        return all(r.Test() for r in self._requests)

    def synchronize(self):
        MPI.Request.Waitall(self._requests)


# -- NCCL ----------------------------------------------------------------------------------

_ids = itertools.count()
_group = None             # the operations held between groupStart and groupEnd, or None


def get_unique_id():
    """128 numbers, as CuPy's: the world rank that made the id, and a serial number."""
    return (MPI.COMM_WORLD.Get_rank(), next(_ids)) + (0,) * 126


def get_version():
    return 21903


def groupStart():
    global _group
    if _group is not None:
        raise DoubleError("groupStart inside a group (autogradx does not nest them)")
    _group = []


def groupEnd():
    global _group
    if _group is None:
        raise DoubleError("groupEnd without groupStart")
    held, _group = _group, None
    for launch in held:
        launch()


def _memory(ptr, count, datatype):
    """The ``count`` elements of NCCL type ``datatype`` at address ``ptr``, as NumPy."""
    if not isinstance(ptr, int) or ptr == 0:
        raise DoubleError(f"a buffer pointer must be a non-zero int, got {ptr!r}")
    if datatype not in _TYPES:
        raise DoubleError(f"unknown NCCL data type {datatype!r}")
    dtype = np.dtype(_TYPES[datatype])
    raw = (ctypes.c_char * (int(count) * dtype.itemsize)).from_address(ptr)
    return np.frombuffer(raw, dtype=dtype)


class NcclCommunicator:
    def __init__(self, ndev, commId, rank):
        if len(commId) != 128:
            raise DoubleError(f"a unique id has 128 entries, got {len(commId)}")
        if not 0 <= rank < ndev:
            raise DoubleError(f"rank {rank} out of range for {ndev} ranks")
        self.ndev, self.rank, self.device = ndev, rank, _current_device()
        self.mpi = _connect(ndev, commId, rank)
        self.alive = True
        self.calls = []             # the operations ("send", "send in a group"), for tests

    # collectives
    def allReduce(self, sendbuf, recvbuf, count, datatype, op, stream):
        send, recv = _memory(sendbuf, count, datatype), _memory(recvbuf, count, datatype)
        self._post("allReduce", stream, lambda: self.mpi.Iallreduce(
            MPI.IN_PLACE if sendbuf == recvbuf else send, recv, _op(op)))

    def reduce(self, sendbuf, recvbuf, count, datatype, op, root, stream):
        send, recv = _memory(sendbuf, count, datatype), _memory(recvbuf, count, datatype)
        mine = self.rank == root
        args = (MPI.IN_PLACE, recv) if mine and sendbuf == recvbuf else (send, recv)
        self._post("reduce", stream, lambda: self.mpi.Ireduce(*args, _op(op), root))

    def broadcast(self, sendbuf, recvbuf, count, datatype, root, stream):
        if sendbuf != recvbuf:
            raise DoubleError("autogradx broadcasts in place")
        buf = _memory(recvbuf, count, datatype)
        self._post("broadcast", stream, lambda: self.mpi.Ibcast(buf, root))

    def allGather(self, sendbuf, recvbuf, count, datatype, stream):
        send = _memory(sendbuf, count, datatype)
        recv = _memory(recvbuf, count * self.ndev, datatype)
        self._post("allGather", stream, lambda: self.mpi.Iallgather(send, recv))

    def reduceScatter(self, sendbuf, recvbuf, recvcount, datatype, op, stream):
        send = _memory(sendbuf, recvcount * self.ndev, datatype)
        recv = _memory(recvbuf, recvcount, datatype)
        self._post("reduceScatter", stream,
                   lambda: self.mpi.Ireduce_scatter_block(send, recv, _op(op)))

    # point to point (NCCL has no tags: messages between two ranks match in order)
    def send(self, sendbuf, count, datatype, peer, stream):
        buf = _memory(sendbuf, count, datatype)
        self._post("send", stream, lambda: self.mpi.Isend(buf, self._peer(peer)))

    def recv(self, recvbuf, count, datatype, peer, stream):
        buf = _memory(recvbuf, count, datatype)
        self._post("recv", stream, lambda: self.mpi.Irecv(buf, self._peer(peer)))

    def destroy(self):
        if not self.alive:
            raise DoubleError("a communicator destroyed twice")
        self.alive = False
        self.mpi.Free()

    abort = destroy

    def _peer(self, peer):
        if not 0 <= peer < self.ndev or peer == self.rank:
            raise DoubleError(f"rank {self.rank}: peer {peer} of {self.ndev} ranks")
        return peer

    def _post(self, name, stream_ptr, start):
        if not self.alive:
            raise DoubleError(f"{name} on a destroyed communicator")
        stream = _STREAMS.get(stream_ptr)
        if stream is None or stream is _NULL_STREAM:
            raise DoubleError(f"{name}: {stream_ptr!r} is not a stream the backend made")
        if stream.after is None or stream.after.stream is stream:
            raise DoubleError(f"{name} launched without waiting for the caller's stream "
                              "(no event recorded there and waited for)")
        if _current_device() != self.device:
            raise DoubleError(f"{name} on device {_current_device()}, the communicator is on "
                              f"{self.device}")
        self.calls.append(name if _group is None else f"{name} in a group")
        launch = lambda: stream.requests.append(start())     # noqa: E731
        if _group is None:
            launch()
        else:
            _group.append(launch)


def _op(op):
    if op not in _OPS:
        raise DoubleError(f"unknown NCCL reduce op {op!r}")
    return _OPS[op]


def _connect(ndev, uid, rank):
    """An MPI communicator of the ranks that share ``uid``, in NCCL rank order: each member
    tells the id's maker (``uid[0]``, NCCL's bootstrap root) its world rank; the maker
    answers with the list."""
    world = MPI.COMM_WORLD
    root, tag = uid[0], 1000 + uid[1]
    if world.Get_rank() == root:
        if rank != 0:
            raise DoubleError("the rank that made the unique id must be NCCL rank 0")
        members = [root] + [None] * (ndev - 1)
        for _ in range(ndev - 1):
            r, world_rank = world.recv(source=MPI.ANY_SOURCE, tag=tag)
            members[r] = world_rank
        for world_rank in members[1:]:
            world.send(members, dest=world_rank, tag=tag)
    else:
        world.send((rank, world.Get_rank()), dest=root, tag=tag)
        members = world.recv(source=root, tag=tag)
    group = world.Get_group().Incl(members)
    return world.Create_group(group, tag)


# -- the module ----------------------------------------------------------------------------

def install():
    """Make ``import cupy`` find the double and register autogradx's ``cuda`` device over
    it; returns the module."""
    from autogradx import backends
    from autogradx._registry import REGISTRY

    fake = _fake_device()
    array = fake.FakeArray
    array.data = property(lambda a: types.SimpleNamespace(
        ptr=a.__array_interface__["data"][0]))
    array.device = property(lambda a: Device(0))

    cupy = fake.FakeNumPy("cupy", np)
    cupy.__spec__ = importlib.machinery.ModuleSpec("cupy", None)
    cupy.__version__ = "double"
    cuda = types.ModuleType("cupy.cuda")
    nccl = types.ModuleType("cupy.cuda.nccl")
    for name in ("get_unique_id", "get_version", "groupStart", "groupEnd",
                 "NcclCommunicator"):
        setattr(nccl, name, globals()[name])
    for code, dtype in _TYPES.items():
        setattr(nccl, f"NCCL_{np.dtype(dtype).name.upper()}", code)
    for code, name in enumerate(("SUM", "PROD", "MAX", "MIN")):
        setattr(nccl, f"NCCL_{name}", code)
    cuda.nccl = nccl
    cuda.runtime = types.SimpleNamespace(getDeviceCount=_device_count)
    cuda.Device, cuda.Stream, cuda.Event = Device, Stream, Event
    cuda.get_current_stream = get_current_stream
    cupy.cuda = cuda
    sys.modules.update({"cupy": cupy, "cupy.cuda": cuda, "cupy.cuda.nccl": nccl})

    REGISTRY.load()         # first, so that loading the plugins cannot replace the device
    backends.register(backends.Backend(
        "cupy-double", "cuda", module=cupy, array_type=array, to_device=fake.to_fake,
        to_host=lambda a: a.get(), device_index=lambda a: 0,
        current_index=lambda: Device().id))
    return cupy
