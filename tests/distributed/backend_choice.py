"""Which backend the scripts beside this file run on, from the environment:
``AUTOGRADX_TEST_BACKEND`` is ``mpi`` (CPU tensors, the default) or ``nccl`` (cuda tensors);
``AUTOGRADX_NCCL_DOUBLE=1`` puts the test double of CuPy's NCCL (``nccl_double.py``) in
place first, for machines without a GPU."""

import os

import autogradx as torch

BACKEND = os.environ.get("AUTOGRADX_TEST_BACKEND", "mpi")
DOUBLE = os.environ.get("AUTOGRADX_NCCL_DOUBLE", "0") == "1"
if DOUBLE:
    import nccl_double
    nccl_double.install()
DEVICE = "cpu" if BACKEND == "mpi" else "cuda"


def on_device(array):
    """A tensor of NumPy ``array`` on the backend's device (the array itself on the CPU)."""
    return torch.from_numpy(array).to(DEVICE)


def host(tensor):
    """``tensor``'s values as a NumPy array."""
    return tensor.detach().cpu().numpy()
