"""``autogradx.autograd.graph``: the autograd graph's bookkeeping, for code that works
around it, as in ``torch.autograd.graph``: ``Node`` (the type of every ``grad_fn``),
``GradientEdge`` and ``get_gradient_edge`` (a place in the graph that ``autograd.grad`` and
``autograd.backward`` take in place of a tensor), ``register_multi_grad_hook``,
``increment_version``, and the saved-tensor hooks (``saved_tensors_hooks``, ``save_on_cpu``,
``disable_saved_tensors_hooks``; the core's _core/saved.py applies them)."""

import contextlib
import functools
import threading
from typing import NamedTuple, Optional

from autogradx._core import saved as _saved
from autogradx._core.engine import current_graph_task_id, will_engine_execute_node
from autogradx._core.node import Node, RemovableHandle, grad_fn_or_accumulator
from autogradx._core.tensor import TensorBase

__all__ = ["Node", "GradientEdge", "get_gradient_edge", "register_multi_grad_hook",
           "increment_version", "saved_tensors_hooks", "save_on_cpu",
           "disable_saved_tensors_hooks"]


class GradientEdge(NamedTuple):
    """Where a gradient enters the graph: output ``output_nr`` of ``node``. ``autograd.grad``
    and ``autograd.backward`` take one wherever they take a tensor, as an output (the
    gradient starts there) or as an input (the gradient arriving there is returned)."""

    node: Node
    output_nr: int
    # PyTorch keeps a Python-made node's graph alive through it; an autogradx node owns
    # its graph already, so this stays None.
    ownership_token: Optional[Node] = None


def get_gradient_edge(tensor):
    """The ``GradientEdge`` where ``tensor``'s gradient is computed: its ``grad_fn`` (its
    accumulator for a leaf) and its output index. ``autograd.grad(loss, input)`` and
    ``autograd.grad(loss, get_gradient_edge(input))`` give the same gradient, and the edge
    stays valid when ``input`` is later changed in place."""
    if not isinstance(tensor, TensorBase):
        raise TypeError(f"get_gradient_edge(): expected a Tensor, got {type(tensor).__name__}")
    if not tensor.requires_grad:
        raise RuntimeError("It is not possible to get the gradient edge for a Tensor that does "
                           "not require gradients")
    return GradientEdge(grad_fn_or_accumulator(tensor), tensor.output_nr)


class _MultiHandle(RemovableHandle):
    """Removes the hooks of one ``register_multi_grad_hook``."""

    __slots__ = ("handles",)

    def __init__(self, handles):
        self.handles = handles
        self._hooks_ref = None
        self.id = None

    def remove(self):
        for handle in self.handles:
            handle.remove()


def register_multi_grad_hook(tensors, fn, *, mode="all"):
    """Call ``fn`` once the gradients of ``tensors`` are computed.

    ``mode="all"``: ``fn(grads)`` after every tensor that the backward computes a gradient
    for has got it, with None for the others (tensors outside the graph, or not needed for
    its ``inputs``). ``mode="any"``: ``fn(grad)`` with the first of their gradients to be
    computed, once per backward. Returns a handle whose ``remove()`` unregisters it.
    """
    modes = ("all", "any")
    if mode not in modes:
        raise ValueError(f"Expects mode to be one of {modes} but got {mode}")
    lock = threading.Lock()

    def task_id():
        tid = current_graph_task_id()
        if tid == -1:
            raise AssertionError("expected this hook to be called inside a backward call")
        return tid

    if mode == "all":
        tensors = tuple(tensors)
        grad_fns = [grad_fn_or_accumulator(t) for t in tensors]
        pending, buffers = {}, {}    # per backward: gradients still to come, gradients so far

        def inner_hook(idx, grad):
            tid = task_id()
            with lock:
                if tid not in pending:
                    pending[tid] = sum(map(will_engine_execute_node, grad_fns))
                    buffers[tid] = [None] * len(tensors)
                buffers[tid][idx] = grad
                pending[tid] -= 1
                done = pending[tid] == 0
                if done:
                    del pending[tid]
                    grads = buffers.pop(tid)
            if done:
                fn(grads)

        handles = tuple(t.register_hook(functools.partial(inner_hook, i))
                        for i, t in enumerate(tensors))
    else:
        ran = set()

        @functools.wraps(fn)
        def wrapped_fn(grad):
            tid = task_id()
            with lock:
                if tid in ran:
                    return
                ran.add(tid)
            fn(grad)

        handles = tuple(t.register_hook(wrapped_fn) for t in tensors if t.requires_grad)
    return _MultiHandle(handles)


def increment_version(tensor):
    """Count a change to ``tensor`` (or to each tensor of an iterable) that autograd did not
    see, such as a write through ``.numpy()``: its version goes up by one, as after an
    in-place op, so a node that saved the old values refuses to run backward."""
    tensors = (tensor,) if isinstance(tensor, TensorBase) else tuple(tensor)
    for i, t in enumerate(tensors):
        if not isinstance(t, TensorBase):
            raise TypeError(
                f"increment_version(): expected a Tensor or an iterable of Tensors, got "
                f"{type(t).__name__} at index {i}")
    for t in tensors:
        t._bump_version()


class saved_tensors_hooks:
    """Context manager under which every tensor saved for backward (by an op or by
    ``ctx.save_for_backward``) is stored as ``pack_hook(tensor)`` (called once, when the op
    is recorded, with grad mode off; any object) and turned back into a tensor by
    ``unpack_hook(packed)`` at each use in backward. ``unpack_hook(pack_hook(t))`` should
    equal ``t`` in value, shape, dtype and device. Nested, the innermost pair applies.
    Numbers an op saves are not packed; a pack hook that changes its input in place is an
    error, as is an unpack hook that returns something other than a tensor."""

    def __init__(self, pack_hook, unpack_hook):
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self):
        _saved.push_hooks(self.pack_hook, self.unpack_hook)

    def __exit__(self, *args):
        _saved.pop_hooks()


class save_on_cpu(saved_tensors_hooks):
    """Saved tensors are kept on the CPU and moved back to their device for backward (a
    GPU's memory traded for copies). On the CPU nothing is copied. ``pin_memory`` and
    ``device_type`` are accepted for PyTorch compatibility."""

    def __init__(self, pin_memory=False, device_type="cuda"):
        def pack_to_cpu(tensor):
            return tensor.device, tensor.cpu()

        def unpack_from_cpu(packed):
            device, tensor = packed
            return tensor.to(device)

        super().__init__(pack_to_cpu, unpack_from_cpu)


@contextlib.contextmanager
def disable_saved_tensors_hooks(error_message):
    """Within it, entering ``saved_tensors_hooks`` raises ``RuntimeError(error_message)``
    (as does entering it while hooks are active): for features that cannot work with them."""
    prev = _saved.disabled_message()
    try:
        _saved.set_disabled(error_message)
        yield
    finally:
        _saved.set_disabled(prev)
