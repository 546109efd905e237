"""Run under ``mpiexec -n N`` (tests/distributed/test_mpi.py, and test_nccl.py for the
``nccl`` backend: ``backend_choice.py``): every collective and point-to-point operation of
``autogradx.distributed`` against NumPy.

Rank r's inputs come from ``numpy.random.default_rng(SEED + r)``, so every rank can compute
what every other rank sent and so the expected result of each operation. Exits non-zero
(through the uncaught AssertionError, which aborts the job) at the first mismatch.
"""

import datetime
import os
import time
import warnings

import numpy as np

import autogradx as torch
import autogradx.distributed as dist
from autogradx.distributed import ReduceOp
from backend_choice import BACKEND, DEVICE, DOUBLE, host, on_device

SEED = 100
SHAPE = (3, 4)
NCCL = BACKEND == "nccl"

dist.init_process_group(BACKEND, timeout=datetime.timedelta(seconds=60))
rank, size = dist.get_rank(), dist.get_world_size()
assert dist.is_initialized() and dist.get_backend() == BACKEND
torch.set_default_device(DEVICE)          # torch.zeros(...) and the like: on the device


def data(r, dtype, shape=SHAPE, salt=0):
    """Rank ``r``'s input of ``dtype``: small values, so products stay exact."""
    rng = np.random.default_rng(SEED + 17 * salt + r)
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if np.dtype(dtype).kind == "c":
        return (rng.integers(-3, 4, shape) + 1j * rng.integers(-3, 4, shape)).astype(dtype)
    return rng.integers(-3, 4, shape).astype(dtype)


def everyone(dtype, shape=SHAPE, salt=0):
    return [data(r, dtype, shape, salt) for r in range(size)]


NUMPY_REDUCE = {
    ReduceOp.SUM: lambda xs: np.sum(xs, axis=0),
    ReduceOp.AVG: lambda xs: np.sum(xs, axis=0) / len(xs),
    ReduceOp.PRODUCT: lambda xs: np.prod(xs, axis=0),
    ReduceOp.MIN: lambda xs: np.min(xs, axis=0),
    ReduceOp.MAX: lambda xs: np.max(xs, axis=0),
    ReduceOp.BAND: lambda xs: np.bitwise_and.reduce(xs, axis=0),
    ReduceOp.BOR: lambda xs: np.bitwise_or.reduce(xs, axis=0),
    ReduceOp.BXOR: lambda xs: np.bitwise_xor.reduce(xs, axis=0),
}
BOOL_REDUCE = {ReduceOp.SUM: np.any, ReduceOp.MAX: np.any, ReduceOp.PRODUCT: np.all,
               ReduceOp.MIN: np.all}


def expected_reduce(op, xs):
    if xs[0].dtype == np.bool_:
        return BOOL_REDUCE[op](xs, axis=0)
    out = NUMPY_REDUCE[op](np.stack(xs))
    return out.astype(xs[0].dtype)


def check(got, want, what):
    got = host(got) if hasattr(got, "numpy") else got
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype}, expected {want.dtype}"
    assert np.allclose(got, want, rtol=1e-6, atol=0), f"{what}: {got} != {want}"


# -- all_reduce: every op on every dtype it takes, synchronous and async --------------
CASES = [(op, dt) for op in (ReduceOp.SUM, ReduceOp.PRODUCT, ReduceOp.MIN, ReduceOp.MAX)
         for dt in (np.float32, np.float64, np.int32, np.int64, np.float16, np.bool_)]
CASES += [(ReduceOp.AVG, dt) for dt in (np.float32, np.float64, np.complex128)]
CASES += [(op, dt) for op in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR)
          for dt in (np.int32, np.int64, np.uint8)]
CASES += [(op, np.complex64) for op in (ReduceOp.SUM, ReduceOp.PRODUCT)]
# NCCL has no bitwise reductions, and reduces complex numbers as pairs of reals (SUM only).
NCCL_REFUSES = {(op, dt) for op, dt in CASES
                if op in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR)
                or (np.dtype(dt).kind == "c" and op not in (ReduceOp.SUM, ReduceOp.AVG))}
