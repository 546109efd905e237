"""The ``mpi`` backend: collectives on NumPy arrays through mpi4py's buffer interface.

Every operation is MPI's non-blocking form (``Iallreduce``, ``Ibcast``, ...) and returns a
request with ``test()``; ``Work`` turns that into waiting under a deadline. The arrays given
here are C-contiguous and go to MPI as they are: MPI reads and writes their memory, no copy.
mpi4py is imported when a process group is made, never by ``import autogradx``.
"""

import numpy as np

from autogradx.distributed.errors import DistBackendError
from autogradx.distributed.reduce_op import ReduceOp

__all__ = ["MPIBackend"]


_MPI = None


def _mpi():
    """mpi4py's ``MPI`` module, imported at first use (an import statement per operation
    costs more than a small operation)."""
    global _MPI
    if _MPI is None:
        from mpi4py import MPI
        _MPI = MPI
    return _MPI


class _Request:
    """One MPI request; for a receive, also who sent it (``source``) once done."""

    def __init__(self, request, status=None):
        self._request = request
        self._status = status
        self.source = None

    def test(self):
        done = self._request.Test(self._status) if self._status is not None \
            else self._request.Test()
        if done and self._status is not None:
            self.source = self._status.Get_source()
        return done


class MPIBackend:
    """A communicator: ``rank`` and ``size`` within it, and the operations, each on
    C-contiguous NumPy arrays, each returning a request with ``test()``."""

    name = "mpi"
    device_type = "cpu"           # where its tensors live
    xp = np
    array_type = np.ndarray

    @staticmethod
    def owns(arr):
        return True

    def __init__(self, comm):
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        # Whether another thread may call MPI meanwhile (progress.py).
        self.thread_multiple = _mpi().Query_thread() == _mpi().THREAD_MULTIPLE

    @classmethod
    def world(cls):
        """The backend over all processes of the MPI job (rank and size from the launcher)."""
        return cls(_mpi().COMM_WORLD)

    def split(self, ranks):
        """The backend over ``ranks`` (ranks of this one, in that order), or None on the
        others. Every rank of this backend must call it."""
        MPI = _mpi()
        member = self.rank in ranks
        comm = self.comm.Split(0 if member else MPI.UNDEFINED,
                               ranks.index(self.rank) if member else 0)
        return MPIBackend(comm) if member else None

    def close(self):
        if self.comm != _mpi().COMM_WORLD:
            self.comm.Free()

    @staticmethod
    def abort(code):
        """End every process of the job now (``MPI_Abort`` on the world communicator)."""
        _mpi().COMM_WORLD.Abort(code)

    # -- operations ------------------------------------------------------------

    def allreduce(self, buf, op):
        return self._call("Iallreduce", _mpi().IN_PLACE, buf, _mpi_op(op, buf))

    def reduce(self, buf, op, root):
        send, recv = (_mpi().IN_PLACE, buf) if self.rank == root else (buf, None)
        return self._call("Ireduce", send, recv, _mpi_op(op, buf), root)

    def broadcast(self, buf, root):
        return self._call("Ibcast", buf, root)

    def allgather(self, send, recv):
        return self._call("Iallgather", send, recv)

    def reduce_scatter(self, send, recv, op):
        return self._call("Ireduce_scatter_block", send, recv, _mpi_op(op, send))

    def gather(self, send, recv, root):
        return self._call("Igather", send, recv, root)

    def scatter(self, send, recv, root):
        return self._call("Iscatter", send, recv, root)

    def send(self, buf, dst, tag):
        return self._call("Isend", buf, dst, tag)

    def recv(self, buf, src, tag):
        MPI = _mpi()
        status = MPI.Status()
        try:
            request = self.comm.Irecv(buf, MPI.ANY_SOURCE if src is None else src, tag)
        except MPI.Exception as exc:
            raise _error("Irecv", exc) from None
        return _Request(request, status)

    def batch(self, ops):
        """``ops``: ``("send" | "recv", buf, peer, tag)`` each; one request per op."""
        return [self.send(buf, peer, tag) if kind == "send" else self.recv(buf, peer, tag)
                for kind, buf, peer, tag in ops]

    def barrier(self):
        return self._call("Ibarrier")

    def _call(self, name, *args):
        MPI = _mpi()
        try:
            return _Request(getattr(self.comm, name)(*args))
        except MPI.Exception as exc:
            raise _error(name, exc) from None


def _error(name, exc):
    return DistBackendError(f"MPI_{name} failed: {exc.Get_error_string()}")


_ARITHMETIC = {ReduceOp.SUM: "SUM", ReduceOp.PRODUCT: "PROD", ReduceOp.MIN: "MIN",
               ReduceOp.MAX: "MAX", ReduceOp.BAND: "BAND", ReduceOp.BOR: "BOR",
               ReduceOp.BXOR: "BXOR"}
# On bool tensors PyTorch's sum and max are "or", product and min are "and"; MPI's
# arithmetic operations are not defined on MPI_C_BOOL, its logical ones are.
_LOGICAL = {ReduceOp.SUM: "LOR", ReduceOp.MAX: "LOR", ReduceOp.BOR: "LOR",
            ReduceOp.PRODUCT: "LAND", ReduceOp.MIN: "LAND", ReduceOp.BAND: "LAND",
            ReduceOp.BXOR: "LXOR"}


def _mpi_op(op, buf):
    table = _LOGICAL if buf.dtype == np.bool_ else _ARITHMETIC
    return getattr(_mpi(), table[op])
