"""Activation checkpointing: trade compute for memory.

``checkpoint(fn, *args)`` runs ``fn`` without recording its graph, keeping only
its inputs; during backward it runs ``fn`` again with recording on and
backpropagates through that fresh graph. Peak memory then holds one segment's
intermediates at a time instead of every segment's.
"""

from autogradx._core.grad_mode import _set_grad_enabled, is_grad_enabled
from autogradx._core.node import make_node
from autogradx._core.op import SECOND_BACKWARD
from autogradx._core.tensor import TensorBase
from autogradx._factories import default_generator

__all__ = ["checkpoint"]


def checkpoint(function, *args, use_reentrant=None, preserve_rng_state=True, **kwargs):
    """``function(*args, **kwargs)``, recomputed during backward instead of stored."""
    needs = [isinstance(a, TensorBase) and a.requires_grad for a in args]
    rng_state = default_generator.rng.bit_generator.state if preserve_rng_state else None
    prev = _set_grad_enabled(False)
    try:
        result = function(*args, **kwargs)
    finally:
        _set_grad_enabled(prev)
    if not (any(needs) and is_grad_enabled()):
        return result
    single = isinstance(result, TensorBase)
    outputs = (result,) if single else tuple(result)
    diff = [i for i, o in enumerate(outputs)
            if isinstance(o, TensorBase) and o.dtype.is_floating_point]
    inputs = [a.detach() if isinstance(a, TensorBase) else a for a in args]
    state = {"released": False}

    def backward(grads, create_graph):
        if state["released"]:
            raise RuntimeError(SECOND_BACKWARD)
        from autogradx.autograd import grad
        detached = [x.detach().requires_grad_(n) if isinstance(x, TensorBase) else x
                    for x, n in zip(inputs, needs)]
        saved_rng = default_generator.rng.bit_generator.state
        if rng_state is not None:
            default_generator.rng.bit_generator.state = rng_state
        prev = _set_grad_enabled(True)
        try:
            again = function(*detached, **kwargs)
        finally:
            _set_grad_enabled(prev)
            default_generator.rng.bit_generator.state = saved_rng
        again = (again,) if isinstance(again, TensorBase) else tuple(again)
        outs, gouts = [], []
        for slot, i in enumerate(diff):
            if grads[slot] is not None and again[i].requires_grad:
                outs.append(again[i])
                gouts.append(grads[slot] if isinstance(grads[slot], TensorBase)
                             else _wrap(grads[slot]))
        targets = [d for d, n in zip(detached, needs) if n]
        found = grad(outs, targets, gouts, create_graph=create_graph, allow_unused=True) \
            if outs else (None,) * len(targets)
        found = iter(found)
        out = []
        for n in needs:
            g = next(found) if n else None
            out.append(None if g is None else (g if create_graph else g._data))
        return out

    def release():
        state["released"] = True

    make_node("CheckpointFunctionBackward", args, [outputs[i] for i in diff], backward, release)
    return outputs[0] if single else outputs


def _wrap(array):
    from autogradx._tensor import Tensor
    t = Tensor.__new__(Tensor)
    t._data = array
    return t
