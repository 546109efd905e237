"""Data-parallel costs over MPI: all-reduce through autogradx.distributed against raw
mpi4py, and a DistributedDataParallel training step against one process.

    python benchmarks/bench_distributed.py [--ranks 2] [--rounds 15] [--quick]

Run plainly, it starts itself under ``mpiexec -n RANKS`` (needs ``pip install
"autogradx[distributed]"``); rank 0 writes the results. Cells (rank 0's clock, all ranks
lined up by a barrier before each timed call, implementations taking turns each round):

* ``allreduce``: SUM of a 4 MB and a 64 MB float32 array, ``dist.all_reduce`` on a tensor
  against mpi4py on the NumPy array behind it: ``comm.Allreduce(MPI.IN_PLACE, array)``,
  and ``comm.Iallreduce(...).Wait()``, the same MPI operation autogradx runs (MPI may
  choose another algorithm for the blocking call).
* ``ddp_step``: one SGD step of an MLP 512-1024x7-10 (six 4 MB hidden layers, so that
  buckets fill one after the other during backward) on a global batch of 512: DDP on
  the ranks (each its share) against one process on the whole batch (the other ranks
  wait meanwhile). Beside it: forward and backward with and without synchronisation
  (``no_sync``), a blocking all-reduce of all the gradients, and the communication that
  backward did not hide: from the moment the last rank had its last gradient to the moment
  the buckets were reduced (the reducer's ``last_gradient_at`` of every rank and its
  ``reduced_at``: ``time.monotonic``, one clock for all processes of a machine), so a
  rank that is merely slower is not counted as communication. The overlap is the share of
  the all-reduce that backward hid: ``1 - exposed / allreduce``.
"""

import os
import subprocess
import sys
import time

import numpy as np

import _common

NAME = "distributed"
SIZES_MB = (4, 64)


def launched_by_mpi():
    return any(k in os.environ for k in ("PMI_RANK", "PMIX_RANK", "OMPI_COMM_WORLD_RANK"))


def timed(run, barrier):
    barrier()
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def rounds_of(runners, rounds, barrier, warmup=1):
    """{impl: [seconds per round]}, the implementations taking turns each round."""
    for run in runners.values():
        for _ in range(warmup):
            timed(run, barrier)
    samples = {impl: [] for impl in runners}
    for _ in range(rounds):
        for impl, run in runners.items():
            samples[impl].append(timed(run, barrier))
    return samples


def stats(samples):
    return {"median_s": float(np.median(samples)), "min_s": float(np.min(samples)),
            "max_s": float(np.max(samples)), "rounds": len(samples)}


