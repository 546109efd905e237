"""The ``nccl`` backend, across processes: the scripts of test_mpi.py (every collective
against NumPy, DDP against single-process training) run with ``AUTOGRADX_TEST_BACKEND=nccl``
(``backend_choice.py``).

* On a GPU (``test_on_a_gpu``): real CuPy and NCCL, one rank per GPU, at most two. Skipped
  only where CuPy or a GPU is absent: a GPU machine without mpi4py fails it, with the
  reason.
* Through the test double (``test_double_*``): ``nccl_double.py`` stands in for CuPy's
  NCCL, streams and events, over NumPy and mpi4py. These check autogradx's use of that API
  (pointers, counts, data types, reduce ops, groups, stream ordering, work handles), not
  NCCL; they run wherever mpi4py and mpiexec are. (The refusals, which need none of it:
  test_api.py.)
"""

import importlib.util
import subprocess
import sys

import pytest

from distributed_ranks import MPIEXEC, SCRIPTS, assert_ran, run_ranks

DOUBLE = {"AUTOGRADX_TEST_BACKEND": "nccl", "AUTOGRADX_NCCL_DOUBLE": "1"}


@pytest.fixture
def mpi():
    """The double runs over mpi4py under mpiexec."""
    pytest.importorskip("mpi4py", reason="the NCCL double runs over mpi4py: "
                                         "pip install -e '.[distributed]'")
    if MPIEXEC is None:
        pytest.skip("mpi4py is installed but no mpiexec was found beside this Python or on "
                    "PATH")


@pytest.mark.parametrize("n", [1, 2, 3])
def test_double_collectives_match_numpy(mpi, n):
    assert_ran(run_ranks(n, "mpi_collectives.py", env=DOUBLE), n, "collectives")


@pytest.mark.parametrize("n", [1, 2])
def test_double_ddp_matches_single_process_training(mpi, n):
    assert_ran(run_ranks(n, "mpi_ddp.py", env=DOUBLE), n, "ddp")


def test_double_cuda_tensors_are_refused_by_the_mpi_backend(mpi):
    env = {"AUTOGRADX_TEST_BACKEND": "mpi", "AUTOGRADX_NCCL_DOUBLE": "1"}
    assert_ran(run_ranks(1, "mpi_collectives.py", env=env), 1, "collectives")


def test_double_info_reports_nccl_available(mpi):
    script = ("import nccl_double; nccl_double.install()\n"
              "from autogradx.__main__ import info; info()\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, cwd=SCRIPTS, check=True).stdout
    line = next(line for line in out.splitlines() if line.split()[:1] == ["nccl"])
    assert "available: NCCL 2.19.3, CuPy double, 1 GPU(s); started through mpi4py" in line


def _gpus():
    """How many GPUs CuPy sees, at most two; skips where CuPy or a GPU is absent."""
    if importlib.util.find_spec("cupy") is None:
        pytest.skip("CuPy is not installed: the nccl backend needs it (and a GPU)")
    import cupy
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:            # CuPy without a driver raises its own error types
        pytest.skip(f"no GPU: {type(exc).__name__}: {exc}")
    if count == 0:
        pytest.skip("no GPU: CUDA reports 0 devices")
    return min(count, 2)


@pytest.mark.parametrize("script, what", [("mpi_collectives.py", "collectives"),
                                          ("mpi_ddp.py", "ddp")])
def test_on_a_gpu(script, what):
    n = _gpus()
    assert_ran(run_ranks(n, script, env={"AUTOGRADX_TEST_BACKEND": "nccl"}), n, what)
