from typing import Any

def register_array_module(array_type: type, module: Any) -> None: ...
def get_array_module(data: Any) -> Any: ...
def _set_fast_paths(on: bool) -> bool: ...

class Switch:
    on: bool

FAST_PATHS: Switch
