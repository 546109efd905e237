"""Backends: array libraries that can hold a tensor's storage besides NumPy.

A backend plugin (such as autogradx's CuPy plugin) lists :class:`Backend`
objects in its :class:`~autogradx.plugin.Plugin`. Ops are shared: each op's
forward and vjp receive the backend's module as ``xp``. A plugin may also
override an op for one backend (``Plugin(..., overrides=...)``).

The CPU path never imports a backend's library: backends are only looked at
when a tensor is moved to, or created on, a device other than ``cpu``.

The submodules ``cuda``, ``cudnn`` and ``mps`` hold the switches and probes PyTorch code
reads from ``torch.backends`` (``torch.backends.mps.is_available()``).
"""

import numpy as np

from autogradx._core.dispatch import register_array_module

__all__ = ["Backend", "available", "get_backend", "move"]


class Backend:
    """An array library for one device type.

    ``module`` is the NumPy-compatible module (``cupy``), ``array_type`` the
    class of its arrays; ``to_device(ndarray, index)`` and ``to_host(array)``
    move data; ``device_index(array)`` tells which device an array is on and
    ``current_index()`` which device an index-less device (``"cuda"``) means. A
    backend that cannot run here is still registered with ``available=False``
    and the ``reason``, so that errors and ``python -m autogradx info`` say why.
    """

    def __init__(self, name, device_type, module=None, array_type=None, *, to_device=None,
                 to_host=None, device_index=None, current_index=None, available=True,
                 reason=""):
        if device_type == "cpu":
            raise ValueError("the cpu device belongs to NumPy")
        self.name = name
        self.device_type = device_type
        self.module = module
        self.array_type = array_type
        self.to_device = to_device
        self.to_host = to_host
        self.device_index = device_index or (lambda a: 0)
        self.current_index = current_index or (lambda: 0)
        self.available = bool(available) and module is not None
        self.reason = reason if not self.available else ""
        self.plugin = None

    def __repr__(self):
        state = "available" if self.available else f"unavailable: {self.reason}"
        return f"<Backend {self.name!r} for {self.device_type!r} ({state})>"


_BACKENDS = {}          # device type -> Backend
_BY_ARRAY_TYPE = {}     # array type -> Backend
_load_plugins = None    # loads the plugins, which register their backends (set at import)


def set_plugin_loader(load):
    """``load()`` makes every plugin's backends known; ``autogradx`` sets it at import, so
    that this module needs nothing above it."""
    global _load_plugins
    _load_plugins = load


def register(backend):
    """Make ``backend`` known (the registry calls this for each plugin's backends)."""
    existing = _BACKENDS.get(backend.device_type)
    if existing is not None and existing.available:
        return existing
    _BACKENDS[backend.device_type] = backend
    if backend.available:
        _BY_ARRAY_TYPE[backend.array_type] = backend
        register_array_module(backend.array_type, backend.module)
    return backend


def get_backend(device_type):
    """The backend for ``device_type``; raises with the reason when it is unusable."""
    if _load_plugins is not None:
        _load_plugins()
    backend = _BACKENDS.get(device_type)
    if backend is None:
        raise RuntimeError(
            f"no autogradx backend provides device type {device_type!r}; install one "
            f"(for {device_type!r}: autogradx's CuPy plugin, pip install ./plugins/cupy)")
    if not backend.available:
        raise RuntimeError(f"device type {device_type!r} is not available: {backend.reason}")
    return backend


def available(device_type):
    """True if tensors can be created on ``device_type`` here."""
    try:
        get_backend(device_type)
    except RuntimeError:
        return False
    return True


def backend_of(array):
    """The backend holding ``array``, or None for a NumPy array."""
    if type(array) is np.ndarray:
        return None
    return _BY_ARRAY_TYPE.get(type(array))


def move(array, dev):
    """``array`` on device ``dev`` (a copy unless it is there already)."""
    src = backend_of(array)
    if dev.type == "cpu":
        return array if src is None else src.to_host(array)
    backend = get_backend(dev.type)
    host = array if src is None else src.to_host(array)
    index = backend.current_index() if dev.index is None else dev.index
    return backend.to_device(host, index)


from autogradx.backends import cuda, cudnn, mps  # noqa: E402,F401  (torch.backends' modules)
