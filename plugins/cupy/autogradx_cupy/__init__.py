"""autogradx on NVIDIA GPUs through CuPy: the ``cuda`` device.

The entry point is :func:`make_plugin`. It imports CuPy only when autogradx
loads its plugins, and never raises: without CuPy, or without a visible GPU,
it returns a plugin whose ``cuda`` backend is unavailable and says why
(``autogradx.cuda.unavailable_reason()``, ``python -m autogradx info``).

The ops themselves are autogradx's shared definitions, run with ``cupy`` as
their array module. :mod:`autogradx_cupy.kernels` overrides a few of them with
fused CUDA kernels, used only for CuPy arrays.
"""

from autogradx.backends import Backend
from autogradx.plugin import Plugin

__version__ = "0.1.0"
__all__ = ["make_plugin"]

NAME = "cupy"


def make_plugin():
    """The ``cupy`` plugin: the ``cuda`` backend and its kernels, or the reason it is off."""
    try:
        import cupy
    except ModuleNotFoundError:
        return _unavailable("CuPy is not installed (pip install cupy-cuda12x)")
    except Exception as e:          # a broken CUDA install can fail at import
        return _unavailable(f"CuPy failed to import: {type(e).__name__}: {e}")
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:
        return _unavailable(f"no CUDA device: {e}")
    if count < 1:
        return _unavailable("no CUDA device: the CUDA runtime reports 0 devices")
    from autogradx_cupy import kernels
    backend = Backend(NAME, "cuda", module=cupy, array_type=cupy.ndarray,
                      to_device=_to_device(cupy), to_host=cupy.asnumpy,
                      device_index=lambda a: a.device.id,
                      current_index=lambda: cupy.cuda.Device().id)
    return Plugin(NAME, backends=[backend], overrides=kernels.overrides(cupy),
                  version=__version__, description="CUDA device through CuPy")


def _unavailable(reason):
    return Plugin(NAME, backends=[Backend(NAME, "cuda", available=False, reason=reason)],
                  version=__version__, description=f"CUDA device through CuPy (off: {reason})")


def _to_device(cupy):
    def to_device(array, index):
        with cupy.cuda.Device(index):
            return cupy.asarray(array)
    return to_device
