from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

class OpDef:
    name: str
    plugin: Optional[str]
    forward: Callable[..., Any]
    vjp: Optional[Callable[..., Any]]
    vjps: Optional[Tuple[Optional[Callable[..., Any]], ...]]
    inputs: Tuple[str, ...]
    n_inputs: int
    n_required: int
    variadic: bool
    parse: Optional[Callable[..., Any]]
    varargs: bool
    params: Tuple[str, ...]
    save: Tuple[str, ...]
    reads: Optional[Tuple[Tuple[int, ...], ...]]
    residuals: bool
    grad_fn: Union[str, Callable[..., str]]
    promote: Optional[str]
    n_outputs: int
    output_type: Optional[Callable[..., Any]]
    namespace: Any
    namespaces: Tuple[str, ...]
    method: Optional[str]
    inplace: Optional[str]
    inplace_param: Optional[str]
    view: bool
    holomorphic: bool
    jvp: Any
    jvp_reads: Optional[Tuple[Tuple[str, ...], ...]]
    aliases: Tuple[str, ...]
    overrides: Dict[str, "OpDef"]
    doc: str
    @property
    def arithmetic_vjps(self) -> Tuple[str, ...]: ...
    def __init__(self, name: str, forward: Callable[..., Any], *,
                 inputs: Sequence[str] = ..., promote: Optional[str] = ...,
                 n_outputs: Optional[int] = ..., output_type: Any = ..., view: bool = ...,
                 parse: Any = ...,
                 vjp: Any = ..., save: Any = ..., residuals: bool = ..., grad_fn: Any = ...,
                 holomorphic: bool = ..., jvp: Any = ...,
                 namespace: Any = ..., method: Any = ..., inplace: Any = ...,
                 inplace_param: Optional[str] = ..., aliases: Any = ..., doc: Optional[str] = ...,
                 out: bool = ..., ufunc: Optional[str] = ..., number_first: bool = ..., vjp_ufunc: Any = ...) -> None: ...
    def defvjp(self, vjp: Callable[..., Any]) -> Callable[..., Any]: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...
