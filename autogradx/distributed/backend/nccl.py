"""The ``nccl`` backend: collectives on CuPy arrays (tensors on the ``cuda`` device) through
NCCL, as CuPy exposes it (``cupy.cuda.nccl.NcclCommunicator``).

Processes are started by the MPI launcher, as for the ``mpi`` backend: rank and size come
from mpi4py's world communicator, rank 0 makes NCCL's unique id and broadcasts it through
MPI, and every rank then joins the NCCL communicator on its device (``device_id`` of
``init_process_group``, else the device of ``autogradx.cuda.set_device``, else rank modulo
the number of devices; it becomes the current device, so that ``"cuda"`` means it). MPI
stays for what is not data: making sub-communicators (``split``) and ending the job
(``abort``).

Each operation runs on the backend's own CUDA stream, after the work already queued on the
caller's current stream (an event recorded there, waited for by ours), and returns a
request whose ``test()`` asks whether an event recorded after the operation has passed: a
``Work`` wait polls it under the group's deadline. NCCL has no gather, scatter or barrier:
gather and scatter are sends and receives in one NCCL group (``groupStart``/``groupEnd``),
a barrier an all-reduce of one element, as in PyTorch's NCCL backend. Data that is only
moved goes as bytes, whatever its dtype; reductions need a dtype NCCL has (``_NCCL_TYPES``),
bool tensors reduce as uint8 (sum and max are "or", product and min are "and") and
complex ones as pairs of reals (sum only). NCCL has no bitwise reductions.

The CuPy module is looked up by ``_cupy()``: the test double of tests/distributed
(``nccl_double.py``) stands in for it on machines without a GPU.
"""

import importlib
import importlib.util

import numpy as np

from autogradx.distributed.backend.mpi import MPIBackend
from autogradx.distributed.reduce_op import ReduceOp

__all__ = ["NCCLBackend", "unavailable_reason", "version"]


def _cupy():
    import cupy
    return cupy


def _nccl():
    return importlib.import_module("cupy.cuda.nccl")


def unavailable_reason():
    """Why the nccl backend cannot make a process group here (most specific first: no
    CuPy, no GPU, no NCCL, no cuda device in autogradx, no mpi4py), or None when it can."""
    if importlib.util.find_spec("cupy") is None:
        return "CuPy is not installed (NCCL collectives run on cuda tensors through CuPy)"
    try:
        count = _cupy().cuda.runtime.getDeviceCount()
    except Exception as exc:            # CuPy without a driver raises its own error types
        return f"no CUDA device ({type(exc).__name__}: {exc})"
    if count == 0:
        return "no CUDA device"
    try:
        _nccl()
    except Exception as exc:
        return (f"CuPy has no NCCL ({type(exc).__name__}: {exc}; install NCCL, e.g. "
                "python -m cupyx.tools.install_library --library nccl)")
    from autogradx import cuda
    if not cuda.is_available():
        return f"autogradx has no cuda device: {cuda.unavailable_reason()}"
    if importlib.util.find_spec("mpi4py") is None:
        return ("mpi4py is not installed (the nccl backend starts under the MPI launcher: "
                "pip install 'autogradx[distributed]')")
    return None


def version():
    """``"NCCL x.y.z, CuPy v, N GPU(s)"``, for ``python -m autogradx info``."""
    cupy = _cupy()
    code = _nccl().get_version()              # e.g. 21903 for 2.19.3
    return (f"NCCL {code // 10000}.{code // 100 % 100}.{code % 100}, CuPy "
            f"{cupy.__version__}, {cupy.cuda.runtime.getDeviceCount()} GPU(s)")


class _Request:
    """An operation queued on the backend's stream: done once ``event`` has passed.
    Holds the arrays NCCL reads and writes until then (CuPy's pool must not reuse their
    memory while the stream still uses it)."""

    def __init__(self, event, arrays, source=None):
        self._event = event
        self._arrays = arrays
        self.source = source

    def test(self):
        if self._arrays is not None and self._event.done:
            self._arrays = None
        return self._arrays is None


