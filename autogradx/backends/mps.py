"""``autogradx.backends.mps``: Apple's Metal device, which autogradx has no backend for."""


def is_available():
    """False: no autogradx backend provides the ``mps`` device."""
    return False


def is_built():
    """False: autogradx is not built with Metal support."""
    return False
