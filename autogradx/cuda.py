"""``autogradx.cuda``: whether tensors can live on a CUDA device (through a backend plugin)."""

__all__ = ["is_available", "device_count", "unavailable_reason", "manual_seed",
           "manual_seed_all", "synchronize", "set_device", "current_device"]

_chosen = None      # the index set_device was given in this process, or None


def is_available():
    """True if a backend for ``cuda`` (autogradx's CuPy plugin) is installed and usable."""
    from autogradx.backends import available
    return available("cuda")


def unavailable_reason():
    """Why ``is_available()`` is False (empty when it is True)."""
    from autogradx.backends import get_backend
    try:
        get_backend("cuda")
    except RuntimeError as exc:
        return str(exc)
    return ""


def device_count():
    """The number of CUDA devices the backend sees (0 when :func:`is_available` is False)."""
    if not is_available():
        return 0
    from autogradx.backends import get_backend
    backend = get_backend("cuda")
    return int(backend.module.cuda.runtime.getDeviceCount())


def manual_seed(seed):
    """Accepted, for scripts that seed every device: autogradx draws random numbers on the
    host with the default generator, which ``autogradx.manual_seed`` seeds, whatever the
    device (PyTorch's CUDA generators have no counterpart here)."""
    int(seed)


manual_seed_all = manual_seed


def synchronize(device=None):
    """Wait for the work queued on the CUDA device (its current one by default)."""
    from autogradx.backends import get_backend
    cupy = get_backend("cuda").module        # raises, with the reason, when unavailable
    with cupy.cuda.Device(None if device is None else _index(device)):
        cupy.cuda.Device().synchronize()


def set_device(device):
    """Make ``device`` (an index, ``"cuda:N"`` or a device) this thread's current CUDA
    device: the one ``"cuda"`` without an index means, as in PyTorch. A negative index
    changes nothing."""
    from autogradx.backends import get_backend
    index = _index(device)
    if index < 0:
        return
    cupy = get_backend("cuda").module        # raises, with the reason, when unavailable
    cupy.cuda.Device(index).use()
    global _chosen
    _chosen = index


def current_device():
    """The index of the current CUDA device."""
    from autogradx.backends import get_backend
    return int(get_backend("cuda").current_index())


def _chosen_device():
    """The index ``set_device`` chose, or None when it was not called."""
    return _chosen


def _index(device):
    from autogradx._device import device as _device
    if isinstance(device, int) and not isinstance(device, bool):
        return device
    dev = _device(device)
    if dev.type != "cuda":
        raise ValueError(f"Expected a cuda device, but got: {dev}")
    return current_device() if dev.index is None else dev.index
