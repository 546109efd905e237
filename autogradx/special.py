"""``autogradx.special``: the ops registered in the ``special`` namespace (``torch.special``)."""

from autogradx._namespace import op_namespace as _op_namespace

__getattr__, __dir__ = _op_namespace(__name__, "special")
