"""``autogradx.linalg``: the ops registered in the ``linalg`` namespace."""

from autogradx._namespace import op_namespace

__getattr__, __dir__ = op_namespace(__name__, "linalg")
