"""Utilities: activation checkpointing.

As in PyTorch, ``autogradx.utils.checkpoint`` is the module and
``autogradx.utils.checkpoint.checkpoint`` the function.
"""

from autogradx.utils import checkpoint

__all__ = ["checkpoint"]
