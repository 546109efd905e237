"""``autogradx.nn.functional``: the ops registered in the ``nn.functional`` namespace."""

from autogradx._namespace import op_namespace as _op_namespace

__getattr__, __dir__ = _op_namespace(__name__, "nn.functional")
