"""The collective and point-to-point operations on tensors, as ``torch.distributed``'s:
``all_reduce``, ``broadcast``, ``all_gather``, ... Each takes ``group`` (the default group
for None) and ``async_op`` (True: return a :class:`Work` at once; False: wait, return None).

Tensors must be on the group's device: the CPU for the ``mpi`` backend, the rank's CUDA
device for ``nccl``. A tensor's array (NumPy's, or CuPy's) goes to the backend as it is
when it is C-contiguous: the backend reads and writes the tensor's own memory. A
non-contiguous tensor is staged through a contiguous copy that is written back when the
operation completes; so are the lists of tensors that ``all_gather``, ``gather``,
``scatter`` and ``reduce_scatter`` take, which the backends need as one buffer. Outputs are
written in place, as in PyTorch, and their version counter is bumped (saved-tensor checks
see the change).
"""

import warnings

from autogradx._core.tensor import TensorBase
from autogradx.distributed import progress
from autogradx.distributed.process_group import GroupMember, resolve
from autogradx.distributed.reduce_op import ReduceOp
from autogradx.distributed.work import Work

__all__ = [
    "all_reduce", "reduce", "broadcast", "all_gather", "all_gather_into_tensor",
    "reduce_scatter", "reduce_scatter_tensor", "gather", "scatter", "send", "recv",
    "isend", "irecv", "barrier", "P2POp", "batch_isend_irecv",
]


# -- checks and buffers ----------------------------------------------------------------

def _array(g, op, name, tensor):
    """The array behind ``tensor`` (argument ``name`` of ``op``), checked to be on
    group ``g``'s device."""
    if not isinstance(tensor, TensorBase):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(tensor).__name__}")
    arr = tensor._data
    comm = g.comm
    if type(arr) is not comm.array_type:
        where = "CPU" if comm.device_type == "cpu" else comm.device_type
        raise RuntimeError(f"{op}: the {g.backend_name} backend takes {where} tensors; "
                           f"{name} is on {tensor.device}")
    if not comm.owns(arr):
        raise RuntimeError(f"{op}: {name} is on {tensor.device}, but this rank's "
                           f"{g.backend_name} communicator is on {comm.device_type}:"
                           f"{comm.device} (autogradx.cuda.set_device, or device_id of "
                           "init_process_group, chooses it)")
    return arr


def _arrays(g, op, name, tensors, like):
    """The arrays of list ``tensors``: one per rank of ``g``, each of ``like``'s shape and
    dtype."""
    if not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: {name} must be a list of tensors, got "
                        f"{type(tensors).__name__}")
    if len(tensors) != g.size():
        raise ValueError(f"{op}: {name} has {len(tensors)} tensors, the group has "
                         f"{g.size()} ranks (one tensor per rank)")
    arrays = [_array(g, op, f"{name}[{i}]", t) for i, t in enumerate(tensors)]
    for i, a in enumerate(arrays):
        if a.shape != like.shape or a.dtype != like.dtype:
            raise ValueError(f"{op}: {name}[{i}] is a {a.dtype} tensor of shape "
                             f"{tuple(a.shape)}, expected {like.dtype} of shape "
                             f"{tuple(like.shape)} (as the input tensor)")
    return arrays


def _same_dtype(op, a, b, names):
    if a.dtype != b.dtype:
        raise TypeError(f"{op}: {names[0]} is {a.dtype} but {names[1]} is {b.dtype}; "
                        "they must have the same dtype")


def _contiguous(g, arr):
    """``arr`` itself when the backend can use its memory, else a contiguous copy."""
    return arr if arr.flags.c_contiguous else g.comm.xp.ascontiguousarray(arr)


def _check_op(op_name, op, arr):
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{op_name}: op must be a ReduceOp (e.g. ReduceOp.SUM), got {op!r}")
    kind = arr.dtype.kind
    if op is ReduceOp.AVG and kind not in "fc":
        raise TypeError(f"{op_name}: ReduceOp.AVG needs a floating point or complex tensor, "
                        f"got {arr.dtype} (an integer mean would be rounded)")
    if op in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR) and kind not in "biu":
        raise TypeError(f"{op_name}: ReduceOp.{op.name} is bitwise and needs an integer or "
                        f"bool tensor, got {arr.dtype}")
    if op in (ReduceOp.MIN, ReduceOp.MAX) and kind == "c":
        raise TypeError(f"{op_name}: ReduceOp.{op.name} is not defined on complex tensors "
                        f"({arr.dtype})")
    return ReduceOp.SUM if op is ReduceOp.AVG else op


def _describe(op, arr, g):
    """What the operation is, for its errors: a function, formatted only when needed."""
    return lambda: (f"{op} ({arr.dtype} tensor of shape {tuple(arr.shape)}) on rank "
                    f"{g.rank()} of {g.size()}")