for salt, (op, dt) in enumerate(CASES):
    if NCCL and (op, dt) in NCCL_REFUSES:
        try:
            dist.all_reduce(on_device(data(rank, dt)), op=op)
        except TypeError as exc:
            assert "NCCL" in str(exc) or "nccl" in str(exc), str(exc)
            continue
        raise AssertionError(f"the nccl backend ran all_reduce {op} on {dt}")
    for async_op in (False, True):
        t = on_device(data(rank, dt, salt=salt).copy())
        work = dist.all_reduce(t, op=op, async_op=async_op)
        if async_op:
            assert isinstance(work, dist.Work)
            assert work.wait() is True and work.is_completed() and work.is_success()
            assert work.result() == [t]
        else:
            assert work is None
        check(t, expected_reduce(op, everyone(dt, salt=salt)), f"all_reduce {op} {dt}")

# A contiguous tensor's memory goes to the backend as it is; a transposed one is staged and
# written back; either way the version counter moves.
group = dist.group.WORLD
seen = []
real_allreduce = group.comm.allreduce
group.comm.allreduce = lambda buf, op: (seen.append(buf), real_allreduce(buf, op))[1]
t = on_device(data(rank, np.float32))
version = t._version
dist.all_reduce(t)
assert seen[-1] is t._data, "a contiguous tensor was copied on its way to the backend"
assert t._version == version + 1
base = data(rank, np.float32, (4, 3))
t = on_device(base.copy()).t()
dist.all_reduce(t, op=ReduceOp.MAX)
assert seen[-1] is not t._data and seen[-1].flags.c_contiguous
check(t, np.max(np.stack([data(r, np.float32, (4, 3)) for r in range(size)]), 0).T,
      "all_reduce of a transposed tensor")
group.comm.allreduce = real_allreduce

# Bad input: clear errors before anything is posted (the ranks stay in step).
for bad, kind, text in (
        (lambda: dist.all_reduce(torch.ones(2, dtype=torch.int64), op=ReduceOp.AVG),
         TypeError, "ReduceOp.AVG needs a floating point"),
        (lambda: dist.all_reduce(torch.ones(2), op=ReduceOp.BAND), TypeError, "bitwise"),
        (lambda: dist.all_reduce(torch.ones(2), op="sum"), TypeError, "must be a ReduceOp"),
        (lambda: dist.all_reduce(np.ones(2)), TypeError, "must be a Tensor"),
        (lambda: dist.broadcast(torch.ones(2), src=size), ValueError, "not part of the group"),
        (lambda: dist.all_gather([torch.ones(2)] * (size + 1), torch.ones(2)), ValueError,
         f"the group has {size} ranks"),
        (lambda: dist.all_gather([torch.ones(3)] * size, torch.ones(2)), ValueError,
         "expected float32 of shape (2,)"),
        (lambda: dist.send(torch.ones(2), rank), ValueError, "Invalid destination rank"),
        (lambda: dist.init_process_group(BACKEND), ValueError, "twice"),
        # a tensor on the other device (a cuda one exists with the double or a GPU)
        *([(lambda: dist.all_reduce(torch.ones(2, device="cpu")), RuntimeError,
            "the nccl backend takes cuda tensors; tensor is on cpu")] if NCCL else []),
        *([(lambda: dist.broadcast(torch.ones(2, device="cuda")), RuntimeError,
            "the mpi backend takes CPU tensors; tensor is on cuda:0")]
          if not NCCL and (DOUBLE or torch.cuda.is_available()) else []),
        *([(lambda: dist.all_reduce(torch.ones(2, dtype=torch.int16)), TypeError,
            "the nccl backend cannot reduce int16 tensors"),
           (lambda: dist.recv(torch.ones(2)), RuntimeError,
            "the nccl backend cannot receive from any rank")] if NCCL else [])):
    try:
        bad()
    except kind as exc:
        assert text in str(exc), f"{kind.__name__} says {exc!r}, expected {text!r}"
    else:
        raise AssertionError(f"no {kind.__name__} ({text})")

