"""Devices: where a tensor's storage lives (``cpu``, or ``cuda:N`` through CuPy), and the
default device of the factories (``set_default_device``, or ``with device(...)``), per
thread as in PyTorch."""

import threading

import numpy as np

from autogradx._core.thread_state import carry

__all__ = ["device", "device_of", "get_default_device", "set_default_device", "default_device"]


class device:
    """A device, as ``device("cpu")``, ``device("cuda:0")`` or ``device("cuda", 0)``."""

    # A dict of slots gives each attribute its docstring.
    __slots__ = {
        "type": "The device type: ``'cpu'`` or ``'cuda'``.",
        "index": "The device's index, or None for the current device of its type.",
    }

    def __init__(self, type, index=None):
        if isinstance(type, device):
            type, index = type.type, type.index
        elif isinstance(type, str) and ":" in type:
            if index is not None:
                raise ValueError(f"device {type!r} already has an index; got index={index}")
            type, _, idx = type.partition(":")
            try:
                index = int(idx)
            except ValueError:
                raise RuntimeError(f"Invalid device string: '{type}:{idx}'") from None
        if type not in ("cpu", "cuda") and type not in _known_types():
            raise RuntimeError(
                f"Expected one of cpu, cuda device type at start of device string: {type}")
        if index is not None and (not isinstance(index, int) or index < 0):
            raise RuntimeError(f"Device index must be a non-negative integer, got {index!r}")
        self.type = type
        self.index = index

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __enter__(self):
        # ``with device("cuda"):`` makes it the factories' default for the block.
        previous = (default_device(), getattr(_state, "cpu", None))
        set_default_device(self)
        _state.__dict__.setdefault("stack", []).append(previous)
        return self

    def __exit__(self, *exc):
        _state.device, _state.cpu = _state.stack.pop()
        return False


CPU = device("cpu")

# This thread's default device: None for the CPU (the factories' fast path), else a device.
_state = threading.local()


def _set_devices(devices):
    _state.device, _state.cpu = devices


# A backward handed to another thread (the engine's deep reentrant calls) keeps the device.
carry(lambda: (default_device(), getattr(_state, "cpu", None)), _set_devices)


def default_device():
    """The factories' default device, or None for the CPU."""
    return getattr(_state, "device", None)


def get_default_device():
    """The device factories create tensors on when given none (``cpu`` unless
    :func:`set_default_device` changed it on this thread)."""
    dev = default_device()
    if dev is None:
        return CPU if getattr(_state, "cpu", None) is None else _state.cpu
    if dev.index is None:
        from autogradx.backends import move
        return device_of(move(np.empty(0), dev))      # the backend's current device
    return dev


def set_default_device(dev):
    """Make ``dev`` (a device, a string such as ``"cuda"``, a CUDA index, or None for the
    CPU) the device the factories create tensors on, on this thread. A device no backend
    here can hold is refused at once, with the reason."""
    if dev is None:
        _state.device = _state.cpu = None
        return
    if isinstance(dev, int) and not isinstance(dev, bool):
        from autogradx.backends import available
        if not available("cuda"):
            raise RuntimeError("Cannot access accelerator device when none is available.")
        dev = device("cuda", dev)
    elif not isinstance(dev, (str, device)):
        raise TypeError(f"set_default_device() expects a device, a string or an int, not "
                        f"{type(dev).__name__}")
    dev = device(dev)
    if dev.type == "cpu":
        _state.device, _state.cpu = None, dev     # ``cpu:0`` is reported as given
        return
    from autogradx.backends import get_backend
    get_backend(dev.type)           # raises, naming why, when the device is not usable here
    _state.device, _state.cpu = dev, None


def _known_types():
    from autogradx.backends import _BACKENDS
    return _BACKENDS


def device_of(data):
    """The device an array lives on."""
    if type(data) is np.ndarray:
        return CPU
    from autogradx.backends import backend_of
    backend = backend_of(data)
    if backend is None:
        raise TypeError(f"no autogradx backend holds arrays of type {type(data).__name__}")
    return device(backend.device_type, int(backend.device_index(data)))