def _root(g, rank, group_rank, role):
    """The group rank of the root, from a global rank or a group one (not both)."""
    if rank is not None and group_rank is not None:
        raise ValueError(f"Can not specify both {role} and group_{role}")
    if group_rank is not None:
        if not 0 <= group_rank < g.size():
            raise ValueError(f"group_{role}={group_rank} is out of range for a group of "
                             f"{g.size()}")
        return group_rank
    return g.group_rank(0 if rank is None else rank, role)


def _member(op, group):
    """The group to run on, or None (with PyTorch's warning) on a rank outside it."""
    g = resolve(group)
    if g is GroupMember.NON_GROUP_MEMBER:
        warnings.warn(f"Running {op} on global rank {resolve(None).rank()} which does not "
                      "belong to the given group.", stacklevel=3)
        return None
    return g


def _run(g, what, requests, async_op, finish=None, result=None):
    work = Work(requests, what, g.timeout, finish, result)
    if async_op:
        if progress.enabled(g.comm):
            progress.watch(work)
        return work
    work.wait()
    return None


def _write_back(g, pairs, tensors, post=None):
    """A ``finish``: ``post`` on the received buffers, copy each staged buffer into its
    destination array, bump the destinations' versions."""
    def finish():
        for buf, dest in pairs:
            if post is not None:
                post(buf)
        for buf, dest in pairs:
            if buf is not dest:
                g.comm.xp.copyto(dest, buf.reshape(dest.shape))
        for t in tensors:
            t._bump_version()
    return finish


def _average(size):
    def divide(buf):
        buf /= size
    return divide


# -- collectives -----------------------------------------------------------------------

def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``tensor`` over the group with ``op``; every rank gets the result in place."""
    g = _member("all_reduce", group)
    if g is None:
        return None
    arr = _array(g, "all_reduce", "tensor", tensor)
    mpi_op = _check_op("all_reduce", op, arr)
    buf = _contiguous(g, arr)
    request = g.comm.allreduce(buf, mpi_op)
    post = _average(g.size()) if op is ReduceOp.AVG else None
    return _run(g, _describe("all_reduce", arr, g), [request], async_op,
                _write_back(g, [(buf, arr)], [tensor], post), [tensor])


def reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    """Reduce ``tensor`` over the group with ``op`` into ``tensor`` on rank ``dst``
    (the others' tensors are left as they were)."""
    g = _member("reduce", group)
    if g is None:
        return None
    arr = _array(g, "reduce", "tensor", tensor)
    mpi_op = _check_op("reduce", op, arr)
    root = _root(g, dst, group_dst, "dst")
    buf = _contiguous(g, arr)
    request = g.comm.reduce(buf, mpi_op, root)
    mine = g.rank() == root
    post = _average(g.size()) if op is ReduceOp.AVG and mine else None
    return _run(g, _describe("reduce", arr, g), [request], async_op,
                _write_back(g, [(buf, arr)] if mine else [], [tensor] if mine else [], post),
                [tensor])


def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):
    """Copy ``tensor`` of rank ``src`` into ``tensor`` on every rank."""
    g = _member("broadcast", group)
    if g is None:
        return None
    arr = _array(g, "broadcast", "tensor", tensor)
    root = _root(g, src, group_src, "src")
    buf = _contiguous(g, arr)
    request = g.comm.broadcast(buf, root)
    return _run(g, _describe("broadcast", arr, g), [request], async_op,
                _write_back(g, [(buf, arr)], [tensor]), [tensor])


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Fill ``tensor_list[i]`` with rank ``i``'s ``tensor``, on every rank."""
    g = _member("all_gather", group)
    if g is None:
        return None
    arr = _array(g, "all_gather", "tensor", tensor)
    outs = _arrays(g, "all_gather", "tensor_list", tensor_list, arr)
    recv = g.comm.xp.empty((g.size(),) + arr.shape, dtype=arr.dtype)
    request = g.comm.allgather(_contiguous(g, arr), recv)
    return _run(g, _describe("all_gather", arr, g), [request], async_op,
                _write_back(g, list(zip(recv, outs)), tensor_list), list(tensor_list))


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """``output_tensor`` gets every rank's ``input_tensor`` one after the other (its
    first dimension ``size`` times the input's, or a leading dimension of ``size``)."""
    g = _member("all_gather_into_tensor", group)
    if g is None:
        return None
    src = _array(g, "all_gather_into_tensor", "input_tensor", input_tensor)
    out = _array(g, "all_gather_into_tensor", "output_tensor", output_tensor)
    _same_dtype("all_gather_into_tensor", out, src, ("output_tensor", "input_tensor"))
    if out.size != g.size() * src.size:
        raise ValueError(f"all_gather_into_tensor: output tensor size must be equal to "
                         f"world_size times input tensor size (output {tuple(out.shape)}, "
                         f"input {tuple(src.shape)}, world_size {g.size()})")
    buf = _contiguous(g, out)
    request = g.comm.allgather(_contiguous(g, src), buf)
    return _run(g, _describe("all_gather_into_tensor", src, g), [request], async_op,
                _write_back(g, [(buf, out)], [output_tensor]), [output_tensor])


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``input_list[i]`` over the group with ``op`` into ``output`` on rank ``i``."""
    g = _member("reduce_scatter", group)
    if g is None:
        return None
    out = _array(g, "reduce_scatter", "output", output)
    ins = _arrays(g, "reduce_scatter", "input_list", input_list, out)
    return _reduce_scatter("reduce_scatter", g, output, out, g.comm.xp.stack(ins), op, async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``input`` (``size`` times ``output``'s elements) over the group with ``op``;
    rank ``i`` gets the ``i``-th block of the result in ``output``."""
    g = _member("reduce_scatter_tensor", group)
    if g is None:
        return None
    out = _array(g, "reduce_scatter_tensor", "output", output)
    src = _array(g, "reduce_scatter_tensor", "input", input)
    _same_dtype("reduce_scatter_tensor", out, src, ("output", "input"))
    if src.size != g.size() * out.size:
        raise ValueError(f"reduce_scatter_tensor: input tensor must be the same size as "
                         f"output size times world size (input {tuple(src.shape)}, output "
                         f"{tuple(out.shape)}, world_size {g.size()})")
    return _reduce_scatter("reduce_scatter_tensor", g, output, out, _contiguous(g, src), op,
                           async_op)