# NCCL's types for the dtypes it reduces (``ncclDataType_t``, CuPy's ``NCCL_*``).
_NCCL_TYPES = {
    np.dtype(np.int8): "NCCL_INT8", np.dtype(np.uint8): "NCCL_UINT8",
    np.dtype(np.int32): "NCCL_INT32", np.dtype(np.uint32): "NCCL_UINT32",
    np.dtype(np.int64): "NCCL_INT64", np.dtype(np.uint64): "NCCL_UINT64",
    np.dtype(np.float16): "NCCL_FLOAT16", np.dtype(np.float32): "NCCL_FLOAT32",
    np.dtype(np.float64): "NCCL_FLOAT64",
}
_NCCL_OPS = {ReduceOp.SUM: "NCCL_SUM", ReduceOp.PRODUCT: "NCCL_PROD",
             ReduceOp.MIN: "NCCL_MIN", ReduceOp.MAX: "NCCL_MAX"}
# bool as uint8 0/1: "or" is max, "and" is min (PyTorch's NCCL backend does the same).
_BOOL_OPS = {ReduceOp.SUM: "NCCL_MAX", ReduceOp.MAX: "NCCL_MAX",
             ReduceOp.PRODUCT: "NCCL_MIN", ReduceOp.MIN: "NCCL_MIN"}


def _reduction(op, buf):
    """``(array to hand NCCL, its NCCL type, NCCL's op)`` for reducing ``buf`` with ``op``
    (``collectives.py`` has checked what every backend refuses)."""
    nccl = _nccl()
    if op not in _NCCL_OPS:
        raise TypeError(f"Cannot use ReduceOp.{op.name} with NCCL (the nccl backend has "
                        "SUM, AVG, PRODUCT, MIN and MAX)")
    dtype = buf.dtype
    if dtype == np.bool_:
        return buf.view(np.uint8), nccl.NCCL_UINT8, getattr(nccl, _BOOL_OPS[op])
    if dtype.kind == "c":
        if op is not ReduceOp.SUM:
            raise TypeError(f"ReduceOp.{op.name} on complex tensors ({dtype}) is not "
                            "supported by the nccl backend (NCCL reduces them as pairs of "
                            "reals: SUM and AVG only)")
        real = np.dtype(f"f{dtype.itemsize // 2}")
        return buf.view(real), getattr(nccl, _NCCL_TYPES[real]), nccl.NCCL_SUM
    if dtype not in _NCCL_TYPES:
        raise TypeError(f"the nccl backend cannot reduce {dtype} tensors (NCCL reduces "
                        "int8, uint8, int32, uint32, int64, uint64, float16, float32, "
                        "float64, bool and, by SUM, complex)")
    return buf, getattr(nccl, _NCCL_TYPES[dtype]), getattr(nccl, _NCCL_OPS[op])


def _bytes(buf):
    """``buf`` as bytes: how data that is only moved goes to NCCL, whatever its dtype."""
    return buf.reshape(-1).view(np.uint8)


