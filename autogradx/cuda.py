"""``autogradx.cuda``: whether tensors can live on a CUDA device (through a backend plugin)."""

__all__ = ["is_available", "device_count", "unavailable_reason", "manual_seed",
           "manual_seed_all", "synchronize"]


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
    with cupy.cuda.Device(0 if device is None else _index(device)):
        cupy.cuda.Device().synchronize()


def _index(device):
    from autogradx._device import device as _device
    return device if isinstance(device, int) else (_device(device).index or 0)
