"""Neural-network building blocks; for now the functional API."""

from autogradx.nn import functional

__all__ = ["functional"]
