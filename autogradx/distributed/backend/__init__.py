"""The backends of ``init_process_group``: which exist, whether each works here, and the
world communicator of the one chosen.

A backend is an object with ``rank``, ``size``, ``split(ranks)``, ``close()``,
``abort(code)``, the array module and array type of its tensors' device (``xp``,
``array_type``; ``device_type``, and ``owns(array)`` for a device with several indices) and
the operations of ``backend/mpi.py`` on C-contiguous arrays of that type, each returning a
request with ``test()``; ``collectives.py`` is written against that and nothing else.
"""

import importlib.util
import os
import shutil
import subprocess
import sys

__all__ = ["BACKENDS", "create_world", "status", "find_mpiexec"]

BACKENDS = ("mpi", "nccl")

_INSTALL_HINT = "pip install 'autogradx[distributed]'"


def find_mpiexec():
    """The path of ``mpiexec``: beside this interpreter first (the ``mpich`` wheel puts it
    in the venv's bin/), else on PATH; None when there is none."""
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.access(beside, os.X_OK):
        return beside
    return shutil.which("mpiexec")


def unavailable_reason(name):
    """Why backend ``name`` cannot make a process group in this process, or None when it
    can (cheap: nothing is initialised)."""
    if name == "mpi":
        if importlib.util.find_spec("mpi4py") is None:
            return f"mpi4py is not installed ({_INSTALL_HINT})"
        return None
    if name == "nccl":
        from autogradx.distributed.backend.nccl import unavailable_reason as nccl_reason
        return nccl_reason()
    raise ValueError(f"Invalid backend: '{name}'; autogradx.distributed has "
                     f"{', '.join(repr(b) for b in BACKENDS)}")


def create_world(name, device_id=None):
    """The world communicator of backend ``name`` (the nccl one on CUDA device
    ``device_id``), or a RuntimeError saying why not."""
    reason = unavailable_reason(name)
    if reason is not None:
        raise RuntimeError(f"Distributed backend '{name}' is not available: {reason}")
    if name == "nccl":
        from autogradx.distributed.backend.nccl import NCCLBackend
        return NCCLBackend.world(device_id)
    from autogradx.distributed.backend.mpi import MPIBackend
    return MPIBackend.world()


def status(name, timeout=60):
    """``(works, detail)`` for ``python -m autogradx info``: whether backend ``name`` can
    make a process group, checked in a child process (initialising MPI here would tie this
    process to it), with the library's version or the reason it does not work."""
    reason = unavailable_reason(name)
    if reason is not None:
        return False, reason
    works, detail = _mpi_status(timeout)
    if name == "nccl" and works:
        from autogradx.distributed.backend.nccl import version
        return True, f"{version()}; started through {detail}"
    return works, detail


def _mpi_status(timeout):
    """``(works, detail)`` of mpi4py: the nccl backend starts through it too."""
    probe = ("from mpi4py import MPI; import mpi4py; "
             "print('mpi4py', mpi4py.__version__ + ',', "
             "MPI.Get_library_version().splitlines()[0].replace('Version:', '').strip())")
    try:
        proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"initialising MPI took more than {timeout} s"
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return False, f"mpi4py fails to initialise MPI: {last}"
    mpiexec = find_mpiexec()
    launcher = f"mpiexec {mpiexec}" if mpiexec else "no mpiexec found on PATH"
    return True, f"{' '.join(proc.stdout.split())}; {launcher}"
