"""Utilities: activation checkpointing."""

from autogradx.utils.checkpoint import checkpoint

__all__ = ["checkpoint"]