def bench_allreduce(dist, comm, rounds):
    from mpi4py import MPI
    import autogradx
    out = []
    for mb in SIZES_MB:
        arr = np.zeros(mb * 1024 * 1024 // 4, dtype=np.float32)   # zeros: sums stay finite
        t = autogradx.from_numpy(arr)
        runners = {
            "autogradx": lambda: dist.all_reduce(t),
            "mpi4py": lambda: comm.Allreduce(MPI.IN_PLACE, arr),
            "mpi4py_nonblocking": lambda: comm.Iallreduce(MPI.IN_PLACE, arr).Wait(),
        }
        samples = rounds_of(runners, rounds, dist.barrier)
        for impl, s in samples.items():
            out.append({"case": "allreduce", "size_mb": mb, "impl": impl, **stats(s),
                        "bandwidth_GBps": mb / 1024 / float(np.median(s))})
    return out


def bench_ddp(dist, rounds, quick, bucket_cap_mb):
    import autogradx
    from autogradx import nn
    rank, size = dist.get_rank(), dist.get_world_size()
    width, depth = 1024, (3 if quick else 6)
    batch = 512
    rng = np.random.default_rng(0)
    X = autogradx.from_numpy(rng.standard_normal((batch, 512)).astype(np.float32))
    y = autogradx.from_numpy(rng.integers(0, 10, batch))
    mine = slice(rank * batch // size, (rank + 1) * batch // size)

    def model():
        autogradx.manual_seed(0)
        hidden = [m for _ in range(depth) for m in (nn.Linear(width, width), nn.ReLU())]
        return nn.Sequential(nn.Linear(512, width), nn.ReLU(), *hidden, nn.Linear(width, 10))

    single, replica = model(), model()
    ddp = nn.parallel.DistributedDataParallel(replica, bucket_cap_mb=bucket_cap_mb)
    opt_single = autogradx.optim.SGD(single.parameters(), lr=1e-3)
    opt_ddp = autogradx.optim.SGD(ddp.parameters(), lr=1e-3)
    loss_fn = nn.functional.cross_entropy
    grads = np.zeros(sum(p.numel() for p in replica.parameters()), dtype=np.float32)

    def ddp_step():
        opt_ddp.zero_grad()
        loss_fn(ddp(X[mine]), y[mine]).backward()
        opt_ddp.step()

    def single_step():
        if rank == 0:
            opt_single.zero_grad()
            loss_fn(single(X), y).backward()
            opt_single.step()

    def local_fwd_bwd():
        opt_ddp.zero_grad()
        loss = loss_fn(ddp(X[mine]), y[mine])
        with ddp.no_sync():
            loss.backward()

    exposed = []
    arrivals = np.zeros(size)

    def ddp_fwd_bwd():
        opt_ddp.zero_grad()
        loss_fn(ddp(X[mine]), y[mine]).backward()
        reducer = ddp.reducer
        dist.all_gather_into_tensor(autogradx.from_numpy(arrivals),
                                    autogradx.tensor([reducer.last_gradient_at],
                                                     dtype=autogradx.float64))
        exposed.append(max(0.0, reducer.reduced_at - arrivals.max()))

    def allreduce_grads():
        dist.all_reduce(autogradx.from_numpy(grads))

    runners = {"ddp_step": ddp_step, "single_step": single_step,
               "local_fwd_bwd": local_fwd_bwd, "ddp_fwd_bwd": ddp_fwd_bwd,
               "allreduce_grads": allreduce_grads}
    samples = rounds_of(runners, rounds, dist.barrier)
    med = {k: float(np.median(v)) for k, v in samples.items()}
    exposed_s = float(np.median(exposed[-rounds:]))
    comm = med["allreduce_grads"]
    overlap = max(0.0, 1.0 - exposed_s / comm)
    shape = (f"MLP 512-{'-'.join([str(width)] * (depth + 1))}-10, global batch {batch}, "
             f"{size} ranks, bucket_cap_mb {bucket_cap_mb:g}")
    out = [{"case": "ddp", "impl": k, "model": shape, **stats(v)} for k, v in samples.items()]
    out.append({"case": "ddp_summary", "model": shape, "exposed_s": exposed_s,
                "allreduce_s": comm, "overlap": overlap,
                "speedup": med["single_step"] / med["ddp_step"],
                "grad_mb": grads.nbytes / 2**20, "buckets": len(ddp.reducer.buckets)})
    return out


def table(records, machine, size, rounds):
    lines = [f"# Distributed (MPI, {size} ranks on one machine)", "",
             "## all_reduce, float32 SUM", "",
             "| size | autogradx (ms) | mpi4py Allreduce (ms) | mpi4py Iallreduce+Wait (ms) "
             "| autogradx / Allreduce | autogradx / Iallreduce | bandwidth (GB/s) |",
             "|---|---|---|---|---|---|---|"]
    ar = {(r["size_mb"], r["impl"]): r for r in records if r["case"] == "allreduce"}
    for mb in SIZES_MB:
        cells = [ar[(mb, impl)] for impl in ("autogradx", "mpi4py", "mpi4py_nonblocking")]
        times = " | ".join(f"{c['median_s'] * 1e3:.2f} ({c['min_s'] * 1e3:.2f}-"
                           f"{c['max_s'] * 1e3:.2f})" for c in cells)
        a, m, n = (c["median_s"] for c in cells)
        lines.append(f"| {mb} MB | {times} | {a / m:.3f} | {a / n:.3f} | "
                     f"{cells[1]['bandwidth_GBps']:.2f} |")
    ddp = {r["impl"]: r for r in records if r["case"] == "ddp"}
    summary = next(r for r in records if r["case"] == "ddp_summary")
    lines += ["", f"## Training step: {summary['model']}", "",
              "| cell | median (ms) | range (ms) |", "|---|---|---|"]
    for impl, r in ddp.items():
        lines.append(f"| {impl} | {r['median_s'] * 1e3:.1f} | {r['min_s'] * 1e3:.1f}-"
                     f"{r['max_s'] * 1e3:.1f} |")
    lines += ["", f"All-reduce of the {summary['grad_mb']:.1f} MB of gradients alone "
              f"{summary['allreduce_s'] * 1e3:.1f} ms; the DDP backward ({summary['buckets']} "
              f"buckets) waited {summary['exposed_s'] * 1e3:.1f} ms for them after the last "
              f"rank's last gradient: overlap {summary['overlap']:.0%}; DDP step "
              f"speed-up over one process {summary['speedup']:.2f}x.",
              "", f"Medians over {rounds} rounds (range: min-max). "
              + _common.machine_line(machine), ""]
    return "\n".join(lines)


def main(argv=None):
    parser = _common.arg_parser(__doc__, rounds=15, quick_rounds=5)
    parser.add_argument("--ranks", type=int, default=2, help="MPI ranks (default 2)")
    parser.add_argument("--bucket-cap-mb", type=float, default=25,
                        help="DDP's bucket_cap_mb (default 25, PyTorch's)")
    args = _common.parse_args(parser, argv)
    if not launched_by_mpi():
        from autogradx.distributed.backend import find_mpiexec
        mpiexec = find_mpiexec()
        if mpiexec is None:
            sys.exit("bench_distributed: needs mpiexec: pip install 'autogradx[distributed]'")
        return subprocess.call([mpiexec, "-n", str(args.ranks), sys.executable,
                                os.path.abspath(__file__)] + sys.argv[1:])
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import autogradx.distributed as dist
    from mpi4py import MPI
    dist.init_process_group("mpi")
    records = bench_allreduce(dist, MPI.COMM_WORLD, args.rounds)
    records += bench_ddp(dist, args.rounds, args.quick, args.bucket_cap_mb)
    if dist.get_rank() == 0:
        machine = _common.machine_info()
        machine["mpi_ranks"] = dist.get_world_size()
        machine["mpi"] = MPI.Get_library_version().splitlines()[0]
        for r in records:
            r["machine"] = machine
        _common.write_results(args.out_dir, NAME, records,
                              table(records, machine, dist.get_world_size(), args.rounds))
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
