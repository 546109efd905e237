"""``autogradx.distributed`` in one process, without MPI: what happens before
``init_process_group``, the refusals of ``init_process_group``, ``Work``'s deadline, the
launcher's command line and ``python -m autogradx info``. (Across processes:
test_mpi.py.)"""

import datetime
import importlib.machinery
import importlib.util
import subprocess
import sys
import types

import pytest

import autogradx as torch
import autogradx.distributed as dist
from autogradx.distributed import run
from autogradx.distributed.work import Work


def test_before_init_process_group_queries_fail_as_in_pytorch():
    assert dist.is_available() and not dist.is_initialized()
    assert dist.group.WORLD is None
    for query in (dist.get_rank, dist.get_world_size, dist.barrier, dist.new_group):
        with pytest.raises(ValueError, match="Default process group has not been initialized"):
            query()
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        dist.all_reduce(torch.ones(2))
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(2, 2))


@pytest.mark.parametrize("kwargs, error, text", [
    (dict(backend="gloo"), ValueError, "Invalid backend: 'gloo'"),
    (dict(device_id=0), ValueError, "device_id=0 is for the nccl backend"),
    (dict(init_method="tcp://10.0.0.1:23456"), ValueError, "leave init_method unset"),
    (dict(store=object()), ValueError, "uses no store"),
    (dict(timeout=5), TypeError, "datetime.timedelta"),
    (dict(timeout=datetime.timedelta(0)), ValueError, "timeout must be positive"),
])
def test_init_process_group_refuses_what_it_cannot_do(kwargs, error, text):
    with pytest.raises(error, match=text):
        dist.init_process_group(**kwargs)
    assert not dist.is_initialized()


def _cupy_without(what):
    """``sys.modules`` entries for a CuPy that lacks ``what`` (a GPU, NCCL, ...)."""
    def device_count():
        if what == "driver":
            raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")
        return 0 if what == "gpu" else 1
    cupy = types.ModuleType("cupy")
    cupy.__spec__ = importlib.machinery.ModuleSpec("cupy", None)
    cupy.cuda = types.ModuleType("cupy.cuda")
    cupy.cuda.runtime = types.SimpleNamespace(getDeviceCount=device_count)
    nccl = None if what == "nccl" else types.ModuleType("cupy.cuda.nccl")
    modules = {"cupy": None if what == "cupy" else cupy, "cupy.cuda": cupy.cuda,
               "cupy.cuda.nccl": nccl}
    if what == "mpi4py":
        modules["mpi4py"] = None
    return modules


@pytest.mark.parametrize("what, reason", [
    ("cupy", "CuPy is not installed"),
    ("driver", "no CUDA device (RuntimeError: cudaErrorNoDevice"),
    ("gpu", "no CUDA device"),
    ("nccl", "CuPy has no NCCL (ModuleNotFoundError"),
    ("plugin", "autogradx has no cuda device: the CuPy plugin is not installed"),
    ("mpi4py", "mpi4py is not installed (the nccl backend starts under the MPI launcher"),
])
def test_nccl_is_refused_with_the_reason(monkeypatch, what, reason):
    from autogradx.distributed import backend
    for name, module in _cupy_without(what).items():
        monkeypatch.setitem(sys.modules, name, module)
    # autogradx's cuda device (the CuPy plugin), whatever this machine has
    monkeypatch.setattr(torch.cuda, "is_available", lambda: what != "plugin")
    monkeypatch.setattr(torch.cuda, "unavailable_reason",
                        lambda: "the CuPy plugin is not installed")
    assert not dist.is_nccl_available()
    with pytest.raises(RuntimeError, match=r"Distributed backend 'nccl' is not available: ") \
            as info:
        dist.init_process_group("nccl")
    assert reason in str(info.value)
    assert not dist.is_initialized()
    works, detail = backend.status("nccl")        # what python -m autogradx info prints
    assert not works and reason in detail


def test_set_device_needs_a_cuda_device():
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is here: set_device would succeed")
    with pytest.raises(RuntimeError) as info:
        torch.cuda.set_device(0)
    assert str(info.value) == torch.cuda.unavailable_reason()
    with pytest.raises(ValueError, match="Expected a cuda device, but got: cpu"):
        torch.cuda.set_device("cpu")


def test_reduce_op_has_pytorchs_members():
    torch_ = pytest.importorskip("torch")
    names = {"SUM", "AVG", "PRODUCT", "MIN", "MAX", "BAND", "BOR", "BXOR"}
    assert names <= set(dist.ReduceOp.__members__)
    assert all(hasattr(torch_.distributed.ReduceOp, n) for n in names)


class _Never:
    """A backend request that never completes (a peer that never joined)."""

    def test(self):
        return False


class _After:
    """A backend request that completes at its ``n``-th test."""

    def __init__(self, n):
        self.left = n

    def test(self):
        self.left -= 1
        return self.left <= 0


def test_work_raises_after_its_timeout_instead_of_hanging():
    work = Work([_Never()], "all_reduce (float32 tensor of shape (4,)) on rank 0 of 2", 0.2)
    assert not work.is_completed()
    with pytest.raises(dist.DistBackendError, match="did not finish within its timeout of 0.2 s"):
        work.wait()
    assert isinstance(work.exception(), RuntimeError) and not work.is_success()
    with pytest.raises(dist.DistBackendError):     # the same error again, at once
        work.wait()


def test_work_finishes_once_and_returns_its_result():
    calls = []
    out = [torch.ones(1)]
    work = Work([_After(3), _After(500)], "op", 60, finish=lambda: calls.append(1), result=out)
    assert work.wait() is True and work.is_completed() and work.is_success()
    assert work.wait() is True and calls == [1] and work.result() is out
    with pytest.raises(ValueError, match="positive"):
        Work([_Never()], "op", 60).wait(timeout=-1)


def test_an_error_after_completion_is_raised_by_wait():
    def finish():
        raise ValueError("copy-out failed")
    work = Work([_After(1)], "op", 60, finish=finish)
    with pytest.raises(ValueError, match="copy-out failed"):
        work.wait()
    assert work.is_completed() and not work.is_success()


def test_launcher_builds_the_mpiexec_command():
    args = run.parse_args(["-n", "4", "--mpiexec-args", "-bind-to core", "train.py", "--lr", "1"])
    assert run.command(args, "/x/mpiexec") == [
        "/x/mpiexec", "-n", "4", "-bind-to", "core", sys.executable, "train.py", "--lr", "1"]
    args = run.parse_args(["--nproc-per-node", "2", "-m", "pkg.train"])
    assert run.command(args, "mpiexec") == ["mpiexec", "-n", "2", sys.executable, "-m",
                                            "pkg.train"]
    with pytest.raises(SystemExit):
        run.parse_args(["-n", "0", "train.py"])


def test_info_lists_the_distributed_backends():
    out = subprocess.run([sys.executable, "-m", "autogradx", "info"], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    section = out[out.index("distributed backends"):].splitlines()
    mpi = next(line for line in section if line.split()[0] == "mpi")
    nccl = next(line for line in section if line.split()[0] == "nccl")
    if importlib.util.find_spec("mpi4py") is None:
        assert "unavailable: mpi4py is not installed" in mpi
    else:
        assert "available: mpi4py" in mpi and "unavailable" not in mpi
    if not dist.is_nccl_available():
        from autogradx.distributed.backend.nccl import unavailable_reason
        assert f"unavailable: {unavailable_reason()}" in nccl
