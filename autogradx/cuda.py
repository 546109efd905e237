"""``autogradx.cuda``: whether tensors can live on a CUDA device (through a backend plugin)."""

__all__ = ["is_available", "device_count", "unavailable_reason"]


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