class NCCLBackend:
    """A communicator over NCCL on one device: ``rank`` and ``size`` within it, and the
    operations of ``backend/mpi.py``, each on C-contiguous CuPy arrays of that device,
    each returning a request with ``test()``."""

    name = "nccl"
    device_type = "cuda"          # where its tensors live
    thread_multiple = False       # a GPU stream needs no thread to move forward

    def __init__(self, bootstrap, device):
        cupy = _cupy()
        self.bootstrap = bootstrap              # an MPIBackend over the same ranks
        self.rank, self.size = bootstrap.rank, bootstrap.size
        self.device = device
        self.xp = cupy
        self.array_type = cupy.ndarray
        nccl = _nccl()
        uid = nccl.get_unique_id() if self.rank == 0 else None
        uid = bootstrap.comm.bcast(uid, root=0)
        with cupy.cuda.Device(device):
            self.comm = nccl.NcclCommunicator(self.size, uid, self.rank)
            self.stream = cupy.cuda.Stream(non_blocking=True)

    @classmethod
    def world(cls, device_id=None):
        """The backend over all processes of the MPI job, on ``device_id`` (see the module
        docstring for the default), which becomes the current device."""
        from autogradx import cuda
        bootstrap = MPIBackend.world()
        device_id = cuda._chosen_device() if device_id is None else cuda._index(device_id)
        if device_id is None:
            device_id = bootstrap.rank % _cupy().cuda.runtime.getDeviceCount()
        cuda.set_device(device_id)
        return cls(bootstrap, cuda.current_device())

    def split(self, ranks):
        """The backend over ``ranks`` (ranks of this one), or None on the others; every
        rank of this backend must call it."""
        sub = self.bootstrap.split(ranks)
        return None if sub is None else NCCLBackend(sub, self.device)

    def close(self):
        self.comm.destroy()
        self.bootstrap.close()

    abort = staticmethod(MPIBackend.abort)

    def owns(self, arr):
        """Whether CuPy array ``arr`` is on this communicator's device."""
        return arr.device.id == self.device

    # -- operations ------------------------------------------------------------

    def allreduce(self, buf, op):
        data, dtype, nccl_op = _reduction(op, buf)
        return self._launch([buf], lambda s: self.comm.allReduce(
            data.data.ptr, data.data.ptr, data.size, dtype, nccl_op, s.ptr))

    def reduce(self, buf, op, root):
        data, dtype, nccl_op = _reduction(op, buf)
        return self._launch([buf], lambda s: self.comm.reduce(
            data.data.ptr, data.data.ptr, data.size, dtype, nccl_op, root, s.ptr))

    def broadcast(self, buf, root):
        data = _bytes(buf)
        return self._launch([buf], lambda s: self.comm.broadcast(
            data.data.ptr, data.data.ptr, data.size, _nccl().NCCL_UINT8, root, s.ptr))

    def allgather(self, send, recv):
        data = _bytes(send)
        return self._launch([send, recv], lambda s: self.comm.allGather(
            data.data.ptr, recv.data.ptr, data.size, _nccl().NCCL_UINT8, s.ptr))

    def reduce_scatter(self, send, recv, op):
        data, dtype, nccl_op = _reduction(op, send)
        out, _, _ = _reduction(op, recv)
        return self._launch([send, recv], lambda s: self.comm.reduceScatter(
            data.data.ptr, out.data.ptr, out.size, dtype, nccl_op, s.ptr))

    def gather(self, send, recv, root):
        def post(s):
            if self.rank != root:
                self._send(send, root, s)
                return
            for peer in range(self.size):
                if peer == self.rank:
                    with s:                 # a copy on our stream, in order with the rest
                        self.xp.copyto(recv[peer], send)
                else:
                    self._recv(recv[peer], peer, s)
        return self._launch([send, recv], post, group=True)

    def scatter(self, send, recv, root):
        def post(s):
            if self.rank != root:
                self._recv(recv, root, s)
                return
            for peer in range(self.size):
                if peer == self.rank:
                    with s:
                        self.xp.copyto(recv, send[peer])
                else:
                    self._send(send[peer], peer, s)
        return self._launch([send, recv], post, group=True)

    def send(self, buf, dst, tag):
        return self._launch([buf], lambda s: self._send(buf, dst, s))

    def recv(self, buf, src, tag):
        if src is None:
            raise RuntimeError("the nccl backend cannot receive from any rank (NCCL has no "
                               "wildcard source): pass src")
        request = self._launch([buf], lambda s: self._recv(buf, src, s))
        request.source = src
        return request

    def batch(self, ops):
        """``ops``: ``("send" | "recv", buf, peer, tag)`` each, in one NCCL group; one
        request (the group's) per op."""
        def post(s):
            for kind, buf, peer, _ in ops:
                (self._send if kind == "send" else self._recv)(buf, peer, s)
        request = self._launch([buf for _, buf, _, _ in ops], post, group=True)
        return [request] * len(ops)

    def barrier(self):
        return self.allreduce(self.xp.zeros(1, dtype=np.float32), ReduceOp.SUM)

    # NCCL ignores tags (so does PyTorch's NCCL backend): messages between two ranks
    # match in the order they were posted.
    def _send(self, buf, peer, stream):
        data = _bytes(buf)
        self.comm.send(data.data.ptr, data.size, _nccl().NCCL_UINT8, peer, stream.ptr)

    def _recv(self, buf, peer, stream):
        data = _bytes(buf)
        self.comm.recv(data.data.ptr, data.size, _nccl().NCCL_UINT8, peer, stream.ptr)

    def _launch(self, arrays, post, group=False):
        """Queue ``post(stream)`` on our stream after the caller's queued work
        (in one NCCL group when ``group``); a request for its end."""
        cupy, nccl = _cupy(), _nccl()
        with cupy.cuda.Device(self.device):
            ready = cupy.cuda.Event(disable_timing=True)
            ready.record(cupy.cuda.get_current_stream())
            self.stream.wait_event(ready)
            if group:
                nccl.groupStart()
                try:
                    post(self.stream)
                finally:
                    nccl.groupEnd()
            else:
                post(self.stream)
            done = cupy.cuda.Event(disable_timing=True)
            done.record(self.stream)
        return _Request(done, arrays)