# -- reduce, broadcast ------------------------------------------------------------------
for root in range(size):
    for op in (ReduceOp.SUM, ReduceOp.AVG, ReduceOp.MAX):
        mine = data(rank, np.float64, salt=root)
        t = on_device(mine.copy())
        dist.reduce(t, dst=root, op=op)
        want = expected_reduce(op, everyone(np.float64, salt=root)) if rank == root else mine
        check(t, want, f"reduce {op} to {root}")
    t = on_device(data(rank, np.int64, salt=root))
    dist.broadcast(t, src=root)
    check(t, data(root, np.int64, salt=root), f"broadcast from {root}")
    t = on_device(data(rank, np.float32, (4, 3), salt=root).copy()).t()
    dist.broadcast(t, src=root, async_op=True).wait()
    check(t, data(root, np.float32, (4, 3), salt=root).T, f"broadcast (transposed) from {root}")

# -- all_gather, all_gather_into_tensor ---------------------------------------------------
ts = [torch.zeros(SHAPE, dtype=torch.float64) for _ in range(size)]
dist.all_gather(ts, on_device(data(rank, np.float64)))
for r in range(size):
    check(ts[r], data(r, np.float64), f"all_gather[{r}]")
for out_shape in ((size * SHAPE[0], SHAPE[1]), (size,) + SHAPE):
    out = torch.zeros(out_shape, dtype=torch.int32)
    dist.all_gather_into_tensor(out, on_device(data(rank, np.int32)), async_op=True).wait()
    check(out, np.stack(everyone(np.int32)).reshape(out_shape), f"all_gather_into_tensor {out_shape}")

# -- reduce_scatter, reduce_scatter_tensor ----------------------------------------------
for op in (ReduceOp.SUM, ReduceOp.AVG, ReduceOp.MIN):
    inputs = [data(rank, np.float32, salt=100 + i) for i in range(size)]
    out = torch.zeros(SHAPE)
    dist.reduce_scatter(out, [on_device(a) for a in inputs], op=op)
    want = expected_reduce(op, [data(r, np.float32, salt=100 + rank) for r in range(size)])
    check(out, want, f"reduce_scatter {op}")
    big = data(rank, np.float64, (size * 2, 5), salt=7)
    out = torch.zeros((2, 5), dtype=torch.float64)
    dist.reduce_scatter_tensor(out, on_device(big), op=op)
    total = expected_reduce(op, everyone(np.float64, (size * 2, 5), salt=7))
    check(out, total[2 * rank:2 * rank + 2], f"reduce_scatter_tensor {op}")

# -- gather, scatter ----------------------------------------------------------------------
for root in range(size):
    mine = on_device(data(rank, np.int64, salt=root))
    lst = [torch.zeros(SHAPE, dtype=torch.int64) for _ in range(size)] if rank == root else None
    dist.gather(mine, lst, dst=root)
    if rank == root:
        for r in range(size):
            check(lst[r], data(r, np.int64, salt=root), f"gather[{r}] to {root}")
    out = torch.zeros(SHAPE)
    pieces = [on_device(data(root, np.float32, salt=50 + i)) for i in range(size)]
    dist.scatter(out, pieces if rank == root else None, src=root)
    check(out, data(root, np.float32, salt=50 + rank), f"scatter from {root}")

