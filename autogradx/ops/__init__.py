"""autogradx's built-in ops over NumPy (and any array module with its API).

This package is an ordinary plugin: ``pyproject.toml`` declares ``plugin``
below in the ``autogradx.plugins`` entry point group, and the registry loads it
from there like any third-party plugin. One module per op family, each op's
forward and vjp side by side.
"""

from autogradx.plugin import Plugin, collect
from autogradx.ops import (
    activations, conv, conversion, elementwise, indexing, linalg, losses, reductions, shape,
)

plugin = Plugin(
    "numpy",
    collect(elementwise, reductions, shape, indexing, linalg, activations, losses, conv,
            conversion),
    description="autogradx's built-in ops",
)
