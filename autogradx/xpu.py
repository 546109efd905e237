"""``autogradx.xpu``: Intel's GPU device, which autogradx has no backend for."""

__all__ = ["is_available", "device_count"]


def is_available():
    """False: no autogradx backend provides the ``xpu`` device."""
    return False


def device_count():
    """0: no autogradx backend provides the ``xpu`` device."""
    return 0