# -- point to point: a ring (batched, and on mpi one op at a time), blocking sends to rank 0
# (a group of one has no peer)
if size > 1:
    nxt, prv = (rank + 1) % size, (rank - 1) % size
    got = torch.zeros(SHAPE, dtype=torch.float64)
    works = dist.batch_isend_irecv([
        dist.P2POp(dist.isend, on_device(data(rank, np.float64, salt=8)), nxt),
        dist.P2POp(dist.irecv, got, prv)])
    assert len(works) == 2
    for work in works:
        work.wait()
    check(got, data(prv, np.float64, salt=8), "batch_isend_irecv ring")
    if not NCCL:                           # NCCL: a send waits for its receive (batch it)
        got = torch.zeros(SHAPE)
        sent = dist.isend(on_device(data(rank, np.float32, salt=9)), dst=nxt)
        received = dist.irecv(got, src=prv)
        sent.wait()
        received.wait()
        check(got, data(prv, np.float32, salt=9), "isend/irecv ring")
    if rank == 0:
        senders = set()
        for r in range(1, size):
            t = torch.zeros(2, dtype=torch.int64)
            src = dist.recv(t, src=r if NCCL else None, tag=5)    # nccl: no "any rank"
            check(t, np.array([src, 2 * src]), f"recv (got {src})")
            senders.add(src)
        assert senders == set(range(1, size)), senders
    else:
        dist.send(torch.tensor([rank, 2 * rank]), dst=0, tag=5)
for bad, text in ((lambda: dist.batch_isend_irecv([]), "non-empty list of P2POp"),
                  (lambda: dist.P2POp(dist.send, torch.ones(2), 0), "Invalid ``op``"),
                  (lambda: dist.batch_isend_irecv([dist.P2POp(dist.irecv, torch.ones(2))]),
                   "an irecv needs its peer")):
    try:
        bad()
    except ValueError as exc:
        assert text in str(exc), str(exc)
    else:
        raise AssertionError(f"no ValueError ({text})")

# -- the progress thread completes an operation that nobody waits on ----------------------
if size > 1 and not NCCL:                  # (a GPU stream needs no thread)
    work = dist.all_reduce(torch.ones(4 * 1024 * 1024), async_op=True)     # 16 MB
    deadline = time.monotonic() + 30
    while not work._done and time.monotonic() < deadline:
        time.sleep(0.01)                   # no MPI call from this thread meanwhile
    progress_on = os.environ.get("AUTOGRADX_DIST_PROGRESS", "1") != "0"
    assert work._done == progress_on, f"progress thread on: {progress_on}, done: {work._done}"
    work.wait()

# -- sub-groups: the first and last ranks; the others are left out ----------------------
members = sorted({0, size - 1})
sub = dist.new_group(members)
if rank in members:
    assert dist.get_world_size(sub) == len(members)
    assert dist.get_rank(sub) == members.index(rank)
    assert dist.get_process_group_ranks(sub) == members
    t = on_device(data(rank, np.float64, salt=3))
    dist.all_reduce(t, group=sub)
    check(t, sum(data(r, np.float64, salt=3) for r in members), "sub-group all_reduce")
    t = on_device(data(rank, np.float64, salt=4))
    dist.broadcast(t, src=size - 1, group=sub)           # src: a global rank
    check(t, data(size - 1, np.float64, salt=4), "sub-group broadcast")
else:
    assert sub is dist.GroupMember.NON_GROUP_MEMBER and dist.get_rank(sub) == -1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert dist.all_reduce(torch.ones(2), group=sub) is None
    assert "does not belong to the given group" in str(caught[0].message)

dist.barrier()
dist.barrier(async_op=True).wait()
if NCCL and DOUBLE:
    # Every operation went through the double's NCCL, each of NCCL's calls at least once.
    calls = set(dist.group.WORLD.comm.comm.calls)
    want = {"allReduce", "reduce", "broadcast", "allGather", "reduceScatter"}
    # sends and receives: alone (send, recv) and in NCCL groups (gather, scatter, batches)
    if size > 1:
        want |= {"recv" if rank == 0 else "send", "send in a group", "recv in a group"}
    assert want <= calls, f"NCCL calls made: {sorted(calls)}, expected {sorted(want)}"
dist.destroy_process_group()
assert not dist.is_initialized()
print(f"rank {rank} of {size}: collectives ok", flush=True)
