"""Utilities: activation checkpointing (``utils.checkpoint``) and data loading
(``utils.data``, imported on first use).

As in PyTorch, ``autogradx.utils.checkpoint`` is the module and
``autogradx.utils.checkpoint.checkpoint`` the function.
"""

from autogradx.utils import checkpoint

__all__ = ["checkpoint", "data"]


def __getattr__(name):
    # ``autogradx.utils.data`` without importing it: the data loader's modules
    # (multiprocessing among them) load only when a program uses them.
    if name == "data":
        import importlib
        return importlib.import_module(f"{__name__}.data")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
