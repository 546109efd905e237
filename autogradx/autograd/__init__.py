"""``autogradx.autograd``: backward and grad mode."""

from autogradx._core.engine import run_backward as _run_backward
from autogradx._core.tensor import TensorBase
from autogradx.grad_mode import enable_grad, no_grad, set_grad_enabled

__all__ = ["backward", "no_grad", "enable_grad", "set_grad_enabled"]


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate the gradients of ``tensors`` (weighted by ``grad_tensors``) into the leaves."""
    if inputs is not None:
        raise NotImplementedError("backward(inputs=...) is not supported yet")
    tensors = (tensors,) if isinstance(tensors, TensorBase) else tuple(tensors)
    if grad_tensors is None:
        grad_tensors = (None,) * len(tensors)
    elif isinstance(grad_tensors, TensorBase):
        grad_tensors = (grad_tensors,)
    grad_tensors = tuple(grad_tensors)
    if len(grad_tensors) != len(tensors):
        raise RuntimeError(
            f"got {len(grad_tensors)} gradients for {len(tensors)} tensors")
    for t in tensors:
        if not isinstance(t, TensorBase):
            raise TypeError(f"backward() expects Tensors, got {type(t).__name__}")
    grads = grad_tensors
    if retain_graph is None:
        retain_graph = create_graph
    _run_backward(tensors, grads, bool(retain_graph), bool(create_graph))
