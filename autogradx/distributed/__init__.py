"""``autogradx.distributed``: data-parallel training over MPI (CPU tensors) or NCCL
(cuda tensors, through CuPy), with the API of ``torch.distributed``.

Processes are started by an MPI launcher (``mpiexec -n 2 python script.py``, or
``python -m autogradx.distributed.run -n 2 script.py``), join with
``init_process_group("mpi")`` (or ``"nccl"``) and then run collectives on the backend's
tensors: ``all_reduce``, ``broadcast``, ``all_gather``, ... (``collectives.py``), each
with ``async_op=True`` returning a :class:`Work`.
``autogradx.nn.parallel.DistributedDataParallel`` averages gradients with them and
``autogradx.utils.data.distributed.DistributedSampler`` splits the data. mpi4py and an MPI
library come with ``pip install "autogradx[distributed]"``; nothing here imports them
before ``init_process_group``. The ``nccl`` backend needs CuPy with NCCL and a GPU besides
(``backend/nccl.py``). See docs/distributed.md.
"""

import importlib.util

from autogradx.distributed.collectives import (
    P2POp, all_gather, all_gather_into_tensor, all_reduce, barrier, batch_isend_irecv,
    broadcast, gather, irecv, isend, recv, reduce, reduce_scatter, reduce_scatter_tensor,
    scatter, send,
)
from autogradx.distributed.errors import DistBackendError, DistError
from autogradx.distributed.process_group import (
    GroupMember, ProcessGroup, default_pg_timeout, destroy_process_group, get_backend,
    get_process_group_ranks, get_rank, get_world_size, group, init_process_group,
    is_initialized, new_group,
)
from autogradx.distributed.reduce_op import ReduceOp
from autogradx.distributed.work import Work

__all__ = [
    "DistBackendError", "DistError", "GroupMember", "P2POp", "ProcessGroup", "ReduceOp",
    "Work", "all_gather", "all_gather_into_tensor", "all_reduce", "barrier",
    "batch_isend_irecv", "broadcast",
    "default_pg_timeout", "destroy_process_group", "gather", "get_backend",
    "get_process_group_ranks", "get_rank", "get_world_size", "group", "init_process_group",
    "irecv", "is_available", "is_initialized", "is_mpi_available", "is_nccl_available",
    "isend", "new_group", "recv", "reduce", "reduce_scatter", "reduce_scatter_tensor",
    "scatter", "send",
]


def is_available():
    """True: the package is always there (whether a backend works: ``is_mpi_available``)."""
    return True


def is_mpi_available():
    """Whether mpi4py is installed (``pip install "autogradx[distributed]"``)."""
    return importlib.util.find_spec("mpi4py") is not None


def is_nccl_available():
    """Whether the nccl backend can start here: CuPy with NCCL, a GPU, and mpi4py (the
    reason when not: ``python -m autogradx info``)."""
    from autogradx.distributed.backend.nccl import unavailable_reason
    return unavailable_reason() is None
