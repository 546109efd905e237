from typing import Any, Callable

from .node import Node
from .opdef import OpDef

class OpNode(Node):
    @property
    def op(self) -> OpDef: ...

def install_services(device_of: Callable[[Any], Any],
                     tensor_namespace: Callable[[], Any]) -> None: ...

def saved_history(t: Any) -> tuple: ...
def on_history(u: Any, history: tuple) -> Any: ...