def _reduce_scatter(name, g, output, out, send, op, async_op):
    mpi_op = _check_op(name, op, out)
    buf = _contiguous(g, out)
    request = g.comm.reduce_scatter(send, buf, mpi_op)
    post = _average(g.size()) if op is ReduceOp.AVG else None
    return _run(g, _describe(name, out, g), [request], async_op,
                _write_back(g, [(buf, out)], [output], post), [output])


def gather(tensor, gather_list=None, dst=None, group=None, async_op=False, group_dst=None):
    """On rank ``dst``, fill ``gather_list[i]`` with rank ``i``'s ``tensor``; the other
    ranks pass no list."""
    g = _member("gather", group)
    if g is None:
        return None
    arr = _array(g, "gather", "tensor", tensor)
    root = _root(g, dst, group_dst, "dst")
    if g.rank() == root:
        outs = _arrays(g, "gather", "gather_list", gather_list, arr)
        recv = g.comm.xp.empty((g.size(),) + arr.shape, dtype=arr.dtype)
        pairs, written = list(zip(recv, outs)), list(gather_list)
    else:
        if gather_list:
            raise ValueError("Argument ``gather_list`` must NOT be specified on "
                             "non-destination ranks.")
        recv, pairs, written = None, [], []
    request = g.comm.gather(_contiguous(g, arr), recv, root)
    return _run(g, _describe("gather", arr, g), [request], async_op,
                _write_back(g, pairs, written), written)


def scatter(tensor, scatter_list=None, src=None, group=None, async_op=False, group_src=None):
    """Rank ``i`` receives ``scatter_list[i]`` of rank ``src`` into ``tensor``; the other
    ranks pass no list."""
    g = _member("scatter", group)
    if g is None:
        return None
    arr = _array(g, "scatter", "tensor", tensor)
    root = _root(g, src, group_src, "src")
    if g.rank() == root:
        send = g.comm.xp.stack(_arrays(g, "scatter", "scatter_list", scatter_list, arr))
    else:
        if scatter_list:
            raise ValueError("Argument ``scatter_list`` must NOT be specified on "
                             "non-source ranks.")
        send = None
    buf = _contiguous(g, arr)
    request = g.comm.scatter(send, buf, root)
    return _run(g, _describe("scatter", arr, g), [request], async_op,
                _write_back(g, [(buf, arr)], [tensor]), [tensor])


def barrier(group=None, async_op=False, device_ids=None):
    """Wait until every rank of the group has reached this call."""
    g = _member("barrier", group)
    if g is None:
        return None
    return _run(g, lambda: f"barrier on rank {g.rank()} of {g.size()}", [g.comm.barrier()],
                async_op)


# -- point to point --------------------------------------------------------------------

