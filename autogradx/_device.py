"""Devices: where a tensor's storage lives (``cpu``, or ``cuda:N`` through CuPy)."""

import numpy as np

__all__ = ["device", "device_of"]


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


CPU = device("cpu")


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
