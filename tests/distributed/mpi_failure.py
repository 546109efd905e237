"""Run under ``mpiexec -n 2`` (tests/distributed/test_mpi.py): rank 1 fails in the way
``sys.argv[1]`` names while rank 0 waits in an ``all_reduce``; the job must end, non-zero,
within the timeout rather than hang.

  raise  rank 1 raises ValueError            -> its excepthook aborts the job (MPI_Abort)
  exit   rank 1 ends early, normally (sys.exit(0)) -> rank 0's wait runs out after 3 s and
         raises, which aborts the job
  kill   rank 1 is killed by SIGKILL          -> mpiexec ends the job
"""

import datetime
import os
import signal
import sys

import autogradx as torch
import autogradx.distributed as dist

how = sys.argv[1]
dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=3))
if dist.get_rank() == 1:
    if how == "raise":
        raise ValueError("rank 1 gives up")
    if how == "exit":
        sys.exit(0)
    if how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
dist.all_reduce(torch.ones(4))
print("rank 0 finished an all_reduce without rank 1", flush=True)
