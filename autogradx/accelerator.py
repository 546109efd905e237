"""``autogradx.accelerator``: which accelerator tensors can use here, as
``torch.accelerator`` answers it. autogradx's only accelerator is CUDA, through its CuPy
plugin: it counts only when that plugin is installed and a GPU works."""

__all__ = ["is_available", "current_accelerator", "device_count"]


def is_available():
    """True if an accelerator (CUDA through the CuPy plugin) is usable here."""
    from autogradx import cuda
    return cuda.is_available()


def current_accelerator(check_available=False):
    """``device('cuda')`` when a backend for CUDA (the CuPy plugin) is installed, else None;
    with ``check_available=True``, only when it is also usable here."""
    from autogradx._device import device
    from autogradx.backends.cuda import is_built
    usable = is_available() if check_available else is_built()
    return device("cuda") if usable else None


def device_count():
    """The number of accelerator devices (0 when none is usable)."""
    from autogradx import cuda
    return cuda.device_count()
