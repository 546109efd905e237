"""Running the scripts of tests/distributed on several ranks (test_mpi.py, test_nccl.py):
each script prints ``rank R of N: WHAT ok`` when it has checked itself."""

import os
import subprocess
import sys
from pathlib import Path

from autogradx.distributed.backend import find_mpiexec

SCRIPTS = Path(__file__).resolve().parent / "distributed"
MPIEXEC = find_mpiexec()


def run_ranks(n, script, *args, timeout=300, env=None):
    """``script`` (of tests/distributed) on ``n`` ranks, under mpiexec; a group of one
    runs as a plain process where there is no mpiexec."""
    if MPIEXEC is None and n != 1:
        raise AssertionError(f"{n} ranks need mpiexec, and there is none beside this Python "
                             "or on PATH")
    launch = [] if MPIEXEC is None else [MPIEXEC, "-n", str(n)]
    return subprocess.run([*launch, sys.executable, str(SCRIPTS / script), *args],
                          capture_output=True, text=True, timeout=timeout,
                          env=None if env is None else {**os.environ, **env})


def assert_ran(proc, n, what):
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    for r in range(n):
        assert f"rank {r} of {n}: {what} ok" in proc.stdout, proc.stdout