def _point(name, tensor, peer, group, group_peer, sending):
    """A send (``sending``) or receive of ``tensor``, checked and staged but not posted:
    ``(group, peer's group rank or None for any, buffer, finish, what)``, or None on a rank
    outside ``group``."""
    g = _member(name, group)
    if g is None:
        return None
    arr = _array(g, name, "tensor", tensor)
    # A receive from any rank for no peer; a send goes to rank 0 then (PyTorch's default).
    anyone = not sending and peer is None and group_peer is None
    rank = None if anyone else _root(g, peer, group_peer, "dst" if sending else "src")
    if rank == g.rank():
        raise ValueError(f"Invalid {'destination' if sending else 'source'} rank: should not "
                         "be the same as rank of the current process.")
    buf = _contiguous(g, arr)
    if sending:
        # ``buf`` stays referenced by the finish until the backend is done reading it.
        finish, what = (lambda: buf), f"send to rank {rank}"
    else:
        finish = _write_back(g, [(buf, arr)], [tensor])
        what = f"recv from {'any rank' if rank is None else f'rank {rank}'}"
    return g, rank, buf, finish, _describe(what, arr, g)


def isend(tensor, dst=None, group=None, tag=0, group_dst=None):
    """Start sending ``tensor`` to rank ``dst``; returns the :class:`Work`."""
    point = _point("isend", tensor, dst, group, group_dst, True)
    if point is None:
        return None
    g, peer, buf, finish, what = point
    return _run(g, what, [g.comm.send(buf, peer, tag)], True, finish, [tensor])


def irecv(tensor, src=None, group=None, tag=0, group_src=None):
    """Start receiving into ``tensor`` from rank ``src`` (any rank for None); returns the
    :class:`Work`."""
    work, _ = _irecv("irecv", tensor, src, group, tag, group_src)
    return work


def _irecv(name, tensor, src, group, tag, group_src):
    point = _point(name, tensor, src, group, group_src, False)
    if point is None:
        return None, None
    g, peer, buf, finish, what = point
    request = g.comm.recv(buf, peer, tag)
    return _run(g, what, [request], True, finish, [tensor]), (g, request)


class P2POp:
    """One send or receive for :func:`batch_isend_irecv`: ``op`` is :func:`isend` or
    :func:`irecv`, ``peer`` the other rank (global; ``group_peer``: within ``group``)."""

    def __init__(self, op, tensor, peer=None, group=None, tag=0, group_peer=None):
        if op not in (isend, irecv):
            raise ValueError("Invalid ``op``. Expected ``op`` to be of type "
                             "``autogradx.distributed.isend`` or "
                             "``autogradx.distributed.irecv``.")
        self.op, self.tensor, self.peer = op, tensor, peer
        self.group, self.tag, self.group_peer = group, tag, group_peer


def batch_isend_irecv(p2p_op_list):
    """Start every send and receive of ``p2p_op_list`` (:class:`P2POp`, all on one group)
    at once; returns their :class:`Work` objects. On ``nccl`` they go in one NCCL group,
    so that ranks sending to each other do not wait for each other's receive: exchanges
    such as a ring need this there, as in PyTorch."""
    if not p2p_op_list or not all(isinstance(p, P2POp) for p in p2p_op_list):
        raise ValueError("batch_isend_irecv expects a non-empty list of P2POp, got "
                         f"{p2p_op_list!r}")
    if len({id(p.group) for p in p2p_op_list}) != 1:
        raise ValueError("All ops need to use the same group.")
    points = [_point(p.op.__name__, p.tensor, p.peer, p.group, p.group_peer, p.op is isend)
              for p in p2p_op_list]
    if points[0] is None:
        return []
    g = points[0][0]
    for p, (_, peer, _, _, _) in zip(p2p_op_list, points):
        if peer is None:
            raise ValueError("batch_isend_irecv: an irecv needs its peer (no receive from "
                             "any rank in a batch)")
    requests = g.comm.batch([("send" if p.op is isend else "recv", buf, peer, p.tag)
                             for p, (_, peer, buf, _, _) in zip(p2p_op_list, points)])
    return [_run(g, what, [request], True, finish, [p.tensor])
            for p, (_, _, _, finish, what), request in zip(p2p_op_list, points, requests)]


def send(tensor, dst=None, group=None, tag=0, group_dst=None):
    """Send ``tensor`` to rank ``dst`` and wait until it has gone."""
    work = isend(tensor, dst, group, tag, group_dst)
    if work is not None:
        work.wait()


def recv(tensor, src=None, group=None, tag=0, group_src=None):
    """Receive into ``tensor`` from rank ``src`` (any rank for None); returns the sender's
    global rank."""
    work, handle = _irecv("recv", tensor, src, group, tag, group_src)
    if work is None:
        return -1
    work.wait()
    g, request = handle
    return g.global_ranks[request.source]
