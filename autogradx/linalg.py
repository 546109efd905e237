"""``autogradx.linalg``: the ops registered in the ``linalg`` namespace."""

from autogradx._namespace import op_namespace as _op_namespace

_op_getattr, __dir__ = _op_namespace(__name__, "linalg")


def __getattr__(name):
    if name == "LinAlgError":       # defined beside the linalg ops, imported on first use
        from autogradx.ops.linalg import LinAlgError
        return LinAlgError
    return _op_getattr(name)
