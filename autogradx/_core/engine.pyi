from typing import Any, List, Optional, Tuple

def run_backward(tensors: Tuple[Any, ...], grads: Tuple[Any, ...], keep_graph: bool,
                 create_graph: bool, inputs: Optional[Tuple[Any, ...]] = ...,
                 accumulate: bool = ...) -> Optional[List[Any]]: ...
