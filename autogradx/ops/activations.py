"""(being written)"""

from autogradx.plugin import Op  # noqa: F401
