"""autogradx's built-in ops over NumPy (and any array module with its API).

This package is an ordinary plugin: ``pyproject.toml`` declares ``plugin``
below in the ``autogradx.plugins`` entry point group, and the registry loads it
from there like any third-party plugin. One module per op family, each op's
forward and vjp side by side; each module lists the ops it defines, in order, in
its ``OPS`` (an :class:`autogradx.plugin.OpList` filled where each op is defined).
"""

from autogradx.plugin import Plugin
from autogradx.ops import (
    activations, complex, conv, conversion, elementwise, indexing, linalg, losses, normalization,
    reductions, shape,
)

#: The op family modules, in the order their ops are registered.
MODULES = (elementwise, complex, reductions, shape, indexing, linalg, activations, normalization,
           losses, conv, conversion)

plugin = Plugin(
    "numpy",
    [op for module in MODULES for op in module.OPS],
    description="autogradx's built-in ops",
)
