"""The ``nccl`` backend: not implemented yet. ``unavailable_reason()`` says why
``init_process_group(backend="nccl")`` is refused on this machine, most specific first
(no CuPy, no GPU, then the missing implementation), so the message tells the user what to
change."""

import importlib.util

__all__ = ["unavailable_reason"]


def unavailable_reason():
    if importlib.util.find_spec("cupy") is None:
        return "CuPy is not installed (NCCL collectives run on cuda tensors through CuPy)"
    try:
        import cupy
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:            # CuPy without a driver raises its own error types
        return f"no CUDA device ({type(exc).__name__}: {exc})"
    if count == 0:
        return "no CUDA device"
    return ("autogradx has no NCCL backend yet; use backend='mpi' with CPU tensors "
            "(docs/distributed.md)")
